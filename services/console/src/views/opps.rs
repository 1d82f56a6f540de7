//! My opportunities (stage, amount, probability, expected close date,
//! forecast category) and one opportunity with the owner's changes: move
//! its stage, set amount and expected close date, choose its forecast
//! category, set the next follow-up.

use leadwheel_proto::opportunity::v1::{Opportunity, Stage, StageChange};
use maud::{Markup, html};

use super::time;
use crate::forms::{Refused, amount_field};
use crate::i18n::{self, Lang};

/// The panel's element id (htmx swaps it whole).
pub const PANEL_ID: &str = "opportunity";

/// `12000.50 EUR`.
pub fn money(amount_minor: i64, currency: &str) -> String {
    leadwheel_report_sheets::money(amount_minor, currency)
}

fn or_none(value: &str, lang: Lang) -> String {
    if value.is_empty() {
        i18n::NONE.get(lang).to_string()
    } else {
        value.to_string()
    }
}

fn category_label(category: &str, lang: Lang) -> String {
    match category {
        "pipeline" => i18n::CAT_PIPELINE.get(lang).to_string(),
        "best_case" => i18n::CAT_BEST_CASE.get(lang).to_string(),
        "commit" => i18n::CAT_COMMIT.get(lang).to_string(),
        "closed" => i18n::CAT_CLOSED.get(lang).to_string(),
        "omitted" => i18n::CAT_OMITTED.get(lang).to_string(),
        other => other.to_string(),
    }
}

fn title(o: &Opportunity) -> &str {
    if o.name.is_empty() {
        &o.opportunity_id
    } else {
        &o.name
    }
}

/// The list.
pub fn list(opps: &[Opportunity], lang: Lang) -> Markup {
    html! {
        h1 { (i18n::NAV_OPPS.get(lang)) }
        @if opps.is_empty() {
            p.muted { (i18n::OPPS_EMPTY.get(lang)) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (i18n::OPPORTUNITY.get(lang)) }
                    th scope="col" { (i18n::STAGE.get(lang)) }
                    th scope="col" { (i18n::AMOUNT.get(lang)) }
                    th scope="col" { (i18n::PROBABILITY.get(lang)) }
                    th scope="col" { (i18n::EXPECTED_CLOSE.get(lang)) }
                    th scope="col" { (i18n::FORECAST_CATEGORY.get(lang)) }
                } }
                tbody {
                    @for o in opps {
                        tr data-opportunity=(o.opportunity_id) {
                            td data-label=(i18n::OPPORTUNITY.get(lang)) { a href={ "/opportunities/" (o.opportunity_id) } { (title(o)) } }
                            td data-label=(i18n::STAGE.get(lang)) data-field="stage" { (o.stage) @if o.stale { " " span.tier { (i18n::STALE.get(lang)) } } }
                            td data-label=(i18n::AMOUNT.get(lang)) { (money(o.amount_minor, &o.currency)) }
                            td data-label=(i18n::PROBABILITY.get(lang)) { (o.probability_percent) "%" }
                            td data-label=(i18n::EXPECTED_CLOSE.get(lang)) { (or_none(&o.expected_close_date, lang)) }
                            td data-label=(i18n::FORECAST_CATEGORY.get(lang)) { (category_label(&o.forecast_category, lang)) }
                        }
                    }
                }
            }
        }
    }
}

fn error_beside(refused: Option<&Refused>, form: &str) -> Markup {
    html! {
        @if let Some(r) = Refused::of(refused, form) {
            p.error role="alert" data-status=(r.status) data-form=(form) { (r.message) }
        }
    }
}

/// One opportunity with the owner's changes and its stage history.
pub fn panel(
    o: &Opportunity,
    history: &[StageChange],
    stages: &[Stage],
    csrf: &str,
    refused: Option<&Refused>,
    lang: Lang,
) -> Markup {
    let id = &o.opportunity_id;
    let open = o.status == "open";
    let target = format!("#{PANEL_ID}");
    let v = |form: &str, field: &str, default: &str| {
        Refused::value(Refused::of(refused, form).as_ref(), field, default)
    };
    let stage_now = v("stage", "stage", &o.stage);
    let category_now = v(
        "category",
        "category",
        if o.forecast_category_set {
            o.forecast_category.as_str()
        } else {
            ""
        },
    );
    html! {
        div id=(PANEL_ID) {
            p { a href="/opportunities" { "← " (i18n::BACK.get(lang)) } }
            h1 { (i18n::OPPORTUNITY.get(lang)) " " (title(o)) }
            article.card {
                dl {
                    dt { (i18n::STAGE.get(lang)) } dd data-field="stage" { (o.stage) }
                    dt { (i18n::STATUS.get(lang)) } dd data-field="status" { (o.status) }
                    dt { (i18n::AMOUNT.get(lang)) } dd data-field="amount" { (money(o.amount_minor, &o.currency)) }
                    dt { (i18n::PROBABILITY.get(lang)) } dd data-field="probability" { (o.probability_percent) "%" @if o.probability_overridden { " (" (o.probability_override_reason) ")" } }
                    dt { (i18n::WEIGHTED.get(lang)) } dd { (money(o.weighted_minor, &o.currency)) }
                    dt { (i18n::EXPECTED_CLOSE.get(lang)) } dd data-field="close" { (or_none(&o.expected_close_date, lang)) }
                    dt { (i18n::FORECAST_CATEGORY.get(lang)) } dd data-field="category" { (category_label(&o.forecast_category, lang)) }
                    dt { (i18n::NEXT_FOLLOW_UP.get(lang)) } dd { (or_none(&o.next_follow_up_date, lang)) }
                    dt { (i18n::OWNER.get(lang)) } dd { (o.owner_rep_id) }
                    dt { (i18n::ACCOUNT.get(lang)) } dd { (o.account_id) }
                    @if !o.lead_id.is_empty() { dt { (i18n::LEAD.get(lang)) } dd { a href={ "/leads/" (o.lead_id) } { (o.lead_id) } } }
                    dt { (i18n::TOUCHES.get(lang)) } dd { (o.touch_count) }
                }
            }
            @if open {
                section.card aria-labelledby="h-stage" {
                    h2 id="h-stage" { (i18n::MOVE_STAGE.get(lang)) }
                    form id="form-stage" method="post" action={ "/opportunities/" (id) "/stage" } hx-post={ "/opportunities/" (id) "/stage" } hx-target=(target) hx-swap="outerHTML" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="version" value=(o.version);
                        label for="s-stage" { (i18n::STAGE.get(lang)) }
                        select id="s-stage" name="stage" {
                            @for s in stages {
                                option value=(s.name) selected[stage_now == s.name] { (s.name) " (" (s.probability_percent) "%)" }
                            }
                        }
                        label for="s-reason" { (i18n::REASON.get(lang)) " " span.muted { (i18n::REASON_TO_CLOSE.get(lang)) } }
                        input id="s-reason" name="reason" value=(v("stage", "reason", ""));
                        (error_beside(refused, "stage"))
                        p { button.primary type="submit" data-action="move-stage" { (i18n::MOVE.get(lang)) } }
                    }
                }
                section.card aria-labelledby="h-amount" {
                    h2 id="h-amount" { (i18n::AMOUNT_AND_CLOSE.get(lang)) }
                    form id="form-amount" method="post" action={ "/opportunities/" (id) "/amount" } hx-post={ "/opportunities/" (id) "/amount" } hx-target=(target) hx-swap="outerHTML" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="version" value=(o.version);
                        label for="m-amount" { (i18n::AMOUNT.get(lang)) }
                        input id="m-amount" name="amount" inputmode="decimal" value=(v("amount", "amount", &amount_field(o.amount_minor, &o.currency)));
                        label for="m-currency" { (i18n::CURRENCY.get(lang)) }
                        input id="m-currency" name="currency" maxlength="3" value=(v("amount", "currency", &o.currency));
                        label for="m-close" { (i18n::EXPECTED_CLOSE.get(lang)) }
                        input id="m-close" name="expected_close_date" type="date" value=(v("amount", "expected_close_date", &o.expected_close_date));
                        label for="m-reason" { (i18n::REASON.get(lang)) }
                        input id="m-reason" name="reason" value=(v("amount", "reason", ""));
                        (error_beside(refused, "amount"))
                        p { button type="submit" data-action="set-amount" { (i18n::SAVE.get(lang)) } }
                    }
                }
                section.card aria-labelledby="h-category" {
                    h2 id="h-category" { (i18n::FORECAST_CATEGORY.get(lang)) }
                    form id="form-category" method="post" action={ "/opportunities/" (id) "/category" } hx-post={ "/opportunities/" (id) "/category" } hx-target=(target) hx-swap="outerHTML" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="version" value=(o.version);
                        label for="k-category" { (i18n::FORECAST_CATEGORY.get(lang)) }
                        select id="k-category" name="category" {
                            option value="" selected[category_now.is_empty()] { (i18n::CAT_DEFAULT.get(lang)) }
                            @for c in ["pipeline", "best_case", "commit"] {
                                option value=(c) selected[category_now == c] { (category_label(c, lang)) }
                            }
                        }
                        (error_beside(refused, "category"))
                        p { button type="submit" data-action="set-category" { (i18n::SAVE.get(lang)) } }
                    }
                }
                section.card aria-labelledby="h-ofollow" {
                    h2 id="h-ofollow" { (i18n::SET_FOLLOW_UP.get(lang)) }
                    form id="form-opp-follow-up" method="post" action={ "/opportunities/" (id) "/follow-up" } hx-post={ "/opportunities/" (id) "/follow-up" } hx-target=(target) hx-swap="outerHTML" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="o-date" { (i18n::NEXT_FOLLOW_UP.get(lang)) " " span.muted { (i18n::EMPTY_CLEARS.get(lang)) } }
                        input id="o-date" name="date" type="date" value=(v("follow_up", "date", &o.next_follow_up_date));
                        (error_beside(refused, "follow_up"))
                        p { button type="submit" data-action="opp-follow-up" { (i18n::SAVE.get(lang)) } }
                    }
                }
            }
            section aria-labelledby="h-stages" {
                h2 id="h-stages" { (i18n::STAGE_HISTORY.get(lang)) }
                @if history.is_empty() { p.muted { (i18n::NO_HISTORY.get(lang)) } }
                ol {
                    @for h in history {
                        li { (time(h.at_ms)) ": " (or_none(&h.from_stage, lang)) " → " strong { (h.to_stage) } " · " (h.by) @if !h.reason.is_empty() { " · " (h.reason) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opp() -> Opportunity {
        Opportunity {
            opportunity_id: "opp_1".into(),
            name: "Acme".into(),
            stage: "qualification".into(),
            status: "open".into(),
            amount_minor: 1_200_050,
            currency: "EUR".into(),
            probability_percent: 20,
            expected_close_date: "2026-12-31".into(),
            forecast_category: "pipeline".into(),
            version: 3,
            ..Default::default()
        }
    }

    #[test]
    fn the_list_shows_the_numbers() {
        let html = list(&[opp()], Lang::En).into_string();
        for want in [
            "12000.50 EUR",
            "20%",
            "2026-12-31",
            "Pipeline",
            "/opportunities/opp_1",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        assert!(list(&[], Lang::Zh).into_string().contains("暂无"));
    }

    #[test]
    fn an_open_deal_has_the_owners_forms_with_its_version() {
        let stages = vec![Stage {
            name: "qualification".into(),
            probability_percent: 20,
            outcome: "open".into(),
            ..Default::default()
        }];
        let html = panel(&opp(), &[], &stages, "tok", None, Lang::En).into_string();
        for form in ["stage", "amount", "category", "opp-follow-up"] {
            assert!(html.contains(&format!(r#"id="form-{form}""#)), "{form}");
        }
        assert!(html.contains(r#"name="version" value="3""#));
        assert!(html.contains(r#"value="12000.50""#));
        let mut won = opp();
        won.status = "won".into();
        assert!(
            !panel(&won, &[], &stages, "tok", None, Lang::En)
                .into_string()
                .contains("<form")
        );
    }
}

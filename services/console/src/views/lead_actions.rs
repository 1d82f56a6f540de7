//! A lead's page with what the rep does on it: log a call (recording link,
//! notes at times in it), an email, a visit, a meeting or a note; set the
//! next follow-up; convert; disqualify; hand back to the pool. Its history
//! under it. Every form posts without JavaScript too; a refused one is shown
//! again with what was typed and the service's reason beside it.

use leadwheel_proto::opportunity::v1::{Activity, ActivityKind, LeadInWork, Stage};
use leadwheel_proto::wheel::v1::LeadSummary;
use maud::{Markup, html};

use super::time;
use crate::forms::Refused;
use crate::i18n::{self, Lang};

/// Everything the lead's page shows.
pub struct LeadData {
    /// The lead in work.
    pub lead: LeadInWork,
    /// What the wheel showed of it (company, contact), when it answered.
    pub summary: Option<LeadSummary>,
    /// Its history, newest first.
    pub history: Vec<Activity>,
    /// The pipeline's stages (the convert form's first stage).
    pub stages: Vec<Stage>,
}

/// The disqualification reasons the opportunity service has by default
/// (it is configurable there, and it refuses any other, naming the field).
pub const DEFAULT_REASONS: &[&str] = &[
    "no_budget",
    "no_need",
    "no_authority",
    "bad_timing",
    "competitor",
    "unreachable",
    "duplicate",
    "spam",
];

/// The panel's element id (htmx swaps it whole).
pub const PANEL_ID: &str = "lead";

fn error_beside(refused: Option<&Refused>, form: &str) -> Markup {
    html! {
        @if let Some(r) = Refused::of(refused, form) {
            p.error role="alert" data-status=(r.status) data-form=(form) { (r.message) }
        }
    }
}

/// A form that posts plainly and, with htmx, swaps the panel.
fn form_attrs(lead_id: &str, action: &str) -> (String, String) {
    let url = format!("/leads/{lead_id}/{action}");
    (url.clone(), url)
}

/// The whole panel: details, actions, history.
pub fn panel(data: &LeadData, csrf: &str, refused: Option<&Refused>, lang: Lang) -> Markup {
    let lead = &data.lead;
    let in_work = lead.status == "in_work";
    html! {
        div id=(PANEL_ID) {
            (super::work::lead(lead, data.summary.as_ref(), lang))
            @if !lead.opportunity_id.is_empty() {
                p { a href={ "/opportunities/" (lead.opportunity_id) } data-opportunity=(lead.opportunity_id) { (i18n::OPEN_OPPORTUNITY.get(lang)) } }
            }
            @if in_work {
                (activity_form(lead, csrf, refused, lang))
                (follow_up_form(lead, csrf, refused, lang))
                (convert_form(data, csrf, refused, lang))
                (disqualify_form(lead, csrf, refused, lang, false))
                (disqualify_form(lead, csrf, refused, lang, true))
            }
            (history(&data.history, lang))
        }
    }
}

fn activity_form(lead: &LeadInWork, csrf: &str, refused: Option<&Refused>, lang: Lang) -> Markup {
    let (action, hx) = form_attrs(&lead.lead_id, "activity");
    let v = |field: &str| Refused::value(Refused::of(refused, "activity").as_ref(), field, "");
    let kind = Refused::value(Refused::of(refused, "activity").as_ref(), "kind", "call");
    let request_id = Refused::value(
        Refused::of(refused, "activity").as_ref(),
        "request_id",
        &crate::forms::request_id(),
    );
    let kinds = [
        ("call", i18n::KIND_CALL),
        ("email", i18n::KIND_EMAIL),
        ("visit", i18n::KIND_VISIT),
        ("meeting", i18n::KIND_MEETING),
        ("note", i18n::KIND_NOTE),
    ];
    html! {
        section.card aria-labelledby="h-activity" {
            h2 id="h-activity" { (i18n::LOG_ACTIVITY.get(lang)) }
            form id="form-activity" method="post" action=(action) hx-post=(hx) hx-target={ "#" (PANEL_ID) } hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="request_id" value=(request_id);
                label for="a-kind" { (i18n::ACTIVITY_KIND.get(lang)) }
                select id="a-kind" name="kind" {
                    @for (value, label) in kinds {
                        option value=(value) selected[kind == value] { (label.get(lang)) }
                    }
                }
                label for="a-duration" { (i18n::DURATION.get(lang)) }
                input id="a-duration" name="duration" value=(v("duration")) placeholder="12m · 1:30 · 90s";
                label for="a-outcome" { (i18n::OUTCOME.get(lang)) }
                input id="a-outcome" name="outcome" value=(v("outcome"));
                label for="a-recording" { (i18n::RECORDING_URL.get(lang)) }
                input id="a-recording" name="recording_url" type="url" value=(v("recording_url")) placeholder="https://";
                label for="a-notes" { (i18n::CALL_NOTES.get(lang)) }
                textarea id="a-notes" name="notes" rows="3" placeholder="1:30 pricing" { (v("notes")) }
                label for="a-subject" { (i18n::SUBJECT.get(lang)) }
                input id="a-subject" name="subject" value=(v("subject"));
                label for="a-body" { (i18n::BODY.get(lang)) }
                textarea id="a-body" name="body" rows="3" { (v("body")) }
                label for="a-follow" { (i18n::NEXT_FOLLOW_UP.get(lang)) }
                input id="a-follow" name="follow_up" type="date" value=(v("follow_up"));
                (error_beside(refused, "activity"))
                p { button.primary type="submit" data-action="log" { (i18n::LOG.get(lang)) } }
            }
        }
    }
}

fn follow_up_form(lead: &LeadInWork, csrf: &str, refused: Option<&Refused>, lang: Lang) -> Markup {
    let (action, hx) = form_attrs(&lead.lead_id, "follow-up");
    let date = Refused::value(
        Refused::of(refused, "follow_up").as_ref(),
        "date",
        &lead.next_follow_up_date,
    );
    html! {
        section.card aria-labelledby="h-follow" {
            h2 id="h-follow" { (i18n::SET_FOLLOW_UP.get(lang)) }
            form id="form-follow-up" method="post" action=(action) hx-post=(hx) hx-target={ "#" (PANEL_ID) } hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(csrf);
                label for="f-date" { (i18n::NEXT_FOLLOW_UP.get(lang)) " " span.muted { (i18n::EMPTY_CLEARS.get(lang)) } }
                input id="f-date" name="date" type="date" value=(date);
                (error_beside(refused, "follow_up"))
                p { button type="submit" data-action="follow-up" { (i18n::SAVE.get(lang)) } }
            }
        }
    }
}

fn convert_form(data: &LeadData, csrf: &str, refused: Option<&Refused>, lang: Lang) -> Markup {
    let lead = &data.lead;
    let mine = Refused::of(refused, "convert");
    let company = data
        .summary
        .as_ref()
        .map(|s| s.company.clone())
        .unwrap_or_default();
    let domain = data
        .summary
        .as_ref()
        .map(|s| s.domain.clone())
        .unwrap_or_default();
    let tier = data
        .summary
        .as_ref()
        .map(|s| s.tier.clone())
        .unwrap_or_default();
    let v = |field: &str, default: &str| Refused::value(mine.as_ref(), field, default);
    let request_id = v("request_id", &crate::forms::request_id());
    let stage = v("stage", "");
    let (action, hx) = form_attrs(&lead.lead_id, "convert");
    html! {
        section.card aria-labelledby="h-convert" {
            h2 id="h-convert" { (i18n::CONVERT.get(lang)) }
            form id="form-convert" method="post" action=(action) hx-post=(hx) hx-target={ "#" (PANEL_ID) } hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="request_id" value=(request_id);
                label for="c-account" { (i18n::ACCOUNT_NAME.get(lang)) }
                input id="c-account" name="account_name" value=(v("account_name", &company)) required;
                label for="c-domains" { (i18n::DOMAINS.get(lang)) }
                input id="c-domains" name="domains" value=(v("domains", &domain)) placeholder="acme.com, acme.de";
                label for="c-tier" { (i18n::TIER.get(lang)) }
                input id="c-tier" name="tier" value=(v("tier", &tier));
                label for="c-name" { (i18n::OPPORTUNITY_NAME.get(lang)) }
                input id="c-name" name="opportunity_name" value=(v("opportunity_name", ""));
                label for="c-amount" { (i18n::AMOUNT.get(lang)) }
                input id="c-amount" name="amount" inputmode="decimal" value=(v("amount", "")) placeholder="12000.00";
                label for="c-currency" { (i18n::CURRENCY.get(lang)) }
                input id="c-currency" name="currency" value=(v("currency", "EUR")) maxlength="3" required;
                label for="c-close" { (i18n::EXPECTED_CLOSE.get(lang)) }
                input id="c-close" name="expected_close_date" type="date" value=(v("expected_close_date", ""));
                label for="c-stage" { (i18n::STAGE.get(lang)) }
                select id="c-stage" name="stage" {
                    option value="" { (i18n::FIRST_OPEN_STAGE.get(lang)) }
                    @for s in data.stages.iter().filter(|s| s.outcome == "open") {
                        option value=(s.name) selected[stage == s.name] { (s.name) }
                    }
                }
                (error_beside(refused, "convert"))
                p { button.primary type="submit" data-action="convert" { (i18n::CONVERT.get(lang)) } }
            }
        }
    }
}

fn disqualify_form(
    lead: &LeadInWork,
    csrf: &str,
    refused: Option<&Refused>,
    lang: Lang,
    hand_back: bool,
) -> Markup {
    let (name, path, title, button, list) = if hand_back {
        (
            "hand_back",
            "hand-back",
            i18n::HAND_BACK.get(lang),
            i18n::HAND_BACK_BUTTON.get(lang),
            "reasons-back",
        )
    } else {
        (
            "disqualify",
            "disqualify",
            i18n::DISQUALIFY.get(lang),
            i18n::DISQUALIFY.get(lang),
            "reasons-dq",
        )
    };
    let mine = Refused::of(refused, name);
    let (action, hx) = form_attrs(&lead.lead_id, path);
    html! {
        section.card aria-labelledby={ "h-" (path) } {
            h2 id={ "h-" (path) } { (title) }
            @if hand_back { p.muted { (i18n::HAND_BACK_NOTE.get(lang)) } }
            form id={ "form-" (path) } method="post" action=(action) hx-post=(hx) hx-target={ "#" (PANEL_ID) } hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(csrf);
                label for={ (path) "-reason" } { (i18n::REASON.get(lang)) }
                input id={ (path) "-reason" } name="reason" list=(list) required value=(Refused::value(mine.as_ref(), "reason", ""));
                datalist id=(list) { @for r in DEFAULT_REASONS { option value=(r) {} } }
                label for={ (path) "-note" } { (i18n::NOTE.get(lang)) }
                input id={ (path) "-note" } name="note" value=(Refused::value(mine.as_ref(), "note", ""));
                (error_beside(refused, name))
                p { button type="submit" data-action=(path) { (button) } }
            }
        }
    }
}

fn kind_label(kind: ActivityKind, lang: Lang) -> &'static str {
    match kind {
        ActivityKind::Call => i18n::KIND_CALL.get(lang),
        ActivityKind::Email => i18n::KIND_EMAIL.get(lang),
        ActivityKind::Visit => i18n::KIND_VISIT.get(lang),
        ActivityKind::Meeting => i18n::KIND_MEETING.get(lang),
        ActivityKind::Note | ActivityKind::Unspecified => i18n::KIND_NOTE.get(lang),
    }
}

/// Seconds as `m:ss` (or `h:mm:ss`).
pub fn clock(seconds: i64) -> String {
    if seconds >= 3600 {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds % 3600 / 60,
            seconds % 60
        )
    } else {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// Only http(s) links are links (the service accepts no other).
fn safe_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The lead's history, newest first.
pub fn history(activities: &[Activity], lang: Lang) -> Markup {
    html! {
        section aria-labelledby="h-history" {
            h2 id="h-history" { (i18n::HISTORY.get(lang)) }
            @if activities.is_empty() { p.muted { (i18n::NO_HISTORY.get(lang)) } }
            @for a in activities {
                article.card data-activity=(a.activity_id) {
                    h3 { (kind_label(a.kind(), lang)) " · " (time(a.at_ms)) " · " (a.by) }
                    dl {
                        @if a.duration_seconds > 0 { dt { (i18n::DURATION.get(lang)) } dd { (clock(a.duration_seconds)) } }
                        @if !a.outcome.is_empty() { dt { (i18n::OUTCOME.get(lang)) } dd { (a.outcome) } }
                        @if !a.recording_url.is_empty() {
                            dt { (i18n::RECORDING_URL.get(lang)) }
                            dd {
                                @if safe_link(&a.recording_url) {
                                    a href=(a.recording_url) rel="noopener noreferrer" target="_blank" data-recording { (a.recording_url) }
                                } @else { (a.recording_url) }
                            }
                        }
                        @if !a.subject.is_empty() { dt { (i18n::SUBJECT.get(lang)) } dd { (a.subject) } }
                        @if !a.body.is_empty() { dt { (i18n::BODY.get(lang)) } dd { (a.body) } }
                    }
                    @if !a.notes.is_empty() {
                        ul.notes aria-label=(i18n::CALL_NOTES.get(lang)) {
                            @for n in &a.notes { li data-note-at=(n.offset_seconds) { strong { (clock(n.offset_seconds)) } " " (n.text) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadwheel_proto::opportunity::v1::CallNote;
    use std::collections::HashMap;

    fn data(status: &str) -> LeadData {
        LeadData {
            lead: LeadInWork {
                lead_id: "lead_1".into(),
                rep_id: "ana".into(),
                status: status.into(),
                ..Default::default()
            },
            summary: None,
            history: vec![Activity {
                activity_id: "act_1".into(),
                kind: ActivityKind::Call as i32,
                duration_seconds: 720,
                recording_url: "https://calls.example.com/r/1".into(),
                notes: vec![CallNote {
                    offset_seconds: 90,
                    text: "pricing <b>".into(),
                }],
                ..Default::default()
            }],
            stages: vec![],
        }
    }

    #[test]
    fn a_lead_in_work_has_every_form_with_the_token() {
        let html = panel(&data("in_work"), "tok", None, Lang::En).into_string();
        for form in [
            "activity",
            "follow-up",
            "convert",
            "disqualify",
            "hand-back",
        ] {
            assert!(html.contains(&format!(r#"id="form-{form}""#)), "{form}");
            assert!(
                html.contains(&format!(r#"action="/leads/lead_1/{form}""#)),
                "{form}"
            );
        }
        assert_eq!(html.matches(r#"name="csrf" value="tok""#).count(), 5);
        // The history: the recording is a link, the notes are at their times, escaped.
        assert!(html.contains(r#"href="https://calls.example.com/r/1""#));
        assert!(html.contains("<strong>1:30</strong> pricing &lt;b&gt;"));
        assert!(html.contains("12:00"));
    }

    #[test]
    fn a_refused_form_shows_what_was_typed_and_why() {
        let refused = Refused {
            form: "convert",
            status: 400,
            message: "amount: \"ten\" is not an amount".into(),
            values: HashMap::from([("amount".to_string(), "ten".to_string())]),
        };
        let html = panel(&data("in_work"), "tok", Some(&refused), Lang::Zh).into_string();
        assert!(html.contains(r#"data-form="convert""#));
        assert!(html.contains(r#"value="ten""#));
        assert_eq!(html.matches(r#"role="alert""#).count(), 1);
        assert!(html.contains("转化"));
    }

    #[test]
    fn a_converted_lead_has_no_forms() {
        let mut d = data("converted");
        d.lead.opportunity_id = "opp_1".into();
        let html = panel(&d, "tok", None, Lang::En).into_string();
        assert!(!html.contains("<form"));
        assert!(html.contains(r#"href="/opportunities/opp_1""#));
    }
}

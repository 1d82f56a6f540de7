//! The handover of a leaving rep, step by step: pick the leaver and who
//! takes over, review and edit what happens to each lead and opportunity,
//! apply, see the result.

use leadwheel_proto::opportunity::v1::{Handover, HandoverAction, HandoverItem};
use leadwheel_proto::wheel::v1::Rep;
use leadwheel_report_sheets::money;
use maud::{Markup, html};

use crate::i18n::{self, Lang, Msg};
use crate::views::team::Outcome;
use crate::views::time;

const STEPS: [Msg; 4] = [
    i18n::HANDOVER_STEP_PICK,
    i18n::HANDOVER_STEP_REVIEW,
    i18n::HANDOVER_STEP_APPLY,
    i18n::HANDOVER_STEP_RESULT,
];

/// The steps, the current one marked.
pub fn steps(current: usize, lang: Lang) -> Markup {
    html! {
        ol.steps aria-label=(i18n::NAV_HANDOVER.get(lang)) {
            @for (i, step) in STEPS.iter().enumerate() {
                @if i == current {
                    li aria-current="step" data-step=(i + 1) { strong { (step.get(lang)) } }
                } @else {
                    li data-step=(i + 1) { (step.get(lang)) }
                }
            }
        }
    }
}

fn rep_select(
    id: &str,
    name: &str,
    label: Msg,
    reps: &[Rep],
    chosen: &str,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    html! {
        div {
            label for=(id) { (label.get(lang)) }
            select id=(id) name=(name) required {
                option value="" { "—" }
                @for rep in reps {
                    option value=(rep.rep_id) selected[rep.rep_id == chosen] { (rep.name) " (" (rep.rep_id) ")" }
                }
            }
            @if let Some(error) = &outcome.error {
                @if error.field == name {
                    p.error role="alert" data-field-error=(name) { (error.text) }
                }
            }
        }
    }
}

/// Step 1: who leaves, who takes over.
pub fn start_form(
    reps: &[Rep],
    leaver: &str,
    successor: &str,
    leads_to_successor: bool,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    html! {
        form.card id="handover-start" hx-post="/handover" hx-target="this" hx-swap="outerHTML" {
            @if let Some(error) = &outcome.error {
                @if error.field != "rep_id" && error.field != "successor_rep_id" {
                    p.error role="alert" data-field-error=(error.field) { (error.text) }
                }
            }
            (rep_select("leaver", "rep_id", i18n::LEAVER, reps, leaver, outcome, lang))
            (rep_select("successor", "successor_rep_id", i18n::SUCCESSOR, reps, successor, outcome, lang))
            label { input type="checkbox" name="leads_to_successor" value="1" checked[leads_to_successor]; " " (i18n::LEADS_TO_SUCCESSOR.get(lang)) }
            button.primary type="submit" { (i18n::START_HANDOVER.get(lang)) }
        }
    }
}

/// The plan's progress.
pub fn summary(h: &Handover, lang: Lang) -> Markup {
    html! {
        section.card id="handover-summary" data-handover=(h.handover_id) data-state=(h.state) data-undecided=(h.undecided_items) { dl {
            dt { (i18n::LEAVER.get(lang)) } dd { (h.rep_id) }
            dt { (i18n::SUCCESSOR.get(lang)) } dd { (h.successor_rep_id) }
            dt { (i18n::STATUS.get(lang)) } dd data-handover-state { (h.state) }
            dt { (i18n::HANDOVER_ITEMS.get(lang)) } dd { (h.items) }
            dt { (i18n::UNDECIDED.get(lang)) } dd { (h.undecided_items) }
            dt { (i18n::TASKS_DONE.get(lang)) } dd { (h.tasks_done) " / " (h.tasks_total) }
            dt { (i18n::CREATED_AT.get(lang)) } dd { (time(h.created_at_ms)) " · " (h.created_by) }
            @if h.applied_at_ms > 0 { dt { (i18n::APPLIED_AT.get(lang)) } dd { (time(h.applied_at_ms)) } }
        } }
    }
}

const ACTIONS: [(HandoverAction, &str, Msg); 3] = [
    (HandoverAction::Reassign, "reassign", i18n::ACTION_REASSIGN),
    (
        HandoverAction::ReturnToWheel,
        "return_to_wheel",
        i18n::ACTION_RETURN,
    ),
    (
        HandoverAction::ManagerDecides,
        "manager_decides",
        i18n::ACTION_DECIDE,
    ),
];

/// The form value of an action.
pub fn action_value(action: i32) -> &'static str {
    ACTIONS
        .iter()
        .find(|(a, _, _)| *a as i32 == action)
        .map_or("", |(_, v, _)| v)
}

/// The action a form value names.
pub fn parse_action(value: &str) -> Option<HandoverAction> {
    ACTIONS
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(a, _, _)| *a)
}

fn action_label(action: i32, lang: Lang) -> &'static str {
    ACTIONS
        .iter()
        .find(|(a, _, _)| *a as i32 == action)
        .map_or("—", |(_, _, m)| m.get(lang))
}

/// The element id of an item's row.
pub fn item_id(item: &HandoverItem) -> String {
    format!("item-{}-{}", item.kind, item.item_id)
}

/// One item: what it is, and (in a draft) the form to change its action.
pub fn item_row(
    handover_id: &str,
    item: &HandoverItem,
    reps: &[Rep],
    draft: bool,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    let row_id = item_id(item);
    html! {
        tr id=(row_id) data-item-kind=(item.kind) data-item=(item.item_id) data-action=(action_value(item.action)) data-to=(item.to_rep_id) {
            td data-label=(i18n::KIND.get(lang)) { (item.kind) }
            td data-label=(i18n::LEAD.get(lang)) { (item.item_id) @if !item.account_id.is_empty() { br; small.muted { (item.account_id) } } }
            td data-label=(i18n::STAGE.get(lang)) { (item.stage) @if item.owner_locked { " 🔒" } }
            td data-label=(i18n::AMOUNT.get(lang)) { @if !item.currency.is_empty() { (money(item.amount_minor, &item.currency)) } }
            td data-label=(i18n::ACTION.get(lang)) {
                @if draft {
                    form.actions hx-post={ "/handover/" (handover_id) "/items" } hx-target="closest tr" hx-swap="outerHTML" {
                        input type="hidden" name="kind" value=(item.kind);
                        input type="hidden" name="item_id" value=(item.item_id);
                        div {
                            label for={ (row_id) "-action" } { (i18n::ACTION.get(lang)) }
                            select id={ (row_id) "-action" } name="action" {
                                @for (action, value, label) in ACTIONS {
                                    option value=(value) selected[action as i32 == item.action] { (label.get(lang)) }
                                }
                            }
                        }
                        div {
                            label for={ (row_id) "-to" } { (i18n::TO_REP.get(lang)) }
                            select id={ (row_id) "-to" } name="to_rep_id" {
                                option value="" { "—" }
                                @for rep in reps {
                                    option value=(rep.rep_id) selected[rep.rep_id == item.to_rep_id] { (rep.name) " (" (rep.rep_id) ")" }
                                }
                            }
                        }
                        button type="submit" { (i18n::SAVE.get(lang)) }
                    }
                    @if let Some(error) = &outcome.error { p.error role="alert" data-field-error=(error.field) { (error.text) } }
                    @if outcome.saved { p role="status" data-saved { (i18n::SAVED.get(lang)) } }
                } @else {
                    (action_label(item.action, lang))
                    @if !item.to_rep_id.is_empty() { " → " (item.to_rep_id) }
                }
            }
        }
    }
}

/// Steps 2 to 4: the plan, its items, and Apply while it is a draft.
pub fn plan(h: &Handover, items: &[HandoverItem], reps: &[Rep], lang: Lang) -> Markup {
    let draft = h.state == "draft";
    html! {
        (steps(if draft { 1 } else { 3 }, lang))
        (summary(h, lang))
        h2 { (i18n::HANDOVER_ITEMS.get(lang)) }
        @if items.is_empty() { p.muted { (i18n::NO_DATA.get(lang)) } }
        @else {
            table id="handover-items" {
                thead { tr {
                    th scope="col" { (i18n::KIND.get(lang)) }
                    th scope="col" { (i18n::LEAD.get(lang)) }
                    th scope="col" { (i18n::STAGE.get(lang)) }
                    th scope="col" { (i18n::AMOUNT.get(lang)) }
                    th scope="col" { (i18n::ACTION.get(lang)) }
                } }
                tbody {
                    @for item in items { (item_row(&h.handover_id, item, reps, draft, &Outcome::default(), lang)) }
                }
            }
        }
        @if draft {
            form.card id="handover-apply" hx-post={ "/handover/" (h.handover_id) "/apply" } hx-target="this" hx-swap="outerHTML" {
                h2 { (i18n::HANDOVER_STEP_APPLY.get(lang)) }
                div {
                    label for="task-due-days" { (i18n::TASK_DUE_DAYS.get(lang)) }
                    input id="task-due-days" name="task_due_days" type="number" value="3";
                }
                button.primary type="submit" { (i18n::APPLY_HANDOVER.get(lang)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handover(state: &str) -> Handover {
        Handover {
            handover_id: "h1".into(),
            rep_id: "ben".into(),
            successor_rep_id: "ana".into(),
            state: state.into(),
            items: 1,
            ..Default::default()
        }
    }

    fn item() -> HandoverItem {
        HandoverItem {
            kind: "opportunity".into(),
            item_id: "opp1".into(),
            stage: "commercial".into(),
            action: HandoverAction::Reassign as i32,
            to_rep_id: "ana".into(),
            amount_minor: 1_000_000,
            currency: "EUR".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_draft_can_be_edited_and_applied_an_applied_plan_cannot() {
        let reps = [Rep {
            rep_id: "ana".into(),
            name: "Ana".into(),
            ..Default::default()
        }];
        let draft = plan(&handover("draft"), &[item()], &reps, Lang::En).into_string();
        assert!(draft.contains(r#"hx-post="/handover/h1/items""#), "{draft}");
        assert!(draft.contains(r#"id="handover-apply""#));
        assert!(draft.contains(r#"data-action="reassign" data-to="ana""#));
        assert!(draft.contains(r#"<option value="reassign" selected>"#));
        assert!(draft.contains("10000.00 EUR"));
        assert!(draft.contains(r#"aria-current="step" data-step="2""#));
        let applied = plan(&handover("applied"), &[item()], &reps, Lang::Zh).into_string();
        assert!(!applied.contains("hx-post"), "{applied}");
        assert!(applied.contains(i18n::ACTION_REASSIGN.get(Lang::Zh)));
        assert!(applied.contains(r#"aria-current="step" data-step="4""#));
    }

    #[test]
    fn actions_round_trip_through_the_form() {
        for (action, value, _) in ACTIONS {
            assert_eq!(parse_action(action_value(action as i32)), Some(action));
            assert_eq!(action_value(action as i32), value);
        }
        assert_eq!(parse_action("drop"), None);
    }
}

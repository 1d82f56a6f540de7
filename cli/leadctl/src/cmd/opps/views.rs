//! What `leadctl opps` prints: JSON views and their tables.

use leadwheel_proto::opportunity::v1 as api;
use serde::Serialize;

use crate::clock;
use crate::output::Table;

use leadwheel_report_sheets::decimals;
pub use leadwheel_report_sheets::money;

/// `12000.50` in `currency` as minor units (`1200050`).
pub fn parse_amount(raw: &str, currency: &str) -> Result<i64, String> {
    let text = raw.trim().replace(['_', ','], "");
    let bad = || format!("{raw:?} is not an amount (e.g. 12000 or 12000.50)");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let places = decimals(currency) as usize;
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if fraction.len() > places {
        return Err(format!(
            "{raw:?} has more than {places} decimals for {currency}"
        ));
    }
    let padded = format!("{fraction:0<places$}");
    format!("{whole}{padded}").parse().map_err(|_| bad())
}

#[derive(Debug, Serialize)]
pub struct OpportunityView {
    pub opportunity_id: String,
    pub account_id: String,
    pub lead_id: String,
    pub name: String,
    pub owner_rep_id: String,
    pub team_id: String,
    pub stage: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub probability_percent: i32,
    pub probability_overridden: bool,
    pub probability_override_reason: String,
    pub weighted_minor: i64,
    pub expected_close_date: String,
    pub next_follow_up_date: String,
    pub touch_count: i64,
    pub stale: bool,
    pub close_reason: String,
    pub version: i64,
}

impl From<api::Opportunity> for OpportunityView {
    fn from(o: api::Opportunity) -> Self {
        Self {
            opportunity_id: o.opportunity_id,
            account_id: o.account_id,
            lead_id: o.lead_id,
            name: o.name,
            owner_rep_id: o.owner_rep_id,
            team_id: o.team_id,
            stage: o.stage,
            status: o.status,
            amount_minor: o.amount_minor,
            currency: o.currency,
            probability_percent: o.probability_percent,
            probability_overridden: o.probability_overridden,
            probability_override_reason: o.probability_override_reason,
            weighted_minor: o.weighted_minor,
            expected_close_date: o.expected_close_date,
            next_follow_up_date: o.next_follow_up_date,
            touch_count: o.touch_count,
            stale: o.stale,
            close_reason: o.close_reason,
            version: o.version,
        }
    }
}

pub fn opportunities_table(opps: &[OpportunityView]) -> String {
    if opps.is_empty() {
        return "no opportunities (convert a lead in work: `leadctl opps convert`)\n".into();
    }
    let mut table = Table::new(&[
        "OPPORTUNITY",
        "OWNER",
        "STAGE",
        "AMOUNT",
        "PROB",
        "WEIGHTED",
        "CLOSE",
        "FOLLOW-UP",
        "NAME",
    ]);
    for o in opps {
        let prob = if o.probability_overridden {
            format!("{}%*", o.probability_percent)
        } else {
            format!("{}%", o.probability_percent)
        };
        let stage = if o.stale {
            format!("{} (stale)", o.stage)
        } else {
            o.stage.clone()
        };
        table.row(vec![
            o.opportunity_id.clone(),
            o.owner_rep_id.clone(),
            stage,
            money(o.amount_minor, &o.currency),
            prob,
            money(o.weighted_minor, &o.currency),
            o.expected_close_date.clone(),
            o.next_follow_up_date.clone(),
            o.name.clone(),
        ]);
    }
    table.render()
}

#[derive(Debug, Serialize)]
pub struct OpportunityDetail {
    pub opportunity: OpportunityView,
    pub history: Vec<StageChangeView>,
}

#[derive(Debug, Serialize)]
pub struct StageChangeView {
    pub from_stage: String,
    pub to_stage: String,
    pub by: String,
    pub reason: String,
    pub at_ms: i64,
}

impl From<api::StageChange> for StageChangeView {
    fn from(c: api::StageChange) -> Self {
        Self {
            from_stage: c.from_stage,
            to_stage: c.to_stage,
            by: c.by,
            reason: c.reason,
            at_ms: c.at_ms,
        }
    }
}

pub fn detail_text(d: &OpportunityDetail) -> String {
    let o = &d.opportunity;
    let mut out = format!(
        "{} {} ({})\n  account {}  lead {}\n  owner {} (team {})\n  stage {} [{}]  probability {}%{}  weighted {}\n  amount {}  close {}  follow-up {}  touches {}\n",
        o.opportunity_id,
        o.name,
        o.status,
        o.account_id,
        o.lead_id,
        o.owner_rep_id,
        o.team_id,
        o.stage,
        if o.stale { "stale" } else { "fresh" },
        o.probability_percent,
        if o.probability_overridden {
            format!(" (override: {})", o.probability_override_reason)
        } else {
            String::new()
        },
        money(o.weighted_minor, &o.currency),
        money(o.amount_minor, &o.currency),
        or_dash(&o.expected_close_date),
        or_dash(&o.next_follow_up_date),
        o.touch_count,
    );
    if !o.close_reason.is_empty() {
        out.push_str(&format!("  closed: {}\n", o.close_reason));
    }
    let mut table = Table::new(&["WHEN", "FROM", "TO", "BY", "WHY"]);
    for h in &d.history {
        table.row(vec![
            clock::datetime(h.at_ms),
            h.from_stage.clone(),
            h.to_stage.clone(),
            h.by.clone(),
            h.reason.clone(),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

#[derive(Debug, Serialize)]
pub struct ActivityView {
    pub activity_id: String,
    pub kind: String,
    pub lead_id: String,
    pub opportunity_id: String,
    pub account_id: String,
    pub by: String,
    pub at_ms: i64,
    pub duration_seconds: i64,
    pub outcome: String,
    pub recording_url: String,
    pub notes: Vec<(i64, String)>,
    pub subject: String,
    pub body: String,
}

impl From<api::Activity> for ActivityView {
    fn from(a: api::Activity) -> Self {
        let kind = api::ActivityKind::try_from(a.kind)
            .map(|k| {
                k.as_str_name()
                    .trim_start_matches("ACTIVITY_KIND_")
                    .to_lowercase()
            })
            .unwrap_or_default();
        Self {
            activity_id: a.activity_id,
            kind,
            lead_id: a.lead_id,
            opportunity_id: a.opportunity_id,
            account_id: a.account_id,
            by: a.by,
            at_ms: a.at_ms,
            duration_seconds: a.duration_seconds,
            outcome: a.outcome,
            recording_url: a.recording_url,
            notes: a
                .notes
                .into_iter()
                .map(|n| (n.offset_seconds, n.text))
                .collect(),
            subject: a.subject,
            body: a.body,
        }
    }
}

pub fn activities_table(activities: &[ActivityView]) -> String {
    if activities.is_empty() {
        return "no activities yet\n".into();
    }
    let mut table = Table::new(&["WHEN", "KIND", "BY", "ON", "LENGTH", "OUTCOME", "WHAT"]);
    for a in activities {
        let on = if a.opportunity_id.is_empty() {
            a.lead_id.clone()
        } else {
            a.opportunity_id.clone()
        };
        let mut what = [a.subject.as_str(), a.body.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(": ");
        for (offset, text) in &a.notes {
            what.push_str(&format!(
                " [{}] {text}",
                crate::duration::human(offset * 1000)
            ));
        }
        if !a.recording_url.is_empty() {
            what.push_str(&format!(" ({})", a.recording_url));
        }
        table.row(vec![
            clock::datetime(a.at_ms),
            a.kind.clone(),
            a.by.clone(),
            on,
            if a.duration_seconds > 0 {
                crate::duration::human(a.duration_seconds * 1000)
            } else {
                String::new()
            },
            a.outcome.clone(),
            what,
        ]);
    }
    table.render()
}

#[derive(Debug, Serialize)]
pub struct HandoverView {
    pub handover_id: String,
    pub rep_id: String,
    pub team_id: String,
    pub state: String,
    pub successor_rep_id: String,
    pub items: i32,
    pub undecided_items: i32,
    pub tasks_total: i32,
    pub tasks_done: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<HandoverItemView>,
}

impl From<api::Handover> for HandoverView {
    fn from(h: api::Handover) -> Self {
        Self {
            handover_id: h.handover_id,
            rep_id: h.rep_id,
            team_id: h.team_id,
            state: h.state,
            successor_rep_id: h.successor_rep_id,
            items: h.items,
            undecided_items: h.undecided_items,
            tasks_total: h.tasks_total,
            tasks_done: h.tasks_done,
            plan: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HandoverItemView {
    pub kind: String,
    pub item_id: String,
    pub stage: String,
    pub owner_locked: bool,
    pub action: String,
    pub to_rep_id: String,
    pub amount: String,
}

impl From<api::HandoverItem> for HandoverItemView {
    fn from(i: api::HandoverItem) -> Self {
        let action = match api::HandoverAction::try_from(i.action) {
            Ok(api::HandoverAction::Reassign) => "reassign",
            Ok(api::HandoverAction::ReturnToWheel) => "return to the wheel",
            Ok(api::HandoverAction::ManagerDecides) => "manager decides",
            _ => "-",
        };
        Self {
            amount: if i.currency.is_empty() {
                String::new()
            } else {
                money(i.amount_minor, &i.currency)
            },
            kind: i.kind,
            item_id: i.item_id,
            stage: i.stage,
            owner_locked: i.owner_locked,
            action: action.into(),
            to_rep_id: i.to_rep_id,
        }
    }
}

pub fn handover_text(h: &HandoverView) -> String {
    let mut out = format!(
        "handover {} of {} (team {}): {}\n  {} items, {} for the manager to decide; successor {}\n  tasks {}/{} done\n",
        h.handover_id,
        h.rep_id,
        h.team_id,
        h.state,
        h.items,
        h.undecided_items,
        or_dash(&h.successor_rep_id),
        h.tasks_done,
        h.tasks_total,
    );
    if !h.plan.is_empty() {
        let mut table = Table::new(&["KIND", "ITEM", "STAGE", "LOCKED", "AMOUNT", "ACTION", "TO"]);
        for i in &h.plan {
            table.row(vec![
                i.kind.clone(),
                i.item_id.clone(),
                i.stage.clone(),
                if i.owner_locked { "yes" } else { "" }.into(),
                i.amount.clone(),
                i.action.clone(),
                i.to_rep_id.clone(),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("12000", "EUR"), Ok(1_200_000));
        assert_eq!(parse_amount("12000.5", "EUR"), Ok(1_200_050));
        assert_eq!(parse_amount("12,000.05", "USD"), Ok(1_200_005));
        assert_eq!(parse_amount("500", "JPY"), Ok(500));
        assert!(parse_amount("5.5", "JPY").is_err());
        assert!(parse_amount("1.234", "EUR").is_err());
        assert!(parse_amount("-5", "EUR").is_err());
        assert!(parse_amount("ten", "EUR").is_err());
        assert_eq!(money(1_200_050, "EUR"), "12000.50 EUR");
        assert_eq!(money(500, "JPY"), "500 JPY");
    }
}

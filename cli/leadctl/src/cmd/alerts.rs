//! `leadctl alerts …`: list, acknowledge, snooze; the team's rules.

use anyhow::Result;
use leadwheel_proto::alerting::v1::{
    AcknowledgeAlertRequest, Alert, ListAlertsRequest, ListRulesRequest, Rule, SetRuleRequest,
    SnoozeAlertRequest,
};
use serde::Serialize;

use crate::cli::{AlertRuleSetArgs, AlertRulesCommand, AlertsCommand};
use crate::clock;
use crate::conn::Ctx;
use crate::duration;
use crate::error::Target;
use crate::output::{Table, emit};

pub async fn run(ctx: &Ctx, command: AlertsCommand) -> Result<()> {
    match command {
        AlertsCommand::List {
            recipient,
            state,
            limit,
        } => list(ctx, recipient, state, limit).await,
        AlertsCommand::Ack { alert } => ack(ctx, alert).await,
        AlertsCommand::Snooze { alert, for_ms } => snooze(ctx, alert, for_ms).await,
        AlertsCommand::Rules(AlertRulesCommand::List { team }) => rules(ctx, team).await,
        AlertsCommand::Rules(AlertRulesCommand::Set(args)) => set_rule(ctx, *args).await,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertView {
    pub alert_id: String,
    pub kind: String,
    pub state: String,
    pub team_id: String,
    pub recipient_id: String,
    pub recipient_ids: Vec<String>,
    pub subject_key: String,
    pub message: String,
    pub raised_at_ms: i64,
    pub acknowledged_by: String,
    pub snoozed_until_ms: i64,
    pub resolved_reason: String,
    pub escalation_level: i32,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        Self {
            alert_id: a.alert_id,
            kind: a.kind,
            state: a.state,
            team_id: a.team_id,
            recipient_id: a.recipient_id,
            recipient_ids: a.recipient_ids,
            subject_key: a.subject_key,
            message: a.message,
            raised_at_ms: a.raised_at_ms,
            acknowledged_by: a.acknowledged_by,
            snoozed_until_ms: a.snoozed_until_ms,
            resolved_reason: a.resolved_reason,
            escalation_level: a.escalation_level,
        }
    }
}

async fn list(
    ctx: &Ctx,
    recipient: Option<String>,
    state: Option<String>,
    limit: usize,
) -> Result<()> {
    let mut client = ctx.alerting().await?;
    let mut alerts: Vec<AlertView> = Vec::new();
    let mut page_token = String::new();
    // Follow pages until the limit or the end.
    loop {
        let page = client
            .list_alerts(ListAlertsRequest {
                recipient_id: recipient.clone().unwrap_or_default(),
                page_size: i32::try_from(limit.saturating_sub(alerts.len()).min(500))
                    .unwrap_or(500),
                page_token,
                state: state.clone().unwrap_or_default(),
            })
            .await
            .map_err(|s| ctx.fail(Target::Alerting, s))?
            .into_inner();
        alerts.extend(page.alerts.into_iter().map(AlertView::from));
        if page.next_page_token.is_empty() || alerts.len() >= limit {
            break;
        }
        page_token = page.next_page_token;
    }
    alerts.truncate(limit);
    emit(ctx.output(), &alerts, |alerts| alerts_table(alerts))
}

fn state_of(a: &AlertView) -> String {
    match a.state.as_str() {
        "snoozed" => format!("snoozed until {}", clock::datetime(a.snoozed_until_ms)),
        "acknowledged" => format!("acked by {}", a.acknowledged_by),
        "resolved" => format!("resolved: {}", a.resolved_reason),
        "open" if a.escalation_level > 0 => "open, escalated".into(),
        other => other.into(),
    }
}

pub fn alerts_table(alerts: &[AlertView]) -> String {
    if alerts.is_empty() {
        return "no alerts\n".into();
    }
    let mut table = Table::new(&[
        "ID",
        "RAISED (UTC)",
        "KIND",
        "STATE",
        "TEAM",
        "FOR",
        "ABOUT",
        "MESSAGE",
    ]);
    for a in alerts {
        table.row(vec![
            a.alert_id.clone(),
            clock::datetime(a.raised_at_ms),
            a.kind.clone(),
            state_of(a),
            a.team_id.clone(),
            a.recipient_ids.join(","),
            a.subject_key.clone(),
            a.message.clone(),
        ]);
    }
    table.render()
}

async fn ack(ctx: &Ctx, alert_id: String) -> Result<()> {
    let mut client = ctx.alerting().await?;
    let alert = client
        .acknowledge_alert(AcknowledgeAlertRequest { alert_id })
        .await
        .map_err(|s| ctx.fail(Target::Alerting, s))?
        .into_inner()
        .alert
        .map(AlertView::from);
    emit(ctx.output(), &alert, |a| match a {
        Some(a) => format!("{} {}\n", a.alert_id, state_of(a)),
        None => String::new(),
    })
}

async fn snooze(ctx: &Ctx, alert_id: String, for_ms: i64) -> Result<()> {
    let mut client = ctx.alerting().await?;
    let alert = client
        .snooze_alert(SnoozeAlertRequest {
            alert_id,
            duration_seconds: (for_ms / 1_000).max(1),
            ..Default::default()
        })
        .await
        .map_err(|s| ctx.fail(Target::Alerting, s))?
        .into_inner()
        .alert
        .map(AlertView::from);
    emit(ctx.output(), &alert, |a| match a {
        Some(a) => format!("{} {}\n", a.alert_id, state_of(a)),
        None => String::new(),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleView {
    pub team_id: String,
    pub rule: String,
    pub enabled: bool,
    pub threshold_seconds: i64,
    pub stage_threshold_seconds: std::collections::BTreeMap<String, i64>,
    pub recipients: String,
    pub escalate_after_seconds: i64,
    pub is_default: bool,
    pub updated_by: String,
}

impl From<Rule> for RuleView {
    fn from(r: Rule) -> Self {
        Self {
            team_id: r.team_id,
            rule: r.rule,
            enabled: r.enabled,
            threshold_seconds: r.threshold_seconds,
            stage_threshold_seconds: r.stage_threshold_seconds.into_iter().collect(),
            recipients: r.recipients,
            escalate_after_seconds: r.escalate_after_seconds,
            is_default: r.is_default,
            updated_by: r.updated_by,
        }
    }
}

pub fn rules_table(rules: &[RuleView]) -> String {
    let mut table = Table::new(&[
        "RULE",
        "ON",
        "AFTER",
        "STAGES",
        "TO",
        "ESCALATE AFTER",
        "SET BY",
    ]);
    for r in rules {
        let stages = r
            .stage_threshold_seconds
            .iter()
            .map(|(s, secs)| format!("{s}={}", duration::human(secs * 1_000)))
            .collect::<Vec<_>>()
            .join(" ");
        table.row(vec![
            r.rule.clone(),
            if r.enabled { "yes" } else { "no" }.into(),
            duration::human(r.threshold_seconds * 1_000),
            stages,
            r.recipients.clone(),
            if r.escalate_after_seconds == 0 {
                "never".into()
            } else {
                duration::human(r.escalate_after_seconds * 1_000)
            },
            if r.is_default {
                "(default)".into()
            } else {
                r.updated_by.clone()
            },
        ]);
    }
    table.render()
}

async fn fetch_rules(ctx: &Ctx, team_id: &str) -> Result<Vec<Rule>> {
    let mut client = ctx.alerting().await?;
    Ok(client
        .list_rules(ListRulesRequest {
            team_id: team_id.to_string(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Alerting, s))?
        .into_inner()
        .rules)
}

async fn rules(ctx: &Ctx, team_id: String) -> Result<()> {
    let rules: Vec<RuleView> = fetch_rules(ctx, &team_id)
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect();
    emit(ctx.output(), &rules, |r| rules_table(r))
}

async fn set_rule(ctx: &Ctx, args: AlertRuleSetArgs) -> Result<()> {
    // Start from the rule as it stands, so unnamed flags keep their value.
    let current = fetch_rules(ctx, &args.team)
        .await?
        .into_iter()
        .find(|r| r.rule == args.rule);
    let mut rule = current.unwrap_or_else(|| Rule {
        team_id: args.team.clone(),
        rule: args.rule.clone(),
        enabled: true,
        recipients: "rep".into(),
        ..Default::default()
    });
    if args.enable {
        rule.enabled = true;
    }
    if args.disable {
        rule.enabled = false;
    }
    if let Some(ms) = args.threshold {
        rule.threshold_seconds = ms / 1_000;
    }
    for (stage, ms) in args.stages {
        rule.stage_threshold_seconds.insert(stage, ms / 1_000);
    }
    if let Some(recipients) = args.recipients {
        rule.recipients = recipients;
    }
    if let Some(ms) = args.escalate_after {
        rule.escalate_after_seconds = ms / 1_000;
    }
    let mut client = ctx.alerting().await?;
    let set = client
        .set_rule(SetRuleRequest { rule: Some(rule) })
        .await
        .map_err(|s| ctx.fail(Target::Alerting, s))?
        .into_inner()
        .rule
        .map(RuleView::from);
    let rules: Vec<RuleView> = set.into_iter().collect();
    emit(ctx.output(), &rules, |r| rules_table(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_render_their_state() {
        let a = AlertView {
            alert_id: "alert_1".into(),
            kind: "no_first_touch".into(),
            state: "acknowledged".into(),
            team_id: "demo".into(),
            recipient_id: "ana".into(),
            recipient_ids: vec!["ana".into(), "maya".into()],
            subject_key: "lead-1".into(),
            message: "Lead lead-1 was claimed 4 h 0 min ago".into(),
            raised_at_ms: 0,
            acknowledged_by: "ana".into(),
            snoozed_until_ms: 0,
            resolved_reason: String::new(),
            escalation_level: 1,
        };
        let text = alerts_table(&[a]);
        assert!(text.contains("acked by ana"), "{text}");
        assert!(text.contains("ana,maya"), "{text}");
    }
}

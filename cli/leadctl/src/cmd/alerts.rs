//! `leadctl alerts …`: list, acknowledge, snooze; the team's rules.

use anyhow::{Context, Result};
use leadwheel_proto::alerting::v1::{
    AcknowledgeAlertRequest, Alert, Delivery, GetAlertRequest, ListAlertsRequest,
    ListDeliveriesRequest, ListRulesRequest, Rule, SetContactRequest, SetRuleRequest,
    SetTeamWebhookRequest, SnoozeAlertRequest, WatchAlertsRequest,
};
use serde::Serialize;

use crate::cli::{AlertRuleSetArgs, AlertRulesCommand, AlertsCommand};
use crate::clock;
use crate::conn::Ctx;
use crate::duration;
use crate::error::{Target, is_permanent};
use crate::output::{Table, emit, print_out, to_json};

pub async fn run(ctx: &Ctx, command: AlertsCommand) -> Result<()> {
    match command {
        AlertsCommand::List {
            recipient,
            state,
            limit,
        } => list(ctx, recipient, state, limit).await,
        AlertsCommand::Show { alert } => show(ctx, alert).await,
        AlertsCommand::Ack { alert } => ack(ctx, alert).await,
        AlertsCommand::Snooze { alert, for_ms } => snooze(ctx, alert, for_ms).await,
        AlertsCommand::Rules(AlertRulesCommand::List { team }) => rules(ctx, team).await,
        AlertsCommand::Rules(AlertRulesCommand::Set(args)) => set_rule(ctx, *args).await,
        AlertsCommand::Watch => watch(ctx).await,
        AlertsCommand::Deliveries {
            alert,
            state,
            limit,
        } => deliveries(ctx, alert, state, limit).await,
        AlertsCommand::Webhook { team, url } => {
            let mut client = ctx.alerting().await?;
            client
                .set_team_webhook(SetTeamWebhookRequest {
                    team_id: team.clone(),
                    webhook_url: url.clone(),
                })
                .await
                .map_err(|s| ctx.fail(Target::Alerting, s))?;
            let said = if url.is_empty() {
                format!("team {team}: no webhook\n")
            } else {
                format!("team {team}: alerts go to {url}\n")
            };
            emit(
                ctx.output(),
                &serde_json::json!({"team_id": team, "webhook_url": url}),
                |_| said,
            )
        }
        AlertsCommand::Contact {
            email,
            person,
            channels,
            time_zone,
            quiet,
            digest,
        } => {
            let mut client = ctx.alerting().await?;
            let (quiet_start, quiet_end) = quiet.clone().unwrap_or_default();
            client
                .set_contact(SetContactRequest {
                    recipient_id: person.clone().unwrap_or_default(),
                    email: email.clone(),
                    channels: channels.clone(),
                    time_zone: time_zone.clone().unwrap_or_default(),
                    quiet_start,
                    quiet_end,
                    digest_minutes: i32::try_from(digest.unwrap_or(0) / 60_000).unwrap_or(i32::MAX),
                })
                .await
                .map_err(|s| ctx.fail(Target::Alerting, s))?;
            let who = person.unwrap_or_else(|| "you".into());
            let mut said = if email.is_empty() {
                format!("{who}: no email")
            } else {
                format!("{who}: alerts by email to {email}")
            };
            if let Some((start, end)) = &quiet {
                said.push_str(&format!(
                    ", quiet {start}-{end} {}",
                    time_zone.as_deref().unwrap_or("UTC")
                ));
            }
            if let Some(ms) = digest {
                said.push_str(&format!(", a digest every {}", duration::human(ms)));
            }
            said.push('\n');
            let json = serde_json::json!({"email": email, "channels": channels, "quiet": quiet});
            emit(ctx.output(), &json, |_| said)
        }
    }
}

/// Longest wait between reconnection attempts of `alerts watch`.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(10);

async fn watch(ctx: &Ctx) -> Result<()> {
    if ctx.output() == crate::cli::Output::Csv {
        anyhow::bail!("alerts watch has no CSV output; use --output json");
    }
    let mut backoff = std::time::Duration::from_millis(500);
    loop {
        let mut client = ctx.alerting().await?;
        match client.watch_alerts(WatchAlertsRequest {}).await {
            Ok(response) => {
                eprintln!("watching alerts (Ctrl-C quits)");
                backoff = std::time::Duration::from_millis(500);
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(alert)) => {
                            let view = AlertView::from(alert);
                            let line = match ctx.output() {
                                crate::cli::Output::Json => {
                                    to_json(&view)?.replace('\n', "") + "\n"
                                }
                                crate::cli::Output::Table => watch_line(&view),
                                crate::cli::Output::Csv => {
                                    anyhow::bail!(
                                        "alerts watch has no CSV output; use --output json"
                                    )
                                }
                            };
                            print_out(&line);
                        }
                        Ok(None) => break,
                        Err(status) if is_permanent(status.code()) => {
                            return Err(ctx.fail(Target::Alerting, status));
                        }
                        Err(status) => {
                            eprintln!("stream dropped: {}", status.message());
                            break;
                        }
                    }
                }
            }
            Err(status) if is_permanent(status.code()) => {
                return Err(ctx.fail(Target::Alerting, status));
            }
            Err(status) => eprintln!("cannot watch yet: {}", status.message()),
        }
        eprintln!("reconnecting in {} ms", backoff.as_millis());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One line per delivered alert.
pub fn watch_line(a: &AlertView) -> String {
    format!(
        "{}  {}  {}  {}  {}\n",
        clock::datetime(a.raised_at_ms),
        a.kind,
        state_of(a),
        a.alert_id,
        a.message
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryView {
    pub delivery_id: String,
    pub alert_id: String,
    pub channel: String,
    pub recipient_id: String,
    pub target: String,
    pub reason: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: String,
    pub created_at_ms: i64,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            delivery_id: d.delivery_id,
            alert_id: d.alert_id,
            channel: d.channel,
            recipient_id: d.recipient_id,
            target: d.target,
            reason: d.reason,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at_ms: d.next_attempt_at_ms,
            last_error: d.last_error,
            created_at_ms: d.created_at_ms,
        }
    }
}

async fn deliveries(
    ctx: &Ctx,
    alert: Option<String>,
    state: Option<String>,
    limit: usize,
) -> Result<()> {
    let mut client = ctx.alerting().await?;
    let mut rows: Vec<DeliveryView> = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_deliveries(ListDeliveriesRequest {
                alert_id: alert.clone().unwrap_or_default(),
                state: state.clone().unwrap_or_default(),
                page_size: i32::try_from(limit.saturating_sub(rows.len()).min(500)).unwrap_or(500),
                page_token,
            })
            .await
            .map_err(|s| ctx.fail(Target::Alerting, s))?
            .into_inner();
        rows.extend(page.deliveries.into_iter().map(DeliveryView::from));
        if page.next_page_token.is_empty() || rows.len() >= limit {
            break;
        }
        page_token = page.next_page_token;
    }
    rows.truncate(limit);
    emit(ctx.output(), &rows, |rows| deliveries_table(rows))
}

pub fn deliveries_table(rows: &[DeliveryView]) -> String {
    if rows.is_empty() {
        return "no deliveries\n".into();
    }
    let mut table = Table::new(&[
        "WRITTEN (UTC)",
        "ALERT",
        "CHANNEL",
        "TO",
        "WHY",
        "STATE",
        "TRIES",
        "LAST ERROR",
    ]);
    for d in rows {
        let state = if d.state == "pending" && d.attempts > 0 {
            format!("retry at {}", clock::datetime(d.next_attempt_at_ms))
        } else {
            d.state.clone()
        };
        table.row(vec![
            clock::datetime(d.created_at_ms),
            d.alert_id.clone(),
            d.channel.clone(),
            if d.recipient_id.is_empty() {
                d.target.clone()
            } else {
                d.recipient_id.clone()
            },
            d.reason.clone(),
            state,
            d.attempts.to_string(),
            d.last_error.clone(),
        ]);
    }
    table.render()
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

async fn show(ctx: &Ctx, alert_id: String) -> Result<()> {
    let mut client = ctx.alerting().await?;
    let alert = client
        .get_alert(GetAlertRequest { alert_id })
        .await
        .map_err(|s| ctx.fail(Target::Alerting, s))?
        .into_inner()
        .alert
        .map(AlertView::from)
        .context("alerting answered without the alert")?;
    emit(ctx.output(), &alert, |a| {
        alerts_table(std::slice::from_ref(a))
    })
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
    pub tier_threshold_seconds: std::collections::BTreeMap<String, i64>,
    pub share_percent: i32,
    pub min_count: i32,
    pub period: String,
    pub check_at_percent: i32,
    pub threshold_percent: i32,
    pub recipients: String,
    pub escalate_after_seconds: i64,
    pub second_escalation_to: String,
    pub second_escalate_after_seconds: i64,
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
            tier_threshold_seconds: r.tier_threshold_seconds.into_iter().collect(),
            share_percent: r.share_percent,
            min_count: r.min_count,
            period: r.period,
            check_at_percent: r.check_at_percent,
            threshold_percent: r.threshold_percent,
            recipients: r.recipients,
            escalate_after_seconds: r.escalate_after_seconds,
            second_escalation_to: r.second_escalation_to,
            second_escalate_after_seconds: r.second_escalate_after_seconds,
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
        let mut stages = r
            .stage_threshold_seconds
            .iter()
            .chain(r.tier_threshold_seconds.iter())
            .map(|(s, secs)| format!("{s}={}", duration::human(secs * 1_000)))
            .collect::<Vec<_>>()
            .join(" ");
        if r.share_percent > 0 {
            stages = format!("over {}% of ≥{} offers", r.share_percent, r.min_count);
        }
        if !r.period.is_empty() {
            stages = format!(
                "below {}% of quota at {}% of the {}",
                r.threshold_percent, r.check_at_percent, r.period
            );
        }
        table.row(vec![
            r.rule.clone(),
            if r.enabled { "yes" } else { "no" }.into(),
            duration::human(r.threshold_seconds * 1_000),
            stages,
            r.recipients.clone(),
            match (r.escalate_after_seconds, r.second_escalation_to.as_str()) {
                (0, _) => "never".into(),
                (secs, "") => duration::human(secs * 1_000),
                (secs, who) => format!(
                    "{}, then {who} after {}",
                    duration::human(secs * 1_000),
                    duration::human(r.second_escalate_after_seconds * 1_000)
                ),
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
    for (tier, ms) in args.tiers {
        rule.tier_threshold_seconds.insert(tier, ms / 1_000);
    }
    if let Some(share) = args.share {
        rule.share_percent = share;
    }
    if let Some(min) = args.min_offers {
        rule.min_count = min;
    }
    if let Some(period) = args.period {
        rule.period = period;
    }
    if let Some(at) = args.at {
        rule.check_at_percent = at;
    }
    if let Some(below) = args.below {
        rule.threshold_percent = below;
    }
    if let Some(recipients) = args.recipients {
        rule.recipients = recipients;
    }
    if let Some(ms) = args.escalate_after {
        rule.escalate_after_seconds = ms / 1_000;
    }
    if let Some(who) = args.second_escalation_to {
        rule.second_escalation_to = who;
    }
    if let Some(ms) = args.second_escalate_after {
        rule.second_escalate_after_seconds = ms / 1_000;
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
    fn a_forecast_rule_reads_as_its_period_point_and_share() {
        let rule = RuleView::from(Rule {
            team_id: "demo".into(),
            rule: "forecast_below_quota".into(),
            enabled: true,
            recipients: "manager".into(),
            period: "quarter".into(),
            check_at_percent: 50,
            threshold_percent: 80,
            ..Default::default()
        });
        let table = rules_table(&[rule]);
        assert!(
            table.contains("below 80% of quota at 50% of the quarter"),
            "{table}"
        );
        assert_eq!(crate::cli::percent_arg("50%"), Ok(50));
        assert_eq!(crate::cli::percent_arg(" 80 "), Ok(80));
        assert!(crate::cli::percent_arg("half").is_err());
    }

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

#[cfg(test)]
mod delivery_tests {
    use super::*;

    #[test]
    fn the_log_shows_dead_letters_and_retries() {
        let row = |state: &str, attempts: i64| DeliveryView {
            delivery_id: "dlv_1".into(),
            alert_id: "alert_1".into(),
            channel: "webhook".into(),
            recipient_id: String::new(),
            target: "https://hooks.example.com/x".into(),
            reason: "raised".into(),
            state: state.into(),
            attempts,
            next_attempt_at_ms: 60_000,
            last_error: "the webhook answered 400 Bad Request".into(),
            created_at_ms: 0,
        };
        let text = deliveries_table(&[row("dead", 1), row("pending", 2)]);
        assert!(
            text.contains("dead") && text.contains("answered 400"),
            "{text}"
        );
        assert!(text.contains("retry at"), "{text}");
        assert!(text.contains("https://hooks.example.com/x"), "{text}");
    }
}

//! The rules managers set, per team. A rule without a row is its default.

use std::collections::BTreeMap;

use leadwheel_plumbing::{Store, Tx};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreError;
use crate::rules::{RULES, Recipients, RuleConfig};

/// Stores `rule` (whole) for its team.
pub async fn upsert(tx: &mut Tx, rule: &RuleConfig) -> Result<(), StoreError> {
    let stages = serde_json::to_string(&rule.stage_thresholds_ms).expect("a map serializes");
    sqlx::query(
        "INSERT INTO alerting_rules (team_id, rule, enabled, threshold_ms, stage_thresholds, \
         recipients, escalate_after_ms, updated_by, updated_at_ms, share_percent, min_count, \
         second_escalation_to, second_escalate_after_ms, period, check_at_percent, \
         threshold_percent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (team_id, rule) DO UPDATE SET \
         period = excluded.period, check_at_percent = excluded.check_at_percent, \
         threshold_percent = excluded.threshold_percent, \
         share_percent = excluded.share_percent, min_count = excluded.min_count, \
         second_escalation_to = excluded.second_escalation_to, \
         second_escalate_after_ms = excluded.second_escalate_after_ms, \
         enabled = excluded.enabled, threshold_ms = excluded.threshold_ms, \
         stage_thresholds = excluded.stage_thresholds, recipients = excluded.recipients, \
         escalate_after_ms = excluded.escalate_after_ms, updated_by = excluded.updated_by, \
         updated_at_ms = excluded.updated_at_ms",
    )
    .bind(&rule.team_id)
    .bind(&rule.rule)
    .bind(i64::from(rule.enabled))
    .bind(rule.threshold_ms)
    .bind(stages)
    .bind(rule.recipients.as_str())
    .bind(rule.escalate_after_ms)
    .bind(&rule.updated_by)
    .bind(rule.updated_at_ms)
    .bind(rule.share_percent)
    .bind(rule.min_count)
    .bind(&rule.second_escalation_to)
    .bind(rule.second_escalate_after_ms)
    .bind(&rule.period)
    .bind(rule.check_at_percent)
    .bind(rule.threshold_percent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `team_id`'s `rule`, as set or defaulted, read in `tx`.
pub async fn get(tx: &mut Tx, team_id: &str, rule: &str) -> Result<RuleConfig, StoreError> {
    fetch(tx, team_id, rule).await
}

async fn fetch(
    conn: &mut AnyConnection,
    team_id: &str,
    rule: &str,
) -> Result<RuleConfig, StoreError> {
    let row = sqlx::query(
        "SELECT team_id, rule, enabled, threshold_ms, stage_thresholds, recipients, \
         escalate_after_ms, updated_by, updated_at_ms, share_percent, min_count, \
         second_escalation_to, second_escalate_after_ms, period, check_at_percent, \
         threshold_percent FROM alerting_rules \
         WHERE team_id = $1 AND rule = $2",
    )
    .bind(team_id)
    .bind(rule)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => rule_from_row(&row),
        None => Ok(RuleConfig::default_for(team_id, rule).expect("a known rule")),
    }
}

/// Every rule of `team_id`, as set or defaulted.
pub async fn list(store: &Store, team_id: &str) -> Result<Vec<RuleConfig>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let mut rules = Vec::new();
    for rule in RULES {
        rules.push(fetch(&mut conn, team_id, rule).await?);
    }
    Ok(rules)
}

fn rule_from_row(row: &AnyRow) -> Result<RuleConfig, StoreError> {
    let stages: String = row.try_get("stage_thresholds")?;
    let recipients: String = row.try_get("recipients")?;
    Ok(RuleConfig {
        team_id: row.try_get("team_id")?,
        rule: row.try_get("rule")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        threshold_ms: row.try_get("threshold_ms")?,
        // Written by `upsert` only, so it parses; an unreadable copy falls
        // back to the rule's own threshold for every stage.
        stage_thresholds_ms: serde_json::from_str::<BTreeMap<String, i64>>(&stages)
            .unwrap_or_default(),
        recipients: Recipients::parse(&recipients).unwrap_or(Recipients::Rep),
        escalate_after_ms: row.try_get("escalate_after_ms")?,
        share_percent: row.try_get("share_percent")?,
        min_count: row.try_get("min_count")?,
        second_escalation_to: row.try_get("second_escalation_to")?,
        second_escalate_after_ms: row.try_get("second_escalate_after_ms")?,
        period: row.try_get("period")?,
        check_at_percent: row.try_get("check_at_percent")?,
        threshold_percent: row.try_get("threshold_percent")?,
        is_default: false,
        updated_by: row.try_get("updated_by")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

//! Routing rules across teams: every version kept, the highest in force.

use leadwheel_wheel_core::{TeamRule, TeamRules};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::*;

/// A stored version of the rules, with who set it and when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulesVersion {
    pub rules: TeamRules,
    pub set_by: String,
    pub set_at_ms: i64,
}

fn version_from_row(row: &AnyRow) -> Result<RulesVersion, WheelError> {
    let rules: String = row.try_get("rules")?;
    let rules: Vec<TeamRule> = serde_json::from_str(&rules)
        .map_err(|err| WheelError::Corrupt(format!("routing rules: {err}")))?;
    Ok(RulesVersion {
        rules: TeamRules {
            version: row.try_get("version")?,
            rules,
            default_team_id: row.try_get("default_team_id")?,
        },
        set_by: row.try_get("set_by")?,
        set_at_ms: row.try_get("set_at_ms")?,
    })
}

/// The rules in force; version 0 with no rules when none were ever set.
pub async fn current_rules(conn: &mut AnyConnection) -> Result<RulesVersion, WheelError> {
    let row = sqlx::query(
        "SELECT version, rules, default_team_id, set_by, set_at_ms FROM wheel_routing_rules \
         ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(row) => version_from_row(&row)?,
        None => RulesVersion::default(),
    })
}

/// Every version, newest first, at most `limit`.
pub async fn rules_history(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<RulesVersion>, WheelError> {
    let rows = sqlx::query(
        "SELECT version, rules, default_team_id, set_by, set_at_ms FROM wheel_routing_rules \
         ORDER BY version DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(version_from_row).collect()
}

/// Stores `rules` as the next version; false when that version exists
/// already (someone else set the rules concurrently).
pub async fn insert_rules(
    conn: &mut AnyConnection,
    stored: &RulesVersion,
) -> Result<bool, WheelError> {
    let rules = serde_json::to_string(&stored.rules.rules).expect("rules serialize");
    let result = sqlx::query(
        "INSERT INTO wheel_routing_rules (version, rules, default_team_id, set_by, set_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING",
    )
    .bind(stored.rules.version)
    .bind(rules)
    .bind(&stored.rules.default_team_id)
    .bind(&stored.set_by)
    .bind(stored.set_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Ids of every team, for checking the teams rules name.
pub async fn team_ids(conn: &mut AnyConnection) -> Result<Vec<String>, WheelError> {
    Ok(sqlx::query_scalar("SELECT team_id FROM wheel_teams")
        .fetch_all(&mut *conn)
        .await?)
}

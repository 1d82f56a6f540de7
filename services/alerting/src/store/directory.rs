//! Who manages which team, which team a rep is in and which pipeline
//! stages exist, copied from the wheel's and opportunity's events.

use std::collections::BTreeSet;

use leadwheel_plumbing::{Role, Store, Tx};
use sqlx::Row;

use super::StoreError;
use crate::rules::{DEFAULT_STAGES, Recipients};

/// Records `manager_id` as `team_id`'s manager.
pub async fn upsert_team(
    tx: &mut Tx,
    team_id: &str,
    manager_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_teams (team_id, manager_id, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id) DO UPDATE SET manager_id = excluded.manager_id, \
         updated_at_ms = excluded.updated_at_ms",
    )
    .bind(team_id)
    .bind(manager_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that `rep_id` is in `team_id` (a member again if they had
/// left), unless a later change is already recorded.
pub async fn upsert_rep(
    tx: &mut Tx,
    rep_id: &str,
    team_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_reps (rep_id, team_id, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (rep_id) DO UPDATE SET team_id = excluded.team_id, \
         updated_at_ms = excluded.updated_at_ms, left_at_ms = 0 \
         WHERE alerting_reps.updated_at_ms <= excluded.updated_at_ms",
    )
    .bind(rep_id)
    .bind(team_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that `rep_id` left `team_id` at `at_ms` (`wheel.rep.left`),
/// unless a later change is already recorded: the row keeps the team,
/// marked left.
pub async fn rep_left(
    tx: &mut Tx,
    rep_id: &str,
    team_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_reps (rep_id, team_id, updated_at_ms, left_at_ms) \
         VALUES ($1, $2, $3, $3) ON CONFLICT (rep_id) DO UPDATE SET \
         team_id = excluded.team_id, updated_at_ms = excluded.updated_at_ms, \
         left_at_ms = excluded.left_at_ms \
         WHERE alerting_reps.updated_at_ms <= excluded.updated_at_ms",
    )
    .bind(rep_id)
    .bind(team_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// True when `rep_id` left `team_id` and joined no team since.
pub async fn has_left(tx: &mut Tx, rep_id: &str, team_id: &str) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 AS yes FROM alerting_reps WHERE rep_id = $1 AND team_id = $2 AND left_at_ms > 0",
    )
    .bind(rep_id)
    .bind(team_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// The first recipients of a timed rule's alert about something `rep_id`
/// owns in `team_id` (managed by `manager_id`), per the rule's
/// `recipients`: as [`Recipients::resolve`], except that a rep who left
/// the team is not told; the manager is, in their place.
pub async fn recipients(
    tx: &mut Tx,
    recipients: Recipients,
    team_id: &str,
    rep_id: &str,
    manager_id: &str,
) -> Result<Vec<String>, StoreError> {
    if !rep_id.is_empty() && has_left(tx, rep_id, team_id).await? {
        return Ok(Recipients::Manager.resolve("", manager_id));
    }
    Ok(recipients.resolve(rep_id, manager_id))
}

/// `team_id`'s manager (empty: unknown).
pub async fn manager_of(tx: &mut Tx, team_id: &str) -> Result<String, StoreError> {
    let row = sqlx::query("SELECT manager_id FROM alerting_teams WHERE team_id = $1")
        .bind(team_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("manager_id")?,
        None => String::new(),
    })
}

/// Every team alerting knows.
pub async fn team_ids(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT team_id FROM alerting_teams ORDER BY team_id")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("team_id")?))
        .collect()
}

/// True when `manager_id` manages `team_id`.
pub async fn manages(store: &Store, manager_id: &str, team_id: &str) -> Result<bool, StoreError> {
    let row =
        sqlx::query("SELECT 1 AS yes FROM alerting_teams WHERE team_id = $1 AND manager_id = $2")
            .bind(team_id)
            .bind(manager_id)
            .fetch_optional(store.pool())
            .await?;
    Ok(row.is_some())
}

/// Who `user_id` is to the console, as far as alerting knows, for an
/// alert of `team_id`: that team's manager, or a rep who is in a team (and
/// has not left it). None for anyone else (an admin, someone a rule names
/// as a second escalation): alerting does not vouch for their role.
pub async fn console_role(
    store: &Store,
    user_id: &str,
    team_id: &str,
) -> Result<Option<Role>, StoreError> {
    if manages(store, user_id, team_id).await? {
        return Ok(Some(Role::Manager));
    }
    let row =
        sqlx::query("SELECT 1 AS yes FROM alerting_reps WHERE rep_id = $1 AND left_at_ms = 0")
            .bind(user_id)
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(|_| Role::Rep))
}

/// Records a pipeline stage and its outcome.
pub async fn upsert_stage(
    tx: &mut Tx,
    stage: &str,
    outcome: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_stages (stage, outcome, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (stage) DO UPDATE SET outcome = excluded.outcome, \
         updated_at_ms = excluded.updated_at_ms",
    )
    .bind(stage)
    .bind(outcome)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The open stages: the defaults, plus those announced open, minus those
/// announced closed (won or lost).
pub async fn open_stages(store: &Store) -> Result<BTreeSet<String>, StoreError> {
    let mut stages: BTreeSet<String> = DEFAULT_STAGES.iter().map(|s| s.to_string()).collect();
    let rows = sqlx::query("SELECT stage, outcome FROM alerting_stages")
        .fetch_all(store.pool())
        .await?;
    for row in rows {
        let stage: String = row.try_get("stage")?;
        let outcome: String = row.try_get("outcome")?;
        if outcome == "open" {
            stages.insert(stage);
        } else {
            stages.remove(&stage);
        }
    }
    Ok(stages)
}

/// True when `rep_id` is in a team `manager_id` manages, or in `team_id`
/// (the team named in the manager's token) when given; never for a rep
/// who left their team (`wheel.rep.left`).
pub async fn manages_rep(
    store: &Store,
    manager_id: &str,
    rep_id: &str,
    token_team: Option<&str>,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 AS yes FROM alerting_reps r WHERE r.rep_id = $1 AND r.left_at_ms = 0 AND \
         (r.team_id IN (SELECT team_id FROM alerting_teams WHERE manager_id = $2) OR r.team_id = $3)",
    )
    .bind(rep_id)
    .bind(manager_id)
    .bind(token_team.unwrap_or("\u{1}no team"))
    .fetch_optional(store.pool())
    .await?;
    Ok(row.is_some())
}

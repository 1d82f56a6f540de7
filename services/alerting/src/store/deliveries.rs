//! Delivery targets (team webhooks, people's email addresses) and the
//! durable delivery log.

use leadwheel_plumbing::paging::Cursor;
use leadwheel_plumbing::{Store, Tx, ids};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use crate::prefs::Prefs;

/// One delivery of one alert on one channel to one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub delivery_id: String,
    /// The alert.
    pub alert_id: String,
    /// `live`, `webhook` or `email`.
    pub channel: String,
    /// The person (empty for a team webhook).
    pub recipient_id: String,
    /// URL, address or subject.
    pub target: String,
    /// `raised`, `escalated` or `reopened`.
    pub reason: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at_ms: i64,
    /// Why the last attempt failed.
    pub last_error: String,
    /// When it was written.
    pub created_at_ms: i64,
    /// When it was sent or given up.
    pub done_at_ms: i64,
}

/// Sets `team_id`'s webhook URL (empty: none).
pub async fn set_webhook(
    tx: &mut Tx,
    team_id: &str,
    url: &str,
    by: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_team_channels (team_id, webhook_url, updated_by, updated_at_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (team_id) DO UPDATE SET \
         webhook_url = excluded.webhook_url, updated_by = excluded.updated_by, \
         updated_at_ms = excluded.updated_at_ms",
    )
    .bind(team_id)
    .bind(url)
    .bind(by)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `team_id`'s webhook URL (empty: none).
pub async fn webhook_of(tx: &mut Tx, team_id: &str) -> Result<String, StoreError> {
    let row = sqlx::query("SELECT webhook_url FROM alerting_team_channels WHERE team_id = $1")
        .bind(team_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("webhook_url")?,
        None => String::new(),
    })
}

/// Sets `recipient_id`'s preferences, whole.
pub async fn set_prefs(
    tx: &mut Tx,
    recipient_id: &str,
    prefs: &Prefs,
    by: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let (quiet_start, quiet_end) = prefs.quiet.unwrap_or((-1, -1));
    sqlx::query(
        "INSERT INTO alerting_contacts (recipient_id, email, updated_by, updated_at_ms, channels, \
         time_zone, quiet_start_min, quiet_end_min, digest_minutes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (recipient_id) DO UPDATE SET email = excluded.email, \
         updated_by = excluded.updated_by, updated_at_ms = excluded.updated_at_ms, \
         channels = excluded.channels, time_zone = excluded.time_zone, \
         quiet_start_min = excluded.quiet_start_min, quiet_end_min = excluded.quiet_end_min, \
         digest_minutes = excluded.digest_minutes",
    )
    .bind(recipient_id)
    .bind(&prefs.email)
    .bind(by)
    .bind(now_ms)
    .bind(prefs.channels())
    .bind(&prefs.time_zone)
    .bind(quiet_start)
    .bind(quiet_end)
    .bind(prefs.digest_minutes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `recipient_id`'s preferences (the defaults when never set).
pub async fn prefs_of(tx: &mut Tx, recipient_id: &str) -> Result<Prefs, StoreError> {
    read_prefs(tx, recipient_id).await
}

/// [`prefs_of`] outside a transaction.
pub async fn prefs_now(store: &Store, recipient_id: &str) -> Result<Prefs, StoreError> {
    let mut conn = store.pool().acquire().await?;
    read_prefs(&mut conn, recipient_id).await
}

async fn read_prefs(
    conn: &mut sqlx::AnyConnection,
    recipient_id: &str,
) -> Result<Prefs, StoreError> {
    let row = sqlx::query(
        "SELECT email, channels, time_zone, quiet_start_min, quiet_end_min, digest_minutes \
         FROM alerting_contacts WHERE recipient_id = $1",
    )
    .bind(recipient_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Prefs::default());
    };
    let channels: String = row.try_get("channels")?;
    let (start, end): (i64, i64) = (
        row.try_get("quiet_start_min")?,
        row.try_get("quiet_end_min")?,
    );
    Ok(Prefs {
        email: row.try_get("email")?,
        live: channels.split(',').any(|c| c == "live"),
        by_email: channels.split(',').any(|c| c == "email"),
        time_zone: row.try_get("time_zone")?,
        quiet: (start >= 0 && end >= 0).then_some((start, end)),
        digest_minutes: row.try_get("digest_minutes")?,
    })
}

/// Writes a pending delivery, first due at `due_ms`, unless the same
/// (alert, channel, recipient, reason) exists; true when written.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    tx: &mut Tx,
    alert_id: &str,
    channel: &str,
    recipient_id: &str,
    target: &str,
    reason: &str,
    now_ms: i64,
    due_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO alerting_deliveries (delivery_id, alert_id, channel, recipient_id, target, \
         reason, state, attempts, next_attempt_at_ms, last_error, created_at_ms, done_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $8, '', $7, 0) \
         ON CONFLICT (alert_id, channel, recipient_id, reason) DO NOTHING",
    )
    .bind(ids::prefixed("dlv"))
    .bind(alert_id)
    .bind(channel)
    .bind(recipient_id)
    .bind(target)
    .bind(reason)
    .bind(now_ms)
    .bind(due_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

const COLUMNS: &str = "delivery_id, alert_id, channel, recipient_id, target, reason, state, \
    attempts, next_attempt_at_ms, last_error, created_at_ms, done_at_ms";

/// Up to `limit` pending `channel` deliveries due at `now_ms`.
pub async fn due(
    store: &Store,
    channel: &str,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM alerting_deliveries WHERE channel = $1 AND state = 'pending' \
         AND next_attempt_at_ms <= $2 ORDER BY next_attempt_at_ms, delivery_id LIMIT $3"
    )))
    .bind(channel)
    .bind(now_ms)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// When the next pending `channel` delivery is due (None: none pending).
pub async fn next_due(store: &Store, channel: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "SELECT MIN(next_attempt_at_ms) AS next FROM alerting_deliveries \
         WHERE channel = $1 AND state = 'pending'",
    )
    .bind(channel)
    .fetch_one(store.pool())
    .await?;
    Ok(row.try_get::<Option<i64>, _>("next")?)
}

/// Records an attempt's end: `state` (`sent`, `dead` or `pending` with the
/// next attempt at `next_attempt_at_ms`). Conditional on the attempt count
/// read, so two workers never both record one attempt.
pub async fn record_attempt(
    store: &Store,
    delivery: &Delivery,
    state: &str,
    next_attempt_at_ms: i64,
    error: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done_at = if state == "pending" { 0 } else { now_ms };
    let done = sqlx::query(
        "UPDATE alerting_deliveries SET state = $2, attempts = attempts + 1, \
         next_attempt_at_ms = $3, last_error = $4, done_at_ms = $5 \
         WHERE delivery_id = $1 AND state = 'pending' AND attempts = $6",
    )
    .bind(&delivery.delivery_id)
    .bind(state)
    .bind(next_attempt_at_ms)
    .bind(error)
    .bind(done_at)
    .bind(delivery.attempts)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deliveries, newest first, of `alert_id` (empty: any) in `state` (empty:
/// any) of alerts in `teams` (None: any team).
pub async fn list(
    store: &Store,
    alert_id: &str,
    state: &str,
    manager: Option<&str>,
    cursor: &Cursor,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM alerting_deliveries d \
         WHERE ($1 = '' OR d.alert_id = $1) AND ($2 = '' OR d.state = $2) \
         AND ($3 = '' OR d.alert_id IN (SELECT alert_id FROM alerting_alerts WHERE team_id IN \
              (SELECT team_id FROM alerting_teams WHERE manager_id = $3))) \
         AND (d.created_at_ms < $4 OR (d.created_at_ms = $4 AND d.delivery_id < $5)) \
         ORDER BY d.created_at_ms DESC, d.delivery_id DESC LIMIT $6"
    )))
    .bind(alert_id)
    .bind(state)
    .bind(manager.unwrap_or_default())
    .bind(cursor.after_ms)
    .bind(&cursor.after_id)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        delivery_id: row.try_get("delivery_id")?,
        alert_id: row.try_get("alert_id")?,
        channel: row.try_get("channel")?,
        recipient_id: row.try_get("recipient_id")?,
        target: row.try_get("target")?,
        reason: row.try_get("reason")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        last_error: row.try_get("last_error")?,
        created_at_ms: row.try_get("created_at_ms")?,
        done_at_ms: row.try_get("done_at_ms")?,
    })
}

//! Durable timers: one row per armed timer, keyed so that arming again
//! replaces it. Whoever deletes a due row (`take`) fires it, so two loops
//! (replicas) racing for one timer fire it once.

use leadwheel_plumbing::{Store, Tx};
use sqlx::Row;

use super::StoreError;

/// An armed timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Its key, e.g. `rule:no_first_touch:lead-1` or `escalate:alert_…`.
    pub timer_key: String,
    /// When it fires.
    pub due_at_ms: i64,
    /// JSON: what to do when it fires.
    pub payload: String,
}

/// Arms (or re-arms) `key` to fire at `due_at_ms`.
pub async fn arm(
    tx: &mut Tx,
    key: &str,
    due_at_ms: i64,
    payload: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_timers (timer_key, due_at_ms, payload, armed_at_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (timer_key) DO UPDATE SET \
         due_at_ms = excluded.due_at_ms, payload = excluded.payload, armed_at_ms = excluded.armed_at_ms",
    )
    .bind(key)
    .bind(due_at_ms)
    .bind(payload)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Disarms `key`; true when it was armed.
pub async fn disarm(tx: &mut Tx, key: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM alerting_timers WHERE timer_key = $1")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Disarms every one of `keys` in one statement; how many were armed.
pub async fn disarm_all(tx: &mut Tx, keys: &[String]) -> Result<u64, StoreError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let list: Vec<String> = (1..=keys.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "DELETE FROM alerting_timers WHERE timer_key IN ({})",
        list.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for key in keys {
        query = query.bind(key);
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// The armed timer `key`, if any.
pub async fn get(tx: &mut Tx, key: &str) -> Result<Option<Timer>, StoreError> {
    let row = sqlx::query(
        "SELECT timer_key, due_at_ms, payload FROM alerting_timers WHERE timer_key = $1",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| timer_from_row(&r)).transpose()
}

/// Removes `timer` if it is still armed as read (same due time); true when
/// this caller took it and must fire it.
pub async fn take(tx: &mut Tx, timer: &Timer) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM alerting_timers WHERE timer_key = $1 AND due_at_ms = $2")
        .bind(&timer.timer_key)
        .bind(timer.due_at_ms)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves `timer` to `due_at_ms` if it is still armed as read (same due
/// time); true when this caller moved it.
pub async fn move_due(tx: &mut Tx, timer: &Timer, due_at_ms: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_timers SET due_at_ms = $3 WHERE timer_key = $1 AND due_at_ms = $2",
    )
    .bind(&timer.timer_key)
    .bind(timer.due_at_ms)
    .bind(due_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Up to `limit` timers due at `now_ms`, earliest first.
pub async fn due(store: &Store, now_ms: i64, limit: i64) -> Result<Vec<Timer>, StoreError> {
    let rows = sqlx::query(
        "SELECT timer_key, due_at_ms, payload FROM alerting_timers WHERE due_at_ms <= $1 \
         ORDER BY due_at_ms, timer_key LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(timer_from_row).collect()
}

/// When the next timer is due (None: none armed).
pub async fn next_due(store: &Store) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT MIN(due_at_ms) AS next FROM alerting_timers")
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get::<Option<i64>, _>("next")?)
}

/// How many timers are armed.
pub async fn count(store: &Store) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM alerting_timers")
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get("n")?)
}

fn timer_from_row(row: &sqlx::any::AnyRow) -> Result<Timer, StoreError> {
    Ok(Timer {
        timer_key: row.try_get("timer_key")?,
        due_at_ms: row.try_get("due_at_ms")?,
        payload: row.try_get("payload")?,
    })
}

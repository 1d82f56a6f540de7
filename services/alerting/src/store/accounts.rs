//! Accounts as opportunity announced them, with their last touch (for
//! silent customers), and the offers each rep let go (for saturation).

use leadwheel_plumbing::Tx;
use sqlx::Row;

use super::StoreError;

/// An account alerting watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub account_id: String,
    /// Its owner.
    pub owner_rep_id: String,
    /// Its team.
    pub team_id: String,
    /// Its tier (e.g. "A").
    pub tier: String,
    /// `active` or `closed`.
    pub status: String,
    /// The last change applied.
    pub version: i64,
    /// The last touch (or when it was created).
    pub last_touch_ms: i64,
}

/// Applies an announced account state unless an older copy arrives late;
/// the account after, or None when the copy was older.
pub async fn upsert(tx: &mut Tx, account: &Account) -> Result<Option<Account>, StoreError> {
    let done = sqlx::query(
        "INSERT INTO alerting_accounts (account_id, owner_rep_id, team_id, tier, status, version, \
         last_touch_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id) DO UPDATE SET \
         owner_rep_id = excluded.owner_rep_id, team_id = excluded.team_id, tier = excluded.tier, \
         status = excluded.status, version = excluded.version \
         WHERE alerting_accounts.version < excluded.version",
    )
    .bind(&account.account_id)
    .bind(&account.owner_rep_id)
    .bind(&account.team_id)
    .bind(&account.tier)
    .bind(&account.status)
    .bind(account.version)
    .bind(account.last_touch_ms)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get(tx, &account.account_id).await
}

/// Records a touch at `at_ms` (a later one only); the account, if known.
pub async fn touch(
    tx: &mut Tx,
    account_id: &str,
    at_ms: i64,
) -> Result<Option<Account>, StoreError> {
    sqlx::query(
        "UPDATE alerting_accounts SET last_touch_ms = $2 WHERE account_id = $1 AND last_touch_ms < $2",
    )
    .bind(account_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    get(tx, account_id).await
}

/// One account, if known.
pub async fn get(tx: &mut Tx, account_id: &str) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query(
        "SELECT account_id, owner_rep_id, team_id, tier, status, version, last_touch_ms \
         FROM alerting_accounts WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok(Account {
            account_id: row.try_get("account_id")?,
            owner_rep_id: row.try_get("owner_rep_id")?,
            team_id: row.try_get("team_id")?,
            tier: row.try_get("tier")?,
            status: row.try_get("status")?,
            version: row.try_get("version")?,
            last_touch_ms: row.try_get("last_touch_ms")?,
        })
    })
    .transpose()
}

/// Records how an offer ended (`missed`: passed or expired); false when it
/// was recorded before.
pub async fn record_offer(
    tx: &mut Tx,
    offer_id: &str,
    rep_id: &str,
    team_id: &str,
    missed: bool,
    closed_at_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO alerting_offer_outcomes (offer_id, rep_id, team_id, missed, closed_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (offer_id) DO NOTHING",
    )
    .bind(offer_id)
    .bind(rep_id)
    .bind(team_id)
    .bind(i64::from(missed))
    .bind(closed_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `rep_id`'s offers and missed offers closed in `(since_ms, until_ms]`,
/// after forgetting that rep's offers older than the window.
pub async fn offers_in_window(
    tx: &mut Tx,
    rep_id: &str,
    since_ms: i64,
    until_ms: i64,
) -> Result<(i64, i64), StoreError> {
    sqlx::query("DELETE FROM alerting_offer_outcomes WHERE rep_id = $1 AND closed_at_ms <= $2")
        .bind(rep_id)
        .bind(since_ms)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query(
        "SELECT COUNT(*) AS total, CAST(COALESCE(SUM(missed), 0) AS BIGINT) AS missed FROM alerting_offer_outcomes \
         WHERE rep_id = $1 AND closed_at_ms > $2 AND closed_at_ms <= $3",
    )
    .bind(rep_id)
    .bind(since_ms)
    .bind(until_ms)
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("total")?, row.try_get("missed")?))
}

/// Records an open handover task.
pub async fn add_task(
    tx: &mut Tx,
    task_id: &str,
    handover_id: &str,
    account_id: &str,
    lead_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerting_handover_tasks (task_id, handover_id, account_id, lead_id) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO NOTHING",
    )
    .bind(task_id)
    .bind(handover_id)
    .bind(account_id)
    .bind(lead_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes open task `task_id`; true when it was open.
pub async fn take_task(tx: &mut Tx, task_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM alerting_handover_tasks WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes and returns the open tasks of `handover_id`, or those about
/// `account_id` or `lead_id` (empty ids match nothing).
pub async fn take_tasks(
    tx: &mut Tx,
    handover_id: &str,
    account_id: &str,
    lead_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "DELETE FROM alerting_handover_tasks WHERE ($1 <> '' AND handover_id = $1) \
         OR ($2 <> '' AND account_id = $2) OR ($3 <> '' AND lead_id = $3) RETURNING task_id",
    )
    .bind(handover_id)
    .bind(account_id)
    .bind(lead_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| r.try_get("task_id").map_err(StoreError::from))
        .collect()
}

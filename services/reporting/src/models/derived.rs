//! The pre-aggregated read models recomputed from their base tables, each
//! with one `INSERT … SELECT … GROUP BY`: for a rebuild that writes the
//! base tables in bulk (then calls [`derive_all`]), and for the test that
//! checks the consumers' incremental upkeep (`aggregates.rs`) gives the
//! same rows.

use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::StoreError;

use jiff::tz::TimeZone;
use leadwheel_plumbing::Store;

use super::aggregates::{self, CONVERSION_TOUCHES, OWNED, ROUTE};
use super::{duration_histograms, open_days};

/// Recomputes every pre-aggregated table from the base tables in `tx`.
pub async fn derive_all(tx: &mut Tx, zone: &TimeZone) -> Result<(), StoreError> {
    // Each step's time is logged: at a large history they take minutes,
    // and which one does is what to work on.
    let mut step = std::time::Instant::now();
    let mut took = |name: &str| {
        tracing::info!(
            table = name,
            ms = step.elapsed().as_millis() as u64,
            "derived"
        );
        step = std::time::Instant::now();
    };
    derive_route_daily(tx).await?;
    took("reporting_route_daily");
    derive_conversion_touches(tx).await?;
    took("reporting_conversion_touches");
    derive_follow_ups(tx, zone).await?;
    took("reporting_follow_up_daily");
    derive_balance(tx).await?;
    took("reporting_balance");
    derive_balance_accounts(tx).await?;
    took("reporting_balance_accounts");
    Ok(())
}

/// `reporting_route_daily` from `reporting_leads` (and the first looks in
/// `reporting_counted`).
pub async fn derive_route_daily(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reporting_route_daily")
        .execute(&mut **tx)
        .await?;
    // Only the constant ROUTE expression is pasted in.
    let sql = format!(
        "INSERT INTO reporting_route_daily (day, team_id, rep_id, routed_by, rule_id, route, \
         won_currency, leads, converted, won, won_minor) \
         SELECT assigned_day, team_id, rep_id, routed_by, rule_id, route, won_currency, \
         COUNT(*), SUM(CASE WHEN converted_at_ms > 0 THEN 1 ELSE 0 END), \
         SUM(CASE WHEN won_at_ms > 0 THEN 1 ELSE 0 END), SUM(won_minor) FROM ( \
         SELECT l.assigned_day, l.team_id, l.rep_id, l.routed_by, l.rule_id, l.won_currency, \
         l.converted_at_ms, l.won_at_ms, l.won_minor, {ROUTE} AS route \
         FROM reporting_leads l WHERE l.assigned_at_ms > 0) routed \
         GROUP BY assigned_day, team_id, rep_id, routed_by, rule_id, route, won_currency"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `reporting_balance` from `reporting_opportunities` (open and won deals)
/// and their accounts' tiers.
pub async fn derive_balance(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reporting_balance")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO reporting_balance (team_id, rep_id, tier, stage, status, currency, deals, \
         amount_minor) \
         SELECT o.team_id, o.rep_id, COALESCE(a.tier, ''), o.stage, o.status, o.currency, \
         COUNT(*), SUM(o.amount_minor) FROM reporting_opportunities o \
         LEFT JOIN reporting_accounts a ON a.account_id = o.account_id \
         WHERE o.status IN ('open', 'won') \
         GROUP BY o.team_id, o.rep_id, COALESCE(a.tier, ''), o.stage, o.status, o.currency",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `reporting_balance_accounts` from `reporting_accounts` (and their won
/// deals).
pub async fn derive_balance_accounts(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reporting_balance_accounts")
        .execute(&mut **tx)
        .await?;
    // Only the constant OWNED expression is pasted in.
    let sql = format!(
        "INSERT INTO reporting_balance_accounts (team_id, rep_id, accounts, customers, \
         won_customers) \
         SELECT team_id, owner_rep_id, SUM(accounts), SUM(customers), SUM(won_customers) \
         FROM (SELECT a.team_id, a.owner_rep_id, {OWNED} FROM reporting_accounts a) owned \
         GROUP BY team_id, owner_rep_id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `reporting_conversion_touches` from the converted leads in
/// `reporting_counted` and their touches in `reporting_touches`.
pub async fn derive_conversion_touches(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reporting_conversion_touches")
        .execute(&mut **tx)
        .await?;
    // Only the constant CONVERSION_TOUCHES expression is pasted in.
    let sql = format!(
        "INSERT INTO reporting_conversion_touches (day, team_id, rep_id, touches, leads) \
         SELECT day, team_id, rep_id, touches, COUNT(*) FROM ( \
         SELECT c.day, c.team_id, c.rep_id, {CONVERSION_TOUCHES} AS touches \
         FROM reporting_counted c WHERE c.metric = 'converted') converted \
         GROUP BY day, team_id, rep_id, touches"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `reporting_follow_up_daily` from `reporting_follow_ups` and the
/// touches on their items (each follow-up judged in the business time
/// zone, as the consumers do).
pub async fn derive_follow_ups(tx: &mut Tx, zone: &TimeZone) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reporting_follow_up_daily")
        .execute(&mut **tx)
        .await?;
    let sums = aggregates::follow_up_sums(tx, zone, "", &[]).await?;
    aggregates::add_follow_ups(tx, sums.into_iter().collect()).await
}

/// The derivations a database has once, at the first start after the
/// migration that added their tables (empty in a database upgraded from
/// before it), each recorded by name in `reporting_upkeep`.
const ONCE: [&str; 5] = [
    // Migration 0010: the open pipeline's day and month sums and the
    // pre-aggregated tables of the time.
    "open_days+aggregates",
    "duration_histograms",
    "conversion_touches",
    "follow_up_outcomes",
    // Migration 0017.
    "forecast_changes",
];

/// Runs the derivations of [`ONCE`] this database has not had, under the
/// consumers' batch lock on Postgres (replicas starting together derive
/// once and no batch applies meanwhile).
pub async fn upkeep(store: &Store, zone: &TimeZone, now_ms: i64) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    crate::consumer::lock_batches(&mut tx, store.backend()).await?;
    for name in ONCE {
        let done = sqlx::query("SELECT 1 AS done FROM reporting_upkeep WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            continue;
        }
        match name {
            "open_days+aggregates" => {
                open_days::derive(&mut tx, store.backend(), zone).await?;
                derive_all(&mut tx, zone).await?;
            }
            "duration_histograms" => {
                duration_histograms::derive(&mut tx, store.backend()).await?;
            }
            "conversion_touches" => derive_conversion_touches(&mut tx).await?,
            "follow_up_outcomes" => derive_follow_ups(&mut tx, zone).await?,
            _ => {
                super::forecast_changes::derive(&mut tx, store.backend(), zone).await?;
            }
        }
        tracing::info!(
            derived = name,
            "derived a table added since this database was made"
        );
        sqlx::query("INSERT INTO reporting_upkeep (name, done_at_ms) VALUES ($1, $2)")
            .bind(name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

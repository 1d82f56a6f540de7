//! The pre-aggregated read models recomputed from their base tables, each
//! with one `INSERT … SELECT … GROUP BY`: for a rebuild that writes the
//! base tables in bulk (then calls [`derive_all`]), and for the test that
//! checks the consumers' incremental upkeep (`aggregates.rs`) gives the
//! same rows.

use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::StoreError;

use super::aggregates::ROUTE;

/// Recomputes every pre-aggregated table from the base tables in `tx`.
pub async fn derive_all(tx: &mut Tx) -> Result<(), StoreError> {
    derive_route_daily(tx).await?;
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

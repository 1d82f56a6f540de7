//! Reads for team balance, routing outcome and deals as of a past moment.
//! Balance and routing outcome sum pre-aggregated buckets; deals as of a
//! past moment are read one row per deal version. The sums the everyday
//! reports read are in `queries.rs`.

use leadwheel_plumbing::store::StoreError;
use sqlx::Row;

use super::queries::{Filter, Reader, fetch};

/// Open and won deals of one rep, tier, stage and currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRow {
    pub team_id: String,
    pub rep_id: String,
    pub tier: String,
    pub stage: String,
    pub currency: String,
    pub deals: i64,
    pub amount_minor: i64,
}

impl Reader {
    /// Open and won deals within `filter` by account tier and stage: sums
    /// of the buckets of `reporting_balance` (kept by `aggregates.rs`).
    pub async fn by_tier(&self, filter: &Filter) -> Result<Vec<TierRow>, StoreError> {
        let (clause, binds) = filter.clause(1);
        // A bucket whose deals all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, rep_id, tier, stage, currency, CAST(SUM(deals) AS BIGINT) AS deals, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor FROM reporting_balance \
             WHERE deals > 0{clause} GROUP BY team_id, rep_id, tier, stage, currency \
             ORDER BY team_id, rep_id, tier, stage, currency"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(TierRow {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    tier: row.try_get("tier")?,
                    stage: row.try_get("stage")?,
                    currency: row.try_get("currency")?,
                    deals: row.try_get("deals")?,
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }

    /// Per (team, owner): active accounts, and accounts with a won deal,
    /// from `reporting_balance_accounts` (kept by `aggregates.rs`).
    pub async fn customers(
        &self,
        filter: &Filter,
    ) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let (clause, binds) = filter.clause(1);
        // An owner whose accounts all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, rep_id AS owner_rep_id, customers, won_customers \
             FROM reporting_balance_accounts WHERE accounts > 0{clause} \
             ORDER BY team_id, rep_id"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("team_id")?,
                    row.try_get("owner_rep_id")?,
                    row.try_get("customers")?,
                    row.try_get("won_customers")?,
                ))
            })
            .collect()
    }
}

/// Leads of one team, routing rule, route and won currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    pub team_id: String,
    /// How the wheel chose the team (`rule`, `default`, …, or "").
    pub routed_by: String,
    /// The rule, when `routed_by` is `rule`.
    pub rule_id: String,
    pub route: String,
    pub won_currency: String,
    pub leads: i64,
    pub converted: i64,
    pub won: i64,
    pub won_minor: i64,
}

impl Reader {
    /// Leads assigned within `filter` on the days `from` to `to`, by team,
    /// routing rule, route and won currency. An offer claim is a first look
    /// when its offer was counted as one. Sums the per-day buckets of
    /// `reporting_route_daily` (kept by `aggregates.rs`), not the leads.
    pub async fn routes(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<RouteRow>, StoreError> {
        let (clause, binds) = filter.clause(3);
        // A bucket whose leads all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, routed_by, rule_id, route, won_currency, \
             CAST(SUM(leads) AS BIGINT) AS leads, CAST(SUM(converted) AS BIGINT) AS converted, \
             CAST(SUM(won) AS BIGINT) AS won, CAST(SUM(won_minor) AS BIGINT) AS won_minor \
             FROM reporting_route_daily \
             WHERE leads > 0 AND day >= $1 AND day <= $2{clause} \
             GROUP BY team_id, routed_by, rule_id, route, won_currency \
             ORDER BY team_id, routed_by, rule_id, route, won_currency"
        );
        let mut all = vec![from.to_string(), to.to_string()];
        all.extend(binds);
        let rows = fetch(&self.store, &sql, &all).await?;
        rows.iter()
            .map(|row| {
                Ok(RouteRow {
                    team_id: row.try_get("team_id")?,
                    routed_by: row.try_get("routed_by")?,
                    rule_id: row.try_get("rule_id")?,
                    route: row.try_get("route")?,
                    won_currency: row.try_get("won_currency")?,
                    leads: row.try_get("leads")?,
                    converted: row.try_get("converted")?,
                    won: row.try_get("won")?,
                    won_minor: row.try_get("won_minor")?,
                })
            })
            .collect()
    }
}

/// An opportunity as it stood at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealAsOf {
    pub opportunity_id: String,
    pub at_ms: i64,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub status: String,
    pub currency: String,
    pub amount_minor: i64,
    pub weighted_minor: i64,
    pub close_date: String,
}

impl Reader {
    /// Every opportunity within `filter` as it stood at `at_ms`: its
    /// latest version changed at or before then. One row per deal (not a
    /// pre-aggregated sum): history is asked for rarely.
    pub async fn deals_as_of(
        &self,
        filter: &Filter,
        at_ms: i64,
    ) -> Result<Vec<DealAsOf>, StoreError> {
        let (clause, binds) = filter.clause(2);
        let clause = clause
            .replace("team_id", "h.team_id")
            .replace("rep_id", "h.rep_id");
        let sql = format!(
            "SELECT h.opportunity_id, h.at_ms, h.team_id, h.rep_id, h.stage, h.status, \
             h.currency, h.amount_minor, h.weighted_minor, h.close_date \
             FROM reporting_opportunity_history h WHERE h.version = ( \
             SELECT MAX(h2.version) FROM reporting_opportunity_history h2 \
             WHERE h2.opportunity_id = h.opportunity_id AND h2.at_ms <= $1){clause} \
             ORDER BY h.opportunity_id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at_ms);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(DealAsOf {
                    opportunity_id: row.try_get("opportunity_id")?,
                    at_ms: row.try_get("at_ms")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    stage: row.try_get("stage")?,
                    status: row.try_get("status")?,
                    currency: row.try_get("currency")?,
                    amount_minor: row.try_get("amount_minor")?,
                    weighted_minor: row.try_get("weighted_minor")?,
                    close_date: row.try_get("close_date")?,
                })
            })
            .collect()
    }
}

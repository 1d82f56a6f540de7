//! Reads for team balance, routing outcome and the deals changed since a
//! past moment. Balance and routing outcome sum pre-aggregated buckets; the
//! changed deals are read one row per deal version. The sums the everyday
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
    /// The opportunities with a version in (`since_ms`, `now_ms`]: each
    /// one's version in force at `since_ms` and at `now_ms`, each `None`
    /// when there was none or it was outside `filter` then. Reads only the
    /// deals that changed (an index on the versions' moments), so what
    /// moved in a week costs that week's changes, not every deal.
    pub async fn changed_deals(
        &self,
        filter: &Filter,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<ChangedDeal>, StoreError> {
        let versions = self.changed_versions(since_ms, now_ms).await?;
        self.deals_of_versions(filter, &versions).await
    }

    /// The deals `ids` as they stood at `since_ms` and at `now_ms` (each
    /// side `None` when there was no version then or it was outside
    /// `filter`), in the order given.
    pub async fn deals_at(
        &self,
        filter: &Filter,
        ids: &[String],
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<ChangedDeal>, StoreError> {
        let mut versions = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(VERSIONS_PER_READ) {
            let marks: Vec<String> = (3..chunk.len() + 3).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT opportunity_id, \
                 MAX(CASE WHEN at_ms <= $1 THEN version END) AS then_version, \
                 MAX(CASE WHEN at_ms <= $2 THEN version END) AS now_version \
                 FROM reporting_opportunity_history WHERE opportunity_id IN ({}) \
                 GROUP BY opportunity_id",
                marks.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(since_ms)
                .bind(now_ms);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(self.store.pool()).await? {
                versions.push((
                    row.try_get("opportunity_id")?,
                    row.try_get("then_version")?,
                    row.try_get("now_version")?,
                ));
            }
        }
        versions.sort();
        let mut deals = self.deals_of_versions(filter, &versions).await?;
        let place: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| (id.as_str(), n))
            .collect();
        deals.sort_by_key(|deal| place.get(deal.opportunity_id.as_str()).copied());
        Ok(deals)
    }

    /// Each deal of `versions` (by id, sorted) at its version then and now,
    /// the rows read by id in chunks.
    async fn deals_of_versions(
        &self,
        filter: &Filter,
        versions: &[(String, Option<i64>, Option<i64>)],
    ) -> Result<Vec<ChangedDeal>, StoreError> {
        let mut changed: Vec<ChangedDeal> = Vec::new();
        for chunk in versions.chunks(VERSIONS_PER_READ) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let (clause, binds) = filter.clause(chunk.len() + 1);
            let sql = format!(
                "SELECT opportunity_id, version, at_ms, team_id, rep_id, stage, status, currency, \
                 amount_minor, weighted_minor, close_date FROM reporting_opportunity_history \
                 WHERE opportunity_id IN ({}){clause} ORDER BY opportunity_id, version",
                marks.join(", ")
            );
            let mut all: Vec<String> = chunk.iter().map(|(id, _, _)| id.clone()).collect();
            all.extend(binds);
            let rows = fetch(&self.store, &sql, &all).await?;
            let wanted: std::collections::HashMap<&str, (Option<i64>, Option<i64>)> = chunk
                .iter()
                .map(|(id, then, now)| (id.as_str(), (*then, *now)))
                .collect();
            for row in &rows {
                let version: i64 = row.try_get("version")?;
                let opportunity_id: String = row.try_get("opportunity_id")?;
                let Some(&(then_version, now_version)) = wanted.get(opportunity_id.as_str()) else {
                    continue;
                };
                let (is_then, is_now) =
                    (then_version == Some(version), now_version == Some(version));
                if !is_then && !is_now {
                    continue;
                }
                let deal = DealAsOf {
                    opportunity_id,
                    at_ms: row.try_get("at_ms")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    stage: row.try_get("stage")?,
                    status: row.try_get("status")?,
                    currency: row.try_get("currency")?,
                    amount_minor: row.try_get("amount_minor")?,
                    weighted_minor: row.try_get("weighted_minor")?,
                    close_date: row.try_get("close_date")?,
                };
                if changed
                    .last()
                    .is_none_or(|last| last.opportunity_id != deal.opportunity_id)
                {
                    changed.push(ChangedDeal {
                        opportunity_id: deal.opportunity_id.clone(),
                        then: None,
                        now: None,
                    });
                }
                let last = changed.last_mut().expect("pushed above");
                if is_then {
                    last.then = Some(deal.clone());
                }
                if is_now {
                    last.now = Some(deal);
                }
            }
        }
        Ok(changed)
    }

    /// The deals [`Self::changed_deals`] reads, by id (sorted), with their
    /// versions in force at `since_ms` and at `now_ms`: a small set, found
    /// through the indexes and each deal's primary key. The versions' rows
    /// are then read by id in chunks, which both backends answer from the
    /// primary key whatever their statistics say; one join here let
    /// SQLite 3.51 (no statistics) scan every version and Postgres (after
    /// a rebuild, before its statistics caught up) scan or range-search
    /// per deal, hundreds of milliseconds to seconds at 100,000 deals.
    async fn changed_versions(
        &self,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<(String, Option<i64>, Option<i64>)>, StoreError> {
        let sql = "WITH changed AS (SELECT DISTINCT opportunity_id \
             FROM reporting_opportunity_history WHERE at_ms > $1 AND at_ms <= $2), \
             picked AS MATERIALIZED (SELECT c.opportunity_id, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $1) AS then_version, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $2) AS now_version \
             FROM changed c) \
             SELECT p.opportunity_id, p.then_version, p.now_version FROM picked p \
             ORDER BY p.opportunity_id";
        sqlx::query(sql)
            .bind(since_ms)
            .bind(now_ms)
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("opportunity_id")?,
                    row.try_get("then_version")?,
                    row.try_get("now_version")?,
                ))
            })
            .collect()
    }
}

/// Deals whose versions one statement reads by id (well under both
/// backends' limits on bound values).
const VERSIONS_PER_READ: usize = 500;

/// A deal changed since a moment: as it stood then and now (`None`: no
/// version yet, or outside the filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedDeal {
    pub opportunity_id: String,
    pub then: Option<DealAsOf>,
    pub now: Option<DealAsOf>,
}

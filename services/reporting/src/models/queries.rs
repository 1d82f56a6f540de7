//! Reads of the sales tables: sums over pre-aggregated rows (open deals per
//! team, rep, stage, currency and close day; counters per day), never a
//! scan of deals or events. Each read is one statement on the pool.

use leadwheel_plumbing::Store;
use leadwheel_plumbing::store::StoreError;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Which rows a report may read: some teams (None: every team) and maybe
/// one rep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these teams' rows; `Some(empty)` reads nothing.
    pub teams: Option<Vec<String>>,
    /// Only this rep's rows.
    pub rep: Option<String>,
}

impl Filter {
    /// The `AND ...` clause for this filter, its parameters numbered from
    /// `next`, and the values to bind in order.
    fn clause(&self, mut next: usize) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        if let Some(teams) = &self.teams {
            if teams.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                let marks: Vec<String> = teams
                    .iter()
                    .map(|team| {
                        binds.push(team.clone());
                        next += 1;
                        format!("${}", next - 1)
                    })
                    .collect();
                sql.push_str(&format!(" AND team_id IN ({})", marks.join(", ")));
            }
        }
        if let Some(rep) = &self.rep {
            sql.push_str(&format!(" AND rep_id = ${next}"));
            binds.push(rep.clone());
        }
        (sql, binds)
    }
}

/// Open deals of one (team, rep, stage, currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRow {
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub currency: String,
    pub deals: i64,
    pub amount_minor: i64,
    pub weighted_minor: i64,
}

/// Open deals of one rep, currency and forecast category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryRow {
    pub rep_id: String,
    pub currency: String,
    pub category: String,
    pub deals: i64,
    pub amount_minor: i64,
    pub weighted_minor: i64,
}

/// A counter summed over days for one (team, rep, metric, dim, currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyRow {
    pub team_id: String,
    pub rep_id: String,
    pub metric: String,
    pub dim: String,
    pub currency: String,
    pub events: i64,
    pub amount_minor: i64,
}

/// Read access to the sales tables.
#[derive(Clone, Debug)]
pub struct Reader {
    store: Store,
}

impl Reader {
    /// Reads from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The teams `manager_id` manages, per the wheel.
    pub async fn managed_teams(&self, manager_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT team_id FROM reporting_teams WHERE manager_id = $1 ORDER BY team_id",
        )
        .bind(manager_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("team_id")?)).collect()
    }

    /// True when the wheel has announced `team_id`.
    pub async fn team_exists(&self, team_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT team_id FROM reporting_teams WHERE team_id = $1")
            .bind(team_id)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.is_some())
    }

    /// The team `rep_id` is in, per the wheel.
    pub async fn rep_team(&self, rep_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT team_id FROM reporting_reps WHERE rep_id = $1")
            .bind(rep_id)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("team_id")?),
            None => None,
        })
    }

    /// Known stages in pipeline order, with their stuck thresholds (days).
    pub async fn stage_thresholds(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT stage, stale_days FROM reporting_stages ORDER BY position, stage")
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("stage")?, row.try_get("stale_days")?)))
            .collect()
    }

    /// Open deals within `filter` in their stage longer than its
    /// threshold at `now_ms`, longest first (at most `limit`).
    pub async fn stuck(
        &self,
        filter: &Filter,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<StuckRow>, StoreError> {
        let (clause, binds) = filter.clause(3);
        // The table's team and rep columns are named like the filter's.
        let sql = format!(
            "SELECT o.opportunity_id, o.team_id, o.rep_id, o.stage, o.currency, o.amount_minor, \
             o.stage_entered_at_ms, s.stale_days FROM reporting_opportunities o \
             JOIN reporting_stages s ON s.stage = o.stage \
             WHERE o.status = 'open' AND s.stale_days > 0 \
             AND o.stage_entered_at_ms + s.stale_days * 86400000 < $1{} \
             ORDER BY o.stage_entered_at_ms LIMIT $2",
            clause
                .replace("team_id", "o.team_id")
                .replace("rep_id", "o.rep_id")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(limit);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(StuckRow {
                    opportunity_id: row.try_get("opportunity_id")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    stage: row.try_get("stage")?,
                    currency: row.try_get("currency")?,
                    amount_minor: row.try_get("amount_minor")?,
                    stage_entered_at_ms: row.try_get("stage_entered_at_ms")?,
                    stale_days: row.try_get("stale_days")?,
                })
            })
            .collect()
    }

    /// Known stages in pipeline order.
    pub async fn stages(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT stage FROM reporting_stages ORDER BY position, stage")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("stage")?)).collect()
    }

    /// Open deals within `filter`, limited to those expected to close
    /// between `close` (both days included) when given.
    pub async fn open(
        &self,
        filter: &Filter,
        close: Option<(&str, &str)>,
    ) -> Result<Vec<OpenRow>, StoreError> {
        let (mut sql, mut binds) = (
            "SELECT team_id, rep_id, stage, currency, CAST(SUM(deals) AS BIGINT) AS deals, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor, \
             CAST(SUM(weighted_minor) AS BIGINT) AS weighted_minor \
             FROM reporting_open WHERE deals > 0"
                .to_string(),
            Vec::new(),
        );
        if let Some((from, to)) = close {
            sql.push_str(" AND close_date >= $1 AND close_date <= $2");
            binds.push(from.to_string());
            binds.push(to.to_string());
        }
        let (clause, more) = filter.clause(binds.len() + 1);
        sql.push_str(&clause);
        binds.extend(more);
        sql.push_str(" GROUP BY team_id, rep_id, stage, currency ORDER BY team_id, rep_id");
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(OpenRow {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    stage: row.try_get("stage")?,
                    currency: row.try_get("currency")?,
                    deals: row.try_get("deals")?,
                    amount_minor: row.try_get("amount_minor")?,
                    weighted_minor: row.try_get("weighted_minor")?,
                })
            })
            .collect()
    }

    /// Open deals within `filter` expected to close between `from` and
    /// `to`, per rep, currency and forecast category.
    pub async fn open_categories(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<CategoryRow>, StoreError> {
        let (clause, more) = filter.clause(3);
        let mut binds = vec![from.to_string(), to.to_string()];
        binds.extend(more);
        let sql = format!(
            "SELECT rep_id, currency, category, CAST(SUM(deals) AS BIGINT) AS deals, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor, \
             CAST(SUM(weighted_minor) AS BIGINT) AS weighted_minor FROM reporting_open \
             WHERE deals > 0 AND close_date >= $1 AND close_date <= $2{clause} \
             GROUP BY rep_id, currency, category ORDER BY rep_id, currency, category"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(CategoryRow {
                    rep_id: row.try_get("rep_id")?,
                    currency: row.try_get("currency")?,
                    category: row.try_get("category")?,
                    deals: row.try_get("deals")?,
                    amount_minor: row.try_get("amount_minor")?,
                    weighted_minor: row.try_get("weighted_minor")?,
                })
            })
            .collect()
    }

    /// Open deals within `filter` with no expected close date.
    pub async fn unscheduled(&self, filter: &Filter) -> Result<i64, StoreError> {
        let (clause, binds) = filter.clause(1);
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(deals), 0) AS BIGINT) AS deals FROM reporting_open \
             WHERE close_date = ''{clause}"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        Ok(match rows.first() {
            Some(row) => row.try_get("deals")?,
            None => 0,
        })
    }

    /// Counters of `metrics` within `filter`, summed over the days `from`
    /// to `to` (both included).
    pub async fn daily(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
        metrics: &[&str],
    ) -> Result<Vec<DailyRow>, StoreError> {
        let mut binds = vec![from.to_string(), to.to_string()];
        let marks: Vec<String> = metrics
            .iter()
            .map(|metric| {
                binds.push(metric.to_string());
                format!("${}", binds.len())
            })
            .collect();
        let (clause, more) = filter.clause(binds.len() + 1);
        binds.extend(more);
        let sql = format!(
            "SELECT team_id, rep_id, metric, dim, currency, \
             CAST(SUM(events) AS BIGINT) AS events, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor \
             FROM reporting_daily WHERE day >= $1 AND day <= $2 AND metric IN ({}){clause} \
             GROUP BY team_id, rep_id, metric, dim, currency ORDER BY team_id, rep_id",
            marks.join(", ")
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(DailyRow {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    metric: row.try_get("metric")?,
                    dim: row.try_get("dim")?,
                    currency: row.try_get("currency")?,
                    events: row.try_get("events")?,
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }
}

/// A counter on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayRow {
    pub day: String,
    pub team_id: String,
    pub rep_id: String,
    pub metric: String,
    pub dim: String,
    pub events: i64,
    pub amount_minor: i64,
}

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

/// An open deal stuck in its stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckRow {
    pub opportunity_id: String,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub currency: String,
    pub amount_minor: i64,
    pub stage_entered_at_ms: i64,
    pub stale_days: i64,
}

impl Reader {
    /// Counters of `metrics` within `filter`, per day from `from` to `to`
    /// (currencies summed: for counts, not money).
    pub async fn per_day(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
        metrics: &[&str],
    ) -> Result<Vec<DayRow>, StoreError> {
        let mut binds = vec![from.to_string(), to.to_string()];
        let marks: Vec<String> = metrics
            .iter()
            .map(|metric| {
                binds.push(metric.to_string());
                format!("${}", binds.len())
            })
            .collect();
        let (clause, more) = filter.clause(binds.len() + 1);
        binds.extend(more);
        let sql = format!(
            "SELECT day, team_id, rep_id, metric, dim, CAST(SUM(events) AS BIGINT) AS events, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor FROM reporting_daily \
             WHERE day >= $1 AND day <= $2 AND metric IN ({}){clause} \
             GROUP BY day, team_id, rep_id, metric, dim ORDER BY day, team_id, rep_id",
            marks.join(", ")
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(DayRow {
                    day: row.try_get("day")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    metric: row.try_get("metric")?,
                    dim: row.try_get("dim")?,
                    events: row.try_get("events")?,
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }
}

impl Reader {
    /// Open and won deals within `filter` by account tier and stage. A
    /// join of two read-model tables (one row per deal and account), not a
    /// pre-aggregated sum: team balance is read rarely.
    pub async fn by_tier(&self, filter: &Filter) -> Result<Vec<TierRow>, StoreError> {
        let (clause, binds) = filter.clause(1);
        let clause = clause
            .replace("team_id", "o.team_id")
            .replace("rep_id", "o.rep_id");
        let sql = format!(
            "SELECT o.team_id, o.rep_id, COALESCE(a.tier, '') AS tier, o.stage, o.currency, \
             CAST(COUNT(*) AS BIGINT) AS deals, CAST(SUM(o.amount_minor) AS BIGINT) AS amount_minor \
             FROM reporting_opportunities o \
             LEFT JOIN reporting_accounts a ON a.account_id = o.account_id \
             WHERE o.status IN ('open', 'won'){clause} \
             GROUP BY o.team_id, o.rep_id, COALESCE(a.tier, ''), o.stage, o.currency \
             ORDER BY o.team_id, o.rep_id, tier, o.stage, o.currency"
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

    /// Per (team, owner): active accounts, and accounts with a won deal.
    pub async fn customers(
        &self,
        filter: &Filter,
    ) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let (clause, binds) = filter.clause(1);
        let clause = clause
            .replace("team_id", "a.team_id")
            .replace("rep_id", "a.owner_rep_id");
        let sql = format!(
            "SELECT a.team_id, a.owner_rep_id, \
             CAST(SUM(CASE WHEN a.status = 'active' THEN 1 ELSE 0 END) AS BIGINT) AS customers, \
             CAST(SUM(CASE WHEN EXISTS (SELECT 1 FROM reporting_opportunities o \
             WHERE o.account_id = a.account_id AND o.status = 'won') THEN 1 ELSE 0 END) AS BIGINT) \
             AS won_customers FROM reporting_accounts a WHERE 1 = 1{clause} \
             GROUP BY a.team_id, a.owner_rep_id ORDER BY a.team_id, a.owner_rep_id"
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

/// Leads of one team, route and won currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    pub team_id: String,
    pub route: String,
    pub won_currency: String,
    pub leads: i64,
    pub converted: i64,
    pub won: i64,
    pub won_minor: i64,
}

impl Reader {
    /// Leads assigned within `filter` on the days `from` to `to`, by team,
    /// route and won currency. An offer claim is a first look when its
    /// offer was counted as one. Reads one row per lead of the period.
    pub async fn routes(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<RouteRow>, StoreError> {
        let (clause, binds) = filter.clause(3);
        let clause = clause
            .replace("team_id", "l.team_id")
            .replace("rep_id", "l.rep_id");
        let sql = format!(
            "SELECT team_id, route, won_currency, CAST(COUNT(*) AS BIGINT) AS leads, \
             CAST(SUM(CASE WHEN converted_at_ms > 0 THEN 1 ELSE 0 END) AS BIGINT) AS converted, \
             CAST(SUM(CASE WHEN won_at_ms > 0 THEN 1 ELSE 0 END) AS BIGINT) AS won, \
             CAST(SUM(won_minor) AS BIGINT) AS won_minor FROM ( \
             SELECT l.team_id, l.won_currency, l.converted_at_ms, l.won_at_ms, l.won_minor, \
             CASE WHEN l.via <> 'offer' THEN l.via \
             WHEN EXISTS (SELECT 1 FROM reporting_counted c WHERE c.metric = 'first_look' \
             AND c.fact_key = l.offer_id) THEN 'first_look' ELSE 'later_in_lap' END AS route \
             FROM reporting_leads l \
             WHERE l.assigned_at_ms > 0 AND l.assigned_day >= $1 AND l.assigned_day <= $2{clause} \
             ) routed GROUP BY team_id, route, won_currency ORDER BY team_id, route, won_currency"
        );
        let mut all = vec![from.to_string(), to.to_string()];
        all.extend(binds);
        let rows = fetch(&self.store, &sql, &all).await?;
        rows.iter()
            .map(|row| {
                Ok(RouteRow {
                    team_id: row.try_get("team_id")?,
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

/// One duration of a fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationRow {
    pub metric: String,
    pub dim: String,
    pub team_id: String,
    pub rep_id: String,
    pub duration_ms: i64,
}

impl Reader {
    /// Durations of `metrics` within `filter` on the days `from` to `to`.
    /// One row per fact: percentiles need the values, so this reads the
    /// period's facts (an index on (metric, day) keeps it to them).
    pub async fn durations(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
        metrics: &[&str],
    ) -> Result<Vec<DurationRow>, StoreError> {
        let mut binds = vec![from.to_string(), to.to_string()];
        let marks: Vec<String> = metrics
            .iter()
            .map(|metric| {
                binds.push(metric.to_string());
                format!("${}", binds.len())
            })
            .collect();
        let (clause, more) = filter.clause(binds.len() + 1);
        binds.extend(more);
        let sql = format!(
            "SELECT metric, dim, team_id, rep_id, duration_ms FROM reporting_durations \
             WHERE day >= $1 AND day <= $2 AND metric IN ({}){clause}",
            marks.join(", ")
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(DurationRow {
                    metric: row.try_get("metric")?,
                    dim: row.try_get("dim")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    duration_ms: row.try_get("duration_ms")?,
                })
            })
            .collect()
    }
}

/// Runs `sql` with `binds`. Callers paste only constant text and `$n`
/// markers into `sql`; every value is bound.
async fn fetch(store: &Store, sql: &str, binds: &[String]) -> Result<Vec<AnyRow>, StoreError> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for value in binds {
        query = query.bind(value.clone());
    }
    Ok(query.fetch_all(store.pool()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters_after_the_query_s_own() {
        let filter = Filter {
            teams: Some(vec!["north".into(), "south".into()]),
            rep: Some("ana".into()),
        };
        assert_eq!(
            filter.clause(3),
            (
                " AND team_id IN ($3, $4) AND rep_id = $5".to_string(),
                vec!["north".into(), "south".into(), "ana".into()]
            )
        );
        let nothing = Filter {
            teams: Some(vec![]),
            rep: None,
        };
        assert_eq!(nothing.clause(1).0, " AND 1 = 0");
        assert_eq!(Filter::default().clause(1), (String::new(), vec![]));
    }
}

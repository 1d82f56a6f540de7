//! Reads of the sales tables: sums over pre-aggregated rows (open deals per
//! team, rep, stage, currency and close day; counters per day), never a
//! scan of events. Each read is one statement on the pool. The reads of
//! one row per deal or lead (balance, routes, history) are in
//! `per_deal.rs`.

use std::collections::BTreeSet;

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
    pub(super) fn clause(&self, mut next: usize) -> (String, Vec<String>) {
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

impl OpenRow {
    /// From a row with the struct's columns.
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            team_id: row.try_get("team_id")?,
            rep_id: row.try_get("rep_id")?,
            stage: row.try_get("stage")?,
            currency: row.try_get("currency")?,
            deals: row.try_get("deals")?,
            amount_minor: row.try_get("amount_minor")?,
            weighted_minor: row.try_get("weighted_minor")?,
        })
    }
}

impl From<OpenRow> for leadwheel_proto::reporting::v1::PipelineOpenRow {
    fn from(row: OpenRow) -> Self {
        Self {
            team_id: row.team_id,
            rep_id: row.rep_id,
            stage: row.stage,
            currency: row.currency,
            count: row.deals,
            amount_minor: row.amount_minor,
            weighted_minor: row.weighted_minor,
        }
    }
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
    pub(super) store: Store,
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

    /// The reps who left a team (`wheel.rep.left`) and joined none since,
    /// as (team, rep): kept in the roster for their history, not members.
    pub async fn leavers(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT team_id, rep_id FROM reporting_reps WHERE left_at_ms > 0")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("team_id")?, row.try_get("rep_id")?)))
            .collect()
    }

    /// The team `rep_id` is in, per the wheel (for a rep who left, the
    /// team they left: their quotas stay that team's).
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
    /// threshold at `now_ms`, longest first (at most `limit`; ties by
    /// opportunity id).
    ///
    /// One query per stage with a threshold (and per team when `filter`
    /// names teams), each reading the index on (team,) status, stage and
    /// entry time from the oldest entry and stopping at `limit`: the
    /// deals read are at most those listed per stage, not every open one.
    pub async fn stuck(
        &self,
        filter: &Filter,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<StuckRow>, StoreError> {
        let thresholds = self.stage_thresholds().await?;
        let teams: Vec<Option<&String>> = match &filter.teams {
            None => vec![None],
            Some(teams) => teams.iter().map(Some).collect(),
        };
        let mut stuck = Vec::new();
        for (stage, stale_days) in thresholds.iter().filter(|(_, days)| *days > 0) {
            for team in &teams {
                let mut binds = vec![stage.clone()];
                if let Some(team) = team {
                    binds.push((*team).clone());
                }
                if let Some(rep) = &filter.rep {
                    binds.push(rep.clone());
                }
                let sql = stuck_sql(team.is_some(), filter.rep.is_some());
                // Only constant text and `$n` markers are pasted in.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(binds[0].clone())
                    .bind(now_ms - stale_days * 86_400_000);
                for value in &binds[1..] {
                    query = query.bind(value.clone());
                }
                let rows = query.bind(limit).fetch_all(self.store.pool()).await?;
                for row in rows {
                    stuck.push(StuckRow {
                        opportunity_id: row.try_get("opportunity_id")?,
                        team_id: row.try_get("team_id")?,
                        rep_id: row.try_get("rep_id")?,
                        stage: row.try_get("stage")?,
                        currency: row.try_get("currency")?,
                        amount_minor: row.try_get("amount_minor")?,
                        stage_entered_at_ms: row.try_get("stage_entered_at_ms")?,
                        stale_days: *stale_days,
                    });
                }
            }
        }
        stuck.sort_by(|a, b| {
            (a.stage_entered_at_ms, &a.opportunity_id)
                .cmp(&(b.stage_entered_at_ms, &b.opportunity_id))
        });
        stuck.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(stuck)
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
        rows.iter().map(OpenRow::from_row).collect()
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
        let PeriodMetrics {
            marks,
            clause,
            binds,
        } = PeriodMetrics::new(filter, from, to, metrics);
        let sql = format!(
            "SELECT team_id, rep_id, metric, dim, currency, \
             CAST(SUM(events) AS BIGINT) AS events, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor \
             FROM reporting_daily WHERE day >= $1 AND day <= $2 AND metric IN ({marks}){clause} \
             GROUP BY team_id, rep_id, metric, dim, currency ORDER BY team_id, rep_id"
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

/// The query of one stage's stuck deals, with `$1` the stage, `$2` the
/// entry time before which a deal is stuck, then the team (with `team`),
/// the rep (with `rep`) and the limit. Public for the test that checks its
/// query plan reads the index.
pub fn stuck_sql(team: bool, rep: bool) -> String {
    let mut sql = String::from(
        "SELECT opportunity_id, team_id, rep_id, stage, currency, amount_minor, \
         stage_entered_at_ms FROM reporting_opportunities \
         WHERE status = 'open' AND stage = $1 AND stage_entered_at_ms < $2",
    );
    let mut next = 3;
    if team {
        sql.push_str(&format!(" AND team_id = ${next}"));
        next += 1;
    }
    if rep {
        sql.push_str(&format!(" AND rep_id = ${next}"));
        next += 1;
    }
    sql.push_str(&format!(
        " ORDER BY stage_entered_at_ms, opportunity_id LIMIT ${next}"
    ));
    sql
}

/// One rep's activities on one day, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityDay {
    pub day: String,
    pub team_id: String,
    pub rep_id: String,
    pub calls: i64,
    pub call_seconds: i64,
    pub calls_recorded: i64,
    pub emails: i64,
    pub visits: i64,
    pub meetings: i64,
    pub notes: i64,
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
    /// Each rep's activities per day from `from` to `to` within `filter`,
    /// one row per rep and day with a column per kind (summed in the
    /// store: a sixth of the rows a row per kind would be).
    pub async fn activity_days(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<ActivityDay>, StoreError> {
        let PeriodMetrics {
            marks,
            clause,
            binds,
        } = PeriodMetrics::new(filter, from, to, &["activity", "call_recorded"]);
        let kind = |column: &str, dim: &str, value: &str| {
            format!(
                "CAST(SUM(CASE WHEN metric = 'activity' AND dim = '{dim}' THEN {value} ELSE 0 END) \
                 AS BIGINT) AS {column}"
            )
        };
        let sql = format!(
            "SELECT day, team_id, rep_id, {}, {}, {}, {}, {}, {}, \
             CAST(SUM(CASE WHEN metric = 'call_recorded' THEN events ELSE 0 END) AS BIGINT) \
             AS calls_recorded FROM reporting_daily \
             WHERE day >= $1 AND day <= $2 AND metric IN ({marks}){clause} \
             GROUP BY day, team_id, rep_id ORDER BY day, team_id, rep_id",
            kind("calls", "call", "events"),
            kind("call_seconds", "call", "amount_minor"),
            kind("emails", "email", "events"),
            kind("visits", "visit", "events"),
            kind("meetings", "meeting", "events"),
            kind("notes", "note", "events"),
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(ActivityDay {
                    day: row.try_get("day")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    calls: row.try_get("calls")?,
                    call_seconds: row.try_get("call_seconds")?,
                    calls_recorded: row.try_get("calls_recorded")?,
                    emails: row.try_get("emails")?,
                    visits: row.try_get("visits")?,
                    meetings: row.try_get("meetings")?,
                    notes: row.try_get("notes")?,
                })
            })
            .collect()
    }
}

/// The binds of a query over the days `$1` to `$2` and `metrics`, with
/// `filter`: `marks` lists the metrics' markers (for `metric IN (…)`),
/// `clause` is the filter's `AND …` text.
pub(super) struct PeriodMetrics {
    pub(super) marks: String,
    pub(super) clause: String,
    pub(super) binds: Vec<String>,
}

impl PeriodMetrics {
    pub(super) fn new(filter: &Filter, from: &str, to: &str, metrics: &[&str]) -> Self {
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
        Self {
            marks: marks.join(", "),
            clause,
            binds,
        }
    }
}

/// Runs `sql` with `binds`. Callers paste only constant text and `$n`
/// markers into `sql`; every value is bound.
pub(super) async fn fetch(
    store: &Store,
    sql: &str,
    binds: &[String],
) -> Result<Vec<AnyRow>, StoreError> {
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

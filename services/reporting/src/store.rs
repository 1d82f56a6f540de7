//! The repository boundary: every SQL statement of the service lives here,
//! and `sqlx::Error` never leaves this module except wrapped in
//! [`StoreError`] (the plumbing's: unavailable or a failed query). Counting
//! takes the consumer's transaction (shared with the inbox row), so an
//! event's counts and its "processed" mark commit together; reads use the
//! pool.

use std::collections::BTreeMap;

pub use leadwheel_plumbing::store::StoreError;
use leadwheel_plumbing::{Store, Tx, now_ms};
use sqlx::Row;

use crate::funnel::{Fact, Metric};

const TOTAL: &str = "total";
const TEAM: &str = "team";
const REP: &str = "rep";

/// Counts `fact` unless it was counted before, in `tx`; true when counted.
pub async fn count(tx: &mut Tx, fact: &Fact, event_id: &str) -> Result<bool, StoreError> {
    let fresh = sqlx::query(
        "INSERT INTO reporting_facts (kind, fact_key, event_id, counted_at_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (kind, fact_key) DO NOTHING",
    )
    .bind(fact.kind)
    .bind(&fact.key)
    .bind(event_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    if fresh.rows_affected() == 0 {
        return Ok(false);
    }
    if fact.in_total {
        bump(tx, TOTAL, "", "", fact.metric).await?;
    }
    if let Some(team) = &fact.team_id {
        bump(tx, TEAM, team, "", fact.metric).await?;
        if let Some(rep) = &fact.rep_id {
            bump(tx, REP, team, rep, fact.metric).await?;
        }
    }
    Ok(true)
}

async fn bump(
    tx: &mut Tx,
    scope: &str,
    team_id: &str,
    rep_id: &str,
    metric: Metric,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_counters (scope, team_id, rep_id, metric, value) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (scope, team_id, rep_id, metric) \
         DO UPDATE SET value = reporting_counters.value + 1",
    )
    .bind(scope)
    .bind(team_id)
    .bind(rep_id)
    .bind(metric.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counter values by metric.
pub type Counts = BTreeMap<Metric, i64>;

/// The funnel as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Funnel {
    /// Across all teams.
    pub total: Counts,
    /// Per team id.
    pub teams: BTreeMap<String, Counts>,
    /// Per (team id, rep id).
    pub reps: BTreeMap<(String, String), Counts>,
}

/// Read access to the funnel.
#[derive(Clone, Debug)]
pub struct FunnelStore {
    store: Store,
}

impl FunnelStore {
    /// Reads from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The whole total, and the teams and reps of `team_id` (None: all).
    #[tracing::instrument(skip(self))]
    pub async fn funnel(&self, team_id: Option<&str>) -> Result<Funnel, StoreError> {
        // One consistent read of a few hundred rows at most per team.
        let rows = sqlx::query(
            "SELECT scope, team_id, rep_id, metric, value FROM reporting_counters \
             WHERE scope = $1 OR ($2 = 0 OR team_id = $3)",
        )
        .bind(TOTAL)
        .bind(i64::from(team_id.is_some()))
        .bind(team_id.unwrap_or_default())
        .fetch_all(self.store.pool())
        .await?;
        let mut funnel = Funnel::default();
        for row in &rows {
            let scope: String = row.try_get("scope")?;
            let team: String = row.try_get("team_id")?;
            let rep: String = row.try_get("rep_id")?;
            let name: String = row.try_get("metric")?;
            let value: i64 = row.try_get("value")?;
            let Some(metric) = Metric::parse(&name) else {
                // Written by a newer version; this one cannot show it.
                tracing::debug!(metric = %name, "unknown metric ignored");
                continue;
            };
            let counts = match scope.as_str() {
                TOTAL => &mut funnel.total,
                TEAM => funnel.teams.entry(team).or_default(),
                REP => funnel.reps.entry((team, rep)).or_default(),
                other => {
                    tracing::debug!(scope = %other, "unknown counter scope ignored");
                    continue;
                }
            };
            counts.insert(metric, value);
        }
        Ok(funnel)
    }
}

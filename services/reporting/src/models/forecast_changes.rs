//! The forecast's changes per deal and day (`crate::forecast_changes`) in
//! the store: kept with each deal version the consumers insert
//! (`open_days::version_added`), written in bulk by a rebuild, recomputed
//! from the history once after the upgrade that added them
//! (`derived::upkeep`), and summed for the forecast's movement.

use jiff::tz::TimeZone;
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::{Backend, StoreError};
use sqlx::Row;

use super::per_deal::ChangedDeal;
use super::queries::{Filter, Reader};
use crate::forecast_changes::{self, Changes};
use crate::rebuild::bulk;
use crate::rebuild::fold::{Table, Value};

const COLUMNS: [&str; 8] = [
    "team_id",
    "month",
    "day",
    "opportunity_id",
    "rep_id",
    "currency",
    "won_minor",
    "weighted_minor",
];

/// Adds `changes` to the stored ones in `tx`.
pub async fn add(tx: &mut Tx, changes: &Changes) -> Result<(), StoreError> {
    for (key, [won, weighted]) in changes {
        sqlx::query(
            "INSERT INTO reporting_forecast_changes (team_id, month, day, opportunity_id, rep_id, \
             currency, won_minor, weighted_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (team_id, month, day, opportunity_id, rep_id, currency) DO UPDATE SET \
             won_minor = reporting_forecast_changes.won_minor + excluded.won_minor, \
             weighted_minor = reporting_forecast_changes.weighted_minor + excluded.weighted_minor",
        )
        .bind(&key.team_id)
        .bind(&key.month)
        .bind(&key.day)
        .bind(&key.opportunity_id)
        .bind(&key.rep_id)
        .bind(&key.currency)
        .bind(won)
        .bind(weighted)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Writes `changes` into the empty table in `tx`, with multi-row inserts.
pub async fn write(tx: &mut Tx, backend: Backend, changes: &Changes) -> anyhow::Result<u64> {
    let table = Table {
        name: "reporting_forecast_changes",
        columns: &COLUMNS,
        len: changes.len(),
        rows: Box::new(changes.iter().map(|(key, [won, weighted])| {
            vec![
                Value::Text(&key.team_id),
                Value::Text(&key.month),
                Value::Text(&key.day),
                Value::Text(&key.opportunity_id),
                Value::Text(&key.rep_id),
                Value::Text(&key.currency),
                Value::Int(*won),
                Value::Int(*weighted),
            ]
        })),
    };
    bulk::insert(tx, backend, table).await
}

/// Recomputes the forecast's changes from `reporting_opportunity_history`
/// in `tx`.
pub async fn derive(tx: &mut Tx, backend: Backend, zone: &TimeZone) -> anyhow::Result<u64> {
    sqlx::query("DELETE FROM reporting_forecast_changes")
        .execute(&mut **tx)
        .await?;
    let mut changes = Changes::new();
    super::open_days::each_deal(tx, |id, deal| {
        forecast_changes::of_history(id, deal, zone, &mut changes)
    })
    .await?;
    write(tx, backend, &crate::open_days::without_zeros_of(changes)).await
}

/// How a forecast period moved since a past day ([`Reader::forecast_moves`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForecastMoves {
    /// Per currency, what the deals added to the period's forecast then
    /// minus what they add now: (won, weighted open).
    pub then_minus_now: std::collections::BTreeMap<String, (i64, i64)>,
    /// How many deals add a different amount now than then.
    pub deals_moved: i64,
    /// The largest of those moves (by how much the deal's contribution
    /// changed, then by deal), each deal as it stood then and now.
    pub largest: Vec<ChangedDeal>,
}

/// The period and moments a movement compares.
pub struct Moved<'a> {
    /// The period's first and last month, `YYYY-MM`.
    pub months: (&'a str, &'a str),
    /// The day compared with and today, `YYYY-MM-DD`: changes on the days
    /// after the first up to the second count.
    pub days: (&'a str, &'a str),
    /// The end of the day compared with and now, for the listed deals'
    /// versions then and now.
    pub moments_ms: (i64, i64),
}

impl Reader {
    /// How the forecast of the months `moved.months` moved within `filter`
    /// since the end of a day: the changes of the days after it summed
    /// per currency and per deal (a range of the team-first index: the
    /// changes of the period since that day, not every version of every
    /// deal that could add to it), how many deals moved, and the `limit`
    /// largest moves with each deal as it stood then and now.
    pub async fn forecast_moves(
        &self,
        filter: &Filter,
        moved: &Moved<'_>,
        limit: usize,
    ) -> Result<ForecastMoves, StoreError> {
        // $1..$4 the months and days, $5 the limit, then the filter's.
        let (clause, binds) = filter.clause(6);
        let sql = format!(
            "WITH changes AS MATERIALIZED (SELECT opportunity_id, currency, won_minor, \
             weighted_minor FROM reporting_forecast_changes WHERE month >= $1 AND month <= $2 \
             AND day > $3 AND day <= $4{clause}), \
             per_deal AS MATERIALIZED (SELECT opportunity_id, \
             CAST(SUM(won_minor + weighted_minor) AS BIGINT) AS moved_minor FROM changes \
             GROUP BY opportunity_id HAVING SUM(won_minor + weighted_minor) <> 0) \
             SELECT CAST(0 AS BIGINT) AS part, currency, CAST(NULL AS TEXT) AS opportunity_id, \
             CAST(SUM(won_minor) AS BIGINT) AS won_minor, \
             CAST(SUM(weighted_minor) AS BIGINT) AS weighted_minor FROM changes \
             GROUP BY currency \
             UNION ALL SELECT CAST(1 AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
             CAST(COUNT(*) AS BIGINT), CAST(NULL AS BIGINT) FROM per_deal \
             UNION ALL SELECT * FROM (SELECT CAST(2 AS BIGINT), CAST(NULL AS TEXT), \
             opportunity_id, moved_minor, CAST(NULL AS BIGINT) FROM per_deal \
             ORDER BY ABS(moved_minor) DESC, opportunity_id LIMIT $5) AS largest"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(moved.months.0)
            .bind(moved.months.1)
            .bind(moved.days.0)
            .bind(moved.days.1)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        for value in &binds {
            query = query.bind(value.as_str());
        }
        let mut moves = ForecastMoves::default();
        let mut listed = Vec::new();
        for row in query.fetch_all(self.store.pool()).await? {
            match row.try_get::<i64, _>("part")? {
                0 => {
                    let (won, weighted): (i64, i64) =
                        (row.try_get("won_minor")?, row.try_get("weighted_minor")?);
                    moves
                        .then_minus_now
                        .insert(row.try_get("currency")?, (-won, -weighted));
                }
                1 => moves.deals_moved = row.try_get("won_minor")?,
                _ => listed.push(row.try_get::<String, _>("opportunity_id")?),
            }
        }
        moves.largest = self
            .deals_at(filter, &listed, moved.moments_ms.0, moved.moments_ms.1)
            .await?;
        Ok(moves)
    }
}

//! Duration histograms (`crate::histogram`) per business day and per month
//! in the store (`reporting_duration_days`, `reporting_duration_months`):
//! one row per metric, day (or month), team, rep and dim, holding that
//! cell's histogram. The consumers move a fact in or out as its duration
//! row changes (`timing.rs`); a rebuild writes them in bulk from the folded
//! durations; the first start after the migration that added them derives
//! them from `reporting_durations` (`derived::upkeep`); the reports of percentiles read a
//! period's whole months and the days around them.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::{Backend, StoreError};
use sqlx::Row;

use super::queries::{Filter, PeriodMetrics, Reader, fetch};
use crate::histogram::{Corrupt, Histogram};
use crate::period::Days;
use crate::rebuild::bulk;
use crate::rebuild::fold::{Table, Value};

/// The day table and the month table, each with its period column.
const TABLES: [(&str, &str); 2] = [
    ("reporting_duration_days", "day"),
    ("reporting_duration_months", "month"),
];

/// One fact's duration and where it counts (`day` is `YYYY-MM-DD`).
pub struct Fact<'a> {
    pub metric: &'a str,
    pub day: &'a str,
    pub team_id: &'a str,
    pub rep_id: &'a str,
    pub dim: &'a str,
    pub duration_ms: i64,
}

/// A cell's key: metric, day (or month), team, rep, dim.
pub type Key = (String, String, String, String, String);

/// Histograms per cell.
pub type Cells = BTreeMap<Key, Histogram>;

/// The month (`YYYY-MM`) of a stored day.
fn month_of(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}

fn corrupt(err: Corrupt) -> StoreError {
    StoreError::from(sqlx::Error::Decode(Box::new(err)))
}

/// Counts `fact` in its day's and month's histograms, in `tx`.
pub async fn add(tx: &mut Tx, fact: &Fact<'_>) -> Result<(), StoreError> {
    change(tx, fact, true).await
}

/// Takes `fact` out of its day's and month's histograms, in `tx`, after its
/// duration row was changed or removed.
pub async fn remove(tx: &mut Tx, fact: &Fact<'_>) -> Result<(), StoreError> {
    change(tx, fact, false).await
}

async fn change(tx: &mut Tx, fact: &Fact<'_>, add: bool) -> Result<(), StoreError> {
    for (table, column) in TABLES {
        let (key, first_day, last_day) = if column == "day" {
            (
                fact.day.to_string(),
                fact.day.to_string(),
                fact.day.to_string(),
            )
        } else {
            let month = month_of(fact.day);
            // Days sort as text: "-31" ends every month.
            (
                month.to_string(),
                format!("{month}-01"),
                format!("{month}-31"),
            )
        };
        // Table and column names are constants; values are bound.
        let select = format!(
            "SELECT histogram FROM {table} WHERE metric = $1 AND {column} = $2 AND team_id = $3 \
             AND rep_id = $4 AND dim = $5"
        );
        let stored: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(select))
            .bind(fact.metric)
            .bind(&key)
            .bind(fact.team_id)
            .bind(fact.rep_id)
            .bind(fact.dim)
            .fetch_optional(&mut **tx)
            .await?;
        let mut histogram = Histogram::decode(stored.as_deref().unwrap_or("")).map_err(corrupt)?;
        if add {
            histogram.add(fact.duration_ms);
        } else if let Some(unknown) = histogram.remove(fact.duration_ms) {
            // The facts left in the bucket: their range, from the
            // durations themselves (an index on (metric, day, team, rep,
            // dim, duration) answers it).
            let row = sqlx::query(
                "SELECT MIN(duration_ms) AS lo, MAX(duration_ms) AS hi FROM reporting_durations \
                 WHERE metric = $1 AND day >= $2 AND day <= $3 AND team_id = $4 AND rep_id = $5 \
                 AND dim = $6 AND duration_ms >= $7 AND duration_ms <= $8",
            )
            .bind(fact.metric)
            .bind(&first_day)
            .bind(&last_day)
            .bind(fact.team_id)
            .bind(fact.rep_id)
            .bind(fact.dim)
            .bind(unknown.min_ms)
            .bind(unknown.max_ms)
            .fetch_one(&mut **tx)
            .await?;
            let lo: Option<i64> = row.try_get("lo")?;
            let hi: Option<i64> = row.try_get("hi")?;
            if let (Some(lo), Some(hi)) = (lo, hi) {
                histogram.set_range(unknown.bucket, lo, hi);
            }
        }
        let sql = if histogram.is_empty() {
            format!(
                "DELETE FROM {table} WHERE metric = $1 AND {column} = $2 AND team_id = $3 \
                 AND rep_id = $4 AND dim = $5"
            )
        } else {
            format!(
                "INSERT INTO {table} (metric, {column}, team_id, rep_id, dim, histogram) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (metric, {column}, team_id, rep_id, dim) \
                 DO UPDATE SET histogram = excluded.histogram"
            )
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(fact.metric)
            .bind(&key)
            .bind(fact.team_id)
            .bind(fact.rep_id)
            .bind(fact.dim);
        if !histogram.is_empty() {
            query = query.bind(histogram.encode());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Adds `fact` to the day cells `days`.
pub fn count(days: &mut Cells, fact: &Fact<'_>) {
    let key = (
        fact.metric.to_string(),
        fact.day.to_string(),
        fact.team_id.to_string(),
        fact.rep_id.to_string(),
        fact.dim.to_string(),
    );
    days.entry(key).or_default().add(fact.duration_ms);
}

/// Writes the day cells `days` and their month sums into the empty tables,
/// in `tx`, with multi-row inserts.
pub async fn write(tx: &mut Tx, backend: Backend, days: &Cells) -> anyhow::Result<u64> {
    let mut months = Cells::new();
    for ((metric, day, team, rep, dim), histogram) in days {
        let key = (
            metric.clone(),
            month_of(day).to_string(),
            team.clone(),
            rep.clone(),
            dim.clone(),
        );
        months.entry(key).or_default().merge(histogram);
    }
    let mut rows = 0;
    for ((name, column), cells) in TABLES.into_iter().zip([days, &months]) {
        let columns: &'static [&'static str] = if column == "day" {
            &["metric", "day", "team_id", "rep_id", "dim", "histogram"]
        } else {
            &["metric", "month", "team_id", "rep_id", "dim", "histogram"]
        };
        let encoded: Vec<(&Key, String)> = cells.iter().map(|(k, h)| (k, h.encode())).collect();
        let table = Table {
            name,
            columns,
            len: encoded.len(),
            rows: Box::new(
                encoded
                    .iter()
                    .map(|((metric, span, team, rep, dim), text)| {
                        vec![
                            Value::Text(metric),
                            Value::Text(span),
                            Value::Text(team),
                            Value::Text(rep),
                            Value::Text(dim),
                            Value::Text(text),
                        ]
                    }),
            ),
        };
        rows += bulk::insert(tx, backend, table).await?;
    }
    Ok(rows)
}

/// Recomputes both tables from `reporting_durations`, in `tx`.
pub async fn derive(tx: &mut Tx, backend: Backend) -> anyhow::Result<u64> {
    for (table, _) in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut **tx)
            .await?;
    }
    let mut days = Cells::new();
    {
        // Streamed: millions of rows at scale.
        let mut rows = sqlx::query(
            "SELECT metric, day, team_id, rep_id, dim, duration_ms FROM reporting_durations",
        )
        .fetch(&mut **tx);
        while let Some(row) = rows.try_next().await? {
            let texts: [String; 5] = [
                row.try_get("metric")?,
                row.try_get("day")?,
                row.try_get("team_id")?,
                row.try_get("rep_id")?,
                row.try_get("dim")?,
            ];
            count(
                &mut days,
                &Fact {
                    metric: &texts[0],
                    day: &texts[1],
                    team_id: &texts[2],
                    rep_id: &texts[3],
                    dim: &texts[4],
                    duration_ms: row.try_get("duration_ms")?,
                },
            );
        }
    }
    write(tx, backend, &days).await
}

/// One cell's histogram, as a report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramRow {
    pub metric: String,
    pub team_id: String,
    pub rep_id: String,
    pub dim: String,
    pub histogram: Histogram,
}

impl Reader {
    /// The histograms of `metrics` within `filter` over `days`: one row per
    /// cell of each whole month and of each day around them (a caller
    /// merges them as it groups). Bounded by reps × dims × (months + days
    /// outside whole months), whatever the facts.
    pub async fn duration_histograms(
        &self,
        filter: &Filter,
        days: &Days,
        metrics: &[&str],
    ) -> Result<Vec<HistogramRow>, StoreError> {
        let spans = days.months_and_days();
        let mut ranges: Vec<(&str, &str, &String, &String)> = Vec::new();
        if let Some((first, last)) = &spans.months {
            ranges.push(("reporting_duration_months", "month", first, last));
        }
        for (first, last) in &spans.days {
            ranges.push(("reporting_duration_days", "day", first, last));
        }
        let mut out = Vec::new();
        for (table, column, first, last) in ranges {
            let PeriodMetrics {
                marks,
                clause,
                binds,
            } = PeriodMetrics::new(filter, first, last, metrics);
            // Table and column names are constants, the rest `$n` markers.
            let sql = format!(
                "SELECT metric, team_id, rep_id, dim, histogram FROM {table} \
                 WHERE {column} >= $1 AND {column} <= $2 AND metric IN ({marks}){clause}"
            );
            for row in fetch(&self.store, &sql, &binds).await? {
                let text: String = row.try_get("histogram")?;
                out.push(HistogramRow {
                    metric: row.try_get("metric")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    dim: row.try_get("dim")?,
                    histogram: Histogram::decode(&text).map_err(corrupt)?,
                });
            }
        }
        Ok(out)
    }
}

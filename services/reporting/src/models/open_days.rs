//! The open pipeline's changes per day and per month (`crate::open_days`)
//! in the store: kept with each deal version the consumers insert, written
//! in bulk by a rebuild, recomputed from the history once after the
//! upgrade that added them (`derived::upkeep`), and summed for the
//! pipeline "as of" a day.

use futures::TryStreamExt;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::{Backend, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::queries::{Filter, OpenRow, Reader, fetch};
use crate::open_days::{self, Changes, Version};
use crate::rebuild::bulk;
use crate::rebuild::fold::{Table, Value};

const COLUMNS: &str = "version, at_ms, team_id, rep_id, stage, status, currency, amount_minor, \
                       weighted_minor, close_date";

fn version_of(row: &AnyRow) -> Result<Version, sqlx::Error> {
    Ok(Version {
        version: row.try_get("version")?,
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
}

/// After `new`, a version of `opportunity_id` not stored before, was
/// inserted in `tx`: adds its changes (between the versions stored just
/// below and above it) to the day and month sums, and to the forecast's
/// changes (`models/forecast_changes.rs`).
pub async fn version_added(
    tx: &mut Tx,
    zone: &TimeZone,
    opportunity_id: &str,
    new: &Version,
) -> Result<(), StoreError> {
    let neighbour = |order: &str| {
        format!(
            "SELECT {COLUMNS} FROM reporting_opportunity_history WHERE opportunity_id = $1 \
             AND version {order} $2 ORDER BY version {} LIMIT 1",
            if order == "<" { "DESC" } else { "ASC" }
        )
    };
    let mut near = Vec::with_capacity(2);
    for order in ["<", ">"] {
        // Only the constant comparison and ordering are pasted in.
        let row = sqlx::query(sqlx::AssertSqlSafe(neighbour(order)))
            .bind(opportunity_id)
            .bind(new.version)
            .fetch_optional(&mut **tx)
            .await?;
        near.push(row.as_ref().map(version_of).transpose()?);
    }
    let changes = open_days::insertion(near[0].as_ref(), new, near[1].as_ref(), zone);
    add(tx, &changes).await?;
    let forecast = crate::forecast_changes::insertion(
        opportunity_id,
        (near[0].as_ref(), new, near[1].as_ref()),
        zone,
    );
    super::forecast_changes::add(tx, &forecast).await
}

/// Adds `changes` to the day sums and, summed per month, to the month sums.
async fn add(tx: &mut Tx, changes: &Changes) -> Result<(), StoreError> {
    for (table, column, changes) in [
        ("reporting_open_daily", "day", changes.clone()),
        (
            "reporting_open_monthly",
            "month",
            open_days::per_month(changes),
        ),
    ] {
        // Table and column names are constants; values are bound.
        let sql = format!(
            "INSERT INTO {table} ({column}, team_id, rep_id, stage, currency, deals, \
             amount_minor, weighted_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT ({column}, team_id, rep_id, stage, currency) DO UPDATE SET \
             deals = {table}.deals + excluded.deals, \
             amount_minor = {table}.amount_minor + excluded.amount_minor, \
             weighted_minor = {table}.weighted_minor + excluded.weighted_minor"
        );
        for (key, [deals, amount, weighted]) in &changes {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&key.day)
                .bind(&key.team_id)
                .bind(&key.rep_id)
                .bind(&key.stage)
                .bind(&key.currency)
                .bind(deals)
                .bind(amount)
                .bind(weighted)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Writes the day sums `daily` (and their month sums) into empty tables in
/// `tx`, with multi-row inserts.
pub async fn write(tx: &mut Tx, backend: Backend, daily: &Changes) -> anyhow::Result<u64> {
    let monthly = open_days::per_month(daily);
    let mut rows = 0;
    for (name, columns, changes) in [
        ("reporting_open_daily", &DAILY_COLUMNS, daily),
        ("reporting_open_monthly", &MONTHLY_COLUMNS, &monthly),
    ] {
        let table = Table {
            name,
            columns,
            len: changes.len(),
            rows: Box::new(changes.iter().map(|(key, values)| {
                vec![
                    Value::Text(&key.day),
                    Value::Text(&key.team_id),
                    Value::Text(&key.rep_id),
                    Value::Text(&key.stage),
                    Value::Text(&key.currency),
                    Value::Int(values[0]),
                    Value::Int(values[1]),
                    Value::Int(values[2]),
                ]
            })),
        };
        rows += bulk::insert(tx, backend, table).await?;
    }
    Ok(rows)
}

/// The columns of a day or month table: `first` (`day` or `month`), then
/// the same key and sums.
const fn columns(first: &'static str) -> [&'static str; 8] {
    [
        first,
        "team_id",
        "rep_id",
        "stage",
        "currency",
        "deals",
        "amount_minor",
        "weighted_minor",
    ]
}

const DAILY_COLUMNS: [&str; 8] = columns("day");
const MONTHLY_COLUMNS: [&str; 8] = columns("month");

/// Recomputes the day and month sums from `reporting_opportunity_history`
/// in `tx`.
pub async fn derive(tx: &mut Tx, backend: Backend, zone: &TimeZone) -> anyhow::Result<u64> {
    for table in ["reporting_open_daily", "reporting_open_monthly"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut **tx)
            .await?;
    }
    let mut daily = Changes::new();
    each_deal(tx, |_, deal| open_days::of_history(deal, zone, &mut daily)).await?;
    write(tx, backend, &open_days::without_zeros(daily)).await
}

/// Calls `each` with every deal's id and versions (in version order) in
/// `reporting_opportunity_history`, streamed: the history can be millions
/// of rows.
pub async fn each_deal(
    tx: &mut Tx,
    mut each: impl FnMut(&str, &[Version]),
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT opportunity_id, {COLUMNS} FROM reporting_opportunity_history \
         ORDER BY opportunity_id, version"
    );
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut **tx);
    let mut deal: Vec<Version> = Vec::new();
    let mut deal_id = String::new();
    while let Some(row) = rows.try_next().await? {
        let row = &row;
        let id: String = row.try_get("opportunity_id")?;
        if id != deal_id {
            each(&deal_id, &deal);
            deal.clear();
            deal_id = id;
        }
        deal.push(version_of(row)?);
    }
    each(&deal_id, &deal);
    Ok(())
}

impl Reader {
    /// Open deals per team, rep, stage and currency at the end of `day`:
    /// the month sums before its month plus its month's day sums up to it.
    pub async fn open_as_of(&self, filter: &Filter, day: Date) -> Result<Vec<OpenRow>, StoreError> {
        let month = format!("{:04}-{:02}", day.year(), day.month());
        let first = format!("{month}-01");
        let (months_clause, months_binds) = filter.clause(2);
        let next = 2 + months_binds.len();
        let (days_clause, days_binds) = filter.clause(next + 2);
        let sql = format!(
            "SELECT team_id, rep_id, stage, currency, CAST(SUM(deals) AS BIGINT) AS deals, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor, \
             CAST(SUM(weighted_minor) AS BIGINT) AS weighted_minor FROM ( \
             SELECT team_id, rep_id, stage, currency, deals, amount_minor, weighted_minor \
             FROM reporting_open_monthly WHERE month < $1{months_clause} \
             UNION ALL \
             SELECT team_id, rep_id, stage, currency, deals, amount_minor, weighted_minor \
             FROM reporting_open_daily WHERE day >= ${} AND day <= ${}{days_clause}) sums \
             GROUP BY team_id, rep_id, stage, currency HAVING SUM(deals) <> 0 \
             ORDER BY team_id, rep_id, stage, currency",
            next,
            next + 1
        );
        let mut binds = vec![month];
        binds.extend(months_binds);
        binds.push(first);
        binds.push(day.to_string());
        binds.extend(days_binds);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter().map(OpenRow::from_row).collect()
    }
}

//! Writes a [`Fold`]'s tables into the fresh store with multi-row
//! `INSERT` statements: a few statements per table instead of several per
//! event, which is what made the per-event replay slow (each statement is
//! a round trip to sqlx's SQLite worker thread).

use anyhow::{Context, Result};
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::Backend;
use sqlx::Row;

use super::fold::{Fold, Table, Value};

/// Bind parameters per statement: SQLite's limit since 3.32 (Postgres
/// allows 65,535).
const MAX_PARAMS: usize = 32_766;

/// Writes every table of `fold` in `tx`, a transaction of a `backend`
/// store. The fresh store's tables are empty but for the stages its
/// migrations seed, which the fold started from, so those are replaced.
///
/// The tables' secondary indexes are dropped first and made again after
/// the rows are in: an index built from all its rows at once is sorted
/// once, where one kept up row by row takes its rows in the order of
/// another key (the primary key's) and writes its pages at random.
pub async fn write(tx: &mut Tx, backend: Backend, fold: &Fold) -> Result<u64> {
    sqlx::query("DELETE FROM reporting_stages")
        .execute(&mut **tx)
        .await
        .context("clearing the seeded stages")?;
    let indexes = secondary_indexes(tx, backend).await?;
    for index in &indexes {
        // The name comes from the store's own catalogue.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {}", index.name)))
            .execute(&mut **tx)
            .await
            .with_context(|| format!("dropping the index {} for the bulk write", index.name))?;
    }
    let mut rows = 0;
    // Each table's time is logged: which one dominates is what to work on.
    for table in fold.tables() {
        let name = table.name;
        let started = std::time::Instant::now();
        let written = insert(tx, backend, table)
            .await
            .with_context(|| format!("writing the rebuilt {name}"))?;
        tracing::info!(
            table = name,
            rows = written,
            ms = started.elapsed().as_millis() as u64,
            "written"
        );
        rows += written;
    }
    let started = std::time::Instant::now();
    for index in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(index.sql.clone()))
            .execute(&mut **tx)
            .await
            .with_context(|| format!("making the index {} again", index.name))?;
    }
    tracing::info!(
        indexes = indexes.len(),
        ms = started.elapsed().as_millis() as u64,
        "secondary indexes made again"
    );
    Ok(rows)
}

/// A secondary index of the fresh store: its name and the statement that
/// makes it.
struct Index {
    name: String,
    sql: String,
}

/// The fresh store's indexes other than its tables' primary keys.
async fn secondary_indexes(tx: &mut Tx, backend: Backend) -> Result<Vec<Index>> {
    let sql = match backend {
        // Primary keys' automatic indexes have no SQL.
        Backend::Sqlite => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             ORDER BY name"
        }
        // The schema on the connection's search path (the rebuild's);
        // indexes behind a constraint (the primary keys) stay.
        Backend::Postgres => {
            "SELECT CAST(indexname AS TEXT) AS name, indexdef AS sql FROM pg_indexes \
             WHERE schemaname = current_schema() AND indexname NOT IN \
             (SELECT conname FROM pg_constraint \
             WHERE connamespace = CAST(current_schema() AS regnamespace)) ORDER BY indexname"
        }
    };
    let rows = sqlx::query(sql)
        .fetch_all(&mut **tx)
        .await
        .context("listing the fresh store's indexes")?;
    rows.iter()
        .map(|row| {
            Ok(Index {
                name: row.try_get("name")?,
                sql: row.try_get("sql")?,
            })
        })
        .collect()
}

pub(crate) async fn insert(tx: &mut Tx, backend: Backend, table: Table<'_>) -> Result<u64> {
    let per_statement = (MAX_PARAMS / table.columns.len()).max(1);
    let mut rows = table.rows.peekable();
    let mut written = 0;
    let mut chunk = Vec::with_capacity(per_statement.min(table.len));
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(per_statement));
        let sql = statement(backend, table.name, table.columns, chunk.len());
        // Table and column names are the fold's constants; values are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in &chunk {
            for value in row {
                query = match value {
                    Value::Text(text) => query.bind(*text),
                    Value::Int(int) => query.bind(*int),
                };
            }
        }
        query.execute(&mut **tx).await?;
        written += chunk.len() as u64;
    }
    Ok(written)
}

/// `INSERT INTO name (columns) VALUES ($1, ...), ...` for `rows` rows.
/// SQLite gets anonymous `?` instead: it keeps `$1` and `?1` in a list
/// that both preparing and each bind (sqlx asks every parameter's name)
/// search from its start, which makes a statement of 30,000 parameters
/// quadratic.
fn statement(backend: Backend, name: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {name} ({}) VALUES ", columns.join(", "));
    let mut param = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            param += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&param.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_numbers_every_parameter() {
        assert_eq!(
            statement(Backend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            statement(Backend::Sqlite, "t", &["a"], 2),
            "INSERT INTO t (a) VALUES (?), (?)"
        );
    }
}

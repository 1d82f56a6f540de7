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
    if backend == Backend::Sqlite {
        return insert_json(tx, table).await;
    }
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

/// Rows per statement of [`insert_json`].
const JSON_ROWS: usize = 8_192;

/// SQLite: the rows go in as one JSON array of arrays per statement
/// (`INSERT … SELECT value ->> 0, … FROM json_each(?)`), one bound
/// parameter for thousands of rows, parsed by SQLite itself. Bound one
/// value at a time, each row's values cost sqlx's argument conversion and
/// SQLite's binding per value; a profile of the rebuild's bulk write at
/// 1,000,000 deals had that as the largest part of the write.
async fn insert_json(tx: &mut Tx, table: Table<'_>) -> Result<u64> {
    let picks: Vec<String> = (0..table.columns.len())
        .map(|n| format!("value ->> {n}"))
        .collect();
    // Table and column names are the fold's constants; values are bound.
    let sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM json_each(?)",
        table.name,
        table.columns.join(", "),
        picks.join(", ")
    );
    let mut rows = table.rows.peekable();
    let mut written = 0;
    let mut json = String::new();
    while rows.peek().is_some() {
        json.clear();
        json.push('[');
        let mut count = 0;
        for row in rows.by_ref().take(JSON_ROWS) {
            if count > 0 {
                json.push(',');
            }
            json_row(&mut json, &row);
            count += 1;
        }
        json.push(']');
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(json.as_str())
            .execute(&mut **tx)
            .await?;
        written += count as u64;
    }
    Ok(written)
}

/// Appends `row` to `json` as a JSON array.
fn json_row(json: &mut String, row: &[Value<'_>]) {
    use std::fmt::Write;
    json.push('[');
    for (n, value) in row.iter().enumerate() {
        if n > 0 {
            json.push(',');
        }
        match value {
            Value::Int(int) => {
                let _ = write!(json, "{int}");
            }
            Value::Text(text) => json_string(json, text),
        }
    }
    json.push(']');
}

/// Appends `text` to `json` as a JSON string.
fn json_string(json: &mut String, text: &str) {
    use std::fmt::Write;
    json.push('"');
    if !text.chars().any(|c| c == '"' || c == '\\' || c < ' ') {
        json.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                c if c < ' ' => {
                    let _ = write!(json, "\\u{:04x}", c as u32);
                }
                c => json.push(c),
            }
        }
    }
    json.push('"');
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
    fn a_row_is_a_json_array_with_its_text_escaped() {
        let mut json = String::new();
        json_row(
            &mut json,
            &[
                Value::Text("a \"quoted\" \\ line\n"),
                Value::Int(-42),
                Value::Text("客户"),
            ],
        );
        assert_eq!(json, r#"["a \"quoted\" \\ line\u000a",-42,"客户"]"#);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0], "a \"quoted\" \\ line\n");
    }

    /// Rows written as JSON come back as they were: text with quotes,
    /// backslashes, control characters and CJK, integers at both ends of
    /// i64, more rows than one statement takes, in order.
    #[tokio::test]
    async fn rows_written_as_json_read_back_the_same() {
        let db = leadwheel_plumbing::testing::TestDb::sqlite();
        let store = leadwheel_plumbing::Store::connect(&db.url, &crate::MIGRATOR)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        sqlx::query(
            "CREATE TABLE bulk_t (n BIGINT NOT NULL, name TEXT NOT NULL, v BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let names = ["plain", "a \"quoted\" \\ line\n\t", "客户 \u{1}", ""];
        let rows: Vec<(i64, String, i64)> = (0..JSON_ROWS as i64 * 2 + 3)
            .map(|n| {
                let v = match n % 3 {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    _ => -n,
                };
                (n, names[n as usize % names.len()].to_string(), v)
            })
            .collect();
        let table = Table {
            name: "bulk_t",
            columns: &["n", "name", "v"],
            len: rows.len(),
            rows: Box::new(
                rows.iter()
                    .map(|(n, name, v)| vec![Value::Int(*n), Value::Text(name), Value::Int(*v)]),
            ),
        };
        let written = insert(&mut tx, Backend::Sqlite, table).await.unwrap();
        assert_eq!(written, rows.len() as u64);
        let read: Vec<(i64, String, i64)> =
            sqlx::query("SELECT n, name, v FROM bulk_t ORDER BY rowid")
                .fetch_all(&mut *tx)
                .await
                .unwrap()
                .iter()
                .map(|row| (row.get("n"), row.get("name"), row.get("v")))
                .collect();
        assert_eq!(read, rows);
    }

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

//! The fresh store a rebuild replays into, and the switch that makes its
//! tables the live ones.
//!
//! - SQLite: a sibling file (`<live file>.rebuild`) with the service's own
//!   migrations. The switch attaches it to a connection of the live file
//!   and, in one `BEGIN IMMEDIATE` transaction, replaces each live table's
//!   rows with the fresh ones. Readers (WAL) see the old rows until the
//!   commit and the new ones after it.
//! - Postgres: a schema (`reporting_rebuild`) of the live database, made by
//!   the same migrations through a connection whose `search_path` is that
//!   schema. The switch, in one transaction, drops each live table and
//!   moves the fresh one into the live schema (names, keys and indexes
//!   come with it): a rename, whatever the size.
//!
//! Either way the reporting consumers' inbox rows are replaced by the
//! fresh store's in the same transaction, and the transaction first locks
//! the durable consumers out (SQLite: the write lock; Postgres: the inbox
//! table), so a batch of theirs commits wholly before the switch or runs
//! wholly after it against the new tables and inbox.

use anyhow::{Context, Result, bail};
use leadwheel_plumbing::Store;
use leadwheel_plumbing::store::Backend;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

use crate::{CONSUMERS, MIGRATOR};

/// Every table built from events: what a rebuild replaces. The service's
/// other tables (`reporting_quotas`, `reporting_adjustments`) are set
/// through the API and kept; a test checks every `reporting_*` table is in
/// one list or the other.
pub const READ_MODELS: [&str; 25] = [
    "reporting_counters",
    "reporting_facts",
    "reporting_opportunities",
    "reporting_open",
    "reporting_daily",
    "reporting_counted",
    "reporting_teams",
    "reporting_reps",
    "reporting_stages",
    "reporting_durations",
    "reporting_duration_days",
    "reporting_duration_months",
    "reporting_leads",
    "reporting_accounts",
    "reporting_opportunity_history",
    "reporting_touches",
    "reporting_follow_ups",
    "reporting_route_daily",
    "reporting_conversion_touches",
    "reporting_follow_up_daily",
    "reporting_balance",
    "reporting_balance_accounts",
    "reporting_open_daily",
    "reporting_open_monthly",
    "reporting_forecast_changes",
];

/// The service's tables that do not come from events: quotas and
/// adjustments are set by managers; the weekly snapshots record what the
/// forecast was at each week's moment (a replay cannot take them again);
/// the upkeep marks say which derivations this database has had.
pub const KEPT: [&str; 6] = [
    "reporting_quotas",
    "reporting_adjustments",
    "reporting_snapshots",
    "reporting_snapshot_deals",
    "reporting_snapshot_lines",
    "reporting_upkeep",
];

/// The Postgres schema a rebuild replays into.
const PG_SCHEMA: &str = "reporting_rebuild";

/// A fresh store with the service's empty tables.
pub struct Fresh {
    /// The store the replay writes.
    pub store: Store,
    /// SQLite: the file; Postgres: the schema.
    place: Place,
}

enum Place {
    File(String),
    Schema(&'static str),
}

/// The path of a `sqlite:` URL's file.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    path.split('?').next().filter(|path| !path.is_empty())
}

fn remove_sqlite_files(path: &str) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{path}{suffix}");
        if let Err(err) = std::fs::remove_file(&file)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %file, error = %err, "removing a rebuild file");
        }
    }
}

impl Fresh {
    /// Creates the fresh store beside `live` (whose URL is `live_url`),
    /// replacing any left by an interrupted rebuild.
    pub async fn create(live: &Store, live_url: &str) -> Result<Self> {
        match live.backend() {
            Backend::Sqlite => {
                let live_path =
                    sqlite_path(live_url).context("the live store's URL names no SQLite file")?;
                let path = format!("{live_path}.rebuild");
                remove_sqlite_files(&path);
                // Thrown away unless the switch copies it in: no log.
                let store = Store::connect_scratch(&format!("sqlite://{path}"), &MIGRATOR)
                    .await
                    .context("creating the rebuild's SQLite file")?;
                Ok(Self {
                    store,
                    place: Place::File(path),
                })
            }
            Backend::Postgres => {
                let pool = live.pool();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"
                )))
                .execute(pool)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {PG_SCHEMA}")))
                    .execute(pool)
                    .await?;
                let separator = if live_url.contains('?') { '&' } else { '?' };
                let url = format!("{live_url}{separator}options=-c%20search_path%3D{PG_SCHEMA}");
                let store = Store::connect(&url, &MIGRATOR)
                    .await
                    .context("creating the rebuild's Postgres schema")?;
                Ok(Self {
                    store,
                    place: Place::Schema(PG_SCHEMA),
                })
            }
        }
    }

    /// Postgres: vacuums the freshly written tables and gathers the
    /// planner's statistics on them, both of which move with them into the
    /// live schema. Without statistics the planner guesses until autovacuum
    /// gets round to the tables, and a guess after a bulk load was seen to
    /// turn a 150 ms report into 18 s. Without the vacuum no page is marked
    /// all-visible, so an index-only scan of the covering indexes the
    /// reports read still visits the table for every row. SQLite plans
    /// without statistics (none are ever gathered here) and has no
    /// visibility map, so there is nothing to do.
    pub async fn analyze(&self) -> Result<()> {
        if let Place::Schema(_) = self.place {
            for table in READ_MODELS {
                // Names are the constants above; the connection's
                // search_path is the rebuild's schema. Outside any
                // transaction, as VACUUM must be.
                sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {table}")))
                    .execute(self.store.pool())
                    .await
                    .with_context(|| format!("vacuuming and analysing the rebuilt {table}"))?;
            }
        }
        Ok(())
    }

    /// Locks the live store's writers out for the switch.
    pub async fn lock_live(&self, live: &Store) -> Result<Switch> {
        // SQLite: behind this process's writers (the durable consumers),
        // in their queue; left to SQLite's busy handler against their
        // steady stream of batches, the lock was seen to time out.
        let turn = live.write_turn().await;
        let mut conn = live.pool().acquire().await?;
        match &self.place {
            Place::File(path) => {
                // ATTACH is refused inside a transaction: attach first.
                sqlx::query("ATTACH DATABASE $1 AS fresh")
                    .bind(path.as_str())
                    .execute(&mut *conn)
                    .await
                    .context("attaching the rebuild's file")?;
                if let Err(err) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
                    let _ = sqlx::query("DETACH DATABASE fresh")
                        .execute(&mut *conn)
                        .await;
                    return Err(err).context("taking the live store's write lock");
                }
            }
            Place::Schema(_) => {
                sqlx::query("BEGIN").execute(&mut *conn).await?;
                // Waits for a batch in flight (it holds the inbox after its
                // first statement) and holds new ones until the commit.
                sqlx::query("LOCK TABLE lw_inbox IN EXCLUSIVE MODE")
                    .execute(&mut *conn)
                    .await
                    .context("locking the live inbox")?;
            }
        }
        Ok(Switch {
            conn: Some(conn),
            sqlite: matches!(self.place, Place::File(_)),
            _turn: turn,
        })
    }

    /// Closes and removes the fresh store (its tables are live or unwanted).
    pub async fn discard(self, live: &Store) {
        self.store.pool().close().await;
        match self.place {
            Place::File(path) => remove_sqlite_files(&path),
            Place::Schema(schema) => {
                let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(live.pool())
                .await;
                if let Err(err) = dropped {
                    tracing::warn!(schema, error = %err, "dropping the rebuild's schema");
                }
            }
        }
    }
}

/// The live store locked for the switch: a connection inside a transaction.
pub struct Switch {
    conn: Option<PoolConnection<Any>>,
    sqlite: bool,
    /// This process's turn to write, held to the end of the switch.
    _turn: Option<leadwheel_plumbing::store::WriteTurn>,
}

impl Switch {
    /// Replaces the live read models and the consumers' inbox rows with
    /// `fresh`'s, and commits.
    pub async fn replace(mut self, fresh: &Fresh) -> Result<()> {
        let Some(conn) = self.conn.as_mut() else {
            bail!("the switch has already ended");
        };
        let replaced = if self.sqlite {
            copy_sqlite(conn).await
        } else {
            let Place::Schema(schema) = fresh.place else {
                bail!("a Postgres switch needs a schema");
            };
            move_postgres(conn, schema).await
        };
        if let Err(err) = replaced {
            self.end("ROLLBACK").await;
            return Err(err);
        }
        let committed = sqlx::query("COMMIT").execute(&mut **conn).await;
        if let Err(err) = committed {
            self.end("ROLLBACK").await;
            return Err(err).context("committing the switch");
        }
        self.end("").await;
        Ok(())
    }

    /// Ends the transaction with `finish` (unless empty) and gives the
    /// connection back clean, or closes it when it cannot be cleaned.
    async fn end(&mut self, finish: &str) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let mut clean = true;
        if !finish.is_empty() {
            clean &= sqlx::query(sqlx::AssertSqlSafe(finish.to_string()))
                .execute(&mut *conn)
                .await
                .is_ok();
        }
        if self.sqlite {
            clean &= sqlx::query("DETACH DATABASE fresh")
                .execute(&mut *conn)
                .await
                .is_ok();
        }
        if !clean {
            // Not back into the pool in an unknown state.
            let _ = conn.close().await;
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Dropped mid-switch (the task was cancelled): the transaction
            // and the attachment must not go back into the pool.
            drop(conn.detach());
        }
    }
}

async fn copy_sqlite(conn: &mut PoolConnection<Any>) -> Result<()> {
    // The live tables' secondary indexes go for the copy and are made
    // again after it, each sorted once (as in the bulk write): kept up row
    // by row they took the copy's rows in primary key order and wrote
    // their own pages at random. Readers (WAL) keep the old tables and
    // indexes until the commit.
    let tables = READ_MODELS
        .iter()
        .map(|table| format!("'{table}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let indexes: Vec<(String, String)> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ({tables}) ORDER BY name"
    )))
    .fetch_all(&mut **conn)
    .await
    .context("listing the live indexes")?
    .iter()
    .map(|row| Ok((row.try_get("name")?, row.try_get("sql")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    let mut remake = Vec::with_capacity(indexes.len());
    for (name, sql) in &indexes {
        remake.push(in_schema(sql, "main").with_context(|| format!("the index {name}"))?);
        // Names come from the store's own catalogue.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX main.{name}")))
            .execute(&mut **conn)
            .await
            .with_context(|| format!("dropping the live index {name} for the copy"))?;
    }
    for table in READ_MODELS {
        // Table names are the constants above; both files have the same
        // columns in the same order (the same migrations made them).
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM main.{table}")))
            .execute(&mut **conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO main.{table} SELECT * FROM fresh.{table}"
        )))
        .execute(&mut **conn)
        .await
        .with_context(|| format!("copying {table}"))?;
    }
    for sql in remake {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **conn)
            .await
            .context("making a live index again")?;
    }
    replace_inbox(conn, "main.lw_inbox", "fresh.lw_inbox").await
}

/// A `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ...` statement (as SQLite
/// keeps it in `sqlite_master`) with its index in `schema`: with the fresh
/// file attached, both databases have tables of the same names.
fn in_schema(sql: &str, schema: &str) -> Result<String> {
    let words = ["CREATE", "UNIQUE", "INDEX", "IF", "NOT", "EXISTS"];
    let mut rest = sql.trim_start();
    let mut head = String::new();
    for word in words {
        let Some(prefix) = rest.get(..word.len()) else {
            break;
        };
        if prefix.eq_ignore_ascii_case(word)
            && rest[word.len()..].starts_with(|c: char| c.is_ascii_whitespace())
        {
            head.push_str(prefix);
            head.push(' ');
            rest = rest[word.len()..].trim_start();
        }
    }
    let upper = head.to_ascii_uppercase();
    if !upper.starts_with("CREATE ") || !upper.contains("INDEX ") {
        bail!("not a CREATE INDEX statement: {sql}");
    }
    Ok(format!("{head}{schema}.{rest}"))
}

async fn move_postgres(conn: &mut PoolConnection<Any>, schema: &str) -> Result<()> {
    let live: String = sqlx::query("SELECT CAST(current_schema() AS TEXT) AS name")
        .fetch_one(&mut **conn)
        .await?
        .try_get("name")?;
    if live == schema {
        bail!("the live store's schema is the rebuild's own ({schema})");
    }
    for table in READ_MODELS {
        // Names are constants and the schema comes from the server.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TABLE \"{live}\".{table}"
        )))
        .execute(&mut **conn)
        .await
        .with_context(|| format!("dropping the live {table}"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {schema}.{table} SET SCHEMA \"{live}\""
        )))
        .execute(&mut **conn)
        .await
        .with_context(|| format!("moving the rebuilt {table}"))?;
    }
    replace_inbox(
        conn,
        &format!("\"{live}\".lw_inbox"),
        &format!("{schema}.lw_inbox"),
    )
    .await
}

/// Replaces the reporting consumers' rows of `live_inbox` with those of
/// `fresh_inbox`: after the switch the durable consumers skip exactly the
/// events the fresh tables hold.
async fn replace_inbox(
    conn: &mut PoolConnection<Any>,
    live_inbox: &str,
    fresh_inbox: &str,
) -> Result<()> {
    for (durable, _) in CONSUMERS {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {live_inbox} WHERE consumer = $1"
        )))
        .bind(durable)
        .execute(&mut **conn)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {live_inbox} (consumer, event_id, processed_at_ms) \
             SELECT consumer, event_id, processed_at_ms FROM {fresh_inbox} WHERE consumer = $1"
        )))
        .bind(durable)
        .execute(&mut **conn)
        .await
        .context("copying the inbox")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::in_schema;

    #[test]
    fn an_index_statement_is_put_in_a_schema() {
        assert_eq!(
            in_schema("CREATE INDEX reporting_x\n    ON reporting_t (a)", "main").unwrap(),
            "CREATE INDEX main.reporting_x\n    ON reporting_t (a)"
        );
        assert_eq!(
            in_schema(
                "create unique index if not exists x on t (a) WHERE b = 'c'",
                "main"
            )
            .unwrap(),
            "create unique index if not exists main.x on t (a) WHERE b = 'c'"
        );
        assert!(in_schema("CREATE TABLE t (a)", "main").is_err());
    }
}

//! The store: sqlx over SQLite (the embedded default) or Postgres, chosen
//! by the URL scheme, through one code path (`sqlx::Any`).
//!
//! SQL written for the store must run on both: `$1` placeholders, `TEXT`,
//! `BIGINT` and `BYTEA` columns, `ON CONFLICT`, `RETURNING`; timestamps are
//! UTC epoch milliseconds.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Row, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A write transaction on the store; the caller commits. It derefs to the
/// connection, so repository functions take `&mut AnyConnection`.
///
/// On SQLite it runs on the store's one write connection, which it holds
/// (and with it the process's turn to write) until it ends (see
/// [`Store::begin`]).
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
    /// A scratch SQLite file's transaction (on a pooled connection) holds
    /// the write gate until it ends. Declared after `inner` so the
    /// transaction ends before the gate opens.
    _gate: Option<WriteTurn>,
}

/// The process's turn to write on SQLite (see [`Store::write_turn`]).
pub type WriteTurn = OwnedMutexGuard<Option<AnyConnection>>;

#[derive(Debug)]
enum TxInner {
    /// Postgres: a transaction on a pooled connection.
    Pooled(sqlx::Transaction<'static, sqlx::Any>),
    /// SQLite: on the write connection.
    Held(HeldTx),
}

/// A transaction on SQLite's write connection, taken out of the write
/// gate's lock; rolled back if dropped before it ends.
#[derive(Debug)]
struct HeldTx {
    conn: OwnedMutexGuard<Option<AnyConnection>>,
    open: bool,
}

/// Begins, commits and rolls back on the held connection, as
/// `sqlx::Transaction` does on a pooled one (nested `begin`s on the
/// connection become savepoints either way).
type Transactions = <sqlx::Any as sqlx::Database>::TransactionManager;

impl HeldTx {
    async fn begin(mut conn: OwnedMutexGuard<Option<AnyConnection>>) -> Result<Self, sqlx::Error> {
        let writer = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        Transactions::begin(
            writer,
            Some(sqlx::AssertSqlSafe("BEGIN IMMEDIATE").into_sql_str()),
        )
        .await?;
        Ok(Self { conn, open: true })
    }

    async fn end(mut self, commit: bool) -> Result<(), sqlx::Error> {
        let writer = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        if commit {
            Transactions::commit(writer).await?;
        } else {
            Transactions::rollback(writer).await?;
        }
        self.open = false;
        Ok(())
    }
}

impl Drop for HeldTx {
    fn drop(&mut self) {
        if self.open
            && let Some(writer) = self.conn.as_mut()
        {
            // Queued on the connection: it runs before its next statement.
            Transactions::start_rollback(writer);
        }
    }
}

impl Tx {
    /// Commits, then lets the next writer in.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Pooled(inner) => inner.commit().await,
            TxInner::Held(held) => held.end(true).await,
        }
    }

    /// Rolls back, then lets the next writer in. Dropping a `Tx` also rolls
    /// back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Pooled(inner) => inner.rollback().await,
            TxInner::Held(held) => held.end(false).await,
        }
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.inner {
            TxInner::Pooled(inner) => inner,
            TxInner::Held(held) => held
                .conn
                .as_ref()
                .expect("a held transaction has its connection"),
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            TxInner::Pooled(inner) => inner,
            TxInner::Held(held) => held
                .conn
                .as_mut()
                .expect("a held transaction has its connection"),
        }
    }
}

/// The plumbing's own migrations (outbox, inbox), tracked in their own table
/// so they never collide with a service's migration versions.
static PLUMBING_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Which database the store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file, WAL mode.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Page cache of SQLite's write connection, 32 MiB (in KiB; SQLite's
/// default is 2 MiB): a batch of transitions touches pages all over a
/// store of millions of rows, and the one connection that writes keeps
/// them between transactions (see [`Store::begin`]). Session 17's
/// 64 MiB bought nothing the benchmarks could tell and kept the wheel
/// over its memory budget with a million offers open (docs/benchmarks.md).
const WRITER_CACHE: &str = "PRAGMA cache_size = -32768";
/// How often the write-ahead log is checkpointed into the SQLite file,
/// off the writer's path (see [`Store::begin`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Frames of log (16 MiB of 4 KiB pages) past which the checkpoint task
/// makes the log start over (see `spawn_checkpoints`).
const RESTART_FRAMES: i64 = 4_096;
/// What the log file is cut back to when it starts over, in bytes.
const WAL_SIZE_LIMIT: &str = "PRAGMA journal_size_limit = 67108864";

/// A connection pool plus the backend it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    /// For reads (and the few writes outside [`Store::begin`]).
    pool: AnyPool,
    /// The checkpoint task stops once the last clone of the store is gone.
    _alive: Arc<()>,
    backend: Backend,
    /// SQLite's write connection, and the process's write gate: SQLite
    /// admits one writer at a time, and writers of this process queue
    /// here, in order, instead of in SQLite's busy handler, which sleeps in
    /// steps of up to 100 ms and lets a late writer overtake (under load
    /// that sleeping, not the work, was most of a write's latency). The
    /// connection is held here, not in a pool, because a pool tests each
    /// connection given back to it (a round trip to the connection's
    /// worker thread) before the next transaction can take it: a second
    /// round trip per transaction, most of a small batch's wait to begin
    /// in the wheel's profile. None on Postgres, for a scratch file, and
    /// once closed.
    writer: Arc<Mutex<Option<AnyConnection>>>,
    /// A scratch SQLite file (see [`Store::connect_scratch`]): its
    /// transactions take the pool's connections, in turn at the gate.
    scratch: bool,
}

/// Current time as UTC epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    /// Connects to `url`, creating the SQLite file (and its folder) when
    /// missing, and runs the plumbing's and then the service's migrations.
    pub async fn connect(url: &str, migrator: &Migrator) -> Result<Self> {
        Self::connect_with(url, migrator, false).await
    }

    /// Like [`Store::connect`], for a SQLite file that is thrown away if
    /// the process stops before it is used (reporting's rebuild writes its
    /// fresh tables into one): no write-ahead log, so a transaction of
    /// gigabytes writes each page once instead of into the log and again at
    /// the checkpoint (and does not search a log of millions of frames for
    /// every page it reads back); a rollback journal, so a rollback still
    /// works; no syncs; a 256 MiB page cache per connection. Postgres
    /// stores are connected as usual.
    pub async fn connect_scratch(url: &str, migrator: &Migrator) -> Result<Self> {
        Self::connect_with(url, migrator, true).await
    }

    async fn connect_with(url: &str, migrator: &Migrator, scratch: bool) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path_only = path.split('?').next().unwrap_or_default();
            if path_only.is_empty() || path_only == ":memory:" {
                bail!(
                    "in-memory SQLite is not supported: every connection would see its own database; use a file"
                );
            }
            if let Some(parent) = Path::new(path_only)
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating the data folder {}", parent.display()))?;
            }
            let url = if path.contains('?') {
                format!("sqlite://{path}")
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            bail!("unsupported database URL (expected sqlite:// or postgres://)");
        };

        let options = AnyConnectOptions::from_str(&url).context("parsing the database URL")?;
        let pool_options = match backend {
            // SQLite allows one writer at a time; writers use BEGIN IMMEDIATE
            // (see `begin`) and wait on the busy timeout rather than failing.
            // No ping before a connection is handed out: a file cannot
            // go away as a server can, and the ping is a round trip to
            // the connection's worker thread on every acquire.
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 15000").await?;
                        if scratch {
                            conn.execute("PRAGMA synchronous = OFF").await?;
                            conn.execute("PRAGMA cache_size = -262144").await?;
                        } else {
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                        }
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("connecting to the {backend:?} store"))?;
        if backend == Backend::Sqlite && !scratch {
            // WAL is a property of the file: setting it once is enough.
            // (A scratch file keeps SQLite's default rollback journal.)
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .context("enabling WAL")?;
        }

        let mut plumbing = Migrator {
            migrations: PLUMBING_MIGRATIONS.migrations.clone(),
            ..Migrator::DEFAULT
        };
        plumbing.dangerous_set_table_name("_lw_plumbing_migrations");
        plumbing
            .run(&pool)
            .await
            .context("running the plumbing migrations")?;
        migrator
            .run(&pool)
            .await
            .context("running the service migrations")?;
        let alive = Arc::new(());
        let writer = match backend {
            Backend::Sqlite if !scratch => {
                let writer = connect_sqlite_writer(options.clone()).await?;
                let writer = Arc::new(Mutex::new(Some(writer)));
                spawn_checkpoints(options, writer.clone(), Arc::downgrade(&alive));
                writer
            }
            Backend::Sqlite | Backend::Postgres => Arc::new(Mutex::new(None)),
        };
        Ok(Self {
            pool,
            _alive: alive,
            backend,
            writer,
            scratch,
        })
    }

    /// The connection pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction. On SQLite it first waits its turn at the
    /// process's write gate, then takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so two writers queue instead of deadlocking; another
    /// process's writer still meets the busy timeout.
    ///
    /// On SQLite every transaction runs on one connection of its own,
    /// which never checkpoints: SQLite discards a connection's page cache
    /// whenever another connection wrote since its last transaction, so
    /// writers taking turns on pooled connections each began cold, and
    /// the commit that crossed the log's threshold ran the checkpoint
    /// (copying and syncing the file) while every writer waited. A task
    /// checkpoints on a connection of its own instead, every
    /// [`CHECKPOINT_EVERY`], alongside the writer (`PASSIVE`: it copies
    /// what no reader still needs and never waits on a lock), and between
    /// two transactions once the log is long (see `spawn_checkpoints`).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                if turn.is_some() {
                    Ok(Tx {
                        inner: TxInner::Held(HeldTx::begin(turn).await?),
                        _gate: None,
                    })
                } else if self.scratch {
                    Ok(Tx {
                        inner: TxInner::Pooled(self.pool.begin_with("BEGIN IMMEDIATE").await?),
                        _gate: Some(turn),
                    })
                } else {
                    Err(sqlx::Error::PoolClosed)
                }
            }
            Backend::Postgres => Ok(Tx {
                inner: TxInner::Pooled(self.pool.begin().await?),
                _gate: None,
            }),
        }
    }

    /// Waits for this process's turn to write, for a writer that opens its
    /// own transaction on a connection of [`Self::pool`] instead of calling
    /// [`Self::begin`] (one that must attach another file first, say).
    /// SQLite: the same queue `begin` joins, held until the guard drops,
    /// so such a writer is not left to SQLite's busy handler against this
    /// process's other writers (under a steady stream of them it can wait
    /// out the busy timeout); Postgres: no queue, `None`.
    pub async fn write_turn(&self) -> Option<WriteTurn> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Checks the store answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.close().await;
        }
        self.pool.close().await;
    }
}

/// SQLite's write connection (see [`Store::begin`]): kept for the life
/// of the store, with a larger page cache and no checkpoints of its own.
async fn connect_sqlite_writer(options: AnyConnectOptions) -> Result<AnyConnection> {
    let mut conn = options
        .connect()
        .await
        .context("connecting the SQLite store's write connection")?;
    for pragma in [
        "PRAGMA busy_timeout = 15000",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        WRITER_CACHE,
        "PRAGMA wal_autocheckpoint = 0",
        WAL_SIZE_LIMIT,
    ] {
        conn.execute(pragma)
            .await
            .context("setting up the SQLite store's write connection")?;
    }
    Ok(conn)
}

/// Checkpoints SQLite's write-ahead log every [`CHECKPOINT_EVERY`] on a
/// connection of its own, until the store is dropped or closed.
///
/// A `PASSIVE` checkpoint copies what the log holds beside the writer.
/// But the log starts over from its beginning only when a transaction
/// begins with every frame copied, which under a steady stream of
/// transactions never happens by itself (a run with 1,000,000 offers open
/// grew it to 16 GB), so once the log holds more than [`RESTART_FRAMES`]
/// the task copies the rest between two transactions, holding the
/// process's write gate: only the frames written since its first pass.
fn spawn_checkpoints(
    options: AnyConnectOptions,
    writer: Arc<Mutex<Option<AnyConnection>>>,
    alive: std::sync::Weak<()>,
) {
    // Closed: the store took its write connection away (a writer holding
    // the lock means it is still open).
    let gate = writer.clone();
    let closed = move || writer.try_lock().is_ok_and(|writer| writer.is_none());
    tokio::spawn(async move {
        let checkpoints = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options);
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if alive.strong_count() == 0 || closed() {
                break;
            }
            let copied = match checkpoint(&checkpoints).await {
                Ok(pass) if pass.log_frames > RESTART_FRAMES => {
                    start_log_over(&checkpoints, &gate, pass).await
                }
                other => other.map(|_| ()),
            };
            if let Err(err) = copied
                && alive.strong_count() > 0
                && !closed()
            {
                tracing::warn!(error = %err, "checkpointing the SQLite log failed; retrying");
            }
        }
        checkpoints.close().await;
    });
}

/// What a checkpoint found: frames in the log, and how many of them
/// have been copied into the file.
struct Pass {
    log_frames: i64,
    copied_frames: i64,
}

/// One `PASSIVE` checkpoint.
async fn checkpoint(pool: &AnyPool) -> Result<Pass, sqlx::Error> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    Ok(Pass {
        log_frames: row.try_get(1)?,
        copied_frames: row.try_get(2)?,
    })
}

/// Frames left to copy at most when the checkpoint task takes the write
/// gate to copy the rest (see [`start_log_over`]).
const GATED_FRAMES: i64 = 256;
/// Passes beside the writers before the gated one, at most.
const PASSES_BEFORE_GATE: usize = 8;

/// Makes the log start over, after a `first` pass: copies it beside the
/// writers, pass after pass, each copying what the writers added during
/// the one before, until a pass had at most [`GATED_FRAMES`] to copy (so
/// little came during it); then copies the rest holding the process's
/// write gate, so the next transaction finds the whole log copied and
/// starts it over. The writers wait only for that last copy: taking the
/// gate after the first pass made them wait for all that was written
/// during it (16–50 ms every half second at 1,000 claims/s, the wheel's
/// claim latency p99).
async fn start_log_over(
    pool: &AnyPool,
    gate: &Mutex<Option<AnyConnection>>,
    first: Pass,
) -> Result<(), sqlx::Error> {
    // SQLite reports the log's length as the pass found it at its start.
    let mut copied = first.copied_frames;
    for _ in 0..PASSES_BEFORE_GATE {
        let pass = checkpoint(pool).await?;
        let to_copy = pass.log_frames - copied;
        copied = pass.copied_frames;
        if to_copy <= GATED_FRAMES {
            break;
        }
    }
    let _turn = gate.lock().await;
    checkpoint(pool).await.map(|_| ())
}

/// True when `err` is a unique or primary-key violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// Why a service's store failed, as its repository reports it: handlers
/// never see `sqlx::Error` itself, only whether a retry may help.
///
/// Each service wraps this in its one API error type; the `?` operator
/// converts `sqlx::Error` into it inside a repository.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached (worth retrying).
    #[error("the store is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A statement failed.
    #[error("a store query failed")]
    Query(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => Self::Unavailable(err),
            other => Self::Query(other),
        }
    }
}

/// Logs the failure in full and answers vaguely, so callers never see SQL
/// or connection details: `UNAVAILABLE` (retry shortly) or `INTERNAL`.
impl From<StoreError> for tonic::Status {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => {
                tracing::error!(error = %source, "store unavailable");
                tonic::Status::unavailable("the store is unavailable; retry shortly")
            }
            StoreError::Query(source) => {
                tracing::error!(error = %source, "store query failed");
                tonic::Status::internal("internal error")
            }
        }
    }
}

/// Most rows in one multi-row statement on `conn`'s backend (a power of
/// two, for [`statement_chunks`]). SQLite: 32, since sqlx's SQLite driver
/// looks each parameter up by name at a cost that grows with the square
/// of a statement's parameters (thousands of them took a fifth of the
/// wheel's time in a profile). Postgres binds by position: 256, so a
/// batch of a few hundred rows takes fewer round trips (256 rows: one
/// instead of eight).
pub fn rows_per_statement(conn: &sqlx::AnyConnection) -> usize {
    if conn.backend_name() == "PostgreSQL" {
        256
    } else {
        32
    }
}

/// Splits `items` into runs of `max` (a power of two) and then of halving
/// powers of two, for multi-row statements: whatever the count, a
/// statement kind takes at most log2(max) + 1 distinct texts, so each is
/// prepared once and stays in the connection's statement cache (chunks of
/// any size made one text per size, more than the cache holds).
pub fn statement_chunks<T>(items: &[T], max: usize) -> Vec<&[T]> {
    debug_assert!(max.is_power_of_two());
    let mut chunks = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let size = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

#[cfg(test)]
mod chunk_tests {
    use super::statement_chunks;

    #[test]
    fn chunks_are_powers_of_two_in_order() {
        let items: Vec<u32> = (0..77).collect();
        let chunks = statement_chunks(&items, 32);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [32, 32, 8, 4, 1]);
        assert_eq!(chunks.concat(), items);
        assert!(statement_chunks::<u32>(&[], 32).is_empty());
        assert_eq!(statement_chunks(&items[..31], 32).len(), 5);
    }
}

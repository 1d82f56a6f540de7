//! The transactional outbox.
//!
//! A service writes its state change and the events describing it in one
//! store transaction ([`Outbox::enqueue`]); after commit it calls
//! [`Outbox::notify`] and the relay ([`run_relay`]) publishes pending rows to
//! JetStream, waits for the acks and marks them sent. No event leaves for a
//! change that did not commit, and none is lost while NATS is down: the
//! relay retries until it is back. Several replicas may relay the same rows;
//! the `Nats-Msg-Id` header makes JetStream keep one copy.
//!
//! Sent rows stay for inspection until [`crate::prune`] deletes them by
//! age; [`erase_sent`] deletes the sent rows about given entities at once
//! (a person's erasure).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use async_nats::HeaderMap;
use async_nats::jetstream;
use leadwheel_proto::events::v1::Envelope;
use prost::Message;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::bus::EventDraft;
use crate::metrics::{PLUMBING, labels};
use crate::store::{Store, now_ms};
use crate::{ids, telemetry};

/// Rows published per relay pass.
const BATCH: i64 = 256;

/// Transactions' events handed to the relay after their commit at most
/// (beyond it the relay's poll publishes them, as for any other writer).
const HANDOVER_QUEUE: usize = 1_024;

/// Handle for writing events into the outbox and waking the relay.
#[derive(Clone, Debug)]
pub struct Outbox {
    source: &'static str,
    wake: Arc<Notify>,
    relay_failures: Arc<AtomicU64>,
    /// Events the relay published as handed over (not read back).
    handed_published: Arc<AtomicU64>,
    /// Committed events handed straight to the relay ([`Outbox::publish_committed`]).
    handover: mpsc::Sender<Vec<PendingRow>>,
    /// Ids of events written for a handover and not yet published by it:
    /// the poll leaves them alone (publishing them too would send each
    /// twice when a poll runs between a commit and its handover).
    in_hand: InHand,
    /// Taken by the relay when it starts.
    handed: Arc<Mutex<Option<mpsc::Receiver<Vec<PendingRow>>>>>,
}

/// Ids of events a handover will publish.
type InHand = Arc<Mutex<HashSet<String>>>;

/// The events one or more transactions wrote to the outbox, kept in
/// memory so that once they commit the relay can publish them without
/// reading them back ([`Outbox::publish_committed`]). Dropped instead (a
/// rollback, an error), they are left to the relay's poll.
#[derive(Debug, Default)]
pub struct Written {
    rows: Vec<PendingRow>,
    in_hand: Option<InHand>,
}

impl Written {
    /// Whether the transaction wrote no event.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if let Some(in_hand) = &self.in_hand
            && !self.rows.is_empty()
        {
            release(in_hand, self.rows.iter().map(|row| row.id.as_str()));
        }
    }
}

/// Gives the events `ids` back to the relay's poll.
fn release<'a>(in_hand: &InHand, ids: impl IntoIterator<Item = &'a str>) {
    let mut in_hand = in_hand.lock().expect("outbox in hand");
    for id in ids {
        in_hand.remove(id);
    }
}

impl Outbox {
    /// An outbox for events published by `source` (the service name).
    pub fn new(source: &'static str) -> Self {
        let (handover, handed) = mpsc::channel(HANDOVER_QUEUE);
        Self {
            source,
            wake: Arc::new(Notify::new()),
            relay_failures: Arc::default(),
            handed_published: Arc::default(),
            handover,
            in_hand: Arc::default(),
            handed: Arc::new(Mutex::new(Some(handed))),
        }
    }

    /// Writes `draft` as a pending event on `conn`, which must be inside the
    /// transaction making the state change (pass `&mut tx`); returns the event id.
    /// The current span's trace context goes with it.
    pub async fn enqueue(
        &self,
        conn: &mut sqlx::AnyConnection,
        draft: EventDraft,
    ) -> Result<String, sqlx::Error> {
        let mut ids = self.enqueue_all(conn, vec![draft]).await?;
        Ok(ids.pop().expect("one id per draft"))
    }

    /// Writes every draft as a pending event in one statement on `conn`
    /// (inside the transaction making the state change), in order; returns
    /// the event ids. One round trip for a transition's several events.
    /// The current span's trace context goes with each.
    pub async fn enqueue_all(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let traceparent = telemetry::current_traceparent();
        let traced = drafts
            .into_iter()
            .map(|draft| (draft, traceparent.clone()))
            .collect();
        self.enqueue_traced(conn, traced).await
    }

    /// As [`Self::enqueue_all`], each draft with the trace context it was
    /// made in (a writer that gathers the events of many transitions, each
    /// in its own trace, writes them together at the end).
    pub async fn enqueue_traced(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<(EventDraft, Option<String>)>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let rows = self.write_rows(conn, drafts).await?;
        Ok(rows.into_iter().map(|row| row.id).collect())
    }

    /// As [`Self::enqueue_traced`], keeping the events in memory: hand
    /// them to [`Self::publish_committed`] once the transaction commits
    /// and the relay publishes them at once, without reading them back.
    pub async fn enqueue_written(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<(EventDraft, Option<String>)>,
    ) -> Result<Written, sqlx::Error> {
        let rows = self.write_rows(conn, drafts).await?;
        self.in_hand
            .lock()
            .expect("outbox in hand")
            .extend(rows.iter().map(|row| row.id.clone()));
        Ok(Written {
            rows,
            in_hand: Some(self.in_hand.clone()),
        })
    }

    /// Inserts the drafts' rows, each with the trace context it was made
    /// in, in statements of at most [`crate::store::rows_per_statement`] rows.
    async fn write_rows(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<(EventDraft, Option<String>)>,
    ) -> Result<Vec<PendingRow>, sqlx::Error> {
        let now = now_ms();
        let mut written = Vec::with_capacity(drafts.len());
        let sizes: Vec<usize> =
            crate::store::statement_chunks(&drafts, crate::store::rows_per_statement(conn))
                .iter()
                .map(|chunk| chunk.len())
                .collect();
        let mut drafts = drafts.into_iter();
        for size in sizes {
            let chunk: Vec<_> = drafts.by_ref().take(size).collect();
            written.extend(self.insert_rows(conn, chunk, now).await?);
        }
        Ok(written)
    }

    /// Hands the events of a committed transaction to the relay, which
    /// publishes them in the order handed (commit order), many acks in
    /// flight, and marks them sent. They are in the store already: if the
    /// relay is busy past its queue, or publishing fails, its poll
    /// publishes them like any other pending row.
    pub fn publish_committed(&self, mut written: Written) {
        if written.rows.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut written.rows);
        if let Err(full) = self.handover.try_send(rows) {
            // The relay is behind: its poll takes them.
            let rows = match full {
                mpsc::error::TrySendError::Full(rows) | mpsc::error::TrySendError::Closed(rows) => {
                    rows
                }
            };
            release(&self.in_hand, rows.iter().map(|row| row.id.as_str()));
            self.notify();
        }
    }

    async fn insert_rows(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<(EventDraft, Option<String>)>,
        now: i64,
    ) -> Result<Vec<PendingRow>, sqlx::Error> {
        let mut rows = Vec::with_capacity(drafts.len());
        let mut values = Vec::with_capacity(drafts.len());
        for (n, (draft, traceparent)) in drafts.into_iter().enumerate() {
            let id = ids::new_id();
            let envelope = Envelope {
                id: id.clone(),
                r#type: draft.subject.clone(),
                source: self.source.to_string(),
                time_ms: now,
                key: draft.key,
                payload: draft.payload,
            };
            let at = n * 6;
            values.push(format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                at + 1,
                at + 2,
                at + 3,
                at + 4,
                at + 5,
                at + 6
            ));
            rows.push((
                id.clone(),
                draft.subject,
                envelope.encode_to_vec(),
                envelope.key,
                traceparent,
            ));
        }
        let sql = format!(
            "INSERT INTO lw_outbox (id, subject, envelope, traceparent, created_at_ms, entity_key) \
             VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, subject, envelope, key, traceparent) in &rows {
            query = query
                .bind(id.as_str())
                .bind(subject.as_str())
                .bind(envelope.as_slice())
                .bind(traceparent.as_deref())
                .bind(now)
                .bind(key.as_str());
        }
        query.execute(&mut *conn).await?;
        Ok(rows
            .into_iter()
            .map(|(id, subject, envelope, _, traceparent)| PendingRow {
                id,
                subject,
                envelope,
                traceparent,
                created_at_ms: now,
            })
            .collect())
    }

    /// Wakes the relay; call after the transaction that enqueued commits.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// How many relay passes of this outbox failed to publish so far, so a
    /// test of an outage can wait until the relay has really met it.
    pub fn relay_failures(&self) -> u64 {
        self.relay_failures.load(Ordering::Relaxed)
    }

    /// How many events the relay published as handed over after their
    /// commit ([`Self::publish_committed`]) rather than read back.
    pub fn handed_published(&self) -> u64 {
        self.handed_published.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct PendingRow {
    id: String,
    subject: String,
    envelope: Vec<u8>,
    traceparent: Option<String>,
    created_at_ms: i64,
}

/// Publishes pending outbox rows until `cancel` fires, then flushes what is
/// left (bounded by `final_flush`) and returns. Events handed over after
/// their commit ([`Outbox::publish_committed`]) are published at once;
/// the rest (other writers, other replicas, what a failure or a restart
/// left) when woken ([`Outbox::notify`]) and every 500 ms.
pub async fn run_relay(
    store: Store,
    jetstream: jetstream::Context,
    outbox: Outbox,
    cancel: CancellationToken,
    final_flush: Duration,
) {
    let mut handed = outbox.handed.lock().expect("outbox handover").take();
    // Handed-over events are marked sent by their own task, so the next
    // commit's events are published while the last ones' marks wait for
    // the store's write lock (a writer's batch may hold it for
    // milliseconds).
    let (marks, to_mark) = mpsc::unbounded_channel();
    let marker = tokio::spawn(mark_handed(store.clone(), to_mark, outbox.in_hand.clone()));
    let relay = Relay {
        jetstream: &jetstream,
        outbox: &outbox,
        marks,
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        // What was handed over first: the poll below would find it pending
        // and publish it twice.
        relay.publish_handed(handed.as_mut()).await;
        match flush_pending(&store, &jetstream, Some(&outbox.in_hand)).await {
            Ok(_) => backoff = Duration::from_millis(200),
            Err(err) => {
                outbox.relay_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "outbox relay could not publish; will retry");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        // Other replicas may have written rows: poll now and then.
        let poll = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(poll);
        loop {
            tokio::select! {
                rows = next_handed(handed.as_mut()) => {
                    let mut rows = rows;
                    if let Some(handed) = handed.as_mut() {
                        while rows.len() < BATCH as usize * 16 {
                            match handed.try_recv() {
                                Ok(more) => rows.extend(more),
                                Err(_) => break,
                            }
                        }
                    }
                    relay.publish_handed_rows(rows).await;
                }
                _ = outbox.wake.notified() => break,
                _ = &mut poll => break,
                _ = cancel.cancelled() => break,
            }
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    let last = async {
        relay.publish_handed(handed.as_mut()).await;
        // The marks first: the rows they leave in hand are skipped below.
        drop(relay);
        if let Err(err) = marker.await {
            tracing::warn!(error = %err, "the outbox's marker task failed");
        }
        flush_pending(&store, &jetstream, Some(&outbox.in_hand)).await
    };
    match tokio::time::timeout(final_flush, last).await {
        Ok(Ok(sent)) => tracing::info!(sent, "outbox flushed at shutdown"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "outbox not fully flushed at shutdown; pending events go out at next start")
        }
        Err(_) => tracing::warn!(
            "outbox flush timed out at shutdown; pending events go out at next start"
        ),
    }
}

/// The next events handed over; never, without a handover.
async fn next_handed(handed: Option<&mut mpsc::Receiver<Vec<PendingRow>>>) -> Vec<PendingRow> {
    match handed {
        Some(handed) => match handed.recv().await {
            Some(rows) => rows,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// What publishes handed-over events: the relay's handles and the channel
/// to the task marking them sent ([`mark_handed`]).
struct Relay<'a> {
    jetstream: &'a jetstream::Context,
    outbox: &'a Outbox,
    marks: mpsc::UnboundedSender<Vec<String>>,
}

impl Relay<'_> {
    /// Publishes whatever has been handed over and not yet published.
    async fn publish_handed(&self, handed: Option<&mut mpsc::Receiver<Vec<PendingRow>>>) {
        let Some(handed) = handed else { return };
        let mut rows = Vec::new();
        while let Ok(more) = handed.try_recv() {
            rows.extend(more);
        }
        if !rows.is_empty() {
            self.publish_handed_rows(rows).await;
        }
    }

    /// Publishes `rows` and hands the acked ones to the marker; the others
    /// go back to the poll at once. The acked stay in hand until marked, so
    /// the poll does not publish them again meanwhile.
    async fn publish_handed_rows(&self, rows: Vec<PendingRow>) {
        let (acked, failed) = publish_unmarked(self.jetstream, &rows).await;
        if acked.len() < rows.len() {
            let acked: HashSet<&str> = acked.iter().copied().collect();
            let unacked = rows.iter().map(|row| row.id.as_str());
            release(
                &self.outbox.in_hand,
                unacked.filter(|id| !acked.contains(id)),
            );
        }
        self.outbox
            .handed_published
            .fetch_add(acked.len() as u64, Ordering::Relaxed);
        let acked: Vec<String> = acked.into_iter().map(str::to_string).collect();
        if let Err(mpsc::error::SendError(ids)) = self.marks.send(acked) {
            // The marker is gone (shutting down): the poll sends them again
            // (JetStream drops the copies by their ids).
            release(&self.outbox.in_hand, ids.iter().map(String::as_str));
        }
        if let Some(err) = failed {
            self.outbox.relay_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, "publishing committed events failed; the relay's poll retries them");
        }
    }
}

/// Marks handed-over events sent as their acks come, many publishes'
/// worth per transaction, then lets the poll see them (sent, so it skips
/// them). A failed mark leaves them pending for the poll, which publishes
/// them again: JetStream keeps one copy by `Nats-Msg-Id`.
async fn mark_handed(
    store: Store,
    mut to_mark: mpsc::UnboundedReceiver<Vec<String>>,
    in_hand: InHand,
) {
    while let Some(mut ids) = to_mark.recv().await {
        // SQLite: later acks join these, so a burst of small commits
        // shares one mark (and one turn at the write gate).
        if store.backend() == crate::store::Backend::Sqlite {
            tokio::time::sleep(MARK_AFTER).await;
        }
        while ids.len() < MARK_CHUNK * 16 {
            match to_mark.try_recv() {
                Ok(more) => ids.extend(more),
                Err(_) => break,
            }
        }
        let borrowed: Vec<&str> = ids.iter().map(String::as_str).collect();
        for chunk in crate::store::statement_chunks(&borrowed, MARK_CHUNK) {
            if let Err(err) = mark_sent(&store, chunk).await {
                tracing::warn!(error = %err, "marking published events sent failed; the relay's poll publishes them again");
                break;
            }
        }
        release(&in_hand, ids.iter().map(String::as_str));
    }
}

/// Publishes every pending row; returns how many were sent.
pub async fn flush(store: &Store, jetstream: &jetstream::Context) -> Result<usize> {
    flush_pending(store, jetstream, None).await
}

/// As [`flush`], leaving alone the rows a handover will publish.
async fn flush_pending(
    store: &Store,
    jetstream: &jetstream::Context,
    in_hand: Option<&InHand>,
) -> Result<usize> {
    let mut total = 0;
    // Paged by id, so rows left alone are not read again.
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT id, subject, envelope, traceparent, created_at_ms FROM lw_outbox \
             WHERE sent_at_ms IS NULL AND id > $2 ORDER BY id LIMIT $1",
        )
        .bind(BATCH)
        .bind(after.as_str())
        .fetch_all(store.pool())
        .await?;
        if after.is_empty() {
            PLUMBING.outbox_pending.set(rows.len() as i64);
        }
        if rows.is_empty() {
            return Ok(total);
        }
        let mut pending: Vec<PendingRow> = rows
            .iter()
            .map(|row| -> Result<PendingRow, sqlx::Error> {
                Ok(PendingRow {
                    id: row.try_get("id")?,
                    subject: row.try_get("subject")?,
                    envelope: row.try_get("envelope")?,
                    traceparent: row.try_get("traceparent")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                })
            })
            .collect::<Result<_, _>>()?;
        let count = pending.len();
        after = pending.last().map(|row| row.id.clone()).unwrap_or_default();
        if let Some(in_hand) = in_hand {
            {
                let in_hand = in_hand.lock().expect("outbox in hand");
                pending.retain(|row| !in_hand.contains(&row.id));
            }
            // A handed-over row read above may have been marked sent and
            // let go by the marker since: read again whether the rest are
            // still pending (nearly always none are left to ask about).
            pending = still_pending(store, pending).await?;
        }
        total += publish_rows(store, jetstream, pending).await?;
        if (count as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Those of `rows` not marked sent, in order.
async fn still_pending(store: &Store, rows: Vec<PendingRow>) -> Result<Vec<PendingRow>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let mut pending = HashSet::new();
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    for chunk in crate::store::statement_chunks(&ids, MARK_CHUNK) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id FROM lw_outbox WHERE sent_at_ms IS NULL AND id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        pending.extend(query.fetch_all(store.pool()).await?);
    }
    Ok(rows
        .into_iter()
        .filter(|row| pending.contains(&row.id))
        .collect())
}

/// Publishes `rows` in order, then waits for the acks (one round trip of
/// latency for the lot instead of one per event), marks the acked ones
/// sent and returns how many; the first failure is returned after the
/// others are marked (the unacked stay pending for the next pass).
async fn publish_rows(
    store: &Store,
    jetstream: &jetstream::Context,
    rows: Vec<PendingRow>,
) -> Result<usize> {
    let (sent_ids, first_error) = publish_unmarked(jetstream, &rows).await;
    for chunk in crate::store::statement_chunks(&sent_ids, MARK_CHUNK) {
        mark_sent(store, chunk).await?;
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    Ok(sent_ids.len())
}

/// Publishes `rows` in order, then waits for the acks; returns the ids
/// acked, in order, and the first failure.
async fn publish_unmarked<'r>(
    jetstream: &jetstream::Context,
    rows: &'r [PendingRow],
) -> (Vec<&'r str>, Option<anyhow::Error>) {
    let count = rows.len();
    let mut acks = Vec::with_capacity(count);
    for row in rows {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", row.id.as_str());
        if let Some(tp) = &row.traceparent {
            headers.insert(telemetry::TRACEPARENT, tp.as_str());
        }
        match jetstream
            .publish_with_headers(row.subject.clone(), headers, row.envelope.clone().into())
            .await
        {
            Ok(ack) => acks.push(ack),
            // None is marked: all stay pending, in order (those already
            // sent are published again, and JetStream keeps one copy).
            Err(err) => return (Vec::new(), Some(err.into())),
        }
    }
    let mut sent_ids = Vec::with_capacity(count);
    let mut first_error = None;
    for (row, ack) in rows.iter().zip(acks) {
        match ack.await {
            Ok(_) => {
                sent_ids.push(row.id.as_str());
                PLUMBING
                    .events_published
                    .get_or_create(&labels(&[("subject", &row.subject)]))
                    .inc();
                let lag = (now_ms() - row.created_at_ms).max(0) as f64 / 1000.0;
                PLUMBING.outbox_publish_lag.observe(lag);
            }
            Err(err) => {
                first_error.get_or_insert(err.into());
            }
        }
    }
    (sent_ids, first_error)
}

/// How long the marker waits after an ack before marking on SQLite, so
/// that the acks of many publishes share one transaction (Postgres has no
/// write gate to share, and its claim sweeps were slower with the wait).
/// Marking each commit's events as its ack came took the write gate once
/// more per commit of the wheel's writer: at 1,000 claims/s, in batches
/// of one or two, a batch's begin fell from ~0.55–0.7 ms to ~0.2 ms
/// (docs/benchmarks.md, session 20).
/// Marks only tell the relay's poll what not to publish again, and until
/// then the events are held in hand (the poll skips them); a crash in
/// between publishes them again, which JetStream drops by `Nats-Msg-Id`.
const MARK_AFTER: Duration = Duration::from_millis(50);

/// Ids marked sent per statement at most (a bound on its parameters).
const MARK_CHUNK: usize = 256;

async fn mark_sent(store: &Store, ids: &[&str]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    // One statement per batch: the write lock (one writer on SQLite) is
    // held for one round trip instead of one per event.
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "UPDATE lw_outbox SET sent_at_ms = $1 WHERE sent_at_ms IS NULL AND id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms());
    for id in ids {
        query = query.bind(*id);
    }
    let mut tx = store.begin().await?;
    query.execute(&mut *tx).await?;
    tx.commit().await
}

/// Deletes, on `conn` (inside the caller's transaction), the rows already
/// published of events about `keys` (their envelope key, e.g. a lead id);
/// returns how many went. A person's erasure calls it: the published
/// copies in the store would otherwise keep the person's data until the
/// prune. Rows not yet published stay, so consumers still receive them;
/// the prune deletes them by age once sent.
pub async fn erase_sent(
    conn: &mut sqlx::AnyConnection,
    keys: &[String],
) -> Result<u64, sqlx::Error> {
    let mut erased = 0;
    // Bounded statements: a person has few leads, but a caller may pass many.
    for chunk in keys.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "DELETE FROM lw_outbox WHERE sent_at_ms IS NOT NULL AND entity_key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(key.as_str());
        }
        erased += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(erased)
}

/// Number of rows not yet published (for tests and readiness detail).
pub async fn pending_count(store: &Store) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM lw_outbox WHERE sent_at_ms IS NULL")
        .fetch_one(store.pool())
        .await
}

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
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bus::EventDraft;
use crate::metrics::{PLUMBING, labels};
use crate::store::{Store, now_ms};
use crate::{ids, telemetry};

/// Rows published per relay pass.
const BATCH: i64 = 256;
/// Rows per INSERT at most. Kept small: sqlx's SQLite driver looks each
/// parameter up by name, which grows with the square of a statement's
/// parameters (thousands of them took a fifth of the wheel's time in a
/// profile), and few distinct statement texts stay in the
/// prepared-statement cache.
const ROWS_PER_INSERT: usize = 32;

/// Handle for writing events into the outbox and waking the relay.
#[derive(Clone, Debug)]
pub struct Outbox {
    source: &'static str,
    wake: Arc<Notify>,
    relay_failures: Arc<AtomicU64>,
}

impl Outbox {
    /// An outbox for events published by `source` (the service name).
    pub fn new(source: &'static str) -> Self {
        Self {
            source,
            wake: Arc::new(Notify::new()),
            relay_failures: Arc::default(),
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
        let now = now_ms();
        let mut ids = Vec::with_capacity(drafts.len());
        let mut drafts = drafts.into_iter().peekable();
        while drafts.peek().is_some() {
            let chunk: Vec<_> = drafts.by_ref().take(ROWS_PER_INSERT).collect();
            ids.extend(self.insert_rows(conn, chunk, now).await?);
        }
        Ok(ids)
    }

    async fn insert_rows(
        &self,
        conn: &mut sqlx::AnyConnection,
        drafts: Vec<(EventDraft, Option<String>)>,
        now: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut ids = Vec::with_capacity(drafts.len());
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
            ids.push(id);
        }
        let sql = format!(
            "INSERT INTO lw_outbox (id, subject, envelope, traceparent, created_at_ms, entity_key) \
             VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, subject, envelope, key, traceparent) in rows {
            query = query
                .bind(id)
                .bind(subject)
                .bind(envelope)
                .bind(traceparent)
                .bind(now)
                .bind(key);
        }
        query.execute(&mut *conn).await?;
        Ok(ids)
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
}

struct PendingRow {
    id: String,
    subject: String,
    envelope: Vec<u8>,
    traceparent: Option<String>,
    created_at_ms: i64,
}

/// Publishes pending outbox rows until `cancel` fires, then flushes what is
/// left (bounded by `final_flush`) and returns.
pub async fn run_relay(
    store: Store,
    jetstream: jetstream::Context,
    outbox: Outbox,
    cancel: CancellationToken,
    final_flush: Duration,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match flush(&store, &jetstream).await {
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
        tokio::select! {
            _ = outbox.wake.notified() => {}
            // Other replicas may have written rows; poll now and then.
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = cancel.cancelled() => break,
        }
    }
    match tokio::time::timeout(final_flush, flush(&store, &jetstream)).await {
        Ok(Ok(sent)) => tracing::info!(sent, "outbox flushed at shutdown"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "outbox not fully flushed at shutdown; pending events go out at next start")
        }
        Err(_) => tracing::warn!(
            "outbox flush timed out at shutdown; pending events go out at next start"
        ),
    }
}

/// Publishes every pending row; returns how many were sent.
pub async fn flush(store: &Store, jetstream: &jetstream::Context) -> Result<usize> {
    let mut total = 0;
    loop {
        let rows = sqlx::query(
            "SELECT id, subject, envelope, traceparent, created_at_ms FROM lw_outbox \
             WHERE sent_at_ms IS NULL ORDER BY id LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(store.pool())
        .await?;
        PLUMBING.outbox_pending.set(rows.len() as i64);
        if rows.is_empty() {
            return Ok(total);
        }
        let rows: Vec<PendingRow> = rows
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
        let count = rows.len();

        // Publish the whole batch, then wait for the acks: one round trip of
        // latency per batch instead of per event.
        let mut acks = Vec::with_capacity(count);
        for row in &rows {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", row.id.as_str());
            if let Some(tp) = &row.traceparent {
                headers.insert(telemetry::TRACEPARENT, tp.as_str());
            }
            let ack = jetstream
                .publish_with_headers(row.subject.clone(), headers, row.envelope.clone().into())
                .await?;
            acks.push(ack);
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
                    first_error.get_or_insert(err);
                }
            }
        }
        mark_sent(store, &sent_ids).await?;
        total += sent_ids.len();
        if let Some(err) = first_error {
            return Err(err.into());
        }
        if (count as i64) < BATCH {
            return Ok(total);
        }
    }
}

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

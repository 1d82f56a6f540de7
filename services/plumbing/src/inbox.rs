//! The inbox: durable JetStream consumers with explicit ack, where every
//! processed event id is recorded in the same transaction as its effect.
//!
//! [`run_consumer`] pulls events, opens a transaction, records the event id
//! in `lw_inbox` (skipping it if already there), lets the handler apply its
//! effect inside that transaction, commits, and only then acks. A crash
//! between commit and ack redelivers an event the inbox already holds, which
//! is then acked without effect. A handler error rolls back and naks with a
//! delay so the event is retried.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message as NatsMessage;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use futures::{FutureExt, StreamExt};
use leadwheel_proto::events::v1::Envelope;
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Bus, Event, StreamSpec};
use crate::metrics::{PLUMBING, labels};
use crate::outbox::Outbox;
use crate::store::{Store, Tx, now_ms};
use crate::telemetry;

/// Which events a consumer reads.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// Durable consumer name, unique per consuming service and stream,
    /// e.g. `wheel-intake`. Also the inbox's consumer key.
    pub durable: String,
    /// The stream read.
    pub stream: &'static StreamSpec,
    /// Subjects to receive (empty means all of the stream's).
    pub filter_subjects: Vec<String>,
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying later (store busy, dependency missing yet).
    #[error("transient: {0}")]
    Transient(#[source] anyhow::Error),
    /// Can never succeed (malformed payload): the event is terminated and logged.
    #[error("permanent: {0}")]
    Permanent(#[source] anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(err.into())
    }
}

/// An event that is not what its contract says can never succeed.
impl From<crate::contracts::ContractError> for HandlerError {
    fn from(err: crate::contracts::ContractError) -> Self {
        Self::Permanent(err.into())
    }
}

impl From<prost::DecodeError> for HandlerError {
    fn from(err: prost::DecodeError) -> Self {
        Self::Permanent(err.into())
    }
}

/// Applies events to a service's state.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` inside `tx`; the caller records the inbox row and commits.
    fn handle(
        &self,
        tx: &mut Tx,
        event: &Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Called once per batch transaction, right after it begins and before
    /// any event of the batch is recorded: the place to take a lock that
    /// orders this consumer's batches against other writers (reporting
    /// serialises its batches on Postgres so concurrent batches cannot take
    /// shared counter rows in opposite orders and deadlock). An error
    /// retries the whole batch, like a transaction that cannot begin.
    fn begin_batch(&self, _tx: &mut Tx) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        std::future::ready(Ok(()))
    }

    /// Called after the transaction committed (e.g. to wake a timer loop).
    fn after_commit(&self, _event: &Event) {}

    /// Whether this process leaves the consumer's events to another
    /// process for now (the wheel's replicas leave new leads to the holder
    /// of its writer's lease). Checked before pulling and after each
    /// receipt: while it holds, the consumer pulls nothing, and events it
    /// received and had not applied are given back (nakked: delivered
    /// again at once, to a process that pulls).
    fn yields(&self) -> bool {
        false
    }

    /// Whether [`Self::handle_all`] applies a batch at once (checked per
    /// batch; the default handles each event on its own).
    fn handles_all(&self) -> bool {
        false
    }

    /// Applies every event of a batch inside `tx` at once, after the
    /// inbox recorded them (`events` are the ones not seen before, in
    /// order). An error drops the whole transaction, and the batch is
    /// applied again one event at a time through [`Self::handle`], each in
    /// its own savepoint, so one bad event fails alone. Only called when
    /// [`Self::handles_all`] says so.
    fn handle_all(
        &self,
        _tx: &mut Tx,
        _events: &[&Event],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        std::future::ready(Err(HandlerError::Transient(anyhow::anyhow!(
            "this handler applies events one at a time"
        ))))
    }
}

/// Records `event_id` for `consumer`; false when it was already processed.
pub async fn record(tx: &mut Tx, consumer: &str, event_id: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO lw_inbox (consumer, event_id, processed_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records every id of `event_ids` for `consumer` in one statement per
/// [`RECORD_CHUNK`]; returns those not recorded before.
pub async fn record_all(
    tx: &mut Tx,
    consumer: &str,
    event_ids: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let now = now_ms();
    let mut fresh = std::collections::HashSet::with_capacity(event_ids.len());
    for chunk in crate::store::statement_chunks(event_ids, RECORD_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|n| format!("($1, ${}, $2)", n + 3))
            .collect();
        let sql = format!(
            "INSERT INTO lw_inbox (consumer, event_id, processed_at_ms) VALUES {} \
             ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
            rows.join(", ")
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(consumer)
            .bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        let recorded: Vec<String> = query.fetch_all(&mut **tx).await?;
        fresh.extend(recorded);
    }
    Ok(fresh)
}

/// Event ids per inbox INSERT at most (sqlx's SQLite driver looks each
/// parameter up by name, at a cost growing with the square of their number).
const RECORD_CHUNK: usize = 64;

/// The durable consumer's settings, delivering from `deliver_policy`.
fn consumer_config(spec: &ConsumerSpec, deliver_policy: DeliverPolicy) -> pull::Config {
    pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subjects: spec.filter_subjects.clone(),
        ack_policy: AckPolicy::Explicit,
        deliver_policy,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 10_000,
        ..Default::default()
    }
}

async fn consumer(bus: &Bus, spec: &ConsumerSpec) -> Result<PullConsumer> {
    bus.ensure_stream(spec.stream).await?;
    let stream = bus
        .jetstream
        .get_stream(spec.stream.name)
        .await
        .with_context(|| format!("opening stream {}", spec.stream.name))?;
    // A consumer moved past events its service already holds (see
    // [`restart_consumer_after`]) keeps where it starts: the server refuses
    // to change it, and starting over would only skip those events again.
    // When its settings cannot be read (none yet, or an error) it starts
    // at the stream's first event; an error shows again at the create.
    let deliver_policy = match stream.consumer_info(&spec.durable).await {
        Ok(info) => info.config.deliver_policy,
        Err(_) => DeliverPolicy::All,
    };
    // Create-or-update, so a consumer whose filter subjects grew in a new
    // release starts receiving the new subjects.
    stream
        .create_consumer(consumer_config(spec, deliver_policy))
        .await
        .with_context(|| format!("creating consumer {}", spec.durable))
}

/// Makes `spec`'s durable consumer deliver from the first event after
/// stream sequence `applied_through`, for a service whose store already
/// holds every event up to it (reporting after a rebuild): the consumer is
/// deleted and created again starting there, as the server cannot move a
/// consumer's start. Events past `applied_through` that the old consumer
/// had delivered are delivered again, and the inbox skips what was
/// applied; a consumer loop that recreated the old consumer in between
/// (its pulls fail when it is deleted) is replaced again.
pub async fn restart_consumer_after(
    bus: &Bus,
    spec: &ConsumerSpec,
    applied_through: u64,
) -> Result<()> {
    let stream = bus
        .jetstream
        .get_stream(spec.stream.name)
        .await
        .with_context(|| format!("opening stream {}", spec.stream.name))?;
    let deliver_policy = DeliverPolicy::ByStartSequence {
        start_sequence: applied_through + 1,
    };
    let mut last_error = None;
    for _ in 0..10 {
        if let Err(err) = stream.delete_consumer(&spec.durable).await {
            // Absent already is what deleting is for.
            if stream.consumer_info(&spec.durable).await.is_ok() {
                last_error = Some(anyhow::Error::new(err));
                continue;
            }
        }
        match stream
            .create_consumer(consumer_config(spec, deliver_policy))
            .await
        {
            Ok(consumer) => {
                if consumer.cached_info().config.deliver_policy == deliver_policy {
                    tracing::info!(consumer = %spec.durable, start_sequence = applied_through + 1, "durable consumer moved past the events already applied");
                    return Ok(());
                }
            }
            Err(err) => last_error = Some(anyhow::Error::new(err)),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("recreated with another start by a consumer loop")))
    .with_context(|| format!("moving consumer {}", spec.durable))
}

/// Runs `handler` over `spec`'s events until `cancel` fires. Reconnects and
/// recreates the consumer after errors.
pub async fn run_consumer<H: EventHandler>(
    bus: Bus,
    store: Store,
    outbox: Outbox,
    spec: ConsumerSpec,
    handler: H,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !cancel.is_cancelled() {
        if handler.yields() {
            tracing::info!(consumer = %spec.durable, "leaving this consumer's events to another process");
            while handler.yields() {
                tokio::select! {
                    _ = tokio::time::sleep(YIELD_CHECK) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        }
        let result = tokio::select! {
            result = consume(&bus, &store, &outbox, &spec, &handler, &cancel) => result,
            _ = cancel.cancelled() => break,
        };
        match result {
            Ok(Stopped::Cancelled) => break,
            Ok(Stopped::Yielded) => backoff = Duration::from_millis(200),
            Err(err) => {
                tracing::warn!(consumer = %spec.durable, error = %format!("{err:#}"), "consumer stopped; restarting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::debug!(consumer = %spec.durable, "consumer stopped");
}

/// Most events applied in one transaction. Events already waiting are taken
/// together: under load one commit (and, on SQLite, one turn at the write
/// gate) serves many events; at rest a batch is the one event that arrived.
const MAX_BATCH: usize = 64;

/// How often a consumer that yields checks whether to pull again.
const YIELD_CHECK: Duration = Duration::from_millis(250);

/// Why [`consume`] returned.
enum Stopped {
    Cancelled,
    /// The handler yields (see [`EventHandler::yields`]).
    Yielded,
}

async fn consume<H: EventHandler>(
    bus: &Bus,
    store: &Store,
    outbox: &Outbox,
    spec: &ConsumerSpec,
    handler: &H,
    cancel: &CancellationToken,
) -> Result<Stopped> {
    let consumer = consumer(bus, spec).await?;
    let mut messages = consumer.messages().await.context("pulling messages")?;
    tracing::info!(consumer = %spec.durable, stream = spec.stream.name, "consuming");
    loop {
        // Between batches is the only place we stop: events in hand are
        // always finished (committed and acked, or nakked).
        let message = tokio::select! {
            next = messages.next() => next,
            _ = cancel.cancelled() => return Ok(Stopped::Cancelled),
        };
        let Some(message) = message else {
            anyhow::bail!("message stream ended");
        };
        let mut batch = vec![message.context("receiving a message")?];
        while batch.len() < MAX_BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(message))) => batch.push(message),
                Some(Some(Err(err))) => {
                    // Finish what is in hand; the error ends the stream next time.
                    tracing::warn!(consumer = %spec.durable, error = %err, "receiving a message failed");
                    break;
                }
                Some(None) | None => break,
            }
        }
        if handler.yields() {
            // Given back with whatever else arrived; what is still on its
            // way is delivered again once its ack wait passes.
            while let Some(Some(Ok(message))) = messages.next().now_or_never() {
                batch.push(message);
            }
            for message in batch {
                let _ = message.ack_with(AckKind::Nak(None)).await;
            }
            return Ok(Stopped::Yielded);
        }
        let events: Vec<(NatsMessage, Event)> = batch
            .into_iter()
            .filter_map(|message| decode(spec, message))
            .collect();
        if !events.is_empty() {
            apply_batch(store, outbox, spec, handler, events).await;
        }
    }
}

/// The event a message carries; an undecodable one is terminated.
fn decode(spec: &ConsumerSpec, message: NatsMessage) -> Option<(NatsMessage, Event)> {
    let traceparent = message
        .headers
        .as_ref()
        .and_then(|h| h.get(telemetry::TRACEPARENT))
        .map(|v| v.as_str().to_string());
    match Envelope::decode(message.payload.as_ref()) {
        Ok(envelope) => {
            let event = Event {
                subject: message.subject.to_string(),
                envelope,
                traceparent,
            };
            Some((message, event))
        }
        Err(err) => {
            tracing::error!(consumer = %spec.durable, subject = %message.subject, error = %err, "undecodable envelope; terminating it");
            tokio::spawn(async move {
                let _ = message.ack_with(AckKind::Term).await;
            });
            None
        }
    }
}

fn event_span(spec: &ConsumerSpec, event: &Event) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        consumer = %spec.durable,
        subject = %event.subject,
        event_id = %event.envelope.id,
        key = %event.envelope.key,
    );
    telemetry::set_parent(&span, event.traceparent.as_deref());
    span
}

/// Applies `events` in one transaction, each inside its own savepoint so a
/// failing event is rolled back alone (or, for a handler that applies
/// batches at once, in one call first, and one at a time only if that
/// failed); commits; then acks, naks or terminates each. When the
/// transaction cannot begin or commit, nothing was applied and every
/// event is retried.
async fn apply_batch<H: EventHandler>(
    store: &Store,
    outbox: &Outbox,
    spec: &ConsumerSpec,
    handler: &H,
    events: Vec<(NatsMessage, Event)>,
) {
    let savepoints = events.len() > 1;
    let mut outcomes: Vec<Result<bool, HandlerError>> = Vec::with_capacity(events.len());
    let tried_at_once = savepoints && handler.handles_all();
    let at_once = if tried_at_once {
        apply_all_at_once(store, spec, handler, &events).await
    } else {
        None
    };
    let how = match (&at_once, tried_at_once) {
        (Some(_), _) => "at_once",
        (None, true) => "redone",
        (None, false) => "one_at_a_time",
    };
    PLUMBING
        .inbox_batches
        .get_or_create(&labels(&[("consumer", &spec.durable), ("how", how)]))
        .inc();
    let committed = async {
        if let Some(at_once) = at_once {
            outcomes = at_once.into_iter().map(Ok).collect();
            return Ok::<bool, sqlx::Error>(true);
        }
        let mut tx = store.begin().await?;
        handler.begin_batch(&mut tx).await?;
        for (_, event) in &events {
            let outcome = apply_one(&mut tx, spec, handler, event, savepoints)
                .instrument(event_span(spec, event))
                .await;
            if !savepoints && outcome.is_err() {
                // Alone in its transaction: dropping it rolls back.
                outcomes.push(outcome);
                return Ok::<bool, sqlx::Error>(false);
            }
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(true)
    }
    .await;
    let committed = match committed {
        Ok(committed) => committed,
        Err(err) => {
            // Nothing was applied: every event is retried.
            outcomes = (0..events.len())
                .map(|_| {
                    Err(HandlerError::Transient(anyhow::anyhow!(
                        "the store transaction failed: {err}"
                    )))
                })
                .collect();
            false
        }
    };
    let mut any_applied = false;
    for ((message, event), outcome) in events.into_iter().zip(outcomes) {
        let result_label = match &outcome {
            Ok(true) => "applied",
            Ok(false) => "duplicate",
            Err(HandlerError::Transient(_)) => "retry",
            Err(HandlerError::Permanent(_)) => "rejected",
        };
        PLUMBING
            .events_consumed
            .get_or_create(&labels(&[
                ("consumer", &spec.durable),
                ("result", result_label),
            ]))
            .inc();
        match outcome {
            Ok(applied) => {
                debug_assert!(committed);
                if applied {
                    any_applied = true;
                    handler.after_commit(&event);
                }
                if let Err(err) = message.ack().await {
                    // The effect is committed; a redelivery is a harmless duplicate.
                    tracing::warn!(event_id = %event.envelope.id, error = %err, "ack failed");
                }
            }
            Err(HandlerError::Transient(err)) => {
                tracing::warn!(event_id = %event.envelope.id, subject = %event.subject, error = %format!("{err:#}"), "event failed; retrying later");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
            Err(HandlerError::Permanent(err)) => {
                tracing::error!(event_id = %event.envelope.id, subject = %event.subject, error = %format!("{err:#}"), "event rejected; terminating it");
                let _ = message.ack_with(AckKind::Term).await;
            }
        }
    }
    if any_applied {
        outbox.notify();
    }
}

/// Applies `events` through the handler's [`EventHandler::handle_all`] in
/// one transaction: each event's outcome (true: applied, false: seen
/// before) once committed, or None when it failed and nothing committed.
async fn apply_all_at_once<H: EventHandler>(
    store: &Store,
    spec: &ConsumerSpec,
    handler: &H,
    events: &[(NatsMessage, Event)],
) -> Option<Vec<bool>> {
    let attempt = async {
        let mut tx = store.begin().await?;
        handler.begin_batch(&mut tx).await?;
        let ids: Vec<&str> = events.iter().map(|(_, e)| e.envelope.id.as_str()).collect();
        let fresh = record_all(&mut tx, &spec.durable, &ids).await?;
        // The first delivery of each new id (a batch may hold one twice).
        let mut seen = std::collections::HashSet::new();
        let applied: Vec<bool> = events
            .iter()
            .map(|(_, e)| fresh.contains(&e.envelope.id) && seen.insert(e.envelope.id.as_str()))
            .collect();
        let new: Vec<&Event> = events
            .iter()
            .zip(&applied)
            .filter(|(_, applied)| **applied)
            .map(|((_, event), _)| event)
            .collect();
        if !new.is_empty() {
            handler.handle_all(&mut tx, &new).await?;
        }
        tx.commit().await?;
        Ok::<_, HandlerError>(applied)
    };
    match attempt.await {
        Ok(applied) => Some(applied),
        Err(err) => {
            tracing::debug!(consumer = %spec.durable, error = %format!("{err:#}"), "applying the batch at once failed; one event at a time");
            None
        }
    }
}

/// Applies one event inside `tx`; Ok(false) when already processed. With
/// `savepoint`, a failure rolls back this event's writes only.
async fn apply_one<H: EventHandler>(
    tx: &mut Tx,
    spec: &ConsumerSpec,
    handler: &H,
    event: &Event,
    savepoint: bool,
) -> Result<bool, HandlerError> {
    if savepoint {
        sqlx::query("SAVEPOINT lw_event").execute(&mut **tx).await?;
    }
    let outcome = async {
        if !record(tx, &spec.durable, &event.envelope.id).await? {
            return Ok(false);
        }
        handler.handle(tx, event).await?;
        Ok(true)
    }
    .await;
    if savepoint {
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT lw_event")
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("RELEASE SAVEPOINT lw_event")
            .execute(&mut **tx)
            .await?;
    }
    outcome
}

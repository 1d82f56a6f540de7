//! Rebuild: replays the streams from their first message into a fresh copy
//! of the read models, then switches the service over to it atomically.
//!
//! While the replay runs the service keeps answering from its live tables,
//! which its durable consumers keep updating as before. The replay reads
//! each stream through its own ephemeral consumer (the three at once,
//! [`replay`]) and folds the events in memory into the final rows of every
//! read model and the consumers' inbox rows, with the incremental SQL's
//! merge rules ([`fold`]); then writes them into a fresh store (a sibling
//! SQLite file, or a Postgres schema of the same database; see [`fresh`])
//! with multi-row inserts, in one transaction ([`bulk`]). Then the switch,
//! in one transaction on the live store: it locks out the durable
//! consumers' commits, applies what is left in the streams with the
//! service's own event handler, replaces the live read models and the
//! consumers' inbox rows with the fresh ones, and commits. Every event a
//! durable consumer applied was in the stream before the lock, so the
//! fresh tables hold it; every event the replay applied is in the inbox
//! the durable consumers read after the switch, so none is applied twice;
//! and an event the replay did not reach is still unacknowledged by them,
//! so they apply it next.
//!
//! The fold holds every folded row in memory until the write (few-valued
//! texts interned): memory grows with the size of the read models (see
//! `docs/reporting.md`).
//!
//! Quotas and adjustments are not built from events: the switch keeps them.

pub(crate) mod bulk;
pub mod fold;
mod fresh;
mod replay;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use leadwheel_plumbing::bus::Bus;
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::{Store, now_ms};
use leadwheel_proto::reporting::v1::ConsumerProgress;
use sqlx::Row as _;
use tokio_util::sync::CancellationToken;

use crate::CONSUMERS;
use crate::consumer::Handler;
use crate::error::Error;

pub use fresh::{KEPT, READ_MODELS};

/// Messages per fetch while folding: large, as the raw consume's.
const FETCH: usize = 10_000;

/// Where a rebuild stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// None has run since the service started.
    #[default]
    Idle,
    /// Replaying the streams into the fresh tables.
    Replaying,
    /// Replaying the last events with the live store locked, then
    /// replacing the live tables.
    Switching,
    /// The service answers from the rebuilt tables.
    Done,
    /// Stopped; the live tables are untouched.
    Failed(String),
}

impl Phase {
    /// The name the API shows.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Replaying => "replaying",
            Phase::Switching => "switching",
            Phase::Done => "done",
            Phase::Failed(_) => "failed",
        }
    }

    fn running(&self) -> bool {
        matches!(self, Phase::Replaying | Phase::Switching)
    }
}

/// A rebuild's progress: its phase and, per consumer, the events replayed
/// and still to replay.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub phase: Phase,
    pub consumers: Vec<ConsumerProgress>,
    /// Events replayed into the fresh tables so far, all streams.
    pub events: u64,
    /// Since the rebuild started (until it ended, once it has).
    pub elapsed_ms: u64,
}

#[derive(Debug, Default)]
struct Shared {
    status: Status,
    started: Option<Instant>,
}

/// Starts rebuilds and reports their progress; one runs at a time.
#[derive(Clone, Debug)]
pub struct Rebuilder {
    live: Store,
    bus: Bus,
    database_url: Secret,
    handler: Handler,
    /// Events applied per transaction of the switch's catch-up.
    batch: usize,
    cancel: CancellationToken,
    shared: Arc<Mutex<Shared>>,
}

impl Rebuilder {
    /// A rebuilder of `live`'s read models (the store at `database_url`)
    /// from `bus`'s streams, folding them with `handler`'s time zone and
    /// applying the switch's last events with `handler` in transactions of
    /// `batch` events, stopped by `cancel`.
    pub fn new(
        live: Store,
        bus: Bus,
        database_url: Secret,
        handler: Handler,
        batch: usize,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            live,
            bus,
            database_url,
            handler,
            batch: batch.max(1),
            cancel,
            shared: Arc::new(Mutex::new(Shared::default())),
        }
    }

    /// Starts a rebuild in the background; refused while one runs.
    pub fn start(&self) -> Result<Status, Error> {
        {
            let mut shared = self.lock();
            if shared.status.phase.running() {
                return Err(Error::FailedPrecondition(
                    "a rebuild is already running; follow it with GetRebuildProgress".into(),
                ));
            }
            shared.started = Some(Instant::now());
            shared.status = Status {
                phase: Phase::Replaying,
                consumers: CONSUMERS
                    .iter()
                    .map(|(durable, _)| ConsumerProgress {
                        consumer: durable.to_string(),
                        delivered: 0,
                        pending: 0,
                    })
                    .collect(),
                events: 0,
                elapsed_ms: 0,
            };
        }
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = tokio::select! {
                outcome = this.run() => outcome,
                _ = this.cancel.cancelled() => Err(anyhow::anyhow!("the service is stopping")),
            };
            let phase = match outcome {
                Ok(()) => {
                    tracing::warn!("rebuild done: the reports answer from the rebuilt tables");
                    Phase::Done
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "rebuild failed; the live tables are untouched");
                    Phase::Failed(format!("{err:#}"))
                }
            };
            let mut shared = this.lock();
            shared.status.elapsed_ms = shared.elapsed_ms();
            shared.status.phase = phase;
        });
        Ok(self.status())
    }

    /// The current (or last) rebuild's progress.
    pub fn status(&self) -> Status {
        let shared = self.lock();
        let mut status = shared.status.clone();
        if status.phase.running() {
            status.elapsed_ms = shared.elapsed_ms();
        }
        status
    }

    /// The rebuild's progress; before any, the durable consumers'.
    pub async fn progress(&self) -> Result<Status, Error> {
        let status = self.status();
        if status.phase != Phase::Idle {
            return Ok(status);
        }
        Ok(Status {
            consumers: consumer_progress(&self.bus).await?,
            ..status
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding it leaves plain data behind: keep using it.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        self.lock().status.phase = phase;
    }

    /// Records progress of consumer `index`: `applied` more events, and
    /// `pending` still to replay.
    fn advance(&self, index: usize, applied: u64, delivered: u64, pending: u64) {
        let mut shared = self.lock();
        shared.status.events += applied;
        if let Some(progress) = shared.status.consumers.get_mut(index) {
            progress.delivered = delivered as i64;
            progress.pending = pending as i64;
        }
    }

    async fn run(&self) -> anyhow::Result<()> {
        let fresh = fresh::Fresh::create(&self.live, self.database_url.expose()).await?;
        let outcome = self.replay_and_switch(&fresh).await;
        fresh.discard(&self.live).await;
        outcome
    }

    async fn replay_and_switch(&self, fresh: &fresh::Fresh) -> anyhow::Result<()> {
        let mut replays = Vec::new();
        for (durable, stream) in CONSUMERS {
            let filter = crate::filter_subjects(stream);
            replays.push(replay::Replay::open(&self.bus, durable, stream, filter).await?);
        }
        let stages = sqlx::query("SELECT stage, position, stale_days FROM reporting_stages")
            .fetch_all(fresh.store.pool())
            .await
            .context("reading the fresh store's seeded stages")?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("stage")?,
                    row.try_get("position")?,
                    row.try_get("stale_days")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut fold = fold::Fold::new(self.handler.applier.zone.clone(), now_ms(), stages);
        let started = std::time::Instant::now();
        let (mut replays, fold_time) = self.fold_streams(replays, &mut fold).await?;
        let read_time = started.elapsed().saturating_sub(fold_time);
        let written = std::time::Instant::now();
        let mut tx = fresh
            .store
            .begin()
            .await
            .context("beginning the bulk write")?;
        let mut rows = bulk::write(&mut tx, fresh.store.backend(), &fold).await?;
        rows += write_deal_changes(
            &mut tx,
            fresh.store.backend(),
            &fold,
            &self.handler.applier.zone,
        )
        .await?;
        rows += crate::models::duration_histograms::write(
            &mut tx,
            fresh.store.backend(),
            &fold.duration_cells(),
        )
        .await
        .context("writing the duration histograms")?;
        let write_time = written.elapsed();
        // The other pre-aggregated tables are not folded: recomputed from
        // the base tables just written, in the same transaction.
        crate::models::derived::derive_all(&mut tx, &self.handler.applier.zone)
            .await
            .context("deriving the pre-aggregated tables")?;
        tx.commit().await.context("committing the bulk write")?;
        fresh.analyze().await?;
        let derive_time = written.elapsed().saturating_sub(write_time);
        tracing::info!(
            events = fold.applied(),
            rows,
            read_wait_ms = read_time.as_millis() as u64,
            fold_ms = fold_time.as_millis() as u64,
            write_ms = write_time.as_millis() as u64,
            derive_commit_and_analyze_ms = derive_time.as_millis() as u64,
            "replayed events written to the fresh tables"
        );
        drop(fold);

        self.set_phase(Phase::Switching);
        let switching = std::time::Instant::now();
        let switch = fresh.lock_live(&self.live).await?;
        // The durable consumers cannot commit now: what they applied was in
        // the streams before this point, and the replay reaches it here.
        let mut applied_through = Vec::with_capacity(replays.len());
        for (index, replay) in replays.iter_mut().enumerate() {
            let end = replay.stream_end(&self.bus).await?;
            replay
                .catch_up(
                    &fresh.store,
                    &self.handler,
                    self.batch,
                    Some(end),
                    |applied, seq, pending| self.advance(index, applied, seq, pending),
                )
                .await?;
            // Every event of the stream up to `end` was delivered (a fetch
            // can go past it; then up to the last one read).
            applied_through.push(end.max(replay.last_sequence()));
        }
        switch.replace(fresh).await?;
        tracing::info!(
            catch_up_and_switch_ms = switching.elapsed().as_millis() as u64,
            "the rebuilt tables are live"
        );
        self.move_durable_consumers(&applied_through).await;
        Ok(())
    }

    /// Moves the durable consumers past what the live tables now hold, so
    /// they do not read every replayed event again to skip it (millions
    /// after a large history, while new events wait behind them). Only
    /// after the switch committed: had it failed, the consumers must still
    /// deliver those events. Failing here costs time, not data: a consumer
    /// left where it was skips the replayed events through the inbox.
    async fn move_durable_consumers(&self, applied_through: &[u64]) {
        let specs = crate::consumer_specs();
        for (spec, through) in specs.iter().zip(applied_through) {
            if let Err(err) =
                leadwheel_plumbing::inbox::restart_consumer_after(&self.bus, spec, *through).await
            {
                tracing::warn!(consumer = %spec.durable, error = %format!("{err:#}"), "could not move the durable consumer past the replayed events; it will skip them one by one");
            }
        }
    }

    /// Reads the streams (each on its own task, so the three fetch at
    /// once) to their end and folds their events into `fold` as they come;
    /// gives the replays back, positioned after what they read, and the
    /// time spent folding (the rest was waiting for the reads).
    async fn fold_streams(
        &self,
        replays: Vec<replay::Replay>,
        fold: &mut fold::Fold,
    ) -> anyhow::Result<(Vec<replay::Replay>, std::time::Duration)> {
        let mut fold_time = std::time::Duration::ZERO;
        let (sender, mut batches) = tokio::sync::mpsc::channel(2 * replays.len());
        let mut readers = Vec::new();
        for (index, mut replay) in replays.into_iter().enumerate() {
            let sender = sender.clone();
            readers.push(tokio::spawn(async move {
                loop {
                    match replay.read(FETCH).await {
                        Ok(Some(batch)) => {
                            // The fold stopped (it failed): so does the reading.
                            if sender.send(Ok((index, batch))).await.is_err() {
                                return None;
                            }
                        }
                        Ok(None) => return Some(replay),
                        Err(err) => {
                            let _ = sender.send(Err(err)).await;
                            return None;
                        }
                    }
                }
            }));
        }
        drop(sender);
        while let Some(batch) = batches.recv().await {
            let (index, batch) = batch?;
            let durable = CONSUMERS[index].0;
            let folding = std::time::Instant::now();
            let mut applied = 0;
            for event in &batch.events {
                match fold.event(durable, event) {
                    fold::Outcome::Applied => applied += 1,
                    fold::Outcome::Repeated => {}
                    // The durable consumer terminates the same events.
                    fold::Outcome::Malformed(err) => {
                        tracing::warn!(consumer = durable, event_id = %event.envelope.id, subject = %event.subject, error = %err, "malformed event skipped");
                    }
                }
            }
            fold_time += folding.elapsed();
            self.advance(index, applied, batch.delivered, batch.pending);
        }
        let mut replays = Vec::new();
        for reader in readers {
            let replay = reader
                .await
                .context("a replay reader panicked")?
                .context("a replay reader stopped")?;
            replays.push(replay);
        }
        Ok((replays, fold_time))
    }
}

impl Shared {
    fn elapsed_ms(&self) -> u64 {
        self.started
            .map(|started| started.elapsed().as_millis() as u64)
            .unwrap_or_default()
    }
}

/// How far each durable consumer is (when no rebuild has run): delivered
/// and still pending messages.
pub async fn consumer_progress(bus: &Bus) -> Result<Vec<ConsumerProgress>, Error> {
    let mut out = Vec::new();
    for (durable, stream) in CONSUMERS {
        let stream = bus
            .jetstream
            .get_stream(stream.name)
            .await
            .map_err(|err| Error::Bus(format!("opening stream {}: {err}", stream.name)))?;
        let (delivered, pending) = match stream.consumer_info(durable).await {
            Ok(info) => (
                info.delivered.stream_sequence,
                info.num_pending + info.num_ack_pending as u64,
            ),
            // Not created yet: nothing delivered.
            Err(_) => (0, 0),
        };
        out.push(ConsumerProgress {
            consumer: durable.to_string(),
            delivered: delivered as i64,
            pending: pending as i64,
        });
    }
    Ok(out)
}

/// Writes the open pipeline's day sums and the forecast's changes of the
/// folded deal versions. The forecast's changes are per deal, so they are
/// written every few hundred thousand rather than held for the whole
/// history (millions of rows at the scale).
async fn write_deal_changes(
    tx: &mut leadwheel_plumbing::Tx,
    backend: leadwheel_plumbing::store::Backend,
    fold: &fold::Fold,
    zone: &jiff::tz::TimeZone,
) -> anyhow::Result<u64> {
    const FORECAST_ROWS_HELD: usize = 200_000;
    let mut open = crate::open_days::Changes::new();
    let mut forecast = crate::forecast_changes::Changes::new();
    let mut rows = 0;
    for (id, versions) in fold.deal_versions() {
        crate::open_days::of_history(&versions, zone, &mut open);
        crate::forecast_changes::of_history(id, &versions, zone, &mut forecast);
        if forecast.len() >= FORECAST_ROWS_HELD {
            let held = crate::open_days::without_zeros_of(std::mem::take(&mut forecast));
            rows += crate::models::forecast_changes::write(tx, backend, &held)
                .await
                .context("writing the forecast's changes")?;
        }
    }
    let held = crate::open_days::without_zeros_of(forecast);
    rows += crate::models::forecast_changes::write(tx, backend, &held)
        .await
        .context("writing the forecast's changes")?;
    rows += crate::models::open_days::write(tx, backend, &crate::open_days::without_zeros(open))
        .await
        .context("writing the open pipeline's day sums")?;
    Ok(rows)
}

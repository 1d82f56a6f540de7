//! Group commit: one writer task takes transitions (claims, passes,
//! manager actions, expiries) from a bounded queue and applies what has
//! queued up in one transaction, so concurrent callers share a commit, a
//! turn at the store's write gate and the wake-up of the relay instead
//! of each paying for their own. Nobody hears back before the commit: a
//! reply (and the live push) is sent only once the batch is durable.
//!
//! On SQLite the writer always batches. On Postgres, where several
//! replicas share the store, only the replica holding the writer's lease
//! does (see `lease`: batches of several replicas holding the same rows
//! until they commit wait on each other); the others apply each
//! transition in its own transaction, in parallel, and expire due offers
//! in chunks of [`PG_EXPIRY_CHUNK`]. A claim, pass or manager action
//! reaching a replica without the lease is forwarded to the holder
//! (see `forward`) and applied there alone only when nobody holds it.
//!
//! Batching is natural: the writer takes what is waiting when it is free
//! (up to [`MAX_BATCH`]), so a lone claim is applied at once and a burst
//! is applied in a few large transactions. A batch whose shared
//! transaction fails (a lost race with another writer or replica, a store
//! error) is redone in one transaction with a savepoint per command, and
//! a command that lost a race there is tried again alone with the usual
//! retries, so one command's failure is only its own.

use std::sync::Arc;
use std::sync::LazyLock;

use leadwheel_plumbing::metrics;
use leadwheel_wheel_core::{Decision, Input};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Engine, Outcome};
use crate::error::WheelError;

/// Commands waiting for the writer at most; callers beyond it wait for room.
pub const QUEUE: usize = 8_192;
/// Most commands applied in one transaction.
pub const MAX_BATCH: usize = 256;
/// Without the lease (Postgres), most expiries in one transaction.
pub const PG_EXPIRY_CHUNK: usize = 64;

static BATCH_SIZE: LazyLock<Histogram> = LazyLock::new(|| {
    let histogram = Histogram::new(exponential_buckets(1.0, 2.0, 10));
    metrics::register(
        "wheel_writer_batch_size",
        "Transitions applied per transaction by the writer",
        histogram.clone(),
    );
    histogram
});

/// What one command came to.
pub type Applied = Result<Outcome<Decision>, WheelError>;

/// One transition for the writer, and where its outcome goes.
#[derive(Debug)]
pub(super) struct Command {
    lead_id: String,
    input: Input,
    actor: String,
    reply: oneshot::Sender<Applied>,
}

/// The sending side of the writer's queue; empty until [`Engine::run_writer`]
/// starts (an engine without a writer applies each command on its own).
pub(super) type Queue = Arc<std::sync::OnceLock<mpsc::Sender<Command>>>;

impl Engine {
    /// Applies `input` to `lead_id` through the writer (in a shared
    /// transaction with whatever else is queued) and returns once it is
    /// committed. On Postgres, a replica without the writer's lease sends
    /// it to the replica holding it (see `forward`); when none does, or
    /// without a running writer, it is applied here in a transaction of
    /// its own.
    pub async fn submit(&self, lead_id: &str, input: Input, actor: &str) -> Applied {
        if self.forwards()
            && let Some(applied) = self.forward(lead_id, &input, actor).await
        {
            return applied;
        }
        self.submit_here(lead_id, input, actor).await
    }

    /// As [`Self::submit`], in this replica whether it holds the lease or
    /// not (a command forwarded to it is never forwarded again).
    pub(super) async fn submit_here(&self, lead_id: &str, input: Input, actor: &str) -> Applied {
        let Some(queue) = self.writer.get().filter(|_| self.batches()) else {
            return self.apply(lead_id, input, actor).await;
        };
        let (reply, outcome) = oneshot::channel();
        let command = Command {
            lead_id: lead_id.to_string(),
            input,
            actor: actor.to_string(),
            reply,
        };
        if queue.send(command).await.is_err() {
            return Err(stopped());
        }
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Applies every `(lead, input)` through the writer and returns each
    /// outcome in order (the timer loop's expiries); without a running
    /// writer or the lease, in chunks of [`PG_EXPIRY_CHUNK`] per transaction.
    pub async fn submit_all(&self, inputs: Vec<(String, Input)>, actor: &str) -> Vec<Applied> {
        if self.writer.get().is_none() || !self.batches() {
            let mut outcomes = Vec::with_capacity(inputs.len());
            for chunk in inputs.chunks(PG_EXPIRY_CHUNK) {
                let chunk: Vec<(String, Input, String)> = chunk
                    .iter()
                    .map(|(lead_id, input)| (lead_id.clone(), input.clone(), actor.to_string()))
                    .collect();
                outcomes.extend(self.apply_batch(&chunk).await);
            }
            return outcomes;
        }
        let pending = inputs
            .into_iter()
            .map(|(lead_id, input)| async move { self.submit_here(&lead_id, input, actor).await });
        futures::future::join_all(pending).await
    }

    /// The writer: runs until `cancel` fires, then applies what is still
    /// queued and stops. Call once per engine.
    pub async fn run_writer(self, cancel: CancellationToken) {
        let (sender, mut queue) = mpsc::channel(QUEUE);
        if self.writer.set(sender).is_err() {
            tracing::error!("the wheel's writer was started twice");
            return;
        }
        loop {
            let first = tokio::select! {
                command = queue.recv() => command,
                _ = cancel.cancelled() => None,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.run_batch(batch).await;
        }
        // Draining: what was queued before the stop is still applied.
        queue.close();
        let mut rest = Vec::new();
        while let Some(command) = queue.recv().await {
            rest.push(command);
            if rest.len() == MAX_BATCH {
                self.run_batch(std::mem::take(&mut rest)).await;
            }
        }
        if !rest.is_empty() {
            self.run_batch(rest).await;
        }
    }

    async fn run_batch(&self, batch: Vec<Command>) {
        BATCH_SIZE.observe(batch.len() as f64);
        let inputs: Vec<(String, Input, String)> = batch
            .iter()
            .map(|c| (c.lead_id.clone(), c.input.clone(), c.actor.clone()))
            .collect();
        let outcomes = self.apply_batch(&inputs).await;
        for (command, outcome) in batch.into_iter().zip(outcomes) {
            let _ = command.reply.send(outcome);
        }
    }

    /// Applies `inputs` in one transaction if it can; if that fails (and
    /// nothing of it committed), in one transaction with a savepoint each,
    /// so only the losers of a race fail; those are tried again alone with
    /// the usual retries.
    async fn apply_batch(&self, inputs: &[(String, Input, String)]) -> Vec<Applied> {
        // None: to be redone alone.
        // With the lease the batch is staged in memory and written in a
        // few statements; without it (the timers' chunks on Postgres)
        // each transition writes its own.
        let first = if self.batches() {
            self.apply_staged(inputs).await
        } else {
            self.apply_chunk(inputs).await
        };
        let outcomes: Vec<Option<Applied>> = match first {
            Ok(Some(outcomes)) => outcomes.into_iter().map(Some).collect(),
            Ok(None) | Err(_) => match self.apply_chunk_with_savepoints(inputs).await {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .map(|outcome| match outcome {
                        Err(WheelError::Conflict(_)) => None,
                        other => Some(other),
                    })
                    .collect(),
                Err(_) => inputs.iter().map(|_| None).collect(),
            },
        };
        let mut applied = Vec::with_capacity(inputs.len());
        for ((lead_id, input, actor), outcome) in inputs.iter().zip(outcomes) {
            applied.push(match outcome {
                Some(outcome) => outcome,
                None => self.apply(lead_id, input.clone(), actor).await,
            });
        }
        applied
    }
}

fn stopped() -> WheelError {
    WheelError::Unavailable("the wheel is shutting down; try again".into())
}

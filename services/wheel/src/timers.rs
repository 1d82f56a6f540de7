//! Durable timers: offer deadlines live in the store (`wheel_offers`); this
//! loop sleeps until the earliest one, then expires every due offer in
//! deadline order through the engine. On start, every overdue deadline
//! fires at once, oldest first. With several replicas (Postgres) each runs
//! this loop, the replica holding the writer's lease expiring offers at
//! their deadlines and the others only those still open
//! [`crate::engine::TIMER_GRACE`] later (the holder died); the conditional
//! updates let exactly one expire each offer.
//!
//! Time is the engine's clock: a test that moves a manual clock past a
//! deadline wakes this loop, which then expires the offer (and sweeps when
//! the clock moved a sweep period), with no real waiting.

use std::sync::LazyLock;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use leadwheel_plumbing::metrics::{self, latency_histogram};
use leadwheel_wheel_core::Input;
use prometheus_client::metrics::histogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Outcome, Refusal, SYSTEM};
use crate::error::WheelError;
use crate::store;

/// Offers expired per pass before checking the clock again.
const BATCH: i64 = 1_024;
/// Most expiries handed to the writer at once (it commits them in
/// batches with whatever else is queued).
const EXPIRE_CHUNK: usize = 256;
/// Longest sleep between checks, so deadlines written by other replicas
/// are seen promptly.
const MAX_SLEEP: Duration = Duration::from_millis(250);

static EXPIRY_LATENESS: LazyLock<Histogram> = LazyLock::new(|| {
    let histogram = latency_histogram();
    metrics::register(
        "wheel_expiry_lateness_seconds",
        "Time from an offer's deadline to its expiry being committed",
        histogram.clone(),
    );
    histogram
});

/// How often waiting leads are offered again (someone's shift may have
/// started) and pool escalations are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Runs until `cancel` fires.
pub async fn run(engine: Engine, cancel: CancellationToken) {
    let sweep_ms = SWEEP_EVERY.as_millis() as i64;
    let mut last_sweep = tokio::time::Instant::now() - SWEEP_EVERY;
    let mut last_sweep_ms = engine.now() - sweep_ms;
    loop {
        if cancel.is_cancelled() {
            break;
        }
        // A sweep period passed in real time or on the clock (which a test
        // may move by hand).
        if last_sweep.elapsed() >= SWEEP_EVERY || engine.now() - last_sweep_ms >= sweep_ms {
            last_sweep = tokio::time::Instant::now();
            last_sweep_ms = engine.now();
            if let Err(err) = sweep(&engine).await {
                tracing::warn!(error = %err, "sweeping escalations and waiting leads failed");
            }
        }
        let more = match fire_due(&engine, &cancel).await {
            Ok(more) => more,
            Err(err) => {
                tracing::warn!(error = %err, "expiring due offers failed; retrying");
                false
            }
        };
        if more {
            continue;
        }
        let sleep_for = match next_deadline(&engine).await {
            Ok(Some(deadline)) => {
                let due_at = deadline + engine.timer_grace_ms();
                Duration::from_millis((due_at - engine.now()).max(0) as u64).min(MAX_SLEEP)
            }
            Ok(None) => MAX_SLEEP,
            Err(err) => {
                tracing::warn!(error = %err, "reading the next deadline failed");
                MAX_SLEEP
            }
        };
        let clock_moved = async {
            match engine.clock().moved() {
                Some(moved) => moved.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep_for) => {}
            _ = engine.timers().notified() => {}
            _ = clock_moved => {}
            _ = cancel.cancelled() => break,
        }
    }
}

async fn next_deadline(engine: &Engine) -> Result<Option<i64>, WheelError> {
    let mut conn = engine.read().await?;
    store::next_deadline(&mut conn).await
}

/// Expires every due offer; true when a full batch was found (more may wait).
async fn fire_due(engine: &Engine, cancel: &CancellationToken) -> Result<bool, WheelError> {
    let now = engine.now();
    let due = {
        let mut conn = engine.read().await?;
        store::due_offers(&mut conn, now - engine.timer_grace_ms(), BATCH).await?
    };
    let full = due.len() as i64 == BATCH;
    let started = std::time::Instant::now();
    let oldest = due.first().map(|d| now - d.2).unwrap_or(0);
    // Due offers expire in deadline order, a chunk at a time through the
    // writer: one commit serves many when deadlines fall together. Every
    // chunk is queued at once, so the writer finds the next one waiting
    // when it commits one; outcomes are read chunk by chunk, in order.
    let mut pending: FuturesOrdered<_> = due
        .chunks(EXPIRE_CHUNK)
        .map(|chunk| {
            let inputs = chunk
                .iter()
                .map(|(lead_id, offer_no, _)| {
                    let input = Input::Expire {
                        offer_no: *offer_no as u32,
                    };
                    (lead_id.clone(), input)
                })
                .collect();
            async move { (chunk, engine.submit_all(inputs, SYSTEM).await) }
        })
        .collect();
    while let Some((chunk, outcomes)) = pending.next().await {
        for ((lead_id, offer_no, deadline), outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Ok(Outcome::Transition(_)) => {
                    EXPIRY_LATENESS.observe((engine.now() - deadline).max(0) as f64 / 1000.0);
                    tracing::debug!(lead_id = %lead_id, offer_no, "offer expired");
                }
                // Claimed, passed or expired by someone else first: nothing to do.
                Ok(Outcome::Refused(Refusal::Route(_))) | Err(WheelError::Conflict(_)) => {}
                Ok(Outcome::Refused(refusal)) => return Err(refusal.into()),
                Err(err) => return Err(err),
            }
        }
        if cancel.is_cancelled() {
            return Ok(false);
        }
    }
    if !due.is_empty() {
        tracing::debug!(
            count = due.len(),
            oldest_late_ms = oldest,
            took_ms = started.elapsed().as_millis() as u64,
            "expired a batch of due offers"
        );
    }
    Ok(full)
}

/// Escalates pooled leads past their timeout and offers waiting leads again.
async fn sweep(engine: &Engine) -> Result<(), WheelError> {
    let due = {
        let mut conn = engine.read().await?;
        store::due_escalations(&mut conn, engine.now(), BATCH).await?
    };
    for lead_id in due {
        match engine.apply(&lead_id, Input::EscalationDue, SYSTEM).await {
            Ok(Outcome::Transition(_)) => {
                tracing::info!(lead_id = %lead_id, "pooled lead escalated to the manager")
            }
            Ok(Outcome::Refused(Refusal::Route(_))) | Err(WheelError::Conflict(_)) => {}
            Ok(Outcome::Refused(refusal)) => return Err(refusal.into()),
            Err(err) => return Err(err),
        }
    }
    engine.retry_waiting("").await?;
    Ok(())
}

//! The timer loop: fires every due timer, earliest first, then sleeps until
//! the next one is due or something armed an earlier one. On start every
//! overdue timer fires at once (it is simply due), so a restart loses none.
//!
//! Due timers fire in batches of up to [`FIRE_BATCH`], each batch in one
//! transaction with the effects and outbox events of all its timers
//! ([`Ops::fire_batch`]): one commit (and, on SQLite, one turn at the write
//! gate, taken in turn with the event consumers' batches) per batch, not
//! per timer. The conditional delete in [`crate::store::timers::take`]
//! makes two replicas' loops fire a timer once, and the unique (kind,
//! dedupe key) of alerts keeps one alert per rule, subject and occurrence.
//! When a batch fails it is redone one timer per transaction, so one bad
//! timer cannot hold back the others; a timer that fails alone is moved
//! [`DEFER_FAILED_MS`] ahead and tried again then.
//!
//! A forecast check waits on reporting, so it is never part of a batch: it
//! is leased (moved ahead, see [`crate::ops::forecast::LEASE_MS`]) and run
//! as its own task: a slow reporting holds that check only, never the
//! others.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::ops::Ops;
use crate::ops::timers::{Fired, forecast_check};
use crate::store::StoreError;
use crate::store::timers::{self, Timer};

/// Timers read per round.
const BATCH: i64 = 500;

/// Most timers fired in one transaction. On SQLite that transaction holds
/// the one write lock while it runs, so this bounds how long the event
/// consumers wait for it.
pub const FIRE_BATCH: usize = 100;

/// How far a timer that failed on its own is moved ahead before it is
/// tried again.
pub const DEFER_FAILED_MS: i64 = 10_000;

/// How long to wait before retrying after a store failure.
const RETRY: Duration = Duration::from_secs(1);

/// Fires timers until `cancel` fires.
pub async fn run(ops: Ops, cancel: CancellationToken) {
    // Forecast checks in flight; dropped (aborted) with the loop. An
    // aborted check's lease runs out and the check is due again.
    let mut checks = JoinSet::new();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        while checks.try_join_next().is_some() {}
        let next = match fire_due(&ops, &cancel, &mut checks)
            .await
            .and(timers::next_due(&ops.store).await)
        {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(error = %err, "timer loop failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => continue,
                    _ = cancel.cancelled() => return,
                }
            }
        };
        // Other replicas may arm timers this one was not told about, so
        // look again now and then even with nothing armed.
        let sleep = ops.clock.sleep_until(next.unwrap_or(i64::MAX));
        tokio::select! {
            _ = sleep => {}
            _ = ops.timers_changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// Fires every timer due now, starting the forecast checks among them in
/// `checks`; how many fired or started.
pub async fn fire_due(
    ops: &Ops,
    cancel: &CancellationToken,
    checks: &mut JoinSet<()>,
) -> Result<usize, StoreError> {
    let mut fired = 0;
    loop {
        let due = timers::due(&ops.store, ops.now_ms(), BATCH).await?;
        if due.is_empty() {
            return Ok(fired);
        }
        let mut progressed = false;
        let mut plain = Vec::with_capacity(due.len());
        for timer in due {
            if forecast_check(&timer).is_none() {
                plain.push(timer);
                continue;
            }
            if let Fired::Check(check) = ops.fire_timer(&timer).await? {
                let ops = ops.clone();
                checks.spawn(async move {
                    if let Err(err) = ops.run_forecast_check(&check).await {
                        // The lease runs out and the check is due again.
                        tracing::warn!(team_id = %check.team_id, error = %err, "forecast check failed; retried when its lease ends");
                    }
                    ops.wake();
                });
                progressed = true;
                fired += 1;
            }
        }
        for chunk in plain.chunks(FIRE_BATCH) {
            if cancel.is_cancelled() {
                return Ok(fired);
            }
            let round = fire_chunk(ops, chunk).await?;
            fired += round.fired;
            progressed |= round.fired + round.deferred > 0;
            ops.outbox.notify();
            ops.wakers.wake_all();
        }
        if !progressed {
            // Every one was taken by someone else meanwhile.
            return Ok(fired);
        }
    }
}

/// What firing a chunk of due timers came to.
#[derive(Debug, Default)]
struct Round {
    /// Fired here.
    fired: usize,
    /// Failed on their own and moved ahead.
    deferred: usize,
}

/// Fires `chunk` in one transaction; when that fails, one timer per
/// transaction, deferring those that fail alone. Fails only when nothing
/// could be done (the store is down).
async fn fire_chunk(ops: &Ops, chunk: &[Timer]) -> Result<Round, StoreError> {
    let started = std::time::Instant::now();
    let err = match ops.fire_batch(chunk).await {
        Ok(fired) => {
            let now = ops.now_ms();
            let late_ms = chunk.iter().map(|t| now - t.due_at_ms).max();
            let took_ms = started.elapsed().as_millis() as u64;
            tracing::debug!(
                timers = chunk.len(),
                fired,
                ?late_ms,
                took_ms,
                "timers fired"
            );
            return Ok(Round { fired, deferred: 0 });
        }
        Err(err) => err,
    };
    tracing::warn!(timers = chunk.len(), error = %err, "firing a batch of timers failed; firing them one at a time");
    let mut round = Round::default();
    let mut first_err = None;
    for timer in chunk {
        match ops.fire_timer(timer).await {
            Ok(Fired::Done) => round.fired += 1,
            Ok(Fired::Elsewhere | Fired::Check(_)) => {}
            Err(err) => match ops.defer_timer(timer, DEFER_FAILED_MS).await {
                Ok(moved) => {
                    tracing::error!(timer_key = %timer.timer_key, error = %err, retry_in_ms = DEFER_FAILED_MS, "timer failed; moved ahead");
                    round.deferred += usize::from(moved);
                }
                Err(_) => {
                    first_err.get_or_insert(err);
                }
            },
        }
    }
    match first_err {
        Some(err) if round.fired + round.deferred == 0 => Err(err),
        _ => Ok(round),
    }
}

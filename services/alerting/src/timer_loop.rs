//! The timer loop: fires every due timer, earliest first, then sleeps until
//! the next one is due or something armed an earlier one. On start every
//! overdue timer fires at once (it is simply due), so a restart loses none.
//!
//! Each timer fires in its own transaction with its effects and events; the
//! conditional delete in [`crate::store::timers::take`] makes two replicas'
//! loops fire a timer once. A forecast check waits on reporting, so it is
//! leased (moved ahead, see [`crate::ops::forecast::LEASE_MS`]) and run as
//! its own task: a slow reporting holds that check only, never the others.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::ops::Ops;
use crate::ops::timers::Fired;
use crate::store::{StoreError, timers};

/// Timers read per round.
const BATCH: i64 = 500;

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
        let mut took_any = false;
        for timer in &due {
            if cancel.is_cancelled() {
                return Ok(fired);
            }
            match ops.fire_timer(timer).await? {
                Fired::Done => {
                    let late_ms = ops.now_ms() - timer.due_at_ms;
                    tracing::debug!(timer_key = %timer.timer_key, late_ms, "timer fired");
                }
                Fired::Check(check) => {
                    let ops = ops.clone();
                    checks.spawn(async move {
                        if let Err(err) = ops.run_forecast_check(&check).await {
                            // The lease runs out and the check is due again.
                            tracing::warn!(team_id = %check.team_id, error = %err, "forecast check failed; retried when its lease ends");
                        }
                        ops.wake();
                    });
                }
                Fired::Elsewhere => continue,
            }
            took_any = true;
            fired += 1;
        }
        ops.outbox.notify();
        ops.wakers.wake_all();
        if !took_any {
            // Every one was taken by someone else meanwhile.
            return Ok(fired);
        }
    }
}

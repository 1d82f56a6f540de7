//! The timer loop: fires every due timer, earliest first, then sleeps until
//! the next one is due or something armed an earlier one. On start every
//! overdue timer fires at once (it is simply due), so a restart loses none.
//!
//! Each timer fires in its own transaction with its effects and events; the
//! conditional delete in [`crate::store::timers::take`] makes two replicas'
//! loops fire a timer once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ops::Ops;
use crate::store::{StoreError, timers};

/// Timers read per round.
const BATCH: i64 = 500;

/// How long to wait before retrying after a store failure.
const RETRY: Duration = Duration::from_secs(1);

/// Fires timers until `cancel` fires.
pub async fn run(ops: Ops, cancel: CancellationToken) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let next = match fire_due(&ops, &cancel)
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

/// Fires every timer due now; how many fired.
pub async fn fire_due(ops: &Ops, cancel: &CancellationToken) -> Result<usize, StoreError> {
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
            let took = ops.fire_timer(timer).await?;
            if took {
                took_any = true;
                fired += 1;
                let late_ms = ops.now_ms() - timer.due_at_ms;
                tracing::debug!(timer_key = %timer.timer_key, late_ms, "timer fired");
            }
        }
        ops.outbox.notify();
        ops.wakers.wake_all();
        if !took_any {
            // Every one was taken by someone else meanwhile.
            return Ok(fired);
        }
    }
}

//! The time a service reads, injected so tests can move it by hand.
//!
//! Production runs on [`SystemClock`]. A test hands the service a
//! [`ManualClock`] and advances it past a deadline instead of sleeping
//! through the deadline; loops that sleep until a time on the clock also
//! wait on [`Clock::moved`], so they look again as soon as it jumps.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::store::now_ms;

/// A source of the current time, as UTC epoch milliseconds.
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current time.
    fn now_ms(&self) -> i64;

    /// Woken each time the clock is moved by hand; None for a clock that
    /// only runs forward by itself.
    fn moved(&self) -> Option<&Notify> {
        None
    }
}

/// A shared clock, as services hold it.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until [`ManualClock::advance`] moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    moved: Notify,
}

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn at(now_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            now: AtomicI64::new(now_ms),
            moved: Notify::new(),
        })
    }

    /// A clock standing at the system's current time.
    pub fn starting_now() -> Arc<Self> {
        Self::at(now_ms())
    }

    /// Moves the clock forward by `by` and wakes whoever waits on it.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn moved(&self) -> Option<&Notify> {
        Some(&self.moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_advanced_and_wakes_its_waiters() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move {
                clock
                    .moved()
                    .expect("a manual clock is moved")
                    .notified()
                    .await;
                clock.now_ms()
            })
        };
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(clock.now_ms(), 1_000, "it does not run by itself");
        clock.advance(Duration::from_secs(2));
        assert_eq!(waiter.await.unwrap(), 3_000);
        assert!(SystemClock.moved().is_none());
        assert!((SystemClock.now_ms() - now_ms()).abs() < 1_000);
    }
}

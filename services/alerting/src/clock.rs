//! The service's clock, injected so tests move time instead of waiting
//! ("stuck for 14 days" is tested by advancing a [`ManualClock`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// A future a clock returns from [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Tells the time and waits for it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, in UTC epoch milliseconds.
    fn now_ms(&self) -> i64;
    /// Resolves once [`Clock::now_ms`] is at least `at_ms`.
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        leadwheel_plumbing::now_ms()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that moves only when told to (tests).
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<watch::Sender<i64>>,
}

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(now_ms)),
        }
    }

    /// Moves the clock forward by `by`, waking every sleeper now due.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }

    /// Sets the clock to `now_ms` (never backwards).
    pub fn set(&self, now_ms: i64) {
        self.now.send_modify(|now| *now = (*now).max(now_ms));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, never wake.
            if rx.wait_for(|now| *now >= at_ms).await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_when_time_reaches_it() {
        let clock = ManualClock::new(1_000);
        let sleep = clock.sleep_until(5_000);
        let woke = tokio::spawn(sleep);
        clock.advance(Duration::from_millis(3_000));
        tokio::task::yield_now().await;
        assert!(!woke.is_finished());
        clock.advance(Duration::from_millis(1_000));
        tokio::time::timeout(Duration::from_secs(5), woke)
            .await
            .expect("woke")
            .unwrap();
        assert_eq!(clock.now_ms(), 5_000);
    }
}

//! The weekly snapshot job: takes every snapshot due (the latest scheduled
//! moment, and after downtime the missed ones, see
//! [`Schedule::due`](crate::snapshot::Schedule::due)), then sleeps until
//! the next moment. Durable and idempotent: what was taken is in the
//! store, so a restart takes only what is missing, and a snapshot taken by
//! another replica is found and left alone.

use std::time::Duration;

use jiff::tz::TimeZone;
use leadwheel_plumbing::clock::SharedClock;
use leadwheel_plumbing::store::StoreError;
use tokio_util::sync::CancellationToken;

use crate::models::queries::Reader;
use crate::snapshot::{self, Schedule};

/// The longest sleep between looks (the clock is read again after it).
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// The wait before trying again after a store failure.
const RETRY: Duration = Duration::from_secs(30);

/// What the job needs.
#[derive(Clone, Debug)]
pub struct SnapshotJob {
    /// Reads the history and stores snapshots.
    pub reader: Reader,
    /// When to take them.
    pub schedule: Schedule,
    /// The business time zone.
    pub zone: TimeZone,
    /// The time.
    pub clock: SharedClock,
}

impl SnapshotJob {
    /// Takes every snapshot due now; how many it took.
    pub async fn take_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let last = match self.reader.latest_snapshot().await? {
            Some(taken) => taken.day.parse().ok(),
            None => None,
        };
        let mut taken = 0;
        for due in self.schedule.due(last, now, &self.zone) {
            let deals = self.reader.deals_for_snapshot(&due, &self.zone).await?;
            let lines = snapshot::lines(&deals);
            if self
                .reader
                .store_snapshot(&due, &deals, &lines, now)
                .await?
            {
                taken += 1;
                tracing::info!(day = %due.day, at = %snapshot::instant(due.at_ms), deals = deals.len(), "forecast snapshot taken");
            }
        }
        Ok(taken)
    }

    /// Runs until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let sleep_for = match self.take_due().await {
                Ok(_) => {
                    let now = self.clock.now_ms();
                    let next = self.schedule.next(now, &self.zone).at_ms;
                    Duration::from_millis((next - now).max(0) as u64).min(MAX_SLEEP)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "taking the forecast snapshot failed; retrying");
                    RETRY
                }
            };
            let clock_moved = async {
                match self.clock.moved() {
                    Some(moved) => moved.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep_for) => {}
                _ = clock_moved => {}
                _ = stop.cancelled() => break,
            }
        }
    }
}

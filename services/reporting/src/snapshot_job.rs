//! The weekly snapshot job: takes every snapshot due (the latest scheduled
//! moment, and after downtime the missed ones, see
//! [`Schedule::due`](crate::snapshot::Schedule::due)), then sleeps until
//! the next moment. Durable and idempotent: what was taken is in the
//! store, so a restart takes only what is missing, and a snapshot taken by
//! another replica is found and left alone. Before taking one it waits (a
//! bounded time) for the consumers to apply what is pending on their
//! streams, so a snapshot taken after downtime holds the events published
//! meanwhile about the time before its moment.

use std::time::Duration;

use jiff::tz::TimeZone;
use leadwheel_plumbing::bus::Bus;
use leadwheel_plumbing::clock::SharedClock;
use leadwheel_plumbing::store::StoreError;
use tokio_util::sync::CancellationToken;

use crate::CONSUMERS;
use crate::models::queries::Reader;
use crate::snapshot::{self, Schedule};

/// The longest sleep between looks (the clock is read again after it).
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// The wait before trying again after a store failure.
const RETRY: Duration = Duration::from_secs(30);
/// The longest wait for the consumers to catch up before a snapshot.
const CATCH_UP: Duration = Duration::from_secs(60);

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
    /// The bus the consumers read (to see what is still pending).
    pub bus: Bus,
}

impl SnapshotJob {
    /// True when every consumer has applied all of its stream (a stream
    /// nobody published to yet has nothing pending).
    async fn caught_up(&self) -> bool {
        for (durable, stream) in CONSUMERS {
            let Ok(stream) = self.bus.jetstream.get_stream(stream.name).await else {
                continue;
            };
            match stream.consumer_info(durable).await {
                Ok(info) if info.num_pending == 0 && info.num_ack_pending == 0 => {}
                // Pending, or the consumer not created yet.
                _ => return false,
            }
        }
        true
    }

    /// Waits until the consumers have caught up, at most [`CATCH_UP`].
    async fn wait_caught_up(&self, stop: &CancellationToken) {
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        while !self.caught_up().await {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    "the consumers are still behind; taking the forecast snapshot anyway"
                );
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Takes every snapshot due now (once the consumers caught up); how
    /// many it took.
    pub async fn take_due(&self, stop: &CancellationToken) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let last = match self.reader.latest_snapshot().await? {
            Some(taken) => taken.day.parse().ok(),
            None => None,
        };
        let due = self.schedule.due(last, now, &self.zone);
        if due.is_empty() {
            return Ok(0);
        }
        self.wait_caught_up(stop).await;
        let mut taken = 0;
        for due in due {
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
            let sleep_for = match self.take_due(&stop).await {
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

//! The writer's lease on Postgres. Several replicas share one store
//! there, and batches that hold the same rows (a team's rotation above
//! all) until they commit wait on each other and mostly lose their races
//! (measured: the three-replica test stopped settling when every replica
//! batched). So one replica at a time batches: the holder of a lease
//! row (`wheel_writer_lease`) that it renews every [`RENEW_EVERY`] and
//! that lapses [`TTL`] after its last renewal. The holder's writer
//! batches claims, passes, manager actions and expiries, and its inbox
//! routes new leads in batches; the other replicas forward claims,
//! passes and manager actions to it (see `forward`), leave new leads to
//! its inbox (their lead consumer pulls nothing while another replica
//! holds the lease), and leave due offers to the holder for
//! [`TIMER_GRACE`] before expiring them themselves. A holder that died
//! delays expiries by at most that grace, and new leads until its lease
//! lapses ([`TTL`]) and another replica takes it (within a second).
//!
//! Fencing: every batch first updates the lease row naming its holder
//! and epoch (the epoch grows with each change of holder), which also
//! keeps the row locked until the batch ends. A batch of a holder that
//! was deposed (paused past its lease, say) finds no row and is dropped
//! before it writes; a takeover waits for the open batch to end. The
//! conditional writes stay the real guard of every transition: the lease
//! only decides who batches.
//!
//! One shard for now: the whole store. The lease is taken from the real
//! clock, not the engine's (a test's manual clock must not lapse it).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use leadwheel_plumbing::metrics;
use leadwheel_plumbing::store::{Backend, now_ms};
use prometheus_client::metrics::gauge::Gauge;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::error::WheelError;
use crate::store;

/// The lease's one shard.
const SHARD: &str = "wheel";
/// How long a lease lasts after its last renewal.
pub const TTL: Duration = Duration::from_secs(5);
/// How often the holder renews it (and the others try to take it).
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How long past its deadline a replica without the lease leaves an
/// offer to the holder before expiring it itself.
pub const TIMER_GRACE: Duration = Duration::from_secs(6);

static LEASE_HELD: LazyLock<Gauge> = LazyLock::new(|| {
    let gauge = Gauge::default();
    metrics::register(
        "wheel_writer_lease_epoch",
        "The epoch of the writer's lease this replica holds (Postgres), 0 when another replica holds it",
        gauge.clone(),
    );
    gauge
});

/// This replica's side of the lease.
#[derive(Debug)]
pub(super) struct Lease {
    /// Names this process in the lease row.
    holder: String,
    /// The epoch held; 0 while another replica holds the lease.
    epoch: AtomicI64,
    /// Whether another replica was last seen holding it (false when this
    /// one does, or the lease could not be read).
    elsewhere: AtomicBool,
}

impl Default for Lease {
    fn default() -> Self {
        Self {
            holder: leadwheel_plumbing::ids::new_id(),
            epoch: AtomicI64::new(0),
            elsewhere: AtomicBool::new(false),
        }
    }
}

impl Lease {
    pub(super) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn set(&self, epoch: i64) {
        let before = self.epoch.swap(epoch, Ordering::AcqRel);
        LEASE_HELD.set(epoch);
        match (before, epoch) {
            (0, 1..) => tracing::info!(
                epoch,
                "this replica holds the writer's lease: it batches the wheel's writes"
            ),
            (1.., 0) => tracing::warn!(
                epoch = before,
                "this replica lost the writer's lease: it forwards commands to the holder, or applies them alone when none answers"
            ),
            _ => {}
        }
    }
}

fn expires_at() -> i64 {
    now_ms() + TTL.as_millis() as i64
}

impl Engine {
    /// Whether this replica holds the writer's lease (always on SQLite,
    /// where the process is the store's only writer).
    pub(super) fn holds_lease(&self) -> bool {
        self.store.backend() == Backend::Sqlite || self.lease.epoch() > 0
    }

    /// Whether another replica holds the writer's lease, as last seen:
    /// then new leads are left to it (see `consumer`). False on SQLite,
    /// for the holder, and while the lease cannot be read.
    pub fn lease_held_elsewhere(&self) -> bool {
        self.lease.elsewhere.load(Ordering::Acquire)
    }

    /// Takes or renews the lease once; on SQLite nothing.
    pub async fn renew_lease(&self) -> Result<bool, WheelError> {
        if self.store.backend() == Backend::Sqlite {
            return Ok(true);
        }
        let result = async {
            let mut conn = self.read().await?;
            store::lease::try_hold(&mut conn, SHARD, &self.lease.holder, now_ms(), expires_at())
                .await
        }
        .await;
        match result {
            Ok(held) => {
                self.lease.set(held.unwrap_or(0));
                self.lease
                    .elsewhere
                    .store(held.is_none(), Ordering::Release);
                Ok(held.is_some())
            }
            Err(err) => {
                // Unable to renew: another replica may take the lease
                // over, so stop batching until renewed (and route new
                // leads here meanwhile: nobody may be holding it).
                self.lease.set(0);
                self.lease.elsewhere.store(false, Ordering::Release);
                Err(err)
            }
        }
    }

    /// Renews the lease (or tries to take it) every [`RENEW_EVERY`] until
    /// `cancel` fires, then lets it lapse; on SQLite returns at once.
    pub async fn run_lease(self, cancel: CancellationToken) {
        if self.store.backend() == Backend::Sqlite {
            return;
        }
        let mut tick = tokio::time::interval(RENEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = cancel.cancelled() => break,
            }
            if let Err(err) = self.renew_lease().await {
                tracing::warn!(error = %err, "renewing the writer's lease failed");
            }
        }
        // The writer may still drain its queue: a batch of a lapsed lease
        // still passes the fence until another replica takes it over.
        let released = async {
            let mut conn = self.read().await?;
            store::lease::release(&mut conn, SHARD, &self.lease.holder).await
        }
        .await;
        if let Err(err) = released {
            tracing::warn!(error = %err, "releasing the writer's lease failed");
        }
    }

    /// Inside a batch's transaction on Postgres: passes if this replica
    /// still holds the lease at the epoch it knows (and extends it),
    /// `Conflict` otherwise; on SQLite always passes.
    pub(super) async fn fence(&self, conn: &mut AnyConnection) -> Result<(), WheelError> {
        if self.store.backend() == Backend::Sqlite {
            return Ok(());
        }
        let epoch = self.lease.epoch();
        let lost =
            || WheelError::Conflict("this replica no longer holds the writer's lease".into());
        if epoch == 0 {
            return Err(lost());
        }
        if store::lease::fence(conn, SHARD, &self.lease.holder, epoch, expires_at()).await? {
            Ok(())
        } else {
            if self
                .lease
                .epoch
                .compare_exchange(epoch, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.lease.elsewhere.store(true, Ordering::Release);
            }
            tracing::warn!(
                epoch,
                "a batch found the writer's lease taken over; it is redone alone"
            );
            Err(lost())
        }
    }

    /// How long past its deadline this replica leaves an offer before
    /// expiring it: nothing for the lease's holder, [`TIMER_GRACE`] for
    /// the others.
    pub fn timer_grace_ms(&self) -> i64 {
        if self.holds_lease() {
            0
        } else {
            TIMER_GRACE.as_millis() as i64
        }
    }
}

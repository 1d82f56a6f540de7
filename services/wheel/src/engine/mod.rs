//! The service side of routing: loads a lead, its team and the team's
//! eligibility, asks the pure core for a decision ([`decide`]), and carries
//! it out in one transaction ([`crate::effects`]). Deciding and writing are
//! two typed steps: a refused input is an [`Outcome::Refused`] that wrote
//! nothing, never an error to be told apart after the fact. Whoever loses a
//! race sees zero rows, rolls back and retries against the new state.
//!
//! The engine owns the store, the outbox, the bus and the clock: every
//! transaction of the service is opened here ([`Engine::begin`]) and every
//! commit wakes the relay, the timers and the live pushes
//! ([`Engine::commit`]). Claims, passes, manager actions and expiries go
//! through one writer task that commits them in batches
//! ([`Engine::submit`], see `writer`): on SQLite always, on Postgres in
//! the replica holding the writer's lease (see `lease`), to which the
//! other replicas forward theirs (see `forward`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use leadwheel_plumbing::clock::SharedClock;
use leadwheel_plumbing::outbox::{Outbox, Written};
use leadwheel_plumbing::{Bus, EventDraft, Store, Tx};
use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::error::WheelError;
use crate::live::{self, Push};
use crate::store::{LedgerEntry, Roster};

mod apply;
mod decide;
mod forward;
mod lease;
mod route;
mod staged;
mod writer;

pub use decide::{Outcome, Planned, Refusal};
pub use forward::{Forwarded, Reply as ForwardedReply, TIMEOUT as FORWARD_TIMEOUT};
pub use lease::{TIMER_GRACE, TTL as LEASE_TTL};
pub use writer::Applied;

/// A pooled read connection.
pub type ReadConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Who asked for a transition, for the ledger and events.
pub const SYSTEM: &str = "wheel";

/// Routes leads: shared by the operations, the event consumers and the timers.
#[derive(Clone, Debug)]
pub struct Engine {
    store: Store,
    outbox: Outbox,
    bus: Bus,
    clock: SharedClock,
    /// Wakes the timer loop when a new deadline may be the earliest.
    timers: Arc<Notify>,
    /// Team rosters as last read, by roster version.
    rosters: RosterCache,
    /// The writer's queue, once it runs ([`Engine::run_writer`]).
    writer: writer::Queue,
    /// Whether this replica batches (Postgres; see `lease`).
    lease: Arc<lease::Lease>,
}

impl Engine {
    /// An engine over the service's store, outbox and bus, reading `clock`.
    pub fn new(store: Store, outbox: Outbox, bus: Bus, clock: SharedClock) -> Self {
        Self {
            store,
            outbox,
            bus,
            clock,
            timers: Arc::new(Notify::new()),
            rosters: RosterCache::default(),
            writer: writer::Queue::default(),
            lease: Arc::default(),
        }
    }

    /// The current time on the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The service's clock (the timer loop waits on it).
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Notified when a new deadline may be the earliest.
    pub fn timers(&self) -> &Notify {
        &self.timers
    }

    /// Whether transitions are applied in batches staged in memory: on
    /// SQLite, where this process is the store's only writer, and on
    /// Postgres while this replica holds the writer's lease (see `lease`).
    pub fn batches(&self) -> bool {
        self.holds_lease()
    }

    /// A pooled connection for reads outside any transaction.
    pub async fn read(&self) -> Result<ReadConn, WheelError> {
        Ok(self.store.pool().acquire().await?)
    }

    /// Opens a write transaction: the only place the wheel does.
    pub async fn begin(&self) -> Result<Tx, WheelError> {
        Ok(self.store.begin().await?)
    }

    /// Commits `tx`, then wakes the relay and the timers and sends `pushes`.
    pub async fn commit(&self, tx: Tx, pushes: Vec<Push>) -> Result<(), WheelError> {
        tx.commit().await?;
        self.after_commit(pushes).await;
        Ok(())
    }

    /// Commits `tx`, then hands the events it wrote (`written`) straight
    /// to the relay, wakes the timers and sends `pushes`.
    pub async fn commit_written(
        &self,
        tx: Tx,
        pushes: Vec<Push>,
        written: Written,
    ) -> Result<(), WheelError> {
        tx.commit().await?;
        self.outbox.publish_committed(written);
        self.timers.notify_one();
        live::send(&self.bus, self.now(), pushes).await;
        Ok(())
    }

    /// Records `draft` in the outbox inside the caller's transaction.
    pub async fn emit(
        &self,
        conn: &mut AnyConnection,
        draft: EventDraft,
    ) -> Result<(), WheelError> {
        self.outbox.enqueue(conn, draft).await?;
        Ok(())
    }

    /// Subscribes to the live pushes of `rep_id`'s offers.
    pub async fn subscribe_offers(
        &self,
        rep_id: &str,
    ) -> Result<async_nats::Subscriber, WheelError> {
        self.bus
            .client
            .subscribe(leadwheel_plumbing::bus::subjects::live_rep_offers(rep_id))
            .await
            .map_err(|err| WheelError::Unavailable(format!("live offers unavailable: {err}")))
    }

    /// Work to do once the transaction that produced `pushes` committed.
    async fn after_commit(&self, pushes: Vec<Push>) {
        self.outbox.notify();
        self.timers.notify_one();
        live::send(&self.bus, self.now(), pushes).await;
    }

    /// What an inbox handler does once its event committed (the inbox has
    /// woken the outbox relay): wake the timer loop, since a new deadline
    /// may be the earliest, and send the live pushes without blocking the
    /// consumer.
    pub fn after_event_commit(&self, pushes: Vec<Push>, written: Written) {
        self.outbox.publish_committed(written);
        self.timers.notify_one();
        if !pushes.is_empty() {
            let bus = self.bus.clone();
            let now = self.now();
            tokio::spawn(async move { live::send(&bus, now, pushes).await });
        }
    }
}

/// Each team's members as last read from the store, with the roster
/// version they were read at. Reading a team's row (which every decision
/// does anyway) tells whether the copy is current, so a decision reads the
/// members only after someone changed them, here or on another replica.
/// Loads of capped reps change with every offer and are always read fresh.
#[derive(Clone, Debug, Default)]
struct RosterCache {
    teams: Arc<Mutex<HashMap<String, CachedRoster>>>,
}

/// A roster and the version it was read at.
type CachedRoster = (i64, Arc<Roster>);

impl RosterCache {
    fn get(&self, team_id: &str, version: i64) -> Option<Arc<Roster>> {
        let teams = self.teams.lock().expect("roster cache");
        teams
            .get(team_id)
            .filter(|(cached, _)| *cached == version)
            .map(|(_, reps)| reps.clone())
    }

    fn put(&self, team_id: &str, version: i64, reps: Arc<Roster>) {
        let mut teams = self.teams.lock().expect("roster cache");
        teams.insert(team_id.to_string(), (version, reps));
    }
}

/// A ledger entry.
pub fn entry<'a>(
    lead_id: &'a str,
    kind: &'a str,
    rep_id: Option<&'a str>,
    offer_no: Option<u32>,
    detail: String,
    at_ms: i64,
) -> LedgerEntry<'a> {
    LedgerEntry {
        lead_id,
        kind,
        rep_id,
        offer_no: offer_no.map(i64::from),
        detail,
        at_ms,
    }
}

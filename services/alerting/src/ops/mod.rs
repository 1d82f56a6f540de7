//! Operations: every change to an alert, each inside the caller's
//! transaction together with its outbox event and the timers it arms or
//! disarms. The consumers, the timer loop and the gRPC API all go through
//! here, so a transition has one implementation.

pub mod lifecycle;
pub mod manage;
pub mod timers;

use std::sync::Arc;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{EventDraft, Store, Tx};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::store::StoreError;

/// What every operation needs.
#[derive(Clone, Debug)]
pub struct Ops {
    /// The store.
    pub store: Store,
    /// Where events go.
    pub outbox: Outbox,
    /// The time.
    pub clock: SharedClock,
    /// Wakes the timer loop after a commit that armed a timer.
    pub timers_changed: Arc<Notify>,
}

impl Ops {
    /// Operations over `store`, announcing through `outbox`, timed by `clock`.
    pub fn new(store: Store, outbox: Outbox, clock: SharedClock) -> Self {
        Self {
            store,
            outbox,
            clock,
            timers_changed: Arc::new(Notify::new()),
        }
    }

    /// Now, by the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn emit(&self, tx: &mut Tx, draft: EventDraft) -> Result<(), StoreError> {
        self.outbox.enqueue(tx, draft).await?;
        Ok(())
    }

    /// Tells the timer loop to look again (call after a commit).
    pub fn wake_timers(&self) {
        self.timers_changed.notify_one();
    }
}

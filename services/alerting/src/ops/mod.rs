//! Operations: every change to an alert, each inside the caller's
//! transaction together with its outbox event and the timers it arms or
//! disarms. The consumers, the timer loop and the gRPC API all go through
//! here, so a transition has one implementation.

pub mod channels;
pub mod forecast;
pub mod lifecycle;
pub mod manage;
pub mod timers;

use std::sync::Arc;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{EventDraft, Store, Tx};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::delivery::{self, Wakers};
use crate::store::{Alert, StoreError, deliveries};

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
    /// Wakes the delivery workers after a commit that wrote deliveries.
    pub wakers: Wakers,
    /// Whether an SMTP server is configured (else no email rows).
    pub email_enabled: bool,
    /// Reporting's API, for forecast checks (None: every check retries).
    pub reporting: Option<forecast::Reporting>,
}

impl Ops {
    /// Operations over `store`, announcing through `outbox`, timed by `clock`.
    pub fn new(store: Store, outbox: Outbox, clock: SharedClock) -> Self {
        Self {
            store,
            outbox,
            clock,
            timers_changed: Arc::new(Notify::new()),
            wakers: Wakers::default(),
            email_enabled: false,
            reporting: None,
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

    /// Tells the timer loop and the delivery workers to look again (call
    /// after a commit).
    pub fn wake(&self) {
        self.timers_changed.notify_one();
        self.wakers.wake_all();
    }

    /// Writes the deliveries telling `to` about `alert` on the channels each
    /// chose (live; email with an address, after their quiet hours) and the
    /// team's webhook, for `reason`.
    pub async fn enqueue_deliveries(
        &self,
        tx: &mut Tx,
        alert: &Alert,
        reason: &str,
        to: &[String],
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        for recipient in to {
            let prefs = deliveries::prefs_of(tx, recipient).await?;
            if prefs.live {
                let subject = leadwheel_plumbing::bus::subjects::live_alerts(recipient);
                deliveries::enqueue(
                    tx,
                    &alert.alert_id,
                    delivery::LIVE,
                    recipient,
                    &subject,
                    reason,
                    now,
                    now,
                )
                .await?;
            }
            if self.email_enabled && prefs.by_email && !prefs.email.is_empty() {
                // Quiet hours hold email until they end; a digest until
                // the end of its interval.
                let due = prefs.email_due(now);
                deliveries::enqueue(
                    tx,
                    &alert.alert_id,
                    delivery::EMAIL,
                    recipient,
                    &prefs.email,
                    reason,
                    now,
                    due,
                )
                .await?;
            }
        }
        let url = deliveries::webhook_of(tx, &alert.team_id).await?;
        if !url.is_empty() {
            deliveries::enqueue(
                tx,
                &alert.alert_id,
                delivery::WEBHOOK,
                "",
                &url,
                reason,
                now,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

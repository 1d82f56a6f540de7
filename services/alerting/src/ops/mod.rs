//! Operations: every change to an alert, each inside the caller's
//! transaction together with its outbox event and the timers it arms or
//! disarms. The consumers, the timer loop and the gRPC API all go through
//! here, so a transition has one implementation.

pub mod channels;
pub mod forecast;
pub mod lifecycle;
pub mod manage;
pub mod timers;

use std::collections::HashMap;
use std::sync::Arc;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{EventDraft, Store, Tx};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::delivery::{self, Wakers};
use crate::prefs::Prefs;
use crate::rules::RuleConfig;
use crate::store::{Alert, StoreError, deliveries, directory, rules as rule_store};

/// Most outbox rows written by one statement.
const FLUSH_ROWS: usize = 500;

/// What the operations of one transaction share: the rows they look up
/// (a team's rule, manager and webhook, a person's preferences), read once
/// on first use, and their outbox events, written together in one
/// statement by [`Ops::flush`] before the commit. The timer loop fires a
/// batch of timers with one; a single operation uses its own.
///
/// Only for operations that do not change what it caches: none of the
/// timer-fired ones (raise, escalate, end a snooze) sets rules, managers,
/// webhooks or preferences.
#[derive(Debug, Default)]
pub struct Batch {
    rules: HashMap<(String, String), RuleConfig>,
    managers: HashMap<String, String>,
    webhooks: HashMap<String, String>,
    prefs: HashMap<String, Prefs>,
    events: Vec<EventDraft>,
}

impl Batch {
    /// `team_id`'s `rule`, as set or defaulted.
    pub async fn rule(
        &mut self,
        tx: &mut Tx,
        team_id: &str,
        rule: &str,
    ) -> Result<RuleConfig, StoreError> {
        let key = (team_id.to_string(), rule.to_string());
        if let Some(config) = self.rules.get(&key) {
            return Ok(config.clone());
        }
        let config = rule_store::get(tx, team_id, rule).await?;
        self.rules.insert(key, config.clone());
        Ok(config)
    }

    /// `team_id`'s manager (empty: unknown).
    pub async fn manager(&mut self, tx: &mut Tx, team_id: &str) -> Result<String, StoreError> {
        if let Some(manager) = self.managers.get(team_id) {
            return Ok(manager.clone());
        }
        let manager = directory::manager_of(tx, team_id).await?;
        self.managers.insert(team_id.to_string(), manager.clone());
        Ok(manager)
    }

    async fn webhook(&mut self, tx: &mut Tx, team_id: &str) -> Result<String, StoreError> {
        if let Some(url) = self.webhooks.get(team_id) {
            return Ok(url.clone());
        }
        let url = deliveries::webhook_of(tx, team_id).await?;
        self.webhooks.insert(team_id.to_string(), url.clone());
        Ok(url)
    }

    async fn prefs(&mut self, tx: &mut Tx, recipient_id: &str) -> Result<Prefs, StoreError> {
        if let Some(prefs) = self.prefs.get(recipient_id) {
            return Ok(prefs.clone());
        }
        let prefs = deliveries::prefs_of(tx, recipient_id).await?;
        self.prefs.insert(recipient_id.to_string(), prefs.clone());
        Ok(prefs)
    }

    /// Queues `draft` for [`Ops::flush`].
    pub fn emit(&mut self, draft: EventDraft) {
        self.events.push(draft);
    }
}

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
    /// The business time zone: where a due date ends and a period starts.
    pub zone: jiff::tz::TimeZone,
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
            zone: jiff::tz::TimeZone::UTC,
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

    /// Writes `batch`'s queued events to the outbox in `tx`, in the order
    /// they were queued, in one statement.
    pub async fn flush(&self, tx: &mut Tx, batch: &mut Batch) -> Result<(), StoreError> {
        let mut drafts = std::mem::take(&mut batch.events);
        while !drafts.is_empty() {
            // Six parameters a row: well under either backend's limit.
            let rest = drafts.split_off(drafts.len().min(FLUSH_ROWS));
            self.outbox.enqueue_all(tx, drafts).await?;
            drafts = rest;
        }
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
    /// team's webhook, for `reason`; targets looked up through `batch`.
    pub async fn enqueue_deliveries(
        &self,
        tx: &mut Tx,
        alert: &Alert,
        reason: &str,
        to: &[String],
        batch: &mut Batch,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        for recipient in to {
            let prefs = batch.prefs(tx, recipient).await?;
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
        let url = batch.webhook(tx, &alert.team_id).await?;
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

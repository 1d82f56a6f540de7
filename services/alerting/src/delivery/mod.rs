//! Delivery: every alert change that tells someone (raised, escalated, a
//! snooze over) writes delivery rows in its own transaction; one worker per
//! channel sends them, records each attempt, retries failures with
//! exponential backoff and jitter, and dead-letters what cannot succeed
//! (a 4xx from a webhook, a permanent SMTP refusal, too many attempts).
//! The log is listed by `leadctl alerts deliveries`.

pub mod email;
pub mod live;
pub mod render;
pub mod signin;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::DeliveryConfig;
use crate::store::deliveries::{self, Delivery};
use crate::store::{Alert, AlertStore, StoreError};
use leadwheel_plumbing::Store;

/// The live channel (core NATS, per recipient).
pub const LIVE: &str = "live";
/// The team webhook channel.
pub const WEBHOOK: &str = "webhook";
/// The email channel.
pub const EMAIL: &str = "email";

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Sent,
    /// Failed in a way a later attempt may not (5xx, timeout, connection).
    Retry(String),
    /// Can never succeed (4xx, a permanent SMTP refusal).
    Dead(String),
}

/// One way of telling people.
pub trait Channel: Send + Sync + 'static {
    /// The channel's name in the log.
    fn name(&self) -> &'static str;
    /// One attempt to deliver `alert` as `delivery` says.
    fn send(&self, delivery: &Delivery, alert: &Alert) -> impl Future<Output = Outcome> + Send;

    /// Whether this channel gathers a person's due deliveries into one when
    /// they asked for a digest.
    fn gathers(&self) -> bool {
        false
    }

    /// One attempt to deliver several alerts (`alerts[i]` for
    /// `deliveries[i]`) to one person at once.
    fn send_digest(
        &self,
        _deliveries: &[Delivery],
        _alerts: &[Alert],
    ) -> impl Future<Output = Outcome> + Send {
        async { Outcome::Dead("this channel sends no digests".into()) }
    }
}

/// Wakes the delivery workers when rows were written.
#[derive(Clone, Debug, Default)]
pub struct Wakers {
    live: Arc<Notify>,
    webhook: Arc<Notify>,
    email: Arc<Notify>,
}

impl Wakers {
    /// Wakes every worker (call after a commit that wrote deliveries).
    pub fn wake_all(&self) {
        self.live.notify_one();
        self.webhook.notify_one();
        self.email.notify_one();
    }

    fn of(&self, channel: &str) -> Arc<Notify> {
        match channel {
            LIVE => self.live.clone(),
            WEBHOOK => self.webhook.clone(),
            _ => self.email.clone(),
        }
    }
}

/// The delay before attempt `attempts + 1`: `base × 2^attempts`, capped at
/// `max`, with the upper half random so many failing deliveries do not
/// retry in lockstep.
pub fn backoff(config: &DeliveryConfig, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let full = config
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(config.backoff_max);
    let half = full / 2;
    let jitter_ms = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter_ms)
}

/// Runs one channel's worker until `cancel` fires.
pub async fn run_worker<C: Channel>(
    channel: C,
    store: Store,
    clock: SharedClock,
    config: DeliveryConfig,
    wakers: Wakers,
    cancel: CancellationToken,
) {
    let wake = wakers.of(channel.name());
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let next = match send_due(&channel, &store, &clock, &config, &cancel).await {
            Ok(()) => deliveries::next_due(&store, channel.name()).await,
            Err(err) => Err(err),
        };
        let next = match next {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(channel = channel.name(), error = %err, "delivery worker failed; retrying");
                None
            }
        };
        tokio::select! {
            _ = clock.sleep_until(next.unwrap_or(i64::MAX)) => {}
            _ = wake.notified() => {}
            // Other replicas write rows too: look now and then.
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

async fn send_due<C: Channel>(
    channel: &C,
    store: &Store,
    clock: &SharedClock,
    config: &DeliveryConfig,
    cancel: &CancellationToken,
) -> Result<(), StoreError> {
    let alerts = AlertStore::new(store.clone());
    loop {
        let due = deliveries::due(store, channel.name(), clock.now_ms(), 50).await?;
        if due.is_empty() {
            return Ok(());
        }
        // Deliveries for people who want a digest go together, per person.
        let mut digests: std::collections::BTreeMap<String, Vec<Delivery>> = Default::default();
        let mut singles = Vec::new();
        for delivery in due {
            if channel.gathers()
                && deliveries::prefs_now(store, &delivery.recipient_id)
                    .await?
                    .digest_minutes
                    > 0
            {
                digests
                    .entry(delivery.recipient_id.clone())
                    .or_default()
                    .push(delivery);
            } else {
                singles.push(delivery);
            }
        }
        for delivery in singles {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let outcome = match alerts.get(&delivery.alert_id).await? {
                Some(alert) => channel.send(&delivery, &alert).await,
                None => Outcome::Dead(format!("alert {} does not exist", delivery.alert_id)),
            };
            record(store, clock, config, &delivery, outcome).await?;
        }
        for (_, group) in digests {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let mut found = Vec::with_capacity(group.len());
            for delivery in &group {
                // Alerts are never deleted; a missing one fails the digest.
                found.push(alerts.get(&delivery.alert_id).await?.unwrap_or_default());
            }
            let outcome = channel.send_digest(&group, &found).await;
            for delivery in &group {
                record(store, clock, config, delivery, outcome.clone()).await?;
            }
        }
    }
}

async fn record(
    store: &Store,
    clock: &SharedClock,
    config: &DeliveryConfig,
    delivery: &Delivery,
    outcome: Outcome,
) -> Result<(), StoreError> {
    let now = clock.now_ms();
    let attempt = delivery.attempts + 1;
    let (state, next, error) = match outcome {
        Outcome::Sent => ("sent", now, String::new()),
        Outcome::Dead(error) => ("dead", now, error),
        Outcome::Retry(error) if attempt >= config.max_attempts => (
            "dead",
            now,
            format!("{error} (gave up after {attempt} attempts)"),
        ),
        Outcome::Retry(error) => {
            let delay =
                i64::try_from(backoff(config, delivery.attempts).as_millis()).unwrap_or(i64::MAX);
            ("pending", now.saturating_add(delay), error)
        }
    };
    deliveries::record_attempt(store, delivery, state, next, &error, now).await?;
    match state {
        "sent" => {
            tracing::info!(delivery_id = %delivery.delivery_id, channel = %delivery.channel, alert_id = %delivery.alert_id, attempt, "alert delivered")
        }
        "dead" => {
            tracing::warn!(delivery_id = %delivery.delivery_id, channel = %delivery.channel, alert_id = %delivery.alert_id, attempt, error = %error, "delivery dead-lettered")
        }
        _ => {
            tracing::info!(delivery_id = %delivery.delivery_id, channel = %delivery.channel, attempt, retry_at_ms = next, error = %error, "delivery failed; will retry")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let config = DeliveryConfig {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            ..Default::default()
        };
        for _ in 0..50 {
            let first = backoff(&config, 0);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let third = backoff(&config, 2);
            assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(8));
            let late = backoff(&config, 20);
            assert!(late >= Duration::from_secs(30) && late <= Duration::from_secs(60));
        }
    }
}

//! Webhook: a Slack-compatible JSON body (`text` and `blocks`) POSTed to the
//! team's URL, signed like intake's signups (`X-Leadwheel-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) when a secret is
//! configured. 2xx is delivered; 5xx, 408, 429, timeouts and connection
//! errors are retried; any other 4xx is dead-lettered.

use std::time::Duration;

use hmac::{Hmac, Mac};
use leadwheel_plumbing::config::Secret;
use sha2::Sha256;

use super::{Channel, Outcome, WEBHOOK, render};
use crate::clock::SharedClock;
use crate::store::Alert;
use crate::store::deliveries::Delivery;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-leadwheel-signature";

/// POSTs to team webhooks.
#[derive(Clone, Debug)]
pub struct Webhook {
    http: reqwest::Client,
    secret: Option<Secret>,
    clock: SharedClock,
}

impl Webhook {
    /// A sender with `timeout` per POST, signing with `secret` if given.
    pub fn new(timeout: Duration, secret: Option<Secret>, clock: SharedClock) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("leadwheel-alerting")
            .build()
            .expect("an HTTP client with a timeout builds");
        Self {
            http,
            secret,
            clock,
        }
    }
}

/// `t=<unix seconds>,v1=<hex>` for `body` at `unix_s`.
pub fn signature(secret: &str, unix_s: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(unix_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={unix_s},v1={hex}")
}

impl Channel for Webhook {
    fn name(&self) -> &'static str {
        WEBHOOK
    }

    async fn send(&self, delivery: &Delivery, alert: &Alert) -> Outcome {
        let body = serde_json::to_vec(&render::slack(alert, &delivery.reason))
            .expect("a JSON value serializes");
        let mut request = self
            .http
            .post(&delivery.target)
            .header("content-type", "application/json");
        if let Some(secret) = &self.secret {
            let unix_s = self.clock.now_ms() / 1_000;
            request = request.header(SIGNATURE_HEADER, signature(secret.expose(), unix_s, &body));
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    Outcome::Sent
                } else if status.is_server_error()
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    Outcome::Retry(format!("the webhook answered {status}"))
                } else {
                    Outcome::Dead(format!("the webhook answered {status}"))
                }
            }
            Err(err) if err.is_timeout() => Outcome::Retry("the webhook timed out".into()),
            Err(err) if err.is_builder() => Outcome::Dead(format!("bad webhook URL: {err}")),
            Err(err) => Outcome::Retry(format!("posting to the webhook: {err}")),
        }
    }
}

//! Webhook: a Slack-compatible JSON body (`text` and `blocks`) POSTed to the
//! team's URL, signed like intake's signups (`X-Leadwheel-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) when a secret is
//! configured. 2xx is delivered; 5xx, 408, 429, timeouts and connection
//! errors (TLS ones included) are retried; any other 4xx is dead-lettered.
//! `https://` receivers are checked against the system's roots plus an
//! optional CA file.

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

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// POSTs to team webhooks, over http or https (rustls with ring; the
/// system's roots plus an optional CA file).
#[derive(Clone)]
pub struct Webhook {
    http: HttpsClient,
    timeout: Duration,
    secret: Option<Secret>,
    clock: SharedClock,
    console_url: Option<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Webhook {
    /// A sender with `timeout` per POST, signing with `secret` if given,
    /// trusting `ca_file`'s PEM certificates besides the system's roots.
    pub fn new(
        timeout: Duration,
        secret: Option<Secret>,
        ca_file: Option<&std::path::Path>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped, not fatal: a receiver
        // behind them fails (and is retried) with a clear TLS error.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca_file {
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|err| {
                    anyhow::anyhow!("reading the webhook CA file {}: {err}", path.display())
                })?;
            for cert in certs {
                roots.add(cert)?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self {
            http,
            timeout,
            secret,
            clock,
            console_url: None,
        })
    }

    /// Links each alert to its page in the web console at `url`.
    pub fn with_console_url(mut self, url: Option<String>) -> Self {
        self.console_url = url;
        self
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Outcome {
        let mut request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "leadwheel-alerting");
        if let Some(secret) = &self.secret {
            let unix_s = self.clock.now_ms() / 1_000;
            request = request.header(SIGNATURE_HEADER, signature(secret.expose(), unix_s, &body));
        }
        let request = match request.body(http_body_util::Full::new(bytes::Bytes::from(body))) {
            Ok(request) => request,
            Err(err) => return Outcome::Dead(format!("bad webhook URL: {err}")),
        };
        let status = match tokio::time::timeout(self.timeout, self.http.request(request)).await {
            Err(_) => return Outcome::Retry("the webhook timed out".into()),
            Ok(Err(err)) => {
                // The whole chain: "client error (Connect)" alone says little.
                let mut text = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                return Outcome::Retry(format!("posting to the webhook: {text}"));
            }
            Ok(Ok(response)) => response.status(),
        };
        if status.is_success() {
            Outcome::Sent
        } else if status.is_server_error()
            || status == http::StatusCode::REQUEST_TIMEOUT
            || status == http::StatusCode::TOO_MANY_REQUESTS
        {
            Outcome::Retry(format!("the webhook answered {status}"))
        } else {
            Outcome::Dead(format!("the webhook answered {status}"))
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
        // A team's shared channel: the plain deep link, never a sign-in.
        let open = render::link(self.console_url.as_deref(), alert);
        let body = serde_json::to_vec(&render::slack(alert, &delivery.reason, open.as_deref()))
            .expect("a JSON value serializes");
        self.post(&delivery.target, body).await
    }
}

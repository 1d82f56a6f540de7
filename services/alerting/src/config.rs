//! Alerting's own settings, from the environment (`LEADWHEEL_ALERTING_…`):
//! delivery retries, the webhook signing key and timeout, and the SMTP
//! server. Secrets come from the variable or its `_FILE` twin.

use std::time::Duration;

use anyhow::{Result, bail};
use leadwheel_plumbing::config::{Secret, env_duration_ms, env_or, env_parse, secret_from_env};

/// How email leaves: in clear (tests, a local relay), STARTTLS, or TLS
/// from the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// No TLS (port 25 or a test server).
    None,
    /// Upgrade with STARTTLS (port 587); refused if the server cannot.
    StartTls,
    /// Implicit TLS (port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            other => Err(format!(
                "unknown SMTP TLS mode {other:?} (none, starttls, tls)"
            )),
        }
    }
}

/// The SMTP server email goes through.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// Login, when the server wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<Secret>,
    /// The From address.
    pub from: String,
    /// How long one send may take.
    pub timeout: Duration,
    /// PEM certificates trusted for the server besides the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
}

/// How alerts are delivered.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Signs webhook bodies (`X-Leadwheel-Signature`); None: unsigned.
    pub webhook_secret: Option<Secret>,
    /// How long a webhook POST may take before it counts as failed.
    pub webhook_timeout: Duration,
    /// PEM certificates trusted for https webhooks besides the system's
    /// roots (an internal receiver's CA).
    pub webhook_ca_file: Option<std::path::PathBuf>,
    /// The SMTP server; None: email is off.
    pub smtp: Option<SmtpConfig>,
    /// The first retry's delay; each further retry doubles it (with jitter).
    pub backoff_base: Duration,
    /// The longest delay between retries.
    pub backoff_max: Duration,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: i64,
    /// The web console's public URL (`LEADWHEEL_ALERTING_CONSOLE_URL`, no
    /// trailing slash): webhook and email messages link to
    /// `<console>/alerts/<id>`. None: no link.
    pub console_url: Option<String>,
    /// How long the one-time sign-in link in an alert email may be used
    /// (`LEADWHEEL_ALERTING_SIGNIN_LINK_TTL_MS`, default 8 hours, at most
    /// 7 days); zero: emails carry the plain deep link only.
    pub signin_link_ttl: Duration,
}

/// The longest a sign-in link in an email may live.
pub const MAX_SIGNIN_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            webhook_secret: None,
            webhook_timeout: Duration::from_secs(10),
            webhook_ca_file: None,
            smtp: None,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            max_attempts: 10,
            console_url: None,
            signin_link_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

fn var(name: &str) -> String {
    format!("LEADWHEEL_ALERTING_{name}")
}

/// The business time zone, `LEADWHEEL_ALERTING_TIME_ZONE` (an IANA name,
/// default UTC); an unknown name stops the start, naming the variable.
pub fn time_zone_from_env() -> Result<jiff::tz::TimeZone> {
    let name = env_or(&var("TIME_ZONE"), "UTC");
    jiff::tz::TimeZone::get(name.trim())
        .map_err(|_| anyhow::anyhow!("{}: unknown time zone {name:?}", var("TIME_ZONE")))
}

impl DeliveryConfig {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self> {
        let defaults = Self::default();
        let smtp = match std::env::var(var("SMTP_HOST"))
            .ok()
            .filter(|h| !h.is_empty())
        {
            None => None,
            Some(host) => {
                let tls: SmtpTls = env_or(&var("SMTP_TLS"), "starttls")
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("{}: {e}", var("SMTP_TLS")))?;
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::StartTls => 587,
                    SmtpTls::Tls => 465,
                };
                let username = std::env::var(var("SMTP_USERNAME"))
                    .ok()
                    .filter(|u| !u.is_empty());
                let password = secret_from_env(&var("SMTP_PASSWORD"))?;
                if password.is_some() && username.is_none() {
                    bail!(
                        "{} is set but {} is not",
                        var("SMTP_PASSWORD"),
                        var("SMTP_USERNAME")
                    );
                }
                let from = env_or(&var("SMTP_FROM"), "leadwheel alerts <alerts@localhost>");
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    bail!("{}={from:?} is not an email address", var("SMTP_FROM"));
                }
                Some(SmtpConfig {
                    host,
                    port: env_parse(&var("SMTP_PORT"), default_port)?,
                    tls,
                    username,
                    password,
                    from,
                    timeout: env_duration_ms(&var("SMTP_TIMEOUT_MS"), Duration::from_secs(30))?,
                    ca_file: std::env::var(var("SMTP_CA_FILE"))
                        .ok()
                        .filter(|f| !f.is_empty())
                        .map(std::path::PathBuf::from),
                })
            }
        };
        let max_attempts: i64 = env_parse(&var("DELIVERY_MAX_ATTEMPTS"), defaults.max_attempts)?;
        if !(1..=100).contains(&max_attempts) {
            bail!("{} must be between 1 and 100", var("DELIVERY_MAX_ATTEMPTS"));
        }
        let signin_link_ttl =
            env_duration_ms(&var("SIGNIN_LINK_TTL_MS"), defaults.signin_link_ttl)?;
        if signin_link_ttl > MAX_SIGNIN_LINK_TTL {
            bail!(
                "{} must be at most 7 days ({} ms)",
                var("SIGNIN_LINK_TTL_MS"),
                MAX_SIGNIN_LINK_TTL.as_millis()
            );
        }
        Ok(Self {
            webhook_secret: secret_from_env(&var("WEBHOOK_SECRET"))?,
            webhook_timeout: env_duration_ms(&var("WEBHOOK_TIMEOUT_MS"), defaults.webhook_timeout)?,
            webhook_ca_file: std::env::var(var("WEBHOOK_CA_FILE"))
                .ok()
                .filter(|f| !f.is_empty())
                .map(std::path::PathBuf::from),
            smtp,
            backoff_base: env_duration_ms(&var("DELIVERY_BACKOFF_MS"), defaults.backoff_base)?,
            backoff_max: env_duration_ms(&var("DELIVERY_BACKOFF_MAX_MS"), defaults.backoff_max)?,
            max_attempts,
            console_url: console_url_from_env()?,
            signin_link_ttl,
        })
    }
}

/// `LEADWHEEL_ALERTING_CONSOLE_URL`: an http(s) URL, kept without its
/// trailing slash; unset or empty is None.
fn console_url_from_env() -> Result<Option<String>> {
    let Some(url) = std::env::var(var("CONSOLE_URL"))
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    parse_console_url(&url)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}={url:?}: {e}", var("CONSOLE_URL")))
}

/// Checks a console URL (`http://` or `https://` and a host) and drops
/// its trailing slashes.
pub fn parse_console_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".into());
    }
    if url.contains(['?', '#', ' ']) {
        return Err("must be a plain URL (no query, fragment or spaces)".into());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Reporting's default gRPC address.
pub fn default_reporting_url() -> String {
    format!(
        "http://127.0.0.1:{}",
        leadwheel_plumbing::config::ports::REPORTING_GRPC
    )
}

/// `LEADWHEEL_ALERTING_REPORTING_URL`, or reporting's default address.
pub fn reporting_url_from_env() -> String {
    std::env::var(var("REPORTING_URL"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(default_reporting_url)
}

#[cfg(test)]
mod tests {
    #[test]
    fn console_urls_are_checked_and_trimmed() {
        use super::parse_console_url as parse;
        assert_eq!(
            parse("https://leads.example.com/").unwrap(),
            "https://leads.example.com"
        );
        assert_eq!(
            parse("http://127.0.0.1:8090").unwrap(),
            "http://127.0.0.1:8090"
        );
        assert!(parse("ftp://x").is_err());
        assert!(parse("https://").is_err());
        assert!(parse("https://x/?a=1").is_err());
    }
}

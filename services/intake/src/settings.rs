//! Intake's own settings, beside the shared [`ServiceConfig`].
//!
//! [`ServiceConfig`]: leadwheel_plumbing::ServiceConfig

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use leadwheel_plumbing::config::{self, Secret, env_duration_ms, env_parse, secret_from_env};

use crate::ratelimit::Limit;

/// Default dedupe window: a day, long enough to catch a double-submitted
/// form or a "did it work?" retry, short enough that a returning prospect
/// next month is a new lead.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Default body limit: a signup is a few hundred bytes; 16 KiB leaves room
/// for a long message and refuses anything that is not a signup.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;
/// Default clock skew accepted on webhook signatures.
pub const DEFAULT_SIGNATURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// Default per-address limit: a person submits a form a few times a
/// minute at most; 5/s with a burst of 20 lets an office behind one NAT
/// through and stops a script.
pub const DEFAULT_ADDRESS_LIMIT: Limit = Limit {
    per_second: 5.0,
    burst: 20.0,
};
/// Default per-integration limit: well above the 5,000 signups/s intake
/// is built for, so it only stops a runaway loop.
pub const DEFAULT_INTEGRATION_LIMIT: Limit = Limit {
    per_second: 10_000.0,
    burst: 20_000.0,
};
/// How often the scoring rules file is checked for changes.
pub const DEFAULT_SCORING_RELOAD: Duration = Duration::from_secs(2);

/// Intake's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct IntakeSettings {
    /// HTTP listen address (`LEADWHEEL_INTAKE_HTTP_ADDR`, default `127.0.0.1:8080`).
    pub http_addr: SocketAddr,
    /// The same email within this long of a lead's creation resolves to that
    /// lead (`LEADWHEEL_INTAKE_DEDUPE_WINDOW_MS`; 0 turns dedupe off).
    pub dedupe_window: Duration,
    /// Largest accepted signup body (`LEADWHEEL_INTAKE_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Webhook secrets; a signature made with any of them is accepted, so a
    /// sender can move to a new secret before the old one is retired
    /// (`LEADWHEEL_INTAKE_WEBHOOK_SECRET` or `_FILE`: one or more secrets
    /// separated by commas or new lines). Empty accepts unsigned signups,
    /// for local development only.
    pub webhook_secrets: Vec<Secret>,
    /// How far a signature's timestamp may be from now
    /// (`LEADWHEEL_INTAKE_SIGNATURE_TOLERANCE_MS`).
    pub signature_tolerance: Duration,
    /// Per source address (`LEADWHEEL_INTAKE_RATE_PER_ADDRESS` per second,
    /// `LEADWHEEL_INTAKE_BURST_PER_ADDRESS`; a rate of 0 turns it off).
    pub address_limit: Limit,
    /// Take the client address from the last `X-Forwarded-For` entry (the
    /// one the proxy in front of intake appended) instead of the peer, which
    /// behind a proxy is the proxy for everyone
    /// (`LEADWHEEL_INTAKE_TRUST_FORWARDED_FOR=1`). Leave off unless a proxy
    /// you run sets the header: clients can send any value.
    pub trust_forwarded_for: bool,
    /// Per integration: per bearer token subject, and all signed or
    /// unsigned webhook traffic as one (`LEADWHEEL_INTAKE_RATE_PER_INTEGRATION`,
    /// `LEADWHEEL_INTAKE_BURST_PER_INTEGRATION`).
    pub integration_limit: Limit,
    /// The scoring rules file (`LEADWHEEL_INTAKE_SCORING_RULES`); unset
    /// leaves leads unscored (empty tier, score 0).
    pub scoring_rules: Option<PathBuf>,
    /// How often the rules file is checked for changes
    /// (`LEADWHEEL_INTAKE_SCORING_RELOAD_MS`).
    pub scoring_reload: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], config::ports::INTAKE_HTTP)),
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            webhook_secrets: Vec::new(),
            signature_tolerance: DEFAULT_SIGNATURE_TOLERANCE,
            address_limit: DEFAULT_ADDRESS_LIMIT,
            trust_forwarded_for: false,
            integration_limit: DEFAULT_INTEGRATION_LIMIT,
            scoring_rules: None,
            scoring_reload: DEFAULT_SCORING_RELOAD,
        }
    }
}

fn limit(rate_var: &str, burst_var: &str, default: Limit) -> Result<Limit> {
    let per_second: f64 = env_parse(rate_var, default.per_second)?;
    let burst: f64 = env_parse(burst_var, default.burst.max(per_second))?;
    if !per_second.is_finite() || per_second < 0.0 || !burst.is_finite() || burst < 0.0 {
        bail!("{rate_var} and {burst_var} must be non-negative numbers");
    }
    Ok(Limit { per_second, burst })
}

/// Splits a secrets variable into its secrets.
pub fn split_secrets(secret: Option<Secret>) -> Result<Vec<Secret>> {
    let Some(secret) = secret else {
        return Ok(Vec::new());
    };
    let secrets: Vec<Secret> = secret
        .expose()
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect();
    if secrets.iter().any(|s| s.expose().len() < 16) {
        bail!("LEADWHEEL_INTAKE_WEBHOOK_SECRET: every secret needs at least 16 characters");
    }
    Ok(secrets)
}

impl IntakeSettings {
    /// Reads the settings from the environment, falling back to the defaults.
    pub fn from_env() -> Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            http_addr: env_parse("LEADWHEEL_INTAKE_HTTP_ADDR", defaults.http_addr)?,
            dedupe_window: env_duration_ms(
                "LEADWHEEL_INTAKE_DEDUPE_WINDOW_MS",
                defaults.dedupe_window,
            )?,
            max_body_bytes: env_parse("LEADWHEEL_INTAKE_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            webhook_secrets: split_secrets(secret_from_env("LEADWHEEL_INTAKE_WEBHOOK_SECRET")?)?,
            signature_tolerance: env_duration_ms(
                "LEADWHEEL_INTAKE_SIGNATURE_TOLERANCE_MS",
                defaults.signature_tolerance,
            )?,
            address_limit: limit(
                "LEADWHEEL_INTAKE_RATE_PER_ADDRESS",
                "LEADWHEEL_INTAKE_BURST_PER_ADDRESS",
                defaults.address_limit,
            )?,
            trust_forwarded_for: config::env_or("LEADWHEEL_INTAKE_TRUST_FORWARDED_FOR", "0") == "1",
            integration_limit: limit(
                "LEADWHEEL_INTAKE_RATE_PER_INTEGRATION",
                "LEADWHEEL_INTAKE_BURST_PER_INTEGRATION",
                defaults.integration_limit,
            )?,
            scoring_rules: std::env::var("LEADWHEEL_INTAKE_SCORING_RULES")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
            scoring_reload: env_duration_ms(
                "LEADWHEEL_INTAKE_SCORING_RELOAD_MS",
                defaults.scoring_reload,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_split_on_commas_and_lines() {
        let secrets = split_secrets(Some(Secret::new(
            "whsec-new-0123456789, whsec-old-0123456789\n",
        )))
        .unwrap();
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1].expose(), "whsec-old-0123456789");
        assert!(split_secrets(Some(Secret::new("short"))).is_err());
        assert!(split_secrets(None).unwrap().is_empty());
    }
}

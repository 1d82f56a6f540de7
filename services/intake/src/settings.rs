//! Intake's own settings, beside the shared [`ServiceConfig`].
//!
//! [`ServiceConfig`]: leadwheel_plumbing::ServiceConfig

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use leadwheel_plumbing::config::{self, Secret, env_duration_ms, env_parse, secret_from_env};

/// Default dedupe window: a day, long enough to catch a double-submitted
/// form or a "did it work?" retry, short enough that a returning prospect
/// next month is a new lead.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Default body limit: a signup is a few hundred bytes; 16 KiB leaves room
/// for a long message and refuses anything that is not a signup.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;
/// Default clock skew accepted on webhook signatures.
pub const DEFAULT_SIGNATURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Intake's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeSettings {
    /// HTTP listen address (`LEADWHEEL_INTAKE_HTTP_ADDR`, default `127.0.0.1:8080`).
    pub http_addr: SocketAddr,
    /// The same email within this long of a lead's creation resolves to that
    /// lead (`LEADWHEEL_INTAKE_DEDUPE_WINDOW_MS`; 0 turns dedupe off).
    pub dedupe_window: Duration,
    /// Largest accepted signup body (`LEADWHEEL_INTAKE_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// When set, every signup must carry a valid `X-Leadwheel-Signature`
    /// (`LEADWHEEL_INTAKE_WEBHOOK_SECRET` or `_FILE`). Unset accepts unsigned
    /// signups, for local development only.
    pub webhook_secret: Option<Secret>,
    /// How far a signature's timestamp may be from now
    /// (`LEADWHEEL_INTAKE_SIGNATURE_TOLERANCE_MS`).
    pub signature_tolerance: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], config::ports::INTAKE_HTTP)),
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            webhook_secret: None,
            signature_tolerance: DEFAULT_SIGNATURE_TOLERANCE,
        }
    }
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
            webhook_secret: secret_from_env("LEADWHEEL_INTAKE_WEBHOOK_SECRET")?,
            signature_tolerance: env_duration_ms(
                "LEADWHEEL_INTAKE_SIGNATURE_TOLERANCE_MS",
                defaults.signature_tolerance,
            )?,
        })
    }
}

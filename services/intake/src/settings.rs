//! Intake's own settings, beside the shared [`ServiceConfig`].
//!
//! [`ServiceConfig`]: leadwheel_plumbing::ServiceConfig

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use leadwheel_plumbing::config::{self, env_duration_ms, env_parse};

/// Default dedupe window: a day, long enough to catch a double-submitted
/// form or a "did it work?" retry, short enough that a returning prospect
/// next month is a new lead.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Default body limit: a signup is a few hundred bytes; 16 KiB leaves room
/// for a long message and refuses anything that is not a signup.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;

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
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], config::ports::INTAKE_HTTP)),
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
        })
    }
}

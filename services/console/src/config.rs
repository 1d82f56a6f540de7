//! The console's configuration, from `LEADWHEEL_CONSOLE_*` and the shared
//! variables (`LEADWHEEL_JWT_SECRET`, `LEADWHEEL_DEV_MODE`, log format).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use leadwheel_plumbing::config::{
    DEV_JWT_SECRET, LogFormat, Secret, ServerTlsSettings, env_duration_ms, env_or, env_parse,
    ports, secret_from_env,
};

/// The console's default HTTP port (browsers).
pub const DEFAULT_HTTP_PORT: u16 = 8090;
/// The console's default admin port (/healthz, /readyz, /metrics).
pub const DEFAULT_ADMIN_PORT: u16 = 51056;

/// Everything the console reads at start.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// Where browsers connect (`LEADWHEEL_CONSOLE_HTTP_ADDR`).
    pub http_addr: SocketAddr,
    /// Health and metrics (`LEADWHEEL_CONSOLE_ADMIN_ADDR`).
    pub admin_addr: SocketAddr,
    /// The URL browsers use to reach the console (`LEADWHEEL_CONSOLE_PUBLIC_URL`),
    /// e.g. `https://console.example.com`: POSTs must carry its origin, and
    /// sign-in links start with it. Unset: `http://<bound HTTP address>`.
    pub public_url: Option<String>,
    /// The wheel's gRPC URL (`LEADWHEEL_CONSOLE_WHEEL_URL`).
    pub wheel_url: String,
    /// The opportunity service's gRPC URL (`LEADWHEEL_CONSOLE_OPPORTUNITY_URL`).
    pub opportunity_url: String,
    /// Alerting's gRPC URL (`LEADWHEEL_CONSOLE_ALERTING_URL`).
    pub alerting_url: String,
    /// Reporting's gRPC URL (`LEADWHEEL_CONSOLE_REPORTING_URL`).
    pub reporting_url: String,
    /// Signs the users' bearer tokens and the sign-in links (`LEADWHEEL_JWT_SECRET`).
    pub jwt_secret: Secret,
    /// `LEADWHEEL_DEV_MODE=1`: the pick-a-user sign-in page is served.
    pub dev_mode: bool,
    /// How long a session lasts without a new sign-in (`LEADWHEEL_CONSOLE_SESSION_TTL_MS`).
    pub session_ttl: Duration,
    /// Log format (`LEADWHEEL_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp_endpoint: Option<String>,
    /// Time allowed to drain at shutdown (`LEADWHEEL_SHUTDOWN_TIMEOUT_MS`).
    pub shutdown_timeout: Duration,
    /// TLS on the HTTP port, and on the admin port unless
    /// `LEADWHEEL_ADMIN_TLS=0`, as the services' ports: `LEADWHEEL_TLS_CERT_FILE`
    /// and `LEADWHEEL_TLS_KEY_FILE`, re-read every `LEADWHEEL_TLS_RELOAD_MS`.
    /// Neither port asks for a client certificate (browsers and probes send
    /// none). `None`: plain HTTP.
    pub tls: Option<ServerTlsSettings>,
}

impl ConsoleConfig {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self> {
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let dev_mode = env_or("LEADWHEEL_DEV_MODE", "0") == "1";
        let jwt_secret = match secret_from_env("LEADWHEEL_JWT_SECRET")? {
            Some(secret) => secret,
            None if dev_mode => Secret::new(DEV_JWT_SECRET),
            None => bail!(
                "LEADWHEEL_JWT_SECRET (or LEADWHEEL_JWT_SECRET_FILE) is not set; \
                 set it, or set LEADWHEEL_DEV_MODE=1 to use the development key"
            ),
        };
        if jwt_secret.expose().len() < 16 {
            bail!("LEADWHEEL_JWT_SECRET is too short: use at least 16 characters");
        }
        let public_url = std::env::var("LEADWHEEL_CONSOLE_PUBLIC_URL")
            .ok()
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .filter(|url| !url.is_empty());
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!(
                "invalid LEADWHEEL_CONSOLE_PUBLIC_URL={url:?}: it must start with http:// or https://"
            );
        }
        Ok(Self {
            http_addr: env_parse("LEADWHEEL_CONSOLE_HTTP_ADDR", local(DEFAULT_HTTP_PORT))?,
            admin_addr: env_parse("LEADWHEEL_CONSOLE_ADMIN_ADDR", local(DEFAULT_ADMIN_PORT))?,
            public_url,
            wheel_url: env_or(
                "LEADWHEEL_CONSOLE_WHEEL_URL",
                &format!("http://127.0.0.1:{}", ports::WHEEL_GRPC),
            ),
            opportunity_url: env_or(
                "LEADWHEEL_CONSOLE_OPPORTUNITY_URL",
                &format!("http://127.0.0.1:{}", ports::OPPORTUNITY_GRPC),
            ),
            alerting_url: env_or(
                "LEADWHEEL_CONSOLE_ALERTING_URL",
                &format!("http://127.0.0.1:{}", ports::ALERTING_GRPC),
            ),
            reporting_url: env_or(
                "LEADWHEEL_CONSOLE_REPORTING_URL",
                &format!("http://127.0.0.1:{}", ports::REPORTING_GRPC),
            ),
            jwt_secret,
            dev_mode,
            session_ttl: env_duration_ms(
                "LEADWHEEL_CONSOLE_SESSION_TTL_MS",
                Duration::from_secs(12 * 3600),
            )?,
            log_format: env_parse("LEADWHEEL_LOG_FORMAT", LogFormat::Human)?,
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty()),
            shutdown_timeout: env_duration_ms(
                "LEADWHEEL_SHUTDOWN_TIMEOUT_MS",
                Duration::from_secs(20),
            )?,
            tls: ServerTlsSettings::from_env()?,
        })
    }
}

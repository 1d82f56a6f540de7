//! Configuration from environment variables.
//!
//! Every service reads the same shared variables (`NATS_URL`,
//! `LEADWHEEL_JWT_SECRET`, `LEADWHEEL_LOG_FORMAT`, ...) plus its own,
//! prefixed `LEADWHEEL_<SERVICE>_`. Any secret may instead be read from a file
//! named by the same variable with a `_FILE` suffix, as Kubernetes mounts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

pub use leadwheel_client::defaults::{DEV_JWT_SECRET, ports};
pub use leadwheel_client::secret::{Secret, secret_from_env};

pub use crate::jwks::IdpConfig;
use crate::retention::Retention;
pub use crate::tls::{ClientTlsSettings, NatsTlsSettings, ServerTlsSettings};

/// Reads `name`, or `default` when unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_string(),
    }
}

/// Reads `name` and parses it, or returns `default` when unset.
pub fn env_parse<T>(name: &str, default: T) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|err| anyhow::anyhow!("invalid {name}={value:?}: {err}")),
        _ => Ok(default),
    }
}

/// Reads a duration in milliseconds from `name`.
pub fn env_duration_ms(name: &str, default: Duration) -> Result<Duration> {
    let ms: u64 = env_parse(name, default.as_millis() as u64)?;
    Ok(Duration::from_millis(ms))
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Human,
    /// One JSON object per line, for production log pipelines.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected human or json)"
            )),
        }
    }
}

/// Settings every service shares.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Service name, e.g. `wheel`.
    pub service: &'static str,
    /// gRPC listen address (`LEADWHEEL_<SERVICE>_GRPC_ADDR`).
    pub grpc_addr: SocketAddr,
    /// Admin HTTP listen address for /healthz, /readyz, /metrics
    /// (`LEADWHEEL_<SERVICE>_ADMIN_ADDR`).
    pub admin_addr: SocketAddr,
    /// `sqlite://...` or `postgres://...` (`LEADWHEEL_<SERVICE>_DATABASE_URL`).
    pub database_url: Secret,
    /// NATS server URL, or several separated by commas (`NATS_URL`).
    pub nats_url: String,
    /// NATS credentials file (`NATS_CREDS_FILE`), optional.
    pub nats_creds_file: Option<PathBuf>,
    /// HMAC key verifying bearer JWTs (`LEADWHEEL_JWT_SECRET` or `_FILE`).
    pub jwt_secret: Secret,
    /// Log format (`LEADWHEEL_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// OTLP gRPC endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`), optional.
    pub otlp_endpoint: Option<String>,
    /// Time allowed for draining at shutdown (`LEADWHEEL_SHUTDOWN_TIMEOUT_MS`).
    pub shutdown_timeout: Duration,
    /// Directory for SQLite files when the default URL is used (`LEADWHEEL_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Streams' max age and replicas, and how long sent outbox and inbox
    /// rows are kept (`LEADWHEEL_STREAM_…_MAX_AGE_MS`,
    /// `LEADWHEEL_STREAM_REPLICAS`, `LEADWHEEL_OUTBOX_KEEP_SENT_MS`,
    /// `LEADWHEEL_INBOX_KEEP_MS`, `LEADWHEEL_PRUNE_EVERY_MS`).
    pub retention: Retention,
    /// TLS and identity-provider tokens (`LEADWHEEL_TLS_*`,
    /// `LEADWHEEL_JWKS_*`, `LEADWHEEL_JWT_*`, `NATS_TLS_*`); all off by default.
    pub security: Security,
}

/// The production security settings: all optional, all off by default.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// TLS on the ports this service serves.
    pub server_tls: Option<ServerTlsSettings>,
    /// TLS for the `https://` services this one calls.
    pub client_tls: ClientTlsSettings,
    /// TLS on the NATS connection.
    pub nats_tls: NatsTlsSettings,
    /// The identity provider whose tokens are accepted besides HS256 ones.
    pub idp: Option<IdpConfig>,
}

impl Security {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            server_tls: ServerTlsSettings::from_env()?,
            client_tls: ClientTlsSettings::from_env()?,
            nats_tls: NatsTlsSettings::from_env()?,
            idp: IdpConfig::from_env()?,
        })
    }
}

impl ServiceConfig {
    /// Reads the shared settings for `service` from the environment.
    pub fn from_env(service: &'static str, default_grpc_port: u16) -> Result<Self> {
        let prefix = format!("LEADWHEEL_{}_", service.to_ascii_uppercase());
        let data_dir = PathBuf::from(env_or("LEADWHEEL_DATA_DIR", "./.leadwheel"));
        let default_db = format!("sqlite://{}/{service}.db", data_dir.display());
        let grpc_addr = env_parse(
            &format!("{prefix}GRPC_ADDR"),
            SocketAddr::from(([127, 0, 0, 1], default_grpc_port)),
        )?;
        let admin_addr = env_parse(
            &format!("{prefix}ADMIN_ADDR"),
            SocketAddr::from(([127, 0, 0, 1], default_grpc_port + ports::ADMIN_OFFSET)),
        )?;
        let database_url = secret_from_env(&format!("{prefix}DATABASE_URL"))?
            .unwrap_or_else(|| Secret::new(default_db));
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
        Ok(Self {
            service,
            grpc_addr,
            admin_addr,
            database_url,
            nats_url: env_or("NATS_URL", "nats://127.0.0.1:4222"),
            nats_creds_file: std::env::var("NATS_CREDS_FILE").ok().map(PathBuf::from),
            jwt_secret,
            log_format: env_parse("LEADWHEEL_LOG_FORMAT", LogFormat::Human)?,
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty()),
            shutdown_timeout: env_duration_ms(
                "LEADWHEEL_SHUTDOWN_TIMEOUT_MS",
                Duration::from_secs(20),
            )?,
            data_dir,
            retention: Retention::from_env()?,
            security: Security::from_env()?,
        })
    }

    /// Reads a service-specific variable, `LEADWHEEL_<SERVICE>_<name>`.
    pub fn service_var(&self, name: &str) -> String {
        format!("LEADWHEEL_{}_{name}", self.service.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("hunter2hunter2hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn log_format_parses() {
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert!("xml".parse::<LogFormat>().is_err());
    }
}

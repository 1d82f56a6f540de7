//! The real reporting binary as a child process on a fresh store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use leadwheel_plumbing::auth::BearerToken;
use leadwheel_plumbing::auth::Role;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tempfile::TempDir;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{self, Backend, JWT_SECRET};

/// A reporting client acting as an admin.
pub type Client = ReportingServiceClient<InterceptedService<Channel, BearerToken>>;

/// `leadwheel-reporting`, running.
pub struct Reporting {
    child: Child,
    pub grpc: SocketAddr,
    log: PathBuf,
    database: Option<(String, String)>,
    _dir: TempDir,
}

impl Reporting {
    /// Starts `binary` against `nats_url` on a fresh store and waits until
    /// it is ready.
    pub async fn start(
        binary: &Path,
        nats_url: &str,
        backend: &Backend,
        rust_log: &str,
    ) -> Result<Self> {
        if !binary.exists() {
            bail!(
                "{} is missing: build it with `cargo build --release -p leadwheel-reporting -p leadwheel-bench` (or pass --reporting-bin)",
                binary.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let sqlite_path = dir.path().join("reporting.db");
        let (database_url, database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", sqlite_path.display()), None),
            Backend::Postgres(base) => {
                let (url, name) = harness::create_postgres_database(base).await?;
                (url, Some((base.clone(), name)))
            }
        };
        let log = dir.path().join("reporting.log");
        let file = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .env("NATS_URL", nats_url)
            .env("LEADWHEEL_JWT_SECRET", JWT_SECRET)
            .env("LEADWHEEL_DATA_DIR", dir.path())
            .env("LEADWHEEL_REPORTING_GRPC_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_REPORTING_ADMIN_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_REPORTING_DATABASE_URL", &database_url)
            .env("LEADWHEEL_LOG_FORMAT", "human")
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("LEADWHEEL_REPORTING_DATABASE_URL_FILE")
            .env_remove("LEADWHEEL_JWT_SECRET_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut service = Self {
            child,
            grpc: ([0, 0, 0, 0], 0).into(),
            log,
            database,
            _dir: dir,
        };
        let started = Instant::now();
        let addresses = loop {
            let text = std::fs::read_to_string(&service.log).unwrap_or_default();
            if let Some(addresses) = text.lines().find_map(harness::parse_addresses) {
                break addresses;
            }
            if let Some(status) = service.child.try_wait()? {
                bail!("reporting exited with {status} at start; its log:\n{text}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("reporting did not announce its addresses in 60 s; its log:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        service.grpc = *addresses.get("grpc").context("no grpc address announced")?;
        let admin = *addresses
            .get("admin")
            .context("no admin address announced")?;
        leadwheel_plumbing::testing::wait_ready(admin).await;
        Ok(service)
    }

    /// An admin client.
    pub async fn client(&self) -> Result<Client> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc))?
            .tcp_nodelay(true)
            .connect()
            .await
            .context("connecting to reporting's gRPC port")?;
        let bearer = BearerToken::new(&harness::token("bench-admin", Role::Admin))?;
        Ok(ReportingServiceClient::with_interceptor(channel, bearer))
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops it and drops its Postgres database, if any.
    pub async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((base, name)) = self.database.take()
            && let Err(err) = harness::drop_postgres_database(&base, &name).await
        {
            eprintln!("could not drop the bench database {name}: {err:#}");
        }
    }
}

impl Drop for Reporting {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

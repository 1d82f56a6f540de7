//! A harness for end-to-end tests: the five real service binaries
//! (`leadwheel-intake`, `-wheel`, `-opportunity`, `-alerting`,
//! `-reporting`) as separate processes on ephemeral ports, over a real
//! `nats-server` (or a 3-node JetStream cluster, [`System::on_cluster`])
//! and SQLite files in a temporary folder.
//!
//! The binaries must be built first (`cargo build --workspace --bins`;
//! `make test` does it). Each service's output goes to `<dir>/<svc>.log`;
//! its bound addresses are read from its `listening` log line.

pub mod dev;
pub mod watch;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::testing::{self, NatsCluster, NatsServer};
use tempfile::TempDir;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The five services.
pub const SERVICES: [&str; 5] = ["intake", "wheel", "opportunity", "alerting", "reporting"];

/// Where the service binaries are: `LEADWHEEL_BIN_DIR`, else the cargo
/// target folder this test runs from.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("LEADWHEEL_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .to_path_buf()
}

/// A running service process.
pub struct ServiceProcess {
    child: Child,
    /// Its addresses by name (`grpc`, `admin`, `http`).
    pub addresses: HashMap<String, SocketAddr>,
}

/// What the services connect to: one `nats-server`, or a cluster of three.
pub enum Nats {
    /// One server.
    Single(NatsServer),
    /// A 3-node JetStream cluster.
    Cluster(NatsCluster),
}

impl Nats {
    /// The URL the services get as `NATS_URL` (every node's, for a cluster).
    pub fn url(&self) -> String {
        match self {
            Nats::Single(server) => server.url(),
            Nats::Cluster(cluster) => cluster.url(),
        }
    }

    /// The single server (tests may kill and restart it). Panics on a cluster.
    pub fn server(&mut self) -> &mut NatsServer {
        match self {
            Nats::Single(server) => server,
            Nats::Cluster(_) => panic!("this system runs a NATS cluster, not one server"),
        }
    }

    /// The cluster (tests may kill and restart its nodes). Panics on a
    /// single server.
    pub fn cluster(&mut self) -> &mut NatsCluster {
        match self {
            Nats::Cluster(cluster) => cluster,
            Nats::Single(_) => panic!("this system runs one NATS server, not a cluster"),
        }
    }
}

/// The whole system.
pub struct System {
    /// The NATS server or cluster (tests may kill and restart it).
    pub nats: Nats,
    /// Data and logs.
    pub dir: TempDir,
    services: HashMap<String, ServiceProcess>,
}

impl System {
    /// Starts NATS and the five services, and waits until all are ready.
    pub async fn start() -> Result<Self> {
        let nats = Nats::Single(NatsServer::start()?);
        let dir = tempfile::tempdir()?;
        let mut system = Self {
            nats,
            dir,
            services: HashMap::new(),
        };
        for service in SERVICES {
            system.start_service(service).await?;
        }
        Ok(system)
    }

    /// Starts NATS only; start services with [`System::start_service`] or
    /// [`System::start_instance`].
    pub async fn nats_only() -> Result<Self> {
        Ok(Self {
            nats: Nats::Single(NatsServer::start()?),
            dir: tempfile::tempdir()?,
            services: HashMap::new(),
        })
    }

    /// Starts a 3-node JetStream cluster only (ready: it has a meta
    /// leader); services started on it get every node's URL. Start them
    /// with `LEADWHEEL_STREAM_REPLICAS=3` for R3 streams.
    pub async fn on_cluster() -> Result<Self> {
        Ok(Self {
            nats: Nats::Cluster(NatsCluster::start().await?),
            dir: tempfile::tempdir()?,
            services: HashMap::new(),
        })
    }

    /// Starts (or restarts) one service and waits until it is ready.
    pub async fn start_service(&mut self, service: &'static str) -> Result<()> {
        self.start_instance(service, service, &[]).await
    }

    /// Starts (or restarts) an instance of `service` known as `name` (for
    /// [`System::kill`], [`System::addr`]…; its log is `<dir>/<name>.log`),
    /// with `env` added to its environment (e.g. several replicas sharing
    /// one `LEADWHEEL_WHEEL_DATABASE_URL`), and waits until it is ready.
    pub async fn start_instance(
        &mut self,
        name: &str,
        service: &'static str,
        env: &[(&str, &str)],
    ) -> Result<()> {
        let binary = bin_dir().join(format!("leadwheel-{service}"));
        if !binary.exists() {
            bail!(
                "{} is missing: build the services first with `cargo build --workspace --bins` (`make test` does)",
                binary.display()
            );
        }
        let upper = service.to_ascii_uppercase();
        let log_path = self.dir.path().join(format!("{name}.log"));
        let mut command = Command::new(&binary);
        command
            .env("NATS_URL", self.nats.url())
            .env("LEADWHEEL_JWT_SECRET", testing::TEST_JWT_SECRET)
            .env("LEADWHEEL_DATA_DIR", self.dir.path())
            .env(format!("LEADWHEEL_{upper}_GRPC_ADDR"), "127.0.0.1:0")
            .env(format!("LEADWHEEL_{upper}_ADMIN_ADDR"), "127.0.0.1:0")
            .env("LEADWHEEL_INTAKE_HTTP_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_LOG_FORMAT", "human")
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("E2E_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.envs(env.iter().copied());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let tx = tx.clone();
            let log_path = log_path.clone();
            std::thread::spawn(move || {
                let mut log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log_path)
                    .ok();
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(log) = log.as_mut() {
                        let _ = writeln!(log, "{line}");
                    }
                    if let Some(addresses) = parse_addresses(&line) {
                        let _ = tx.send(addresses);
                    }
                }
            });
        }
        let addresses = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addresses) => addresses,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("{name} did not announce its addresses; its log:\n{log}");
            }
        };
        let admin = *addresses
            .get("admin")
            .context("no admin address announced")?;
        self.services
            .insert(name.to_string(), ServiceProcess { child, addresses });
        testing::wait_ready(admin).await;
        Ok(())
    }

    /// Kills a service with SIGKILL, as a crash would.
    pub fn kill(&mut self, service: &str) {
        if let Some(mut process) = self.services.remove(service) {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }

    /// Fails when `name` is not running any more (it exited or crashed
    /// since it started), saying how it ended.
    pub fn still_running(&mut self, name: &str) -> Result<()> {
        let Some(process) = self.services.get_mut(name) else {
            bail!("{name} was never started (or was stopped)");
        };
        match process.child.try_wait()? {
            None => Ok(()),
            Some(exit) => bail!("{name} is not running: it exited with {exit}"),
        }
    }

    /// Stops a service with SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self, service: &str) -> Result<()> {
        let Some(mut process) = self.services.remove(service) else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-TERM", &process.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let exit = process.child.wait()?;
        if !exit.success() {
            bail!("{service} exited with {exit} after SIGTERM");
        }
        Ok(())
    }

    /// An address of a running service.
    pub fn addr(&self, service: &str, name: &str) -> SocketAddr {
        self.services[service].addresses[name]
    }

    /// A gRPC channel to a service.
    pub async fn channel(&self, service: &str) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr(service, "grpc")))
            .expect("valid uri")
            .connect()
            .await
            .expect("connecting to a running service")
    }

    /// A gRPC channel with a bearer token for `subject` in `role`.
    pub async fn authed(
        &self,
        service: &str,
        subject: &str,
        role: Role,
    ) -> InterceptedService<Channel, BearerToken> {
        let token = BearerToken::new(&testing::test_token(subject, role)).expect("token");
        InterceptedService::new(self.channel(service).await, token)
    }

    /// The intake signup URL.
    pub fn signup_url(&self) -> String {
        format!("http://{}/v1/signups", self.addr("intake", "http"))
    }

    /// Runs `leadctl -o json ARGS` against `service`'s gRPC (its
    /// `LEADWHEEL_<SERVICE>_URL`) with the test key, as an operator would;
    /// its JSON answer (a failure fails the test with leadctl's stderr).
    pub async fn leadctl_json(&self, service: &str, args: &[&str]) -> serde_json::Value {
        let output = tokio::process::Command::new(bin_dir().join("leadctl"))
            .arg("-o")
            .arg("json")
            .args(args)
            .env(
                format!("LEADWHEEL_{}_URL", service.to_ascii_uppercase()),
                format!("http://{}", self.addr(service, "grpc")),
            )
            .env("LEADWHEEL_JWT_SECRET", testing::TEST_JWT_SECRET)
            .output()
            .await
            .expect("running leadctl");
        assert!(
            output.status.success(),
            "leadctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("leadctl's JSON")
    }

    /// A service's log so far.
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{service}.log"))).unwrap_or_default()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for (_, mut process) in self.services.drain() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

/// A gRPC channel to `addr` with a bearer token for `subject` in `role`,
/// signed with the test key (for services not started by [`System`], e.g.
/// under `leadwheel dev` with `LEADWHEEL_JWT_SECRET` set to it).
pub async fn authed_channel(
    addr: SocketAddr,
    subject: &str,
    role: Role,
) -> Result<InterceptedService<Channel, BearerToken>> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let token = BearerToken::new(&testing::test_token(subject, role))
        .map_err(|status| anyhow::anyhow!("{}", status.message()))?;
    Ok(InterceptedService::new(channel, token))
}

/// Reads `grpc=… admin=…` from a `listening` log line.
pub fn parse_addresses(line: &str) -> Option<HashMap<String, SocketAddr>> {
    if !line.contains("listening") {
        return None;
    }
    let start = line.find("addresses=")? + "addresses=".len();
    let rest = line[start..].trim_start_matches('"');
    let mut out = HashMap::new();
    for part in rest.split_whitespace() {
        let part = part.trim_end_matches(['"', ',']);
        if let Some((name, addr)) = part.split_once('=')
            && let Ok(addr) = addr.parse()
        {
            out.insert(name.to_string(), addr);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_announce_line() {
        let line = r#"2026-01-01T00:00:00Z  INFO listening service="wheel" addresses=grpc=127.0.0.1:4000 admin=127.0.0.1:5000"#;
        let parsed = super::parse_addresses(line).unwrap();
        assert_eq!(parsed["grpc"].port(), 4000);
        assert_eq!(parsed["admin"].port(), 5000);
    }
}

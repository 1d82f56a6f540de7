//! Test support shared by every crate's tests: a real `nats-server` per
//! test on a random port with its own store dir, fresh databases on SQLite
//! or Postgres (and [`on_both_backends!`](crate::on_both_backends) to run a
//! test on each), a config pointing at them, a [`ServiceHandle`] that runs a
//! service's `run` on ephemeral ports, and readers of what landed on a
//! stream.
//!
//! Nothing here is a mock: tests run against the real server and stores.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures::StreamExt;
use leadwheel_proto::events::v1::Envelope;
use prost::Message;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bus::{Bus, StreamSpec};
use crate::config::{LogFormat, Secret, ServiceConfig};
use crate::runtime::{Listeners, Shutdown};

/// The key tests sign tokens with.
pub const TEST_JWT_SECRET: &str = "leadwheel-test-secret-0123456789";

pub use crate::nats_server::nats_server_binary;

/// A `nats-server -js` child process with a temporary store dir; killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    /// Its client port.
    pub port: u16,
    store_dir: TempDir,
    /// Further arguments (a cluster node's name and routes), kept for restarts.
    args: Vec<String>,
}

impl NatsServer {
    /// Starts a server on a port it picks itself, and waits until it is ready.
    pub fn start() -> Result<Self> {
        Self::start_with(Vec::new())
    }

    /// Starts a server with `args` added to its command line.
    fn start_with(args: Vec<String>) -> Result<Self> {
        let store_dir = tempfile::tempdir()?;
        let (child, port) = spawn_nats_with(store_dir.path(), None, &args)?;
        Ok(Self {
            child: Some(child),
            port,
            store_dir,
            args,
        })
    }

    /// True while the process runs (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let (child, _) = spawn_nats_with(self.store_dir.path(), Some(self.port), &self.args)?;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns `nats-server -js` storing under `dir`, on `port` (or a random one),
/// and returns once it logs that it is ready.
pub fn spawn_nats(dir: &std::path::Path, port: Option<u16>) -> Result<(Child, u16)> {
    spawn_nats_with(dir, port, &[])
}

/// [`spawn_nats`] with `args` added to the command line.
fn spawn_nats_with(
    dir: &std::path::Path,
    port: Option<u16>,
    args: &[String],
) -> Result<(Child, u16)> {
    let binary = nats_server_binary()?;
    let port_arg = port.map(|p| p.to_string()).unwrap_or_else(|| "-1".into());
    let mut child = Command::new(&binary)
        .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    // Keep reading stderr for the server's whole life, so it never blocks
    // on a full pipe; report the port, then readiness.
    std::thread::spawn(move || {
        let mut port = None;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                port = rest
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse::<u16>().ok());
            }
            if line.contains("Server is ready") {
                let _ = tx.send(port);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Some(port)) => Ok((child, port)),
        Ok(None) => {
            let _ = child.kill();
            bail!("nats-server did not report its port")
        }
        Err(_) => {
            let _ = child.kill();
            bail!("nats-server did not become ready within 20s")
        }
    }
}

/// A NATS JetStream cluster of three `nats-server` processes on loopback,
/// each with its own store dir and client port, routed to each other on
/// free cluster ports; killed on drop. Nodes can be killed (SIGKILL) and
/// restarted one by one, on the same ports and stores.
pub struct NatsCluster {
    /// The nodes, `n0`, `n1`, `n2`.
    pub nodes: Vec<NatsServer>,
}

/// How many nodes [`NatsCluster`] runs.
pub const CLUSTER_NODES: usize = 3;

impl NatsCluster {
    /// Starts three nodes and waits until JetStream has a meta leader and
    /// an R3 stream can be created (every node in the cluster).
    pub async fn start() -> Result<Self> {
        let cluster_ports = free_ports(CLUSTER_NODES);
        let mut nodes = Vec::with_capacity(CLUSTER_NODES);
        for (i, port) in cluster_ports.iter().enumerate() {
            let routes = cluster_ports
                .iter()
                .filter(|other| *other != port)
                .map(|other| format!("nats://127.0.0.1:{other}"))
                .collect::<Vec<_>>()
                .join(",");
            let args = vec![
                "--name".to_string(),
                format!("n{i}"),
                "--cluster_name".to_string(),
                "leadwheel-test".to_string(),
                "--cluster".to_string(),
                format!("nats://127.0.0.1:{port}"),
                "--routes".to_string(),
                routes,
            ];
            // A node is ready before its peers are up (it keeps retrying
            // its routes), so they can be started one after the other.
            let start = tokio::task::spawn_blocking(move || NatsServer::start_with(args));
            nodes.push(start.await.context("starting a cluster node")??);
        }
        let cluster = Self { nodes };
        cluster.wait_ready(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    /// Every node's client URL, separated by commas (as `NATS_URL` takes it).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts node `i` on its port and store; it catches up by itself.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        node.kill();
        let (dir, port, args) = (
            node.store_dir.path().to_path_buf(),
            node.port,
            node.args.clone(),
        );
        let (child, _) =
            tokio::task::spawn_blocking(move || spawn_nats_with(&dir, Some(port), &args))
                .await
                .context("restarting a cluster node")??;
        self.nodes[i].child = Some(child);
        Ok(())
    }

    /// Waits until the running nodes' JetStream has a meta leader and as
    /// many peers as there are running nodes: an R`n` probe stream (`n` the
    /// running nodes, at most 3) can be created and deleted.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let running: Vec<String> = self
            .nodes
            .iter()
            .filter(|node| node.child.is_some())
            .map(NatsServer::url)
            .collect();
        let replicas = running.len().min(CLUSTER_NODES);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_error = String::new();
        while tokio::time::Instant::now() < deadline {
            match probe_cluster(&running, replicas).await {
                Ok(()) => return Ok(()),
                Err(err) => last_error = format!("{err:#}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!("the JetStream cluster was not ready within {timeout:?}: {last_error}")
    }
}

/// Creates and deletes an R`replicas` memory stream through `urls`.
async fn probe_cluster(urls: &[String], replicas: usize) -> Result<()> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(Duration::from_secs(2)))
        .connect(urls.to_vec())
        .await?;
    let jetstream = async_nats::jetstream::new(client);
    let name = format!("LW_PROBE_{}", ulid::Ulid::new());
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("lw-probe.{name}")],
            storage: async_nats::jetstream::stream::StorageType::Memory,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("creating a probe stream")?;
    jetstream
        .delete_stream(&name)
        .await
        .context("deleting the probe stream")?;
    Ok(())
}

/// Lock files of the ports this process reserved, held until it exits.
static RESERVED_PORTS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// Reserves `port` for this process: an exclusive lock on
/// `<temp dir>/leadwheel-test-ports/<port>.lock`, held until the process
/// exits (the kernel drops it then, also after a crash). False when another
/// process, or an earlier call of this one, holds it. When the lock file
/// cannot be made, the port is taken unreserved, as before.
fn reserve_port(port: u16) -> bool {
    let dir = std::env::temp_dir().join("leadwheel-test-ports");
    let file = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{port}.lock")))
    });
    let Ok(file) = file else { return true };
    match file.try_lock() {
        Ok(()) => {
            RESERVED_PORTS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(file);
            true
        }
        Err(_) => false,
    }
}

/// `n` distinct ports free on 127.0.0.1 now, for a process that must bind
/// them itself (so a listener cannot be passed). They are released before
/// it binds them, so they are drawn below the kernel's ephemeral range: a
/// port there is never handed to an outgoing connection or a `bind(0)` of
/// another test meanwhile. All are held until all are chosen, so they differ.
/// Each is also reserved for the life of the calling process by a lock on
/// a file named after it ([`reserve_port`]): another test process drawing
/// the same port while this one has released it but its child has not yet
/// bound it (seen as "Address already in use" in CI) skips it instead.
pub fn free_ports(n: usize) -> Vec<u16> {
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let high = ephemeral_low.max(4096);
    let low = high / 2;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let mut listeners = Vec::new();
    while listeners.len() < n {
        // xorshift: enough to spread concurrent tests over the range.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = low + (seed % u64::from(high - low)) as u16;
        if !reserve_port(port) {
            continue;
        }
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("a bound address").port())
        .collect()
}

/// The variable that, set to `1`, skips the Postgres runs of tests when
/// `TEST_POSTGRES_URL` is unset (otherwise they fail).
pub const SKIP_POSTGRES: &str = "LEADWHEEL_SKIP_POSTGRES";

/// Runs `test` on a fresh Postgres database from [`TestDb::postgres`]:
/// fails when `TEST_POSTGRES_URL` is unset, unless skipping was asked for.
/// Every test's Postgres variant goes through here.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(db) = TestDb::postgres().await {
        test(db).await;
    }
}

/// A fresh database for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A new SQLite file in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        Self {
            url,
            _dir: Some(dir),
        }
    }

    /// A new, empty Postgres database on the server named by
    /// `TEST_POSTGRES_URL`. When that is unset the test fails, because the
    /// harness swallows any message and a silent pass would look like a
    /// Postgres run; only an explicit `LEADWHEEL_SKIP_POSTGRES=1` turns the
    /// run into a skip (None). Prefer [`on_postgres`] to calling this.
    pub async fn postgres() -> Option<Self> {
        let base = match std::env::var("TEST_POSTGRES_URL") {
            Ok(base) if !base.is_empty() => base,
            _ if std::env::var(SKIP_POSTGRES).as_deref() == Ok("1") => {
                eprintln!("SKIPPED: the Postgres run of this test ({SKIP_POSTGRES}=1)");
                return None;
            }
            _ => panic!(
                "TEST_POSTGRES_URL is not set, so this Postgres test cannot run: \
                 `make test` sets it from scripts/ensure-postgres.sh, or export \
                 TEST_POSTGRES_URL=\"$(scripts/ensure-postgres.sh)\"; to skip the \
                 Postgres runs on purpose, set {SKIP_POSTGRES}=1"
            ),
        };
        sqlx::any::install_default_drivers();
        let name = format!("lw_t_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut conn = sqlx::AnyConnection::connect(&base)
            .await
            .unwrap_or_else(|err| panic!("connecting to TEST_POSTGRES_URL: {err}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("creating a test database");
        let _ = conn.close().await;
        let (prefix, _) = base
            .rsplit_once('/')
            .expect("TEST_POSTGRES_URL has a database path");
        Some(Self {
            url: format!("{prefix}/{name}"),
            _dir: None,
        })
    }
}

/// A config for `service` pointing at `nats_url` and `database_url`, with
/// ephemeral listen addresses and the test key.
pub fn service_config(service: &'static str, nats_url: &str, database_url: &str) -> ServiceConfig {
    ServiceConfig {
        service,
        grpc_addr: ([127, 0, 0, 1], 0).into(),
        admin_addr: ([127, 0, 0, 1], 0).into(),
        database_url: Secret::new(database_url),
        nats_url: nats_url.to_string(),
        nats_creds_file: None,
        jwt_secret: Secret::new(TEST_JWT_SECRET),
        log_format: LogFormat::Human,
        otlp_endpoint: None,
        shutdown_timeout: Duration::from_secs(10),
        data_dir: std::env::temp_dir(),
        retention: crate::retention::Retention::default(),
        security: Default::default(),
    }
}

/// Installs a test log subscriber once (honours `RUST_LOG`).
pub fn init_test_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Polls `check` every 20 ms until it returns Some, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes `payload` as an event on `subject` straight to JetStream (as a
/// producing service's outbox would), creating `stream` if needed; returns
/// the event id. For tests of consumers.
pub async fn publish_event(
    nats_url: &str,
    stream: &StreamSpec,
    subject: &str,
    key: &str,
    payload: &impl Message,
) -> Result<String> {
    let bus = test_bus(nats_url).await?;
    bus.ensure_stream(stream).await?;
    let id = crate::ids::new_id();
    publish_envelope(&bus, subject, &id, &id, key, payload).await?;
    Ok(id)
}

/// Publishes an envelope whose event id is `event_id` under a fresh
/// `Nats-Msg-Id` (`<event_id>-again`), as JetStream does when it redelivers
/// an event the consumer had processed but not acked (past the dedupe
/// window). The stream must exist.
pub async fn redeliver_event(
    nats_url: &str,
    subject: &str,
    event_id: &str,
    key: &str,
    payload: &impl Message,
) -> Result<()> {
    let bus = test_bus(nats_url).await?;
    let msg_id = format!("{event_id}-again");
    publish_envelope(&bus, subject, &msg_id, event_id, key, payload).await
}

/// Publishes bytes that are no envelope (a malformed event) on `subject`,
/// creating `stream` if nobody has yet.
pub async fn publish_garbage(nats_url: &str, stream: &StreamSpec, subject: &str) -> Result<()> {
    let bus = test_bus(nats_url).await?;
    bus.ensure_stream(stream).await?;
    bus.jetstream
        .publish(subject.to_string(), vec![0xff, 0x00, 0x13].into())
        .await?
        .await?;
    Ok(())
}

/// Connects to `nats_url`: one server, or a cluster's servers separated
/// by commas (any live one will do).
pub async fn connect(nats_url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::connect(crate::bus::server_urls(nats_url)).await
}

async fn test_bus(nats_url: &str) -> Result<Bus> {
    let client = connect(nats_url).await?;
    let jetstream = async_nats::jetstream::new(client.clone());
    Ok(Bus { client, jetstream })
}

async fn publish_envelope(
    bus: &Bus,
    subject: &str,
    msg_id: &str,
    event_id: &str,
    key: &str,
    payload: &impl Message,
) -> Result<()> {
    let envelope = Envelope {
        id: event_id.to_string(),
        r#type: subject.to_string(),
        source: "test".into(),
        time_ms: crate::store::now_ms(),
        key: key.to_string(),
        payload: payload.encode_to_vec(),
    };
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    bus.jetstream
        .publish_with_headers(
            subject.to_string(),
            headers,
            envelope.encode_to_vec().into(),
        )
        .await?
        .await?;
    Ok(())
}

/// One message read back from a stream.
#[derive(Debug)]
pub struct StreamMessage {
    /// Its subject.
    pub subject: String,
    /// Its headers (`Nats-Msg-Id`, `traceparent`, …), if any.
    pub headers: Option<HeaderMap>,
    /// The event envelope it carries.
    pub envelope: Envelope,
}

impl StreamMessage {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .as_ref()
            .and_then(|headers| headers.get(name))
            .map(|value| value.as_str().to_string())
    }
}

/// Every message in `stream` on `subject` so far (an empty `subject`: every
/// subject), in stream order, read with an ordered consumer. Panics when the
/// stream is missing or a message is not an envelope. On a cluster that is
/// electing a leader (a node was killed), the reader is created again for
/// up to 30 s before giving up.
pub async fn read_stream(nats_url: &str, stream: &StreamSpec, subject: &str) -> Vec<StreamMessage> {
    let client = connect(nats_url).await.expect("connecting to NATS");
    let jetstream = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let consumer = loop {
        let created = async {
            jetstream
                .get_stream(stream.name)
                .await
                .map_err(|err| format!("the stream {}: {err}", stream.name))?
                .create_consumer(OrderedConfig {
                    filter_subject: subject.to_string(),
                    ..Default::default()
                })
                .await
                .map_err(|err| format!("creating an ordered consumer: {err}"))
        }
        .await;
        match created {
            Ok(consumer) => break consumer,
            Err(err) if tokio::time::Instant::now() > deadline => panic!("{err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let pending = consumer.cached_info().num_pending as usize;
    let mut messages = consumer.messages().await.expect("consuming").take(pending);
    let mut out = Vec::with_capacity(pending);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let next = match tokio::time::timeout(Duration::from_secs(2), messages.next()).await {
            Ok(next) => next,
            Err(_) => {
                // Counted as pending when the reader was made, yet not
                // delivered: a message the stream dropped since (its max
                // age passed) never comes, so stop once the stream is empty.
                let left = jetstream
                    .get_stream(stream.name)
                    .await
                    .expect("the stream")
                    .cached_info()
                    .state
                    .messages;
                if left == 0 {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < give_up,
                    "{} of {pending} messages of {} read in 30 s",
                    out.len(),
                    stream.name
                );
                continue;
            }
        };
        let Some(message) = next else { break };
        let message = message.expect("a message");
        out.push(StreamMessage {
            subject: message.subject.to_string(),
            headers: message.headers.clone(),
            envelope: Envelope::decode(message.payload.as_ref()).expect("an envelope"),
        });
    }
    out
}

/// The envelopes of [`read_stream`].
pub async fn read_envelopes(nats_url: &str, stream: &StreamSpec, subject: &str) -> Vec<Envelope> {
    read_stream(nats_url, stream, subject)
        .await
        .into_iter()
        .map(|message| message.envelope)
        .collect()
}

/// The payloads of [`read_stream`], decoded as `M`.
pub async fn read_events<M: Message + Default>(
    nats_url: &str,
    stream: &StreamSpec,
    subject: &str,
) -> Vec<M> {
    read_stream(nats_url, stream, subject)
        .await
        .into_iter()
        .map(|message| M::decode(message.envelope.payload.as_slice()).expect("the event's payload"))
        .collect()
}

/// Waits until the durable consumer `durable` on `stream` has been handed
/// every message its filter takes and has none left unacknowledged: each
/// was acked or terminated, so nothing is waiting for a redelivery. A
/// barrier for checking that something did *not* happen, instead of a sleep.
pub async fn wait_consumer_done(nats_url: &str, stream: &StreamSpec, durable: &str) {
    let client = connect(nats_url).await.expect("connecting to NATS");
    let jetstream = async_nats::jetstream::new(client);
    eventually(
        Duration::from_secs(30),
        &format!("consumer {durable} to have acked every message"),
        || {
            let jetstream = jetstream.clone();
            async move {
                let stream = jetstream.get_stream(stream.name).await.ok()?;
                let info = stream.consumer_info(durable).await.ok()?;
                (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
            }
        },
    )
    .await
}

/// A bearer token for tests, signed with [`TEST_JWT_SECRET`].
pub fn test_token(subject: &str, role: crate::auth::Role) -> String {
    crate::auth::Authenticator::new(Secret::new(TEST_JWT_SECRET)).mint(subject, role, None, 3600)
}

/// Waits until the admin port at `admin_addr` answers `/readyz` with 200.
pub async fn wait_ready(admin_addr: std::net::SocketAddr) {
    eventually(
        Duration::from_secs(30),
        "the service to be ready",
        || async move {
            let mut stream = tokio::net::TcpStream::connect(admin_addr).await.ok()?;
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await.ok()?;
            response.starts_with("HTTP/1.1 200").then_some(())
        },
    )
    .await
}

/// A NATS server and a database that outlive service restarts.
pub struct TestEnv {
    /// The NATS server (kill and restart it to simulate an outage).
    pub nats: NatsServer,
    /// The database.
    pub db: TestDb,
}

impl TestEnv {
    /// Installs test logs and starts a NATS server next to `db`.
    pub fn new(db: TestDb) -> Self {
        init_test_logs();
        Self {
            nats: NatsServer::start().expect("starting nats-server"),
            db,
        }
    }

    /// Runs `service`'s `run` against this NATS and database (see
    /// [`ServiceHandle::spawn`]).
    pub async fn spawn<F, Fut>(&self, service: &'static str, run: F) -> ServiceHandle
    where
        F: FnOnce(ServiceConfig, Listeners, Shutdown) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        ServiceHandle::spawn(service_config(service, &self.nats.url(), &self.db.url), run).await
    }
}

/// A service's `run` running in the background on ephemeral ports, stopped
/// through its shutdown future (a oneshot). Dropping the handle stops the
/// service too, without waiting for it.
pub struct ServiceHandle {
    /// The bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// The bound admin address.
    pub admin_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
}

impl ServiceHandle {
    /// Binds ephemeral ports, spawns `run(config, listeners, shutdown)` and
    /// waits until the admin port says ready.
    pub async fn spawn<F, Fut>(config: ServiceConfig, run: F) -> Self
    where
        F: FnOnce(ServiceConfig, Listeners, Shutdown) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let listeners = Listeners::ephemeral().await.expect("binding ports");
        let grpc_addr = listeners.grpc_addr();
        let admin_addr = listeners.admin_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(run(config, listeners, shutdown));
        wait_ready(admin_addr).await;
        Self {
            grpc_addr,
            admin_addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Shuts the service down and checks it stopped cleanly (panics if it
    /// panicked or returned an error).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = task.await.expect("service task panicked");
            result.expect("service stopped with an error");
        }
    }
}

/// Runs each named `async fn(TestDb)` as two tests: on SQLite, and on
/// Postgres through [`on_postgres`](crate::testing::on_postgres) (which
/// fails when `TEST_POSTGRES_URL` is unset, unless
/// `LEADWHEEL_SKIP_POSTGRES=1`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::testing::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::testing::on_postgres(super::$name).await;
                }
            }
        )*
    };
}

/// A certificate authority and a server certificate signed by it (for
/// `localhost` and `127.0.0.1`), made with the `openssl` command
/// (scripts/ensure-test-tools.sh installs it) in a temporary directory, for
/// tests of the ports served over TLS.
pub struct TestPki {
    dir: TempDir,
}

impl TestPki {
    /// Makes the CA (`ca.pem`) and the server's pair (`server.pem`, `server.key`).
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let openssl = |args: &[&str]| -> Result<()> {
            let output = Command::new("openssl")
                .current_dir(dir.path())
                .args(args)
                .output()
                .context("running openssl (scripts/ensure-test-tools.sh installs it)")?;
            if !output.status.success() {
                bail!(
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(())
        };
        let p256 = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let ca = [
            &["req", "-x509"][..],
            &p256,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &["-subj", "/CN=leadwheel test CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat();
        openssl(&ca)?;
        std::fs::write(
            dir.path().join("server.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )?;
        let csr = [
            &["req"][..],
            &p256,
            &["-keyout", "server.key", "-out", "server.csr"],
            &["-subj", "/CN=localhost"],
        ]
        .concat();
        openssl(&csr)?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1",
            "-days",
            "2",
            "-out",
            "server.pem",
            "-extfile",
            "server.ext",
        ])?;
        Ok(Self { dir })
    }

    /// The CA's certificate, for clients to trust.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Server settings with the certificate (no client certificates, TLS
    /// on the admin port too), as `LEADWHEEL_TLS_CERT_FILE` and
    /// `LEADWHEEL_TLS_KEY_FILE` would give.
    pub fn server_settings(&self) -> crate::tls::ServerTlsSettings {
        crate::tls::ServerTlsSettings {
            cert_file: self.dir.path().join("server.pem"),
            key_file: self.dir.path().join("server.key"),
            client_ca_file: None,
            client_auth: crate::tls::ClientAuth::Required,
            admin: true,
            reload_every: Duration::from_secs(10),
        }
    }
}

/// An answer to [`https_get`].
#[derive(Debug)]
pub struct HttpsAnswer {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, empty when none.
    pub content_type: String,
    /// Every header.
    pub headers: http::HeaderMap,
    /// The body as text.
    pub body: String,
}

/// GETs `url` over HTTPS (HTTP/1.1), trusting the CA in `ca_file` (and
/// the system's roots),
/// with `Authorization: Bearer <bearer>` when given; an error says why no
/// answer came (a refused handshake, an untrusted certificate, a plain
/// `http://` URL).
pub async fn https_get(
    url: &str,
    ca_file: &std::path::Path,
    bearer: Option<&str>,
) -> Result<HttpsAnswer> {
    let mut request = http::Request::get(url);
    if let Some(token) = bearer {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    https_request(request.body(bytes::Bytes::new())?, ca_file).await
}

/// Sends `request` over HTTPS (HTTP/1.1), trusting the CA in `ca_file`
/// (and the system's roots), as [`https_get`].
pub async fn https_request(
    request: http::Request<bytes::Bytes>,
    ca_file: &std::path::Path,
) -> Result<HttpsAnswer> {
    use http_body_util::BodyExt;
    let config = crate::tls::ClientTlsSettings {
        ca_file: Some(ca_file.to_path_buf()),
        identity: None,
    }
    .client_config(&[])?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(std::sync::Arc::unwrap_or_clone(config))
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Full<bytes::Bytes>>(connector);
    let what = format!("{} {}", request.method(), request.uri());
    let response = client
        .request(request.map(http_body_util::Full::new))
        .await
        .map_err(|err| anyhow::anyhow!("{what}: {err:?}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("{what}: the body"))?
        .to_bytes();
    Ok(HttpsAnswer {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// What a browser posts to `/signin/link` when the person presses
/// Continue on the page a one-time sign-in link opens: that page's hidden
/// fields, form-encoded (empty when the page has no such form: a refused
/// link).
pub fn link_continue_body(page: &str) -> String {
    let Some(start) = page.find(r#"action="/signin/link""#) else {
        return String::new();
    };
    let form = &page[start
        ..page[start..]
            .find("</form>")
            .map_or(page.len(), |end| start + end)];
    let mut body = form_urlencoded::Serializer::new(String::new());
    for input in form.split("<input").skip(1) {
        let attribute = |name: &str| {
            let marker = format!(r#"{name}=""#);
            let from = input.find(&marker)? + marker.len();
            let value = &input[from..from + input[from..].find('"')?];
            Some(
                value
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(name), Some(value)) = (attribute("name"), attribute("value")) {
            body.append_pair(&name, &value);
        }
    }
    body.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two draws never share a port, though the first released its ports
    /// before the second: 1,000 each out of ~16,000 would share about 60
    /// without the reservation.
    #[test]
    fn ports_drawn_are_not_drawn_again_while_the_process_lives() {
        let first: std::collections::HashSet<u16> = free_ports(1000).into_iter().collect();
        let second = free_ports(1000);
        assert_eq!(first.len(), 1000);
        let shared: Vec<u16> = second.into_iter().filter(|p| first.contains(p)).collect();
        assert!(shared.is_empty(), "drawn twice: {shared:?}");
    }
}

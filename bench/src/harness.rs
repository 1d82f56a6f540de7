//! What every scenario needs: a `nats-server`, the real wheel binary as a
//! child process on a fresh store, tokens, lead events published exactly as
//! intake's outbox publishes them, and a listener for the wheel's offer
//! events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use futures::StreamExt;
use leadwheel_plumbing::auth::{Authenticator, Role};
use leadwheel_plumbing::bus::{Bus, INTAKE_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::{ids, now_ms};
use leadwheel_proto::events::v1::{Envelope, LeadCreated, OfferClosed, OfferOpened};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{OfferState, OfferUpdate, Team, TeamPolicy, UpsertTeamRequest};
use prost::Message;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// The HMAC key the bench gives the wheel and signs its tokens with.
pub const JWT_SECRET: &str = "leadwheel-bench-secret-0123456789";

/// Which store the wheel runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A SQLite file in a temporary folder (the default).
    Sqlite,
    /// A fresh database on this Postgres server (URL of any database on it).
    Postgres(String),
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Connects to NATS with a large subscription buffer (the bench's listener
/// must not become a slow consumer when 100k events arrive in a burst).
pub async fn connect_bus(nats_url: &str) -> Result<Bus> {
    let client = async_nats::ConnectOptions::new()
        .name("leadwheel-bench")
        .subscription_capacity(1 << 20)
        .client_capacity(1 << 16)
        .connect(nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {nats_url}"))?;
    let jetstream = async_nats::jetstream::new(client.clone());
    Ok(Bus { client, jetstream })
}

/// Deletes the intake and wheel streams (and so the wheel's durable
/// consumer), so the next wheel starts from nothing.
pub async fn reset_streams(bus: &Bus) {
    for stream in [INTAKE_STREAM.name, WHEEL_STREAM.name] {
        let _ = bus.jetstream.delete_stream(stream).await;
    }
}

/// A release service binary run by a benchmark as a child process, on a
/// fresh store of its own: a SQLite file in a temporary folder, or a fresh
/// `lw_bench_*` Postgres database that [`ServiceProcess::stop`] drops.
pub struct ServiceProcess {
    child: Child,
    /// Its gRPC address (unspecified for the console, which serves none).
    pub grpc: SocketAddr,
    /// Its admin address (`/readyz`, `/metrics`).
    pub admin: SocketAddr,
    /// Its HTTP address, when it serves one (intake's signups, the console).
    pub http: Option<SocketAddr>,
    /// Its store.
    pub database_url: String,
    /// Its log file.
    pub log: PathBuf,
    database: Option<(String, String)>,
    _dir: TempDir,
}

/// How to start one service for a benchmark.
pub struct Launch<'a> {
    /// `wheel`, `alerting`, `reporting`: its settings are
    /// `LEADWHEEL_<SERVICE>_*` and its SQLite file `<service>.db`.
    pub service: &'a str,
    /// The release binary.
    pub binary: &'a Path,
    /// What to build when the binary is missing (`-p leadwheel-wheel`) and
    /// the flag naming another one (`--wheel-bin`).
    pub build_hint: (&'a str, &'a str),
    /// Further environment settings.
    pub env: &'a [(&'a str, &'a str)],
    /// False for the console: it announces `http` and `admin`, no `grpc`.
    pub serves_grpc: bool,
}

impl ServiceProcess {
    /// Starts `launch`'s binary against `nats_url` on a fresh store, waits
    /// for its announced addresses and for `/readyz`.
    pub async fn start(
        launch: &Launch<'_>,
        nats_url: &str,
        backend: &Backend,
        rust_log: &str,
    ) -> Result<Self> {
        let (service, binary) = (launch.service, launch.binary);
        if !binary.exists() {
            let (package, flag) = launch.build_hint;
            bail!(
                "{} is missing: build it with `cargo build --release {package} -p leadwheel-bench` (or pass {flag})",
                binary.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let (database_url, database) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/{service}.db", dir.path().display()),
                None,
            ),
            Backend::Postgres(base) => {
                let (url, name) = create_postgres_database(base).await?;
                (url, Some((base.clone(), name)))
            }
        };
        Self::spawn(launch, nats_url, (database_url, database), dir, rust_log).await
    }

    /// Starts another process of `launch`'s service on `database_url`, a
    /// database it shares with the replica that made it (and drops).
    pub async fn start_replica(
        launch: &Launch<'_>,
        nats_url: &str,
        database_url: &str,
        rust_log: &str,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        Self::spawn(
            launch,
            nats_url,
            (database_url.to_string(), None),
            dir,
            rust_log,
        )
        .await
    }

    async fn spawn(
        launch: &Launch<'_>,
        nats_url: &str,
        (database_url, database): (String, Option<(String, String)>),
        dir: tempfile::TempDir,
        rust_log: &str,
    ) -> Result<Self> {
        let (service, binary) = (launch.service, launch.binary);
        let prefix = format!("LEADWHEEL_{}_", service.to_uppercase());
        let log = dir.path().join(format!("{service}.log"));
        let file = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        command
            .env("NATS_URL", nats_url)
            .env("LEADWHEEL_JWT_SECRET", JWT_SECRET)
            .env("LEADWHEEL_DATA_DIR", dir.path())
            .env(format!("{prefix}GRPC_ADDR"), "127.0.0.1:0")
            .env(format!("{prefix}ADMIN_ADDR"), "127.0.0.1:0")
            .env(format!("{prefix}HTTP_ADDR"), "127.0.0.1:0")
            .env(format!("{prefix}DATABASE_URL"), &database_url)
            .env("LEADWHEEL_LOG_FORMAT", "human")
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove(format!("{prefix}DATABASE_URL_FILE"))
            .env_remove("LEADWHEEL_JWT_SECRET_FILE")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file));
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut process = Self {
            child,
            grpc: ([0, 0, 0, 0], 0).into(),
            admin: ([0, 0, 0, 0], 0).into(),
            http: None,
            database_url,
            log,
            database,
            _dir: dir,
        };
        let started = Instant::now();
        let addresses = loop {
            let text = std::fs::read_to_string(&process.log).unwrap_or_default();
            if let Some(addresses) = text.lines().find_map(parse_addresses) {
                break addresses;
            }
            if let Some(status) = process.child.try_wait()? {
                bail!("{service} exited with {status} at start; its log:\n{text}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("{service} did not announce its addresses in 60 s; its log:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        if launch.serves_grpc {
            process.grpc = *addresses.get("grpc").context("no grpc address announced")?;
        }
        process.http = addresses.get("http").copied();
        process.admin = *addresses
            .get("admin")
            .context("no admin address announced")?;
        leadwheel_plumbing::testing::wait_ready(process.admin).await;
        Ok(process)
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// VmRSS and VmHWM of the process now.
    pub fn memory(&self) -> Result<Memory> {
        process_memory(self.pid())
    }

    /// User + system CPU seconds the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// Stops it (SIGKILL: nothing it would flush matters to a benchmark)
    /// and drops its Postgres database, if any.
    pub async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((base, name)) = self.database.take()
            && let Err(err) = drop_postgres_database(&base, &name).await
        {
            eprintln!("could not drop the bench database {name}: {err:#}");
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wheel as a child process.
pub struct Wheel {
    process: ServiceProcess,
}

impl std::ops::Deref for Wheel {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.process
    }
}

/// Memory of a process, from `/proc/<pid>/status`, in MiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size now.
    pub rss_mib: f64,
    /// Peak resident set size so far.
    pub hwm_mib: f64,
}

impl Wheel {
    fn launch(binary: &Path) -> Launch<'_> {
        Launch {
            service: "wheel",
            binary,
            build_hint: ("-p leadwheel-wheel", "--wheel-bin"),
            env: &[],
            serves_grpc: true,
        }
    }

    /// Starts `binary` against `nats_url` on a fresh store, waits for its
    /// announced addresses and for `/readyz`.
    pub async fn start(
        binary: &Path,
        nats_url: &str,
        backend: &Backend,
        rust_log: &str,
    ) -> Result<Self> {
        Ok(Self {
            process: ServiceProcess::start(&Self::launch(binary), nats_url, backend, rust_log)
                .await?,
        })
    }

    /// Starts another replica of this wheel (`binary`) on its Postgres
    /// database; stop it before this one, which drops the database.
    pub async fn replica(&self, binary: &Path, nats_url: &str, rust_log: &str) -> Result<Self> {
        let launch = Self::launch(binary);
        Ok(Self {
            process: ServiceProcess::start_replica(
                &launch,
                nats_url,
                &self.process.database_url,
                rust_log,
            )
            .await?,
        })
    }

    /// Stops the wheel (SIGKILL: nothing it would flush matters here) and
    /// drops its Postgres database, if any.
    pub async fn stop(self) {
        self.process.stop().await
    }

    /// A gRPC client for the wheel.
    pub async fn client(&self) -> Result<WheelServiceClient<Channel>> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc))?
            .tcp_nodelay(true)
            .connect()
            .await
            .context("connecting to the wheel's gRPC port")?;
        Ok(WheelServiceClient::new(channel))
    }

    /// Creates (or replaces) team `team_id` with reps `<team_id>-rep-<n>`,
    /// as an admin; returns the rep ids in ring order.
    pub async fn seed_team(
        &self,
        team_id: &str,
        reps: usize,
        window_ms: i64,
    ) -> Result<Vec<String>> {
        let rep_ids: Vec<String> = (0..reps).map(|n| format!("{team_id}-rep-{n:03}")).collect();
        let mut client = self.client().await?;
        let request = authed(
            UpsertTeamRequest {
                team: Some(Team {
                    team_id: team_id.into(),
                    name: format!("bench team {team_id}"),
                    manager_id: format!("{team_id}-manager"),
                    window_ms,
                    rep_ids: rep_ids.clone(),
                    // Bench reps ignore offers on purpose: keep the circuit
                    // breaker from setting them away, so every expiry re-offers.
                    policy: Some(TeamPolicy {
                        breaker_expiries: -1,
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            },
            &token("bench-admin", Role::Admin),
        )?;
        if let Err(status) = client.upsert_team(request).await {
            bail!(
                "UpsertTeam for the bench team: {status}; the wheel's log ends:\n{}",
                self.log_tail(30)
            );
        }
        Ok(rep_ids)
    }
}

/// VmRSS and VmHWM of process `pid` now, from `/proc/<pid>/status`.
pub fn process_memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    Ok(Memory {
        rss_mib: field("VmRSS:"),
        hwm_mib: field("VmHWM:"),
    })
}

/// User + system CPU seconds of process `pid` so far (0 when unreadable).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ")".
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

/// A bearer token signed with [`JWT_SECRET`].
pub fn token(subject: &str, role: Role) -> String {
    Authenticator::new(Secret::new(JWT_SECRET)).mint(subject, role, None, 6 * 3600)
}

/// Wraps `message` in a request carrying `token`.
pub fn authed<T>(message: T, token: &str) -> Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
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

/// Creates a fresh `lw_bench_*` database on the server of `base`; returns
/// its URL and name.
pub async fn create_postgres_database(base: &str) -> Result<(String, String)> {
    sqlx::any::install_default_drivers();
    let name = format!("lw_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut conn = sqlx::AnyConnection::connect(base)
        .await
        .with_context(|| "connecting to the --postgres server".to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .context("creating the bench database")?;
    let _ = conn.close().await;
    let (prefix, _) = base.rsplit_once('/').context(
        "the --postgres URL needs a database path, e.g. postgres://u@host:5432/postgres",
    )?;
    Ok((format!("{prefix}/{name}"), name))
}

/// Drops database `name` on the server of `base`.
pub async fn drop_postgres_database(base: &str, name: &str) -> Result<()> {
    let mut conn = sqlx::AnyConnection::connect(base).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(())
}

/// A `LeadCreated` like intake's, for lead `lead_id` routed to `team_id`.
pub fn lead_created(lead_id: &str, n: usize, team_id: &str) -> LeadCreated {
    LeadCreated {
        lead_id: lead_id.to_string(),
        email: format!("buyer{n}@acme{}.example", n % 997),
        name: format!("Pat Buyer {n}"),
        company: format!("Acme {} GmbH", n % 997),
        domain: format!("acme{}.example", n % 997),
        tier: "B".into(),
        score: 55,
        source: "website".into(),
        account_owner_hint: String::new(),
        created_at_ms: now_ms(),
        team_hint: Some(team_id.to_string()),
        phone: "+49 30 1234567".into(),
        country: "DE".into(),
        message: "We would like a demo for 40 seats.".into(),
        ..Default::default()
    }
}

/// The envelope intake's outbox would write for `payload` on `subject`.
pub fn envelope(subject: &str, key: &str, payload: &impl Message) -> Envelope {
    Envelope {
        id: ids::new_id(),
        r#type: subject.to_string(),
        source: "intake".into(),
        time_ms: now_ms(),
        key: key.to_string(),
        payload: payload.encode_to_vec(),
    }
}

/// Publishes `envelope` on `subject` with its id as `Nats-Msg-Id`, as the
/// outbox relay does; returns the ack future without waiting for it.
pub async fn publish_envelope(
    bus: &Bus,
    subject: &str,
    envelope: &Envelope,
) -> Result<PublishAckFuture> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.id.as_str());
    Ok(bus
        .jetstream
        .publish_with_headers(
            subject.to_string(),
            headers,
            envelope.encode_to_vec().into(),
        )
        .await?)
}

/// Publishes `intake.lead.created` for `lead_id`; returns the ack future.
pub async fn publish_lead(
    bus: &Bus,
    lead_id: &str,
    n: usize,
    team_id: &str,
) -> Result<PublishAckFuture> {
    let created = lead_created(lead_id, n, team_id);
    let envelope = envelope(subjects::LEAD_CREATED, lead_id, &created);
    publish_envelope(bus, subjects::LEAD_CREATED, &envelope).await
}

/// What [`publish_leads_at`] did: each lead's scheduled send (monotonic)
/// and the wall-clock ms it was actually sent, how long publishing took,
/// and how many publishes JetStream did not ack.
pub struct Published {
    pub sent: Vec<(Instant, i64)>,
    pub elapsed: Duration,
    pub failures: usize,
}

/// Publishes `lead_ids` for team `team_id` at a constant `rate` per
/// second in the background (open loop: a late publish does not delay the
/// schedule of the next one).
pub fn publish_leads_at(
    bus: &Bus,
    lead_ids: Vec<String>,
    rate: u32,
    team_id: &str,
) -> tokio::task::JoinHandle<Result<Published>> {
    let bus = bus.clone();
    let team_id = team_id.to_string();
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut sent = Vec::with_capacity(lead_ids.len());
        let mut acks = Acks::new();
        for (n, lead_id) in lead_ids.iter().enumerate() {
            let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            sent.push((due.into_std(), now_ms()));
            acks.push(publish_lead(&bus, lead_id, n, &team_id).await?)
                .await;
        }
        let elapsed = start.elapsed();
        let failures = acks.finish().await;
        Ok(Published {
            sent,
            elapsed,
            failures,
        })
    })
}

/// A wheel offer event as the bench received it.
#[derive(Clone, Debug)]
pub enum OfferEvent {
    Opened(OfferOpened),
    Closed(OfferClosed),
}

/// An offer event with the bench's receive time.
#[derive(Clone, Debug)]
pub struct Received {
    /// Monotonic receive time.
    pub at: Instant,
    /// Wall-clock receive time, epoch ms (same clock as the wheel's).
    pub at_ms: i64,
    pub event: OfferEvent,
}

/// Subscribes (core NATS) to `wheel.offer.>` and forwards every decoded
/// offer event; the subscription is live on the server when this returns.
pub async fn listen_offers(bus: &Bus) -> Result<mpsc::UnboundedReceiver<Received>> {
    let mut subscriber = bus.client.subscribe("wheel.offer.>").await?;
    bus.client.flush().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let at = Instant::now();
            let at_ms = now_ms();
            let Ok(envelope) = Envelope::decode(message.payload.as_ref()) else {
                continue;
            };
            let event = match envelope.r#type.as_str() {
                subjects::OFFER_OPENED => match OfferOpened::decode(envelope.payload.as_slice()) {
                    Ok(opened) => OfferEvent::Opened(opened),
                    Err(_) => continue,
                },
                subjects::OFFER_CLOSED => match OfferClosed::decode(envelope.payload.as_slice()) {
                    Ok(closed) => OfferEvent::Closed(closed),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if tx.send(Received { at, at_ms, event }).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

/// Subscribes (core NATS) to every rep's live offer pushes
/// (`live.rep.*.offers`, what a rep's console or `leadctl watch` shows)
/// and collects (lead, receive time) of each push of a newly opened first
/// offer; the subscription is live on the server when this returns.
pub async fn listen_live_first_offers(
    bus: &Bus,
) -> Result<std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>>> {
    let mut subscriber = bus.client.subscribe("live.rep.*.offers").await?;
    bus.client.flush().await?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let at = Instant::now();
            let Ok(update) = OfferUpdate::decode(message.payload.as_ref()) else {
                continue;
            };
            if let Some(offer) = update.offer
                && offer.state == OfferState::Open as i32
                && offer.step == 1
            {
                out.lock().expect("live pushes").push((offer.lead_id, at));
            }
        }
    });
    Ok(seen)
}

/// Waits for every ack in `acks`; returns how many failed.
/// Publish acks in flight, awaited as the run goes: async-nats lets at most
/// 5,000 acks be outstanding and then blocks the next publish, so a
/// publisher that kept every ack until the end would stall at 5,000 events.
#[derive(Default)]
pub struct Acks {
    pending: futures::stream::FuturesUnordered<
        <PublishAckFuture as std::future::IntoFuture>::IntoFuture,
    >,
    failed: usize,
}

impl Acks {
    /// Most acks awaited lazily; past it, `push` waits for the oldest.
    const IN_FLIGHT: usize = 1024;

    pub fn new() -> Self {
        Self::default()
    }

    pub async fn push(&mut self, ack: PublishAckFuture) {
        self.pending.push(std::future::IntoFuture::into_future(ack));
        while self.pending.len() >= Self::IN_FLIGHT {
            if let Some(Err(_)) = self.pending.next().await {
                self.failed += 1;
            }
        }
    }

    /// Waits for the rest; returns how many publishes failed in all.
    pub async fn finish(mut self) -> usize {
        while let Some(result) = self.pending.next().await {
            if result.is_err() {
                self.failed += 1;
            }
        }
        self.failed
    }
}

pub async fn await_acks(acks: Vec<PublishAckFuture>) -> usize {
    let mut failed = 0;
    let mut pending: futures::stream::FuturesUnordered<_> = acks
        .into_iter()
        .map(std::future::IntoFuture::into_future)
        .collect();
    while let Some(result) = pending.next().await {
        if result.is_err() {
            failed += 1;
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_announce_line() {
        let line = r#"2026-01-01T00:00:00Z  INFO listening service="wheel" addresses=grpc=127.0.0.1:4000 admin=127.0.0.1:5000"#;
        let parsed = parse_addresses(line).unwrap();
        assert_eq!(parsed["grpc"].port(), 4000);
        assert_eq!(parsed["admin"].port(), 5000);
        assert!(parse_addresses("INFO consuming").is_none());
    }

    #[test]
    fn reads_own_cpu_time() {
        // Burn CPU until the reading has grown by 0.2 s: a parser that read
        // the wrong field (or nothing) never gets there.
        let pid = std::process::id();
        let before = cpu_seconds(pid);
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while cpu_seconds(pid) < before + 0.2 {
            for n in 0..100_000u64 {
                spin = std::hint::black_box(spin.wrapping_mul(31).wrapping_add(n));
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "cpu time stuck at {} after 30 s of spinning (from {before})",
                cpu_seconds(pid)
            );
        }
        // Not more than the wall time spent, on this one spinning thread
        // plus the other test threads: a reading in the wrong unit is caught.
        let grown = cpu_seconds(pid) - before;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!(
            grown <= started.elapsed().as_secs_f64() * cores + 0.05,
            "{grown} s of cpu in {:?}",
            started.elapsed()
        );
        assert_eq!(cpu_seconds(u32::MAX), 0.0);
    }
}

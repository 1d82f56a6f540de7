//! The intake scenario: signed signups over HTTP into the real
//! `leadwheel-intake` binary on SQLite, against the raw JetStream publish
//! rate measured in the same run.
//!
//! Two phases on one fresh intake: a burst (`--count` signups from
//! `--concurrency` keep-alive connections, as fast as intake answers) for
//! the accepted rate, and a steady open-loop phase (`--rate` per second for
//! `--duration`) for latency, each request timed from when it was due, so
//! a stall shows up in the percentiles instead of slowing the sender.
//! Every 201 is checked against the store afterwards: accepted means stored.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use leadwheel_intake::signature::sign;
use leadwheel_plumbing::config::Secret;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use crate::harness::{self, JWT_SECRET};
use crate::report::{Check, Section};
use crate::scenarios::{Baseline, Ctx};
use crate::stats::Samples;

/// The signups' signing key intake is given.
pub const WEBHOOK_SECRET: &str = "whsec-bench-0123456789abcdef";
const RULES: &str = include_str!("../../config/scoring.toml");

/// The sizes of one intake run.
pub struct IntakeSizes {
    /// Burst: signups sent.
    pub count: usize,
    /// Burst: connections sending at once.
    pub concurrency: usize,
    /// Steady phase: signups per second.
    pub rate: u32,
    /// Steady phase: how long.
    pub duration: Duration,
}

/// `leadwheel-intake` as a child process on a fresh SQLite store, taking
/// signed signups (also the console scenario's).
pub struct Intake {
    child: Child,
    /// Its signup address.
    pub http: SocketAddr,
    database: String,
    _dir: tempfile::TempDir,
}

impl Drop for Intake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Intake {
    /// Starts `binary` against `nats_url` and waits until it is ready.
    pub async fn start(binary: &Path, nats_url: &str) -> Result<Self> {
        if !binary.exists() {
            bail!(
                "{} is missing: build it with `cargo build --release -p leadwheel-intake -p leadwheel-bench` (or pass --intake-bin)",
                binary.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let rules = dir.path().join("scoring.toml");
        std::fs::write(&rules, RULES)?;
        let database = format!("sqlite://{}/intake.db", dir.path().display());
        let log = dir.path().join("intake.log");
        let file = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .env("NATS_URL", nats_url)
            .env("LEADWHEEL_JWT_SECRET", JWT_SECRET)
            .env("LEADWHEEL_DATA_DIR", dir.path())
            .env("LEADWHEEL_INTAKE_GRPC_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_INTAKE_ADMIN_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_INTAKE_HTTP_ADDR", "127.0.0.1:0")
            .env("LEADWHEEL_INTAKE_DATABASE_URL", &database)
            .env("LEADWHEEL_INTAKE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("LEADWHEEL_INTAKE_SCORING_RULES", &rules)
            // One load generator on one address: the per-address limit
            // would measure itself.
            .env("LEADWHEEL_INTAKE_RATE_PER_ADDRESS", "0")
            .env("LEADWHEEL_INTAKE_RATE_PER_INTEGRATION", "0")
            .env("LEADWHEEL_LOG_FORMAT", "human")
            // Info only where the addresses are announced: a log line per
            // signup would be part of what is measured.
            .env("RUST_LOG", "warn,leadwheel_plumbing::runtime=info")
            .env("NO_COLOR", "1")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut intake = Self {
            child,
            http: ([0, 0, 0, 0], 0).into(),
            database,
            _dir: dir,
        };
        let started = Instant::now();
        let addresses: HashMap<String, SocketAddr> = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(addresses) = text.lines().find_map(harness::parse_addresses) {
                break addresses;
            }
            if let Some(status) = intake.child.try_wait()? {
                bail!("intake exited with {status} at start; its log:\n{text}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("intake did not announce its addresses in 60 s; its log:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        intake.http = *addresses.get("http").context("no http address announced")?;
        let admin = *addresses.get("admin").context("no admin address")?;
        leadwheel_plumbing::testing::wait_ready(admin).await;
        Ok(intake)
    }
}

/// One keep-alive HTTP/1.1 connection: just enough client for a bench that
/// must leave the CPU to the server.
pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// Posts a signed signup; returns the status.
    async fn signup(&mut self, n: usize, secret: &Secret) -> Result<u16> {
        Ok(self.signup_answer(n, secret).await?.0)
    }

    /// Posts signed signup `n` (its country is one of US, DE, GB, BR by
    /// `n % 4`); returns the status and the body.
    pub async fn signup_answer(&mut self, n: usize, secret: &Secret) -> Result<(u16, Vec<u8>)> {
        let size = ["5", "60", "250", "1200"][n % 4];
        let country = ["US", "DE", "GB", "BR"][n % 4];
        let body = json!({
            "email": format!("user{n}@company{}.com", n % 5000),
            "name": "Bench Person",
            "company": format!("Company {}", n % 5000),
            "company_size": size,
            "country": country,
            "source": "website",
            "utm_campaign": "bench",
        })
        .to_string();
        let signature = sign(secret, leadwheel_plumbing::now_ms() / 1000, body.as_bytes());
        let request = format!(
            "POST /v1/signups HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             x-leadwheel-signature: {signature}\r\ncontent-length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("a bad status line {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// Counts answers by status.
#[derive(Default)]
struct Tally {
    created: usize,
    other: HashMap<u16, usize>,
}

impl Tally {
    fn add(&mut self, status: u16) {
        if status == 201 {
            self.created += 1;
        } else {
            *self.other.entry(status).or_default() += 1;
        }
    }
}

pub async fn intake(
    ctx: &Ctx,
    base: &Baseline,
    intake_bin: &Path,
    sizes: &IntakeSizes,
) -> Result<Section> {
    let intake = Intake::start(intake_bin, &ctx.nats_url).await?;
    let secret = Arc::new(Secret::new(WEBHOOK_SECRET));

    // Warm up (connections, statement caches).
    let mut warm = Conn::open(intake.http).await?;
    for n in 0..200 {
        warm.signup(10_000_000 + n, &secret).await?;
    }

    eprintln!(
        "  .. intake: burst of {} signups on {} connections",
        sizes.count, sizes.concurrency
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pid = intake.child.id();
    let cpu_before = harness::cpu_seconds(pid);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..sizes.concurrency {
        let next = next.clone();
        let secret = secret.clone();
        let mut conn = Conn::open(intake.http).await?;
        let count = sizes.count;
        workers.push(tokio::spawn(async move {
            let mut samples = Samples::with_capacity(count / 16);
            let mut tally = Tally::default();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, anyhow::Error>((samples, tally));
                }
                let sent = Instant::now();
                tally.add(conn.signup(n, &secret).await?);
                samples.push(sent.elapsed());
            }
        }));
    }
    let mut burst = Samples::with_capacity(sizes.count);
    let mut burst_tally = Tally::default();
    for worker in workers {
        let (samples, tally) = worker.await??;
        burst.extend(samples);
        burst_tally.created += tally.created;
        for (status, n) in tally.other {
            *burst_tally.other.entry(status).or_default() += n;
        }
    }
    let burst_elapsed = started.elapsed().as_secs_f64();
    // CPU per signup does not depend on what else the machine is running
    // (other builds, the load generator), unlike the rate.
    let burst_cpu = harness::cpu_seconds(pid) - cpu_before;
    let burst_rate = burst_tally.created as f64 / burst_elapsed;
    let burst_summary = burst.summary();

    // The steady phase measures steady state: wait until the relay has
    // published the burst's events (it shares the store's write lock).
    eprintln!("  .. intake: waiting for the burst's events to be published");
    let store = leadwheel_plumbing::Store::connect(&intake.database, &leadwheel_intake::MIGRATOR)
        .await
        .context("opening intake's store")?;
    let drain_started = Instant::now();
    while leadwheel_plumbing::outbox::pending_count(&store).await? > 0 {
        if drain_started.elapsed() > Duration::from_secs(120) {
            bail!("the outbox did not drain in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_s = drain_started.elapsed().as_secs_f64();
    eprintln!(
        "  .. intake: {} signups/s for {:?}, open loop",
        sizes.rate, sizes.duration
    );
    let (pool_tx, pool_rx) = mpsc::channel(256);
    for _ in 0..256 {
        pool_tx.send(Conn::open(intake.http).await?).await.ok();
    }
    let pool_rx = Arc::new(Mutex::new(pool_rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let interval = Duration::from_secs_f64(1.0 / f64::from(sizes.rate.max(1)));
    let total = (sizes.duration.as_secs_f64() * f64::from(sizes.rate)) as usize;
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let pool_rx = pool_rx.clone();
        let pool_tx = pool_tx.clone();
        let done_tx = done_tx.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let conn = pool_rx.lock().await.recv().await;
            let result = match conn {
                Some(mut conn) => {
                    let status = conn.signup(20_000_000 + i, &secret).await;
                    if status.is_ok() {
                        let _ = pool_tx.send(conn).await;
                    }
                    status.map_err(|e| e.to_string())
                }
                None => Err("no connection".into()),
            };
            let _ = done_tx.send((result, due.elapsed()));
        });
    }
    drop(done_tx);
    let mut steady = Samples::with_capacity(total);
    let mut steady_tally = Tally::default();
    let mut failures = 0usize;
    while let Some((result, latency)) = done_rx.recv().await {
        match result {
            Ok(status) => {
                steady_tally.add(status);
                steady.push(latency);
            }
            Err(_) => failures += 1,
        }
    }
    let steady_rate = steady_tally.created as f64 / start.elapsed().as_secs_f64();
    let steady_summary = steady.summary();

    // Accepted means stored: every 201 is a row.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM intake_leads")
        .fetch_one(store.pool())
        .await?;
    store.close().await;
    // The warm-up's 200 are stored too.
    let accepted = 200 + burst_tally.created + steady_tally.created;
    drop(intake);

    let ratio = burst_rate / base.pipelined_rate;
    let refused = |tally: &Tally| {
        let mut other: Vec<_> = tally.other.iter().collect();
        other.sort();
        format!("{other:?}")
    };
    let rows = vec![
        (
            "burst: accepted signups/s".into(),
            format!(
                "{burst_rate:.0} ({} in {burst_elapsed:.2} s)",
                burst_tally.created
            ),
        ),
        (
            "burst: intake CPU per signup".into(),
            format!(
                "{:.0} µs ({:.0} signups per CPU-second)",
                1e6 * burst_cpu / burst_tally.created.max(1) as f64,
                burst_tally.created as f64 / burst_cpu.max(1e-9)
            ),
        ),
        (
            "burst: vs raw JetStream publishes/s".into(),
            format!("{:.0}/s ({:.2}x)", base.pipelined_rate, ratio),
        ),
        ("burst: latency".into(), burst_summary.cell()),
        (
            "burst: events all published after".into(),
            format!("{:.1} s more", drain_s),
        ),
        (
            format!("steady {}/s: achieved", sizes.rate),
            format!("{steady_rate:.0}/s"),
        ),
        (
            format!("steady {}/s: latency from due time", sizes.rate),
            steady_summary.cell(),
        ),
        (
            "non-201 answers".into(),
            format!(
                "burst {}, steady {}, transport errors {failures}",
                refused(&burst_tally),
                refused(&steady_tally)
            ),
        ),
        (
            "stored leads vs 201s".into(),
            format!("{stored} vs {accepted}"),
        ),
    ];
    let json = json!({
        "burst": { "count": sizes.count, "concurrency": sizes.concurrency,
                   "accepted_per_s": burst_rate, "latency": burst_summary.json(),
                   "vs_jetstream_pipelined": ratio, "intake_cpu_s": burst_cpu, "outbox_drained_after_s": drain_s },
        "steady": { "rate": sizes.rate, "achieved_per_s": steady_rate,
                    "latency": steady_summary.json(), "transport_errors": failures },
        "stored": stored, "accepted": accepted,
    });
    let checks = vec![
        Check::at_least(
            "≥ 5,000 signups/s accepted durably (SQLite)",
            burst_rate,
            5000.0,
            "signups/s",
        ),
        Check::at_most(
            "p99 ≤ 20 ms at 1,000 signups/s",
            steady_summary.p99,
            20.0,
            "ms",
        ),
        Check::at_least("every 201 stored", stored as f64, accepted as f64, "leads"),
    ];
    Ok(Section {
        name: "intake",
        rows,
        json,
        checks,
    })
}

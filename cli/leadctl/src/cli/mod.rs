//! The command line: every command, flag and environment variable.

mod alerts;
mod intake;
mod manage;
mod opps;
mod report;
mod routing;
mod simulate;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use alerts::*;
pub use intake::*;
pub use manage::*;
pub use opps::*;
pub use report::*;
pub use routing::*;
pub use simulate::*;

const ABOUT: &str = "Talk to a running leadwheel: reps, offers, the pool, leads, the ledger, reports; simulate a policy";

const LONG_ABOUT: &str = "\
leadctl talks to a running leadwheel. With no flags it reaches the services of \
`leadwheel dev` on 127.0.0.1 and signs its own development token, acting as an \
admin, or as rep REP with `--as REP`.";

const EXAMPLES: &str = "\
A five-minute tour (with `leadwheel dev` running in another terminal):
  leadctl reps list                                # the demo team's six reps
  leadctl offers watch --as ana                    # ana's offers, with a live countdown
  leadctl demo signups --rate 1 --count 5          # five synthetic signups, one a second
  leadctl claim lead_01JD3R2X7Q8M5V6N4K2P --as ana # ana takes the lead offered to her
  leadctl pass lead_01JD3R2X7Q8M5V6N4K2P --as ben --reason \"on a call\"
  leadctl pool list                                # leads nobody claimed in their window
  leadctl leads show lead_01JD3R2X7Q8M5V6N4K2P    # the lead, its offers, its work
  leadctl alerts list
  leadctl alerts ack alert_01JD… --as ana       # stops the alert escalating
  leadctl report funnel --team demo
  leadctl quota set --team demo --period month --date 2026-11-01 --amount 50000 --currency EUR
  leadctl report pipeline --team demo
  leadctl report forecast --team demo --period quarter
  leadctl report five --team demo -o csv > five.csv
  leadctl wheel explain lead_01JD3R2X7Q8M5V6N4K2P # every routing decision, with timings
  leadctl wheel stats --since 24h                  # offers, claims, passes, expiries per rep
  leadctl teams set demo --manager maya --reps ana,ben,carla --window 45s
  leadctl simulate --rate 40/h --hours 8 --window 90s   # no services needed
  leadctl reps list --output json | jq '.[].rep_id'

Authentication: --token (LEADWHEEL_TOKEN) is sent as is. Without it leadctl signs a \
one-hour token with LEADWHEEL_JWT_SECRET (or LEADWHEEL_JWT_SECRET_FILE), else with the \
development key that `leadwheel dev` accepts.

Failures exit 1 (2 for bad usage) with one line on stderr: `leadctl: <reason>`.";

#[derive(Debug, Parser)]
#[command(name = "leadctl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Act as rep REP (a rep token for REP, unless --role says otherwise).
    #[arg(long = "as", value_name = "REP", global = true, env = "LEADWHEEL_AS")]
    pub as_rep: Option<String>,
    /// Role of the token leadctl signs: rep with --as, admin without.
    #[arg(long, value_enum, global = true)]
    pub role: Option<RoleArg>,
    /// Bearer token to send instead of signing one.
    #[arg(long, global = true, env = "LEADWHEEL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, global = true, default_value_t = Output::Table)]
    pub output: Output,
    #[command(flatten)]
    pub urls: Urls,
}

/// Where the services are.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Service addresses (defaults: `leadwheel dev`)")]
pub struct Urls {
    /// Intake's signup endpoint base URL.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_INTAKE_HTTP_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub intake_http_url: String,
    /// Intake gRPC.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_INTAKE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub intake_url: String,
    /// Wheel gRPC.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_WHEEL_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub wheel_url: String,
    /// Opportunity gRPC.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_OPPORTUNITY_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub opportunity_url: String,
    /// Alerting gRPC.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_ALERTING_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub alerting_url: String,
    /// Reporting gRPC.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        env = "LEADWHEEL_REPORTING_URL",
        default_value = "http://127.0.0.1:50055"
    )]
    pub reporting_url: String,
    /// CA certificate (PEM) trusted for `https://` service URLs, besides
    /// the system's roots.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        value_name = "FILE",
        env = "LEADWHEEL_TLS_CA_FILE"
    )]
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for services that require one.
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        value_name = "FILE",
        env = "LEADWHEEL_TLS_CLIENT_CERT_FILE",
        requires = "client_key_file"
    )]
    pub client_cert_file: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        global = true,
        hide_short_help = true,
        value_name = "FILE",
        env = "LEADWHEEL_TLS_CLIENT_KEY_FILE",
        requires = "client_cert_file"
    )]
    pub client_key_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON with stable field names, for scripts (one object per line for streams).
    Json,
    /// CSV for spreadsheets (report and quota commands only); cells that a
    /// spreadsheet would run as a formula are prefixed with `'`.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Rep,
    Manager,
    Admin,
    Integration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reps and their load.
    #[command(subcommand)]
    Reps(RepsCommand),
    /// Teams: ring, manager, window.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// A rep's offers.
    #[command(subcommand)]
    Offers(OffersCommand),
    /// Claim a lead: the rep's open offer, or a lead in the team's pool.
    #[command(after_help = "Examples:\n  leadctl claim lead_01JD3R2X7Q8M5V6N4K2P --as ana")]
    Claim {
        /// The lead id.
        lead: String,
    },
    /// Pass on an open offer; the next rep is offered the lead at once.
    #[command(
        after_help = "Examples:\n  leadctl pass lead_01JD3R2X7Q8M5V6N4K2P --as ana --reason \"on a call\""
    )]
    Pass {
        /// The lead id.
        lead: String,
        /// Why (1..200 characters); the manager sees it.
        #[arg(long)]
        reason: String,
    },
    /// The open pool: leads every rep passed or let expire.
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Leads: intake's record, the wheel's routing, the work on it.
    #[command(subcommand)]
    Leads(LeadsCommand),
    /// Alerts raised for managers and reps.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Reports: funnel, pipeline, forecast against quota, the five questions.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Quotas per rep and team for months, quarters and years.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// The routing ledger: explain a lead, why a rep did not get it, per-rep stats.
    #[command(subcommand)]
    Wheel(WheelCommand),
    /// Routing rules across teams: which team gets which leads.
    #[command(subcommand)]
    Routing(RoutingCommand),
    /// Runs the wheel's routing core over a signup stream with modelled reps: no services needed.
    #[command(after_help = SIMULATE_HELP)]
    Simulate(Box<SimulateArgs>),
    /// Work on claimed leads: accounts, opportunities, stages, activities, handovers.
    #[command(subcommand)]
    Opps(OppsCommand),
    /// Intake: leads at the front door, scoring, erasure.
    #[command(subcommand)]
    Intake(IntakeCommand),
    /// Bulk import: leads from a CSV file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Demo helpers.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// The web console: one-time sign-in links.
    #[command(subcommand)]
    Console(crate::cmd::console::ConsoleCommand),
}

#[derive(Debug, Subcommand)]
pub enum RepsCommand {
    /// Lists reps with their open offers and assigned leads.
    #[command(
        after_help = "Examples:\n  leadctl reps list\n  leadctl reps list --team demo --output json"
    )]
    List {
        /// Only this team's reps.
        #[arg(long)]
        team: Option<String>,
    },
    /// Sets a rep away: the wheel skips them until they are available again.
    #[command(
        after_help = "A rep may set themselves (--as REP); managers and admins anyone.\n\nExamples:\n  leadctl reps away --as ana --reason \"lunch\"\n  leadctl reps away ben --reason \"sick today\""
    )]
    Away(AvailabilityArgs),
    /// Sets a rep available: waiting leads are offered to them at once.
    #[command(
        after_help = "Examples:\n  leadctl reps available --as ana\n  leadctl reps available ben"
    )]
    Available(AvailabilityArgs),
    /// Sets a rep's rank (ability order) and capacity (open leads plus offers in flight).
    #[command(
        after_help = "Flags left out keep their current value.\n\nExamples:\n  leadctl reps update ana --rank 9 --capacity 12\n  leadctl reps update ben --capacity 0   # no cap"
    )]
    Update(RepUpdateArgs),
    /// Sets a rep's working hours (in their time zone), days off, and the lead tiers and regions they take.
    #[command(
        after_help = "Replaces the rep's schedule and skills; with no flags the rep works all the time and takes every lead.\n\nExamples:\n  leadctl reps schedule ana --tz Europe/Paris --hours mon-fri=09:00-17:30 --day-off 2026-12-25\n  leadctl reps schedule ben --tz America/New_York --hours mon-thu=08:00-16:00 --hours fri=08:00-12:00 --tiers A,B --regions US,CA\n  leadctl reps schedule --as ana --tz Europe/Paris --hours mon-fri=10:00-18:00   # a rep sets their own"
    )]
    Schedule(RepScheduleArgs),
}

#[derive(Debug, Subcommand)]
pub enum TeamsCommand {
    /// Lists teams.
    List,
    /// Creates a team or changes its ring, manager and routing policy.
    #[command(after_help = TEAMS_SET_HELP)]
    Set(Box<TeamSetArgs>),
}

#[derive(Debug, Subcommand)]
pub enum OffersCommand {
    /// Follows a rep's offers live: a countdown per offer, claims and expiries as they happen.
    #[command(after_help = "\
The deadline is the server's, shown in UTC and corrected for the difference between \
this machine's clock and the server's. The stream reconnects by itself if it drops; \
Ctrl-C quits. With --output json, prints one JSON object per update.

Examples:
  leadctl offers watch --as ana")]
    Watch,
    /// Lists a rep's open offers now.
    #[command(after_help = "Examples:\n  leadctl offers list --as ana")]
    List,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Lists pooled leads, which any rep of the team may claim.
    #[command(
        after_help = "Examples:\n  leadctl pool list\n  leadctl pool list --team demo\n  leadctl claim LEAD --as ben   # first claim wins"
    )]
    List {
        /// Only this team's pool.
        #[arg(long)]
        team: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// Shows one lead: who it is, every offer made, who owns it, its work.
    #[command(
        after_help = "Examples:\n  leadctl leads show lead_01JD3R2X7Q8M5V6N4K2P\n  leadctl leads show lead_01JD3R2X7Q8M5V6N4K2P -o json"
    )]
    Show {
        /// The lead id.
        lead: String,
    },
    /// Lists the newest leads at intake.
    List {
        /// How many (1..500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=500))]
        limit: i32,
    },
    /// Manager: gives a lead to a rep directly (or reassigns an assigned one).
    #[command(
        after_help = "Examples:\n  leadctl leads assign lead_01JD3R2X7Q8M5V6N4K2P --to carla --reason \"speaks German\""
    )]
    Assign {
        /// The lead id.
        lead: String,
        /// The rep who gets it.
        #[arg(long, value_name = "REP")]
        to: String,
        /// Why (shown in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Manager: puts a pooled, escalated, waiting, withdrawn or assigned lead round the wheel again.
    #[command(after_help = "Examples:\n  leadctl leads requeue lead_01JD3R2X7Q8M5V6N4K2P")]
    Requeue {
        /// The lead id.
        lead: String,
        /// Why (shown in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Manager: takes a lead out of routing (any open offer is withdrawn).
    #[command(
        after_help = "Examples:\n  leadctl leads withdraw lead_01JD3R2X7Q8M5V6N4K2P --reason \"test signup\""
    )]
    Withdraw {
        /// The lead id.
        lead: String,
        /// Why (shown in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Posts synthetic but realistic trial signups to intake's webhook.
    #[command(
        after_help = "Examples:\n  leadctl demo signups --rate 1 --count 10\n  leadctl demo signups --rate 20          # until Ctrl-C\n  leadctl demo signups --rate 5 --count 100 --seed 7 -o json"
    )]
    Signups(SignupsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SignupsArgs {
    /// Signups per second (0.2 is one every five seconds), or N/UNIT: 30/m, 40/h.
    #[arg(long, value_name = "RATE", default_value = "1", value_parser = signups_rate)]
    pub rate: f64,
    /// How many to send; without it, sends until Ctrl-C.
    #[arg(long)]
    pub count: Option<u64>,
    /// Seed for the generator, for a reproducible sequence.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Signups per second, in the forms `simulate --rate` reads too.
fn signups_rate(raw: &str) -> Result<f64, String> {
    let rate = crate::rate::per_second(raw)?;
    if rate <= 1000.0 {
        Ok(rate)
    } else {
        Err(format!("{raw:?}: at most 1000 signups a second"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_rates_take_the_forms_simulate_takes() {
        assert_eq!(signups_rate("1"), Ok(1.0));
        assert_eq!(signups_rate("30/m"), Ok(0.5));
        assert!(signups_rate("2000").is_err());
        for raw in ["2", "0.5", "30/h", "2/m", "500/d"] {
            assert!(
                signups_rate(raw).is_ok() && super::simulate::rate_arg(raw).is_ok(),
                "{raw}"
            );
        }
    }
}

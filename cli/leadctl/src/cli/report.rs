//! `leadctl report …` and `leadctl quota …`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Leads created, offered, claimed, passed, expired, pooled, in work: in total, per team, per rep.
    ///
    /// A team's CREATED counts the leads the wheel routed for it; the all-teams
    /// CREATED counts every lead intake accepted.
    #[command(
        after_help = "Examples:\n  leadctl report funnel\n  leadctl report funnel --team demo -o json"
    )]
    Funnel {
        /// Only this team and its reps (no all-teams row).
        #[arg(long)]
        team: Option<String>,
    },
    /// Open deals per team, rep and stage (count, amount, weighted value) now; won and lost in a period (default this month).
    #[command(
        after_help = "Examples:\n  leadctl report pipeline --team demo\n  leadctl report pipeline --rep ana --period quarter -o csv\n  leadctl report pipeline --team demo --as-of 2026-10-31   # open deals as they stood then"
    )]
    Pipeline(PipelineArgs),
    /// Forecast against quota for a team (and each of its reps) or a rep: quota, won, weighted open pipeline closing in the period, forecast, attainment, gap (default this month).
    #[command(
        after_help = "A rep's own forecast needs no flags (--as REP).\n\nExamples:\n  leadctl report forecast --team demo\n  leadctl report forecast --rep ana --period quarter --date 2026-10-01"
    )]
    Forecast(ReportArgs),
    /// The five questions for a period (default this week), the previous period beside: calls, opportunities, purchase intents, deals won, average deal size.
    #[command(
        after_help = "Examples:\n  leadctl report five --team demo\n  leadctl report five --as ana --period month\n  leadctl report five --team demo --intent-stage trial -o csv"
    )]
    Five(FiveArgs),
    /// Wheel fairness per rep (default this week): offers, first looks, claims, passes by reason, expiries, pool claims, claim rate, time to claim; first-look evenness per team.
    #[command(
        after_help = "Evenness is the fewest first looks a rep got over the most (100% = even).\n\nExamples:\n  leadctl report fairness --team demo\n  leadctl report fairness --team demo --period month -o csv"
    )]
    Fairness(ReportArgs),
    /// Speed to lead (default this week): system time (signup → first offer) and human time (offer → claim, claim → first touch), median/p90/p99.
    #[command(
        after_help = "Examples:\n  leadctl report speed --team demo\n  leadctl report speed --rep ana --period month"
    )]
    Speed(ReportArgs),
    /// Conversion and time in stage (default this month): per stage, deals in, moved on, back and lost, conversion, time in stage; win rate; deals stuck past their stage's threshold now.
    #[command(
        after_help = "Examples:\n  leadctl report stages --team demo\n  leadctl report stages --rep ana --period quarter -o csv"
    )]
    Stages(ReportArgs),
    /// Activities per rep per day (or --by week), by kind, with calls recorded and call time; and by the stage the work was in (default this week).
    #[command(
        after_help = "Examples:\n  leadctl report activity --team demo\n  leadctl report activity --team demo --period month --by week -o csv"
    )]
    Activity {
        #[command(flatten)]
        report: ReportArgs,
        /// One row per rep per day or per ISO week.
        #[arg(long, value_enum, default_value_t = BucketArg::Day)]
        by: BucketArg,
    },
    /// Team balance: per rep, open and won deals by account tier and stage, customers, and the share of the team's won customers (flagged above a threshold).
    #[command(
        after_help = "Examples:\n  leadctl report balance --team demo\n  leadctl report balance --team demo --max-share 30 -o csv"
    )]
    Balance(BalanceArgs),
    /// Routing outcome to revenue: for leads assigned in the period (default this month), per way of assignment (first look, later in the lap, pool, account owner, direct), how many converted and were won, and the won value.
    #[command(
        after_help = "Examples:\n  leadctl report routes --team demo\n  leadctl report routes --team demo --period quarter -o csv"
    )]
    Routes(ReportArgs),
    /// How a period's forecast (default this month) moved since last week's snapshot (or a past day), and the deals that moved it.
    #[command(
        after_help = "Without --since, \"then\" is the latest weekly snapshot the service stored (its day is shown). Each deal is read as it stood then, with the probability in force then.\n\nExamples:\n  leadctl report movement --team demo\n  leadctl report movement --team demo --period quarter --since 2026-10-01\n  leadctl report movement --team demo --limit 20 -o csv"
    )]
    Movement {
        #[command(flatten)]
        report: ReportArgs,
        /// Compare with the end of this day (YYYY-MM-DD), from the deals' history; default: the latest weekly snapshot.
        #[arg(long)]
        since: Option<String>,
        /// List at most this many deals, largest change first (1 to 1000; default 100). The totals count every deal.
        #[arg(long)]
        limit: Option<i32>,
    },
    /// Admins: replay every stream from the start into fresh read models, showing progress, then switch over to them at once.
    #[command(
        after_help = "Reports keep answering from the current tables until the switch; events arriving meanwhile are neither lost nor counted twice.\n\nExample:\n  leadctl report rebuild"
    )]
    Rebuild,
}

/// `leadctl report pipeline`.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// Open deals as they stood at the end of this day (YYYY-MM-DD), from their history.
    #[arg(long)]
    pub as_of: Option<String>,
}

/// `leadctl report balance`.
#[derive(Debug, Clone, Args)]
pub struct BalanceArgs {
    /// Only this team.
    #[arg(long)]
    pub team: Option<String>,
    /// Only this rep.
    #[arg(long)]
    pub rep: Option<String>,
    /// Flag reps holding more than this percentage of the team's won customers (default: the service's, 40).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub max_share: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BucketArg {
    Day,
    Week,
}

/// Which numbers: a team, a rep, a period.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Only this team.
    #[arg(long)]
    pub team: Option<String>,
    /// Only this rep.
    #[arg(long)]
    pub rep: Option<String>,
    #[command(flatten)]
    pub period: PeriodArgs,
}

/// A period of whole days in the service's business time zone.
#[derive(Debug, Clone, Args)]
pub struct PeriodArgs {
    /// The period containing --date (default: the report's own, e.g. this month).
    #[arg(long, value_enum)]
    pub period: Option<PeriodArg>,
    /// Any day in the period, YYYY-MM-DD (default today).
    #[arg(long)]
    pub date: Option<String>,
    /// First day of a custom period, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to", conflicts_with_all = ["period", "date"])]
    pub from: Option<String>,
    /// Last day of a custom period, included.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Args)]
pub struct FiveArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// The stage that counts as purchase intent (default: the service's, `commercial`).
    #[arg(long)]
    pub intent_stage: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Sets one quota: a team's or a rep's, for a month, quarter or year.
    #[command(
        after_help = "Managers set their teams' and their reps' quotas; admins any.\n\nExamples:\n  leadctl quota set --team demo --period quarter --date 2026-10-01 --amount 150000 --currency EUR\n  leadctl quota set --rep ana --period month --date 2026-11-01 --amount 20000 --currency EUR"
    )]
    Set(QuotaSetArgs),
    /// Lists quotas (those of periods overlapping --period/--date when given).
    #[command(
        after_help = "Examples:\n  leadctl quota list --team demo\n  leadctl quota list --rep ana -o csv"
    )]
    List(ReportArgs),
    /// Sets a manager's own forecast for a team or rep and period, shown beside the computed forecast.
    #[command(
        after_help = "Examples:\n  leadctl quota adjust --team demo --period month --date 2026-11-01 --amount 160000 --currency EUR --note \"Acme slips to December\"\n  leadctl quota adjust --team demo --period month --date 2026-11-01 --amount 0 --currency EUR --clear"
    )]
    Adjust {
        #[command(flatten)]
        target: QuotaSetArgs,
        /// Why (shown beside the number).
        #[arg(long, default_value = "")]
        note: String,
        /// Remove the adjustment instead.
        #[arg(long)]
        clear: bool,
    },
    /// Sets many quotas from a CSV file, all or none.
    #[command(after_help = QUOTA_IMPORT_HELP)]
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

pub const QUOTA_IMPORT_HELP: &str = "\
The file has a header row and the columns scope,subject,period,date,amount,currency:
  scope     team or rep
  subject   the team id or rep id
  period    month, quarter or year
  date      any day in the period (YYYY-MM-DD)
  amount    in the currency's units, e.g. 20000 or 20000.50
  currency  e.g. EUR

Example (a year of monthly quotas for ana, one line per month):
  scope,subject,period,date,amount,currency
  rep,ana,month,2027-01-01,20000,EUR
  rep,ana,month,2027-02-01,20000,EUR
  team,demo,year,2027-01-01,900000,EUR

  leadctl quota import quotas-2027.csv";

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["team", "rep"])))]
pub struct QuotaSetArgs {
    /// The team whose quota this is.
    #[arg(long)]
    pub team: Option<String>,
    /// The rep whose quota this is.
    #[arg(long)]
    pub rep: Option<String>,
    /// Month, quarter or year.
    #[arg(long, value_enum)]
    pub period: QuotaPeriodArg,
    /// Any day of the period, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// In the currency's units, e.g. 20000 or 20000.50.
    #[arg(long)]
    pub amount: String,
    /// ISO 4217 code, e.g. EUR.
    #[arg(long)]
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuotaPeriodArg {
    Month,
    Quarter,
    Year,
}

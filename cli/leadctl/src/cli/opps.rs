//! `leadctl opps …`: the work on claimed leads.

use clap::{Args, Subcommand};

const OPPS_HELP: &str = "\
Amounts are decimal in the currency's major unit (12500 or 12500.50 EUR); \
dates are YYYY-MM-DD. A rep (--as REP) works their own leads and deals; \
managers their team's; admins everything.

Examples:
  leadctl opps leads --as ana
  leadctl opps convert lead_01JD3R --as ana --account \"Acme GmbH\" --domain acme.com --amount 12000 --currency EUR
  leadctl opps list --as ana
  leadctl opps stage opp_01JD4K trial --as ana --reason \"demo booked\"
  leadctl opps amount opp_01JD4K 18000 --currency EUR --close-date 2026-12-15 --as ana
  leadctl opps log-call --opp opp_01JD4K --duration 12m --outcome reached --note 90=pricing --as ana
  leadctl opps history --account acct_01JD4K
  leadctl opps handover start ana --successor ben";

#[derive(Debug, Subcommand)]
#[command(after_help = OPPS_HELP)]
pub enum OppsCommand {
    /// Lists leads in work: the caller's own as a rep, their team's as a manager.
    #[command(
        after_help = "Examples:\n  leadctl opps leads --as ana\n  leadctl opps leads --rep ana"
    )]
    Leads {
        /// Only this rep's leads.
        #[arg(long, value_name = "REP")]
        rep: Option<String>,
    },
    /// Lists opportunities with stage, amount, probability and weighted value.
    #[command(
        after_help = "Examples:\n  leadctl opps list --as ana\n  leadctl opps list --stage commercial\n  leadctl opps list --owner ana --output json"
    )]
    List {
        /// Only this owner's.
        #[arg(long, value_name = "REP")]
        owner: Option<String>,
        /// Only this stage's.
        #[arg(long)]
        stage: Option<String>,
        /// Only this account's.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Shows an opportunity and its stage history.
    #[command(after_help = "Example:\n  leadctl opps show opp_01JD4K")]
    Show {
        /// The opportunity id.
        opportunity: String,
    },
    /// Moves an opportunity to a stage (won and lost close it and need --reason).
    #[command(
        after_help = "Examples:\n  leadctl opps stage opp_01JD4K trial --reason \"demo booked\"\n  leadctl opps stage opp_01JD4K won --reason \"signed\""
    )]
    Stage {
        /// The opportunity id.
        opportunity: String,
        /// The stage (see `leadctl opps stages`).
        stage: String,
        /// Why (required to close).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Sets an opportunity's amount, currency and expected close date.
    #[command(
        after_help = "Example:\n  leadctl opps amount opp_01JD4K 18000 --currency EUR --close-date 2026-12-15"
    )]
    Amount {
        /// The opportunity id.
        opportunity: String,
        /// Amount in the currency's major unit, e.g. 18000 or 18000.50.
        amount: String,
        /// ISO 4217 code.
        #[arg(long)]
        currency: String,
        /// Expected close date, YYYY-MM-DD.
        #[arg(long, value_name = "DATE", default_value = "")]
        close_date: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Overrides an opportunity's win probability (or clears the override).
    #[command(
        after_help = "Examples:\n  leadctl opps probability opp_01JD4K 40 --reason \"budget not signed\"\n  leadctl opps probability opp_01JD4K --clear"
    )]
    Probability {
        /// The opportunity id.
        opportunity: String,
        /// Percent, 0..100.
        #[arg(required_unless_present = "clear")]
        percent: Option<i32>,
        /// Use the stage's probability again.
        #[arg(long, conflicts_with = "percent")]
        clear: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Gives an opportunity to another rep (managers; --force for admins in a locked stage).
    #[command(
        after_help = "Examples:\n  leadctl opps owner opp_01JD4K ben --reason \"territory\"\n  leadctl opps owner opp_01JD4K ben --force --reason \"ana is on leave\""
    )]
    Owner {
        /// The opportunity id.
        opportunity: String,
        /// The new owner.
        rep: String,
        #[arg(long, default_value = "")]
        reason: String,
        /// Override the stage's owner lock (admins, with a reason).
        #[arg(long)]
        force: bool,
    },
    /// Converts a lead in work into an account and an opportunity.
    #[command(
        after_help = "A lead whose domain belongs to a known account joins that account (and its owner).\n\nExample:\n  leadctl opps convert lead_01JD3R --account \"Acme GmbH\" --domain acme.com --amount 12000 --currency EUR --close-date 2026-12-31"
    )]
    Convert(ConvertArgs),
    /// Disqualifies a lead in work.
    #[command(
        after_help = "Reasons are configured with LEADWHEEL_OPPORTUNITY_DISQUALIFY_REASONS (default: no_budget, no_need, no_authority, bad_timing, competitor, unreachable, duplicate, spam).\n\nExample:\n  leadctl opps disqualify lead_01JD3R --reason no_budget --back-to-pool"
    )]
    Disqualify {
        /// The lead id.
        lead: String,
        #[arg(long)]
        reason: String,
        /// Send it to the team's open pool for another rep.
        #[arg(long)]
        back_to_pool: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Logs a call: length, outcome, recording link, notes anchored in the recording.
    #[command(
        after_help = "Examples:\n  leadctl opps log-call --lead lead_01JD3R --duration 4m --outcome \"left voicemail\"\n  leadctl opps log-call --opp opp_01JD4K --duration 25m --outcome reached \\\n    --recording https://calls.example.com/r/81 --note 90=pricing --note 20m=next steps --follow-up 2026-12-01"
    )]
    LogCall(LogCallArgs),
    /// Logs an email, visit, meeting or note.
    #[command(
        after_help = "Examples:\n  leadctl opps log email --lead lead_01JD3R --subject \"Pricing\"\n  leadctl opps log visit --opp opp_01JD4K --body \"met the CFO\" --follow-up 2026-12-01"
    )]
    Log(LogArgs),
    /// A customer's whole history, newest first.
    #[command(
        after_help = "Examples:\n  leadctl opps history --account acct_01JD4K\n  leadctl opps history --lead lead_01JD3R --limit 20"
    )]
    History {
        #[arg(long, value_name = "ACCOUNT", required_unless_present = "lead")]
        account: Option<String>,
        #[arg(long, value_name = "LEAD", conflicts_with = "account")]
        lead: Option<String>,
        /// At most this many activities.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The pipeline's stages.
    #[command(after_help = "Example:\n  leadctl opps stages")]
    Stages,
    /// The handover of a leaving rep.
    #[command(subcommand)]
    Handover(HandoverCommand),
    /// Tasks (from handovers): the caller's own as a rep.
    #[command(
        after_help = "Examples:\n  leadctl opps tasks --as ben\n  leadctl opps tasks --handover ho_01JD5M"
    )]
    Tasks {
        #[arg(long, value_name = "REP")]
        owner: Option<String>,
        #[arg(long, value_name = "HANDOVER")]
        handover: Option<String>,
    },
    /// Marks a task done.
    #[command(after_help = "Example:\n  leadctl opps done task_01JD5N --as ben")]
    Done {
        /// The task id.
        task: String,
    },
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The lead id.
    pub lead: String,
    /// The company's name.
    #[arg(long)]
    pub account: String,
    /// The company's domains (repeat for several).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    #[arg(long, default_value = "")]
    pub tier: String,
    /// The opportunity's name (default: the company's).
    #[arg(long, default_value = "")]
    pub name: String,
    /// Amount in the currency's major unit.
    #[arg(long, default_value = "0")]
    pub amount: String,
    #[arg(long)]
    pub currency: String,
    #[arg(long, value_name = "DATE", default_value = "")]
    pub close_date: String,
    /// The first stage (default: the first open one).
    #[arg(long, default_value = "")]
    pub stage: String,
}

/// The lead or opportunity an activity is about.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ActivityTarget {
    #[arg(long, value_name = "LEAD")]
    pub lead: Option<String>,
    #[arg(long = "opp", value_name = "OPPORTUNITY")]
    pub opportunity: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogCallArgs {
    #[command(flatten)]
    pub target: ActivityTarget,
    /// How long the call took, e.g. 90s, 12m, 1h.
    #[arg(long)]
    pub duration: String,
    #[arg(long, default_value = "")]
    pub outcome: String,
    /// An http(s) link to the recording.
    #[arg(long, value_name = "URL", default_value = "")]
    pub recording: String,
    /// A note at a time in the recording: OFFSET=TEXT (OFFSET like 90, 90s, 2m).
    #[arg(long = "note", value_name = "OFFSET=TEXT")]
    pub notes: Vec<String>,
    /// The next follow-up date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", default_value = "")]
    pub follow_up: String,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// email, visit, meeting or note.
    pub kind: String,
    #[command(flatten)]
    pub target: ActivityTarget,
    #[arg(long, default_value = "")]
    pub subject: String,
    #[arg(long, default_value = "")]
    pub body: String,
    /// Visits and meetings: how long, e.g. 45m.
    #[arg(long)]
    pub duration: Option<String>,
    #[arg(long, value_name = "DATE", default_value = "")]
    pub follow_up: String,
}

#[derive(Debug, Subcommand)]
pub enum HandoverCommand {
    /// Proposes what happens to everything a leaving rep owns.
    #[command(
        after_help = "Leads go back to the wheel (or to the successor with --leads-to-successor); opportunities go to the successor, locked stages included. Without a successor the manager decides each deal (`handover edit`).\n\nExample:\n  leadctl opps handover start ana --successor ben"
    )]
    Start {
        /// The leaving rep.
        rep: String,
        #[arg(long, value_name = "REP", default_value = "")]
        successor: String,
        #[arg(long, requires = "successor")]
        leads_to_successor: bool,
    },
    /// Shows a plan's progress, and its items with --items.
    #[command(after_help = "Example:\n  leadctl opps handover show ho_01JD5M --items")]
    Show {
        handover: String,
        #[arg(long)]
        items: bool,
    },
    /// Changes what happens to one item of a draft plan.
    #[command(
        after_help = "Examples:\n  leadctl opps handover edit ho_01JD5M opportunity opp_01JD4K --reassign carla\n  leadctl opps handover edit ho_01JD5M lead lead_01JD3R --return"
    )]
    Edit {
        handover: String,
        /// lead or opportunity.
        kind: String,
        item: String,
        /// Give it to this rep.
        #[arg(long, value_name = "REP", group = "action")]
        reassign: Option<String>,
        /// Hand the lead back to the wheel.
        #[arg(long = "return", group = "action")]
        return_to_wheel: bool,
        /// Leave it for the manager to decide.
        #[arg(long, group = "action")]
        undecided: bool,
    },
    /// Applies a plan: everything moves at once, exactly once.
    #[command(after_help = "Example:\n  leadctl opps handover apply ho_01JD5M --due-days 5")]
    Apply {
        handover: String,
        /// Days until the new owners' tasks are due.
        #[arg(long, default_value_t = 3)]
        due_days: i32,
    },
}

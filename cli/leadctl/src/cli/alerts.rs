//! Flags of `leadctl alerts …`: list, acknowledge, snooze, and the team's
//! rules.

use clap::{Args, Subcommand};

use crate::duration;

pub const ALERTS_RULES_SET_HELP: &str = "\
Sets one rule of a team, whole: flags not given take the rule's current \
setting (its default if nobody set it). Durations are written 30s, 2m, 4h or 14d.

Rules and defaults:
  no_first_touch     a claimed lead nobody touched 4h after the claim → rep; the manager 4h later
  stuck_in_stage     an opportunity in one stage too long: needs_identified 14d, trial 21d,
                     commercial 10d (others 14d) → rep and manager
  follow_up_overdue  past the follow-up date (end of day UTC, + threshold) with no activity
                     since → rep; the manager 2d later
  silent_customer    an active account untouched: tier A 14d, B 30d, C 60d (others 30d) → owner
  rep_saturated      passes and expiries over 50% of at least 10 offers in the last 1d
                     (the threshold is the window) → manager
  handover_task_overdue  a handover task past its due date (end of day UTC, + threshold)
                     → new owner and manager

Examples:
  leadctl alerts rules set demo no_first_touch --threshold 2h --escalate-after 1h
  leadctl alerts rules set demo no_first_touch --second-escalation-to vera --second-escalate-after 4h
  leadctl alerts rules set demo stuck_in_stage --stage trial=30d --stage commercial=7d
  leadctl alerts rules set demo follow_up_overdue --recipients both
  leadctl alerts rules set demo silent_customer --tier A=7d
  leadctl alerts rules set demo rep_saturated --threshold 4h --share 60 --min-offers 5
  leadctl alerts rules set demo no_first_touch --disable";

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Lists alerts the caller may see (a rep their own, a manager their team's).
    #[command(
        after_help = "Examples:\n  leadctl alerts list\n  leadctl alerts list --state open\n  leadctl alerts list --recipient ana -o json"
    )]
    List {
        /// Only alerts for this recipient (a rep or manager id).
        #[arg(long)]
        recipient: Option<String>,
        /// Only alerts in this state: open, acknowledged, snoozed, resolved.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Shows one alert (to its recipients, its team's manager and admins).
    #[command(
        after_help = "Examples:\n  leadctl alerts show alert_01JD… --as ana\n  leadctl alerts show alert_01JD… -o json"
    )]
    Show {
        /// The alert id.
        alert: String,
    },
    /// Acknowledges an alert: it stops escalating and stays until its condition clears.
    #[command(after_help = "Examples:\n  leadctl alerts ack alert_01JD… --as ana")]
    Ack {
        /// The alert id.
        alert: String,
    },
    /// Hides an alert for a while; it comes back (and may escalate) when the snooze ends.
    #[command(after_help = "Examples:\n  leadctl alerts snooze alert_01JD… --for 2h --as ana")]
    Snooze {
        /// The alert id.
        alert: String,
        /// How long: 30m, 2h, 1d.
        #[arg(long = "for", value_parser = duration::parse_ms)]
        for_ms: i64,
    },
    /// A team's alert rules.
    #[command(subcommand)]
    Rules(AlertRulesCommand),
    /// Prints the caller's alerts as they are delivered, until Ctrl-C.
    #[command(
        after_help = "Examples:\n  leadctl alerts watch --as ana\n  leadctl alerts watch --as maya --role manager -o json"
    )]
    Watch,
    /// The delivery log (managers: their teams' alerts; admins: all).
    #[command(
        after_help = "Examples:\n  leadctl alerts deliveries\n  leadctl alerts deliveries --state dead\n  leadctl alerts deliveries --alert alert_01JD… -o json"
    )]
    Deliveries {
        /// Only this alert's.
        #[arg(long)]
        alert: Option<String>,
        /// Only in this state: pending, sent, dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Sets a team's Slack-compatible webhook URL ("" turns it off).
    #[command(
        after_help = "Examples:\n  leadctl alerts webhook demo https://hooks.slack.com/services/T000/B000/XXXX\n  leadctl alerts webhook demo \"\""
    )]
    Webhook {
        /// The team.
        team: String,
        /// An http(s) URL, or "" for none.
        url: String,
    },
    /// Sets how a person is told, whole: email address, channels, quiet hours.
    #[command(
        after_help = "Email waits until quiet hours end (in the person's time zone); live pushes do not.\n\nExamples:\n  leadctl alerts contact ana@example.com --as ana\n  leadctl alerts contact ana@example.com --as ana --time-zone Europe/Lisbon --quiet 22:00-07:00\n  leadctl alerts contact maya@example.com --person maya --channels email --digest 1h"
    )]
    Contact {
        /// An email address, or "".
        email: String,
        /// Whose (default: the caller).
        #[arg(long)]
        person: Option<String>,
        /// Channels: live, email, or both (default both).
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
        /// IANA time zone of the quiet hours (default UTC).
        #[arg(long)]
        time_zone: Option<String>,
        /// Quiet hours, HH:MM-HH:MM local (may wrap midnight).
        #[arg(long, value_parser = quiet_arg)]
        quiet: Option<(String, String)>,
        /// One email per interval with every alert in it (e.g. 1h); default one by one.
        #[arg(long, value_parser = duration::parse_ms)]
        digest: Option<i64>,
    },
}

/// `22:00-07:00` for --quiet.
pub fn quiet_arg(raw: &str) -> Result<(String, String), String> {
    let (start, end) = raw
        .split_once('-')
        .ok_or_else(|| format!("{raw:?} is not HH:MM-HH:MM (e.g. 22:00-07:00)"))?;
    Ok((start.trim().to_string(), end.trim().to_string()))
}

#[derive(Debug, Subcommand)]
pub enum AlertRulesCommand {
    /// Every rule of a team, as set or defaulted.
    #[command(
        after_help = "Examples:\n  leadctl alerts rules list demo\n  leadctl alerts rules list demo -o json"
    )]
    List {
        /// The team.
        team: String,
    },
    /// Sets one rule of a team (its manager or an admin).
    #[command(after_help = ALERTS_RULES_SET_HELP)]
    Set(Box<AlertRuleSetArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct AlertRuleSetArgs {
    /// The team.
    pub team: String,
    /// The rule: no_first_touch, stuck_in_stage, follow_up_overdue, silent_customer, rep_saturated, handover_task_overdue or forecast_below_quota.
    pub rule: String,
    /// Turns the rule on.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Turns the rule off (no new timers; armed ones raise nothing).
    #[arg(long)]
    pub disable: bool,
    /// How long the condition must hold (stuck_in_stage: for stages without their own).
    #[arg(long, value_parser = duration::parse_ms)]
    pub threshold: Option<i64>,
    /// stuck_in_stage: STAGE=DURATION, repeatable (e.g. trial=21d).
    #[arg(long = "stage", value_parser = stage_arg)]
    pub stages: Vec<(String, i64)>,
    /// silent_customer: TIER=DURATION, repeatable (e.g. A=14d).
    #[arg(long = "tier", value_parser = stage_arg)]
    pub tiers: Vec<(String, i64)>,
    /// rep_saturated: the share of passes and expiries (percent) that alerts.
    #[arg(long)]
    pub share: Option<i32>,
    /// rep_saturated: the fewest offers in the window before it may alert.
    #[arg(long)]
    pub min_offers: Option<i32>,
    /// forecast_below_quota: the period checked: month, quarter or year (UTC calendar periods).
    #[arg(long, value_parser = ["month", "quarter", "year"])]
    pub period: Option<String>,
    /// forecast_below_quota: how far into the period the check is made (e.g. 50%: half-way).
    #[arg(long, value_parser = percent_arg)]
    pub at: Option<i32>,
    /// forecast_below_quota: forecasts (won + weighted open) below this share of quota alert (e.g. 80%).
    #[arg(long, value_parser = percent_arg)]
    pub below: Option<i32>,
    /// Who is told first: rep, manager or both.
    #[arg(long)]
    pub recipients: Option<String>,
    /// Escalate to the manager when not acknowledged within this; 0 never.
    #[arg(long, value_parser = duration::parse_ms)]
    pub escalate_after: Option<i64>,
    /// A second level: who is told when still not acknowledged ("" for none)...
    #[arg(long)]
    pub second_escalation_to: Option<String>,
    /// ...this long after the escalation to the manager (0: none).
    #[arg(long, value_parser = duration::parse_ms)]
    pub second_escalate_after: Option<i64>,
}

/// `50%` or `50` for --at and --below (the service checks the range).
pub fn percent_arg(raw: &str) -> Result<i32, String> {
    raw.trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{raw:?} is not a percentage (e.g. 50%)"))
}

/// `trial=21d` for --stage.
pub fn stage_arg(raw: &str) -> Result<(String, i64), String> {
    let (stage, threshold) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not STAGE=DURATION (e.g. trial=21d)"))?;
    let stage = stage.trim();
    if stage.is_empty() {
        return Err(format!("{raw:?} names no stage (e.g. trial=21d)"));
    }
    Ok((stage.to_string(), duration::parse_ms(threshold)?))
}

//! Flags of the managing commands (`teams set`, `reps away|available|update`),
//! the ledger commands (`wheel …`) and the routing policy that `teams set`
//! and `simulate` share.

use clap::{Args, Subcommand, ValueEnum};

use crate::duration;

pub const TEAMS_SET_HELP: &str = "\
Creating a team needs --manager and --reps; changing one, only the flags to \
change: the rest (and the reps' names) are kept. Durations are written 30s, 2m, \
1h or 250ms; 0 turns a pool timeout or chain budget off.

Examples:
  leadctl teams set demo --manager maya --reps ana,ben,carla --names \"Ana Lima,Ben Okafor,Carla Ruiz\"
  leadctl teams set demo --window 45s --tier-window A=20s --tier-window C=2m
  leadctl teams set demo --rotation round-robin --ability-tiers A
  leadctl teams set demo --pool-timeout 10m --chain-budget 3m --window-floor 10s
  leadctl teams set demo --when-none-eligible pool --breaker-expiries 5
  leadctl teams set demo --pass-reasons \"on a call,wrong region,not my segment\"";

/// A duration flag: `30s`, `2m`, `1h`, `250ms`.
pub fn duration_arg(raw: &str) -> Result<i64, String> {
    duration::parse_ms(raw)
}

/// `A=30s` for --tier-window.
pub fn tier_window_arg(raw: &str) -> Result<(String, i64), String> {
    let (tier, window) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not TIER=DURATION (e.g. A=30s)"))?;
    let tier = tier.trim();
    if tier.is_empty() {
        return Err(format!("{raw:?} names no tier (e.g. A=30s)"));
    }
    Ok((tier.to_string(), duration::parse_ms(window)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RotationArg {
    /// First looks go round the ring, one per lead.
    RoundRobin,
    /// Strongest rank first.
    AbilityOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoneEligibleArg {
    /// The lead waits and is offered as soon as someone becomes eligible.
    Wait,
    /// The lead goes to the open pool at once.
    Pool,
}

/// The routing policy, shared by `teams set` (unset flags keep the team's
/// value) and `simulate` (unset flags take the wheel's defaults).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Routing policy")]
pub struct PolicyArgs {
    /// Offer window: how long each rep has the lead to themselves (1s..1h).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub window: Option<i64>,
    /// A lead tier's own window, overriding --window (repeatable).
    #[arg(long = "tier-window", value_name = "TIER=DURATION", value_parser = tier_window_arg)]
    pub tier_windows: Vec<(String, i64)>,
    /// How the first look is given.
    #[arg(long, value_enum)]
    pub rotation: Option<RotationArg>,
    /// Lead tiers routed strongest-first whatever the rotation (comma-separated; "" for none).
    #[arg(long = "ability-tiers", value_name = "TIERS", value_delimiter = ',')]
    pub ability_tiers: Option<Vec<String>>,
    /// Time in the pool before the lead escalates to the manager (0: never).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub pool_timeout: Option<i64>,
    /// Most time from first offer to claim: later windows shrink to fit (0: none).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub chain_budget: Option<i64>,
    /// No window shrinks below this (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub window_floor: Option<i64>,
    /// What a new lead does when no rep may be offered it.
    #[arg(long = "when-none-eligible", value_enum)]
    pub when_none_eligible: Option<NoneEligibleArg>,
}

/// The circuit breaker: `never`, `default` (3) or a number of expiries in a row.
pub fn breaker_arg(raw: &str) -> Result<i32, String> {
    match raw.trim() {
        "never" | "off" => Ok(-1),
        "default" => Ok(0),
        n => match n.parse::<i32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(format!(
                "{raw:?} is not 1..100, \"never\" or \"default\" (expiries in a row)"
            )),
        },
    }
}

#[derive(Debug, Clone, Args)]
pub struct TeamSetArgs {
    /// The team id.
    pub team: String,
    /// The team's manager (who gets escalations); needed to create a team.
    #[arg(long, value_name = "ID")]
    pub manager: Option<String>,
    /// The ring, in order (comma-separated rep ids); needed to create a team.
    #[arg(long, value_name = "REPS", value_delimiter = ',')]
    pub reps: Option<Vec<String>>,
    /// Display names, in the order of --reps (comma-separated).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub names: Option<Vec<String>>,
    /// The team's display name.
    #[arg(long = "team-name", value_name = "NAME")]
    pub team_name: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Expiries in a row after which a rep is set away: 1..100, never, or default (3).
    #[arg(long = "breaker-expiries", value_name = "N", value_parser = breaker_arg)]
    pub breaker_expiries: Option<i32>,
    /// The reasons a rep may give for a pass (comma-separated; "" for any text).
    #[arg(long = "pass-reasons", value_name = "REASONS", value_delimiter = ',')]
    pub pass_reasons: Option<Vec<String>>,
}

#[derive(Debug, Clone, Args)]
pub struct AvailabilityArgs {
    /// The rep; without it, the rep named by --as.
    pub rep: Option<String>,
    /// Why (shown to the manager).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RepUpdateArgs {
    /// The rep.
    pub rep: String,
    /// Rank for ability order: higher is stronger.
    #[arg(long)]
    pub rank: Option<i32>,
    /// Open leads plus offers in flight at which the rep is skipped (0: no cap).
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=10_000))]
    pub capacity: Option<i32>,
}

#[derive(Debug, Clone, Args)]
pub struct RepScheduleArgs {
    /// The rep; without it, the rep named by --as.
    pub rep: Option<String>,
    /// IANA time zone the hours are in, e.g. Europe/Paris.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Working hours, DAYS=HH:MM-HH:MM; DAYS is a day, a range (mon-fri) or a list (mon,wed). Repeatable.
    #[arg(long = "hours", value_name = "DAYS=FROM-TO")]
    pub hours: Vec<String>,
    /// A day off, YYYY-MM-DD in the rep's time zone. Repeatable.
    #[arg(long = "day-off", value_name = "DATE")]
    pub days_off: Vec<String>,
    /// Lead tiers the rep takes (default: all).
    #[arg(long, value_delimiter = ',')]
    pub tiers: Vec<String>,
    /// Lead countries the rep takes, two-letter codes (default: all).
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses `mon-fri=09:00-17:00` into (day, from, to) triples.
pub fn parse_hours(spec: &str) -> Result<Vec<(String, String, String)>, String> {
    let (days, times) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec:?}: expected DAYS=FROM-TO, e.g. mon-fri=09:00-17:00"))?;
    let (from, to) = times
        .split_once('-')
        .ok_or_else(|| format!("{spec:?}: expected a time range such as 09:00-17:00"))?;
    let index = |day: &str| {
        DAYS.iter()
            .position(|d| d.eq_ignore_ascii_case(day.trim()))
            .ok_or_else(|| format!("{spec:?}: {day:?} is not a day (mon..sun)"))
    };
    let mut out = Vec::new();
    for part in days.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (index(a)?, index(b)?),
            None => (index(part)?, index(part)?),
        };
        if last < first {
            return Err(format!("{spec:?}: {part} runs backwards"));
        }
        for day in &DAYS[first..=last] {
            out.push((
                day.to_string(),
                from.trim().to_string(),
                to.trim().to_string(),
            ));
        }
    }
    Ok(out)
}

#[derive(Debug, Subcommand)]
pub enum WheelCommand {
    /// A lead's routing ledger as a timeline: every offer, skip, pass, expiry and claim.
    #[command(
        after_help = "TOOK is how long the step took: for a claim, pass or expiry the time since its offer opened, \
otherwise the time since the previous entry.\n\nExamples:\n  leadctl wheel explain lead_01JD3R2X7Q8M5V6N4K2P\n  leadctl wheel explain lead_01JD3R2X7Q8M5V6N4K2P -o json"
    )]
    Explain {
        /// The lead id.
        lead: String,
    },
    /// Why a rep did not get a lead: one sentence and the ledger entries about them.
    #[command(
        after_help = "Examples:\n  leadctl wheel why-not --as ben --lead lead_01JD3R2X7Q8M5V6N4K2P\n  leadctl wheel why-not --rep ben --lead lead_01JD3R2X7Q8M5V6N4K2P   # as a manager"
    )]
    WhyNot {
        /// The lead id.
        #[arg(long)]
        lead: String,
        /// The rep asking about (default: the rep named by --as).
        #[arg(long)]
        rep: Option<String>,
    },
    /// Per rep: offers, first looks, claims, passes, expiries, open offers, median
    /// time to claim, skips by reason and availability (the saturation view).
    #[command(
        after_help = "Examples:\n  leadctl wheel stats\n  leadctl wheel stats --team demo --since 24h\n  leadctl wheel stats --since 7d -o json"
    )]
    Stats {
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
        /// Only offers opened in this last stretch of time (e.g. 24h, 7d).
        #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
        since: Option<i64>,
    },
}

#[cfg(test)]
mod schedule_tests {
    use super::parse_hours;

    #[test]
    fn hours_specs() {
        let hours = parse_hours("mon-wed=09:00-17:00").unwrap();
        assert_eq!(hours.len(), 3);
        assert_eq!(hours[2], ("wed".into(), "09:00".into(), "17:00".into()));
        assert_eq!(parse_hours("sat,sun=10:00-12:00").unwrap().len(), 2);
        assert!(
            parse_hours("fri-mon=09:00-17:00")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(
            parse_hours("funday=09:00-17:00")
                .unwrap_err()
                .contains("not a day")
        );
        assert!(parse_hours("mon 9-5").unwrap_err().contains("DAYS=FROM-TO"));
    }
}

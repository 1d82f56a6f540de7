//! Flags of `leadctl simulate`.

use std::path::PathBuf;

use clap::Args;

use super::manage::{PolicyArgs, duration_arg};

pub const SIMULATE_HELP: &str = "\
The simulator runs the wheel's own routing core (the code the wheel service runs) \
in simulated time, with no services: signups arrive, each offer ends when the rep \
answers (claim with their claim probability, else pass) or at the deadline \
(expiry), pooled leads are claimed by a random on-shift rep after --pool-claim, and \
waiting leads are retried when a shift starts or capacity frees. Same flags and \
--seed, same output.

Signups: --signups FILE.csv (columns: timestamp as RFC 3339 or epoch ms, tier; a \
header line is optional), or generated: --rate 30/h --hours 8 [--tier-mix A=1,B=3,C=6].

Reps: --reps FILE.toml|json, or --rep SPEC (repeatable), or --team-size N identical \
reps (r1..rN) shaped by --claim-prob, --response, --shift, --capacity, --work.
A SPEC is ID[:key=value,...] with keys p (claim probability), response, shift, \
days, cap, work, rank, tiers (joined with +), e.g.
  --rep ana:p=0.9,response=lognormal:15s/45s,rank=9 --rep ben:p=0.5,shift=12:00-20:00
Response times: lognormal:MEDIAN/P90, uniform:MIN..MAX, fixed:T, never.
A reps file holds [[rep]] tables (TOML) or a list of objects (JSON) with the same \
keys spelled id, claim_prob, response, shift, days, capacity, work, rank, tiers.

Examples:
  leadctl simulate --rate 40/h --hours 8 --window 90s
  leadctl simulate --rate 40/h --hours 8 --window 30s --chain-budget 2m
  leadctl simulate --signups last-month.csv --reps reps.toml --window 90s -o json
  leadctl simulate --rate 20/h --hours 24 --shift 09:00-17:00 --tz +01:00 --pool-timeout 30m";

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Signups from a CSV file: timestamp (RFC 3339 or epoch ms), tier.
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["rate", "hours", "tier_mix"], help_heading = "Signups")]
    pub signups: Option<PathBuf>,
    /// Generated signups (Poisson): 30/h, 2/m, 500/d, or a bare number per second.
    #[arg(long, value_name = "RATE", value_parser = rate_arg, help_heading = "Signups")]
    pub rate: Option<f64>,
    /// How long generated signups keep arriving (e.g. 8h).
    #[arg(long, value_name = "DURATION", default_value = "8h", value_parser = hours_arg, help_heading = "Signups")]
    pub hours: i64,
    /// Tier mix of generated signups, as weights: A=1,B=3,C=6.
    #[arg(
        long = "tier-mix",
        value_name = "TIER=WEIGHT,...",
        default_value = "A=1,B=3,C=6",
        help_heading = "Signups"
    )]
    pub tier_mix: String,
    /// When generated signups start (RFC 3339); the day's shifts follow --tz.
    #[arg(
        long,
        value_name = "TIME",
        default_value = "2025-01-06T09:00:00Z",
        help_heading = "Signups"
    )]
    pub start: String,

    /// Reps from a TOML or JSON file.
    #[arg(long = "reps", value_name = "FILE", conflicts_with_all = ["rep", "team_size"], help_heading = "Reps")]
    pub reps_file: Option<PathBuf>,
    /// One modelled rep: ID[:key=value,...] (repeatable; see below).
    #[arg(
        long,
        value_name = "SPEC",
        conflicts_with = "team_size",
        help_heading = "Reps"
    )]
    pub rep: Vec<String>,
    /// Without --reps or --rep: this many identical reps, r1..rN.
    #[arg(long = "team-size", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500), help_heading = "Reps")]
    pub team_size: Option<u32>,
    /// Default chance a rep claims when they answer in time (0..1).
    #[arg(long = "claim-prob", value_name = "P", default_value_t = 0.7, value_parser = probability_arg, help_heading = "Reps")]
    pub claim_prob: f64,
    /// Default response time: lognormal:MEDIAN/P90, uniform:MIN..MAX, fixed:T or never.
    #[arg(
        long,
        value_name = "DIST",
        default_value = "lognormal:20s/60s",
        help_heading = "Reps"
    )]
    pub response: String,
    /// Default shift, daily in --tz: 09:00-17:00 (none: always on).
    #[arg(long, value_name = "HH:MM-HH:MM", help_heading = "Reps")]
    pub shift: Option<String>,
    /// Default working days for shifts: mon-fri, or a list like mon,tue,thu.
    #[arg(
        long,
        value_name = "DAYS",
        default_value = "mon-sun",
        help_heading = "Reps"
    )]
    pub days: String,
    /// Default capacity: leads in work plus offers in flight (0: no cap).
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Reps")]
    pub capacity: u32,
    /// Default mean time a claimed lead stays in work (exponential).
    #[arg(long, value_name = "DURATION", default_value = "4h", value_parser = duration_arg, help_heading = "Reps")]
    pub work: i64,
    /// Time zone offset of the shifts: +01:00, -05:00, Z.
    #[arg(
        long,
        value_name = "OFFSET",
        default_value = "Z",
        help_heading = "Reps"
    )]
    pub tz: String,
    /// Time from pooling until some on-shift rep claims a pooled lead (a DIST, or never).
    #[arg(
        long = "pool-claim",
        value_name = "DIST",
        default_value = "lognormal:10m/45m",
        help_heading = "Reps"
    )]
    pub pool_claim: String,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Seed of the random draws: the same seed gives the same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Signups per hour, from the forms `demo signups --rate` reads too:
/// `30/h`, `2/m`, `500/d`, or a bare number per second.
pub fn rate_arg(raw: &str) -> Result<f64, String> {
    let per_hour = crate::rate::per_second(raw)? * 3_600.0;
    if per_hour <= 100_000.0 {
        Ok(per_hour)
    } else {
        Err(format!("{raw:?}: at most 100000 signups an hour"))
    }
}

/// `--hours 8` (hours) or a duration (`90m`).
fn hours_arg(raw: &str) -> Result<i64, String> {
    let ms = match raw.trim().parse::<f64>() {
        Ok(hours) => (hours * 3_600_000.0).round() as i64,
        Err(_) => duration_arg(raw)?,
    };
    if (1..=366 * 86_400_000).contains(&ms) {
        Ok(ms)
    } else {
        Err(format!("{raw:?} must be above 0 and at most a year"))
    }
}

fn probability_arg(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{raw:?} is not a probability (0..1)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(rate_arg("30/h"), Ok(30.0));
        assert_eq!(rate_arg("1/m"), Ok(60.0));
        assert_eq!(rate_arg("48/d"), Ok(2.0));
        // A bare number is per second, as in `demo signups --rate`.
        assert_eq!(rate_arg("0.01"), Ok(36.0));
        assert!(rate_arg("30").is_err(), "108000 an hour is over the limit");
        assert!(rate_arg("0/h").is_err());
        assert!(rate_arg("5/week").is_err());
    }

    #[test]
    fn hours() {
        assert_eq!(hours_arg("8"), Ok(8 * 3_600_000));
        assert_eq!(hours_arg("90m"), Ok(5_400_000));
        assert!(hours_arg("0").is_err());
    }
}

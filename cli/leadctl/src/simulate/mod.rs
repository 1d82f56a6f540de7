//! `leadctl simulate`: the wheel's pure routing core over a signup stream
//! with modelled reps, in simulated time, with no services.
//!
//! [`scenario`] turns flags into a [`engine::Scenario`] (signups, reps, the
//! team's policy), [`engine::run`] plays it, [`report`] sums it up.

pub mod eligibility;
pub mod engine;
pub mod facts;
pub mod model;
pub mod report;
pub mod signups;

use anyhow::{Context, Result, anyhow};
use leadwheel_wheel_core::{NoEligible, Rotation, Shift, TeamConfig, fixed_zone, parse_timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cli::{NoneEligibleArg, PolicyArgs, RotationArg, SimulateArgs};
use crate::duration::human;
use engine::Scenario;
use model::{Defaults, Dist, RepModel};
use report::Report;

/// The wheel's default window when --window is not given.
const DEFAULT_WINDOW_MS: i64 = 60_000;

/// Runs a simulation from the command's flags.
pub fn simulate(args: &SimulateArgs) -> Result<Report> {
    let scenario = scenario(args)?;
    let outcome = engine::run(&scenario);
    Ok(report::summarize(
        &outcome,
        scenario.seed,
        describe_policy(&scenario.team),
    ))
}

/// The team's routing policy from the flags, the wheel's defaults elsewhere.
pub fn team_config(policy: &PolicyArgs, ring: Vec<String>, ranks: &[RepModel]) -> TeamConfig {
    let mut team = TeamConfig::new(
        "simulated",
        ring,
        policy.window.unwrap_or(DEFAULT_WINDOW_MS).max(1),
    );
    team.tier_windows = policy.tier_windows.iter().cloned().collect();
    team.rotation = match policy.rotation {
        Some(RotationArg::AbilityOrder) => Rotation::AbilityOrder,
        Some(RotationArg::RoundRobin) | None => Rotation::RoundRobin,
    };
    team.ability_order_tiers = policy
        .ability_tiers
        .iter()
        .flatten()
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().to_string())
        .collect();
    team.ranks = std::sync::Arc::new(ranks.iter().map(|r| (r.id.clone(), r.rank)).collect());
    team.pool_timeout_ms = policy.pool_timeout.filter(|&ms| ms > 0);
    team.chain_budget_ms = policy.chain_budget.filter(|&ms| ms > 0);
    if let Some(floor) = policy.window_floor {
        team.window_floor_ms = floor;
    }
    team.no_eligible = match policy.when_none_eligible {
        Some(NoneEligibleArg::Pool) => NoEligible::Pool,
        Some(NoneEligibleArg::Wait) | None => NoEligible::Wait,
    };
    team
}

/// `window 90s, round robin, chain budget 3m (floor 10s), pool timeout 10m, none eligible: wait`.
pub fn describe_policy(team: &TeamConfig) -> String {
    let mut parts = vec![format!("window {}", human(team.window_ms))];
    for (tier, window) in &team.tier_windows {
        parts.push(format!("tier {tier} {}", human(*window)));
    }
    parts.push(
        match team.rotation {
            Rotation::RoundRobin => "round robin",
            Rotation::AbilityOrder => "ability order",
        }
        .into(),
    );
    if !team.ability_order_tiers.is_empty() {
        parts.push(format!(
            "ability order for {}",
            team.ability_order_tiers.join(",")
        ));
    }
    parts.push(match team.chain_budget_ms {
        Some(budget) => format!(
            "chain budget {} (floor {})",
            human(budget),
            human(team.window_floor_ms)
        ),
        None => "no chain budget".into(),
    });
    parts.push(match team.pool_timeout_ms {
        Some(timeout) => format!("pool timeout {}", human(timeout)),
        None => "no pool timeout".into(),
    });
    parts.push(format!(
        "none eligible: {}",
        match team.no_eligible {
            NoEligible::Wait => "wait",
            NoEligible::Pool => "pool",
        }
    ));
    format!("{} reps, {}", team.ring.len(), parts.join(", "))
}

fn scenario(args: &SimulateArgs) -> Result<Scenario> {
    let err = |e: String| anyhow!(e);
    let zone = fixed_zone(&args.tz).map_err(|e| anyhow!("--tz: {e}"))?;
    let shift = match args.shift.as_deref() {
        None | Some("always" | "none") => None,
        Some(window) => Some(
            Shift::daily(window, &args.days, zone.clone()).map_err(|e| anyhow!("--shift: {e}"))?,
        ),
    };
    let defaults = Defaults {
        rep: RepModel {
            id: String::new(),
            claim_prob: args.claim_prob,
            response: Dist::parse(&args.response).map_err(|e| anyhow!("--response: {e}"))?,
            shift,
            capacity: args.capacity,
            work_ms: args.work.max(1),
            rank: 0,
            tiers: Vec::new(),
        },
        days: args.days.clone(),
        zone,
    };
    let reps: Vec<RepModel> = if let Some(path) = &args.reps_file {
        model::load_file(path, &defaults).map_err(err)?
    } else if !args.rep.is_empty() {
        args.rep
            .iter()
            .map(|spec| model::parse_spec(spec, &defaults))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?
    } else {
        (1..=args.team_size.unwrap_or(6))
            .map(|i| RepModel {
                id: format!("r{i}"),
                ..defaults.rep.clone()
            })
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = reps.iter().find(|r| !seen.insert(r.id.as_str())) {
        return Err(anyhow!("rep {} is modelled twice", dup.id));
    }
    let signups = match (&args.signups, args.rate) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading signups file {}", path.display()))?;
            signups::parse_csv(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        (None, Some(rate)) => {
            let start = parse_timestamp(&args.start).map_err(|e| anyhow!("--start: {e}"))?;
            let mix = signups::parse_mix(&args.tier_mix).map_err(err)?;
            let mut rng = StdRng::seed_from_u64(args.seed);
            signups::generate(rate, start, args.hours, &mix, &mut rng)
        }
        (None, None) => {
            return Err(anyhow!(
                "say where signups come from: --signups FILE.csv, or --rate N/h (with --hours)"
            ));
        }
    };
    let ring = reps.iter().map(|r| r.id.clone()).collect();
    Ok(Scenario {
        team: team_config(&args.policy, ring, &reps),
        reps,
        signups,
        pool_claim: Dist::parse(&args.pool_claim).map_err(|e| anyhow!("--pool-claim: {e}"))?,
        seed: args.seed,
    })
}

#[cfg(test)]
mod tests;

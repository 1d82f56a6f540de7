//! A team's routing policy: `teams set` flags merged into the team the wheel
//! has, and the policy as leadctl shows it.

use std::collections::{BTreeMap, HashMap};

use leadwheel_proto::wheel::v1 as wheel;
use serde::Serialize;

use crate::cli::{NoneEligibleArg, RotationArg, TeamSetArgs};
use crate::duration::human;
use crate::views::enum_word;

/// The policy with stable field names (durations in ms; 0 is none).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PolicyView {
    pub tier_windows_ms: BTreeMap<String, i64>,
    pub rotation: String,
    pub ability_order_tiers: Vec<String>,
    pub pool_timeout_ms: i64,
    pub chain_budget_ms: i64,
    pub window_floor_ms: i64,
    pub when_none_eligible: String,
    /// Expiries in a row that set a rep away (0: never).
    pub breaker_expiries: i32,
    pub pass_reasons: Vec<String>,
}

impl From<wheel::TeamPolicy> for PolicyView {
    fn from(p: wheel::TeamPolicy) -> Self {
        Self {
            tier_windows_ms: p.tier_windows_ms.into_iter().collect(),
            rotation: wheel::RotationPolicy::try_from(p.rotation)
                .map(|r| enum_word(r.as_str_name(), "ROTATION_POLICY_"))
                .unwrap_or_else(|_| format!("unknown({})", p.rotation))
                .replace("unspecified", "round_robin"),
            ability_order_tiers: p.ability_order_tiers,
            pool_timeout_ms: p.pool_timeout_ms,
            chain_budget_ms: p.chain_budget_ms,
            window_floor_ms: p.window_floor_ms,
            when_none_eligible: wheel::NoEligiblePolicy::try_from(p.no_eligible)
                .map(|r| enum_word(r.as_str_name(), "NO_ELIGIBLE_POLICY_"))
                .unwrap_or_else(|_| format!("unknown({})", p.no_eligible))
                .replace("unspecified", "wait"),
            breaker_expiries: p.breaker_expiries,
            pass_reasons: p.pass_reasons,
        }
    }
}

/// `round robin; tier A 20s; pool timeout 10m; chain budget 3m (floor 10s); none eligible: wait; breaker 3`.
pub fn describe(p: &PolicyView) -> String {
    let mut parts = vec![p.rotation.replace('_', " ")];
    for (tier, window) in &p.tier_windows_ms {
        parts.push(format!("tier {tier} {}", human(*window)));
    }
    if !p.ability_order_tiers.is_empty() {
        parts.push(format!(
            "strongest first for {}",
            p.ability_order_tiers.join(",")
        ));
    }
    if p.pool_timeout_ms > 0 {
        parts.push(format!("pool timeout {}", human(p.pool_timeout_ms)));
    }
    if p.chain_budget_ms > 0 {
        parts.push(format!(
            "chain budget {} (floor {})",
            human(p.chain_budget_ms),
            human(p.window_floor_ms)
        ));
    }
    parts.push(format!("none eligible: {}", p.when_none_eligible));
    parts.push(match p.breaker_expiries {
        0 => "no breaker".into(),
        n => format!("breaker {n}"),
    });
    if !p.pass_reasons.is_empty() {
        parts.push(format!("pass reasons: {}", p.pass_reasons.join(" | ")));
    }
    parts.join("; ")
}

fn cleaned(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The team to send: `existing` (as the wheel has it, with its reps'
/// names) with the flags applied. Creating a team needs --manager and --reps.
pub fn merge_team(
    existing: Option<(wheel::Team, HashMap<String, String>)>,
    args: &TeamSetArgs,
) -> Result<wheel::UpsertTeamRequest, String> {
    let from_wheel = existing.is_some();
    let (mut team, names) = match existing {
        Some(found) => found,
        None => {
            if args.manager.is_none() || args.reps.is_none() {
                return Err(format!(
                    "team {} does not exist yet: creating it needs --manager and --reps",
                    args.team
                ));
            }
            let team = wheel::Team {
                team_id: args.team.clone(),
                ..Default::default()
            };
            (team, HashMap::new())
        }
    };
    let mut policy = team.policy.take().unwrap_or_default();
    if from_wheel && policy.breaker_expiries == 0 {
        // The wheel reports "never" as 0, which it would read back as "the default".
        policy.breaker_expiries = -1;
    }
    if let Some(name) = &args.team_name {
        team.name = name.trim().to_string();
    }
    if let Some(manager) = &args.manager {
        team.manager_id = manager.trim().to_string();
    }
    if let Some(reps) = &args.reps {
        team.rep_ids = cleaned(reps);
        if team.rep_ids.is_empty() {
            return Err("--reps names no rep".into());
        }
    }
    let rep_names = match &args.names {
        Some(given) => {
            let given: Vec<String> = given.iter().map(|n| n.trim().to_string()).collect();
            if given.len() > team.rep_ids.len() {
                return Err(format!(
                    "--names has {} names for {} reps",
                    given.len(),
                    team.rep_ids.len()
                ));
            }
            given
        }
        // Keep the names the reps have (the wheel resets absent ones to the id).
        None => team
            .rep_ids
            .iter()
            .map(|id| names.get(id).cloned().unwrap_or_default())
            .collect(),
    };
    let p = &args.policy;
    if let Some(window) = p.window {
        team.window_ms = window;
    }
    for (tier, window) in &p.tier_windows {
        if *window == 0 {
            policy.tier_windows_ms.remove(tier);
        } else {
            policy.tier_windows_ms.insert(tier.clone(), *window);
        }
    }
    if let Some(rotation) = p.rotation {
        policy.rotation = match rotation {
            RotationArg::RoundRobin => wheel::RotationPolicy::RoundRobin,
            RotationArg::AbilityOrder => wheel::RotationPolicy::AbilityOrder,
        } as i32;
    }
    if let Some(tiers) = &p.ability_tiers {
        policy.ability_order_tiers = cleaned(tiers);
    }
    if let Some(ms) = p.pool_timeout {
        policy.pool_timeout_ms = ms;
    }
    if let Some(ms) = p.chain_budget {
        policy.chain_budget_ms = ms;
    }
    if let Some(ms) = p.window_floor {
        policy.window_floor_ms = ms;
    }
    if let Some(when) = p.when_none_eligible {
        policy.no_eligible = match when {
            NoneEligibleArg::Wait => wheel::NoEligiblePolicy::Wait,
            NoneEligibleArg::Pool => wheel::NoEligiblePolicy::Pool,
        } as i32;
    }
    if let Some(n) = args.breaker_expiries {
        policy.breaker_expiries = n;
    }
    if let Some(reasons) = &args.pass_reasons {
        policy.pass_reasons = cleaned(reasons);
    }
    team.policy = Some(policy);
    Ok(wheel::UpsertTeamRequest {
        team: Some(team),
        rep_names,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, TeamsCommand};

    fn args(argv: &[&str]) -> TeamSetArgs {
        let mut full = vec!["leadctl", "teams", "set"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Teams(TeamsCommand::Set(args)) => *args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn every_flag_lands_in_the_request() {
        let request = merge_team(
            None,
            &args(&[
                "demo",
                "--manager",
                "maya",
                "--reps",
                "ana,ben, carla",
                "--names",
                "Ana Lima,Ben Okafor",
                "--window",
                "45s",
                "--tier-window",
                "A=20s",
                "--tier-window",
                "C=2m",
                "--rotation",
                "ability-order",
                "--ability-tiers",
                "A,B",
                "--pool-timeout",
                "10m",
                "--chain-budget",
                "3m",
                "--window-floor",
                "10s",
                "--when-none-eligible",
                "pool",
                "--breaker-expiries",
                "5",
                "--pass-reasons",
                "on a call, wrong region",
            ]),
        )
        .unwrap();
        let team = request.team.unwrap();
        assert_eq!(
            (team.team_id.as_str(), team.manager_id.as_str()),
            ("demo", "maya")
        );
        assert_eq!(team.rep_ids, ["ana", "ben", "carla"]);
        assert_eq!(request.rep_names, ["Ana Lima", "Ben Okafor"]);
        assert_eq!(team.window_ms, 45_000);
        let p = team.policy.unwrap();
        assert_eq!(
            p.tier_windows_ms,
            HashMap::from([("A".into(), 20_000), ("C".into(), 120_000)])
        );
        assert_eq!(p.rotation, wheel::RotationPolicy::AbilityOrder as i32);
        assert_eq!(p.ability_order_tiers, ["A", "B"]);
        assert_eq!(
            (p.pool_timeout_ms, p.chain_budget_ms, p.window_floor_ms),
            (600_000, 180_000, 10_000)
        );
        assert_eq!(p.no_eligible, wheel::NoEligiblePolicy::Pool as i32);
        assert_eq!(p.breaker_expiries, 5);
        assert_eq!(p.pass_reasons, ["on a call", "wrong region"]);
    }

    #[test]
    fn creating_needs_manager_and_reps() {
        let err = merge_team(None, &args(&["demo", "--window", "30s"])).unwrap_err();
        assert!(err.contains("--manager and --reps"), "{err}");
        assert!(
            merge_team(
                None,
                &args(&["demo", "--manager", "m", "--reps", "a", "--names", "A,B"])
            )
            .is_err()
        );
    }

    #[test]
    fn changing_keeps_what_the_flags_do_not_name() {
        let existing = wheel::Team {
            team_id: "demo".into(),
            name: "Demo".into(),
            manager_id: "maya".into(),
            window_ms: 30_000,
            rep_ids: vec!["ana".into(), "ben".into()],
            policy: Some(wheel::TeamPolicy {
                tier_windows_ms: HashMap::from([("A".into(), 20_000), ("B".into(), 40_000)]),
                pool_timeout_ms: 600_000,
                breaker_expiries: 0,
                pass_reasons: vec!["busy".into()],
                ..Default::default()
            }),
        };
        let names = HashMap::from([("ana".to_string(), "Ana Lima".to_string())]);
        let request = merge_team(
            Some((existing, names)),
            &args(&[
                "demo",
                "--chain-budget",
                "2m",
                "--tier-window",
                "A=0",
                "--breaker-expiries",
                "never",
            ]),
        )
        .unwrap();
        let team = request.team.unwrap();
        assert_eq!(
            (team.name.as_str(), team.manager_id.as_str(), team.window_ms),
            ("Demo", "maya", 30_000)
        );
        assert_eq!(request.rep_names, ["Ana Lima", ""]);
        let p = team.policy.unwrap();
        assert_eq!(p.tier_windows_ms, HashMap::from([("B".into(), 40_000)]));
        assert_eq!(
            (p.pool_timeout_ms, p.chain_budget_ms, p.breaker_expiries),
            (600_000, 120_000, -1)
        );
        assert_eq!(p.pass_reasons, ["busy"]);
    }

    #[test]
    fn bad_flags_are_refused_by_the_parser() {
        let parse = |argv: &[&str]| {
            let mut full = vec!["leadctl", "teams", "set", "demo"];
            full.extend_from_slice(argv);
            Cli::try_parse_from(full)
        };
        assert!(parse(&["--window", "60"]).is_err());
        assert!(parse(&["--tier-window", "A"]).is_err());
        assert!(parse(&["--rotation", "random"]).is_err());
        assert!(parse(&["--breaker-expiries", "0"]).is_err());
        assert!(parse(&["--when-none-eligible", "panic"]).is_err());
    }

    #[test]
    fn describes_a_policy_in_one_line() {
        let view = PolicyView::from(wheel::TeamPolicy {
            tier_windows_ms: HashMap::from([("A".into(), 20_000)]),
            chain_budget_ms: 180_000,
            window_floor_ms: 10_000,
            breaker_expiries: 3,
            ..Default::default()
        });
        assert_eq!(
            describe(&view),
            "round robin; tier A 20s; chain budget 3m (floor 10s); none eligible: wait; breaker 3"
        );
    }
}

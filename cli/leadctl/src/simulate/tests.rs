//! Scenarios whose outcome is known, run through the real core.

use clap::Parser;

use super::engine::{Scenario, run};
use super::model::{Dist, RepModel};
use super::report::{Report, summarize, text};
use super::signups::HOUR;
use super::signups::Signup;
use super::*;
use crate::cli::{Cli, Command};
use leadwheel_wheel_core::{Shift, TimeZone};

fn rep(id: &str, claim_prob: f64, response: Dist) -> RepModel {
    RepModel {
        id: id.into(),
        claim_prob,
        response,
        shift: None,
        capacity: 0,
        work_ms: HOUR,
        rank: 0,
        tiers: Vec::new(),
    }
}

/// `n` leads, one a minute.
fn steady(n: i64) -> Vec<Signup> {
    (0..n)
        .map(|i| Signup {
            at: 1_736_150_400_000 + i * 60_000,
            tier: "B".into(),
        })
        .collect()
}

fn scenario(reps: Vec<RepModel>, signups: Vec<Signup>, policy: &PolicyArgs) -> Scenario {
    let ring = reps.iter().map(|r| r.id.clone()).collect();
    Scenario {
        team: team_config(policy, ring, &reps),
        reps,
        signups,
        pool_claim: Dist::Never,
        seed: 1,
    }
}

fn report(sc: &Scenario) -> Report {
    summarize(&run(sc), sc.seed, describe_policy(&sc.team))
}

fn simulate_cli(args: &[&str]) -> Report {
    let mut argv = vec!["leadctl", "simulate"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Simulate(args) => simulate(&args).unwrap(),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn the_same_seed_gives_the_same_output() {
    let args = [
        "--rate",
        "40/h",
        "--hours",
        "8",
        "--window",
        "45s",
        "--pool-timeout",
        "10m",
    ];
    let a = simulate_cli(&args);
    let b = simulate_cli(&args);
    assert_eq!(text(&a), text(&b));
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let mut other = args.to_vec();
    other.extend(["--seed", "2"]);
    assert_ne!(text(&a), text(&simulate_cli(&other)));
}

#[test]
fn reps_who_claim_at_once_take_every_lead_on_the_first_offer() {
    let reps = (1..=4)
        .map(|i| rep(&format!("r{i}"), 1.0, Dist::Fixed(0)))
        .collect();
    let r = report(&scenario(reps, steady(200), &PolicyArgs::default()));
    assert_eq!(r.leads, 200);
    assert_eq!(r.claimed_on_first_offer, 200);
    assert_eq!(r.first_offer_claim_rate, 1.0);
    assert_eq!((r.pooled, r.speed_to_claim.max_ms), (0, 0));
    assert!(
        r.reps
            .iter()
            .all(|rep| rep.passes == 0 && rep.expiries == 0)
    );
}

#[test]
fn reps_who_ignore_every_offer_pool_every_lead_after_one_offer_each() {
    let reps: Vec<_> = (1..=5)
        .map(|i| rep(&format!("r{i}"), 1.0, Dist::Never))
        .collect();
    let sc = scenario(reps, steady(50), &PolicyArgs::default());
    let outcome = run(&sc);
    for lead in &outcome.leads {
        assert_eq!(lead.offers, 5, "{lead:?}");
        assert_eq!(lead.pool_reason, Some("lap_done"));
        // Five windows of the default 60 s, back to back.
        assert_eq!(
            lead.pooled_at.unwrap() - lead.first_offer_at.unwrap(),
            300_000
        );
    }
    let r = summarize(&outcome, 1, String::new());
    assert_eq!((r.pooled, r.pool_rate, r.claimed), (50, 1.0, 0));
    assert_eq!(r.unclaimed_in_pool, 50);
    // People read words; JSON keeps the code.
    let words = text(&r);
    assert!(
        words.contains("pooled") && words.contains("everyone had their turn 50"),
        "{words}"
    );
    assert!(!words.contains("lap_done"), "{words}");
    assert_eq!(r.pooled_by_reason["lap_done"], 50);
    assert!(
        r.reps
            .iter()
            .all(|rep| rep.expiries == 50 && rep.offers == 50)
    );
}

#[test]
fn round_robin_spreads_first_looks_evenly_whatever_reps_do() {
    let reps = vec![
        rep("fast", 0.9, Dist::parse("lognormal:5s/15s").unwrap()),
        rep("slow", 0.6, Dist::parse("lognormal:50s/2m").unwrap()),
        rep("picky", 0.2, Dist::parse("uniform:1s..30s").unwrap()),
        rep("absent", 1.0, Dist::Never),
        rep("steady", 0.7, Dist::Fixed(20_000)),
        rep("late", 1.0, Dist::Fixed(61_000)),
    ];
    let r = report(&scenario(reps, steady(600), &PolicyArgs::default()));
    for rep in &r.reps {
        assert_eq!(rep.first_looks, 100, "{}", rep.rep_id);
        assert!((rep.first_look_share - 1.0 / 6.0).abs() < 1e-9);
    }
    let late = r.reps.iter().find(|rep| rep.rep_id == "late").unwrap();
    assert_eq!(late.claims, 0, "answering after the deadline is an expiry");
}

#[test]
fn a_chain_budget_bounds_the_time_to_pool() {
    let reps: Vec<_> = (1..=6)
        .map(|i| rep(&format!("r{i}"), 0.0, Dist::Never))
        .collect();
    let unbounded = report(&scenario(reps.clone(), steady(30), &PolicyArgs::default()));
    assert_eq!(unbounded.time_to_pool.max_ms, 6 * 60_000);
    let policy = PolicyArgs {
        chain_budget: Some(120_000),
        window_floor: Some(10_000),
        ..Default::default()
    };
    let bounded = report(&scenario(reps, steady(30), &policy));
    assert_eq!(bounded.pooled, 30);
    assert!(
        bounded.time_to_pool.max_ms <= 120_000,
        "{:?}",
        bounded.time_to_pool
    );
    assert!(
        bounded.reps.iter().all(|rep| rep.offers == 30),
        "windows shrink so all six get a turn"
    );
}

#[test]
fn leads_arriving_at_night_wait_for_the_shift_then_get_offered() {
    let shift = Shift::daily("09:00-17:00", "daily", TimeZone::UTC).unwrap();
    let reps = (1..=3)
        .map(|i| RepModel {
            shift: Some(shift.clone()),
            ..rep(&format!("r{i}"), 1.0, Dist::Fixed(1_000))
        })
        .collect();
    // 2025-01-06T02:00Z and 03:00Z: seven and six hours before the shift.
    let night = vec![
        Signup {
            at: 1_736_128_800_000,
            tier: "B".into(),
        },
        Signup {
            at: 1_736_132_400_000,
            tier: "B".into(),
        },
    ];
    let r = report(&scenario(reps, night, &PolicyArgs::default()));
    assert_eq!(r.claimed_on_first_offer, 2);
    assert_eq!(r.time_to_first_offer.max_ms, 7 * HOUR);
    assert_eq!(r.speed_to_claim.max_ms, 7 * HOUR + 1_000);
    // Each lead found every rep off shift once, when it arrived.
    for rep in &r.reps {
        assert_eq!(rep.skips, [("off_shift".to_string(), 2)].into());
    }
    let words = text(&r);
    assert!(
        words.contains("off shift 2") && !words.contains("off_shift"),
        "{words}"
    );
}

#[test]
fn capacity_skips_a_full_rep_and_pooled_leads_get_claimed() {
    let mut reps: Vec<_> = (1..=3)
        .map(|i| rep(&format!("r{i}"), 0.0, Dist::Fixed(1_000)))
        .collect();
    reps[0].capacity = 1;
    reps[0].claim_prob = 1.0;
    let mut sc = scenario(reps, steady(20), &PolicyArgs::default());
    sc.pool_claim = Dist::Fixed(5 * 60_000);
    let r = report(&sc);
    let full = &r.reps[0];
    assert!(
        full.skips.get("at_capacity").copied().unwrap_or(0) > 0,
        "{full:?}"
    );
    assert_eq!(r.claimed, 20, "the pool is emptied by claims");
    assert!(r.claimed_from_pool > 0);
}

//! Unit tests of the transitions: rotation, eligibility, windows and
//! owners here; a lead's offers, claims and hand-backs in [`offers`].
use std::collections::HashMap;

use super::*;

mod offers;

fn team(reps: &[&str]) -> TeamConfig {
    TeamConfig::new("t", reps.iter().map(|r| r.to_string()).collect(), 1_000)
}

fn new_lead(id: &str) -> NewLead {
    NewLead {
        lead_id: id.into(),
        ..Default::default()
    }
}

/// `step` with every rep eligible.
fn step_all(
    team: &TeamConfig,
    rotation: &RotationState,
    lead: &LeadRouting,
    input: Input,
    now: Millis,
) -> Result<Decision, RouteError> {
    step(team, rotation, lead, input, now, &EveryoneEligible)
}

fn offered_to(lead: &LeadRouting) -> Option<&str> {
    match &lead.phase {
        Phase::Offered { rep, .. } => Some(rep),
        _ => None,
    }
}

/// Reps unavailable for a reason.
struct Unavailable(HashMap<&'static str, SkipReason>);

impl Eligibility for Unavailable {
    fn check(&self, rep: &str, _tier: &str, _now: Millis) -> Result<(), SkipReason> {
        self.0.get(rep).map_or(Ok(()), |reason| Err(*reason))
    }
}

/// Routes `n` leads and returns who got each first look.
fn first_looks(
    team: &TeamConfig,
    rotation: &mut RotationState,
    n: usize,
    elig: &impl Eligibility,
) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d = start(team, rotation, &new_lead(&format!("l{i}")), 0, elig);
            if let Some(r) = d.rotation {
                *rotation = r;
            }
            offered_to(&d.lead).unwrap_or("-").to_string()
        })
        .collect()
}

#[test]
fn first_looks_go_round_robin() {
    let team = team(&["a", "b", "c"]);
    let mut rotation = RotationState::default();
    assert_eq!(
        first_looks(&team, &mut rotation, 4, &EveryoneEligible),
        ["a", "b", "c", "a"]
    );
}

#[test]
fn standing_survives_roster_changes() {
    let mut team = team(&["a", "b", "c"]);
    let mut rotation = RotationState::default();
    first_looks(&team, &mut rotation, 2, &EveryoneEligible); // a, b
    // d joins at the front of the ring, b leaves: c still comes next,
    // then d (who never had a first look), then a.
    team.ring = vec!["d".to_string(), "a".into(), "c".into()].into();
    assert_eq!(
        first_looks(&team, &mut rotation, 4, &EveryoneEligible),
        ["d", "c", "a", "d"]
    );
}

#[test]
fn away_loses_the_turn_but_capacity_earns_the_next_first_look() {
    let team = team(&["a", "b", "c"]);
    let mut rotation = RotationState::default();
    let a_away = Unavailable(HashMap::from([("a", SkipReason::Away)]));
    assert_eq!(first_looks(&team, &mut rotation, 1, &a_away), ["b"]);
    // a is back: the next turn is c's, a lost theirs.
    assert_eq!(
        first_looks(&team, &mut rotation, 2, &EveryoneEligible),
        ["c", "a"]
    );

    let mut rotation = RotationState::default();
    let a_full = Unavailable(HashMap::from([("a", SkipReason::AtCapacity)]));
    assert_eq!(first_looks(&team, &mut rotation, 1, &a_full), ["b"]);
    // a freed up: they get the next first look, before c.
    assert_eq!(
        first_looks(&team, &mut rotation, 2, &EveryoneEligible),
        ["a", "c"]
    );
}

#[test]
fn nobody_eligible_waits_then_retries_or_pools_per_policy() {
    let mut team = team(&["a", "b"]);
    let rotation = RotationState::default();
    let night = Unavailable(HashMap::from([
        ("a", SkipReason::OffShift),
        ("b", SkipReason::OffShift),
    ]));
    let d = start(&team, &rotation, &new_lead("l"), 0, &night);
    assert_eq!(d.lead.phase, Phase::Waiting { since: 0 });
    assert_eq!(
        d.rotation, None,
        "nobody eligible changes nobody's standing"
    );
    let still = step(&team, &rotation, &d.lead, Input::Retry, 100, &night);
    assert!(still.is_err());
    let d = step_all(&team, &rotation, &d.lead, Input::Retry, 200).unwrap();
    assert_eq!(offered_to(&d.lead), Some("a"));

    team.no_eligible = NoEligible::Pool;
    let d = start(&team, &rotation, &new_lead("l2"), 0, &night);
    assert!(matches!(d.lead.phase, Phase::Pooled { .. }));
    assert_eq!(
        d.effects.last(),
        Some(&Effect::Pool {
            reason: PoolReason::NoneEligible
        })
    );
}

#[test]
fn tier_windows_and_ability_order() {
    let mut team = team(&["a", "b", "c"]);
    team.tier_windows.insert("A".into(), 5_000);
    team.ability_order_tiers.push("A".into());
    team.ranks = std::sync::Arc::new([("c".to_string(), 9), ("b".to_string(), 5)].into());
    let rotation = RotationState::default();
    let lead = NewLead {
        lead_id: "l".into(),
        tier: "A".into(),
        owner_hint: None,
    };
    let d = start(&team, &rotation, &lead, 0, &EveryoneEligible);
    assert_eq!(
        d.lead.phase,
        Phase::Offered {
            rep: "c".into(),
            offer_no: 1,
            deadline: 5_000
        }
    );
    assert_eq!(d.lead.lap_order, ["c", "b", "a"]);
    assert_eq!(
        d.rotation, None,
        "ability order does not use up round-robin turns"
    );
}

#[test]
fn the_chain_budget_shrinks_windows_then_pools() {
    let mut team = team(&["a", "b", "c", "d"]);
    team.window_ms = 60_000;
    team.chain_budget_ms = Some(100_000);
    team.window_floor_ms = 20_000;
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    // 100 s over four reps: 25 s each.
    assert_eq!(
        d.lead.phase,
        Phase::Offered {
            rep: "a".into(),
            offer_no: 1,
            deadline: 25_000
        }
    );
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 1 },
        25_000,
    )
    .unwrap();
    assert_eq!(
        d.lead.phase,
        Phase::Offered {
            rep: "b".into(),
            offer_no: 2,
            deadline: 50_000
        }
    );
    // b passes late: 35 s left for two reps is below the floor share, so 20 s.
    let pass = Input::Pass {
        rep: "b".into(),
        reason: "no".into(),
    };
    let d = step_all(&team, &rotation, &d.lead, pass, 45_000).unwrap();
    assert_eq!(
        d.lead.phase,
        Phase::Offered {
            rep: "c".into(),
            offer_no: 3,
            deadline: 72_500
        }
    );
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 3 },
        85_000,
    )
    .unwrap();
    assert!(matches!(d.lead.phase, Phase::Pooled { .. }));
    assert_eq!(
        d.effects.last(),
        Some(&Effect::Pool {
            reason: PoolReason::BudgetSpent
        })
    );
}

#[test]
fn an_account_owner_gets_the_lead_at_once() {
    let team = team(&["a", "b"]);
    let lead = NewLead {
        lead_id: "l".into(),
        tier: String::new(),
        owner_hint: Some("zoe".into()),
    };
    let d = start(
        &team,
        &RotationState::default(),
        &lead,
        0,
        &EveryoneEligible,
    );
    assert_eq!(d.lead.phase, Phase::Assigned { rep: "zoe".into() });
    assert_eq!(
        d.effects,
        vec![Effect::Assign {
            rep: "zoe".into(),
            via: AssignedVia::AccountOwner,
            offer_no: None
        }]
    );
}

#[test]
fn an_empty_ring_waits() {
    let team = team(&[]);
    let d = start(
        &team,
        &RotationState::default(),
        &new_lead("l"),
        0,
        &EveryoneEligible,
    );
    assert_eq!(d.lead.phase, Phase::Waiting { since: 0 });
    assert_eq!(d.rotation, None);
}

//! Unit tests of the transitions.
use std::collections::HashMap;

use super::*;

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
    team.ring = vec!["d".into(), "a".into(), "c".into()];
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
fn claim_assigns_to_the_offered_rep_only() {
    let team = team(&["a", "b"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    let err = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "b".into() },
        10,
    )
    .unwrap_err();
    assert!(matches!(err, RouteError::NotYourOffer { .. }));
    let claimed = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "a".into() },
        500,
    )
    .unwrap();
    assert_eq!(claimed.lead.phase, Phase::Assigned { rep: "a".into() });
    let again = step_all(
        &team,
        &rotation,
        &claimed.lead,
        Input::Claim { rep: "b".into() },
        600,
    );
    assert!(matches!(again, Err(RouteError::AlreadyAssigned { .. })));
}

#[test]
fn claim_at_or_after_the_deadline_fails() {
    let team = team(&["a", "b"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    let claim_at = |now| {
        step_all(
            &team,
            &rotation,
            &d.lead,
            Input::Claim { rep: "a".into() },
            now,
        )
    };
    // The window is 1 000 ms from 0: the last millisecond before it still counts.
    let claimed = claim_at(999).unwrap();
    assert_eq!(claimed.lead.phase, Phase::Assigned { rep: "a".into() });
    for late in [1_000, 1_001, 60_000] {
        let err = claim_at(late).unwrap_err();
        assert!(
            matches!(
                err,
                RouteError::OfferExpired {
                    deadline: 1_000,
                    ..
                }
            ),
            "claim at {late}: {err:?}"
        );
    }
}

#[test]
fn a_rep_who_leaves_mid_lap_is_skipped() {
    let mut team = team(&["a", "b", "c"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    assert_eq!(d.lead.lap_order, ["a", "b", "c"]);
    assert_eq!(offered_to(&d.lead), Some("a"));
    // b leaves the team while a holds the offer; the lap was fixed at the
    // start, so b is still in it, and must be passed by.
    team.ring.retain(|rep| rep != "b");
    let expired = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 1 },
        1_000,
    )
    .unwrap();
    assert_eq!(offered_to(&expired.lead), Some("c"));
    assert!(
        expired.effects.contains(&Effect::Skip {
            rep: "b".into(),
            reason: SkipReason::Left,
        }),
        "{:?}",
        expired.effects
    );
    // c leaves too while holding the offer: the lap ends in the pool, with
    // nobody else offered.
    team.ring.retain(|rep| rep != "c");
    let passed = step_all(
        &team,
        &rotation,
        &expired.lead,
        Input::Pass {
            rep: "c".into(),
            reason: "busy".into(),
        },
        1_500,
    )
    .unwrap();
    assert!(
        matches!(passed.lead.phase, Phase::Pooled { .. }),
        "{:?}",
        passed.lead.phase
    );
    assert!(
        !passed
            .effects
            .iter()
            .any(|e| matches!(e, Effect::OpenOffer { .. })),
        "{:?}",
        passed.effects
    );
    // And a rep who left may not claim from the pool.
    let err = step_all(
        &team,
        &rotation,
        &passed.lead,
        Input::Claim { rep: "b".into() },
        1_600,
    )
    .unwrap_err();
    assert!(matches!(err, RouteError::NotTeamMember { .. }), "{err:?}");
}

#[test]
fn pass_and_expiry_walk_the_ring_then_pool_then_escalate() {
    let mut team = team(&["a", "b", "c"]);
    team.pool_timeout_ms = Some(5_000);
    let rotation = RotationState {
        seq: 1,
        last_turn: [("a".to_string(), 0)].into(),
    };
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    assert_eq!(offered_to(&d.lead), Some("b"));
    let rotation = d.rotation.unwrap();
    let pass = Input::Pass {
        rep: "b".into(),
        reason: "busy".into(),
    };
    let d = step_all(&team, &rotation, &d.lead, pass, 10).unwrap();
    assert_eq!(offered_to(&d.lead), Some("c"));
    let early = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 2 },
        500,
    );
    assert!(matches!(early, Err(RouteError::NotDue { .. })));
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 2 },
        1_010,
    )
    .unwrap();
    assert_eq!(offered_to(&d.lead), Some("a"));
    let stale = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 2 },
        5_000,
    );
    assert!(matches!(stale, Err(RouteError::StaleTimer { .. })));
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 3 },
        2_010,
    )
    .unwrap();
    assert_eq!(
        d.lead.phase,
        Phase::Pooled {
            since: 2_010,
            escalate_at: Some(7_010)
        }
    );
    assert_eq!(
        d.effects.last(),
        Some(&Effect::Pool {
            reason: PoolReason::LapDone
        })
    );
    let early = step_all(&team, &rotation, &d.lead, Input::EscalationDue, 7_000);
    assert!(matches!(early, Err(RouteError::NotDue { .. })));
    let d = step_all(&team, &rotation, &d.lead, Input::EscalationDue, 7_010).unwrap();
    assert_eq!(d.effects, vec![Effect::Escalate]);
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "c".into() },
        8_000,
    )
    .unwrap();
    assert_eq!(d.lead.phase, Phase::Assigned { rep: "c".into() });
}

#[test]
fn pool_claims_need_team_membership() {
    let team = team(&["a"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 1 },
        1_000,
    )
    .unwrap();
    let err = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "zed".into() },
        1_100,
    )
    .unwrap_err();
    assert!(matches!(err, RouteError::NotTeamMember { .. }));
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
    team.ranks = [("c".to_string(), 9), ("b".to_string(), 5)].into();
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
fn managers_assign_reassign_requeue_and_withdraw() {
    let team = team(&["a", "b"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    // Assign over an open offer withdraws it.
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::AssignDirect { rep: "b".into() },
        10,
    )
    .unwrap();
    assert!(matches!(
        &d.effects[0],
        Effect::CloseOffer {
            outcome: OfferOutcome::Withdrawn,
            ..
        }
    ));
    let d = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::AssignDirect { rep: "a".into() },
        20,
    )
    .unwrap();
    assert_eq!(
        d.effects,
        vec![Effect::Reassign {
            from: "b".into(),
            to: "a".into()
        }]
    );
    // Requeue starts a new lap in which a may be offered again.
    let d = step_all(&team, &rotation, &d.lead, Input::Requeue, 30).unwrap();
    assert_eq!(d.lead.lap, 2);
    assert_eq!(offered_to(&d.lead), Some("a"));
    let err = step_all(&team, &rotation, &d.lead, Input::Requeue, 40).unwrap_err();
    assert!(matches!(err, RouteError::WrongPhase { .. }));
    let d = step_all(&team, &rotation, &d.lead, Input::Withdraw, 50).unwrap();
    assert_eq!(d.lead.phase, Phase::Withdrawn);
    let err = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "a".into() },
        60,
    )
    .unwrap_err();
    assert!(matches!(err, RouteError::WrongPhase { .. }));
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

#[test]
fn work_handed_back_goes_round_again_or_to_the_pool() {
    let team = team(&["a", "b", "c"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    let claimed = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Claim { rep: "a".into() },
        10,
    )
    .unwrap();
    // Only an owned lead can be handed back.
    for input in [Input::Return, Input::ReturnToPool] {
        let err = step_all(&team, &rotation, &d.lead, input, 5).unwrap_err();
        assert!(matches!(err, RouteError::WrongPhase { .. }));
    }
    // Handed back: a new lap that skips the previous owner, even when the
    // rotation would give them the first look.
    let returned = step_all(&team, &rotation, &claimed.lead, Input::Return, 20).unwrap();
    assert_eq!(returned.lead.lap, 2);
    assert_ne!(offered_to(&returned.lead), Some("a"));
    assert!(offered_to(&returned.lead).is_some());
    assert!(returned.effects.contains(&Effect::Requeue { lap: 2 }));
    // Disqualified back to the pool: pooled with the returned reason, and
    // any member may claim it from there.
    let pooled = step_all(&team, &rotation, &claimed.lead, Input::ReturnToPool, 20).unwrap();
    assert!(matches!(pooled.lead.phase, Phase::Pooled { since: 20, .. }));
    assert_eq!(
        pooled.effects,
        vec![Effect::Pool {
            reason: PoolReason::Returned
        }]
    );
    let reclaimed = step_all(
        &team,
        &rotation,
        &pooled.lead,
        Input::Claim { rep: "b".into() },
        30,
    )
    .unwrap();
    assert_eq!(reclaimed.lead.phase, Phase::Assigned { rep: "b".into() });
}

#[test]
fn only_the_offered_rep_may_pass() {
    let team = team(&["a", "b"]);
    let rotation = RotationState::default();
    let d = start(&team, &rotation, &new_lead("l"), 0, &EveryoneEligible);
    let pass = |rep: &str| Input::Pass {
        rep: rep.into(),
        reason: "busy".into(),
    };
    let err = step_all(&team, &rotation, &d.lead, pass("b"), 10).unwrap_err();
    assert!(matches!(err, RouteError::NotYourOffer { .. }), "{err:?}");
    // a's offer lapses and b is offered the lead: a learns her offer ended.
    let expired = step_all(
        &team,
        &rotation,
        &d.lead,
        Input::Expire { offer_no: 1 },
        1_000,
    )
    .unwrap();
    assert_eq!(offered_to(&expired.lead), Some("b"));
    let err = step_all(&team, &rotation, &expired.lead, pass("a"), 1_010).unwrap_err();
    assert!(matches!(err, RouteError::OfferEnded { .. }), "{err:?}");
}

//! Unit tests of one lead's offers: claims, deadlines, passes, expiries,
//! the pool, managers' actions and work handed back.

use super::*;

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
    leave(&mut team, "b");
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
    leave(&mut team, "c");
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

/// `rep` leaves `team`'s ring.
fn leave(team: &mut TeamConfig, rep: &str) {
    team.ring = team.ring.iter().filter(|r| *r != rep).cloned().collect();
}

//! The transitions: [`start`] and [`step`].

use crate::types::*;

/// Tells the core whether a rep may be offered a lead now.
pub trait Eligibility {
    /// Ok when `rep` may be offered a lead at `now`, else why not.
    fn check(&self, rep: &str, now: Millis) -> Result<(), SkipReason>;
}

/// Every rep is eligible.
#[derive(Clone, Copy, Debug, Default)]
pub struct EveryoneEligible;

impl Eligibility for EveryoneEligible {
    fn check(&self, _rep: &str, _now: Millis) -> Result<(), SkipReason> {
        Ok(())
    }
}

/// Routes a new lead: fixes its lap (the ring rotated to the rep under the
/// team's rotation `cursor`) and offers it to the first eligible rep.
/// Returns the decision and the cursor's next value: the cursor advances by
/// one per lead, so every rep gets the first look equally often.
pub fn start(
    team: &TeamConfig,
    cursor: u64,
    lead_id: &str,
    now: Millis,
    eligibility: &impl Eligibility,
) -> (Decision, u64) {
    let ring_len = team.ring.len();
    let lap_order: Vec<String> = if ring_len == 0 {
        Vec::new()
    } else {
        let first = (cursor % ring_len as u64) as usize;
        team.ring[first..]
            .iter()
            .chain(&team.ring[..first])
            .cloned()
            .collect()
    };
    let lead = LeadRouting {
        lead_id: lead_id.to_string(),
        team_id: team.team_id.clone(),
        phase: Phase::Waiting,
        lap_order,
        position: 0,
        offered: Vec::new(),
        offers_made: 0,
        first_offer_at: None,
    };
    if ring_len == 0 {
        return (
            Decision {
                lead,
                effects: Vec::new(),
            },
            cursor,
        );
    }
    let mut effects = Vec::new();
    let lead = advance(team, lead, 0, now, eligibility, &mut effects);
    (Decision { lead, effects }, cursor.wrapping_add(1))
}

/// Applies `input` to `lead` at `now`. A refused input returns an error and
/// changes nothing.
pub fn step(
    team: &TeamConfig,
    lead: &LeadRouting,
    input: Input,
    now: Millis,
    eligibility: &impl Eligibility,
) -> Result<Decision, RouteError> {
    let lead_id = lead.lead_id.clone();
    match (&lead.phase, input) {
        (Phase::Assigned { rep: owner }, Input::Claim { .. }) => Err(RouteError::AlreadyAssigned {
            lead_id,
            owner: owner.clone(),
        }),
        (
            Phase::Offered {
                rep,
                offer_no,
                deadline,
            },
            Input::Claim { rep: claimer },
        ) => {
            if claimer != *rep {
                return Err(RouteError::NotYourOffer { lead_id });
            }
            if now >= *deadline {
                return Err(RouteError::OfferExpired {
                    lead_id,
                    rep: claimer,
                    deadline: *deadline,
                });
            }
            let mut next = lead.clone();
            next.phase = Phase::Assigned {
                rep: claimer.clone(),
            };
            Ok(Decision {
                lead: next,
                effects: vec![
                    Effect::CloseOffer {
                        rep: claimer.clone(),
                        offer_no: *offer_no,
                        outcome: OfferOutcome::Claimed,
                        reason: None,
                    },
                    Effect::Assign {
                        rep: claimer,
                        via: AssignedVia::Offer,
                        offer_no: Some(*offer_no),
                    },
                ],
            })
        }
        (Phase::Pooled { .. }, Input::Claim { rep: claimer }) => {
            if !team.ring.contains(&claimer) {
                return Err(RouteError::NotTeamMember {
                    rep: claimer,
                    team_id: team.team_id.clone(),
                });
            }
            let mut next = lead.clone();
            next.phase = Phase::Assigned {
                rep: claimer.clone(),
            };
            Ok(Decision {
                lead: next,
                effects: vec![Effect::Assign {
                    rep: claimer,
                    via: AssignedVia::Pool,
                    offer_no: None,
                }],
            })
        }
        (Phase::Waiting, Input::Claim { rep }) => Err(RouteError::NoOpenOffer { lead_id, rep }),
        (
            Phase::Offered {
                rep,
                offer_no,
                deadline,
            },
            Input::Pass {
                rep: passer,
                reason,
            },
        ) => {
            if passer != *rep {
                return Err(RouteError::NoOpenOffer {
                    lead_id,
                    rep: passer,
                });
            }
            if now >= *deadline {
                return Err(RouteError::OfferExpired {
                    lead_id,
                    rep: passer,
                    deadline: *deadline,
                });
            }
            let mut effects = vec![Effect::CloseOffer {
                rep: passer,
                offer_no: *offer_no,
                outcome: OfferOutcome::Passed,
                reason: Some(reason),
            }];
            let from = lead.position + 1;
            let next = advance(team, lead.clone(), from, now, eligibility, &mut effects);
            Ok(Decision {
                lead: next,
                effects,
            })
        }
        (_, Input::Pass { rep, .. }) => Err(RouteError::NoOpenOffer { lead_id, rep }),
        (
            Phase::Offered {
                rep,
                offer_no,
                deadline,
            },
            Input::Expire { offer_no: timer },
        ) if *offer_no == timer => {
            if now < *deadline {
                return Err(RouteError::NotDue {
                    lead_id,
                    offer_no: timer,
                    deadline: *deadline,
                });
            }
            let mut effects = vec![Effect::CloseOffer {
                rep: rep.clone(),
                offer_no: *offer_no,
                outcome: OfferOutcome::Expired,
                reason: None,
            }];
            let from = lead.position + 1;
            let next = advance(team, lead.clone(), from, now, eligibility, &mut effects);
            Ok(Decision {
                lead: next,
                effects,
            })
        }
        (_, Input::Expire { offer_no }) => Err(RouteError::StaleTimer { lead_id, offer_no }),
    }
}

/// Offers the lead to the first eligible rep at or after `from` in its lap
/// order, recording skips; pools it when nobody is left.
fn advance(
    team: &TeamConfig,
    mut lead: LeadRouting,
    from: usize,
    now: Millis,
    eligibility: &impl Eligibility,
    effects: &mut Vec<Effect>,
) -> LeadRouting {
    for index in from..lead.lap_order.len() {
        let rep = lead.lap_order[index].clone();
        if lead.offered.contains(&rep) {
            effects.push(Effect::Skip {
                rep,
                reason: SkipReason::AlreadyOffered,
            });
            continue;
        }
        if !team.ring.contains(&rep) {
            effects.push(Effect::Skip {
                rep,
                reason: SkipReason::Left,
            });
            continue;
        }
        if let Err(reason) = eligibility.check(&rep, now) {
            effects.push(Effect::Skip { rep, reason });
            continue;
        }
        let offer_no = lead.offers_made + 1;
        let deadline = now + team.window_ms;
        effects.push(Effect::OpenOffer {
            rep: rep.clone(),
            offer_no,
            deadline,
            first_look: lead.offers_made == 0,
        });
        lead.offers_made = offer_no;
        lead.first_offer_at.get_or_insert(now);
        lead.offered.push(rep.clone());
        lead.position = index;
        lead.phase = Phase::Offered {
            rep,
            offer_no,
            deadline,
        };
        return lead;
    }
    lead.position = lead.lap_order.len();
    lead.phase = Phase::Pooled { since: now };
    effects.push(Effect::Pool);
    lead
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(reps: &[&str]) -> TeamConfig {
        TeamConfig {
            team_id: "t".into(),
            ring: reps.iter().map(|r| r.to_string()).collect(),
            window_ms: 1_000,
        }
    }

    fn offered_to(lead: &LeadRouting) -> Option<&str> {
        match &lead.phase {
            Phase::Offered { rep, .. } => Some(rep),
            _ => None,
        }
    }

    #[test]
    fn first_look_follows_the_cursor() {
        let team = team(&["a", "b", "c"]);
        let (d0, c1) = start(&team, 0, "l0", 0, &EveryoneEligible);
        let (d1, c2) = start(&team, c1, "l1", 0, &EveryoneEligible);
        let (d2, c3) = start(&team, c2, "l2", 0, &EveryoneEligible);
        let (d3, _) = start(&team, c3, "l3", 0, &EveryoneEligible);
        assert_eq!(offered_to(&d0.lead), Some("a"));
        assert_eq!(offered_to(&d1.lead), Some("b"));
        assert_eq!(offered_to(&d2.lead), Some("c"));
        assert_eq!(offered_to(&d3.lead), Some("a"));
    }

    #[test]
    fn claim_assigns_to_the_offered_rep() {
        let team = team(&["a", "b"]);
        let (d, _) = start(&team, 0, "l", 0, &EveryoneEligible);
        let claimed = step(
            &team,
            &d.lead,
            Input::Claim { rep: "a".into() },
            500,
            &EveryoneEligible,
        )
        .unwrap();
        assert_eq!(claimed.lead.phase, Phase::Assigned { rep: "a".into() });
        let again = step(
            &team,
            &claimed.lead,
            Input::Claim { rep: "b".into() },
            600,
            &EveryoneEligible,
        );
        assert!(matches!(again, Err(RouteError::AlreadyAssigned { .. })));
    }

    #[test]
    fn only_the_offered_rep_may_claim() {
        let team = team(&["a", "b"]);
        let (d, _) = start(&team, 0, "l", 0, &EveryoneEligible);
        let err = step(
            &team,
            &d.lead,
            Input::Claim { rep: "b".into() },
            10,
            &EveryoneEligible,
        )
        .unwrap_err();
        assert!(matches!(err, RouteError::NotYourOffer { .. }));
    }

    #[test]
    fn claim_at_or_after_the_deadline_fails() {
        let team = team(&["a", "b"]);
        let (d, _) = start(&team, 0, "l", 0, &EveryoneEligible);
        let err = step(
            &team,
            &d.lead,
            Input::Claim { rep: "a".into() },
            1_000,
            &EveryoneEligible,
        )
        .unwrap_err();
        assert!(matches!(err, RouteError::OfferExpired { .. }));
    }

    #[test]
    fn pass_and_expiry_walk_the_ring_then_pool() {
        let team = team(&["a", "b", "c"]);
        let (d, _) = start(&team, 1, "l", 0, &EveryoneEligible);
        assert_eq!(offered_to(&d.lead), Some("b"));
        let d = step(
            &team,
            &d.lead,
            Input::Pass {
                rep: "b".into(),
                reason: "busy".into(),
            },
            10,
            &EveryoneEligible,
        )
        .unwrap();
        assert_eq!(offered_to(&d.lead), Some("c"));
        let early = step(
            &team,
            &d.lead,
            Input::Expire { offer_no: 2 },
            500,
            &EveryoneEligible,
        );
        assert!(matches!(early, Err(RouteError::NotDue { .. })));
        let d = step(
            &team,
            &d.lead,
            Input::Expire { offer_no: 2 },
            1_010,
            &EveryoneEligible,
        )
        .unwrap();
        assert_eq!(offered_to(&d.lead), Some("a"));
        let stale = step(
            &team,
            &d.lead,
            Input::Expire { offer_no: 2 },
            5_000,
            &EveryoneEligible,
        );
        assert!(matches!(stale, Err(RouteError::StaleTimer { .. })));
        let d = step(
            &team,
            &d.lead,
            Input::Expire { offer_no: 3 },
            2_010,
            &EveryoneEligible,
        )
        .unwrap();
        assert_eq!(d.lead.phase, Phase::Pooled { since: 2_010 });
        assert_eq!(d.effects.last(), Some(&Effect::Pool));
        let d = step(
            &team,
            &d.lead,
            Input::Claim { rep: "c".into() },
            3_000,
            &EveryoneEligible,
        )
        .unwrap();
        assert_eq!(d.lead.phase, Phase::Assigned { rep: "c".into() });
    }

    #[test]
    fn pool_claims_need_team_membership() {
        let team = team(&["a"]);
        let (d, _) = start(&team, 0, "l", 0, &EveryoneEligible);
        let d = step(
            &team,
            &d.lead,
            Input::Expire { offer_no: 1 },
            1_000,
            &EveryoneEligible,
        )
        .unwrap();
        let err = step(
            &team,
            &d.lead,
            Input::Claim { rep: "zed".into() },
            1_100,
            &EveryoneEligible,
        )
        .unwrap_err();
        assert!(matches!(err, RouteError::NotTeamMember { .. }));
    }

    #[test]
    fn ineligible_reps_are_skipped_with_a_reason() {
        struct AwayB;
        impl Eligibility for AwayB {
            fn check(&self, rep: &str, _now: Millis) -> Result<(), SkipReason> {
                if rep == "b" {
                    Err(SkipReason::Away)
                } else {
                    Ok(())
                }
            }
        }
        let team = team(&["a", "b", "c"]);
        let (d, _) = start(&team, 1, "l", 0, &AwayB);
        assert_eq!(
            d.effects[0],
            Effect::Skip {
                rep: "b".into(),
                reason: SkipReason::Away
            }
        );
        assert_eq!(offered_to(&d.lead), Some("c"));
    }

    #[test]
    fn an_empty_ring_waits() {
        let team = team(&[]);
        let (d, cursor) = start(&team, 7, "l", 0, &EveryoneEligible);
        assert_eq!(d.lead.phase, Phase::Waiting);
        assert_eq!(cursor, 7);
    }
}

//! The transitions: [`start`] and [`step`].

use crate::types::*;

/// Tells the core whether a rep may be offered a lead now.
pub trait Eligibility {
    /// Ok when `rep` may be offered a lead of `tier` at `now`, else why not.
    fn check(&self, rep: &str, tier: &str, now: Millis) -> Result<(), SkipReason>;
}

/// Every rep is eligible.
#[derive(Clone, Copy, Debug, Default)]
pub struct EveryoneEligible;

impl Eligibility for EveryoneEligible {
    fn check(&self, _rep: &str, _tier: &str, _now: Millis) -> Result<(), SkipReason> {
        Ok(())
    }
}

/// Routes a new lead. An account owner named in `lead.owner_hint` gets it
/// at once; otherwise the first look goes by the team's rotation and the
/// lead is offered to one eligible rep at a time along its lap.
pub fn start(
    team: &TeamConfig,
    rotation: &RotationState,
    lead: &NewLead,
    now: Millis,
    eligibility: &impl Eligibility,
) -> Decision {
    let mut routing = LeadRouting {
        lead_id: lead.lead_id.clone(),
        team_id: team.team_id.clone(),
        phase: Phase::Waiting { since: now },
        lap_order: Vec::new(),
        position: 0,
        offered: Vec::new(),
        offers_made: 0,
        first_offer_at: None,
        tier: lead.tier.clone(),
        lap: 1,
    };
    if let Some(owner) = lead.owner_hint.clone().filter(|o| !o.is_empty()) {
        routing.phase = Phase::Assigned { rep: owner.clone() };
        return Decision {
            lead: routing,
            effects: vec![Effect::Assign {
                rep: owner,
                via: AssignedVia::AccountOwner,
                offer_no: None,
            }],
            rotation: None,
        };
    }
    let mut effects = Vec::new();
    let (lead, rotation) = begin_lap(team, rotation, routing, now, eligibility, &mut effects);
    Decision {
        lead,
        effects,
        rotation,
    }
}

/// Applies `input` to `lead` at `now`. A refused input returns an error and
/// changes nothing.
pub fn step(
    team: &TeamConfig,
    rotation: &RotationState,
    lead: &LeadRouting,
    input: Input,
    now: Millis,
    eligibility: &impl Eligibility,
) -> Result<Decision, RouteError> {
    let lead_id = lead.lead_id.clone();
    let wrong = |action: &'static str| RouteError::WrongPhase {
        lead_id: lead.lead_id.clone(),
        phase: phase_name(&lead.phase),
        action,
    };
    let done = |lead: LeadRouting, effects: Vec<Effect>| {
        Ok(Decision {
            lead,
            effects,
            rotation: None,
        })
    };
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
                // A rep whose own offer already ended learns just that,
                // whether or not the timer has moved the lead on yet.
                if lead.offered.contains(&claimer) {
                    return Err(RouteError::OfferEnded {
                        lead_id,
                        rep: claimer,
                    });
                }
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
            done(
                next,
                vec![
                    close(&claimer, *offer_no, OfferOutcome::Claimed, None),
                    Effect::Assign {
                        rep: claimer,
                        via: AssignedVia::Offer,
                        offer_no: Some(*offer_no),
                    },
                ],
            )
        }
        (Phase::Pooled { .. } | Phase::Escalated { .. }, Input::Claim { rep: claimer }) => {
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
            done(
                next,
                vec![Effect::Assign {
                    rep: claimer,
                    via: AssignedVia::Pool,
                    offer_no: None,
                }],
            )
        }
        (Phase::Waiting { .. }, Input::Claim { rep }) => {
            Err(RouteError::NoOpenOffer { lead_id, rep })
        }
        (Phase::Withdrawn, Input::Claim { .. }) => Err(wrong("claim")),

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
                // As for a claim: a rep whose own offer already ended learns
                // just that; anyone else is acting on someone else's offer.
                if lead.offered.contains(&passer) {
                    return Err(RouteError::OfferEnded {
                        lead_id,
                        rep: passer,
                    });
                }
                return Err(RouteError::NotYourOffer { lead_id });
            }
            if now >= *deadline {
                return Err(RouteError::OfferExpired {
                    lead_id,
                    rep: passer,
                    deadline: *deadline,
                });
            }
            let mut effects = vec![close(
                &passer,
                *offer_no,
                OfferOutcome::Passed,
                Some(reason),
            )];
            let next = advance(
                team,
                lead.clone(),
                lead.position + 1,
                now,
                eligibility,
                &mut effects,
            );
            done(next, effects)
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
            let mut effects = vec![close(rep, *offer_no, OfferOutcome::Expired, None)];
            let next = advance(
                team,
                lead.clone(),
                lead.position + 1,
                now,
                eligibility,
                &mut effects,
            );
            done(next, effects)
        }
        (_, Input::Expire { offer_no }) => Err(RouteError::StaleTimer { lead_id, offer_no }),

        (Phase::Waiting { .. }, Input::Retry) => {
            let mut effects = Vec::new();
            let (next, rotation) =
                begin_lap(team, rotation, lead.clone(), now, eligibility, &mut effects);
            if matches!(next.phase, Phase::Waiting { .. }) {
                // Still nobody eligible: nothing happened.
                return Err(wrong("retry: still nobody eligible"));
            }
            Ok(Decision {
                lead: next,
                effects,
                rotation,
            })
        }
        (_, Input::Retry) => Err(wrong("retry")),

        (
            Phase::Pooled {
                since,
                escalate_at: Some(at),
            },
            Input::EscalationDue,
        ) => {
            if now < *at {
                return Err(RouteError::NotDue {
                    lead_id,
                    offer_no: 0,
                    deadline: *at,
                });
            }
            let mut next = lead.clone();
            next.phase = Phase::Escalated { since: *since };
            done(next, vec![Effect::Escalate])
        }
        (_, Input::EscalationDue) => Err(wrong("escalate")),

        (Phase::Assigned { rep: owner }, Input::AssignDirect { rep }) => {
            if *owner == rep {
                return Err(RouteError::AlreadyAssigned {
                    lead_id,
                    owner: owner.clone(),
                });
            }
            let mut next = lead.clone();
            next.phase = Phase::Assigned { rep: rep.clone() };
            done(
                next,
                vec![Effect::Reassign {
                    from: owner.clone(),
                    to: rep,
                }],
            )
        }
        (phase, Input::AssignDirect { rep }) => {
            let mut effects = Vec::new();
            if let Phase::Offered {
                rep: holder,
                offer_no,
                ..
            } = phase
            {
                effects.push(close(
                    holder,
                    *offer_no,
                    OfferOutcome::Withdrawn,
                    Some("assigned by a manager".into()),
                ));
            }
            let mut next = lead.clone();
            next.phase = Phase::Assigned { rep: rep.clone() };
            effects.push(Effect::Assign {
                rep,
                via: AssignedVia::Direct,
                offer_no: None,
            });
            done(next, effects)
        }

        (Phase::Offered { .. }, Input::Requeue) => {
            Err(wrong("requeue (withdraw the open offer first)"))
        }
        (_, Input::Requeue) => {
            let mut next = lead.clone();
            next.lap += 1;
            next.offered.clear();
            next.position = 0;
            next.lap_order.clear();
            let mut effects = vec![Effect::Requeue { lap: next.lap }];
            let (next, rotation) = begin_lap(team, rotation, next, now, eligibility, &mut effects);
            Ok(Decision {
                lead: next,
                effects,
                rotation,
            })
        }

        (Phase::Assigned { rep: owner }, Input::Return) => {
            let mut next = lead.clone();
            next.lap += 1;
            next.position = 0;
            next.lap_order.clear();
            // The previous owner counts as offered in the new lap, so the
            // lap passes them by (and records why).
            next.offered = vec![owner.clone()];
            let mut effects = vec![Effect::Requeue { lap: next.lap }];
            let (next, rotation) = begin_lap(team, rotation, next, now, eligibility, &mut effects);
            Ok(Decision {
                lead: next,
                effects,
                rotation,
            })
        }
        (_, Input::Return) => Err(wrong("return to the wheel")),

        (Phase::Assigned { .. }, Input::ReturnToPool) => {
            let mut effects = Vec::new();
            let next = pool(team, lead.clone(), now, PoolReason::Returned, &mut effects);
            done(next, effects)
        }
        (_, Input::ReturnToPool) => Err(wrong("return to the pool")),

        (Phase::Assigned { .. } | Phase::Withdrawn, Input::Withdraw) => Err(wrong("withdraw")),
        (phase, Input::Withdraw) => {
            let mut effects = Vec::new();
            if let Phase::Offered { rep, offer_no, .. } = phase {
                effects.push(close(
                    rep,
                    *offer_no,
                    OfferOutcome::Withdrawn,
                    Some("withdrawn by a manager".into()),
                ));
            }
            effects.push(Effect::Withdraw);
            let mut next = lead.clone();
            next.phase = Phase::Withdrawn;
            done(next, effects)
        }
    }
}

/// The name of a phase, for errors and storage.
pub fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Waiting { .. } => "waiting",
        Phase::Offered { .. } => "offered",
        Phase::Assigned { .. } => "assigned",
        Phase::Pooled { .. } => "pooled",
        Phase::Escalated { .. } => "escalated",
        Phase::Withdrawn => "withdrawn",
    }
}

fn close(rep: &str, offer_no: u32, outcome: OfferOutcome, reason: Option<String>) -> Effect {
    Effect::CloseOffer {
        rep: rep.to_string(),
        offer_no,
        outcome,
        reason,
    }
}

/// Chooses the first look of a new lap and offers the lead from there.
/// When nobody is eligible the lead waits or is pooled, per the team's
/// policy, and the rotation is left as it was.
fn begin_lap(
    team: &TeamConfig,
    rotation: &RotationState,
    mut lead: LeadRouting,
    now: Millis,
    eligibility: &impl Eligibility,
    effects: &mut Vec<Effect>,
) -> (LeadRouting, Option<RotationState>) {
    let policy = team.rotation_for(&lead.tier);
    let mut order: Vec<usize> = (0..team.ring.len()).collect();
    match policy {
        Rotation::RoundRobin => order.sort_by_key(|&i| (rotation.standing(&team.ring[i]), i)),
        Rotation::AbilityOrder => order.sort_by_key(|&i| {
            (
                std::cmp::Reverse(team.ranks.get(&team.ring[i]).copied().unwrap_or(0)),
                i,
            )
        }),
    }
    let mut next_rotation = rotation.clone();
    let mut skips = Vec::new();
    let first = order.iter().copied().find(|&index| {
        let rep = &team.ring[index];
        match eligibility.check(rep, &lead.tier, now) {
            Ok(()) => true,
            Err(reason) => {
                skips.push(Effect::Skip {
                    rep: rep.clone(),
                    reason,
                });
                // Away or off shift creates no debt: the rep loses this
                // turn. At capacity keeps their standing, so they get the
                // next first look once they free up.
                if policy == Rotation::RoundRobin && reason != SkipReason::AtCapacity {
                    next_rotation
                        .last_turn
                        .insert(rep.clone(), next_rotation.seq);
                }
                false
            }
        }
    });
    effects.extend(skips);
    let Some(first) = first else {
        lead.lap_order.clear();
        lead.position = 0;
        return match team.no_eligible {
            NoEligible::Wait => {
                lead.phase = Phase::Waiting { since: now };
                effects.push(Effect::Wait);
                (lead, None)
            }
            NoEligible::Pool => (
                pool(team, lead, now, PoolReason::NoneEligible, effects),
                None,
            ),
        };
    };
    let first_rep = team.ring[first].clone();
    lead.lap_order = match policy {
        Rotation::RoundRobin => team.ring[first..]
            .iter()
            .chain(&team.ring[..first])
            .cloned()
            .collect(),
        Rotation::AbilityOrder => order.iter().map(|&i| team.ring[i].clone()).collect(),
    };
    if policy == Rotation::RoundRobin {
        next_rotation
            .last_turn
            .insert(first_rep.clone(), next_rotation.seq);
        next_rotation.seq += 1;
    }
    let start_at = lead
        .lap_order
        .iter()
        .position(|r| *r == first_rep)
        .unwrap_or(0);
    let lead = advance(team, lead, start_at, now, eligibility, effects);
    let changed = next_rotation != *rotation;
    (lead, changed.then_some(next_rotation))
}

/// Offers the lead to the first eligible rep at or after `from` in its lap
/// order, recording skips; pools it when nobody is left or the chain
/// budget is spent.
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
        if let Err(reason) = eligibility.check(&rep, &lead.tier, now) {
            effects.push(Effect::Skip { rep, reason });
            continue;
        }
        let Some(window) = window(team, &lead, index, now) else {
            return pool(team, lead, now, PoolReason::BudgetSpent, effects);
        };
        let offer_no = lead.offers_made + 1;
        let deadline = now + window;
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
    let reason = if lead.offered.is_empty() {
        PoolReason::NoneEligible
    } else {
        PoolReason::LapDone
    };
    pool(team, lead, now, reason, effects)
}

/// The window of the offer at `index` of the lap: the tier's window,
/// shrunk to a fair share of what is left of the chain budget (never below
/// the floor). None when the budget is spent.
fn window(team: &TeamConfig, lead: &LeadRouting, index: usize, now: Millis) -> Option<Millis> {
    let base = team.window_for(&lead.tier).max(1);
    let Some(budget) = team.chain_budget_ms else {
        return Some(base);
    };
    let started = lead.first_offer_at.unwrap_or(now);
    let remaining = started + budget - now;
    let floor = team.window_floor_ms.min(base);
    if remaining < floor {
        return None;
    }
    let left = lead.lap_order[index..]
        .iter()
        .filter(|r| !lead.offered.contains(r))
        .count()
        .max(1) as Millis;
    Some(base.min((remaining / left).max(floor)))
}

fn pool(
    team: &TeamConfig,
    mut lead: LeadRouting,
    now: Millis,
    reason: PoolReason,
    effects: &mut Vec<Effect>,
) -> LeadRouting {
    lead.phase = Phase::Pooled {
        since: now,
        escalate_at: team.pool_timeout_ms.map(|t| now + t),
    };
    effects.push(Effect::Pool { reason });
    lead
}

#[cfg(test)]
mod tests;

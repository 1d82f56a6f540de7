//! Property tests of the wheel's invariants (DESIGN.md) over random
//! sequences of leads, claims, passes, expiries, time steps, roster and
//! availability changes, and managers' actions.

use std::collections::{BTreeSet, HashMap, HashSet};

use leadwheel_wheel_core::*;
use proptest::prelude::*;

const NAMES: [&str; 8] = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"];

#[derive(Clone, Debug)]
enum Op {
    NewLead {
        tier_a: bool,
    },
    Claim {
        lead: usize,
        rep: usize,
    },
    /// The rep holding the lead's open offer (if any) claims it.
    ClaimOwnOffer {
        lead: usize,
    },
    Pass {
        lead: usize,
    },
    Expire {
        lead: usize,
        stale: bool,
    },
    Retry {
        lead: usize,
    },
    Escalate {
        lead: usize,
    },
    AssignDirect {
        lead: usize,
        rep: usize,
    },
    Requeue {
        lead: usize,
    },
    Withdraw {
        lead: usize,
    },
    /// Opportunity hands the lead back to the wheel.
    Return {
        lead: usize,
    },
    /// Opportunity disqualifies the lead back into the pool.
    ReturnToPool {
        lead: usize,
    },
    Advance(i64),
    Away {
        rep: usize,
        away: bool,
    },
    Full {
        rep: usize,
        full: bool,
    },
    Join {
        rep: usize,
    },
    Leave {
        rep: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let lead = 0usize..6;
    let rep = 0usize..NAMES.len();
    prop_oneof![
        4 => any::<bool>().prop_map(|tier_a| Op::NewLead { tier_a }),
        2 => (lead.clone(), rep.clone()).prop_map(|(lead, rep)| Op::Claim { lead, rep }),
        3 => lead.clone().prop_map(|lead| Op::ClaimOwnOffer { lead }),
        3 => lead.clone().prop_map(|lead| Op::Pass { lead }),
        4 => (lead.clone(), any::<bool>()).prop_map(|(lead, stale)| Op::Expire { lead, stale }),
        1 => lead.clone().prop_map(|lead| Op::Retry { lead }),
        1 => lead.clone().prop_map(|lead| Op::Escalate { lead }),
        1 => (lead.clone(), rep.clone()).prop_map(|(lead, rep)| Op::AssignDirect { lead, rep }),
        1 => lead.clone().prop_map(|lead| Op::Requeue { lead }),
        1 => lead.clone().prop_map(|lead| Op::Withdraw { lead }),
        1 => lead.clone().prop_map(|lead| Op::Return { lead }),
        1 => lead.clone().prop_map(|lead| Op::ReturnToPool { lead }),
        4 => (0i64..3_000).prop_map(Op::Advance),
        2 => (rep.clone(), any::<bool>()).prop_map(|(rep, away)| Op::Away { rep, away }),
        1 => (rep.clone(), any::<bool>()).prop_map(|(rep, full)| Op::Full { rep, full }),
        1 => rep.clone().prop_map(|rep| Op::Join { rep }),
        1 => rep.prop_map(|rep| Op::Leave { rep }),
    ]
}

#[derive(Default)]
struct Availability {
    away: HashSet<String>,
    full: HashSet<String>,
}

impl Eligibility for Availability {
    fn check(&self, rep: &str, _tier: &str, _now: Millis) -> Result<(), SkipReason> {
        if self.away.contains(rep) {
            Err(SkipReason::Away)
        } else if self.full.contains(rep) {
            Err(SkipReason::AtCapacity)
        } else {
            Ok(())
        }
    }
}

/// What the checker knows of one lead, built only from effects.
#[derive(Default, Debug)]
struct Observed {
    open: Option<(String, u32, Millis)>,
    offered_this_lap: BTreeSet<String>,
    owner: Option<String>,
    assignments: usize,
}

fn check_effects(
    observed: &mut Observed,
    effects: &[Effect],
    team: &TeamConfig,
    eligibility: &Availability,
) {
    for effect in effects {
        match effect {
            Effect::OpenOffer {
                rep,
                offer_no,
                deadline,
                ..
            } => {
                assert!(
                    observed.open.is_none(),
                    "invariant 2: second open offer while {:?}",
                    observed.open
                );
                assert!(
                    observed.offered_this_lap.insert(rep.clone()),
                    "invariant 3: {rep} offered twice in one lap"
                );
                assert!(
                    eligibility.check(rep, "", 0).is_ok(),
                    "offered to an ineligible rep {rep}"
                );
                assert!(
                    team.ring.contains(rep),
                    "offered to {rep}, who is not on the ring {:?}",
                    team.ring
                );
                observed.open = Some((rep.clone(), *offer_no, *deadline));
            }
            Effect::CloseOffer { rep, offer_no, .. } => {
                let (open_rep, open_no, _) = observed
                    .open
                    .take()
                    .expect("closing an offer that is not open");
                assert_eq!((&open_rep, open_no), (rep, *offer_no));
            }
            Effect::Assign { rep, .. } => {
                assert!(
                    observed.owner.is_none(),
                    "invariant 1: {rep} assigned over {:?}",
                    observed.owner
                );
                assert!(observed.open.is_none(), "assigned with an open offer");
                observed.owner = Some(rep.clone());
                observed.assignments += 1;
            }
            Effect::Reassign { from, to } => {
                assert_eq!(observed.owner.as_ref(), Some(from));
                observed.owner = Some(to.clone());
            }
            Effect::Requeue { .. } => {
                assert!(observed.open.is_none());
                observed.offered_this_lap.clear();
                observed.owner = None;
            }
            Effect::Pool { .. } => {
                assert!(observed.open.is_none(), "{effect:?} with an open offer");
                // Only a lead handed back by its owner is pooled while owned.
                observed.owner = None;
            }
            Effect::Wait | Effect::Withdraw => {
                assert!(observed.open.is_none(), "{effect:?} with an open offer")
            }
            Effect::Escalate | Effect::Skip { .. } => {}
        }
    }
}

struct World {
    team: TeamConfig,
    rotation: RotationState,
    leads: Vec<(LeadRouting, Observed)>,
    availability: Availability,
    now: Millis,
}

impl World {
    fn apply(&mut self, index: usize, input: Input) {
        let Some((lead, _)) = self.leads.get(index) else {
            return;
        };
        let before = lead.clone();
        let result = step(
            &self.team,
            &self.rotation,
            &before,
            input.clone(),
            self.now,
            &self.availability,
        );
        // Invariant 5: a claim at or after the deadline fails; only the
        // offered rep may claim an offered lead.
        if let (Phase::Offered { rep, deadline, .. }, Input::Claim { rep: claimer }) =
            (&before.phase, &input)
        {
            if rep == claimer && self.now >= *deadline {
                assert!(
                    matches!(result, Err(RouteError::OfferExpired { .. })),
                    "a late claim succeeded"
                );
            }
            if rep != claimer {
                assert!(result.is_err(), "a rep claimed another rep's offer");
            }
        }
        // Each input is refused exactly when it does not apply: a refusal
        // is never a lost transition, and nothing inapplicable goes through.
        assert_eq!(
            result.is_ok(),
            applies(&self.team, &before, &input, self.now, &self.availability),
            "{input:?} on {:?} at {}: {result:?}",
            before.phase,
            self.now
        );
        if let Ok(decision) = result {
            let (lead, observed) = &mut self.leads[index];
            check_effects(observed, &decision.effects, &self.team, &self.availability);
            if let Some(rotation) = decision.rotation {
                self.rotation = rotation;
            }
            *lead = decision.lead;
            if let Phase::Assigned { rep } = &lead.phase {
                assert_eq!(Some(rep), observed.owner.as_ref());
            }
        }
    }
}

/// Whether `input` applies to a lead in `before`'s phase at `now`, from the
/// rules in DESIGN.md rather than from the core's code.
fn applies(
    team: &TeamConfig,
    before: &LeadRouting,
    input: &Input,
    now: Millis,
    availability: &Availability,
) -> bool {
    let phase = &before.phase;
    match input {
        Input::Claim { rep: claimer } => match phase {
            Phase::Offered { rep, deadline, .. } => claimer == rep && now < *deadline,
            Phase::Pooled { .. } | Phase::Escalated { .. } => team.ring.contains(claimer),
            Phase::Waiting { .. } | Phase::Assigned { .. } | Phase::Withdrawn => false,
        },
        Input::Pass { rep: passer, .. } => {
            matches!(phase, Phase::Offered { rep, deadline, .. } if rep == passer && now < *deadline)
        }
        Input::Expire { offer_no: timer } => {
            matches!(phase, Phase::Offered { offer_no, deadline, .. } if offer_no == timer && now >= *deadline)
        }
        Input::Retry => {
            matches!(phase, Phase::Waiting { .. })
                && team
                    .ring
                    .iter()
                    .any(|rep| availability.check(rep, &before.tier, now).is_ok())
        }
        Input::EscalationDue => {
            matches!(phase, Phase::Pooled { escalate_at: Some(at), .. } if now >= *at)
        }
        Input::AssignDirect { rep } => {
            !matches!(phase, Phase::Assigned { rep: owner } if owner == rep)
        }
        Input::Requeue => !matches!(phase, Phase::Offered { .. }),
        Input::Return | Input::ReturnToPool => matches!(phase, Phase::Assigned { .. }),
        Input::Withdraw => !matches!(phase, Phase::Assigned { .. } | Phase::Withdrawn),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Invariants 1-5 over many leads and any sequence of inputs, roster
    /// and availability changes.
    #[test]
    fn the_wheel_keeps_its_invariants(
        size in 1usize..6,
        pool_timeout in proptest::option::of(1_000i64..5_000),
        budget in proptest::option::of(1_000i64..8_000),
        pool_when_none in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut team = TeamConfig::new("team", NAMES[..size].iter().map(|s| s.to_string()).collect(), 1_000);
        team.pool_timeout_ms = pool_timeout;
        team.chain_budget_ms = budget;
        team.window_floor_ms = 300;
        team.tier_windows.insert("A".into(), 2_000);
        team.ability_order_tiers.push("A".into());
        team.ranks = std::sync::Arc::new(NAMES.iter().enumerate().map(|(i, n)| (n.to_string(), (i * 7 % 5) as i32)).collect());
        team.no_eligible = if pool_when_none { NoEligible::Pool } else { NoEligible::Wait };
        let mut world = World { team, rotation: RotationState::default(), leads: Vec::new(), availability: Availability::default(), now: 1_000_000 };

        for op in ops {
            match op {
                Op::NewLead { tier_a } => {
                    let new = NewLead { lead_id: format!("lead{}", world.leads.len()), tier: if tier_a { "A".into() } else { String::new() }, owner_hint: None };
                    let decision = start(&world.team, &world.rotation, &new, world.now, &world.availability);
                    let mut observed = Observed::default();
                    check_effects(&mut observed, &decision.effects, &world.team, &world.availability);
                    if let Some(rotation) = decision.rotation { world.rotation = rotation; }
                    world.leads.push((decision.lead, observed));
                }
                Op::Claim { lead, rep } => world.apply(lead, Input::Claim { rep: NAMES[rep].into() }),
                Op::ClaimOwnOffer { lead } => {
                    if let Some(Phase::Offered { rep, .. }) = world.leads.get(lead).map(|l| l.0.phase.clone()) {
                        world.apply(lead, Input::Claim { rep });
                    }
                }
                Op::Pass { lead } => {
                    if let Some(Phase::Offered { rep, .. }) = world.leads.get(lead).map(|l| l.0.phase.clone()) {
                        world.apply(lead, Input::Pass { rep, reason: "busy".into() });
                    }
                }
                Op::Expire { lead, stale } => {
                    let offer_no = match world.leads.get(lead).map(|l| l.0.phase.clone()) {
                        Some(Phase::Offered { offer_no, .. }) if !stale => offer_no,
                        _ => 99,
                    };
                    world.apply(lead, Input::Expire { offer_no });
                }
                Op::Retry { lead } => world.apply(lead, Input::Retry),
                Op::Escalate { lead } => world.apply(lead, Input::EscalationDue),
                Op::AssignDirect { lead, rep } => world.apply(lead, Input::AssignDirect { rep: NAMES[rep].into() }),
                Op::Requeue { lead } => world.apply(lead, Input::Requeue),
                Op::Withdraw { lead } => world.apply(lead, Input::Withdraw),
                Op::Return { lead } => world.apply(lead, Input::Return),
                Op::ReturnToPool { lead } => world.apply(lead, Input::ReturnToPool),
                Op::Advance(ms) => world.now += ms,
                Op::Away { rep, away } => { if away { world.availability.away.insert(NAMES[rep].into()); } else { world.availability.away.remove(NAMES[rep]); } }
                Op::Full { rep, full } => { if full { world.availability.full.insert(NAMES[rep].into()); } else { world.availability.full.remove(NAMES[rep]); } }
                Op::Join { rep } => { if !world.team.ring.iter().any(|r| r == NAMES[rep]) { let mut ring = world.team.ring.to_vec(); ring.push(NAMES[rep].into()); world.team.ring = ring.into(); } }
                Op::Leave { rep } => { if world.team.ring.len() > 1 { world.team.ring = world.team.ring.iter().filter(|r| *r != NAMES[rep]).cloned().collect(); } }
            }
        }

        // Invariant 4: once reps are available again and time passes, every
        // lead ends assigned, pooled, escalated or withdrawn.
        world.availability = Availability::default();
        for index in 0..world.leads.len() {
            world.apply(index, Input::Retry);
            let mut guard = 0;
            while let Phase::Offered { offer_no, deadline, .. } = world.leads[index].0.phase.clone() {
                world.now = world.now.max(deadline);
                world.apply(index, Input::Expire { offer_no });
                guard += 1;
                prop_assert!(guard <= NAMES.len() + 1, "lead never settled");
            }
            let (lead, observed) = &world.leads[index];
            prop_assert!(lead.is_settled(), "lead ended {:?}", lead.phase);
            prop_assert!(observed.open.is_none());
        }
    }

    /// Invariant 6: with round-robin rotation and everyone eligible, first
    /// looks are spread exactly evenly over whole rounds.
    #[test]
    fn first_looks_are_even(size in 1usize..9, rounds in 1usize..12) {
        let team = TeamConfig::new("team", NAMES[..size].iter().map(|s| s.to_string()).collect(), 1_000);
        let counts = count_first_looks(&team, size * rounds, |_| Availability::default());
        prop_assert!(counts.iter().all(|&n| n == rounds), "uneven first looks {counts:?}");
    }

    /// A rep skipped at capacity keeps their standing: the first lead after
    /// they free up gives them the first look.
    #[test]
    fn capacity_earns_the_next_first_look(size in 2usize..9, full_for in 1usize..10) {
        let team = TeamConfig::new("team", NAMES[..size].iter().map(|s| s.to_string()).collect(), 1_000);
        let mut rotation = RotationState::default();
        let mut full = Availability::default();
        full.full.insert(NAMES[0].into());
        for i in 0..full_for {
            let decision = start(&team, &rotation, &NewLead { lead_id: format!("l{i}"), ..Default::default() }, 0, &full);
            if let Some(next) = decision.rotation { rotation = next; }
        }
        let decision = start(&team, &rotation, &NewLead { lead_id: "freed".into(), ..Default::default() }, 0, &EveryoneEligible);
        prop_assert_eq!(decision.lead.lap_order.first().map(String::as_str), Some(NAMES[0]));
    }
}

fn count_first_looks(
    team: &TeamConfig,
    leads: usize,
    availability: impl Fn(usize) -> Availability,
) -> Vec<usize> {
    let mut rotation = RotationState::default();
    let mut first_looks: HashMap<String, usize> = HashMap::new();
    for i in 0..leads {
        let decision = start(
            team,
            &rotation,
            &NewLead {
                lead_id: format!("l{i}"),
                ..Default::default()
            },
            0,
            &availability(i),
        );
        if let Some(next) = decision.rotation {
            rotation = next;
        }
        for effect in &decision.effects {
            if let Effect::OpenOffer {
                rep,
                first_look: true,
                ..
            } = effect
            {
                *first_looks.entry(rep.clone()).or_default() += 1;
            }
        }
    }
    team.ring
        .iter()
        .map(|n| first_looks.get(n).copied().unwrap_or(0))
        .collect()
}

//! The discrete-event loop: simulated time, the wheel's pure core, modelled
//! reps. Every random draw comes from generators seeded from the scenario's
//! seed, and ties in time are broken by scheduling order, so a run is a
//! function of its inputs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use leadwheel_wheel_core::{
    AssignedVia, Decision, Effect, Input, LeadRouting, Millis, NewLead, OfferOutcome, Phase,
    RotationState, start, step,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::eligibility::{self, RepLoad, Roster};
pub use super::facts::{LeadFacts, Outcome, RepFacts, Scenario};
use super::model::exponential;

/// Leads still open this long after the last signup are left as they are.
/// A day, in milliseconds.
const DAY: Millis = 24 * 60 * 60 * 1000;
const HORIZON: Millis = 30 * DAY;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Signup(usize),
    Answer {
        lead: usize,
        offer_no: u32,
        claim: bool,
    },
    Expire {
        lead: usize,
        offer_no: u32,
    },
    PoolClaim(usize),
    EscalationDue(usize),
    WorkDone(usize),
    ShiftStart(usize),
}

struct Sim<'a> {
    sc: &'a Scenario,
    index: BTreeMap<String, usize>,
    /// The reps as the core judges their eligibility.
    members: Vec<leadwheel_wheel_core::Member>,
    load: Vec<RepLoad>,
    rep_facts: Vec<RepFacts>,
    /// One generator per rep, so one rep's draws do not shift another's.
    rep_rngs: Vec<StdRng>,
    rng: StdRng,
    rotation: RotationState,
    leads: Vec<Option<LeadRouting>>,
    facts: Vec<LeadFacts>,
    waiting: BTreeSet<usize>,
    queue: BinaryHeap<Reverse<(Millis, u64, Event)>>,
    seq: u64,
    /// Scheduled events other than shift starts: while there are none and
    /// nothing waits, shifts stop being scheduled and the run ends.
    busy: usize,
}

/// Runs the scenario to the end: every lead assigned, or left in the pool
/// or waiting once nothing more can happen (or 30 days after the last signup).
pub fn run(sc: &Scenario) -> Outcome {
    let mut sim = Sim {
        sc,
        index: sc
            .reps
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect(),
        members: sc.reps.iter().map(eligibility::member).collect(),
        load: vec![RepLoad::default(); sc.reps.len()],
        rep_facts: vec![RepFacts::default(); sc.reps.len()],
        rep_rngs: (0..sc.reps.len() as u64)
            .map(|i| StdRng::seed_from_u64(sc.seed ^ (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect(),
        rng: StdRng::seed_from_u64(sc.seed.wrapping_add(0x5EED)),
        rotation: RotationState::default(),
        leads: vec![None; sc.signups.len()],
        facts: Vec::with_capacity(sc.signups.len()),
        waiting: BTreeSet::new(),
        queue: BinaryHeap::new(),
        seq: 0,
        busy: 0,
    };
    for (i, signup) in sc.signups.iter().enumerate() {
        sim.facts.push(LeadFacts {
            signup_at: signup.at,
            ..Default::default()
        });
        sim.push(signup.at, Event::Signup(i));
    }
    let first = sc.signups.first().map_or(0, |s| s.at);
    let end = sc.signups.last().map_or(0, |s| s.at) + HORIZON;
    for (i, rep) in sc.reps.iter().enumerate() {
        if let Some(at) = rep.shift.as_ref().and_then(|s| s.next_start(first - 1)) {
            sim.push(at, Event::ShiftStart(i));
        }
    }
    while let Some(Reverse((now, _, event))) = sim.queue.pop() {
        if now > end {
            break;
        }
        if !matches!(event, Event::ShiftStart(_)) {
            sim.busy -= 1;
        }
        sim.handle(now, event);
    }
    Outcome {
        leads: sim.facts,
        reps: sc
            .reps
            .iter()
            .map(|r| r.id.clone())
            .zip(sim.rep_facts)
            .collect(),
    }
}

impl Sim<'_> {
    fn push(&mut self, at: Millis, event: Event) {
        if !matches!(event, Event::ShiftStart(_)) {
            self.busy += 1;
        }
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    fn roster(&self) -> Roster<'_> {
        Roster {
            members: &self.members,
            load: &self.load,
            index: &self.index,
        }
    }

    fn handle(&mut self, now: Millis, event: Event) {
        let team = &self.sc.team;
        match event {
            Event::Signup(i) => {
                let lead = NewLead {
                    lead_id: format!("lead{i}"),
                    tier: self.sc.signups[i].tier.clone(),
                    owner_hint: None,
                };
                let decision = start(team, &self.rotation, &lead, now, &self.roster());
                self.apply(i, now, decision);
            }
            Event::Answer {
                lead,
                offer_no,
                claim,
            } => {
                let Some(Phase::Offered {
                    rep,
                    offer_no: open,
                    ..
                }) = self.phase(lead)
                else {
                    return;
                };
                if open != offer_no {
                    return;
                }
                let input = if claim {
                    Input::Claim { rep }
                } else {
                    Input::Pass {
                        rep,
                        reason: "simulated pass".into(),
                    }
                };
                self.step(lead, now, input);
            }
            Event::Expire { lead, offer_no } => self.step(lead, now, Input::Expire { offer_no }),
            Event::EscalationDue(lead) => self.step(lead, now, Input::EscalationDue),
            Event::PoolClaim(lead) => self.pool_claim(lead, now),
            Event::WorkDone(rep) => {
                self.load[rep].in_work -= 1;
                self.retry_waiting(now);
            }
            Event::ShiftStart(rep) => {
                self.retry_waiting(now);
                if self.busy > 0 || !self.waiting.is_empty() {
                    let shift = self.sc.reps[rep].shift.as_ref();
                    if let Some(at) = shift.and_then(|s| s.next_start(now)) {
                        self.push(at, Event::ShiftStart(rep));
                    }
                }
            }
        }
    }

    fn phase(&self, lead: usize) -> Option<Phase> {
        self.leads[lead].as_ref().map(|l| l.phase.clone())
    }

    /// Applies an input; a refusal (a stale timer, a claim too late) changes nothing.
    fn step(&mut self, lead: usize, now: Millis, input: Input) {
        let Some(routing) = self.leads[lead].as_ref() else {
            return;
        };
        let result = step(
            &self.sc.team,
            &self.rotation,
            routing,
            input,
            now,
            &self.roster(),
        );
        if let Ok(decision) = result {
            self.apply(lead, now, decision);
        }
    }

    /// A random on-shift rep with room claims a pooled lead; if nobody can,
    /// someone looks again later.
    fn pool_claim(&mut self, lead: usize, now: Millis) {
        let Some(Phase::Pooled { .. } | Phase::Escalated { .. }) = self.phase(lead) else {
            return;
        };
        let tier = self.sc.signups[lead].tier.clone();
        let roster = self.roster();
        let able: Vec<String> = self
            .sc
            .team
            .ring
            .iter()
            .filter(|rep| {
                leadwheel_wheel_core::Eligibility::check(&roster, rep, &tier, now).is_ok()
            })
            .cloned()
            .collect();
        if able.is_empty() {
            if let Some(delay) = self.sc.pool_claim.sample(&mut self.rng) {
                self.push(now + delay.max(60_000), Event::PoolClaim(lead));
            }
            return;
        }
        let rep = able[self.rng.random_range(0..able.len())].clone();
        self.step(lead, now, Input::Claim { rep });
    }

    fn retry_waiting(&mut self, now: Millis) {
        for lead in self.waiting.clone() {
            self.step(lead, now, Input::Retry);
        }
    }

    fn apply(&mut self, lead: usize, now: Millis, decision: Decision) {
        if let Some(rotation) = decision.rotation {
            self.rotation = rotation;
        }
        for effect in decision.effects {
            self.effect(lead, now, effect, &decision.lead);
        }
        if matches!(decision.lead.phase, Phase::Waiting { .. }) {
            self.waiting.insert(lead);
        } else {
            self.waiting.remove(&lead);
        }
        self.leads[lead] = Some(decision.lead);
    }

    fn effect(&mut self, lead: usize, now: Millis, effect: Effect, routing: &LeadRouting) {
        let rep_index = |sim: &Self, rep: &str| sim.index.get(rep).copied();
        match effect {
            Effect::Skip { rep, reason } => {
                if let Some(i) = rep_index(self, &rep) {
                    *self.rep_facts[i]
                        .skips
                        .entry(reason.as_str().into())
                        .or_default() += 1;
                }
            }
            Effect::OpenOffer {
                rep,
                offer_no,
                deadline,
                first_look,
            } => {
                let Some(i) = rep_index(self, &rep) else {
                    return;
                };
                let facts = &mut self.rep_facts[i];
                facts.offers += 1;
                facts.first_looks += u64::from(first_look);
                self.load[i].open_offers += 1;
                let lead_facts = &mut self.facts[lead];
                lead_facts.offers += 1;
                lead_facts.first_offer_at.get_or_insert(now);
                let model = &self.sc.reps[i];
                let rng = &mut self.rep_rngs[i];
                match model.response.sample(rng) {
                    Some(after) if now + after < deadline => {
                        let claim = rng.random_bool(model.claim_prob);
                        self.push(
                            now + after,
                            Event::Answer {
                                lead,
                                offer_no,
                                claim,
                            },
                        );
                    }
                    _ => self.push(deadline, Event::Expire { lead, offer_no }),
                }
            }
            Effect::CloseOffer { rep, outcome, .. } => {
                let Some(i) = rep_index(self, &rep) else {
                    return;
                };
                self.load[i].open_offers -= 1;
                match outcome {
                    OfferOutcome::Passed => self.rep_facts[i].passes += 1,
                    OfferOutcome::Expired => self.rep_facts[i].expiries += 1,
                    OfferOutcome::Claimed | OfferOutcome::Withdrawn => {}
                }
            }
            Effect::Assign { rep, via, offer_no } => {
                let facts = &mut self.facts[lead];
                facts.assigned_at = Some(now);
                facts.owner = Some(rep.clone());
                facts.claimed_offer_no = offer_no;
                let Some(i) = rep_index(self, &rep) else {
                    return;
                };
                match via {
                    AssignedVia::Pool => self.rep_facts[i].pool_claims += 1,
                    _ => self.rep_facts[i].claims += 1,
                }
                self.load[i].in_work += 1;
                let work = exponential(self.sc.reps[i].work_ms, &mut self.rng);
                self.push(now + work, Event::WorkDone(i));
            }
            Effect::Pool { reason } => {
                let facts = &mut self.facts[lead];
                facts.pooled_at.get_or_insert(now);
                facts.pool_reason.get_or_insert(reason.as_str());
                if let Phase::Pooled {
                    escalate_at: Some(at),
                    ..
                } = routing.phase
                {
                    self.push(at, Event::EscalationDue(lead));
                }
                if let Some(delay) = self.sc.pool_claim.sample(&mut self.rng) {
                    self.push(now + delay, Event::PoolClaim(lead));
                }
            }
            Effect::Escalate => self.facts[lead].escalated = true,
            Effect::Wait | Effect::Reassign { .. } | Effect::Withdraw | Effect::Requeue { .. } => {}
        }
    }
}

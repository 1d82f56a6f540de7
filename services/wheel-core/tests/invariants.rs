//! Property tests of the wheel's invariants (DESIGN.md) over random
//! sequences of leads, claims, passes, expiries and time steps.

use std::collections::{HashMap, HashSet};

use leadwheel_wheel_core::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Claim(usize),
    Pass(usize),
    /// Fire the timer of the current offer (or a stale one).
    Expire {
        stale: bool,
    },
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..8).prop_map(Op::Claim),
        (0usize..8).prop_map(Op::Pass),
        any::<bool>().prop_map(|stale| Op::Expire { stale }),
        (0i64..2_500).prop_map(Op::Advance),
    ]
}

struct Unavailable(HashSet<String>);

impl Eligibility for Unavailable {
    fn check(&self, rep: &str, _now: Millis) -> Result<(), SkipReason> {
        if self.0.contains(rep) {
            Err(SkipReason::Away)
        } else {
            Ok(())
        }
    }
}

fn team(size: usize) -> TeamConfig {
    TeamConfig {
        team_id: "team".into(),
        ring: (0..size).map(|i| format!("rep{i}")).collect(),
        window_ms: 1_000,
    }
}

/// Checks the effects of one decision against the invariants, tracking the
/// open offer and the reps offered so far.
fn check_effects(
    effects: &[Effect],
    open: &mut Option<(String, u32, Millis)>,
    offered: &mut Vec<String>,
    owner: &mut Option<String>,
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
                    open.is_none(),
                    "invariant 2: a second offer opened while {open:?} is open"
                );
                assert!(
                    !offered.contains(rep),
                    "invariant 3: {rep} offered twice in one lap"
                );
                offered.push(rep.clone());
                *open = Some((rep.clone(), *offer_no, *deadline));
            }
            Effect::CloseOffer { rep, offer_no, .. } => {
                let (open_rep, open_no, _) =
                    open.take().expect("closing an offer that is not open");
                assert_eq!((&open_rep, open_no), (rep, *offer_no));
            }
            Effect::Assign { rep, .. } => {
                assert!(
                    owner.is_none(),
                    "invariant 1: {rep} assigned over {owner:?}"
                );
                *owner = Some(rep.clone());
            }
            Effect::Pool => assert!(open.is_none(), "pooled with an open offer"),
            Effect::Skip { .. } => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Invariants 1, 2, 3, 4 and 5 over one lead and any sequence of inputs.
    #[test]
    fn a_lead_keeps_the_invariants(
        size in 1usize..7,
        cursor in 0u64..20,
        away in proptest::collection::hash_set(0usize..7, 0..3),
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        let team = team(size);
        let away = Unavailable(away.into_iter().map(|i| format!("rep{i}")).collect());
        let mut now: Millis = 1_000_000;
        let (decision, _) = start(&team, cursor, "lead", now, &away);
        let mut lead = decision.lead;
        let (mut open, mut offered, mut owner) = (None, Vec::new(), None);
        check_effects(&decision.effects, &mut open, &mut offered, &mut owner);

        for op in ops {
            let before = lead.clone();
            let input = match op {
                Op::Advance(ms) => { now += ms; continue; }
                Op::Claim(i) => Input::Claim { rep: format!("rep{i}") },
                Op::Pass(i) => Input::Pass { rep: format!("rep{i}"), reason: "busy".into() },
                Op::Expire { stale } => match &lead.phase {
                    Phase::Offered { offer_no, .. } if !stale => Input::Expire { offer_no: *offer_no },
                    _ => Input::Expire { offer_no: lead.offers_made + 7 },
                },
            };
            let result = step(&team, &lead, input.clone(), now, &away);
            // Invariant 5: a claim or pass at or after the deadline fails.
            if let (Phase::Offered { rep, deadline, .. }, Input::Claim { rep: claimer }) = (&before.phase, &input) {
                if rep == claimer && now >= *deadline {
                    let expired = matches!(result, Err(RouteError::OfferExpired { .. }));
                    prop_assert!(expired, "a late claim did not fail");
                }
                if rep != claimer {
                    prop_assert!(result.is_err(), "a rep claimed another rep's offer");
                }
            }
            match result {
                Ok(decision) => {
                    check_effects(&decision.effects, &mut open, &mut offered, &mut owner);
                    lead = decision.lead;
                }
                Err(_) => prop_assert_eq!(&lead, &before),
            }
        }

        // Invariant 4: with only time passing, every lead settles.
        let mut guard = 0;
        while let Phase::Offered { offer_no, deadline, .. } = lead.phase.clone() {
            now = now.max(deadline);
            let decision = step(&team, &lead, Input::Expire { offer_no }, now, &away).unwrap();
            check_effects(&decision.effects, &mut open, &mut offered, &mut owner);
            lead = decision.lead;
            guard += 1;
            prop_assert!(guard <= size + 1, "lead never settled");
        }
        prop_assert!(lead.is_settled(), "lead ended {:?}", lead.phase);
        prop_assert!(open.is_none());
        if let Phase::Assigned { rep } = &lead.phase {
            prop_assert_eq!(Some(rep), owner.as_ref());
        }
    }

    /// Invariant 6: with round-robin rotation and everyone eligible, first
    /// looks are spread exactly evenly over whole rounds.
    #[test]
    fn first_looks_are_even(size in 1usize..9, rounds in 1usize..20, cursor in 0u64..100) {
        let team = team(size);
        let mut cursor = cursor;
        let mut first_looks: HashMap<String, usize> = HashMap::new();
        for i in 0..size * rounds {
            let (decision, next) = start(&team, cursor, &format!("lead{i}"), 0, &EveryoneEligible);
            cursor = next;
            for effect in &decision.effects {
                if let Effect::OpenOffer { rep, first_look: true, .. } = effect {
                    *first_looks.entry(rep.clone()).or_default() += 1;
                }
            }
        }
        prop_assert_eq!(first_looks.len(), size);
        prop_assert!(first_looks.values().all(|&n| n == rounds), "{first_looks:?}");
    }
}

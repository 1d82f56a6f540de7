//! Wheel fairness and speed to lead over a scripted week (hand-worked
//! answers in the comments), on both backends.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::events::v1::{AssignedVia, OfferOutcome, RepLeft, RepUpserted, rep_left};
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetFairnessResponse, GetRoutingOutcomeRequest, GetSpeedToLeadRequest,
    Money, Percentiles, ReasonCount, RepFairness, RouteOutcome, Speed, TeamEvenness,
};

use crate::helpers::{Env, WAIT, spawn_app};
use crate::sales::{month, week};
use crate::script::{self, ANA, BO, Opp, Script, at};

const S: i64 = 1_000;

/// Three leads on 2–4 November 2026 for north (ana, bo).
fn week_of_offers() -> Vec<script::Scripted> {
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    // L1: created 09:00:00, first offer to ana at +2 s, she passes
    // (busy); bo is offered it at +12 s and claims at +42 s; bo's first
    // call is 10 minutes after the claim.
    let l1 = at("2026-11-02", 9);
    s.offer(
        ("o1", "L1"),
        ANA,
        true,
        (l1 + 2 * S, l1 + 12 * S),
        (OfferOutcome::Passed, "busy"),
    );
    s.offer(
        ("o2", "L1"),
        BO,
        false,
        (l1 + 12 * S, l1 + 42 * S),
        (OfferOutcome::Claimed, ""),
    );
    s.assigned(
        ("L1", "o2"),
        BO,
        AssignedVia::Offer,
        (l1, l1 + 2 * S, l1 + 42 * S),
    );
    s.touch("t1", "L1", BO, l1 + 42 * S + 600 * S);
    // L2: first offer to bo at +1 s expires; ana claims the next offer
    // 10 s after it opened. No touch yet.
    let l2 = at("2026-11-03", 10);
    s.offer(
        ("o3", "L2"),
        BO,
        true,
        (l2 + S, l2 + 61 * S),
        (OfferOutcome::Expired, ""),
    );
    s.offer(
        ("o4", "L2"),
        ANA,
        false,
        (l2 + 61 * S, l2 + 71 * S),
        (OfferOutcome::Claimed, ""),
    );
    s.assigned(
        ("L2", "o4"),
        ANA,
        AssignedVia::Offer,
        (l2, l2 + S, l2 + 71 * S),
    );
    // L3: both offers expire; ana claims it from the pool 30 minutes
    // after the first offer. Her call (a minute after the claim) is
    // published before the assignment: the order must not matter.
    let l3 = at("2026-11-04", 11);
    s.offer(
        ("o5", "L3"),
        ANA,
        true,
        (l3 + 4 * S, l3 + 64 * S),
        (OfferOutcome::Expired, ""),
    );
    s.offer(
        ("o6", "L3"),
        BO,
        false,
        (l3 + 64 * S, l3 + 124 * S),
        (OfferOutcome::Expired, ""),
    );
    s.touch("t3", "L3", ANA, l3 + 1_804 * S + 60 * S);
    s.assigned(
        ("L3", ""),
        ANA,
        AssignedVia::Pool,
        (l3, l3 + 4 * S, l3 + 1_804 * S),
    );
    s.events
}

fn p(values: [i64; 4]) -> Option<Percentiles> {
    Some(Percentiles {
        count: values[0],
        median_ms: values[1],
        p90_ms: values[2],
        p99_ms: values[3],
    })
}

async fn fairness_and_speed_to_lead(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    script::publish_all(&app.nats_url, &week_of_offers()).await;
    let maya = app.client("maya", Role::Manager).await;
    let expected = GetFairnessResponse {
        period: Some(leadwheel_proto::reporting::v1::ResolvedPeriod {
            kind: leadwheel_proto::reporting::v1::PeriodKind::Week as i32,
            from: "2026-11-02".into(),
            to: "2026-11-08".into(),
        }),
        reps: vec![
            RepFairness {
                team_id: "north".into(),
                rep_id: "ana".into(),
                offers: 3,
                first_looks: 2,
                claims: 1,
                passes: vec![ReasonCount {
                    reason: "busy".into(),
                    count: 1,
                }],
                expiries: 1,
                pool_claims: 1,
                claim_rate_bp: 3_333,
                time_to_claim: p([1, 10 * S, 10 * S, 10 * S]),
                skips: vec![],
                left: false,
            },
            RepFairness {
                team_id: "north".into(),
                rep_id: "bo".into(),
                offers: 3,
                first_looks: 1,
                claims: 1,
                passes: vec![],
                expiries: 2,
                pool_claims: 0,
                claim_rate_bp: 3_333,
                time_to_claim: p([1, 30 * S, 30 * S, 30 * S]),
                skips: vec![],
                left: false,
            },
        ],
        teams: vec![TeamEvenness {
            team_id: "north".into(),
            first_looks: 3,
            min_first_looks: 1,
            max_first_looks: 2,
            evenness_bp: 5_000,
        }],
    };
    let request = GetFairnessRequest {
        team_id: "north".into(),
        period: week("2026-11-05"),
        ..Default::default()
    };
    let mut last = None;
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(got) = maya.clone().get_fairness(request.clone()).await {
                let got = got.into_inner();
                if got == expected {
                    return;
                }
                last = Some(got);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "fairness never became {expected:#?}; last {last:#?}"
    );

    // Speed to lead. System: 2 s, 1 s, 4 s. Offer → claim: 40 s, 70 s,
    // 30 min. Claim → first touch: 10 min (L1), 1 min (L3); L2 untouched.
    let total = Speed {
        system: p([3, 2 * S, 4 * S, 4 * S]),
        offer_to_claim: p([3, 70 * S, 1_800 * S, 1_800 * S]),
        claim_to_touch: p([2, 60 * S, 600 * S, 600 * S]),
    };
    let speed = eventually(WAIT, "speed to lead", || {
        let mut maya = maya.clone();
        async move {
            let got = maya
                .get_speed_to_lead(GetSpeedToLeadRequest {
                    team_id: "north".into(),
                    period: week("2026-11-05"),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (got.total.as_ref() == Some(&total)).then_some(got)
        }
    })
    .await;
    let ana = &speed.reps[0];
    assert_eq!(ana.rep_id, "ana");
    assert_eq!(
        ana.speed,
        Some(Speed {
            system: p([2, S, 4 * S, 4 * S]),
            offer_to_claim: p([2, 70 * S, 1_800 * S, 1_800 * S]),
            claim_to_touch: p([1, 60 * S, 60 * S, 60 * S]),
        })
    );
    assert_eq!(speed.teams[0].speed.as_ref(), Some(&total));
    // A rep sees only their own.
    let bo = app.client("bo", Role::Rep).await;
    let own = bo
        .clone()
        .get_fairness(request.clone())
        .await
        .expect("bo's fairness")
        .into_inner();
    assert_eq!(own.reps.len(), 1);
    assert_eq!(own.reps[0].rep_id, "bo");
    app.stop().await;
}

/// The week's leads and two more (L4 claimed on its first look, L5 sent
/// to its account's owner), some converted and won.
pub fn leads_to_revenue() -> Vec<script::Scripted> {
    let mut events = week_of_offers();
    let mut s = Script::default();
    let l4 = at("2026-11-05", 9);
    s.offer(
        ("o7", "L4"),
        ANA,
        true,
        (l4 + S, l4 + 5 * S),
        (OfferOutcome::Claimed, ""),
    );
    s.assigned(
        ("L4", "o7"),
        ANA,
        AssignedVia::Offer,
        (l4, l4 + S, l4 + 5 * S),
    );
    let l5 = at("2026-11-06", 9);
    s.assigned(("L5", ""), ANA, AssignedVia::AccountOwner, (l5, 0, l5));
    // L1 (bo) converted and won 5,000.00 EUR; L4 converted, still open;
    // L5 converted and won 3,000.00 USD. The L5 win is published before
    // its assignment: the order must not matter.
    let mut won_l5 = Opp::new("d5", ANA, "trial", (3_000_00, "USD", 60), "2026-11-30");
    won_l5.state.lead_id = "L5".into();
    s.opened(&mut won_l5, l5 - 1);
    s.closed(&mut won_l5, true, at("2026-11-20", 9));
    let mut won_l1 = Opp::new("d1", BO, "trial", (5_000_00, "EUR", 60), "2026-11-30");
    won_l1.state.lead_id = "L1".into();
    s.opened(&mut won_l1, at("2026-11-03", 9));
    s.closed(&mut won_l1, true, at("2026-11-25", 9));
    let mut open_l4 = Opp::new("d4", ANA, "trial", (1_000_00, "EUR", 60), "2026-11-30");
    open_l4.state.lead_id = "L4".into();
    s.opened(&mut open_l4, at("2026-11-05", 12));
    // L5's assignment last.
    let late = s.events.remove(3);
    s.events.push(late);
    // Event ids of their own (a second script numbers from 1 again).
    events.extend(s.events.into_iter().map(|mut event| {
        event.id = format!("more-{}", event.id);
        event.msg_id = event.id.clone();
        event
    }));
    events
}

async fn routing_outcome_to_revenue(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    script::publish_all(&app.nats_url, &leads_to_revenue()).await;
    let maya = app.client("maya", Role::Manager).await;
    let route =
        |route: &str, [leads, converted, won]: [i64; 3], value: Option<(&str, i64)>| RouteOutcome {
            team_id: "north".into(),
            route: route.into(),
            leads,
            converted,
            won,
            won_value: value
                .map(|(currency, amount_minor)| Money {
                    currency: currency.into(),
                    amount_minor,
                })
                .into_iter()
                .collect(),
            // The script's assignments do not name how the team was chosen.
            routed_by: String::new(),
            rule_id: String::new(),
        };
    // L5 via the account owner; L4 on its first look; L1 and L2 later in
    // the lap; L3 from the pool.
    let expected = vec![
        route("account_owner", [1, 1, 1], Some(("USD", 3_000_00))),
        route("first_look", [1, 1, 0], None),
        route("later_in_lap", [2, 1, 1], Some(("EUR", 5_000_00))),
        route("pool", [1, 0, 0], None),
    ];
    let got = eventually(WAIT, "the routing outcome", || {
        let mut maya = maya.clone();
        let expected = expected.clone();
        async move {
            let got = maya
                .get_routing_outcome(GetRoutingOutcomeRequest {
                    team_id: "north".into(),
                    period: month("2026-11-05"),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .routes;
            (got == expected).then_some(got)
        }
    })
    .await;
    assert_eq!(got.len(), 4);
    app.stop().await;
}

/// `events` with ids of their own (a new script numbers from 1 again).
fn renamed(mut events: Vec<script::Scripted>, prefix: &str) -> Vec<script::Scripted> {
    for event in &mut events {
        event.id = format!("{prefix}-{}", event.id);
        event.msg_id = event.id.clone();
    }
    events
}

/// bo leaves north (`wheel.rep.left`, published after the week): the
/// fairness report still shows his week, marked left, and the team's
/// evenness is among its current reps only (ana).
async fn a_rep_who_left_keeps_their_history_but_not_their_place(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut events = week_of_offers();
    let mut s = Script::default();
    s.event(
        subjects::REP_LEFT,
        "bo",
        &RepLeft {
            rep_id: "bo".into(),
            team_id: "north".into(),
            why: Some(rep_left::Why::RemovedBy("maya".into())),
            at_ms: 2,
        },
    );
    events.extend(renamed(s.events, "left"));
    script::publish_all(&app.nats_url, &events).await;
    let maya = app.client("maya", Role::Manager).await;
    let request = GetFairnessRequest {
        team_id: "north".into(),
        period: week("2026-11-05"),
        ..Default::default()
    };
    let got = eventually(WAIT, "bo marked left", || {
        let mut maya = maya.clone();
        let request = request.clone();
        async move {
            let got = maya.get_fairness(request).await.ok()?.into_inner();
            let bo = got.reps.iter().find(|r| r.rep_id == "bo")?;
            // Every event applied (ana's pool claim is the last) and bo left.
            let ana = got.reps.iter().find(|r| r.rep_id == "ana")?;
            (bo.left && ana.pool_claims == 1).then_some(got)
        }
    })
    .await;
    let rows: Vec<(&str, i64, i64, bool)> = got
        .reps
        .iter()
        .map(|r| (r.rep_id.as_str(), r.offers, r.first_looks, r.left))
        .collect();
    assert_eq!(rows, vec![("ana", 3, 2, false), ("bo", 3, 1, true)]);
    assert_eq!(
        got.teams,
        vec![TeamEvenness {
            team_id: "north".into(),
            first_looks: 2,
            min_first_looks: 2,
            max_first_looks: 2,
            evenness_bp: 10_000,
        }]
    );
    // Joining again clears the mark.
    let mut s = Script::default();
    s.event(
        subjects::REP_UPSERTED,
        "bo",
        &RepUpserted {
            rep_id: "bo".into(),
            team_id: "north".into(),
            at_ms: 3,
            ..Default::default()
        },
    );
    script::publish_all(&app.nats_url, &renamed(s.events, "back")).await;
    eventually(WAIT, "bo back in north", || {
        let mut maya = maya.clone();
        let request = request.clone();
        async move {
            let got = maya.get_fairness(request).await.ok()?.into_inner();
            got.reps
                .iter()
                .any(|r| r.rep_id == "bo" && !r.left)
                .then_some(())
        }
    })
    .await;
    app.stop().await;
}

on_both_backends!(
    fairness_and_speed_to_lead,
    routing_outcome_to_revenue,
    a_rep_who_left_keeps_their_history_but_not_their_place
);

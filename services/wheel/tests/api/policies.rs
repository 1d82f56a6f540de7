//! Manager actions and team policies end to end through gRPC:
//! availability, capacity, direct assignment, requeue, withdrawal, the
//! ledger's story, pool timeout and escalation, the circuit breaker and the
//! chain budget.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::clock::Clock;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{
    AssignedVia, LeadAssigned, LeadEscalated, LeadRequeued, LeadWithdrawn, OfferClosed,
    OfferOutcome, RepAvailabilityChanged,
};
use leadwheel_proto::wheel::v1::*;

use crate::helpers::{TestApp, spawn_app_on, spawn_app_with_clock};
use crate::support::{
    self, events_at_least, explain, manager, no_breaker, open_offer, routing_when, story,
};

fn entry(kind: &str, rep: &str) -> (String, String) {
    (kind.to_string(), rep.to_string())
}

/// `(kind, rep)` of every ledger entry of `lead_id`, oldest first.
async fn kinds(app: &TestApp, lead_id: &str) -> Vec<(String, String)> {
    story(&explain(app, lead_id).await)
        .into_iter()
        .map(|(kind, rep, _)| (kind, rep))
        .collect()
}

async fn rep(app: &TestApp, rep_id: &str) -> Rep {
    support::reps(app)
        .await
        .into_iter()
        .find(|r| r.rep_id == rep_id)
        .unwrap_or_else(|| panic!("rep {rep_id} listed"))
}

/// Away reps are skipped with a ledger entry; when everyone is away a new
/// lead waits, and is offered as soon as someone comes back.
async fn away_reps_are_skipped_and_a_waiting_lead_is_offered_on_return(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, None),
    )
    .await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    let away = |rep: &str| SetAvailabilityRequest {
        rep_id: rep.into(),
        availability: "away".into(),
        reason: "at lunch".into(),
    };
    let set = maya
        .set_availability(away("ana"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.rep.unwrap().availability, "away");

    app.new_lead("a1").await;
    assert_eq!(app.offered_to("a1").await, "ben", "ana is away: skipped");
    let ledger = story(&explain(&app, "a1").await);
    let skip = ledger
        .iter()
        .position(|(kind, rep, _)| kind == "skipped" && rep == "ana")
        .expect("a skip of ana in the ledger");
    assert_eq!(ledger[skip].2, "away");
    let offered = ledger
        .iter()
        .position(|(kind, rep, _)| kind == "offered" && rep == "ben")
        .expect("the offer to ben in the ledger");
    assert!(skip < offered, "skipped before offered: {ledger:?}");

    // ben sets himself away too: nobody is eligible, the next lead waits.
    app.rep("ben")
        .await
        .set_availability(away("ben"))
        .await
        .unwrap();
    app.new_lead("a2").await;
    let waiting = app.wait_state("a2", LeadState::Waiting).await;
    assert!(waiting.offers.is_empty());
    assert!(kinds(&app, "a2").await.contains(&entry("waiting", "")));

    // ana is back (she says so herself): the waiting lead is offered to her.
    app.rep("ana")
        .await
        .set_availability(SetAvailabilityRequest {
            rep_id: "ana".into(),
            availability: "available".into(),
            reason: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(app.offered_to("a2").await, "ana");

    let changes: Vec<(String, RepAvailabilityChanged)> =
        events_at_least(&app, subjects::REP_AVAILABILITY_CHANGED, 3).await;
    let seen: Vec<(&str, &str, &str)> = changes
        .iter()
        .map(|(_, e)| (e.rep_id.as_str(), e.availability.as_str(), e.by.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ana", "away", "maya"),
            ("ben", "away", "ben"),
            ("ana", "available", "ana")
        ]
    );
}

/// A rep at capacity is skipped (`at_capacity`) and, once freed, gets the
/// next first look before the rep whose turn it would have been.
async fn a_rep_at_capacity_is_skipped_and_gets_the_next_first_look(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben", "cy"], 600_000, None),
    )
    .await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    app.new_lead("c1").await;
    assert_eq!(app.offered_to("c1").await, "ana");
    app.rep("ana")
        .await
        .claim(ClaimRequest {
            lead_id: "c1".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap();
    let updated = maya
        .update_rep(UpdateRepRequest {
            rep_id: "ana".into(),
            rank: 3,
            capacity: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .rep
        .unwrap();
    assert_eq!((updated.rank, updated.capacity), (3, 1));
    assert_eq!(updated.assigned_leads, 1);

    // c2 and c3 go to ben and cy; then it is ana's turn again, but she
    // holds one lead with a cap of one: skipped, ben is offered c4.
    app.new_lead("c2").await;
    assert_eq!(app.offered_to("c2").await, "ben");
    app.new_lead("c3").await;
    assert_eq!(app.offered_to("c3").await, "cy");
    app.new_lead("c4").await;
    assert_eq!(app.offered_to("c4").await, "ben");
    let ledger = story(&explain(&app, "c4").await);
    assert!(
        ledger.iter().any(|(kind, rep, detail)| kind == "skipped"
            && rep == "ana"
            && detail == "at_capacity"),
        "{ledger:?}"
    );

    // Freed (cap raised), ana gets the next first look, before cy.
    maya.update_rep(UpdateRepRequest {
        rep_id: "ana".into(),
        rank: 3,
        capacity: 5,
    })
    .await
    .unwrap();
    app.new_lead("c5").await;
    assert_eq!(
        app.offered_to("c5").await,
        "ana",
        "at capacity keeps the turn"
    );
    app.new_lead("c6").await;
    assert_eq!(app.offered_to("c6").await, "cy");
}

/// A manager assigns a lead over an open offer (the offer is withdrawn),
/// requeues it (a new lap) and withdraws it; the ledger tells each step.
async fn a_manager_assigns_over_an_offer_requeues_and_withdraws(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben", "cy"], 600_000, None),
    )
    .await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    app.new_lead("m1").await;
    assert_eq!(app.offered_to("m1").await, "ana");

    let assigned = maya
        .assign_lead(AssignLeadRequest {
            lead_id: "m1".into(),
            rep_id: "cy".into(),
            reason: "knows the account".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(assigned.state, LeadState::Assigned as i32);
    assert_eq!(assigned.owner_rep_id, "cy");
    assert_eq!(assigned.offers.len(), 1);
    assert_eq!(assigned.offers[0].state, OfferState::Withdrawn as i32);
    assert!(open_offer(&assigned).is_none());
    // ana's offer is gone from her list, and she can no longer claim it.
    let mut ana = app.rep("ana").await;
    let offers = ana
        .list_offers(ListOffersRequest {
            rep_id: "ana".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offers;
    assert!(offers.is_empty(), "{offers:?}");
    assert!(
        ana.claim(ClaimRequest {
            lead_id: "m1".into(),
            rep_id: "ana".into(),
        })
        .await
        .is_err()
    );

    // Requeue: a new lap, offered again round the ring.
    let requeued = maya
        .requeue_lead(RequeueLeadRequest {
            lead_id: "m1".into(),
            reason: "cy is leaving".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(requeued.state, LeadState::Offered as i32);
    assert_eq!(requeued.owner_rep_id, "");
    let second = open_offer(&requeued)
        .expect("an offer in the new lap")
        .clone();
    assert_eq!(second.rep_id, "ben", "the cursor moved on: ben's turn");

    // Withdraw: out of routing, the open offer withdrawn too.
    let withdrawn = maya
        .withdraw_lead(WithdrawLeadRequest {
            lead_id: "m1".into(),
            reason: "duplicate".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(withdrawn.state, LeadState::Withdrawn as i32);
    assert!(open_offer(&withdrawn).is_none());
    assert!(
        withdrawn
            .offers
            .iter()
            .all(|o| o.state == OfferState::Withdrawn as i32)
    );

    let steps = kinds(&app, "m1").await;
    let wanted = [
        entry("received", ""),
        // No rules: the oldest team, recorded as such.
        entry("routed", ""),
        entry("offered", "ana"),
        entry("withdrawn", "ana"),
        entry("assigned", "cy"),
        entry("requeued", ""),
        entry("offered", "ben"),
        entry("withdrawn", "ben"),
        entry("withdrawn", ""),
    ];
    assert_eq!(
        steps
            .iter()
            .filter(|(kind, _)| kind != "skipped")
            .cloned()
            .collect::<Vec<_>>(),
        wanted,
        "the ledger in order: {steps:?}"
    );
    let ledger = explain(&app, "m1").await;
    assert_eq!(ledger.state, LeadState::Withdrawn as i32);
    assert!(ledger.entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    let requeue_entry = ledger
        .entries
        .iter()
        .find(|e| e.kind == "requeued")
        .unwrap();
    assert!(
        requeue_entry.detail.contains("lap=2"),
        "{}",
        requeue_entry.detail
    );

    // The events agree.
    let assigned: Vec<(String, LeadAssigned)> =
        events_at_least(&app, subjects::LEAD_ASSIGNED, 1).await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].1.rep_id, "cy");
    assert_eq!(assigned[0].1.via, AssignedVia::Direct as i32);
    let requeued: Vec<(String, LeadRequeued)> =
        events_at_least(&app, subjects::LEAD_REQUEUED, 1).await;
    assert_eq!(
        (requeued[0].1.lap, requeued[0].1.previous_owner_id.as_str()),
        (2, "cy")
    );
    let withdrawn: Vec<(String, LeadWithdrawn)> =
        events_at_least(&app, subjects::LEAD_WITHDRAWN, 1).await;
    assert_eq!(withdrawn[0].1.by, "maya");
    let closed: Vec<(String, OfferClosed)> = events_at_least(&app, subjects::OFFER_CLOSED, 2).await;
    let outcomes: Vec<(&str, i32)> = closed
        .iter()
        .map(|(_, e)| (e.rep_id.as_str(), e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ana", OfferOutcome::Withdrawn as i32),
            ("ben", OfferOutcome::Withdrawn as i32)
        ]
    );
}

/// A manager lists the whole team's open offers in one call (the console's
/// board): soonest deadline first, each with its lead, the same offers the
/// reps list one by one.
async fn a_manager_lists_the_team_offers_in_one_call(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben", "cy"], 600_000, None),
    )
    .await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    app.new_lead("t1").await;
    assert_eq!(app.offered_to("t1").await, "ana");
    app.new_lead("t2").await;
    assert_eq!(app.offered_to("t2").await, "ben");
    let team_offers = maya
        .list_offers(ListOffersRequest {
            team_id: "demo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offers;
    let mut one_by_one = Vec::new();
    for rep in ["ana", "ben", "cy"] {
        one_by_one.extend(
            maya.list_offers(ListOffersRequest {
                rep_id: rep.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .offers,
        );
    }
    one_by_one.sort_by_key(|o| (o.deadline_ms, o.offer_id.clone()));
    assert_eq!(team_offers, one_by_one);
    assert_eq!(
        team_offers
            .iter()
            .map(|o| (o.lead_id.as_str(), o.rep_id.as_str()))
            .collect::<Vec<_>>(),
        [("t1", "ana"), ("t2", "ben")]
    );
    assert!(
        team_offers.iter().all(|o| o.lead.is_some()),
        "each offer carries its lead: {team_offers:?}"
    );
    // A limit keeps the soonest deadlines.
    let soonest = maya
        .list_offers(ListOffersRequest {
            team_id: "demo".into(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offers;
    assert_eq!(soonest, team_offers[..1]);
}

/// The ledger tells a lead's story in order: received, offered, passed,
/// offered, expired, offered, claimed, assigned.
async fn the_ledger_tells_the_story_in_order(db: TestDb) {
    // On a manual clock, so cy's window cannot lapse before she claims.
    let app = spawn_app_with_clock(db).await;
    support::upsert(
        &app,
        support::team(
            "demo",
            "maya",
            &["ana", "ben", "cy"],
            1_000,
            Some(no_breaker()),
        ),
    )
    .await;
    app.new_lead("s1").await;
    assert_eq!(app.offered_to("s1").await, "ana");
    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "s1".into(),
            rep_id: "ana".into(),
            reason: "wrong region".into(),
        })
        .await
        .unwrap();
    // ben lets his window lapse; cy claims in hers.
    assert_eq!(app.offered_to("s1").await, "ben");
    app.advance(1_000);
    routing_when(&app, "s1", "cy's offer", |r| {
        open_offer(r).is_some_and(|o| o.rep_id == "cy")
    })
    .await;
    app.rep("cy")
        .await
        .claim(ClaimRequest {
            lead_id: "s1".into(),
            rep_id: "cy".into(),
        })
        .await
        .unwrap();
    let ledger = explain(&app, "s1").await;
    assert_eq!(ledger.state, LeadState::Assigned as i32);
    assert_eq!(ledger.owner_rep_id, "cy");
    let steps: Vec<(String, String, i32)> = ledger
        .entries
        .iter()
        .map(|e| (e.kind.clone(), e.rep_id.clone(), e.offer_no))
        .collect();
    let expected: Vec<(String, String, i32)> = [
        ("received", "", 0),
        ("routed", "", 0),
        ("offered", "ana", 1),
        ("passed", "ana", 1),
        ("offered", "ben", 2),
        ("expired", "ben", 2),
        ("offered", "cy", 3),
        ("claimed", "cy", 3),
        ("assigned", "cy", 0),
    ]
    .iter()
    .map(|(k, r, n)| (k.to_string(), r.to_string(), *n))
    .collect();
    assert_eq!(steps, expected);
    assert!(
        ledger.entries[1]
            .detail
            .starts_with("no rule matched and no default team: oldest team"),
        "{}",
        ledger.entries[1].detail
    );
    assert_eq!(ledger.entries[3].detail, "wrong region");
    assert!(ledger.entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    // ben's expiry came a window after his offer.
    let (offered, expired) = (&ledger.entries[4], &ledger.entries[5]);
    assert!(expired.at_ms - offered.at_ms >= 1_000);
    // A rep reads the ledger of a lead offered to them.
    let as_ben = app
        .rep("ben")
        .await
        .explain_lead(ExplainLeadRequest {
            lead_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(as_ben.entries.len(), ledger.entries.len());
}

/// A pooled lead left past the pool timeout escalates to the manager
/// (`LEAD_STATE_ESCALATED`, `wheel.lead.escalated`), who can assign it.
async fn a_pooled_lead_escalates_after_the_pool_timeout(db: TestDb) {
    let app = spawn_app_with_clock(db).await;
    let policy = TeamPolicy {
        pool_timeout_ms: 1_000,
        ..no_breaker()
    };
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana"], 1_000, Some(policy)),
    )
    .await;
    app.new_lead("e1").await;
    assert_eq!(app.offered_to("e1").await, "ana");
    // The window ends on the wheel's clock, moved by hand: no waiting.
    app.advance(1_000);
    let pooled = app.wait_state("e1", LeadState::Pooled).await;
    assert_eq!(pooled.offers[0].state, OfferState::Expired as i32);
    // The pool timeout passes on the clock; the next sweep escalates it.
    app.advance(1_000);
    let escalated = app.wait_state("e1", LeadState::Escalated).await;
    assert_eq!(escalated.owner_rep_id, "");
    let events: Vec<(String, LeadEscalated)> =
        events_at_least(&app, subjects::LEAD_ESCALATED, 1).await;
    assert_eq!(events.len(), 1);
    let event = &events[0].1;
    assert_eq!(
        (event.lead_id.as_str(), event.manager_id.as_str()),
        ("e1", "maya")
    );
    // The clock stood still after the timeout: escalated exactly at it.
    assert_eq!(event.escalated_at_ms - event.pooled_at_ms, 1_000);
    let steps = kinds(&app, "e1").await;
    assert_eq!(
        steps[steps.len() - 2..],
        [entry("pooled", ""), entry("escalated", "")]
    );
    // The manager hands it to a rep directly.
    let assigned = manager(&app, "maya", Some("demo"))
        .await
        .assign_lead(AssignLeadRequest {
            lead_id: "e1".into(),
            rep_id: "ana".into(),
            reason: "call them today".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(assigned.state, LeadState::Assigned as i32);
    assert_eq!(assigned.owner_rep_id, "ana");
}

/// After N expiries in a row the circuit breaker sets the rep away and
/// says so (`by = "circuit_breaker"`); the next lead waits for them.
async fn the_circuit_breaker_sets_a_lapsing_rep_away(db: TestDb) {
    let app = spawn_app_with_clock(db).await;
    let policy = TeamPolicy {
        breaker_expiries: 2,
        ..Default::default()
    };
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana"], 1_000, Some(policy)),
    )
    .await;
    app.new_lead("b1").await;
    assert_eq!(app.offered_to("b1").await, "ana");
    app.advance(1_000);
    app.wait_state("b1", LeadState::Pooled).await;
    assert_eq!(rep(&app, "ana").await.availability, "available");
    assert_eq!(rep(&app, "ana").await.consecutive_expiries, 1);
    app.new_lead("b2").await;
    assert_eq!(app.offered_to("b2").await, "ana");
    app.advance(1_000);
    app.wait_state("b2", LeadState::Pooled).await;
    let ana = rep(&app, "ana").await;
    assert_eq!(ana.availability, "away", "two expiries in a row: away");

    let changes: Vec<(String, RepAvailabilityChanged)> =
        events_at_least(&app, subjects::REP_AVAILABILITY_CHANGED, 1).await;
    assert_eq!(changes.len(), 1);
    let change = &changes[0].1;
    assert_eq!(
        (
            change.rep_id.as_str(),
            change.availability.as_str(),
            change.by.as_str(),
            change.manager_id.as_deref(),
            change.team_id.as_deref()
        ),
        ("ana", "away", "circuit_breaker", Some("maya"), Some("demo"))
    );
    assert!(
        kinds(&app, "b2")
            .await
            .contains(&entry("rep_set_away", "ana"))
    );
    // With ana away nobody is eligible: the next lead waits.
    app.new_lead("b3").await;
    app.wait_state("b3", LeadState::Waiting).await;
}

/// A chain budget shrinks the windows so the whole chain fits in it.
async fn a_chain_budget_shrinks_the_windows(db: TestDb) {
    let app = spawn_app_with_clock(db).await;
    let policy = TeamPolicy {
        chain_budget_ms: 4_000,
        window_floor_ms: 1_000,
        ..no_breaker()
    };
    support::upsert(
        &app,
        support::team(
            "demo",
            "maya",
            &["ana", "ben", "cy", "dee"],
            60_000,
            Some(policy),
        ),
    )
    .await;
    app.new_lead("w1").await;
    let first = routing_when(&app, "w1", "the first offer", |r| open_offer(r).is_some()).await;
    let offer = open_offer(&first).unwrap();
    assert_eq!(
        offer.deadline_ms - offer.opened_at_ms,
        1_000,
        "4 s over four reps"
    );
    // ana passes at once: ben's share of what is left is about 1 s again.
    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "w1".into(),
            rep_id: "ana".into(),
            reason: "busy".into(),
        })
        .await
        .unwrap();
    // The rest let their windows lapse (the clock moves to each deadline in
    // turn): the lead is pooled within the budget.
    for (n, rep) in ["ben", "cy", "dee"].into_iter().enumerate() {
        let routing = routing_when(&app, "w1", &format!("{rep}'s offer"), |r| {
            r.offers.len() == n + 2 && open_offer(r).is_some_and(|o| o.rep_id == rep)
        })
        .await;
        let offer = open_offer(&routing).unwrap();
        let clock = app.clock.as_ref().unwrap();
        app.advance((offer.deadline_ms - clock.now_ms()).max(0) as u64);
    }
    let pooled = app.wait_state("w1", LeadState::Pooled).await;
    let started = pooled.offers[0].opened_at_ms;
    assert_eq!(pooled.offers.len(), 4);
    for offer in &pooled.offers {
        let window = offer.deadline_ms - offer.opened_at_ms;
        assert!(
            (1_000..=2_000).contains(&window),
            "{}'s window {window} ms: shrunk from 60 s, not below the floor",
            offer.rep_id
        );
    }
    let last = pooled.offers.last().unwrap();
    assert!(
        last.deadline_ms - started <= 4_000 + 100,
        "the chain ran {} ms past a 4 s budget",
        last.deadline_ms - started
    );
}

on_both_backends!(
    away_reps_are_skipped_and_a_waiting_lead_is_offered_on_return,
    a_rep_at_capacity_is_skipped_and_gets_the_next_first_look,
    a_manager_assigns_over_an_offer_requeues_and_withdraws,
    a_manager_lists_the_team_offers_in_one_call,
    the_ledger_tells_the_story_in_order,
    a_pooled_lead_escalates_after_the_pool_timeout,
    the_circuit_breaker_sets_a_lapsing_rep_away,
    a_chain_budget_shrinks_the_windows,
);

//! Opportunity's events about the work on assigned leads, published on a
//! real stream as opportunity would: capacity freed by a conversion or a
//! disqualification, a lead disqualified back into the pool, a lead moved to
//! another rep, a lead handed back to the wheel, and a leaving rep taken off
//! the ring once their handover is applied. Redelivered events change
//! nothing twice.

use std::time::Duration;

use leadwheel_plumbing::bus::{OPPS_STREAM, subjects};
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_plumbing::{now_ms, on_both_backends};
use leadwheel_proto::events::v1::{
    HandoverApplied, LeadConverted, LeadDisqualified, LeadOwnerChanged, LeadPooled, LeadReturned,
    RepLeft, RepUpserted, TeamUpserted, rep_left,
};
use leadwheel_proto::wheel::v1::*;
use prost::Message;

use crate::helpers::{TestApp, spawn_app_on};
use crate::support::{self, explain, story};

async fn publish(app: &TestApp, subject: &str, key: &str, payload: &impl Message) {
    testing::publish_event(&app.nats.url(), &OPPS_STREAM, subject, key, payload)
        .await
        .expect("publishing an opps event");
}

async fn rep(app: &TestApp, rep_id: &str) -> Option<Rep> {
    crate::support::reps(app)
        .await
        .into_iter()
        .find(|r| r.rep_id == rep_id)
}

async fn assigned_leads(app: &TestApp, rep_id: &str) -> i32 {
    rep(app, rep_id).await.expect("rep listed").assigned_leads
}

/// Waits until `rep_id` holds `count` leads in work.
async fn load_becomes(app: &TestApp, rep_id: &str, count: i32) {
    testing::eventually(
        Duration::from_secs(20),
        &format!("{rep_id} to hold {count} leads in work"),
        || async move { (assigned_leads(app, rep_id).await == count).then_some(()) },
    )
    .await;
}

async fn claim(app: &TestApp, lead_id: &str, rep_id: &str) {
    app.rep(rep_id)
        .await
        .claim(ClaimRequest {
            lead_id: lead_id.into(),
            rep_id: rep_id.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("{rep_id} claiming {lead_id}: {status:?}"));
}

/// Routes `lead_id` and has whoever is offered it claim it; returns them.
async fn route_and_claim(app: &TestApp, lead_id: &str) -> String {
    app.new_lead(lead_id).await;
    let rep_id = app.offered_to(lead_id).await;
    claim(app, lead_id, &rep_id).await;
    rep_id
}

async fn work_ending_frees_capacity_and_moves_with_the_owner(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, None),
    )
    .await;
    let mut maya = support::manager(&app, "maya", Some("demo")).await;
    for rep_id in ["ana", "ben"] {
        maya.update_rep(UpdateRepRequest {
            rep_id: rep_id.into(),
            rank: 0,
            capacity: 1,
        })
        .await
        .unwrap();
    }
    assert_eq!(route_and_claim(&app, "w1").await, "ana");
    assert_eq!(route_and_claim(&app, "w2").await, "ben");
    // Both at their cap of one: a new lead waits.
    app.new_lead("w3").await;
    app.wait_state("w3", LeadState::Waiting).await;

    // Ana converts w1: it no longer counts, and the waiting lead is hers.
    let converted = LeadConverted {
        lead_id: "w1".into(),
        rep_id: "ana".into(),
        team_id: "demo".into(),
        account_id: "acc_1".into(),
        opportunity_id: "opp_1".into(),
        at_ms: now_ms(),
    };
    publish(&app, subjects::OPPS_LEAD_CONVERTED, "w1", &converted).await;
    load_becomes(&app, "ana", 0).await;
    assert_eq!(app.offered_to("w3").await, "ana");
    claim(&app, "w3", "ana").await;
    let ledger = story(&explain(&app, "w1").await);
    assert!(
        ledger
            .iter()
            .any(|(kind, rep, detail)| kind == "work_closed"
                && rep == "ana"
                && detail.contains("converted")),
        "{ledger:?}"
    );
    // The same event again (a new id: a replayed stream) closes nothing twice.
    publish(&app, subjects::OPPS_LEAD_CONVERTED, "w1", &converted).await;

    // Ben disqualifies w2 for good: his capacity frees up too.
    let disqualified = LeadDisqualified {
        lead_id: "w2".into(),
        rep_id: "ben".into(),
        team_id: "demo".into(),
        reason: "no_budget".into(),
        back_to_pool: false,
        at_ms: now_ms(),
    };
    publish(&app, subjects::OPPS_LEAD_DISQUALIFIED, "w2", &disqualified).await;
    load_becomes(&app, "ben", 0).await;
    // The disqualification came after the replayed conversion on the same
    // consumer, so the replay has been handled: w1 closed once, and ana's
    // load is still w3 alone.
    let closed = story(&explain(&app, "w1").await)
        .iter()
        .filter(|(kind, _, _)| kind == "work_closed")
        .count();
    assert_eq!(closed, 1, "a replayed conversion closed w1 again");
    assert_eq!(
        assigned_leads(&app, "ana").await,
        1,
        "a replayed conversion changed ana's load"
    );

    // A manager in opportunity moves w3 from ana to ben: the wheel follows,
    // so the load moves with it.
    let moved = LeadOwnerChanged {
        lead_id: "w3".into(),
        team_id: "demo".into(),
        from_rep_id: "ana".into(),
        to_rep_id: "ben".into(),
        by: "maya".into(),
        reason: "ana is on leave".into(),
        at_ms: now_ms(),
    };
    publish(&app, subjects::OPPS_LEAD_OWNER_CHANGED, "w3", &moved).await;
    load_becomes(&app, "ben", 1).await;
    assert_eq!(assigned_leads(&app, "ana").await, 0);
    let routing = app.wait_state("w3", LeadState::Assigned).await;
    assert_eq!(routing.owner_rep_id, "ben");
    let count = story(&explain(&app, "w3").await)
        .iter()
        .filter(|(kind, _, _)| kind == "reassigned")
        .count();
    assert_eq!(count, 1);
    // Told twice, it reassigns once.
    publish(&app, subjects::OPPS_LEAD_OWNER_CHANGED, "w3", &moved).await;
    // A later event proves the redelivery was consumed before we look.
    let converted_w3 = LeadConverted {
        lead_id: "w3".into(),
        rep_id: "ben".into(),
        team_id: "demo".into(),
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_LEAD_CONVERTED, "w3", &converted_w3).await;
    load_becomes(&app, "ben", 0).await;
    let count = story(&explain(&app, "w3").await)
        .iter()
        .filter(|(kind, _, _)| kind == "reassigned")
        .count();
    assert_eq!(count, 1, "a repeated owner change reassigns once");
}

async fn handed_back_leads_go_to_the_pool_or_round_again(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben", "cy"], 600_000, None),
    )
    .await;
    assert_eq!(route_and_claim(&app, "h1").await, "ana");
    assert_eq!(route_and_claim(&app, "h2").await, "ben");

    // Disqualified back to the pool: pooled with reason "returned"; another
    // member claims it from there.
    let disqualified = LeadDisqualified {
        lead_id: "h1".into(),
        rep_id: "ana".into(),
        team_id: "demo".into(),
        reason: "wrong_contact".into(),
        back_to_pool: true,
        at_ms: now_ms(),
    };
    publish(&app, subjects::OPPS_LEAD_DISQUALIFIED, "h1", &disqualified).await;
    app.wait_state("h1", LeadState::Pooled).await;
    let pooled: Vec<(String, LeadPooled)> =
        support::events_at_least(&app, subjects::LEAD_POOLED, 1).await;
    assert!(
        pooled
            .iter()
            .any(|(_, p)| p.lead_id == "h1" && p.reason == "returned"),
        "{pooled:?}"
    );
    assert_eq!(assigned_leads(&app, "ana").await, 0);
    claim(&app, "h1", "cy").await;

    // Ben's handover returns h2 to the wheel: a new lap that skips ben.
    let returned = LeadReturned {
        lead_id: "h2".into(),
        team_id: "demo".into(),
        from_rep_id: "ben".into(),
        by: "maya".into(),
        reason: "handover".into(),
        at_ms: now_ms(),
    };
    publish(&app, subjects::OPPS_LEAD_RETURNED, "h2", &returned).await;
    let offered = app.offered_to("h2").await;
    assert_ne!(offered, "ben", "the previous owner is skipped");
    let ledger = story(&explain(&app, "h2").await);
    assert!(
        ledger
            .iter()
            .any(|(kind, _, detail)| kind == "requeued" && detail.contains("opportunity:maya")),
        "{ledger:?}"
    );
    // Whoever passes, the lap never comes back to ben.
    let mut offered = offered;
    loop {
        app.rep(&offered)
            .await
            .pass(PassRequest {
                lead_id: "h2".into(),
                rep_id: offered.clone(),
                reason: "busy".into(),
            })
            .await
            .unwrap();
        let routing = support::routing(&app, "h2").await;
        match support::open_offer(&routing) {
            Some(open) => {
                assert_ne!(open.rep_id, "ben", "the previous owner is skipped");
                offered = open.rep_id.clone();
            }
            None => break,
        }
    }
    app.wait_state("h2", LeadState::Pooled).await;

    // The handover applied: ben leaves the ring and the team's new ring is
    // announced; he is offered nothing more.
    let applied = HandoverApplied {
        handover_id: "ho_1".into(),
        rep_id: "ben".into(),
        team_id: "demo".into(),
        by: "maya".into(),
        leads_moved: 1,
        leads_returned: 1,
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_HANDOVER_APPLIED, "ben", &applied).await;
    testing::eventually(Duration::from_secs(20), "ben to leave the team", || {
        let app = &app;
        async move {
            rep(app, "ben")
                .await
                .is_none_or(|r| r.team_id.is_empty())
                .then_some(())
        }
    })
    .await;
    let teams: Vec<(String, TeamUpserted)> =
        support::events_at_least(&app, subjects::TEAM_UPSERTED, 2).await;
    let (_, last) = teams.last().expect("a team event");
    assert_eq!(last.rep_ids, vec!["ana".to_string(), "cy".to_string()]);
    // His leaving is its own event, naming the handover; no event names
    // him on an empty team.
    let left: Vec<RepLeft> = app.wheel_events(subjects::REP_LEFT).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].rep_id.as_str(), left[0].team_id.as_str()),
        ("ben", "demo")
    );
    assert_eq!(left[0].why, Some(rep_left::Why::HandoverId("ho_1".into())));
    let upserts: Vec<RepUpserted> = app.wheel_events(subjects::REP_UPSERTED).await;
    assert!(
        upserts.iter().all(|r| !r.team_id.is_empty()),
        "a rep announced on no team: {upserts:?}"
    );
    for n in 0..4 {
        let lead_id = format!("after{n}");
        app.new_lead(&lead_id).await;
        assert_ne!(app.offered_to(&lead_id).await, "ben");
    }
}

/// Events the wheel cannot apply change nothing and do not stop the
/// consumer: a lead it never routed, a move to a rep on no team, a hand
/// back of a lead that is not assigned (still offered).
async fn events_that_do_not_apply_change_nothing(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, None),
    )
    .await;
    assert_eq!(route_and_claim(&app, "n1").await, "ana");
    app.new_lead("n2").await;
    assert_eq!(app.offered_to("n2").await, "ben");
    let before_n1 = story(&explain(&app, "n1").await);
    let before_n2 = story(&explain(&app, "n2").await);

    let ghost = LeadConverted {
        lead_id: "ghost".into(),
        rep_id: "ana".into(),
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_LEAD_CONVERTED, "ghost", &ghost).await;
    let stranger = LeadOwnerChanged {
        lead_id: "n1".into(),
        team_id: "demo".into(),
        from_rep_id: "ana".into(),
        to_rep_id: "stranger".into(),
        by: "maya".into(),
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_LEAD_OWNER_CHANGED, "n1", &stranger).await;
    let not_assigned = LeadReturned {
        lead_id: "n2".into(),
        team_id: "demo".into(),
        from_rep_id: "ben".into(),
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_LEAD_RETURNED, "n2", &not_assigned).await;
    let pooled_while_offered = LeadDisqualified {
        lead_id: "n2".into(),
        rep_id: "ben".into(),
        back_to_pool: true,
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(
        &app,
        subjects::OPPS_LEAD_DISQUALIFIED,
        "n2",
        &pooled_while_offered,
    )
    .await;
    // A valid event after them is applied: the consumer went past them.
    let converted = LeadConverted {
        lead_id: "n1".into(),
        rep_id: "ana".into(),
        at_ms: now_ms(),
        ..Default::default()
    };
    publish(&app, subjects::OPPS_LEAD_CONVERTED, "n1", &converted).await;
    load_becomes(&app, "ana", 0).await;

    let routing = app.wait_state("n1", LeadState::Assigned).await;
    assert_eq!(
        routing.owner_rep_id, "ana",
        "a move to a rep on no team is ignored"
    );
    let after_n1 = story(&explain(&app, "n1").await);
    assert_eq!(after_n1.len(), before_n1.len() + 1, "{after_n1:?}");
    assert_eq!(
        after_n1.last().map(|(kind, _, _)| kind.as_str()),
        Some("work_closed")
    );
    assert_eq!(story(&explain(&app, "n2").await), before_n2);
    assert_eq!(app.offered_to("n2").await, "ben");
}

on_both_backends!(
    work_ending_frees_capacity_and_moves_with_the_owner,
    handed_back_leads_go_to_the_pool_or_round_again,
    events_that_do_not_apply_change_nothing,
);

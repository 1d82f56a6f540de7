//! Integration tests of the reporting service: the real service, a real
//! `nats-server`, a real database (SQLite always, Postgres when
//! `TEST_POSTGRES_URL` is set) and real gRPC calls.

// Money is written as units_cents (10_000_00 is 10,000.00) on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

mod across;
mod activity;
mod aggregates;
mod download;
mod download_tls;
mod extras;
mod helpers;
mod histograms;
mod history;
mod rebuild;
mod rebuild_rows;
mod replicas;
mod sales;
mod sales_access;
mod script;
mod snapshots;
mod stages;
mod wheel;

use helpers::{Client, Env, TestApp, WAIT, spawn_app};
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, publish_event};
use leadwheel_proto::events::v1::{
    AssignedVia, LeadAssigned, LeadCreated, LeadOpened, LeadPooled, OfferClosed, OfferOpened,
    OfferOutcome, TeamUpserted,
};
use leadwheel_proto::reporting::v1::{
    FunnelCounts, GetFunnelRequest, GetFunnelResponse, RepFunnel, TeamFunnel,
};
use tonic::Code;

/// Counts in proto order: created, offered, claimed, passed, expired, pooled, in_work.
fn counts(c: [i64; 7]) -> Option<FunnelCounts> {
    Some(FunnelCounts {
        created: c[0],
        offered: c[1],
        claimed: c[2],
        passed: c[3],
        expired: c[4],
        pooled: c[5],
        in_work: c[6],
    })
}

fn team(team_id: &str, c: [i64; 7]) -> TeamFunnel {
    TeamFunnel {
        team_id: team_id.into(),
        counts: counts(c),
    }
}

fn rep(team_id: &str, rep_id: &str, c: [i64; 7]) -> RepFunnel {
    RepFunnel {
        rep_id: rep_id.into(),
        team_id: team_id.into(),
        counts: counts(c),
    }
}

async fn funnel(client: &Client, team_id: &str) -> GetFunnelResponse {
    client
        .clone()
        .get_funnel(GetFunnelRequest {
            team_id: team_id.into(),
        })
        .await
        .expect("GetFunnel")
        .into_inner()
}

/// Waits until the funnel equals `expected`.
async fn wait_funnel(app: &TestApp, expected: &GetFunnelResponse) {
    let client = app.client("root", Role::Admin).await;
    let mut last = None;
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            let got = funnel(&client, "").await;
            if got == *expected {
                return;
            }
            last = Some(got);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "funnel never became {expected:#?}; last was {last:#?}"
    );
}

async fn created(app: &TestApp, lead: &str) -> String {
    let payload = LeadCreated {
        lead_id: lead.into(),
        email: format!("{lead}@example.com"),
        ..Default::default()
    };
    app.publish(&INTAKE_STREAM, subjects::LEAD_CREATED, lead, &payload)
        .await
}

fn offer(offer: &str, lead: &str, team: &str, rep: &str) -> OfferOpened {
    OfferOpened {
        offer_id: offer.into(),
        lead_id: lead.into(),
        team_id: team.into(),
        rep_id: rep.into(),
        lap: 1,
        step: 1,
        opened_at_ms: 10,
        deadline_ms: 70,
        first_look: true,
        skipped: vec![],
    }
}

fn close(opened: &OfferOpened, outcome: OfferOutcome) -> OfferClosed {
    OfferClosed {
        offer_id: opened.offer_id.clone(),
        lead_id: opened.lead_id.clone(),
        team_id: opened.team_id.clone(),
        rep_id: opened.rep_id.clone(),
        outcome: outcome as i32,
        reason: String::new(),
        opened_at_ms: 10,
        closed_at_ms: 20,
    }
}

/// Publishes one offer, opened and closed with `outcome`; returns the
/// close event's id.
async fn offered(app: &TestApp, opened: &OfferOpened, outcome: OfferOutcome) -> String {
    let key = opened.offer_id.as_str();
    app.publish(&WHEEL_STREAM, subjects::OFFER_OPENED, key, opened)
        .await;
    app.publish(
        &WHEEL_STREAM,
        subjects::OFFER_CLOSED,
        key,
        &close(opened, outcome),
    )
    .await
}

fn assigned(lead: &str, team: &str, rep: &str, via: AssignedVia) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead.into(),
        team_id: team.into(),
        rep_id: rep.into(),
        via: via as i32,
        assigned_at_ms: 30,
        ..Default::default()
    }
}

fn pooled(lead: &str, team: &str) -> LeadPooled {
    LeadPooled {
        lead_id: lead.into(),
        team_id: team.into(),
        manager_id: "maya".into(),
        pooled_at_ms: 25,
        offers_made: 2,
        ..Default::default()
    }
}

fn opened(lead: &str, team: &str, rep: &str) -> LeadOpened {
    LeadOpened {
        lead_id: lead.into(),
        rep_id: rep.into(),
        team_id: team.into(),
        opened_at_ms: 40,
    }
}

on_both_backends!(the_funnel_counts_each_fact_once);
async fn the_funnel_counts_each_fact_once(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;

    // Intake: three leads; l1 announced twice and redelivered once.
    let l1 = created(&app, "l1").await;
    created(&app, "l1").await;
    let payload = LeadCreated {
        lead_id: "l1".into(),
        ..Default::default()
    };
    app.redeliver(&l1, subjects::LEAD_CREATED, "l1", &payload)
        .await;
    created(&app, "l2").await;
    created(&app, "l3").await;
    created(&app, "l4").await;

    // The wheel: l1 passed by ana, claimed by bo; l2 expired twice, pooled,
    // claimed from the pool by ana; l3 claimed by cy in team south; l4
    // straight to cy, the account's owner, without an offer.
    app.publish_garbage(&WHEEL_STREAM, subjects::OFFER_OPENED)
        .await;
    let o1 = offer("o1", "l1", "north", "ana");
    offered(&app, &o1, OfferOutcome::Passed).await;
    let o2 = offer("o2", "l1", "north", "bo");
    let o2_closed = offered(&app, &o2, OfferOutcome::Claimed).await;
    let via_offer = assigned("l1", "north", "bo", AssignedVia::Offer);
    app.publish(&WHEEL_STREAM, subjects::LEAD_ASSIGNED, "l1", &via_offer)
        .await;
    offered(
        &app,
        &offer("o3", "l2", "north", "ana"),
        OfferOutcome::Expired,
    )
    .await;
    offered(
        &app,
        &offer("o4", "l2", "north", "bo"),
        OfferOutcome::Expired,
    )
    .await;
    app.publish(
        &WHEEL_STREAM,
        subjects::LEAD_POOLED,
        "l2",
        &pooled("l2", "north"),
    )
    .await;
    let via_pool = assigned("l2", "north", "ana", AssignedVia::Pool);
    app.publish(&WHEEL_STREAM, subjects::LEAD_ASSIGNED, "l2", &via_pool)
        .await;
    // Repeats: under new ids, and o2's close redelivered under its own id.
    app.publish(&WHEEL_STREAM, subjects::OFFER_OPENED, "o1", &o1)
        .await;
    let o2_close = close(&o2, OfferOutcome::Claimed);
    app.redeliver(&o2_closed, subjects::OFFER_CLOSED, "o2", &o2_close)
        .await;
    app.publish(
        &WHEEL_STREAM,
        subjects::LEAD_POOLED,
        "l2",
        &pooled("l2", "north"),
    )
    .await;
    app.publish(&WHEEL_STREAM, subjects::LEAD_ASSIGNED, "l2", &via_pool)
        .await;
    let team_change = TeamUpserted {
        team_id: "north".into(),
        ..Default::default()
    };
    app.publish(
        &WHEEL_STREAM,
        subjects::TEAM_UPSERTED,
        "north",
        &team_change,
    )
    .await;
    let to_owner = assigned("l4", "south", "cy", AssignedVia::AccountOwner);
    app.publish(&WHEEL_STREAM, subjects::LEAD_ASSIGNED, "l4", &to_owner)
        .await;
    let withdrawn = offer("o6", "l3", "south", "dee");
    offered(&app, &withdrawn, OfferOutcome::Withdrawn).await;
    offered(
        &app,
        &offer("o5", "l3", "south", "cy"),
        OfferOutcome::Claimed,
    )
    .await;

    // Opportunity: three leads in work, l1 announced twice.
    app.publish(
        &OPPS_STREAM,
        subjects::OPPS_LEAD_OPENED,
        "l1",
        &opened("l1", "north", "bo"),
    )
    .await;
    app.publish(
        &OPPS_STREAM,
        subjects::OPPS_LEAD_OPENED,
        "l1",
        &opened("l1", "north", "bo"),
    )
    .await;
    app.publish(
        &OPPS_STREAM,
        subjects::OPPS_LEAD_OPENED,
        "l2",
        &opened("l2", "north", "ana"),
    )
    .await;
    app.publish(
        &OPPS_STREAM,
        subjects::OPPS_LEAD_OPENED,
        "l3",
        &opened("l3", "south", "cy"),
    )
    .await;

    // Every repeat was published before the last event of its stream, so
    // once the last events are counted, the repeats have been handled.
    // A team's created counts the leads the wheel routed for it (each
    // once, however many offers it had); the total counts intake's.
    let expected = GetFunnelResponse {
        total: counts([4, 6, 3, 1, 2, 1, 3]),
        teams: vec![
            team("north", [2, 4, 2, 1, 2, 1, 2]),
            team("south", [2, 2, 1, 0, 0, 0, 1]),
        ],
        reps: vec![
            rep("north", "ana", [0, 2, 1, 1, 1, 0, 1]),
            rep("north", "bo", [0, 2, 1, 0, 1, 0, 1]),
            rep("south", "cy", [0, 1, 1, 0, 0, 0, 1]),
            rep("south", "dee", [0, 1, 0, 0, 0, 0, 0]),
        ],
    };
    wait_funnel(&app, &expected).await;

    // One team: the total stays global; teams and reps are that team's.
    let admin = app.client("root", Role::Admin).await;
    let north = funnel(&admin, "north").await;
    assert_eq!(north.total, expected.total);
    assert_eq!(north.teams, expected.teams[..1]);
    assert_eq!(north.reps, expected.reps[..2]);
    let nobody = funnel(&admin, "nowhere").await;
    assert!(nobody.teams.is_empty() && nobody.reps.is_empty());
    assert_eq!(nobody.total, expected.total);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_authenticated_caller_may_read() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    created(&app, "l1").await;
    let expected = GetFunnelResponse {
        total: counts([1, 0, 0, 0, 0, 0, 0]),
        ..Default::default()
    };
    wait_funnel(&app, &expected).await;
    for role in [Role::Rep, Role::Manager, Role::Admin, Role::Integration] {
        let client = app.client("someone", role).await;
        assert_eq!(funnel(&client, "").await, expected, "{role:?}");
    }
    let mut anonymous = app.anonymous().await;
    let status = anonymous
        .get_funnel(GetFunnelRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut forged = app.client_with_token("not.a.jwt").await;
    let status = forged
        .get_funnel(GetFunnelRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut admin = app.client("root", Role::Admin).await;
    let status = admin
        .get_funnel(GetFunnelRequest {
            team_id: "t".repeat(129),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

on_both_backends!(counts_survive_a_restart_and_a_full_replay);
async fn counts_survive_a_restart_and_a_full_replay(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    created(&app, "l1").await;
    offered(
        &app,
        &offer("o1", "l1", "north", "ana"),
        OfferOutcome::Claimed,
    )
    .await;
    let before = GetFunnelResponse {
        total: counts([1, 1, 1, 0, 0, 0, 0]),
        teams: vec![team("north", [1, 1, 1, 0, 0, 0, 0])],
        reps: vec![rep("north", "ana", [0, 1, 1, 0, 0, 0, 0])],
    };
    wait_funnel(&app, &before).await;
    app.stop().await;

    // While it is down: a new event, and an operator deletes the wheel
    // consumer, so the restart replays that stream from the start.
    let o2 = offer("o2", "l1", "north", "bo");
    let nats_url = env.nats.url();
    publish_event(&nats_url, &WHEEL_STREAM, subjects::OFFER_OPENED, "o2", &o2)
        .await
        .unwrap();
    let o2_closed = close(&o2, OfferOutcome::Passed);
    publish_event(
        &nats_url,
        &WHEEL_STREAM,
        subjects::OFFER_CLOSED,
        "o2",
        &o2_closed,
    )
    .await
    .unwrap();
    let client = async_nats::connect(env.nats.url()).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(WHEEL_STREAM.name)
        .await
        .unwrap();
    stream.delete_consumer("reporting-wheel").await.unwrap();

    let app = spawn_app(&env).await;
    created(&app, "l2").await;
    let after = GetFunnelResponse {
        total: counts([2, 2, 1, 1, 0, 0, 0]),
        teams: vec![team("north", [1, 2, 1, 1, 0, 0, 0])],
        reps: vec![
            rep("north", "ana", [0, 1, 1, 0, 0, 0, 0]),
            rep("north", "bo", [0, 1, 0, 1, 0, 0, 0]),
        ],
    };
    wait_funnel(&app, &after).await;
    // The replay is in order: once o2's close is counted, o1's replayed
    // events were handled, and changed nothing.
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_funnel_is_all_zeros() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    let client = app.client("ana", Role::Rep).await;
    let empty = funnel(&client, "").await;
    assert_eq!(empty.total, counts([0; 7]));
    assert!(empty.teams.is_empty() && empty.reps.is_empty());
    app.stop().await;
}

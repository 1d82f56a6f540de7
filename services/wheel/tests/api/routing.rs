//! The routing path: offers, claims, passes, expiries, the pool, restarts.

use std::time::Duration;

use futures::StreamExt;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_proto::events::v1::{LeadAssigned, LeadPooled, OfferClosed, OfferOpened};
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::{spawn_app, spawn_app_with_clock, spawn_app_with_nats_down};
use crate::support;

#[tokio::test]
async fn a_new_lead_is_offered_round_robin_and_claimed() {
    let app = spawn_app().await;
    app.team(&["ana", "ben", "cy"], 60_000).await;

    let mut watch = app
        .rep("ana")
        .await
        .watch_offers(WatchOffersRequest {
            rep_id: "ana".into(),
        })
        .await
        .unwrap()
        .into_inner();

    app.new_lead("lead-1").await;
    app.new_lead("lead-2").await;
    assert_eq!(app.offered_to("lead-1").await, "ana");
    assert_eq!(
        app.offered_to("lead-2").await,
        "ben",
        "the cursor gives the next rep the next first look"
    );

    let update = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a live offer")
        .unwrap()
        .unwrap();
    let offer = update.offer.unwrap();
    assert_eq!(offer.lead_id, "lead-1");
    assert_eq!(offer.state, OfferState::Open as i32);
    assert!(offer.deadline_ms > update.server_time_ms);
    assert_eq!(offer.lead.unwrap().name, "Person lead-1");

    // Only the offered rep sees the lead during the window.
    let err = app
        .rep("ben")
        .await
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: "lead-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // ...and only they may claim it.
    let err = app
        .rep("ben")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-1".into(),
            rep_id: "ben".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A rep may not act as another rep.
    let err = app
        .rep("ben")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-1".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let claimed = app
        .rep("ana")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-1".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.via, ClaimedVia::Offer as i32);
    let routing = app.wait_state("lead-1", LeadState::Assigned).await;
    assert_eq!(routing.owner_rep_id, "ana");

    // A second claim fails: the lead has its owner.
    let err = app
        .rep("ana")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-1".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let assigned: Vec<LeadAssigned> =
        testing::eventually(Duration::from_secs(10), "lead.assigned", || async {
            let events: Vec<LeadAssigned> = app.wheel_events(subjects::LEAD_ASSIGNED).await;
            (!events.is_empty()).then_some(events)
        })
        .await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].rep_id, "ana");
    assert_eq!(assigned[0].lead_id, "lead-1");
    let opened: Vec<OfferOpened> = app.wheel_events(subjects::OFFER_OPENED).await;
    assert_eq!(opened.len(), 2);
}

#[tokio::test]
async fn pass_and_expiry_walk_the_ring_into_the_pool() {
    // On a manual clock: each window ends when the test moves the clock, so
    // ben's late claim lands while cy holds hers, however slow the machine.
    let app = spawn_app_with_clock(TestDb::sqlite()).await;
    app.team(&["ana", "ben", "cy"], 2_000).await;
    app.new_lead("lead-p").await;
    assert_eq!(app.offered_to("lead-p").await, "ana");

    // A pass needs a reason.
    let err = app
        .rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "lead-p".into(),
            rep_id: "ana".into(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("reason"));

    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "lead-p".into(),
            rep_id: "ana".into(),
            reason: "wrong region".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.offered_to("lead-p").await,
        "ben",
        "a pass moves to the next rep at once"
    );

    // ben lets the window lapse. His claim after his deadline fails, while
    // cy holds the next offer (a claim once the lead is pooled would be a
    // pool claim, which any member may make).
    app.advance(2_000);
    let routing = support::routing_when(&app, "lead-p", "cy to be offered it", |routing| {
        support::open_offer(routing).is_some_and(|offer| offer.rep_id == "cy")
    })
    .await;
    let ben = routing.offers.iter().find(|o| o.rep_id == "ben");
    assert_eq!(
        ben.map(|o| o.state),
        Some(OfferState::Expired as i32),
        "{:?}",
        routing.offers
    );
    let err = app
        .rep("ben")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-p".into(),
            rep_id: "ben".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("has already ended"), "{err:?}");

    // cy lets it lapse too: the lead is pooled.
    app.advance(2_000);
    let routing = app.wait_state("lead-p", LeadState::Pooled).await;
    let outcomes: Vec<(String, i32)> = routing
        .offers
        .iter()
        .map(|o| (o.rep_id.clone(), o.state))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("ana".into(), OfferState::Passed as i32),
            ("ben".into(), OfferState::Expired as i32),
            ("cy".into(), OfferState::Expired as i32),
        ]
    );

    // Once pooled, nobody holds an offer of it: a late pass fails.
    let err = app
        .rep("ben")
        .await
        .pass(PassRequest {
            lead_id: "lead-p".into(),
            rep_id: "ben".into(),
            reason: "late".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("no open offer"), "{err:?}");

    let pooled: Vec<LeadPooled> =
        testing::eventually(Duration::from_secs(10), "lead.pooled", || async {
            let events: Vec<LeadPooled> = app.wheel_events(subjects::LEAD_POOLED).await;
            (!events.is_empty()).then_some(events)
        })
        .await;
    assert_eq!(pooled[0].manager_id, "maya");
    assert_eq!(pooled[0].offers_made, 3);
    let closed: Vec<OfferClosed> = app.wheel_events(subjects::OFFER_CLOSED).await;
    assert_eq!(closed.len(), 3);

    let pool = app
        .rep("cy")
        .await
        .list_pool(ListPoolRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pool.leads.len(), 1);
    let listed = &pool.leads[0];
    assert_eq!(
        (
            listed.lead.as_ref().map(|l| l.lead_id.as_str()),
            listed.team_id.as_str()
        ),
        (Some("lead-p"), pooled[0].team_id.as_str())
    );
    assert_eq!(
        listed.pooled_at_ms, pooled[0].pooled_at_ms,
        "pooled when the event says"
    );

    // Someone off the team may not claim from the pool.
    let err = app
        .rep("zed")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-p".into(),
            rep_id: "zed".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let claimed = app
        .rep("cy")
        .await
        .claim(ClaimRequest {
            lead_id: "lead-p".into(),
            rep_id: "cy".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.via, ClaimedVia::Pool as i32);
    assert_eq!(
        app.wait_state("lead-p", LeadState::Assigned)
            .await
            .owner_rep_id,
        "cy"
    );
}

#[tokio::test]
async fn deadlines_survive_a_restart_and_fire_on_start() {
    let mut app = spawn_app_with_clock(TestDb::sqlite()).await;
    app.team(&["ana", "ben"], 1_000).await;
    app.new_lead("lead-r").await;
    assert_eq!(app.offered_to("lead-r").await, "ana");
    app.stop().await;
    // The deadline passes while the wheel is down (on its clock: no sleep).
    app.advance(1_200);
    app.start().await;
    let mut admin = app.admin().await;
    let routing = testing::eventually(
        Duration::from_secs(10),
        "the overdue offer to expire",
        || {
            let mut admin = admin.clone();
            async move {
                let routing = admin
                    .get_lead_routing(GetLeadRoutingRequest {
                        lead_id: "lead-r".into(),
                    })
                    .await
                    .ok()?
                    .into_inner();
                (routing.offers.len() == 2).then_some(routing)
            }
        },
    )
    .await;
    admin.list_teams(ListTeamsRequest {}).await.unwrap();
    assert_eq!(routing.offers[1].rep_id, "ben");
    let states: Vec<i32> = routing.offers.iter().map(|o| o.state).collect();
    assert_eq!(
        states,
        vec![OfferState::Expired as i32, OfferState::Open as i32]
    );
}

#[tokio::test]
async fn leads_wait_for_a_team_and_are_routed_when_one_exists() {
    let app = spawn_app().await;
    app.new_lead("early").await;
    app.wait_state("early", LeadState::Waiting).await;
    app.team(&["ana"], 60_000).await;
    assert_eq!(app.offered_to("early").await, "ana");
}

#[tokio::test]
async fn bad_input_is_refused_precisely() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let bad_window = admin
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "t".into(),
                manager_id: "m".into(),
                window_ms: 10,
                ..Default::default()
            }),
            rep_names: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_window.code(), Code::InvalidArgument);
    assert!(
        bad_window.message().contains("window_ms"),
        "{}",
        bad_window.message()
    );

    let duplicate_rep = admin
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "t".into(),
                manager_id: "m".into(),
                rep_ids: vec!["a".into(), "a".into()],
                ..Default::default()
            }),
            rep_names: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate_rep.code(), Code::InvalidArgument);
    assert!(
        admin
            .list_teams(ListTeamsRequest {})
            .await
            .unwrap()
            .into_inner()
            .teams
            .is_empty(),
        "nothing changed"
    );

    let unknown = admin
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let unknown_team = admin
        .list_reps(ListRepsRequest {
            team_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_team.code(), Code::NotFound);
    let bad_id = admin
        .claim(ClaimRequest {
            lead_id: "a b".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_id.code(), Code::InvalidArgument);

    let rep_upsert = app
        .rep("ana")
        .await
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "t".into(),
                manager_id: "m".into(),
                ..Default::default()
            }),
            rep_names: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(rep_upsert.code(), Code::PermissionDenied);

    // No token at all.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous =
        leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient::new(channel);
    let err = anonymous.list_teams(ListTeamsRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn starts_while_nats_is_down_and_catches_up() {
    let mut app = spawn_app_with_nats_down().await;
    // The API works from the store alone.
    app.team(&["ana", "ben"], 60_000).await;
    let reps = app
        .admin()
        .await
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reps.reps.len(), 2);
    app.nats.restart().unwrap();
    app.new_lead("late").await;
    assert_eq!(app.offered_to("late").await, "ana");
    // The team events written while NATS was down are delivered.
    let teams: Vec<leadwheel_proto::events::v1::TeamUpserted> =
        testing::eventually(Duration::from_secs(20), "wheel.team.upserted", || async {
            let events: Vec<leadwheel_proto::events::v1::TeamUpserted> =
                app.wheel_events(subjects::TEAM_UPSERTED).await;
            (!events.is_empty()).then_some(events)
        })
        .await;
    assert_eq!(teams[0].rep_ids, vec!["ana".to_string(), "ben".to_string()]);
    app.stop().await;
}

/// The reps the wheel passes over travel on the offer they led to, with
/// why (for reporting's skips by reason).
#[tokio::test]
async fn an_offer_names_the_reps_passed_over() {
    let app = spawn_app().await;
    app.team(&["ana", "ben", "cy"], 60_000).await;
    app.admin()
        .await
        .set_availability(SetAvailabilityRequest {
            rep_id: "ana".into(),
            availability: "away".into(),
            reason: "on leave".into(),
        })
        .await
        .expect("ana goes away");
    app.new_lead("lead-1").await;
    assert_eq!(app.offered_to("lead-1").await, "ben");
    let opened: Vec<OfferOpened> = app.wheel_events(subjects::OFFER_OPENED).await;
    let skipped: Vec<(&str, &str)> = opened[0]
        .skipped
        .iter()
        .map(|s| (s.rep_id.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped, vec![("ana", "away")]);
}

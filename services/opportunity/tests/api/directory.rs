//! The team directory kept from the wheel's events: a rep who leaves
//! (`wheel.rep.left`) is out of their team, nothing can be given to them,
//! their own book can still be handed over, an older membership arriving
//! late does not bring them back, and a newer one does.

use leadwheel_plumbing::bus::{WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually, publish_event, wait_consumer_done};
use leadwheel_plumbing::{Role, now_ms};
use leadwheel_proto::events::v1::{RepLeft, RepUpserted, TeamUpserted, rep_left};
use leadwheel_proto::opportunity::v1::StartHandoverRequest;
use tonic::Code;

use crate::helpers::{Client, Env, TestApp, WAIT, spawn_app};

async fn publish(app: &TestApp, subject: &str, key: &str, payload: &impl prost::Message) {
    publish_event(&app.nats_url, &WHEEL_STREAM, subject, key, payload)
        .await
        .expect("publishing");
}

fn handover_to(rep: &str, successor: &str) -> StartHandoverRequest {
    StartHandoverRequest {
        rep_id: rep.into(),
        successor_rep_id: successor.into(),
        leads_to_successor: false,
    }
}

/// Starts `rep`'s handover to `successor`: Ok(()) or the refusal's code
/// and message (a refusal starts nothing, so it can be asked again).
async fn start(maya: &Client, rep: &str, successor: &str) -> Result<(), (Code, String)> {
    let mut maya = maya.clone();
    maya.start_handover(handover_to(rep, successor))
        .await
        .map(|_| ())
        .map_err(|status| (status.code(), status.message().to_string()))
}

on_both_backends!(a_rep_who_left_is_out_of_the_team);
async fn a_rep_who_left_is_out_of_the_team(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let joined_at = now_ms();
    app.team("north", "maya", &["ana", "ben", "cy"]).await;
    let maya = app.client("maya", Role::Manager).await;
    eventually(WAIT, "the directory to know north", || {
        let maya = maya.clone();
        async move { start(&maya, "ana", "cy").await.ok() }
    })
    .await;

    let left_at = joined_at + 1_000;
    let left = RepLeft {
        rep_id: "ben".into(),
        team_id: "north".into(),
        why: Some(rep_left::Why::HandoverId("ho_1".into())),
        at_ms: left_at,
    };
    publish(&app, subjects::REP_LEFT, "ben", &left).await;
    // A copy of the team older than the leaving arrives late: ben stays out.
    let stale = TeamUpserted {
        team_id: "north".into(),
        name: "North".into(),
        manager_id: "maya".into(),
        window_ms: 60_000,
        rep_ids: vec!["ana".into(), "ben".into(), "cy".into()],
        at_ms: left_at - 1,
    };
    publish(&app, subjects::TEAM_UPSERTED, "north", &stale).await;
    wait_consumer_done(
        &app.nats_url,
        &WHEEL_STREAM,
        leadwheel_opportunity::WHEEL_CONSUMER,
    )
    .await;

    // Nothing can be given to ben, naming the field and the team he left.
    let (code, message) = start(&maya, "cy", "ben").await.expect_err("ben has left");
    assert_eq!(code, Code::FailedPrecondition, "{message}");
    assert!(
        message.contains("successor_rep_id") && message.contains("left team north"),
        "{message}"
    );
    // His own book can still be handed over by his (former) manager.
    let mut client = maya.clone();
    let plan = client
        .start_handover(handover_to("ben", "cy"))
        .await
        .expect("the leaver's book is handed over")
        .into_inner()
        .handover
        .expect("a plan");
    assert_eq!(plan.team_id, "north");

    // Joining again (a newer fact) makes him a member.
    let back = RepUpserted {
        rep_id: "ben".into(),
        name: "Ben".into(),
        team_id: "north".into(),
        at_ms: left_at + 1_000,
    };
    publish(&app, subjects::REP_UPSERTED, "ben", &back).await;
    eventually(WAIT, "ben to be a member again", || {
        let maya = maya.clone();
        async move { start(&maya, "cy", "ben").await.ok() }
    })
    .await;
    app.stop().await;
}

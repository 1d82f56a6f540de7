//! Concurrency: many claimers racing for one lead, on both store backends.

use std::time::Duration;

use leadwheel_plumbing::testing::{TestDb, on_postgres};
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app_on};

/// Fifty reps race to claim the same pooled lead: exactly one wins, over
/// several rounds. Every other is refused: FAILED_PRECONDITION (the lead is
/// already assigned, seen on a retry after losing the race), or ABORTED
/// when a claimer lost the race on every one of its retries
/// (docs/architecture.md).
async fn fifty_claimers_one_winner(app: TestApp) {
    let reps: Vec<String> = (0..50).map(|i| format!("rep{i:02}")).collect();
    let rep_refs: Vec<&str> = reps.iter().map(String::as_str).collect();
    app.team(&rep_refs[..2], 1_000).await;
    // Pool leads quickly with a two-rep ring, then put all fifty on the team.
    for round in 0..3 {
        app.new_lead(&format!("race-{round}")).await;
    }
    for round in 0..3 {
        app.wait_state(&format!("race-{round}"), LeadState::Pooled)
            .await;
    }
    app.team(&rep_refs, 1_000).await;

    for round in 0..3 {
        let lead_id = format!("race-{round}");
        let mut clients = Vec::new();
        for rep in &reps {
            clients.push((rep.clone(), app.rep(rep).await));
        }
        let mut tasks = Vec::new();
        for (rep, mut client) in clients {
            let lead_id = lead_id.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .claim(ClaimRequest {
                        lead_id,
                        rep_id: rep.clone(),
                    })
                    .await
                    .map(|_| rep)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(rep) => winners.push(rep),
                Err(status) if status.code() == Code::FailedPrecondition => assert!(
                    status.message().contains("already assigned"),
                    "a loser refused for another reason: {status:?}"
                ),
                Err(status) => assert_eq!(status.code(), Code::Aborted, "unexpected {status:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let routing = app.wait_state(&lead_id, LeadState::Assigned).await;
        assert_eq!(routing.owner_rep_id, winners[0]);
    }
    let assigned: Vec<leadwheel_proto::events::v1::LeadAssigned> =
        leadwheel_plumbing::testing::eventually(
            Duration::from_secs(10),
            "three lead.assigned events",
            || async {
                let events: Vec<leadwheel_proto::events::v1::LeadAssigned> = app
                    .wheel_events(leadwheel_plumbing::bus::subjects::LEAD_ASSIGNED)
                    .await;
                (events.len() >= 3).then_some(events)
            },
        )
        .await;
    assert_eq!(assigned.len(), 3, "one assignment per lead");
}

#[tokio::test]
async fn fifty_claimers_sqlite() {
    fifty_claimers_one_winner(spawn_app_on(TestDb::sqlite()).await).await;
}

#[tokio::test]
async fn fifty_claimers_postgres() {
    on_postgres(|db| async move { fifty_claimers_one_winner(spawn_app_on(db).await).await }).await;
}

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

/// A team of `n` reps (`rep00` …) with an hour's window and `n` new leads
/// (`<prefix>-00` …), each with the rep it was first offered to.
async fn offered_leads(app: &TestApp, n: usize, prefix: &str) -> Vec<(String, String)> {
    let reps: Vec<String> = (0..n).map(|i| format!("rep{i:02}")).collect();
    let rep_refs: Vec<&str> = reps.iter().map(String::as_str).collect();
    app.team(&rep_refs, 3_600_000).await;
    let mut offered = Vec::new();
    for i in 0..n {
        let lead = format!("{prefix}-{i:02}");
        app.new_lead(&lead).await;
        offered.push(lead);
    }
    let mut with_reps = Vec::new();
    for lead in offered {
        let rep = app.offered_to(&lead).await;
        with_reps.push((lead, rep));
    }
    with_reps
}

/// Forty reps claim forty different leads at the same moment, each with
/// a pass racing the claim on a lead offered to a rep who also claims it:
/// on SQLite these share the writer's transactions. Every claim is
/// answered for its own lead, every lead ends assigned to the rep it was
/// offered to, and each assignment is published once (and a pass that
/// came after its claim in the same batch is refused, not applied).
async fn many_claims_at_once_each_answered(app: TestApp) {
    let offered = offered_leads(&app, 40, "batch").await;
    let mut tasks = Vec::new();
    for (lead_id, rep) in offered.clone() {
        let mut claimer = app.rep(&rep).await;
        let mut passer = app.rep(&rep).await;
        tasks.push(tokio::spawn(async move {
            let claim = claimer.claim(ClaimRequest {
                lead_id: lead_id.clone(),
                rep_id: rep.clone(),
            });
            let pass = passer.pass(PassRequest {
                lead_id: lead_id.clone(),
                rep_id: rep.clone(),
                reason: "busy".into(),
            });
            let (claimed, passed) = tokio::join!(claim, pass);
            (lead_id, rep, claimed.is_ok(), passed.is_ok())
        }));
    }
    let mut claimed_leads = Vec::new();
    for task in tasks {
        let (lead_id, rep, claimed, passed) = task.await.unwrap();
        assert!(
            claimed != passed,
            "{lead_id}: exactly one of the claim and the pass applies (claimed {claimed}, passed {passed})"
        );
        if claimed {
            let routing = app.wait_state(&lead_id, LeadState::Assigned).await;
            assert_eq!(routing.owner_rep_id, rep, "{lead_id} owned by its claimer");
            claimed_leads.push(lead_id);
        } else {
            // Passed: offered to the next rep, never owned by this one.
            let next = app.offered_to(&lead_id).await;
            assert_ne!(next, rep, "{lead_id} passed by {rep}, offered on");
        }
    }
    assert!(!claimed_leads.is_empty(), "some claims won their race");
    let assigned: Vec<leadwheel_proto::events::v1::LeadAssigned> =
        leadwheel_plumbing::testing::eventually(
            Duration::from_secs(10),
            "one lead.assigned per claimed lead",
            || async {
                let events: Vec<leadwheel_proto::events::v1::LeadAssigned> = app
                    .wheel_events(leadwheel_plumbing::bus::subjects::LEAD_ASSIGNED)
                    .await;
                (events.len() >= claimed_leads.len()).then_some(events)
            },
        )
        .await;
    let mut published: Vec<String> = assigned.into_iter().map(|e| e.lead_id).collect();
    published.sort();
    claimed_leads.sort();
    assert_eq!(published, claimed_leads, "each claimed lead published once");
}

#[tokio::test]
async fn many_claims_at_once_sqlite() {
    many_claims_at_once_each_answered(spawn_app_on(TestDb::sqlite()).await).await;
}

#[tokio::test]
async fn many_claims_at_once_postgres() {
    on_postgres(
        |db| async move { many_claims_at_once_each_answered(spawn_app_on(db).await).await },
    )
    .await;
}

/// A claim that fails inside a shared batch (its lead's stored routing is
/// unreadable) fails alone: the claims queued with it are still applied
/// and answered, and the broken lead is left as it was.
async fn a_failing_claim_fails_alone(app: TestApp) {
    let offered = offered_leads(&app, 20, "alone").await;
    let broken = offered[7].0.clone();
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE wheel_leads SET routing = 'not json' WHERE lead_id = $1")
            .bind(&broken)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for (lead_id, rep) in offered.clone() {
        let mut client = app.rep(&rep).await;
        tasks.push(tokio::spawn(async move {
            let outcome = client
                .claim(ClaimRequest {
                    lead_id: lead_id.clone(),
                    rep_id: rep.clone(),
                })
                .await;
            (lead_id, rep, outcome.map(|_| ()))
        }));
    }
    for task in tasks {
        let (lead_id, rep, outcome) = task.await.unwrap();
        if lead_id == broken {
            let status = outcome.expect_err("the broken lead's claim fails");
            assert_eq!(status.code(), Code::Internal, "{status:?}");
        } else {
            outcome.unwrap_or_else(|status| panic!("{lead_id}: {status:?}"));
            let routing = app.wait_state(&lead_id, LeadState::Assigned).await;
            assert_eq!(routing.owner_rep_id, rep);
        }
    }
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let (state, routing): (String, String) =
        sqlx::query_as("SELECT state, routing FROM wheel_leads WHERE lead_id = $1")
            .bind(&broken)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((state.as_str(), routing.as_str()), ("offered", "not json"));
}

#[tokio::test]
async fn a_failing_claim_fails_alone_sqlite() {
    a_failing_claim_fails_alone(spawn_app_on(TestDb::sqlite()).await).await;
}

#[tokio::test]
async fn a_failing_claim_fails_alone_postgres() {
    on_postgres(|db| async move { a_failing_claim_fails_alone(spawn_app_on(db).await).await })
        .await;
}

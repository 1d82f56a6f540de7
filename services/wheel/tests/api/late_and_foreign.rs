//! Refusals that depend on who acts and when: a manager of another team
//! acting for a rep, and a claim after the deadline once the lead has
//! moved on. Each must be refused and change nothing.

use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::bad_input::{expect_refused, snapshot};
use crate::helpers::spawn_app;
use crate::support::{self, manager, no_breaker, open_offer, routing_when};

/// A manager whose token names another team may not claim or pass for a
/// rep of this team (managers act on their own team's leads only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_teams_manager_may_not_claim_or_pass_for_a_rep() {
    let app = spawn_app().await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, Some(no_breaker())),
    )
    .await;
    support::upsert(&app, support::team("north", "omar", &["zed"], 60_000, None)).await;
    app.new_lead("l1").await;
    assert_eq!(app.offered_to("l1").await, "ana");
    let leads = ["l1"];
    let before = snapshot(&app, &leads).await;
    let mut omar = manager(&app, "omar", Some("north")).await;
    expect_refused(
        &app,
        &leads,
        &before,
        omar.pass(PassRequest {
            lead_id: "l1".into(),
            rep_id: "ana".into(),
            reason: "not for you".into(),
        })
        .await,
        Code::PermissionDenied,
        None,
        "another team's manager passing for a rep",
    )
    .await;
    expect_refused(
        &app,
        &leads,
        &before,
        omar.claim(ClaimRequest {
            lead_id: "l1".into(),
            rep_id: "ana".into(),
        })
        .await,
        Code::PermissionDenied,
        None,
        "another team's manager claiming for a rep",
    )
    .await;
}

/// A claim (or pass) after the deadline is refused with FAILED_PRECONDITION,
/// also once the lead has moved on to the next rep, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_after_the_deadline_fails_and_changes_nothing() {
    let app = spawn_app().await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 1_000, Some(no_breaker())),
    )
    .await;
    app.new_lead("late").await;
    assert_eq!(app.offered_to("late").await, "ana");
    // ana's offer keeps its 1 s window; ben's, opened after it lapses,
    // gets ten minutes, so the state holds still while we look.
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, Some(no_breaker())),
    )
    .await;
    let routing = routing_when(&app, "late", "ben's offer after ana's lapsed", |r| {
        open_offer(r).is_some_and(|o| o.rep_id == "ben")
    })
    .await;
    assert_eq!(routing.offers[0].state, OfferState::Expired as i32);
    let leads = ["late"];
    let before = snapshot(&app, &leads).await;
    let mut ana = app.rep("ana").await;
    expect_refused(
        &app,
        &leads,
        &before,
        ana.pass(PassRequest {
            lead_id: "late".into(),
            rep_id: "ana".into(),
            reason: "too late".into(),
        })
        .await,
        Code::FailedPrecondition,
        None,
        "a pass after the deadline",
    )
    .await;
    expect_refused(
        &app,
        &leads,
        &before,
        ana.claim(ClaimRequest {
            lead_id: "late".into(),
            rep_id: "ana".into(),
        })
        .await,
        Code::FailedPrecondition,
        None,
        "a claim after the deadline",
    )
    .await;
}

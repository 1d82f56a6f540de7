//! Explaining the wheel: why-not, stats, pass reasons.

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app, spawn_app_on};
use crate::support::{self, no_breaker};

#[tokio::test]
async fn why_not_and_stats_tell_reps_and_managers_what_happened() {
    let app = spawn_app().await;
    app.team(&["ana", "ben", "cy"], 60_000).await;
    app.new_lead("w1").await;
    assert_eq!(app.offered_to("w1").await, "ana");
    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "w1".into(),
            rep_id: "ana".into(),
            reason: "wrong region".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.offered_to("w1").await, "ben");
    app.rep("ben")
        .await
        .claim(ClaimRequest {
            lead_id: "w1".into(),
            rep_id: "ben".into(),
        })
        .await
        .unwrap();

    let why = |rep: &'static str| {
        let app = &app;
        async move {
            app.rep(rep)
                .await
                .why_not(WhyNotRequest {
                    lead_id: "w1".into(),
                    rep_id: rep.into(),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let ana = why("ana").await;
    assert!(
        ana.summary.contains("passed") && ana.summary.contains("wrong region"),
        "{}",
        ana.summary
    );
    assert_eq!(ana.position_in_lap, 1);
    let cy = why("cy").await;
    assert!(
        cy.summary.contains("ben claimed it before your turn"),
        "{}",
        cy.summary
    );
    assert!(cy.summary.contains("3rd"), "{}", cy.summary);
    assert_eq!(why("ben").await.owner_rep_id, "ben");

    // A rep may ask only about themselves.
    let err = app
        .rep("cy")
        .await
        .why_not(WhyNotRequest {
            lead_id: "w1".into(),
            rep_id: "ana".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let stats = app
        .client_as("maya", Role::Manager)
        .await
        .wheel_stats(WheelStatsRequest {
            team_id: "demo".into(),
            since_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let by_rep = |rep: &str| stats.reps.iter().find(|r| r.rep_id == rep).unwrap().clone();
    let ana = by_rep("ana");
    assert_eq!(
        (ana.offers, ana.first_looks, ana.passes, ana.claims),
        (1, 1, 1, 0)
    );
    let ben = by_rep("ben");
    assert_eq!((ben.offers, ben.first_looks, ben.claims), (1, 0, 1));
    assert_eq!(by_rep("cy").offers, 0);

    // Reps do not read the saturation view.
    let err = app
        .rep("ana")
        .await
        .wheel_stats(WheelStatsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_team_with_pass_reasons_refuses_others() {
    let app = spawn_app().await;
    app.admin()
        .await
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "demo".into(),
                manager_id: "maya".into(),
                window_ms: 60_000,
                rep_ids: vec!["ana".into(), "ben".into()],
                policy: Some(TeamPolicy {
                    pass_reasons: vec!["wrong region".into(), "on a call".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            rep_names: vec![],
        })
        .await
        .unwrap();
    app.new_lead("p1").await;
    assert_eq!(app.offered_to("p1").await, "ana");
    let err = app
        .rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "p1".into(),
            rep_id: "ana".into(),
            reason: "bored".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("on a call"), "{}", err.message());
    assert_eq!(
        app.offered_to("p1").await,
        "ana",
        "a refused pass changes nothing"
    );
    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "p1".into(),
            rep_id: "ana".into(),
            reason: "On a call".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.offered_to("p1").await, "ben");
}

async fn why_not(app: &TestApp, caller: &str, role: Role, rep: &str, lead: &str) -> String {
    app.client_as(caller, role)
        .await
        .why_not(WhyNotRequest {
            lead_id: lead.into(),
            rep_id: rep.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .summary
}

/// A claim from the open pool is a claim in the stats (and counted apart
/// as a pool claim); it closes no offer, so offers and misses stay as they
/// were.
async fn a_pool_claim_counts_as_a_claim_in_the_stats(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 60_000, Some(no_breaker())),
    )
    .await;
    app.new_lead("p1").await;
    for rep in ["ana", "ben"] {
        assert_eq!(app.offered_to("p1").await, rep);
        app.rep(rep)
            .await
            .pass(PassRequest {
                lead_id: "p1".into(),
                rep_id: rep.into(),
                reason: "on a call".into(),
            })
            .await
            .unwrap();
    }
    app.wait_state("p1", LeadState::Pooled).await;
    app.rep("ben")
        .await
        .claim(ClaimRequest {
            lead_id: "p1".into(),
            rep_id: "ben".into(),
        })
        .await
        .unwrap();
    let stats = support::manager(&app, "maya", Some("demo"))
        .await
        .wheel_stats(WheelStatsRequest {
            team_id: "demo".into(),
            since_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let by_rep = |rep: &str| stats.reps.iter().find(|r| r.rep_id == rep).unwrap().clone();
    let ben = by_rep("ben");
    assert_eq!(
        (ben.offers, ben.passes, ben.claims, ben.pool_claims),
        (1, 1, 1, 1),
        "{ben:?}"
    );
    assert_eq!(ben.median_time_to_claim_ms, 0, "no offer was claimed");
    let ana = by_rep("ana");
    assert_eq!(
        (ana.offers, ana.passes, ana.claims, ana.pool_claims),
        (1, 1, 0, 0)
    );
}

/// why-not says "you" to the rep who asks, and speaks of the rep by id to
/// a manager or admin asking about them.
async fn why_not_speaks_of_the_rep_by_name_to_others(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 60_000, Some(no_breaker())),
    )
    .await;
    support::upsert(&app, support::team("east", "mo", &["zed"], 60_000, None)).await;
    app.new_lead("w1").await;
    assert_eq!(app.offered_to("w1").await, "ana");
    app.rep("ana")
        .await
        .pass(PassRequest {
            lead_id: "w1".into(),
            rep_id: "ana".into(),
            reason: "wrong region".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.offered_to("w1").await, "ben");

    assert_eq!(
        why_not(&app, "ana", Role::Rep, "ana", "w1").await,
        "You passed on it (wrong region)."
    );
    assert_eq!(
        why_not(&app, "root", Role::Admin, "ana", "w1").await,
        "ana passed on it (wrong region)."
    );
    assert_eq!(
        why_not(&app, "maya", Role::Manager, "ben", "w1").await,
        "It is offered to ben right now, until its deadline."
    );
    assert_eq!(
        why_not(&app, "root", Role::Admin, "zed", "w1").await,
        "zed is not on team demo, which routed it."
    );
}

on_both_backends!(
    a_pool_claim_counts_as_a_claim_in_the_stats,
    why_not_speaks_of_the_rep_by_name_to_others,
);

//! Explaining the wheel: why-not, stats, pass reasons.

use leadwheel_plumbing::auth::Role;
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::spawn_app;

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

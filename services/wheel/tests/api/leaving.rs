//! Reps leaving their team: a rep left out when a manager sets the team is
//! announced as `wheel.rep.left` (who removed them) and offered nothing
//! more; a rep moved to another team is not a leaver; and no event ever
//! names a rep with an empty team.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{RepLeft, RepUpserted, TeamUpserted, rep_left};
use leadwheel_proto::wheel::v1::*;

use crate::helpers::spawn_app_on;
use crate::support;

on_both_backends!(a_rep_left_out_of_the_team_leaves);
async fn a_rep_left_out_of_the_team_leaves(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben", "cy"], 600_000, None),
    )
    .await;
    support::upsert(&app, support::team("south", "sol", &["dee"], 600_000, None)).await;

    // Maya sets her team without ben; sol takes cy into south.
    let mut maya = support::manager(&app, "maya", Some("demo")).await;
    maya.upsert_team(UpsertTeamRequest {
        team: Some(support::team("demo", "maya", &["ana", "cy"], 600_000, None)),
        rep_names: vec![],
    })
    .await
    .expect("maya sets her team");
    support::upsert(
        &app,
        support::team("south", "sol", &["dee", "cy"], 600_000, None),
    )
    .await;

    // Ben left demo (removed by maya) and is on no team; cy moved, so she
    // is no leaver even though demo's ring lost her. (Once south's second
    // announcement is on the stream, every event before it is too.)
    let teams: Vec<(String, TeamUpserted)> =
        support::events_at_least(&app, subjects::TEAM_UPSERTED, 4).await;
    let left: Vec<RepLeft> = app.wheel_events(subjects::REP_LEFT).await;
    let who: Vec<(&str, &str)> = left
        .iter()
        .map(|e| (e.rep_id.as_str(), e.team_id.as_str()))
        .collect();
    assert_eq!(who, vec![("ben", "demo")], "{left:?}");
    assert_eq!(left[0].why, Some(rep_left::Why::RemovedBy("maya".into())));
    let reps = app
        .admin()
        .await
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reps;
    let team_of = |rep: &str| {
        reps.iter()
            .find(|r| r.rep_id == rep)
            .map(|r| r.team_id.clone())
    };
    assert_eq!(team_of("ben").as_deref(), Some(""));
    assert_eq!(team_of("cy").as_deref(), Some("south"));

    // A change to the leaver is not announced as a rep on an empty team.
    app.admin()
        .await
        .update_rep(UpdateRepRequest {
            rep_id: "ben".into(),
            rank: 3,
            capacity: 5,
        })
        .await
        .expect("an admin updates ben");
    let (_, demo) = teams
        .iter()
        .rfind(|(_, t)| t.team_id == "demo")
        .expect("demo's event");
    assert_eq!(demo.rep_ids, vec!["ana".to_string(), "cy".to_string()]);
    let upserts: Vec<RepUpserted> = app.wheel_events(subjects::REP_UPSERTED).await;
    assert!(
        upserts.iter().all(|r| !r.team_id.is_empty()),
        "a rep announced on no team: {upserts:?}"
    );

    // Ben is offered nothing more.
    for n in 0..3 {
        let lead_id = format!("after{n}");
        app.new_lead(&lead_id).await;
        assert_ne!(app.offered_to(&lead_id).await, "ben");
    }
}

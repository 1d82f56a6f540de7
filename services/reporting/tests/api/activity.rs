//! Activities per rep per day and week, by kind and by stage, over a
//! scripted fortnight (answers in the comments).

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::ActivityLogged;
use leadwheel_proto::reporting::v1::{
    ActivityRow, ActivityStageRow, GetActivityRequest, GetActivityResponse, PeriodKind,
};

use crate::helpers::{Client, Env, WAIT, spawn_app};
use crate::sales::{month, week};
use crate::script::{self, ANA, BO, Script, at};

#[allow(clippy::too_many_arguments)]
fn logged(
    id: &str,
    kind: &str,
    (team, rep): (&str, &str),
    at_ms: i64,
    stage: &str,
    seconds: i64,
    recorded: bool,
) -> ActivityLogged {
    ActivityLogged {
        activity_id: id.into(),
        kind: kind.into(),
        lead_id: format!("lead-of-{id}"),
        by: rep.into(),
        owner_rep_id: rep.into(),
        team_id: team.into(),
        at_ms,
        duration_seconds: seconds,
        stage: stage.into(),
        has_recording: recorded,
        touch_count: 1,
        ..Default::default()
    }
}

fn row(rep: &str, from: &str, counts: [i64; 7]) -> ActivityRow {
    ActivityRow {
        team_id: "north".into(),
        rep_id: rep.into(),
        from: from.into(),
        calls: counts[0],
        emails: counts[1],
        visits: counts[2],
        meetings: counts[3],
        notes: counts[4],
        calls_recorded: counts[5],
        call_seconds: counts[6],
    }
}

fn stage(rep: &str, stage: &str, count: i64) -> ActivityStageRow {
    ActivityStageRow {
        team_id: "north".into(),
        rep_id: rep.into(),
        stage: stage.into(),
        count,
    }
}

async fn until_equal(client: &Client, request: GetActivityRequest, expected: GetActivityResponse) {
    let mut last = None;
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(got) = client.clone().get_activity(request.clone()).await {
                let got = got.into_inner();
                if got == expected {
                    return;
                }
                last = Some(got);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "activity never became {expected:#?}; last {last:#?}"
    );
}

async fn activity_per_rep_by_kind_and_stage(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    // Ana: two calls on Monday 2 November (a 5-minute recorded one on a
    // lead, a 2-minute one on a deal in trial), an email on Tuesday, a
    // visit the next Monday. Bo: a note on a lead on Wednesday, a
    // meeting on a deal in trial on Sunday 8 November.
    s.logged(logged(
        "a1",
        "call",
        ANA,
        at("2026-11-02", 10),
        "lead",
        300,
        true,
    ));
    s.logged(logged(
        "a2",
        "call",
        ANA,
        at("2026-11-02", 15),
        "trial",
        120,
        false,
    ));
    s.logged(logged(
        "a3",
        "email",
        ANA,
        at("2026-11-03", 9),
        "trial",
        0,
        false,
    ));
    s.logged(logged(
        "a4",
        "visit",
        ANA,
        at("2026-11-09", 9),
        "commercial",
        3_600,
        false,
    ));
    s.logged(logged(
        "b1",
        "note",
        BO,
        at("2026-11-04", 9),
        "lead",
        0,
        false,
    ));
    s.logged(logged(
        "b2",
        "meeting",
        BO,
        at("2026-11-08", 9),
        "trial",
        1_800,
        false,
    ));
    script::publish_all(&app.nats_url, &s.events).await;
    let maya = app.client("maya", Role::Manager).await;

    // By day, the week of 2 November. [calls, emails, visits, meetings,
    // notes, calls recorded, call seconds]
    let by_day = GetActivityRequest {
        team_id: "north".into(),
        period: week("2026-11-05"),
        ..Default::default()
    };
    let expected = GetActivityResponse {
        period: Some(leadwheel_proto::reporting::v1::ResolvedPeriod {
            kind: PeriodKind::Week as i32,
            from: "2026-11-02".into(),
            to: "2026-11-08".into(),
        }),
        rows: vec![
            row("ana", "2026-11-02", [2, 0, 0, 0, 0, 1, 420]),
            row("ana", "2026-11-03", [0, 1, 0, 0, 0, 0, 0]),
            row("bo", "2026-11-04", [0, 0, 0, 0, 1, 0, 0]),
            row("bo", "2026-11-08", [0, 0, 0, 1, 0, 0, 0]),
        ],
        by_stage: vec![
            stage("ana", "lead", 1),
            stage("ana", "trial", 2),
            stage("bo", "lead", 1),
            stage("bo", "trial", 1),
        ],
        // No lead converted, no follow-up set.
        conversions: vec![],
        follow_ups: vec![],
    };
    until_equal(&maya, by_day, expected).await;

    // By ISO week, November.
    let by_week = GetActivityRequest {
        team_id: "north".into(),
        period: month("2026-11-05"),
        bucket: PeriodKind::Week as i32,
        ..Default::default()
    };
    let expected = GetActivityResponse {
        period: Some(leadwheel_proto::reporting::v1::ResolvedPeriod {
            kind: PeriodKind::Month as i32,
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
        }),
        rows: vec![
            row("ana", "2026-11-02", [2, 1, 0, 0, 0, 1, 420]),
            row("ana", "2026-11-09", [0, 0, 1, 0, 0, 0, 0]),
            row("bo", "2026-11-02", [0, 0, 0, 1, 1, 0, 0]),
        ],
        by_stage: vec![
            stage("ana", "commercial", 1),
            stage("ana", "lead", 1),
            stage("ana", "trial", 2),
            stage("bo", "lead", 1),
            stage("bo", "trial", 1),
        ],
        // No lead converted, no follow-up set.
        conversions: vec![],
        follow_ups: vec![],
    };
    until_equal(&maya, by_week, expected).await;
    let status = maya
        .clone()
        .get_activity(GetActivityRequest {
            bucket: PeriodKind::Month as i32,
            ..Default::default()
        })
        .await
        .expect_err("a monthly bucket is refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    app.stop().await;
}

on_both_backends!(activity_per_rep_by_kind_and_stage);

//! Working hours (in the rep's time zone) and tier/region matching.

use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::testing::TestDb;
use leadwheel_plumbing::{now_ms, testing};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::{spawn_app, spawn_app_with_clock_at};

fn all_week() -> Vec<WorkingHours> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| WorkingHours {
            day: day.to_string(),
            from: "00:00".into(),
            to: "24:00".into(),
        })
        .collect()
}

#[tokio::test]
async fn off_shift_and_mismatched_reps_are_skipped_with_reasons() {
    let app = spawn_app().await;
    app.team(&["ana", "ben", "cy"], 60_000).await;
    let mut admin = app.admin().await;
    // ana works every hour of the week except today, a day off (UTC).
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let ana = admin
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id: "ana".into(),
            schedule: Some(RepSchedule {
                time_zone: "UTC".into(),
                hours: all_week(),
                days_off: vec![today],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rep
        .unwrap();
    assert!(!ana.on_shift);
    // ben only takes French leads.
    admin
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id: "ben".into(),
            regions: vec!["fr".into()],
            ..Default::default()
        })
        .await
        .unwrap();

    let created = LeadCreated {
        lead_id: "de-1".into(),
        email: "kai@example.de".into(),
        name: "Kai".into(),
        company: "Beispiel".into(),
        country: "DE".into(),
        created_at_ms: now_ms(),
        ..Default::default()
    };
    testing::publish_event(
        &app.nats.url(),
        &INTAKE_STREAM,
        subjects::LEAD_CREATED,
        "de-1",
        &created,
    )
    .await
    .unwrap();
    assert_eq!(app.offered_to("de-1").await, "cy");
    let ledger = admin
        .explain_lead(ExplainLeadRequest {
            lead_id: "de-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let skips: Vec<(String, String)> = ledger
        .iter()
        .filter(|e| e.kind == "skipped")
        .map(|e| (e.rep_id.clone(), e.detail.clone()))
        .collect();
    assert_eq!(
        skips,
        vec![
            ("ana".into(), "off_shift".into()),
            ("ben".into(), "mismatch".into())
        ]
    );

    // Bad schedules are refused, naming the problem, and change nothing.
    for (schedule, needle) in [
        (
            RepSchedule {
                time_zone: "Mars/Olympus".into(),
                hours: all_week(),
                days_off: vec![],
            },
            "time zone",
        ),
        (
            RepSchedule {
                time_zone: "UTC".into(),
                hours: vec![WorkingHours {
                    day: "mon".into(),
                    from: "17:00".into(),
                    to: "09:00".into(),
                }],
                days_off: vec![],
            },
            "after the start",
        ),
        (
            RepSchedule {
                time_zone: "UTC".into(),
                hours: all_week(),
                days_off: vec!["tomorrow".into()],
            },
            "not a date",
        ),
    ] {
        let err = admin
            .set_rep_schedule(SetRepScheduleRequest {
                rep_id: "cy".into(),
                schedule: Some(schedule),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("schedule") && err.message().contains(needle),
            "{}",
            err.message()
        );
    }
    let err = admin
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id: "cy".into(),
            regions: vec!["France".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let reps = admin
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reps;
    let cy = reps.iter().find(|r| r.rep_id == "cy").unwrap();
    assert!(
        cy.on_shift && cy.regions.is_empty(),
        "refused changes left cy as she was"
    );

    // Another rep may not change cy's hours.
    let err = app
        .rep("ben")
        .await
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id: "cy".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// A lead arriving before anyone's shift waits (ana skipped as off shift)
/// and is offered to her when the wheel's clock reaches 09:00 in her time
/// zone: the sweep finds her eligible, with no one calling in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_arriving_before_the_shift_is_offered_when_it_starts() {
    const MINUTE: u64 = 60_000;
    // Monday 2026-11-23, 08:00 in Paris (UTC+1 in winter).
    let monday_8am = "2026-11-23T07:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let app = spawn_app_with_clock_at(TestDb::sqlite(), monday_8am).await;
    app.team(&["ana"], 60_000).await;
    let mut admin = app.admin().await;
    let weekdays = ["mon", "tue", "wed", "thu", "fri"].map(|day| WorkingHours {
        day: day.to_string(),
        from: "09:00".into(),
        to: "17:00".into(),
    });
    let ana = admin
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id: "ana".into(),
            schedule: Some(RepSchedule {
                time_zone: "Europe/Paris".into(),
                hours: weekdays.to_vec(),
                days_off: vec![],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rep
        .unwrap();
    assert!(!ana.on_shift, "08:00 in Paris is before her shift");
    app.new_lead("early").await;
    app.wait_state("early", LeadState::Waiting).await;
    // 08:59: still before the shift; the lead keeps waiting.
    app.advance(59 * MINUTE);
    let reps = admin
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reps;
    assert!(!reps[0].on_shift);
    assert_eq!(
        app.wait_state("early", LeadState::Waiting)
            .await
            .offers
            .len(),
        0
    );
    // 09:00: her shift starts and the waiting lead is offered to her.
    app.advance(MINUTE);
    assert_eq!(app.offered_to("early").await, "ana");
    let ledger = admin
        .explain_lead(ExplainLeadRequest {
            lead_id: "early".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let offered = ledger.iter().find(|e| e.kind == "offered").unwrap();
    assert_eq!(offered.at_ms, monday_8am + 60 * MINUTE as i64);
    assert!(
        ledger
            .iter()
            .any(|e| e.kind == "skipped" && e.rep_id == "ana" && e.detail == "off_shift")
    );
}

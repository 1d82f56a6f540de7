//! Working hours (in the rep's time zone) and tier/region matching.

use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::{now_ms, testing};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::spawn_app;

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

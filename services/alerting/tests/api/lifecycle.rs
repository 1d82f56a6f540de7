//! The timed rules and the alert lifecycle, with the clock moved by the
//! test: raised once across restarts, escalated when nobody acknowledges,
//! resolved when the condition clears, snoozed and acknowledged by the
//! right people only.

use std::time::Duration;

use leadwheel_alerting::{Clock, ManualClock, Settings};
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{ALERTS_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually, read_events};
use leadwheel_proto::alerting::v1::{
    AcknowledgeAlertRequest, Alert, GetAlertRequest, ListAlertsRequest, SnoozeAlertRequest,
};
use leadwheel_proto::events::v1::{
    ActivityLogged, AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved, AlertSnoozed,
    FollowUpSet, LeadOpened, OpportunityClosed, OpportunityOpened, OpportunityStageChanged,
    OpportunityState,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Env, Fixture, Tables, TestApp, WAIT, spawn_app_at, spawn_app_with, team};

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

pub async fn all_alerts(app: &TestApp) -> Vec<Alert> {
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .list_alerts(ListAlertsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("listing alerts")
        .into_inner()
        .alerts
}

/// Waits until some alert satisfies `check`.
pub async fn wait_for(app: &TestApp, what: &str, check: impl Fn(&Alert) -> bool) -> Alert {
    eventually(WAIT, what, || async {
        all_alerts(app).await.into_iter().find(|a| check(a))
    })
    .await
}

pub fn lead_opened(lead_id: &str, rep_id: &str, at_ms: i64) -> LeadOpened {
    LeadOpened {
        lead_id: lead_id.into(),
        rep_id: rep_id.into(),
        team_id: "north".into(),
        opened_at_ms: at_ms,
    }
}

pub fn touch(lead_id: &str, opportunity_id: &str, next_follow_up: &str) -> ActivityLogged {
    ActivityLogged {
        activity_id: leadwheel_plumbing::ids::new_id(),
        kind: "call".into(),
        lead_id: lead_id.into(),
        opportunity_id: opportunity_id.into(),
        by: "ana".into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        next_follow_up_date: next_follow_up.into(),
        ..Default::default()
    }
}

async fn events_of<M: prost::Message + Default>(app: &TestApp, subject: &str) -> Vec<M> {
    read_events(&app.nats_url, &ALERTS_STREAM, subject).await
}

on_both_backends!(no_first_touch_fires_once_across_restarts_escalates_and_resolves);
async fn no_first_touch_fires_once_across_restarts_escalates_and_resolves(db: TestDb) {
    let Fixture {
        env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    // Default: 4 hours after the claim.
    tables
        .wait_timer("rule:no_first_touch:lead-1", t0 + 4 * 3_600_000)
        .await;
    clock.advance(3 * HOUR);

    // Alerting goes down in the middle; the timer falls due meanwhile.
    app.stop().await;
    clock.advance(HOUR + Duration::from_secs(1));
    let app = spawn_app_at(&env, &clock).await;
    let alert = wait_for(&app, "the no_first_touch alert", |a| {
        a.kind == "no_first_touch"
    })
    .await;
    assert_eq!(alert.subject_key, "lead-1");
    assert_eq!(alert.recipient_id, "ana");
    assert_eq!(alert.recipient_ids, ["ana"]);
    assert_eq!(alert.state, "open");
    assert_eq!(alert.dedupe_key, format!("lead-1@{t0}"));
    assert!(alert.message.contains("4 h"), "{}", alert.message);
    tables.wait_no_timer("rule:no_first_touch:lead-1").await;

    // Another restart, and the same claim reported again: still one alert.
    app.stop().await;
    let app = spawn_app_at(&env, &clock).await;
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    // Events apply in stream order: once a later claim's timer is armed,
    // lead-1's repeat was applied; its re-armed timer, overdue, fires at
    // once and dedupes.
    // (Claimed an hour from now, so its own alert stays out of the way.)
    let now = clock.now_ms() + 3_600_000;
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "sentinel",
        &lead_opened("sentinel", "ana", now),
    )
    .await;
    tables
        .wait_timer("rule:no_first_touch:sentinel", now + 4 * 3_600_000)
        .await;
    tables.wait_no_timer("rule:no_first_touch:lead-1").await;
    let escalation = format!("escalate:{}", alert.alert_id);
    assert!(tables.timer_due(&escalation).await.is_some());
    let alerts = all_alerts(&app).await;
    assert_eq!(
        alerts.iter().filter(|a| a.kind == "no_first_touch").count(),
        1
    );

    // Not acknowledged within 4 hours: the manager is told.
    clock.advance(4 * HOUR);
    let escalated = wait_for(&app, "the escalation", |a| a.escalation_level == 1).await;
    assert_eq!(escalated.alert_id, alert.alert_id);
    assert_eq!(escalated.recipient_ids, ["ana", "maya"]);
    let mut maya = app.client("maya", Role::Manager).await;
    let mine = maya
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].alert_id, alert.alert_id);

    // The rep touches the lead: resolved, nothing left armed.
    app.opps(
        subjects::OPPS_ACTIVITY_LOGGED,
        "lead-1",
        &touch("lead-1", "", ""),
    )
    .await;
    let resolved = wait_for(&app, "the resolution", |a| a.state == "resolved").await;
    assert_eq!(resolved.resolved_reason, "activity_logged");
    assert!(tables.timer_due(&escalation).await.is_none());

    let raised: Vec<AlertRaised> = eventually(WAIT, "the events", || async {
        let resolved: Vec<AlertResolved> = events_of(&app, subjects::ALERT_RESOLVED).await;
        (!resolved.is_empty()).then_some(())?;
        Some(events_of(&app, subjects::ALERT_RAISED).await)
    })
    .await;
    assert_eq!(raised.len(), 1, "one alerts.raised across two restarts");
    assert_eq!(raised[0].recipient_ids, ["ana"]);
    let up: Vec<AlertEscalated> = events_of(&app, subjects::ALERT_ESCALATED).await;
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].to, "maya");
    let resolved: Vec<AlertResolved> = events_of(&app, subjects::ALERT_RESOLVED).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].reason, "activity_logged");
    tables.close().await;
    app.stop().await;
}

on_both_backends!(one_failing_timer_holds_back_none_of_the_others);
async fn one_failing_timer_holds_back_none_of_the_others(db: TestDb) {
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    // The store refuses lead-bad's alert, so its timer fails wherever it
    // fires; the four fall due together, so they are read as one batch.
    tables.refuse_alerts_about("lead-bad").await;
    let leads = ["lead-1", "lead-bad", "lead-2", "lead-3"];
    for lead in leads {
        app.opps(
            subjects::OPPS_LEAD_OPENED,
            lead,
            &lead_opened(lead, "ana", t0),
        )
        .await;
    }
    for lead in leads {
        tables
            .wait_timer(&format!("rule:no_first_touch:{lead}"), t0 + 4 * 3_600_000)
            .await;
    }
    clock.advance(4 * HOUR + Duration::from_secs(1));
    let fell_due = clock.now_ms();

    // The others fire; the failing one is moved ahead, not lost.
    for lead in ["lead-1", "lead-2", "lead-3"] {
        wait_for(&app, &format!("{lead}'s alert"), |a| a.subject_key == lead).await;
        tables
            .wait_no_timer(&format!("rule:no_first_touch:{lead}"))
            .await;
    }
    tables
        .wait_timer("rule:no_first_touch:lead-bad", fell_due + 10_000)
        .await;
    assert!(
        all_alerts(&app)
            .await
            .iter()
            .all(|a| a.subject_key != "lead-bad")
    );

    // Once the store takes it again, it fires when its retry is due: once.
    tables.accept_alerts().await;
    clock.advance(Duration::from_secs(10));
    wait_for(&app, "lead-bad's alert", |a| a.subject_key == "lead-bad").await;
    tables.wait_no_timer("rule:no_first_touch:lead-bad").await;
    let alerts = all_alerts(&app).await;
    for lead in leads {
        assert_eq!(
            alerts.iter().filter(|a| a.subject_key == lead).count(),
            1,
            "one alert about {lead}"
        );
    }
    let raised: Vec<AlertRaised> = eventually(WAIT, "four alerts.raised", || async {
        let raised: Vec<AlertRaised> = events_of(&app, subjects::ALERT_RAISED).await;
        (raised.len() >= 4).then_some(raised)
    })
    .await;
    let mut subjects: Vec<&str> = raised.iter().map(|r| r.subject_key.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["lead-1", "lead-2", "lead-3", "lead-bad"]);
    tables.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_touch_before_the_threshold_raises_nothing() {
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::start(TestDb::sqlite(), leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    tables
        .wait_timer("rule:no_first_touch:lead-1", t0 + 4 * 3_600_000)
        .await;
    clock.advance(HOUR);
    app.opps(
        subjects::OPPS_ACTIVITY_LOGGED,
        "lead-1",
        &touch("lead-1", "", ""),
    )
    .await;
    tables.wait_no_timer("rule:no_first_touch:lead-1").await;
    clock.advance(DAY);
    // A later lead's alert shows the timer loop ran past lead-1's due time.
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-2",
        &lead_opened("lead-2", "ana", t0),
    )
    .await;
    wait_for(&app, "lead-2's alert", |a| a.subject_key == "lead-2").await;
    assert!(
        all_alerts(&app)
            .await
            .iter()
            .all(|a| a.subject_key != "lead-1")
    );
    tables.close().await;
    app.stop().await;
}

fn opportunity(stage: &str, entered_at_ms: i64, status: &str) -> OpportunityState {
    OpportunityState {
        opportunity_id: "opp-1".into(),
        lead_id: "lead-1".into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        stage: stage.into(),
        status: status.into(),
        stage_entered_at_ms: entered_at_ms,
        ..Default::default()
    }
}

on_both_backends!(stuck_in_stage_fires_per_stage_and_resolves_when_the_deal_moves);
async fn stuck_in_stage_fires_per_stage_and_resolves_when_the_deal_moves(db: TestDb) {
    let Fixture {
        env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    let opened = OpportunityOpened {
        opportunity: Some(opportunity("trial", t0, "open")),
        by: "ana".into(),
        at_ms: t0,
    };
    app.opps(subjects::OPPS_OPPORTUNITY_OPENED, "opp-1", &opened)
        .await;
    let key = "rule:stuck_in_stage:opp-1";
    tables.wait_timer(key, t0 + 21 * 86_400_000).await;

    clock.advance(20 * DAY);
    app.stop().await;
    clock.advance(2 * DAY);
    let app = spawn_app_at(&env, &clock).await;
    let stuck = wait_for(&app, "stuck in trial", |a| a.kind == "stuck_in_stage").await;
    assert_eq!(
        stuck.recipient_ids,
        ["ana", "maya"],
        "rep and manager by default"
    );
    assert!(
        stuck.message.contains("trial") && stuck.message.contains("22 d"),
        "{}",
        stuck.message
    );

    // Moves on to commercial: the trial alert resolves, commercial is armed.
    let entered = t0 + 22 * 86_400_000;
    let moved = OpportunityStageChanged {
        opportunity: Some(opportunity("commercial", entered, "open")),
        from_stage: "trial".into(),
        to_stage: "commercial".into(),
        from_stage_entered_at_ms: t0,
        at_ms: entered,
        ..Default::default()
    };
    app.opps(subjects::OPPS_OPPORTUNITY_STAGE_CHANGED, "opp-1", &moved)
        .await;
    tables.wait_timer(key, entered + 10 * 86_400_000).await;
    let resolved = wait_for(&app, "trial alert resolved", |a| a.state == "resolved").await;
    assert_eq!(resolved.alert_id, stuck.alert_id);
    assert_eq!(resolved.resolved_reason, "stage_changed");

    clock.advance(11 * DAY);
    let second = wait_for(&app, "stuck in commercial", |a| {
        a.kind == "stuck_in_stage" && a.state == "open"
    })
    .await;
    assert_ne!(second.alert_id, stuck.alert_id);
    assert!(second.dedupe_key.contains("commercial"));

    let closed = OpportunityClosed {
        opportunity: Some(opportunity("won", entered, "won")),
        won: true,
        ..Default::default()
    };
    app.opps(subjects::OPPS_OPPORTUNITY_CLOSED, "opp-1", &closed)
        .await;
    tables.wait_no_timer(key).await;
    eventually(WAIT, "every alert resolved", || async {
        all_alerts(&app)
            .await
            .iter()
            .all(|a| a.state == "resolved")
            .then_some(())
    })
    .await;
    tables.close().await;
    app.stop().await;
}

/// Ana sets lead-1's next follow-up (team north) to `date`.
async fn set_ana_s_follow_up(app: &TestApp, date: &str) {
    let set = FollowUpSet {
        lead_id: "lead-1".into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        date: date.into(),
        by: "ana".into(),
        ..Default::default()
    };
    app.opps(subjects::OPPS_FOLLOW_UP_SET, "lead-1", &set).await;
}

on_both_backends!(follow_up_overdue_goes_to_the_rep_then_the_manager);
async fn follow_up_overdue_goes_to_the_rep_then_the_manager(db: TestDb) {
    // 2026-03-01T00:00:00Z: the follow-up of 2026-03-02 is due at 03-03 00:00.
    let Fixture {
        env,
        clock,
        app,
        tables,
    } = Fixture::north(db, 1_772_323_200_000).await;
    set_ana_s_follow_up(&app, "2026-03-02").await;
    let key = "rule:follow_up_overdue:lead-1";
    tables
        .wait_timer(key, 1_772_323_200_000 + 2 * 86_400_000)
        .await;
    // Down over the due time; the overdue timer fires at start.
    app.stop().await;
    clock.advance(2 * DAY + Duration::from_secs(60));
    let app = spawn_app_at(&env, &clock).await;
    let alert = wait_for(&app, "overdue", |a| a.kind == "follow_up_overdue").await;
    assert_eq!(alert.recipient_ids, ["ana"]);
    assert_eq!(alert.dedupe_key, "lead-1@2026-03-02");
    clock.advance(2 * DAY);
    let up = wait_for(&app, "escalated", |a| a.escalation_level == 1).await;
    assert_eq!(up.recipient_ids, ["ana", "maya"]);

    // A touch that sets the next date: resolved and armed for the new date.
    app.opps(
        subjects::OPPS_ACTIVITY_LOGGED,
        "lead-1",
        &touch("lead-1", "", "2026-03-10"),
    )
    .await;
    let resolved = wait_for(&app, "resolved", |a| a.state == "resolved").await;
    assert_eq!(resolved.resolved_reason, "activity_logged");
    tables
        .wait_timer(key, 1_772_323_200_000 + 10 * 86_400_000)
        .await;
    tables.close().await;
    app.stop().await;
}

on_both_backends!(a_follow_up_is_overdue_at_the_end_of_its_day_in_the_business_time_zone);
/// With the business time zone set to Shanghai (UTC+8), a follow-up dated
/// 2026-03-02 is overdue at midnight there: 16:00 UTC that day, not 8
/// hours later at midnight UTC.
async fn a_follow_up_is_overdue_at_the_end_of_its_day_in_the_business_time_zone(db: TestDb) {
    let env = Env::new(db);
    let clock = ManualClock::new(1_772_323_200_000);
    let settings = Settings {
        clock: std::sync::Arc::new(clock.clone()),
        zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        ..Settings::default()
    };
    let app = spawn_app_with(&env, settings).await;
    let tables = Tables::open(&env).await;
    team(&app, "north", "maya", &["ana"]).await;
    tables.wait_team("north", "maya").await;
    set_ana_s_follow_up(&app, "2026-03-02").await;
    // 2026-03-03T00:00:00+08:00.
    tables
        .wait_timer(
            "rule:follow_up_overdue:lead-1",
            1_772_323_200_000 + 86_400_000 + 16 * 3_600_000,
        )
        .await;
    tables.close().await;
    app.stop().await;
}

on_both_backends!(acknowledge_and_snooze_only_ones_own_and_the_teams);
async fn acknowledge_and_snooze_only_ones_own_and_the_teams(db: TestDb) {
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::start(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    team(&app, "north", "maya", &["ana", "ben"]).await;
    team(&app, "south", "sam", &["sue"]).await;
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-2",
        &lead_opened("lead-2", "ana", t0),
    )
    .await;
    tables
        .wait_timer("rule:no_first_touch:lead-2", t0 + 4 * 3_600_000)
        .await;
    clock.advance(4 * HOUR + Duration::from_secs(1));
    let first = wait_for(&app, "lead-1", |a| a.subject_key == "lead-1").await;
    let second = wait_for(&app, "lead-2", |a| a.subject_key == "lead-2").await;

    let ack = |id: &str| AcknowledgeAlertRequest {
        alert_id: id.into(),
    };
    let mut ben = app.client("ben", Role::Rep).await;
    let denied = ben
        .acknowledge_alert(ack(&first.alert_id))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mut sam = app.client("sam", Role::Manager).await;
    let denied = sam
        .acknowledge_alert(ack(&first.alert_id))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let none = sam
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(none.alerts.is_empty(), "sam sees nothing of north's");
    let missing = ben.acknowledge_alert(ack("alert_nope")).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let empty = ben.acknowledge_alert(ack("")).await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(
        empty.get_details_bad_request().unwrap().field_violations[0].field,
        "alert_id"
    );

    // One alert by its id (an alert's link in the console), to the same
    // people: its rep and the team's manager, not another rep or team.
    let get = |id: &str| GetAlertRequest {
        alert_id: id.into(),
    };
    let mut ana = app.client("ana", Role::Rep).await;
    let mut maya = app.client("maya", Role::Manager).await;
    for (who, client) in [("ana", &mut ana), ("maya", &mut maya)] {
        let got = client
            .get_alert(get(&first.alert_id))
            .await
            .unwrap_or_else(|s| panic!("{who}: {s:?}"))
            .into_inner()
            .alert
            .unwrap();
        assert_eq!(
            (got.alert_id.as_str(), got.subject_key.as_str()),
            (first.alert_id.as_str(), "lead-1"),
            "{who}"
        );
    }
    for client in [&mut ben, &mut sam] {
        let denied = client.get_alert(get(&first.alert_id)).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    assert_eq!(
        ana.get_alert(get("alert_nope")).await.unwrap_err().code(),
        Code::NotFound
    );
    let empty = ana.get_alert(get("")).await.unwrap_err();
    assert_eq!(
        (
            empty.code(),
            empty.get_details_bad_request().unwrap().field_violations[0]
                .field
                .as_str()
        ),
        (Code::InvalidArgument, "alert_id")
    );

    // The rep acknowledges: no escalation any more.
    let acked = ana
        .acknowledge_alert(ack(&first.alert_id))
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(acked.state, "acknowledged");
    assert_eq!(acked.acknowledged_by, "ana");
    assert!(
        tables
            .timer_due(&format!("escalate:{}", first.alert_id))
            .await
            .is_none()
    );

    // The manager snoozes the other for an hour; bad snoozes name the field.
    let team_view = maya
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(team_view.len(), 2, "maya sees her team's alerts");
    for (request, field) in [
        (
            SnoozeAlertRequest {
                alert_id: second.alert_id.clone(),
                ..Default::default()
            },
            "until_ms",
        ),
        (
            SnoozeAlertRequest {
                alert_id: second.alert_id.clone(),
                duration_seconds: -5,
                ..Default::default()
            },
            "duration_seconds",
        ),
        (
            SnoozeAlertRequest {
                alert_id: second.alert_id.clone(),
                until_ms: t0 - 1,
                ..Default::default()
            },
            "until_ms",
        ),
    ] {
        let status = maya.snooze_alert(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.get_details_bad_request().unwrap().field_violations[0].field,
            field
        );
    }
    let snoozed = maya
        .snooze_alert(SnoozeAlertRequest {
            alert_id: second.alert_id.clone(),
            duration_seconds: 3_600,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(snoozed.state, "snoozed");
    assert!(
        tables
            .timer_due(&format!("escalate:{}", second.alert_id))
            .await
            .is_none()
    );
    let snooze_end = snoozed.snoozed_until_ms;
    assert_eq!(
        tables
            .timer_due(&format!("snooze:{}", second.alert_id))
            .await,
        Some(snooze_end)
    );
    // An acknowledged alert cannot be snoozed.
    let refused = ana
        .snooze_alert(SnoozeAlertRequest {
            alert_id: first.alert_id.clone(),
            duration_seconds: 60,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // The snooze ends: open again, escalation re-armed from then.
    clock.advance(HOUR);
    let reopened = wait_for(&app, "snooze over", |a| {
        a.alert_id == second.alert_id && a.state == "open"
    })
    .await;
    assert_eq!(reopened.snoozed_until_ms, 0);
    tables
        .wait_timer(
            &format!("escalate:{}", second.alert_id),
            clock.now_ms() + 4 * 3_600_000,
        )
        .await;

    let acks: Vec<AlertAcknowledged> = events_of(&app, subjects::ALERT_ACKNOWLEDGED).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].by, "ana");
    let snoozes: Vec<AlertSnoozed> = eventually(WAIT, "both snooze events", || async {
        let s: Vec<AlertSnoozed> = events_of(&app, subjects::ALERT_SNOOZED).await;
        (s.len() == 2).then_some(s)
    })
    .await;
    assert_eq!(
        (snoozes[0].by.as_str(), snoozes[0].until_ms),
        ("maya", snooze_end)
    );
    assert_eq!(snoozes[1].until_ms, 0, "the snooze ended");
    tables.close().await;
    app.stop().await;
}

on_both_backends!(an_alert_nobody_acknowledges_climbs_to_the_second_level);
async fn an_alert_nobody_acknowledges_climbs_to_the_second_level(db: TestDb) {
    use leadwheel_proto::alerting::v1::{Rule, SetRuleRequest};
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "north".into(),
                rule: "no_first_touch".into(),
                enabled: true,
                threshold_seconds: 60,
                recipients: "rep".into(),
                escalate_after_seconds: 60,
                second_escalation_to: "vera".into(),
                second_escalate_after_seconds: 120,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    tables
        .wait_timer("rule:no_first_touch:lead-1", t0 + 60_000)
        .await;
    clock.advance(Duration::from_secs(61));
    let alert = wait_for(&app, "the alert", |a| a.subject_key == "lead-1").await;
    let key = format!("escalate:{}", alert.alert_id);
    tables.wait_timer(&key, t0 + 121_000).await;
    clock.advance(Duration::from_secs(60));
    wait_for(&app, "level 1", |a| a.escalation_level == 1).await;
    tables.wait_timer(&key, t0 + 241_000).await;
    clock.advance(Duration::from_secs(120));
    let top = wait_for(&app, "level 2", |a| a.escalation_level == 2).await;
    assert_eq!(top.recipient_ids, ["ana", "maya", "vera"]);
    tables.wait_no_timer(&key).await;
    let ups: Vec<AlertEscalated> = eventually(WAIT, "two escalations", || async {
        let ups: Vec<AlertEscalated> = events_of(&app, subjects::ALERT_ESCALATED).await;
        (ups.len() == 2).then_some(ups)
    })
    .await;
    let steps: Vec<(i32, &str)> = ups.iter().map(|e| (e.level, e.to.as_str())).collect();
    assert_eq!(steps, [(1, "maya"), (2, "vera")]);
    tables.close().await;
    app.stop().await;
}

on_both_backends!(a_rep_who_left_is_no_longer_told_nor_answered_for);
/// `wheel.rep.left`: ben's manager no longer answers for him, and a timed
/// rule about a lead he still owns (not handed over yet) goes to the
/// manager instead of him; ana, still a member, is told as before.
async fn a_rep_who_left_is_no_longer_told_nor_answered_for(db: TestDb) {
    use leadwheel_proto::events::v1::{RepLeft, rep_left};
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::start(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    team(&app, "north", "maya", &["ana", "ben"]).await;
    let mut maya = app.client("maya", Role::Manager).await;
    let bens = ListAlertsRequest {
        recipient_id: "ben".into(),
        ..Default::default()
    };
    eventually(WAIT, "maya to answer for ben", || {
        let mut maya = maya.clone();
        let bens = bens.clone();
        async move { maya.list_alerts(bens).await.ok().map(|_| ()) }
    })
    .await;
    for (lead, rep) in [("lead-a", "ana"), ("lead-b", "ben")] {
        app.opps(
            subjects::OPPS_LEAD_OPENED,
            lead,
            &lead_opened(lead, rep, t0),
        )
        .await;
        tables
            .wait_timer(&format!("rule:no_first_touch:{lead}"), t0 + 4 * 3_600_000)
            .await;
    }
    app.wheel(
        subjects::REP_LEFT,
        "ben",
        &RepLeft {
            rep_id: "ben".into(),
            team_id: "north".into(),
            why: Some(rep_left::Why::RemovedBy("maya".into())),
            at_ms: 2,
        },
    )
    .await;
    let refused = eventually(WAIT, "maya to stop answering for ben", || {
        let mut maya = maya.clone();
        let bens = bens.clone();
        async move { maya.list_alerts(bens).await.err() }
    })
    .await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    clock.advance(4 * HOUR + Duration::from_secs(1));
    let to_maya = wait_for(&app, "ben's lead's alert", |a| a.subject_key == "lead-b").await;
    assert_eq!(to_maya.kind, "no_first_touch");
    assert_eq!(to_maya.recipient_ids, ["maya"], "{to_maya:?}");
    let to_ana = wait_for(&app, "ana's lead's alert", |a| a.subject_key == "lead-a").await;
    assert_eq!(to_ana.recipient_ids, ["ana"], "{to_ana:?}");
    // The team's alerts stay visible to the manager.
    let seen = maya
        .list_alerts(ListAlertsRequest::default())
        .await
        .expect("maya lists north's alerts")
        .into_inner()
        .alerts;
    assert!(seen.iter().any(|a| a.subject_key == "lead-b"), "{seen:?}");
    tables.close().await;
    app.stop().await;
}

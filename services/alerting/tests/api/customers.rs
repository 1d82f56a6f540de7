//! Silent customers and saturated reps.

use std::time::Duration;

use leadwheel_alerting::Clock;
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::alerting::v1::{Rule, SetRuleRequest};
use leadwheel_proto::events::v1::{
    AccountChanged, HandoverCompleted, HandoverTaskCompleted, HandoverTaskCreated, OfferClosed,
    OfferOutcome,
};

use crate::helpers::{Fixture, WAIT, spawn_app_at, team};
use crate::lifecycle::{all_alerts, touch, wait_for};

const DAY: Duration = Duration::from_secs(86_400);

fn account(tier: &str, status: &str, version: i64, at_ms: i64) -> AccountChanged {
    AccountChanged {
        account_id: "acct-1".into(),
        name: "Brightline".into(),
        tier: tier.into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        status: status.into(),
        version,
        at_ms,
        ..Default::default()
    }
}

on_both_backends!(a_silent_customer_alerts_the_owner_until_touched);
async fn a_silent_customer_alerts_the_owner_until_touched(db: TestDb) {
    let Fixture {
        env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    app.opps(
        subjects::OPPS_ACCOUNT_CREATED,
        "acct-1",
        &account("A", "active", 1, t0),
    )
    .await;
    let key = "rule:silent_customer:acct-1";
    // Tier A: 14 days by default.
    tables.wait_timer(key, t0 + 14 * 86_400_000).await;
    // Down while the customer goes silent.
    clock.advance(10 * DAY);
    app.stop().await;
    clock.advance(5 * DAY);
    let app = spawn_app_at(&env, &clock).await;
    let alert = wait_for(&app, "the silent customer", |a| a.kind == "silent_customer").await;
    assert_eq!(alert.recipient_ids, ["ana"]);
    assert_eq!(alert.dedupe_key, format!("acct-1@{t0}"));
    assert!(alert.message.contains("tier A"), "{}", alert.message);

    // A touch resolves it and re-arms from the touch.
    let touched_at = clock.now_ms();
    let mut call = touch("", "", "");
    call.account_id = "acct-1".into();
    call.at_ms = touched_at;
    app.opps(subjects::OPPS_ACTIVITY_LOGGED, "acct-1", &call)
        .await;
    tables.wait_timer(key, touched_at + 14 * 86_400_000).await;
    let resolved = wait_for(&app, "resolved", |a| a.state == "resolved").await;
    assert_eq!(resolved.resolved_reason, "activity_logged");

    // Closing the account disarms it for good.
    app.opps(
        subjects::OPPS_ACCOUNT_UPDATED,
        "acct-1",
        &account("A", "closed", 2, touched_at),
    )
    .await;
    tables.wait_no_timer(key).await;
    clock.advance(30 * DAY);
    let mut again = account("A", "active", 1, t0);
    again.account_id = "acct-2".into();
    app.opps(subjects::OPPS_ACCOUNT_CREATED, "acct-2", &again)
        .await;
    wait_for(&app, "acct-2's alert", |a| a.subject_key == "acct-2").await;
    let about_one = all_alerts(&app)
        .await
        .into_iter()
        .filter(|a| a.subject_key == "acct-1")
        .count();
    assert_eq!(
        about_one, 1,
        "one alert for acct-1, resolved, none after closing"
    );
    tables.close().await;
    app.stop().await;
}

fn closed(n: usize, outcome: OfferOutcome, at_ms: i64) -> OfferClosed {
    OfferClosed {
        offer_id: format!("offer-{n}"),
        lead_id: format!("lead-{n}"),
        team_id: "north".into(),
        rep_id: "ben".into(),
        outcome: outcome as i32,
        opened_at_ms: at_ms - 1_000,
        closed_at_ms: at_ms,
        ..Default::default()
    }
}

on_both_backends!(a_saturated_rep_alerts_the_manager_once_per_episode);
async fn a_saturated_rep_alerts_the_manager_once_per_episode(db: TestDb) {
    let Fixture {
        env: _env,
        clock,
        app,
        tables: _tables,
    } = Fixture::start(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    team(&app, "north", "maya", &["ben"]).await;
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "north".into(),
                rule: "rep_saturated".into(),
                enabled: true,
                threshold_seconds: 3_600,
                recipients: "manager".into(),
                share_percent: 50,
                min_count: 4,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    // 2 claimed, then misses: the 5th offer (3 missed of 5) crosses 50 %.
    let outcomes = [
        OfferOutcome::Claimed,
        OfferOutcome::Claimed,
        OfferOutcome::Passed,
        OfferOutcome::Expired,
        OfferOutcome::Expired,
        OfferOutcome::Passed,
    ];
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let at = t0 + n as i64 * 60_000;
        app.wheel(subjects::OFFER_CLOSED, "ben", &closed(n, outcome, at))
            .await;
    }
    let alert = wait_for(&app, "ben saturated", |a| a.kind == "rep_saturated").await;
    assert_eq!(alert.recipient_ids, ["maya"]);
    assert_eq!(alert.subject_key, "ben");
    assert_eq!(alert.dedupe_key, format!("ben@{}", t0 + 4 * 60_000));
    assert!(
        alert.message.contains("3 of their last 5"),
        "{}",
        alert.message
    );

    // Claims bring the share back under: resolved. An hour later the old
    // offers are out of the window; a new run of misses is a new episode.
    for n in 6..10 {
        let at = t0 + n as i64 * 60_000;
        app.wheel(
            subjects::OFFER_CLOSED,
            "ben",
            &closed(n, OfferOutcome::Claimed, at),
        )
        .await;
    }
    let resolved = wait_for(&app, "load eased", |a| a.state == "resolved").await;
    assert_eq!(resolved.resolved_reason, "load_eased");
    let later = t0 + 2 * 3_600_000;
    for n in 10..15 {
        let outcome = if n < 11 {
            OfferOutcome::Claimed
        } else {
            OfferOutcome::Expired
        };
        app.wheel(
            subjects::OFFER_CLOSED,
            "ben",
            &closed(n, outcome, later + n as i64),
        )
        .await;
    }
    eventually(WAIT, "a second episode", || async {
        let alerts = all_alerts(&app).await;
        (alerts.iter().filter(|a| a.kind == "rep_saturated").count() == 2).then_some(())
    })
    .await;
    let open: Vec<_> = all_alerts(&app)
        .await
        .into_iter()
        .filter(|a| a.kind == "rep_saturated" && a.state == "open")
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].dedupe_key, format!("ben@{}", later + 13));
    app.stop().await;
}

fn task(task_id: &str, handover_id: &str, account_id: &str, due: &str) -> HandoverTaskCreated {
    HandoverTaskCreated {
        task_id: task_id.into(),
        handover_id: handover_id.into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        kind: "visit".into(),
        account_id: account_id.into(),
        due_date: due.into(),
        ..Default::default()
    }
}

on_both_backends!(an_overdue_handover_task_tells_the_new_owner_and_the_manager);
async fn an_overdue_handover_task_tells_the_new_owner_and_the_manager(db: TestDb) {
    // 2026-03-01T00:00:00Z; tasks due 2026-03-02 are overdue from 03-03.
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::north(db, 1_772_323_200_000).await;
    app.opps(
        subjects::OPPS_HANDOVER_TASK_CREATED,
        "task-1",
        &task("task-1", "ho-1", "acct-1", "2026-03-02"),
    )
    .await;
    app.opps(
        subjects::OPPS_HANDOVER_TASK_CREATED,
        "task-2",
        &task("task-2", "ho-2", "acct-2", "2026-03-02"),
    )
    .await;
    let due = 1_772_323_200_000 + 2 * 86_400_000;
    tables
        .wait_timer("rule:handover_task_overdue:task-2", due)
        .await;
    // Handover 2 completes in time: its task raises nothing.
    let completed = HandoverCompleted {
        handover_id: "ho-2".into(),
        rep_id: "leo".into(),
        team_id: "north".into(),
        tasks_done: 1,
        at_ms: clock.now_ms(),
    };
    app.opps(subjects::OPPS_HANDOVER_COMPLETED, "ho-2", &completed)
        .await;
    tables
        .wait_no_timer("rule:handover_task_overdue:task-2")
        .await;

    clock.advance(2 * DAY + Duration::from_secs(1));
    let alert = wait_for(&app, "task-1 overdue", |a| {
        a.kind == "handover_task_overdue"
    })
    .await;
    assert_eq!(alert.subject_key, "task-1");
    assert_eq!(alert.recipient_ids, ["ana", "maya"]);
    assert!(
        alert.message.contains("visit acct-1, due 2026-03-02"),
        "{}",
        alert.message
    );

    // Ana visits the customer: the task counts as done.
    let mut visit = touch("", "", "");
    visit.account_id = "acct-1".into();
    visit.at_ms = clock.now_ms();
    app.opps(subjects::OPPS_ACTIVITY_LOGGED, "acct-1", &visit)
        .await;
    let resolved = wait_for(&app, "resolved", |a| a.state == "resolved").await;
    assert_eq!(resolved.resolved_reason, "activity_logged");
    assert!(
        all_alerts(&app)
            .await
            .iter()
            .all(|a| a.subject_key != "task-2")
    );
    tables.close().await;
    app.stop().await;
}

fn task_completed(task_id: &str, handover_id: &str, at_ms: i64) -> HandoverTaskCompleted {
    HandoverTaskCompleted {
        task_id: task_id.into(),
        handover_id: handover_id.into(),
        owner_rep_id: "ana".into(),
        team_id: "north".into(),
        by: "ana".into(),
        at_ms,
    }
}

on_both_backends!(a_handover_task_marked_done_stops_or_resolves_its_alert);
/// A task marked done in opportunity, with no touch logged: done before it
/// is due, it never alerts; done after, its alert resolves.
async fn a_handover_task_marked_done_stops_or_resolves_its_alert(db: TestDb) {
    // 2026-03-01T00:00:00Z; tasks due 2026-03-02 are overdue from 03-03.
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::north(db, 1_772_323_200_000).await;
    let due = 1_772_323_200_000 + 2 * 86_400_000;
    for (task_id, account) in [("task-early", "acct-1"), ("task-late", "acct-2")] {
        app.opps(
            subjects::OPPS_HANDOVER_TASK_CREATED,
            task_id,
            &task(task_id, "ho-1", account, "2026-03-02"),
        )
        .await;
        tables
            .wait_timer(&format!("rule:handover_task_overdue:{task_id}"), due)
            .await;
    }

    // Marked done in time: disarmed, and the rest of the handover (not
    // complete) is left alone.
    app.opps(
        subjects::OPPS_HANDOVER_TASK_COMPLETED,
        "task-early",
        &task_completed("task-early", "ho-1", clock.now_ms()),
    )
    .await;
    tables
        .wait_no_timer("rule:handover_task_overdue:task-early")
        .await;
    assert_eq!(
        tables
            .timer_due("rule:handover_task_overdue:task-late")
            .await,
        Some(due)
    );

    clock.advance(2 * DAY + Duration::from_secs(1));
    let alert = wait_for(&app, "task-late overdue", |a| {
        a.kind == "handover_task_overdue"
    })
    .await;
    assert_eq!(alert.subject_key, "task-late");

    // Marked done late (no touch logged): the alert resolves.
    app.opps(
        subjects::OPPS_HANDOVER_TASK_COMPLETED,
        "task-late",
        &task_completed("task-late", "ho-1", clock.now_ms()),
    )
    .await;
    let resolved = wait_for(&app, "task-late resolved", |a| {
        a.subject_key == "task-late" && a.state == "resolved"
    })
    .await;
    assert_eq!(resolved.resolved_reason, "task_completed");
    let alerts = all_alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");

    // Told twice (a redelivery under a new id): nothing more happens.
    app.opps(
        subjects::OPPS_HANDOVER_TASK_COMPLETED,
        "task-late",
        &task_completed("task-late", "ho-1", clock.now_ms()),
    )
    .await;
    // Applied in order: once a task created after it is armed, it was seen.
    app.opps(
        subjects::OPPS_HANDOVER_TASK_CREATED,
        "task-after",
        &task("task-after", "ho-1", "acct-3", "2026-03-09"),
    )
    .await;
    tables
        .wait_timer(
            "rule:handover_task_overdue:task-after",
            1_772_323_200_000 + 9 * 86_400_000,
        )
        .await;
    let resolved_events = eventually(WAIT, "the resolution announced", || async {
        let events = app
            .events(
                &leadwheel_plumbing::bus::ALERTS_STREAM,
                subjects::ALERT_RESOLVED,
            )
            .await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(resolved_events.len(), 1);
    tables.close().await;
    app.stop().await;
}

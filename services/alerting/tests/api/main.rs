//! Integration tests of the alerting service: the real service, a real
//! `nats-server`, a real database (SQLite always, Postgres when
//! `TEST_POSTGRES_URL` is set) and real gRPC calls.

mod customers;
mod delivery;
mod forecast;
mod helpers;
mod lifecycle;
mod receivers;
mod rules;

use helpers::{Env, TestApp, WAIT, pooled, spawn_app};
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{ALERTS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually, publish_event};
use leadwheel_proto::alerting::v1::{Alert, ListAlertsRequest};
use leadwheel_proto::events::v1::AlertRaised;
use prost::Message;
use tonic::Code;
use tonic_types::StatusExt;

fn list(recipient_id: &str, page_size: i32, page_token: &str) -> ListAlertsRequest {
    ListAlertsRequest {
        recipient_id: recipient_id.into(),
        page_size,
        page_token: page_token.into(),
        state: String::new(),
    }
}

/// Waits until an alert about `lead_id` is listed (read as an admin).
async fn wait_alert(app: &TestApp, lead_id: &str) -> Alert {
    let client = app.client("root", Role::Admin).await;
    eventually(WAIT, &format!("an alert about {lead_id}"), || {
        let mut client = client.clone();
        async move {
            let page = client
                .list_alerts(list("", 500, ""))
                .await
                .ok()?
                .into_inner();
            page.alerts.into_iter().find(|a| a.subject_key == lead_id)
        }
    })
    .await
}

fn subjects_of(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.subject_key.as_str()).collect()
}

on_both_backends!(a_pooled_lead_alerts_the_manager);
async fn a_pooled_lead_alerts_the_manager(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    app.pool("lead-1", "north", "maya").await;

    let alert = wait_alert(&app, "lead-1").await;
    assert_eq!(alert.kind, "lead_pooled");
    assert_eq!(alert.team_id, "north");
    assert_eq!(alert.recipient_id, "maya");
    assert!(alert.alert_id.starts_with("alert_"));
    assert!(alert.message.contains("lead-1") && alert.message.contains("offered 3 times"));
    assert!(alert.raised_at_ms > 0);

    let mut maya = app.client("maya", Role::Manager).await;
    let mine = maya
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.alerts, vec![alert.clone()]);

    let events = eventually(WAIT, "alerts.raised on JetStream", || async {
        let events = app.events(&ALERTS_STREAM, subjects::ALERT_RAISED).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].r#type, subjects::ALERT_RAISED);
    assert_eq!(events[0].source, "alerting");
    assert_eq!(events[0].key, alert.alert_id);
    let raised = AlertRaised::decode(events[0].payload.as_slice()).unwrap();
    assert_eq!(
        raised,
        AlertRaised {
            alert_id: alert.alert_id,
            kind: alert.kind,
            team_id: alert.team_id,
            recipient_id: alert.recipient_id,
            subject_key: alert.subject_key,
            message: alert.message,
            raised_at_ms: alert.raised_at_ms,
            recipient_ids: vec!["maya".into()],
            dedupe_key: "lead-1".into(),
        }
    );
    app.stop().await;
}

on_both_backends!(a_repeated_pooling_raises_one_alert);
async fn a_repeated_pooling_raises_one_alert(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let first = app.pool("lead-1", "north", "maya").await;
    app.pool("lead-1", "north", "maya").await;
    app.redeliver(&first, "lead-1", &pooled("lead-1", "north", "maya"))
        .await;
    // Events are applied in stream order: once the sentinel's alert is in,
    // every event before it has been handled.
    app.pool("sentinel", "north", "maya").await;
    wait_alert(&app, "sentinel").await;

    let mut admin = app.client("root", Role::Admin).await;
    let all = admin
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&all.alerts), ["sentinel", "lead-1"]);

    eventually(WAIT, "the sentinel's alerts.raised", || async {
        let events = app.events(&ALERTS_STREAM, subjects::ALERT_RAISED).await;
        events
            .iter()
            .any(|e| {
                AlertRaised::decode(e.payload.as_slice())
                    .unwrap()
                    .subject_key
                    == "sentinel"
            })
            .then_some(())
    })
    .await;
    let events = app.events(&ALERTS_STREAM, subjects::ALERT_RAISED).await;
    let about_lead = events
        .iter()
        .filter(|e| {
            AlertRaised::decode(e.payload.as_slice())
                .unwrap()
                .subject_key
                == "lead-1"
        })
        .count();
    assert_eq!(about_lead, 1, "one alerts.raised for lead-1");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_read_what() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    app.pool("lead-n", "north", "maya").await;
    app.pool("lead-s", "south", "sam").await;
    // A team without a manager: the alert is for admins only.
    app.pool("lead-x", "", "").await;
    wait_alert(&app, "lead-n").await;
    wait_alert(&app, "lead-s").await;
    wait_alert(&app, "lead-x").await;

    let mut maya = app.client("maya", Role::Manager).await;
    let own = maya
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&own.alerts), ["lead-n"]);
    let own = maya
        .list_alerts(list("maya", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&own.alerts), ["lead-n"]);
    let denied = maya.list_alerts(list("sam", 0, "")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut ana = app.client("ana", Role::Rep).await;
    let own = ana.list_alerts(list("", 0, "")).await.unwrap().into_inner();
    assert!(own.alerts.is_empty());
    let denied = ana.list_alerts(list("maya", 0, "")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut admin = app.client("root", Role::Admin).await;
    let all = admin
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&all.alerts), ["lead-x", "lead-s", "lead-n"]);
    let sams = admin
        .list_alerts(list("sam", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&sams.alerts), ["lead-s"]);

    let mut crm = app.client("crm", Role::Integration).await;
    let denied = crm.list_alerts(list("", 0, "")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut anonymous = app.anonymous().await;
    let status = anonymous.list_alerts(list("", 0, "")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut forged = app.client_with_token("not.a.jwt").await;
    let status = forged.list_alerts(list("", 0, "")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    app.stop().await;
}

on_both_backends!(pages_walk_every_alert_once_newest_first);
async fn pages_walk_every_alert_once_newest_first(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    for n in 0..7 {
        app.pool(&format!("lead-{n}"), "north", "maya").await;
    }
    app.pool("other", "south", "sam").await;
    wait_alert(&app, "other").await;

    let mut maya = app.client("maya", Role::Manager).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = maya
            .list_alerts(list("", 3, &token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.alerts.len() <= 3);
        seen.extend(page.alerts.into_iter().map(|a| a.subject_key));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|n| format!("lead-{n}")).collect();
    assert_eq!(seen, expected, "every alert once, newest first");

    let first = maya
        .list_alerts(list("", 3, ""))
        .await
        .unwrap()
        .into_inner();
    let mut admin = app.client("root", Role::Admin).await;
    let status = admin
        .list_alerts(list("", 3, &first.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    for (size, token) in [(-1, ""), (501, ""), (3, "garbage!")] {
        let status = maya.list_alerts(list("", size, token)).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "page_size {size}, token {token:?}"
        );
        let details = status.get_details_bad_request().expect("field details");
        let expected = if token.is_empty() {
            "page_size"
        } else {
            "page_token"
        };
        assert_eq!(details.field_violations[0].field, expected);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_do_not_block_the_consumer() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    app.publish_garbage(subjects::LEAD_POOLED).await;
    app.pool("", "north", "maya").await;
    app.pool("lead-1", "north", "maya").await;
    wait_alert(&app, "lead-1").await;
    let mut admin = app.client("root", Role::Admin).await;
    let all = admin
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&all.alerts), ["lead-1"]);
    app.stop().await;
}

on_both_backends!(a_restart_keeps_alerts_and_dedupes_across_it);
async fn a_restart_keeps_alerts_and_dedupes_across_it(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    app.pool("lead-1", "north", "maya").await;
    let before = wait_alert(&app, "lead-1").await;
    app.stop().await;

    // Published while the service is down: waits in the stream.
    publish_event(
        &env.nats.url(),
        &WHEEL_STREAM,
        subjects::LEAD_POOLED,
        "lead-2",
        &pooled("lead-2", "north", "maya"),
    )
    .await
    .unwrap();
    let app = spawn_app(&env).await;
    wait_alert(&app, "lead-2").await;
    app.pool("lead-1", "north", "maya").await;
    app.pool("sentinel", "north", "maya").await;
    wait_alert(&app, "sentinel").await;
    let mut maya = app.client("maya", Role::Manager).await;
    let mine = maya
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects_of(&mine.alerts), ["sentinel", "lead-2", "lead-1"]);
    assert_eq!(mine.alerts[2], before, "the alert survived unchanged");
    app.stop().await;
}

on_both_backends!(escalations_and_the_circuit_breaker_tell_the_right_people);
async fn escalations_and_the_circuit_breaker_tell_the_right_people(db: TestDb) {
    use leadwheel_proto::events::v1::{LeadEscalated, RepAvailabilityChanged};
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let escalated = LeadEscalated {
        lead_id: "lead-9".into(),
        team_id: "north".into(),
        manager_id: "maya".into(),
        pooled_at_ms: 1_000,
        escalated_at_ms: 601_000,
    };
    for _ in 0..2 {
        publish_event(
            &app.nats_url,
            &WHEEL_STREAM,
            subjects::LEAD_ESCALATED,
            "lead-9",
            &escalated,
        )
        .await
        .unwrap();
    }
    let tripped = RepAvailabilityChanged {
        rep_id: "ben".into(),
        team_id: Some("north".into()),
        availability: "away".into(),
        by: "circuit_breaker".into(),
        reason: "3 offers in a row expired".into(),
        manager_id: Some("maya".into()),
        at_ms: 5_000,
    };
    publish_event(
        &app.nats_url,
        &WHEEL_STREAM,
        subjects::REP_AVAILABILITY_CHANGED,
        "ben",
        &tripped,
    )
    .await
    .unwrap();
    // A rep setting themselves away raises nothing.
    let by_hand = RepAvailabilityChanged {
        by: "ben".into(),
        at_ms: 6_000,
        ..tripped.clone()
    };
    publish_event(
        &app.nats_url,
        &WHEEL_STREAM,
        subjects::REP_AVAILABILITY_CHANGED,
        "ben",
        &by_hand,
    )
    .await
    .unwrap();
    app.pool("sentinel", "north", "maya").await;
    wait_alert(&app, "sentinel").await;

    let mut maya = app.client("maya", Role::Manager).await;
    let mine = maya
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let kinds: Vec<(&str, &str)> = mine
        .iter()
        .map(|a| (a.kind.as_str(), a.subject_key.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("lead_pooled", "sentinel"),
            ("rep_set_away", "ben"),
            ("lead_escalated", "lead-9")
        ]
    );
    assert!(mine[2].message.contains("10 min"), "{}", mine[2].message);
    let mut ben = app.client("ben", Role::Rep).await;
    let bens = ben
        .list_alerts(list("", 0, ""))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(
        bens.len(),
        1,
        "one notice for ben, none for setting himself away"
    );
    assert_eq!(bens[0].kind, "rep_set_away");
    assert!(
        bens[0].message.contains("3 offers in a row expired"),
        "{}",
        bens[0].message
    );
    app.stop().await;
}

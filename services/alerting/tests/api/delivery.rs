//! Delivery to real receivers: an HTTP server that fails once then
//! succeeds (retried), one that answers 400 (dead-lettered), a real SMTP
//! server (aiosmtpd), a core NATS subscriber and the WatchAlerts stream.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use leadwheel_alerting::config::{DeliveryConfig, SmtpConfig, SmtpTls};
use leadwheel_alerting::delivery::webhook::signature;
use leadwheel_alerting::{Clock, ManualClock, Settings};
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TEST_JWT_SECRET, TestDb, eventually};
use leadwheel_proto::alerting::v1::{
    Alert, Delivery, ListDeliveriesRequest, SetContactRequest, SetTeamWebhookRequest,
    WatchAlertsRequest,
};
use prost::Message;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Env, TestApp, WAIT, spawn_app_with, team};
use crate::lifecycle::wait_for;
use crate::receivers::{Hooks, Smtp};

const SECRET: &str = "webhook-secret-for-tests";
const CONSOLE: &str = "https://console.leadwheel.test";

fn settings(clock: &ManualClock, smtp: &Smtp) -> Settings {
    Settings {
        clock: Arc::new(clock.clone()),
        delivery: DeliveryConfig {
            webhook_secret: Some(Secret::new(SECRET)),
            webhook_timeout: Duration::from_secs(5),
            webhook_ca_file: None,
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: smtp.port,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "leadwheel alerts <alerts@leadwheel.test>".into(),
                timeout: Duration::from_secs(10),
                ca_file: None,
            }),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_attempts: 5,
            console_url: Some(CONSOLE.into()),
            signin_link_ttl: Duration::from_secs(3_600),
        },
        ..Settings::default()
    }
}

async fn deliveries(app: &TestApp, state: &str) -> Vec<Delivery> {
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .list_deliveries(ListDeliveriesRequest {
            state: state.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

on_both_backends!(alerts_reach_webhooks_email_and_live_watchers);
async fn alerts_reach_webhooks_email_and_live_watchers(db: TestDb) {
    let env = Env::new(db);
    let hooks = Hooks::start().await;
    let smtp = Smtp::start().await;
    let clock = ManualClock::new(leadwheel_plumbing::now_ms());
    let app = spawn_app_with(&env, settings(&clock, &smtp)).await;
    team(&app, "north", "maya", &["ana"]).await;
    team(&app, "south", "sam", &["sue"]).await;

    let mut admin = app.client("root", Role::Admin).await;
    for (team_id, path) in [("north", "/flaky"), ("south", "/bad")] {
        admin
            .set_team_webhook(SetTeamWebhookRequest {
                team_id: team_id.into(),
                webhook_url: hooks.url(path),
            })
            .await
            .unwrap();
    }
    let mut maya = app.client("maya", Role::Manager).await;
    maya.set_contact(SetContactRequest {
        recipient_id: String::new(),
        email: "maya@example.com".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Bad targets are refused with the field named.
    let status = admin
        .set_team_webhook(SetTeamWebhookRequest {
            team_id: "north".into(),
            webhook_url: "ftp://hooks.example.com/x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "webhook_url"
    );
    let status = maya
        .set_contact(SetContactRequest {
            recipient_id: String::new(),
            email: "maya.example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "email"
    );
    let mut ana = app.client("ana", Role::Rep).await;
    let denied = ana
        .set_team_webhook(SetTeamWebhookRequest {
            team_id: "north".into(),
            webhook_url: hooks.url("/x"),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Live watchers: a raw core NATS subscriber and maya's gRPC stream.
    let nats = async_nats::connect(app.nats_url.clone()).await.unwrap();
    let mut raw = nats.subscribe(subjects::live_alerts("maya")).await.unwrap();
    nats.flush().await.unwrap();
    let mut watch = maya
        .watch_alerts(WatchAlertsRequest {})
        .await
        .unwrap()
        .into_inner();

    app.pool("lead-n", "north", "maya").await;
    app.pool("lead-s", "south", "sam").await;
    let alert = wait_for(&app, "north's alert", |a| a.subject_key == "lead-n").await;

    let live = tokio::time::timeout(WAIT, raw.next())
        .await
        .unwrap()
        .unwrap();
    let live = Alert::decode(live.payload.as_ref()).unwrap();
    assert_eq!(live.alert_id, alert.alert_id);
    let watched = tokio::time::timeout(WAIT, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(watched.alert_id, alert.alert_id);

    // Email, plain text and HTML.
    let mail = eventually(WAIT, "maya's email", || async {
        smtp.messages().into_iter().next()
    })
    .await;
    assert!(mail.contains("X-Rcpt-To: maya@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: [leadwheel] Alert: lead pooled (team north)"),
        "{mail}"
    );
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(mail.contains("lead-n"), "{mail}");
    // The deep link to the alert in the web console.
    assert!(
        mail.contains(&format!("{CONSOLE}/alerts/{}", alert.alert_id)),
        "{mail}"
    );
    // And, since the email is maya's alone, a one-time link signing her in
    // as a manager (her team is the console's to find when she uses it),
    // landing on the alert, valid for an hour.
    let text = smtp.texts().into_iter().next().expect("the email's text");
    let signin = text
        .lines()
        .find_map(|l| l.strip_prefix("Sign in and open (the link works once): "))
        .unwrap_or_else(|| panic!("a sign-in link in {text}"));
    let query = signin
        .strip_prefix(&format!("{CONSOLE}/signin/link?token="))
        .unwrap_or_else(|| panic!("a link to the console's sign-in: {signin}"));
    let (token, next) = query.split_once("&next=").expect("where the link lands");
    assert_eq!(next, format!("%2Falerts%2F{}", alert.alert_id));
    let now_secs = clock.now_ms() / 1_000;
    let key = Secret::new(TEST_JWT_SECRET);
    let claims = leadwheel_client::link::verify(&key, token, now_secs).expect("a valid link");
    assert_eq!(
        (claims.sub.as_str(), claims.role, claims.team.as_deref()),
        ("maya", Role::Manager, None)
    );
    assert_eq!(claims.exp, now_secs + 3_600);
    assert_eq!(
        leadwheel_client::link::verify(&key, token, now_secs + 3_600),
        Err(leadwheel_client::link::LinkError::Expired)
    );
    assert_eq!(
        leadwheel_client::link::verify(&Secret::new("another-key-0123456789"), token, now_secs),
        Err(leadwheel_client::link::LinkError::Signature)
    );

    // The flaky webhook failed once; the retry is due after the backoff.
    eventually(WAIT, "the first attempt", || async {
        deliveries(&app, "pending")
            .await
            .into_iter()
            .find(|d| d.channel == "webhook" && d.attempts == 1)
    })
    .await;
    let dead = eventually(WAIT, "the 400 dead-lettered", || async {
        deliveries(&app, "dead").await.into_iter().next()
    })
    .await;
    assert_eq!((dead.channel.as_str(), dead.attempts), ("webhook", 1));
    assert!(dead.last_error.contains("400"), "{}", dead.last_error);
    assert_eq!(dead.target, hooks.url("/bad"));

    clock.advance(Duration::from_secs(2));
    let sent = eventually(WAIT, "the retry delivered", || async {
        deliveries(&app, "sent")
            .await
            .into_iter()
            .find(|d| d.channel == "webhook")
    })
    .await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.alert_id, alert.alert_id);
    let got = hooks.received();
    let flaky: Vec<_> = got.iter().filter(|r| r.path == "/flaky").collect();
    assert_eq!(
        flaky.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 200]
    );
    let body = &flaky[1].body;
    assert!(body["text"].as_str().unwrap().contains("lead-n"), "{body}");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{CONSOLE}/alerts/{}", alert.alert_id)),
        "{body}"
    );
    assert!(
        body["blocks"].as_array().is_some_and(|b| !b.is_empty()),
        "{body}"
    );
    // A team's shared channel never gets a link that signs someone in.
    assert!(!body.to_string().contains("/signin/"), "{body}");
    let header = flaky[1].signature.clone().expect("a signature header");
    let t: i64 = header
        .trim_start_matches("t=")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(header, signature(SECRET, t, &flaky[1].raw));
    assert!((t - clock.now_ms() / 1_000).abs() <= 5);

    // Every delivery in the log: live and email sent, webhooks as above.
    let all = deliveries(&app, "").await;
    let summary: Vec<(String, String, String)> = all
        .iter()
        .filter(|d| d.alert_id == alert.alert_id)
        .map(|d| (d.channel.clone(), d.recipient_id.clone(), d.state.clone()))
        .collect();
    for expected in [
        ("live", "maya", "sent"),
        ("email", "maya", "sent"),
        ("webhook", "", "sent"),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2.to_string(),
        );
        assert!(summary.contains(&expected), "{expected:?} in {summary:?}");
    }
    // Reps do not read the log; managers read their teams'.
    let denied = ana
        .list_deliveries(ListDeliveriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mayas = maya
        .list_deliveries(ListDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(!mayas.is_empty() && mayas.iter().all(|d| d.alert_id == alert.alert_id));
    let _ = clock.now_ms();
    drop(watch);
    app.stop().await;
}

on_both_backends!(a_cleared_webhook_is_told_nothing_more);
async fn a_cleared_webhook_is_told_nothing_more(db: TestDb) {
    let env = Env::new(db);
    let hooks = Hooks::start().await;
    let clock = ManualClock::new(leadwheel_plumbing::now_ms());
    let settings = Settings {
        clock: Arc::new(clock.clone()),
        ..Settings::default()
    };
    let app = spawn_app_with(&env, settings).await;
    team(&app, "north", "maya", &["ana"]).await;
    let maya = app.client("maya", Role::Manager).await;
    let set = |url: String| {
        let mut maya = maya.clone();
        async move {
            maya.set_team_webhook(SetTeamWebhookRequest {
                team_id: "north".into(),
                webhook_url: url,
            })
            .await
        }
    };
    // Once alerting knows maya manages north, she sets its webhook.
    eventually(WAIT, "maya setting north's webhook", || async {
        set(hooks.url("/ok")).await.ok()
    })
    .await;
    app.pool("lead-1", "north", "maya").await;
    let first = wait_for(&app, "lead-1's alert", |a| a.subject_key == "lead-1").await;
    eventually(WAIT, "lead-1's alert at the webhook", || async {
        deliveries(&app, "sent")
            .await
            .into_iter()
            .find(|d| d.channel == "webhook" && d.alert_id == first.alert_id)
    })
    .await;
    let got = hooks.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].body["text"].as_str().unwrap().contains("lead-1"));

    // Cleared, as `leadctl alerts webhook north ""` does.
    set(String::new()).await.expect("clearing the webhook");
    app.pool("lead-2", "north", "maya").await;
    let second = wait_for(&app, "lead-2's alert", |a| a.subject_key == "lead-2").await;
    // maya is still told live; the cleared webhook gets no delivery.
    eventually(WAIT, "lead-2's live delivery sent", || async {
        deliveries(&app, "sent")
            .await
            .into_iter()
            .find(|d| d.channel == "live" && d.alert_id == second.alert_id)
    })
    .await;
    let mut admin = app.client("root", Role::Admin).await;
    let second_deliveries = admin
        .list_deliveries(ListDeliveriesRequest {
            alert_id: second.alert_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let channels: Vec<&str> = second_deliveries
        .iter()
        .map(|d| d.channel.as_str())
        .collect();
    assert_eq!(channels, ["live"]);
    // Past any retry backoff, still nothing more reached the receiver.
    clock.advance(Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hooks.received().len(), 1);
    app.stop().await;
}

on_both_backends!(preferences_choose_channels_and_quiet_hours_hold_email);
async fn preferences_choose_channels_and_quiet_hours_hold_email(db: TestDb) {
    let env = Env::new(db);
    let smtp = Smtp::start().await;
    // 2026-03-01 23:30 UTC: inside ana's quiet hours (22:00-07:00 Lisbon,
    // UTC+0 in winter), which end at 2026-03-02 07:00 UTC.
    let clock = ManualClock::new(1_772_407_800_000);
    let app = spawn_app_with(&env, settings(&clock, &smtp)).await;
    team(&app, "north", "maya", &["ana"]).await;
    team(&app, "south", "sam", &["sue"]).await;
    let mut ana = app.client("ana", Role::Rep).await;
    ana.set_contact(SetContactRequest {
        email: "ana@example.com".into(),
        time_zone: "Europe/Lisbon".into(),
        quiet_start: "22:00".into(),
        quiet_end: "07:00".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // sam: email only, no live pushes.
    let mut sam = app.client("sam", Role::Manager).await;
    sam.set_contact(SetContactRequest {
        email: "sam@example.com".into(),
        channels: vec!["email".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let status = ana
        .set_contact(SetContactRequest {
            time_zone: "Mars/Olympus".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "time_zone"
    );
    let status = ana
        .set_contact(SetContactRequest {
            recipient_id: "ben".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // A circuit-breaker alert for ana (to her) and a pooled lead for sam.
    let tripped = leadwheel_proto::events::v1::RepAvailabilityChanged {
        rep_id: "ana".into(),
        team_id: Some("north".into()),
        availability: "away".into(),
        by: "circuit_breaker".into(),
        reason: "3 offers in a row expired".into(),
        manager_id: Some("maya".into()),
        at_ms: 5_000,
    };
    app.wheel(subjects::REP_AVAILABILITY_CHANGED, "ana", &tripped)
        .await;
    app.pool("lead-s", "south", "sam").await;
    let sams = eventually(WAIT, "sam's email", || async {
        smtp.messages()
            .into_iter()
            .find(|m| m.contains("sam@example.com"))
    })
    .await;
    assert!(sams.contains("lead-s"), "{sams}");
    let log = deliveries(&app, "").await;
    assert!(
        !log.iter()
            .any(|d| d.recipient_id == "sam" && d.channel == "live"),
        "sam chose email only: {log:?}"
    );
    let held = log
        .iter()
        .find(|d| d.recipient_id == "ana" && d.channel == "email")
        .expect("ana's email is logged")
        .clone();
    assert_eq!((held.state.as_str(), held.attempts), ("pending", 0));
    assert_eq!(
        held.next_attempt_at_ms, 1_772_434_800_000,
        "held until 07:00 Lisbon"
    );
    assert!(
        log.iter()
            .any(|d| d.recipient_id == "ana" && d.channel == "live" && d.state == "sent")
    );
    assert!(
        !smtp
            .messages()
            .iter()
            .any(|m| m.contains("ana@example.com"))
    );

    // Morning: the email goes.
    clock.set(1_772_434_800_000);
    let mail = eventually(WAIT, "ana's email after the quiet hours", || async {
        smtp.messages()
            .into_iter()
            .find(|m| m.contains("ana@example.com"))
    })
    .await;
    assert!(mail.contains("set away"), "{mail}");
    app.stop().await;
}

on_both_backends!(a_digest_gathers_an_hours_alerts_into_one_email);
async fn a_digest_gathers_an_hours_alerts_into_one_email(db: TestDb) {
    let env = Env::new(db);
    let smtp = Smtp::start().await;
    // 2026-03-02 10:10 UTC; the hourly digest goes at 11:00.
    let clock = ManualClock::new(1_772_446_200_000);
    let app = spawn_app_with(&env, settings(&clock, &smtp)).await;
    team(&app, "north", "maya", &["ana"]).await;
    let mut maya = app.client("maya", Role::Manager).await;
    maya.set_contact(SetContactRequest {
        email: "maya@example.com".into(),
        digest_minutes: 60,
        ..Default::default()
    })
    .await
    .unwrap();
    let status = maya
        .set_contact(SetContactRequest {
            digest_minutes: 2_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "digest_minutes"
    );
    for lead in ["lead-1", "lead-2", "lead-3"] {
        app.pool(lead, "north", "maya").await;
    }
    eventually(WAIT, "three email deliveries waiting for 11:00", || async {
        let log = deliveries(&app, "pending").await;
        let waiting = log
            .iter()
            .filter(|d| d.channel == "email" && d.next_attempt_at_ms == 1_772_449_200_000)
            .count();
        (waiting == 3).then_some(())
    })
    .await;
    assert!(smtp.messages().is_empty());

    clock.set(1_772_449_200_000);
    let mail = eventually(WAIT, "the digest", || async {
        smtp.messages().into_iter().next()
    })
    .await;
    assert!(mail.contains("Subject: [leadwheel] 3 alerts"), "{mail}");
    for lead in ["lead-1", "lead-2", "lead-3"] {
        assert!(mail.contains(lead), "{lead} in {mail}");
    }
    // One sign-in for the digest, landing on the inbox; each alert linked.
    let text = smtp.texts().into_iter().next().expect("the digest's text");
    let head = format!("Sign in to the console: {CONSOLE}/signin/link?token=");
    assert!(text.starts_with(&head), "{text}");
    assert_eq!(text.matches("/signin/link").count(), 1, "{text}");
    assert!(
        text.lines().next().unwrap().ends_with("&next=%2Falerts"),
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("Open: {CONSOLE}/alerts/")).count(),
        3,
        "{text}"
    );
    eventually(WAIT, "all three sent", || async {
        let sent = deliveries(&app, "sent").await;
        (sent.iter().filter(|d| d.channel == "email").count() == 3).then_some(())
    })
    .await;
    assert_eq!(smtp.messages().len(), 1, "one email for three alerts");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_webhooks_are_verified_against_the_configured_ca() {
    let env = Env::new(TestDb::sqlite());
    let smtp = Smtp::start().await;
    let trusted = crate::receivers::HttpsHook::start().await;
    let stranger = crate::receivers::HttpsHook::start().await;
    let clock = ManualClock::new(leadwheel_plumbing::now_ms());
    let mut settings = settings(&clock, &smtp);
    // Only the first receiver's CA is trusted.
    settings.delivery.webhook_ca_file = Some(trusted.ca_file.clone());
    let app = spawn_app_with(&env, settings).await;
    let mut admin = app.client("root", Role::Admin).await;
    for (team_id, url) in [("north", trusted.url()), ("south", stranger.url())] {
        admin
            .set_team_webhook(SetTeamWebhookRequest {
                team_id: team_id.into(),
                webhook_url: url,
            })
            .await
            .unwrap();
    }
    app.pool("lead-n", "north", "maya").await;
    app.pool("lead-s", "south", "sam").await;
    let body = eventually(WAIT, "the https POST", || async {
        trusted.bodies().into_iter().next()
    })
    .await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("lead-n"), "{body}");
    // The other certificate is not trusted: no POST, the delivery retries.
    let refused = eventually(WAIT, "the untrusted attempt", || async {
        deliveries(&app, "pending")
            .await
            .into_iter()
            .find(|d| d.channel == "webhook" && d.attempts == 1)
    })
    .await;
    assert_eq!(refused.target, stranger.url());
    assert!(stranger.bodies().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_with_a_login() {
    let env = Env::new(TestDb::sqlite());
    let ca = crate::receivers::TestCa::new();
    let smtp = Smtp::start_tls(&ca, "alerts", "s3cret-smtp").await;
    let clock = ManualClock::new(leadwheel_plumbing::now_ms());
    let with_login = |password: &str| {
        // STARTTLS is required by the server; the CA file makes the test
        // certificate trusted.
        let mut settings = settings(&clock, &smtp);
        let server = settings.delivery.smtp.as_mut().unwrap();
        server.host = "127.0.0.1".into();
        server.tls = SmtpTls::StartTls;
        server.username = Some("alerts".into());
        server.password = Some(Secret::new(password));
        server.ca_file = Some(ca.ca_file.clone());
        settings
    };
    let app = spawn_app_with(&env, with_login("s3cret-smtp")).await;
    let mut maya = app.client("maya", Role::Manager).await;
    maya.set_contact(SetContactRequest {
        email: "maya@example.com".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    app.pool("lead-1", "north", "maya").await;
    let mail = eventually(WAIT, "the email over STARTTLS", || async {
        smtp.messages().into_iter().next()
    })
    .await;
    assert!(mail.contains("lead-1"), "{mail}");
    app.stop().await;
}

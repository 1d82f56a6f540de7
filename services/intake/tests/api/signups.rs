//! `POST /v1/signups` over real HTTP.

use std::time::Duration;

use leadwheel_intake::IntakeSettings;
use leadwheel_plumbing::testing::TestDb;
use serde_json::{Value, json};

use crate::helpers::{StreamReader, spawn_app, spawn_app_with};
use leadwheel_plumbing::on_both_backends;

on_both_backends!(
    valid_signup_is_stored_and_published,
    every_error_path_stores_nothing,
    duplicate_email_resolves_to_the_first_lead,
    concurrent_duplicates_make_one_lead,
    expired_dedupe_window_makes_a_new_lead,
    idempotency_key_replays_the_first_answer,
);

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn valid_signup_is_stored_and_published(db: TestDb) {
    let app = spawn_app(db).await;
    let response = app
        .http
        .post(format!("{}/v1/signups", app.http_base))
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&json!({
            "email": "  Ana.Lima@ACME.io ",
            "name": "Ana Lima",
            "company": "Acme",
            "website": "https://www.acme-corp.com/pricing",
            "country": "de",
            "source": "Website",
            "message": "We need\nrouting for 40 reps",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let lead_id = body["lead_id"].as_str().expect("a lead id").to_string();
    assert!(lead_id.starts_with("lead_"), "{lead_id}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(app.count("intake_leads").await, 1);

    let mut reader = StreamReader::open(&app.nats_url()).await;
    let event = reader.next().await;
    assert_eq!(event.subject, "intake.lead.created");
    assert_eq!(event.envelope.r#type, "intake.lead.created");
    assert_eq!(event.envelope.source, "intake");
    assert_eq!(event.envelope.key, lead_id);
    assert_eq!(event.msg_id.as_deref(), Some(event.envelope.id.as_str()));
    assert_eq!(event.lead.lead_id, lead_id);
    assert_eq!(event.lead.email, "Ana.Lima@acme.io");
    assert_eq!(event.lead.domain, "acme-corp.com");
    assert_eq!(event.lead.country, "DE");
    assert_eq!(event.lead.source, "website");
    assert_eq!(event.lead.message, "We need\nrouting for 40 reps");
    // The caller's trace continues through the outbox into the event.
    let traceparent = event.traceparent.expect("a traceparent header");
    assert!(traceparent.contains(TRACE_ID), "{traceparent}");
    app.stop().await;
}

/// One bad request: how it is sent, the status and error code expected, and
/// the field named (if any).
struct Bad {
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn bad_json(body: Value, code: &'static str, field: &'static str) -> Bad {
    Bad {
        content_type: Some("application/json"),
        body: serde_json::to_vec(&body).unwrap(),
        status: 422,
        code,
        field: Some(field),
    }
}

async fn every_error_path_stores_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let ok = br#"{"email":"ana@acme.io"}"#.to_vec();
    let cases = vec![
        Bad {
            content_type: Some("application/json"),
            body: b"{\"email\": ".to_vec(),
            status: 400,
            code: "malformed_json",
            field: None,
        },
        Bad {
            content_type: Some("application/json"),
            body: b"[\"ana@acme.io\"]".to_vec(),
            status: 400,
            code: "malformed_json",
            field: None,
        },
        Bad {
            content_type: Some("application/json"),
            body: Vec::new(),
            status: 400,
            code: "malformed_json",
            field: None,
        },
        Bad {
            content_type: Some("text/plain"),
            body: ok.clone(),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
        Bad {
            content_type: None,
            body: ok.clone(),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
        Bad {
            content_type: Some("application/json"),
            body: serde_json::to_vec(
                &json!({"email": "ana@acme.io", "message": "x".repeat(20 * 1024)}),
            )
            .unwrap(),
            status: 413,
            code: "payload_too_large",
            field: None,
        },
        bad_json(json!({"name": "Ana"}), "required", "email"),
        bad_json(
            json!({"email": "ana-at-acme.io"}),
            "invalid_format",
            "email",
        ),
        bad_json(json!({"email": "ana@acme"}), "invalid_format", "email"),
        bad_json(json!({"email": 42}), "wrong_type", "email"),
        bad_json(
            json!({"email": "ana@acme.io", "name": "n".repeat(201)}),
            "too_long",
            "name",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "company": "Acme\u{1b}[31m"}),
            "control_character",
            "company",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "phone": ["1"]}),
            "wrong_type",
            "phone",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "phone": "not a number"}),
            "invalid_format",
            "phone",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "website": "javascript://acme.io"}),
            "invalid_format",
            "website",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "country": "Germany"}),
            "invalid_format",
            "country",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "source": "s".repeat(65)}),
            "too_long",
            "source",
        ),
        bad_json(
            json!({"email": "ana@acme.io", "message": "hi\u{0}"}),
            "control_character",
            "message",
        ),
    ];
    for case in cases {
        let mut request = app
            .http
            .post(format!("{}/v1/signups", app.http_base))
            .body(case.body.clone());
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON error body");
        let what = format!("case {} {:?}: {body}", case.code, case.field);
        assert_eq!(status, case.status, "{what}");
        assert_eq!(body["error"]["code"], case.code, "{what}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        match case.field {
            Some(field) => assert_eq!(body["error"]["field"], field, "{what}"),
            None => assert!(body["error"]["field"].is_null(), "{what}"),
        }
    }
    let wrong_method = app
        .http
        .get(format!("{}/v1/signups", app.http_base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);

    assert_eq!(app.count("intake_leads").await, 0);
    assert_eq!(app.count("intake_dedupe_keys").await, 0);
    assert_eq!(app.count("lw_outbox").await, 0);
    app.stop().await;
}

async fn duplicate_email_resolves_to_the_first_lead(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.post_signup(&json!({"email": "bo@shop.example"})).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // Same person, different case and whitespace.
    let again = app
        .post_signup(&json!({"email": " BO@Shop.Example ", "name": "Bo"}))
        .await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["lead_id"], first["lead_id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.count("intake_leads").await, 1);
    assert_eq!(app.events("intake.lead.created").await, 1);
    // The duplicate is recorded as a touch, and announced.
    assert_eq!(app.count("intake_touches").await, 1);
    assert_eq!(app.events("intake.lead.touched").await, 1);
    assert_eq!(app.count("lw_outbox").await, 2);
    app.stop().await;
}

async fn concurrent_duplicates_make_one_lead(db: TestDb) {
    let app = spawn_app(db).await;
    let body = json!({"email": "race@acme.io"});
    let posts = (0..20).map(|_| app.post_signup(&body));
    let responses = futures::future::join_all(posts).await;
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected status {other}"),
        }
        let body: Value = response.json().await.unwrap();
        ids.insert(body["lead_id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1, "exactly one signup creates the lead");
    assert_eq!(ids.len(), 1, "every answer names the same lead: {ids:?}");
    assert_eq!(app.count("intake_leads").await, 1);
    assert_eq!(app.events("intake.lead.created").await, 1);
    assert_eq!(app.events("intake.lead.touched").await, 19);
    // Touches within one commit group count as well as across groups.
    let touches: i64 = sqlx::query_scalar("SELECT touches FROM intake_leads")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(touches, 19);
    assert_eq!(app.count("lw_outbox").await, 20);
    app.stop().await;
}

async fn expired_dedupe_window_makes_a_new_lead(db: TestDb) {
    // A zero window means every signup is past it.
    let settings = IntakeSettings {
        dedupe_window: Duration::ZERO,
        ..IntakeSettings::default()
    };
    let app = spawn_app_with(db, settings).await;
    let first: Value = app
        .post_signup(&json!({"email": "cy@acme.io"}))
        .await
        .json()
        .await
        .unwrap();
    let second = app.post_signup(&json!({"email": "cy@acme.io"})).await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    assert_ne!(first["lead_id"], second["lead_id"]);
    assert_eq!(app.count("intake_leads").await, 2);
    assert_eq!(app.count("lw_outbox").await, 2);
    app.stop().await;
}

async fn idempotency_key_replays_the_first_answer(db: TestDb) {
    let app = spawn_app(db).await;
    let post = |email: &'static str| {
        app.http
            .post(format!("{}/v1/signups", app.http_base))
            .header("idempotency-key", "form-submit-7")
            .json(&json!({ "email": email }))
            .send()
    };
    let first = post("di@acme.io").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let retry = post("di@acme.io").await.unwrap();
    assert_eq!(
        retry.status(),
        201,
        "a replay answers what the first request did"
    );
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["lead_id"], first["lead_id"]);

    let reused = post("someone-else@acme.io").await.unwrap();
    assert_eq!(reused.status(), 409);
    let reused: Value = reused.json().await.unwrap();
    assert_eq!(reused["error"]["code"], "request_conflict");
    assert_eq!(app.count("intake_leads").await, 1);
    app.stop().await;
}

//! Signed webhooks: with a secret configured, only correctly signed, fresh
//! signups are accepted.

use leadwheel_intake::IntakeSettings;
use leadwheel_intake::signature::{SIGNATURE_HEADER, sign};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::testing::TestDb;
use serde_json::Value;

use crate::helpers::spawn_app_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_fresh_signups_are_accepted() {
    let secret = Secret::new("whsec-test-0123456789");
    let settings = IntakeSettings {
        webhook_secrets: vec![secret.clone()],
        ..IntakeSettings::default()
    };
    let app = spawn_app_with(TestDb::sqlite(), settings).await;
    let body = br#"{"email":"signed@acme.io"}"#;
    let now_s = now_ms() / 1000;
    let post = |signature: Option<String>, body: &'static [u8]| {
        let mut request = app
            .http
            .post(format!("{}/v1/signups", app.http_base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.send()
    };

    let other = Secret::new("someone-elses-secret");
    let refused = [
        (None, "missing_signature"),
        (Some(sign(&other, now_s, body)), "bad_signature"),
        (Some(sign(&secret, now_s - 3600, body)), "stale_signature"),
        (Some("t=abc,v1=00".into()), "bad_signature"),
    ];
    for (signature, code) in refused {
        let response = post(signature, body).await.unwrap();
        assert_eq!(response.status(), 401, "{code}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code);
    }
    // A signature for another body does not carry over.
    let tampered = post(Some(sign(&secret, now_s, b"{}")), body).await.unwrap();
    assert_eq!(tampered.status(), 401);
    assert_eq!(app.count("intake_leads").await, 0);

    let accepted = post(Some(sign(&secret, now_s, body)), body).await.unwrap();
    assert_eq!(accepted.status(), 201);
    assert_eq!(app.count("intake_leads").await, 1);
    app.stop().await;
}

//! Arbitrary bytes and JSON over real HTTP: the service never fails (5xx)
//! or drops the connection, every refusal is a 4xx with the JSON error body,
//! and only 2xx answers store anything.

use leadwheel_plumbing::testing::TestDb;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use crate::helpers::spawn_app;
use leadwheel_plumbing::on_both_backends;

on_both_backends!(arbitrary_bodies_get_4xx_or_are_accepted);

/// The fields sent besides the email.
const OTHER_FIELDS: [&str; 7] = [
    "phone",
    "company_size",
    "consent",
    "attributes",
    "website",
    "domain",
    "x",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        ".{0,30}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-z]{1,8}@[a-z]{1,8}\\.(io|com)".prop_map(|s| format!("\"{s}\"")),
        Just("{\"k\":\"v\"}".to_string()),
        Just("[1,2]".to_string()),
    ]
}

fn object(pairs: &[(String, String)]) -> Vec<u8> {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", inner.join(",")).into_bytes()
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select([&["email"][..], &OTHER_FIELDS[..]].concat());
    let other = prop::sample::select(OTHER_FIELDS.to_vec());
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec((field.prop_map(String::from), value()), 0..6)
            .prop_map(|pairs| object(&pairs)),
        // A real email with random other fields: often accepted, so both
        // branches below are exercised.
        (
            "[a-z]{1,8}@[a-z]{1,8}\\.(io|com)",
            prop::collection::vec((other.prop_map(String::from), value()), 0..3),
        )
            .prop_map(|(email, mut pairs)| {
                pairs.insert(0, ("email".into(), format!("\"{email}\"")));
                object(&pairs)
            }),
    ]
}

async fn arbitrary_bodies_get_4xx_or_are_accepted(db: TestDb) {
    let app = spawn_app(db).await;
    let mut runner = TestRunner::deterministic();
    let strategy = bodies();
    let mut accepted = std::collections::HashSet::new();
    let mut refused = 0;
    for n in 0..150 {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let content_type = if n % 3 == 0 {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let response = app.post_raw(content_type, body.clone(), &[]).await;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("a JSON answer");
        match status {
            200 | 201 => {
                accepted.insert(answer["lead_id"].as_str().unwrap().to_string());
            }
            400..=499 => {
                refused += 1;
                assert!(answer["error"]["code"].is_string(), "{answer}");
                assert!(answer["error"]["message"].is_string(), "{answer}");
            }
            other => panic!("{other} for {:?}: {answer}", String::from_utf8_lossy(&body)),
        }
    }
    // The fixed run must take both paths, or it checks only one of them.
    assert!(
        accepted.len() >= 10 && refused >= 10,
        "{} accepted, {refused} refused: the bodies no longer exercise both paths",
        accepted.len()
    );
    assert_eq!(app.count("intake_leads").await, accepted.len() as i64);
    app.stop().await;
}

//! Signups while NATS is down: accepted at once, published once it is back.

use std::collections::HashSet;
use std::time::Duration;

use leadwheel_plumbing::outbox;
use leadwheel_plumbing::testing::{TestDb, eventually};
use serde_json::{Value, json};

use crate::helpers::{StreamReader, spawn_app};
use leadwheel_plumbing::on_both_backends;

on_both_backends!(signups_survive_a_nats_outage);

async fn signups_survive_a_nats_outage(db: TestDb) {
    let mut app = spawn_app(db).await;
    app.nats.kill();

    let mut accepted = HashSet::new();
    for n in 0..3 {
        let response = app
            .post_signup(&json!({ "email": format!("outage{n}@acme.io") }))
            .await;
        assert_eq!(response.status(), 201, "signups do not need NATS");
        let body: Value = response.json().await.unwrap();
        accepted.insert(body["lead_id"].as_str().unwrap().to_string());
    }
    // Nothing can have been acknowledged by a dead server.
    assert_eq!(outbox::pending_count(&app.store).await.unwrap(), 3);

    app.nats.restart().expect("restarting nats-server");
    let store = app.store.clone();
    eventually(Duration::from_secs(30), "the outbox to drain", || {
        let store = store.clone();
        async move { (outbox::pending_count(&store).await.ok()? == 0).then_some(()) }
    })
    .await;

    let mut reader = StreamReader::open(&app.nats_url()).await;
    let mut delivered = HashSet::new();
    for _ in 0..3 {
        delivered.insert(reader.next().await.lead.lead_id);
    }
    assert_eq!(delivered, accepted);

    // Retried publishes were deduplicated by Nats-Msg-Id: three, not more.
    let client = async_nats::connect(app.nats_url()).await.unwrap();
    let mut stream = async_nats::jetstream::new(client)
        .get_stream(leadwheel_plumbing::bus::INTAKE_STREAM.name)
        .await
        .unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    app.stop().await;
}

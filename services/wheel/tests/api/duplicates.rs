//! The same `intake.lead.created` arriving twice, as at-least-once delivery
//! allows: redelivered under its own event id (the inbox has seen it), and
//! published again under a new event id for the same lead (an intake retry
//! past JetStream's dedupe window). Either way the lead is routed once: one
//! offer, one ledger story, one `wheel.offer.opened`, and the rotation moves
//! on by one lead only.

use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_plumbing::{now_ms, on_both_backends};
use leadwheel_proto::events::v1::{LeadCreated, OfferOpened};
use leadwheel_proto::wheel::v1::*;

use crate::helpers::spawn_app_on;
use crate::support::{events_at_least, explain, story};

on_both_backends!(a_lead_created_twice_is_routed_once);

fn created(lead_id: &str) -> LeadCreated {
    LeadCreated {
        lead_id: lead_id.into(),
        email: format!("{lead_id}@example.com"),
        name: format!("Person {lead_id}"),
        company: "Example".into(),
        domain: "example.com".into(),
        created_at_ms: now_ms(),
        ..Default::default()
    }
}

async fn a_lead_created_twice_is_routed_once(db: TestDb) {
    let app = spawn_app_on(db).await;
    app.team(&["ana", "ben", "cy"], 600_000).await;
    let url = app.nats.url();
    let event = created("dup");
    let event_id =
        testing::publish_event(&url, &INTAKE_STREAM, subjects::LEAD_CREATED, "dup", &event)
            .await
            .unwrap();
    assert_eq!(app.offered_to("dup").await, "ana");
    let before = story(&explain(&app, "dup").await);

    // The same event again (same envelope id, a new Nats-Msg-Id so JetStream
    // keeps it), then the same lead under a new event id.
    testing::redeliver_event(&url, subjects::LEAD_CREATED, &event_id, "dup", &event)
        .await
        .unwrap();
    let again_id = testing::publish_event(
        &url,
        &INTAKE_STREAM,
        subjects::LEAD_CREATED,
        "dup",
        &created("dup"),
    )
    .await
    .unwrap();
    assert_ne!(again_id, event_id);
    // A later lead is the barrier: the consumer takes events in order, so
    // once it is routed both copies were handled. It gets the next first
    // look (ben): a copy routed again would have moved the rotation on.
    app.new_lead("after").await;
    assert_eq!(
        app.offered_to("after").await,
        "ben",
        "a copy of dup's event moved the rotation"
    );
    testing::wait_consumer_done(&url, &INTAKE_STREAM, "wheel-intake").await;

    let routing = app.wait_state("dup", LeadState::Offered).await;
    assert_eq!(routing.offers.len(), 1, "{:?}", routing.offers);
    assert_eq!(routing.offers[0].rep_id, "ana");
    let after = story(&explain(&app, "dup").await);
    assert_eq!(after, before, "the copies changed dup's ledger");
    for kind in ["received", "offered"] {
        let n = after.iter().filter(|(k, _, _)| k == kind).count();
        assert_eq!(n, 1, "{kind} {n} times: {after:?}");
    }
    let opened: Vec<(String, OfferOpened)> = events_at_least(&app, subjects::OFFER_OPENED, 2).await;
    let dup_offers: Vec<&OfferOpened> = opened
        .iter()
        .map(|(_, offer)| offer)
        .filter(|offer| offer.lead_id == "dup")
        .collect();
    assert_eq!(dup_offers.len(), 1, "{dup_offers:?}");
}

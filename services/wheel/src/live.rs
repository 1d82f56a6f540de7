//! Live offer pushes on core NATS (`live.rep.<rep>.offers`), so a rep
//! watching through any replica sees offers made by any other. Pushes are
//! best-effort notifications sent after commit; the store and the JetStream
//! events stay the truth.

use std::collections::HashMap;
use std::sync::Mutex;

use leadwheel_plumbing::outbox::Written;

use leadwheel_plumbing::Bus;
use leadwheel_plumbing::bus::subjects;
use leadwheel_proto::wheel::v1::{LeadSummary, Offer, OfferState, OfferUpdate};
use prost::Message;

use crate::store::{LeadDetails, OfferRow};

/// One push, built inside the transaction and sent after it commits.
#[derive(Clone, Debug)]
pub struct Push {
    pub rep_id: String,
    pub offer: Offer,
}

/// Pushes built while consuming events, by event id, until the inbox's
/// transaction holding the event commits; with them, the events a batch
/// routed at once wrote, for the relay. A rolled-back event's entry is
/// replaced when the event is handled again, so this holds about a batch.
#[derive(Debug, Default)]
pub struct PendingPushes(Mutex<HashMap<String, (Vec<Push>, Written)>>);

impl PendingPushes {
    /// Forgets what an earlier, rolled-back attempt at `event_id` left.
    pub fn reset(&self, event_id: &str) {
        self.0.lock().expect("pending pushes").remove(event_id);
    }

    /// Keeps `pushes` until `event_id` commits.
    pub fn hold(&self, event_id: &str, pushes: Vec<Push>) {
        self.hold_with_events(event_id, pushes, Written::default());
    }

    /// Keeps `pushes` and the events `written` until `event_id` commits.
    pub fn hold_with_events(&self, event_id: &str, pushes: Vec<Push>, written: Written) {
        if !pushes.is_empty() || !written.is_empty() {
            let mut pending = self.0.lock().expect("pending pushes");
            pending.insert(event_id.to_string(), (pushes, written));
        }
    }

    /// The pushes and events of a committed event.
    pub fn take(&self, event_id: &str) -> (Vec<Push>, Written) {
        let mut pending = self.0.lock().expect("pending pushes");
        pending.remove(event_id).unwrap_or_default()
    }
}

/// The proto state for a stored offer state.
pub fn offer_state(state: &str) -> OfferState {
    match state {
        "open" => OfferState::Open,
        "claimed" => OfferState::Claimed,
        "passed" => OfferState::Passed,
        "expired" => OfferState::Expired,
        "withdrawn" => OfferState::Withdrawn,
        _ => OfferState::Unspecified,
    }
}

/// The lead summary a rep sees.
pub fn summary(details: &LeadDetails) -> LeadSummary {
    LeadSummary {
        lead_id: details.lead_id.clone(),
        name: details.name.clone(),
        company: details.company.clone(),
        email: details.email.clone(),
        domain: details.domain.clone(),
        tier: details.tier.clone(),
        score: details.score as i32,
        source: details.source.clone(),
        created_at_ms: details.lead_created_at_ms,
    }
}

/// The proto form of an offer; the lead summary only when `details` is given.
pub fn offer_proto(
    offer: &OfferRow,
    details: Option<&LeadDetails>,
    traceparent: Option<&str>,
) -> Offer {
    Offer {
        offer_id: offer.offer_id.clone(),
        lead_id: offer.lead_id.clone(),
        team_id: offer.team_id.clone(),
        rep_id: offer.rep_id.clone(),
        state: offer_state(&offer.state) as i32,
        opened_at_ms: offer.opened_at_ms,
        deadline_ms: offer.deadline_ms,
        closed_at_ms: offer.closed_at_ms.unwrap_or_default(),
        reason: offer.reason.clone().unwrap_or_default(),
        step: offer.offer_no as i32,
        lead: details.map(summary),
        traceparent: traceparent.unwrap_or_default().to_string(),
    }
}

/// Sends `pushes` on core NATS, stamped `now`; failures are logged, never fatal.
pub async fn send(bus: &Bus, now: i64, pushes: Vec<Push>) {
    for push in pushes {
        let update = OfferUpdate {
            offer: Some(push.offer),
            server_time_ms: now,
        };
        if let Err(err) = bus
            .client
            .publish(
                subjects::live_rep_offers(&push.rep_id),
                update.encode_to_vec().into(),
            )
            .await
        {
            tracing::warn!(rep_id = %push.rep_id, error = %err, "live offer push failed");
        }
    }
}

//! Live: the alert, as the API's `Alert` message, published on the core
//! NATS subject `live.alerts.<recipient>` for whoever watches (`leadctl
//! alerts watch`, the console). Fire and forget once NATS has it.

use leadwheel_plumbing::bus::subjects;
use prost::Message;

use super::{Channel, LIVE, Outcome};
use crate::store::Alert;
use crate::store::deliveries::Delivery;

/// Publishes on core NATS.
#[derive(Clone, Debug)]
pub struct Live {
    client: async_nats::Client,
}

impl Live {
    /// Publishes through `client`.
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }
}

impl Channel for Live {
    fn name(&self) -> &'static str {
        LIVE
    }

    async fn send(&self, delivery: &Delivery, alert: &Alert) -> Outcome {
        let payload = crate::grpc::to_message(alert.clone()).encode_to_vec();
        let subject = subjects::live_alerts(&delivery.recipient_id);
        if let Err(err) = self.client.publish(subject, payload.into()).await {
            return Outcome::Retry(format!("publishing: {err}"));
        }
        // Sent means the server has it, not just our buffer.
        match self.client.flush().await {
            Ok(()) => Outcome::Sent,
            Err(err) => Outcome::Retry(format!("flushing to NATS: {err}")),
        }
    }
}

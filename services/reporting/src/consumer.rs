//! Applies events from every stream to the funnel counters.
//!
//! One handler serves the intake, wheel and opportunity consumers: each
//! event is mapped to its facts ([`crate::funnel::facts_of`]) and counted in
//! the inbox's transaction, so a count and the event's "processed" mark
//! commit together or not at all.

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};

use crate::funnel;
use crate::store;

/// Counts events into the funnel.
#[derive(Clone, Copy, Debug, Default)]
pub struct FunnelHandler;

impl EventHandler for FunnelHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let facts = match funnel::facts_of(event) {
            Ok(facts) => facts,
            // Retrying cannot fix a malformed event: terminate and log it.
            Err(err) => return Err(HandlerError::Permanent(err.into())),
        };
        if facts.is_empty() {
            tracing::debug!(subject = %event.subject, "event counts for nothing in the funnel");
        }
        for fact in &facts {
            let counted = store::count(tx, fact, &event.envelope.id)
                .await
                .map_err(|err| HandlerError::Transient(err.into()))?;
            if counted {
                tracing::debug!(kind = fact.kind, key = %fact.key, metric = fact.metric.as_str(), "counted");
            } else {
                tracing::info!(kind = fact.kind, key = %fact.key, event_id = %event.envelope.id, "fact already counted; repeated event ignored");
            }
        }
        Ok(())
    }
}

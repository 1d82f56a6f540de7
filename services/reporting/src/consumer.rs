//! Applies events from every stream to the read models.
//!
//! One handler serves the intake, wheel and opportunity consumers: each
//! event is mapped to its funnel facts ([`crate::funnel::facts_of`]) and to
//! its sales updates ([`crate::sales::updates_of`]), and both are applied
//! in the inbox's transaction, so the models and the event's "processed"
//! mark commit together or not at all.

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};

use crate::models::apply::Applier;
use crate::{funnel, sales, store};

/// Counts events into the funnel and applies them to the sales models.
#[derive(Clone, Debug)]
pub struct Handler {
    /// Applies sales updates (days in the business time zone).
    pub applier: Applier,
}

impl Handler {
    async fn funnel(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
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

impl Handler {
    /// Rejects a malformed event before anything is written: the same
    /// pure mappings [`EventHandler::handle`] starts with. After it passes,
    /// `handle` fails only when the store does.
    pub fn check(event: &Event) -> Result<(), crate::funnel::Rejected> {
        funnel::facts_of(event)?;
        sales::updates_of(event)?;
        Ok(())
    }
}

impl EventHandler for Handler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.funnel(tx, event).await?;
        let updates =
            sales::updates_of(event).map_err(|err| HandlerError::Permanent(err.into()))?;
        for update in &updates {
            self.applier
                .apply(tx, update)
                .await
                .map_err(|err| HandlerError::Transient(err.into()))?;
        }
        Ok(())
    }
}

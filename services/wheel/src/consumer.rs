//! Consumes `intake.lead.created`: each new lead is routed in the same
//! transaction that records the event in the inbox.

use std::collections::HashMap;
use std::sync::Mutex;

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx, telemetry};
use leadwheel_proto::events::v1::LeadCreated;

use crate::engine::Engine;
use crate::error::WheelError;
use crate::live::{self, Push};

/// Routes new leads.
pub struct LeadCreatedHandler {
    engine: Engine,
    /// Pushes per event id, sent once the batch holding the event commits.
    /// An event rolled back stays here until it is handled again (its
    /// redelivery overwrites the slot), so the map holds at most a batch.
    pending: Mutex<HashMap<String, Vec<Push>>>,
}

impl LeadCreatedHandler {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl EventHandler for LeadCreatedHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.pending
            .lock()
            .expect("pending pushes")
            .remove(&event.envelope.id);
        if event.subject != subjects::LEAD_CREATED {
            return Ok(());
        }
        let created: LeadCreated = event.decode()?;
        if created.lead_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "lead.created without a lead_id"
            )));
        }
        let pushes = self
            .engine
            .route_new(tx, &created, telemetry::current_traceparent())
            .await
            .map_err(|err| match err {
                WheelError::Corrupt(_) | WheelError::InvalidArgument { .. } => {
                    HandlerError::Permanent(err.into())
                }
                other => HandlerError::Transient(other.into()),
            })?;
        if !pushes.is_empty() {
            self.pending
                .lock()
                .expect("pending pushes")
                .insert(event.envelope.id.clone(), pushes);
        }
        Ok(())
    }

    fn after_commit(&self, event: &Event) {
        let pushes = self
            .pending
            .lock()
            .expect("pending pushes")
            .remove(&event.envelope.id)
            .unwrap_or_default();
        self.engine.timers.notify_one();
        let bus = self.engine.bus.clone();
        tokio::spawn(async move { live::send(&bus, pushes).await });
    }
}

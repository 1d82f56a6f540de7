//! Consumes `intake.lead.created`: each new lead is routed in the same
//! transaction that records the event in the inbox.

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
    /// Pushes of the event being handled, sent once it commits. The
    /// consumer handles one event at a time, so one slot is enough.
    pending: Mutex<Vec<Push>>,
}

impl LeadCreatedHandler {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            pending: Mutex::new(Vec::new()),
        }
    }
}

impl EventHandler for LeadCreatedHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.pending.lock().expect("pending pushes").clear();
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
        *self.pending.lock().expect("pending pushes") = pushes;
        Ok(())
    }

    fn after_commit(&self, _event: &Event) {
        let pushes = std::mem::take(&mut *self.pending.lock().expect("pending pushes"));
        self.engine.timers.notify_one();
        let bus = self.engine.bus.clone();
        tokio::spawn(async move { live::send(&bus, pushes).await });
    }
}

//! Consumes `intake.lead.created`: each new lead is routed in the same
//! transaction that records the event in the inbox (on Postgres, by the
//! replica holding the writer's lease).

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx, telemetry};
use leadwheel_proto::events::v1::LeadCreated;

use crate::engine::Engine;
use crate::error::WheelError;
use crate::live::PendingPushes;

/// Routes new leads.
pub struct LeadCreatedHandler {
    engine: Engine,
    /// Pushes per event, sent once the batch holding the event commits.
    pending: PendingPushes,
}

impl LeadCreatedHandler {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            pending: PendingPushes::default(),
        }
    }
}

impl EventHandler for LeadCreatedHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.pending.reset(&event.envelope.id);
        if !event.is::<LeadCreated>() {
            return Ok(());
        }
        let created = event.decode_as::<LeadCreated>()?;
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
        self.pending.hold(&event.envelope.id, pushes);
        Ok(())
    }

    /// A batch of new leads is routed at once, staged in memory (see
    /// `Engine::route_new_all`), on SQLite and on the Postgres replica
    /// holding the writer's lease; on the other replicas, which share
    /// the teams' rotations with it, one lead at a time.
    fn handles_all(&self) -> bool {
        self.engine.batches()
    }

    async fn handle_all(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), HandlerError> {
        let mut leads = Vec::with_capacity(events.len());
        let mut routed = Vec::with_capacity(events.len());
        for event in events {
            self.pending.reset(&event.envelope.id);
            if !event.is::<LeadCreated>() {
                continue;
            }
            let created = event.decode_as::<LeadCreated>()?;
            if created.lead_id.is_empty() {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "lead.created without a lead_id"
                )));
            }
            // Each lead joins the trace its event came with, as a span of
            // its own (the one-at-a-time path's consume span).
            let span = tracing::info_span!("consume", lead_id = %created.lead_id, event_id = %event.envelope.id);
            telemetry::set_parent(&span, event.traceparent.as_deref());
            let traceparent = span.in_scope(telemetry::current_traceparent);
            leads.push((created, traceparent));
            routed.push(event.envelope.id.as_str());
        }
        let (pushes, mut written) = self
            .engine
            .route_new_all(tx, &leads)
            .await
            .map_err(|err| HandlerError::Transient(err.into()))?;
        // The batch's events go to the relay with its first event's commit
        // (they all commit together).
        for (event_id, pushes) in routed.into_iter().zip(pushes) {
            self.pending
                .hold_with_events(event_id, pushes, std::mem::take(&mut written));
        }
        Ok(())
    }

    /// On Postgres, a replica leaves new leads to the replica holding the
    /// writer's lease, which routes them in batches: routed here as well,
    /// each would move the team's rotation under the holder's batches,
    /// which would then fail their conditional writes and be redone one
    /// lead at a time (measured with two replicas: 116–835 offers opened
    /// per second, against 3,682–5,085 with the leads left to the
    /// holder). A holder that died leaves them until its lease lapses and
    /// another replica takes it.
    fn yields(&self) -> bool {
        self.engine.lease_held_elsewhere()
    }

    fn after_commit(&self, event: &Event) {
        let (pushes, written) = self.pending.take(&event.envelope.id);
        self.engine.after_event_commit(pushes, written);
    }
}

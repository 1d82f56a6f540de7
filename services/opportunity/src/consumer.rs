//! Turns `wheel.lead.assigned` into a lead in work and `opps.lead.opened`.
//!
//! The inbox already drops a redelivered event id. A second assignment of
//! the same lead under a new event id (a replayed stream, a wheel bug, two
//! replicas racing) is absorbed by the lead id being the table's key: the
//! first owner stays, and a different owner is logged as an error and
//! counted, because it means two reps believe they own one customer.

use std::sync::LazyLock;

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Event, EventDraft, Tx, metrics, now_ms};
use leadwheel_proto::events::v1::{LeadAssigned, LeadOpened};
use prometheus_client::metrics::counter::Counter;

use crate::store::{self, LeadInWork, Opened, STATUS_IN_WORK, StoreError};

/// Assignments of an already-owned lead to a different rep.
static OWNER_CONFLICTS: LazyLock<Counter> = LazyLock::new(|| {
    let counter = Counter::default();
    metrics::register(
        "opportunity_owner_conflicts",
        "Assignments of a lead already in work to a different rep (the first owner is kept)",
        counter.clone(),
    );
    counter
});

/// Applies `wheel.lead.assigned` events.
#[derive(Clone, Debug)]
pub struct AssignedHandler {
    outbox: Outbox,
}

impl AssignedHandler {
    /// A handler announcing new leads in work through `outbox`.
    pub fn new(outbox: Outbox) -> Self {
        LazyLock::force(&OWNER_CONFLICTS);
        Self { outbox }
    }
}

fn transient(err: StoreError) -> HandlerError {
    HandlerError::Transient(err.into())
}

impl EventHandler for AssignedHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let assigned: LeadAssigned = event.decode()?;
        if assigned.lead_id.is_empty() || assigned.rep_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "lead assignment without lead_id or rep_id (lead_id={:?}, rep_id={:?})",
                assigned.lead_id,
                assigned.rep_id
            )));
        }
        // An assignment without a time is dated by its envelope.
        let claimed_at_ms = if assigned.assigned_at_ms > 0 {
            assigned.assigned_at_ms
        } else {
            event.envelope.time_ms
        };
        let lead = LeadInWork {
            lead_id: assigned.lead_id,
            rep_id: assigned.rep_id,
            team_id: assigned.team_id,
            status: STATUS_IN_WORK.to_string(),
            claimed_at_ms,
            opened_at_ms: now_ms(),
        };
        match store::open_lead(tx, &lead, &event.envelope.id)
            .await
            .map_err(transient)?
        {
            Opened::New => {
                let opened = LeadOpened {
                    lead_id: lead.lead_id.clone(),
                    rep_id: lead.rep_id.clone(),
                    team_id: lead.team_id.clone(),
                    opened_at_ms: lead.opened_at_ms,
                };
                let draft = EventDraft::new(subjects::OPPS_LEAD_OPENED, &lead.lead_id, &opened);
                store::enqueue(tx, &self.outbox, draft)
                    .await
                    .map_err(transient)?;
                tracing::info!(lead_id = %lead.lead_id, rep_id = %lead.rep_id, team_id = %lead.team_id, "lead in work");
            }
            Opened::AlreadyOwnedBy { rep_id } if rep_id == lead.rep_id => {
                tracing::info!(lead_id = %lead.lead_id, rep_id = %rep_id, "lead already in work for this rep; repeated assignment ignored");
            }
            Opened::AlreadyOwnedBy { rep_id } => {
                OWNER_CONFLICTS.inc();
                tracing::error!(
                    lead_id = %lead.lead_id,
                    owner = %rep_id,
                    rejected_rep_id = %lead.rep_id,
                    event_id = %event.envelope.id,
                    "lead assigned to a second rep; keeping the first owner"
                );
            }
        }
        Ok(())
    }
}

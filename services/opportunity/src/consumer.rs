//! What this service learns from the wheel and intake.
//!
//! - `wheel.lead.assigned` opens a lead in work and announces it
//!   (`opps.lead.opened`). The inbox already drops a redelivered event id; a
//!   second assignment of the same lead under a new event id is absorbed by
//!   the lead id being the table's key: the first owner stays, and a
//!   different owner is logged as an error and counted, because it means two
//!   reps believe they own one customer. Except for a lead handed back to
//!   the wheel (a handover's `returned`): its next assignment reopens it,
//!   in work for the new owner, and is announced like a new one.
//! - `wheel.lead.reassigned` (a manager's reassign in the wheel) moves the
//!   lead in work to the new rep. Nothing is published: the wheel made the
//!   change and already moved the capacity.
//! - `wheel.team.upserted` and `wheel.rep.upserted` keep the team directory
//!   (who manages which team; which team a rep is in) for authorisation;
//!   `wheel.rep.left` takes a leaver out of their team (nothing more can be
//!   given to them; their remaining book can still be handed over).
//! - `intake.person.erased` erases the personal content kept for those
//!   leads (activity notes, bodies, recording links, the disqualify note),
//!   keeping anonymous rows so counts still add up.

use std::sync::LazyLock;

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Contract, Event, Tx, metrics, now_ms};
use leadwheel_proto::events::v1::{
    LeadAssigned, LeadReassigned, PersonErased, RepLeft, RepUpserted, TeamUpserted,
};
use prometheus_client::metrics::counter::Counter;

use crate::events;
use crate::store::{self, LeadInWork, Opened, STATUS_IN_WORK, StoreError, directory};

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

/// Applies the wheel's events (assignments, reassignments, the team directory).
#[derive(Clone, Debug)]
pub struct WheelHandler {
    outbox: Outbox,
}

impl WheelHandler {
    /// A handler announcing new leads in work through `outbox`.
    pub fn new(outbox: Outbox) -> Self {
        LazyLock::force(&OWNER_CONFLICTS);
        Self { outbox }
    }

    /// The subjects it handles.
    pub fn subjects() -> Vec<String> {
        [
            LeadAssigned::SUBJECT,
            LeadReassigned::SUBJECT,
            TeamUpserted::SUBJECT,
            RepUpserted::SUBJECT,
            RepLeft::SUBJECT,
        ]
        .map(str::to_string)
        .to_vec()
    }
}

fn transient(err: StoreError) -> HandlerError {
    HandlerError::Transient(err.into())
}

fn permanent(message: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(message))
}

impl EventHandler for WheelHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        match event.subject.as_str() {
            LeadAssigned::SUBJECT => self.assigned(tx, event).await,
            LeadReassigned::SUBJECT => reassigned(tx, event).await,
            TeamUpserted::SUBJECT => team_upserted(tx, event).await,
            RepUpserted::SUBJECT => {
                let rep = event.decode_as::<RepUpserted>()?;
                if rep.rep_id.is_empty() || rep.team_id.is_empty() {
                    return Err(permanent(format!(
                        "rep upsert without rep_id or team_id (rep_id={:?})",
                        rep.rep_id
                    )));
                }
                directory::upsert_rep(
                    tx,
                    &rep.rep_id,
                    Some(&rep.name),
                    &rep.team_id,
                    time_of(rep.at_ms, event),
                )
                .await
                .map_err(transient)
            }
            RepLeft::SUBJECT => rep_left(tx, event).await,
            other => Err(permanent(format!("unexpected subject {other}"))),
        }
    }
}

async fn team_upserted(tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
    let team = event.decode_as::<TeamUpserted>()?;
    if team.team_id.is_empty() {
        return Err(permanent("team upsert without team_id".into()));
    }
    let at = time_of(team.at_ms, event);
    directory::upsert_team(tx, &team.team_id, &team.name, &team.manager_id, at)
        .await
        .map_err(transient)?;
    for rep in &team.rep_ids {
        directory::upsert_rep(tx, rep, None, &team.team_id, at)
            .await
            .map_err(transient)?;
    }
    Ok(())
}

/// A rep who left their team is on no team here either: nothing more can
/// be given to them, and their manager no longer answers for them; their
/// book (if any is left) can still be handed over.
async fn rep_left(tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
    let left = event.decode_as::<RepLeft>()?;
    if left.rep_id.is_empty() || left.team_id.is_empty() {
        return Err(permanent(format!(
            "rep left without rep_id or team_id (rep_id={:?})",
            left.rep_id
        )));
    }
    directory::rep_left(tx, &left.rep_id, &left.team_id, time_of(left.at_ms, event))
        .await
        .map_err(transient)?;
    tracing::info!(rep_id = %left.rep_id, team_id = %left.team_id, why = ?left.why, "rep left their team");
    Ok(())
}

/// An event without its own time is dated by its envelope.
fn time_of(at_ms: i64, event: &Event) -> i64 {
    if at_ms > 0 {
        at_ms
    } else {
        event.envelope.time_ms
    }
}

impl WheelHandler {
    async fn assigned(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let assigned = event.decode_as::<LeadAssigned>()?;
        if assigned.lead_id.is_empty() || assigned.rep_id.is_empty() {
            return Err(permanent(format!(
                "lead assignment without lead_id or rep_id (lead_id={:?}, rep_id={:?})",
                assigned.lead_id, assigned.rep_id
            )));
        }
        let lead = LeadInWork {
            lead_id: assigned.lead_id,
            rep_id: assigned.rep_id,
            team_id: assigned.team_id,
            status: STATUS_IN_WORK.to_string(),
            claimed_at_ms: time_of(assigned.assigned_at_ms, event),
            opened_at_ms: now_ms(),
            version: 1,
            ..Default::default()
        };
        match store::open_lead(tx, &lead, &event.envelope.id)
            .await
            .map_err(transient)?
        {
            Opened::New | Opened::Reopened => {
                let draft = events::lead_opened(&lead);
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

async fn reassigned(tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
    let moved = event.decode_as::<LeadReassigned>()?;
    if moved.lead_id.is_empty() || moved.to_rep_id.is_empty() {
        return Err(permanent(format!(
            "reassignment without lead_id or to_rep_id (lead_id={:?})",
            moved.lead_id
        )));
    }
    let Some(mut lead) = store::lead(tx, &moved.lead_id).await.map_err(transient)? else {
        // Not in work here yet: the assignment that follows carries the new owner.
        tracing::info!(lead_id = %moved.lead_id, "reassignment of a lead not in work; nothing to move");
        return Ok(());
    };
    if lead.status != STATUS_IN_WORK || lead.rep_id == moved.to_rep_id {
        return Ok(());
    }
    lead.rep_id = moved.to_rep_id.clone();
    if !moved.team_id.is_empty() {
        lead.team_id = moved.team_id.clone();
    }
    if !store::update_lead(tx, &lead).await.map_err(transient)? {
        return Err(HandlerError::Transient(anyhow::anyhow!(
            "lead {} changed while reassigning; retrying",
            lead.lead_id
        )));
    }
    tracing::info!(lead_id = %lead.lead_id, from = %moved.from_rep_id, to = %moved.to_rep_id, "lead in work reassigned by the wheel");
    Ok(())
}

/// Applies `intake.person.erased`.
#[derive(Clone, Debug, Default)]
pub struct ErasureHandler;

impl EventHandler for ErasureHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let erased = event.decode_as::<PersonErased>()?;
        let at = time_of(erased.at_ms, event);
        for lead_id in &erased.lead_ids {
            let touched = store::activities::erase_lead(tx, lead_id)
                .await
                .map_err(transient)?;
            store::erase_lead(tx, lead_id, at)
                .await
                .map_err(transient)?;
            tracing::info!(lead_id = %lead_id, activities = touched, "personal data erased");
        }
        Ok(())
    }
}

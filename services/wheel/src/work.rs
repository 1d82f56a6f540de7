//! Consumes what opportunity reports about the work on assigned leads:
//!
//! - `opps.lead.converted`, and `opps.lead.disqualified` without
//!   `back_to_pool`: the rep's work on the lead ended, so it stops counting
//!   toward their capacity;
//! - `opps.lead.disqualified` with `back_to_pool`: the lead goes to the
//!   team's open pool for another member;
//! - `opps.lead.owner_changed`: another rep works the lead now (the wheel
//!   reassigns it, so capacity follows the owner);
//! - `opps.lead.returned`: round the wheel again, skipping the previous owner;
//! - `opps.handover.applied`: the leaving rep leaves their team's ring.
//!
//! Each runs in the inbox's transaction. An event about a lead the wheel
//! does not route, or in a state where it no longer applies (a lead
//! already reassigned, say), changes nothing and is logged: opportunity's
//! view is the later one, and the wheel never fights it.

use leadwheel_plumbing::bus::{EventDraft, subjects};
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::Input;
use sqlx::AnyConnection;

use crate::engine::{Engine, Outcome, entry};
use crate::error::WheelError;
use crate::live::{PendingPushes, Push};
use crate::store;

/// The subjects this consumer reads.
pub const SUBJECTS: [&str; 5] = [
    subjects::OPPS_LEAD_CONVERTED,
    subjects::OPPS_LEAD_DISQUALIFIED,
    subjects::OPPS_LEAD_OWNER_CHANGED,
    subjects::OPPS_LEAD_RETURNED,
    subjects::OPPS_HANDOVER_APPLIED,
];

/// Applies opportunity's events to routing and capacity.
pub struct WorkHandler {
    engine: Engine,
    /// Pushes per event, sent once the event's transaction commits.
    pending: PendingPushes,
}

impl WorkHandler {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            pending: PendingPushes::default(),
        }
    }

    /// Feeds `input` to the lead's routing inside `tx`; a lead the wheel
    /// does not know, or one the input no longer fits, is left alone.
    async fn transition(
        &self,
        tx: &mut Tx,
        lead_id: &str,
        input: Input,
        actor: &str,
    ) -> Result<Vec<Push>, HandlerError> {
        match self.engine.transition(tx, lead_id, input, actor).await {
            Ok(Outcome::Transition((_, pushes))) => Ok(pushes),
            // Refused before writing: the lead is not routed here, or its
            // routing moved on (opportunity's view is the later one).
            Ok(Outcome::Refused(refused)) => {
                tracing::info!(lead_id, %refused, "opportunity's change does not apply to the lead's routing");
                Ok(Vec::new())
            }
            Err(err) => Err(transient(err)),
        }
    }
}

fn transient(err: WheelError) -> HandlerError {
    match err {
        WheelError::Corrupt(_) => HandlerError::Permanent(err.into()),
        other => HandlerError::Transient(other.into()),
    }
}

fn actor(by: &str) -> String {
    if by.is_empty() {
        "opportunity".into()
    } else {
        format!("opportunity:{by}")
    }
}

/// Ends the owner's work on `lead_id` for capacity, with a ledger line.
async fn close_work(
    engine: &Engine,
    conn: &mut AnyConnection,
    lead_id: &str,
    rep_id: &str,
    detail: String,
    at_ms: i64,
) -> Result<(), HandlerError> {
    let at_ms = if at_ms > 0 { at_ms } else { engine.now() };
    if store::close_work(conn, lead_id, at_ms)
        .await
        .map_err(transient)?
    {
        store::insert_ledger(
            conn,
            entry(lead_id, "work_closed", Some(rep_id), None, detail, at_ms),
        )
        .await
        .map_err(transient)?;
    }
    Ok(())
}

impl EventHandler for WorkHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let id = &event.envelope.id;
        self.pending.reset(id);
        let pushes = match event.subject.as_str() {
            subjects::OPPS_LEAD_CONVERTED => {
                let converted: events::LeadConverted = event.decode()?;
                let detail = format!(
                    "converted account={} opportunity={}",
                    converted.account_id, converted.opportunity_id
                );
                close_work(
                    &self.engine,
                    tx,
                    &converted.lead_id,
                    &converted.rep_id,
                    detail,
                    converted.at_ms,
                )
                .await?;
                Vec::new()
            }
            subjects::OPPS_LEAD_DISQUALIFIED => {
                let disqualified: events::LeadDisqualified = event.decode()?;
                if disqualified.back_to_pool {
                    let by = actor(&disqualified.rep_id);
                    self.transition(tx, &disqualified.lead_id, Input::ReturnToPool, &by)
                        .await?
                } else {
                    let detail = format!("disqualified reason={}", disqualified.reason);
                    close_work(
                        &self.engine,
                        tx,
                        &disqualified.lead_id,
                        &disqualified.rep_id,
                        detail,
                        disqualified.at_ms,
                    )
                    .await?;
                    Vec::new()
                }
            }
            subjects::OPPS_LEAD_OWNER_CHANGED => {
                let changed: events::LeadOwnerChanged = event.decode()?;
                let known = store::load_rep(tx, &changed.to_rep_id)
                    .await
                    .map_err(transient)?
                    .is_some_and(|rep| rep.team_id.is_some());
                if known {
                    let input = Input::AssignDirect {
                        rep: changed.to_rep_id.clone(),
                    };
                    self.transition(tx, &changed.lead_id, input, &actor(&changed.by))
                        .await?
                } else {
                    tracing::warn!(lead_id = %changed.lead_id, rep_id = %changed.to_rep_id, "lead moved to a rep on no wheel team; capacity is not tracked for them");
                    Vec::new()
                }
            }
            subjects::OPPS_LEAD_RETURNED => {
                let returned: events::LeadReturned = event.decode()?;
                self.transition(tx, &returned.lead_id, Input::Return, &actor(&returned.by))
                    .await?
            }
            subjects::OPPS_HANDOVER_APPLIED => {
                let applied: events::HandoverApplied = event.decode()?;
                self.rep_left(tx, &applied).await?;
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.pending.hold(id, pushes);
        Ok(())
    }

    fn after_commit(&self, event: &Event) {
        let pushes = self.pending.take(&event.envelope.id);
        self.engine.after_event_commit(pushes);
    }
}

impl WorkHandler {
    /// The rep whose book was handed over leaves their team's ring: they
    /// are offered nothing more, and the team's new ring is announced.
    async fn rep_left(
        &self,
        tx: &mut Tx,
        applied: &events::HandoverApplied,
    ) -> Result<(), HandlerError> {
        let now = self.engine.now();
        let Some(team_id) = store::leave_team(tx, &applied.rep_id, now)
            .await
            .map_err(transient)?
        else {
            return Ok(());
        };
        tracing::info!(rep_id = %applied.rep_id, team_id = %team_id, handover_id = %applied.handover_id, "rep left the team after their handover");
        if let Some(rep) = store::load_rep(tx, &applied.rep_id)
            .await
            .map_err(transient)?
        {
            let event = events::RepUpserted {
                rep_id: rep.rep_id.clone(),
                name: rep.name.clone(),
                team_id: String::new(),
                at_ms: now,
            };
            self.engine
                .emit(
                    tx,
                    EventDraft::new(subjects::REP_UPSERTED, &rep.rep_id, &event),
                )
                .await
                .map_err(transient)?;
        }
        let Some(team) = store::load_team(tx, &team_id).await.map_err(transient)? else {
            return Ok(());
        };
        let event = events::TeamUpserted {
            team_id: team.team_id.clone(),
            name: team.name.clone(),
            manager_id: team.manager_id.clone(),
            window_ms: team.window_ms,
            rep_ids: team.ring.clone(),
            at_ms: now,
        };
        self.engine
            .emit(
                tx,
                EventDraft::new(subjects::TEAM_UPSERTED, &team.team_id, &event),
            )
            .await
            .map_err(transient)?;
        Ok(())
    }
}

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
//! - `opps.handover.applied`: the leaving rep leaves their team's ring
//!   (`wheel.rep.left`, then the team's new ring).
//!
//! Each runs in the inbox's transaction. An event about a lead the wheel
//! does not route, or in a state where it no longer applies (a lead
//! already reassigned, say), changes nothing and is logged: opportunity's
//! view is the later one, and the wheel never fights it.

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Contract, Event, Tx};
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::Input;
use sqlx::AnyConnection;

use crate::engine::{Engine, Outcome, entry};
use crate::error::WheelError;
use crate::events::{self as wheel_events, Leaving};
use crate::live::{PendingPushes, Push};
use crate::store;

/// The subjects this consumer reads.
pub const SUBJECTS: [&str; 5] = [
    events::LeadConverted::SUBJECT,
    events::LeadDisqualified::SUBJECT,
    events::LeadOwnerChanged::SUBJECT,
    events::LeadReturned::SUBJECT,
    events::HandoverApplied::SUBJECT,
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
            events::LeadConverted::SUBJECT => {
                let converted = event.decode_as::<events::LeadConverted>()?;
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
            events::LeadDisqualified::SUBJECT => {
                let disqualified = event.decode_as::<events::LeadDisqualified>()?;
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
            events::LeadOwnerChanged::SUBJECT => {
                let changed = event.decode_as::<events::LeadOwnerChanged>()?;
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
            events::LeadReturned::SUBJECT => {
                let returned = event.decode_as::<events::LeadReturned>()?;
                self.transition(tx, &returned.lead_id, Input::Return, &actor(&returned.by))
                    .await?
            }
            events::HandoverApplied::SUBJECT => {
                let applied = event.decode_as::<events::HandoverApplied>()?;
                self.rep_left(tx, &applied).await?;
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.pending.hold(id, pushes);
        Ok(())
    }

    fn after_commit(&self, event: &Event) {
        let (pushes, written) = self.pending.take(&event.envelope.id);
        self.engine.after_event_commit(pushes, written);
    }
}

impl WorkHandler {
    /// The rep whose book was handed over leaves their team's ring: they
    /// are offered nothing more, their leaving is announced
    /// (`wheel.rep.left`), and so is the team's new ring.
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
        let why = Leaving::Handover(applied.handover_id.clone());
        self.engine
            .emit(
                tx,
                wheel_events::rep_left(&applied.rep_id, &team_id, why, now),
            )
            .await
            .map_err(transient)?;
        let Some(team) = store::load_team(tx, &team_id).await.map_err(transient)? else {
            return Ok(());
        };
        self.engine
            .emit(tx, wheel_events::team_upserted(&team, now))
            .await
            .map_err(transient)?;
        Ok(())
    }
}

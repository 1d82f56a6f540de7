//! Raises alerts from the wheel's events: `lead_pooled` (to the manager)
//! from `wheel.lead.pooled`, `lead_escalated` (to the manager) from
//! `wheel.lead.escalated`, and `rep_set_away` (to the rep and to their
//! manager) when the circuit breaker sets a rep away. Also keeps the team
//! directory (who manages which team) from `wheel.team.upserted` and
//! `wheel.rep.upserted`, and counts ended offers for `rep_saturated`
//! ([`crate::customers`]).
//!
//! `wheel.rep.left` takes the leaver out of their team's directory: a
//! manager no longer answers for them (`manages_rep`), and a timed rule
//! about something they still own goes to the team's manager instead of
//! them (`directory::recipients`). Their pending timers and open alerts
//! are not moved here: a handover moves the book, and its owner-change
//! events (`opps.lead.owner_changed`, `opps.opportunity.owner_changed`,
//! `opps.account.owner_changed`, the tasks) re-arm and resolve them for
//! the new owner, exactly as for any change of owner; until then the
//! manager is told. Escalations already go to the manager.
//!
//! Events are decoded by contract in [`WheelEvent`], whose subjects are
//! the consumer's filter. One that is not what its contract says, or lacks
//! a field it needs, is refused as permanent (terminated and logged); a
//! subject outside the filter is refused the same way.
//! The inbox drops a redelivered event id; the unique (kind, dedupe key)
//! drops the same fact reported again under a new event id, so people are
//! told once per fact, not once per delivery.

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};
use leadwheel_proto::events::v1::{
    LeadEscalated, LeadPooled, OfferClosed, RepAvailabilityChanged, RepLeft, RepUpserted,
    TeamUpserted,
};

use crate::ops::Ops;
use crate::store::{NewAlert, StoreError, directory};

/// The kind of alert raised when a lead goes to the open pool.
pub const KIND_LEAD_POOLED: &str = "lead_pooled";
/// The kind raised when a pooled lead stays unclaimed past the pool timeout.
pub const KIND_LEAD_ESCALATED: &str = "lead_escalated";
/// The kind raised when the circuit breaker sets a rep away.
pub const KIND_REP_SET_AWAY: &str = "rep_set_away";

leadwheel_plumbing::consumed_events! {
    /// An event this handler reads from the wheel's stream, by contract.
    pub enum WheelEvent {
        /// `wheel.offer.closed`: counted for `rep_saturated`.
        OfferClosed(OfferClosed),
        /// `wheel.lead.pooled`: `lead_pooled` to the manager.
        LeadPooled(LeadPooled),
        /// `wheel.lead.escalated`: `lead_escalated` to the manager.
        LeadEscalated(LeadEscalated),
        /// `wheel.rep.availability_changed`: `rep_set_away`.
        RepAvailabilityChanged(RepAvailabilityChanged),
        /// `wheel.team.upserted`: the directory.
        TeamUpserted(TeamUpserted),
        /// `wheel.rep.upserted`: the directory.
        RepUpserted(RepUpserted),
        /// `wheel.rep.left`: the directory.
        RepLeft(RepLeft),
    }
}

/// The subjects this handler reads from the wheel's stream.
pub const SUBJECTS: &[&str] = WheelEvent::SUBJECTS;

/// Applies the wheel's events.
#[derive(Clone, Debug)]
pub struct WheelHandler {
    ops: Ops,
}

impl WheelHandler {
    /// A handler raising alerts through `ops`.
    pub fn new(ops: Ops) -> Self {
        Self { ops }
    }
}

fn transient(err: StoreError) -> HandlerError {
    HandlerError::Transient(err.into())
}

fn permanent(message: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(message))
}

/// What the manager reads.
pub fn pooled_message(pooled: &LeadPooled) -> String {
    let team = if pooled.team_id.is_empty() {
        "the default team".to_string()
    } else {
        format!("team {}", pooled.team_id)
    };
    let why = match pooled.offers_made {
        0 => "no rep was eligible for an offer".to_string(),
        1 => "it was offered once and nobody claimed it".to_string(),
        n => format!("it was offered {n} times and nobody claimed it"),
    };
    format!(
        "Lead {} is in the open pool of {team}: {why}. Claim it or assign it to a rep.",
        pooled.lead_id
    )
}

/// An alert to one person that does not escalate.
fn to_one(
    kind: &str,
    dedupe_key: String,
    team_id: &str,
    to: &str,
    subject: &str,
    message: String,
) -> NewAlert {
    NewAlert {
        kind: kind.to_string(),
        dedupe_key,
        team_id: team_id.to_string(),
        rep_id: String::new(),
        manager_id: String::new(),
        recipients: if to.is_empty() {
            Vec::new()
        } else {
            vec![to.to_string()]
        },
        subject_key: subject.to_string(),
        message,
        escalate_after_ms: 0,
        second_escalation_to: String::new(),
        second_escalate_after_ms: 0,
    }
}

impl WheelHandler {
    async fn raise(&self, tx: &mut Tx, new: NewAlert) -> Result<(), HandlerError> {
        self.ops.raise(tx, new).await.map_err(transient)?;
        Ok(())
    }

    async fn pooled(&self, tx: &mut Tx, pooled: LeadPooled) -> Result<(), HandlerError> {
        if pooled.lead_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "wheel.lead.pooled without a lead_id"
            )));
        }
        if pooled.manager_id.is_empty() {
            // Still stored: admins see alerts with no recipient.
            tracing::warn!(lead_id = %pooled.lead_id, team_id = %pooled.team_id, "pooled lead's team has no manager; the alert goes to admins only");
        }
        let mut new = to_one(
            KIND_LEAD_POOLED,
            pooled.lead_id.clone(),
            &pooled.team_id,
            &pooled.manager_id,
            &pooled.lead_id,
            pooled_message(&pooled),
        );
        new.manager_id = pooled.manager_id.clone();
        self.raise(tx, new).await
    }

    async fn escalated(&self, tx: &mut Tx, escalated: LeadEscalated) -> Result<(), HandlerError> {
        if escalated.lead_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "wheel.lead.escalated without a lead_id"
            )));
        }
        let waited_min = (escalated.escalated_at_ms - escalated.pooled_at_ms).max(0) / 60_000;
        let mut new = to_one(
            KIND_LEAD_ESCALATED,
            format!("{}@{}", escalated.lead_id, escalated.pooled_at_ms),
            &escalated.team_id,
            &escalated.manager_id,
            &escalated.lead_id,
            format!(
                "Lead {} has waited in the open pool of team {} for {waited_min} min and nobody claimed it. Assign it to a rep.",
                escalated.lead_id, escalated.team_id
            ),
        );
        new.manager_id = escalated.manager_id.clone();
        self.raise(tx, new).await
    }

    async fn availability(
        &self,
        tx: &mut Tx,
        change: RepAvailabilityChanged,
    ) -> Result<(), HandlerError> {
        // Only the circuit breaker's decisions need telling: a rep setting
        // themselves away, or a manager doing it, already know.
        if change.by != "circuit_breaker" || change.availability != "away" {
            return Ok(());
        }
        if change.rep_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "wheel.rep.availability_changed without a rep_id"
            )));
        }
        let fact = format!("{}@{}", change.rep_id, change.at_ms);
        // A rep on no team: the alert names none; with no manager, it goes
        // to admins only.
        let team_id = change.team_id.as_deref().unwrap_or_default();
        let manager_id = change.manager_id.as_deref().unwrap_or_default();
        let mut to_rep = to_one(
            KIND_REP_SET_AWAY,
            format!("{fact}:rep"),
            team_id,
            &change.rep_id,
            &change.rep_id,
            format!(
                "You were set away because {}. You will get no offers until you set yourself available again.",
                change.reason
            ),
        );
        to_rep.rep_id = change.rep_id.clone();
        self.raise(tx, to_rep).await?;
        let mut to_manager = to_one(
            KIND_REP_SET_AWAY,
            format!("{fact}:manager"),
            team_id,
            manager_id,
            &change.rep_id,
            format!(
                "{} on team {team_id} was set away by the circuit breaker: {}.",
                change.rep_id, change.reason
            ),
        );
        to_manager.manager_id = manager_id.to_string();
        self.raise(tx, to_manager).await
    }
}

impl WheelHandler {
    async fn team_upserted(&self, tx: &mut Tx, team: TeamUpserted) -> Result<(), HandlerError> {
        if team.team_id.is_empty() {
            return Err(permanent("wheel.team.upserted without a team_id".into()));
        }
        directory::upsert_team(tx, &team.team_id, &team.manager_id, team.at_ms)
            .await
            .map_err(transient)?;
        for rep in &team.rep_ids {
            directory::upsert_rep(tx, rep, &team.team_id, team.at_ms)
                .await
                .map_err(transient)?;
        }
        // A team known for the first time gets its forecast check.
        self.ops
            .arm_forecast_check(tx, &team.team_id, false)
            .await
            .map_err(transient)
    }
}

impl EventHandler for WheelHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let Some(read) = WheelEvent::decode(event)? else {
            return Err(permanent(format!("unexpected subject {}", event.subject)));
        };
        match read {
            WheelEvent::LeadPooled(pooled) => self.pooled(tx, pooled).await,
            WheelEvent::LeadEscalated(escalated) => self.escalated(tx, escalated).await,
            WheelEvent::RepAvailabilityChanged(change) => self.availability(tx, change).await,
            WheelEvent::OfferClosed(closed) => {
                if closed.offer_id.is_empty() || closed.rep_id.is_empty() {
                    return Err(permanent(
                        "wheel.offer.closed without an offer_id or rep_id".into(),
                    ));
                }
                crate::customers::offer_closed(&self.ops, tx, &closed)
                    .await
                    .map_err(transient)
            }
            WheelEvent::TeamUpserted(team) => self.team_upserted(tx, team).await,
            WheelEvent::RepUpserted(rep) => {
                if rep.rep_id.is_empty() {
                    return Err(permanent("wheel.rep.upserted without a rep_id".into()));
                }
                directory::upsert_rep(tx, &rep.rep_id, &rep.team_id, rep.at_ms)
                    .await
                    .map_err(transient)
            }
            WheelEvent::RepLeft(left) => {
                if left.rep_id.is_empty() || left.team_id.is_empty() {
                    return Err(permanent(format!(
                        "wheel.rep.left without a rep_id or team_id (rep_id={:?})",
                        left.rep_id
                    )));
                }
                directory::rep_left(tx, &left.rep_id, &left.team_id, left.at_ms)
                    .await
                    .map_err(transient)
            }
        }
    }

    fn after_commit(&self, _event: &Event) {
        self.ops.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_why() {
        let mut pooled = LeadPooled {
            lead_id: "lead-1".into(),
            team_id: "north".into(),
            manager_id: "maya".into(),
            pooled_at_ms: 1,
            offers_made: 3,
            ..Default::default()
        };
        assert_eq!(
            pooled_message(&pooled),
            "Lead lead-1 is in the open pool of team north: it was offered 3 times and nobody claimed it. Claim it or assign it to a rep."
        );
        pooled.offers_made = 0;
        pooled.team_id.clear();
        assert!(pooled_message(&pooled).contains("default team: no rep was eligible"));
    }
}

//! Raises alerts from the wheel's events: `lead_pooled` (to the manager)
//! from `wheel.lead.pooled`, `lead_escalated` (to the manager) from
//! `wheel.lead.escalated`, and `rep_set_away` (to the rep and to their
//! manager) when the circuit breaker sets a rep away. Also keeps the team
//! directory (who manages which team) from `wheel.team.upserted` and
//! `wheel.rep.upserted`, and counts ended offers for `rep_saturated`
//! ([`crate::customers`]).
//!
//! The inbox drops a redelivered event id; the unique (kind, dedupe key)
//! drops the same fact reported again under a new event id, so people are
//! told once per fact, not once per delivery.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};
use leadwheel_proto::events::v1::{
    LeadEscalated, LeadPooled, OfferClosed, RepAvailabilityChanged, RepUpserted, TeamUpserted,
};

use crate::ops::Ops;
use crate::store::{NewAlert, StoreError, directory};

/// The kind of alert raised when a lead goes to the open pool.
pub const KIND_LEAD_POOLED: &str = "lead_pooled";
/// The kind raised when a pooled lead stays unclaimed past the pool timeout.
pub const KIND_LEAD_ESCALATED: &str = "lead_escalated";
/// The kind raised when the circuit breaker sets a rep away.
pub const KIND_REP_SET_AWAY: &str = "rep_set_away";

/// The subjects this handler reads from the wheel's stream.
pub const SUBJECTS: [&str; 6] = [
    subjects::OFFER_CLOSED,
    subjects::LEAD_POOLED,
    subjects::LEAD_ESCALATED,
    subjects::REP_AVAILABILITY_CHANGED,
    subjects::TEAM_UPSERTED,
    subjects::REP_UPSERTED,
];

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
        let mut to_rep = to_one(
            KIND_REP_SET_AWAY,
            format!("{fact}:rep"),
            &change.team_id,
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
            &change.team_id,
            &change.manager_id,
            &change.rep_id,
            format!(
                "{} on team {} was set away by the circuit breaker: {}.",
                change.rep_id, change.team_id, change.reason
            ),
        );
        to_manager.manager_id = change.manager_id.clone();
        self.raise(tx, to_manager).await
    }
}

impl EventHandler for WheelHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        match event.subject.as_str() {
            subjects::LEAD_POOLED => self.pooled(tx, event.decode()?).await,
            subjects::LEAD_ESCALATED => self.escalated(tx, event.decode()?).await,
            subjects::REP_AVAILABILITY_CHANGED => self.availability(tx, event.decode()?).await,
            subjects::OFFER_CLOSED => {
                let closed: OfferClosed = event.decode()?;
                if closed.offer_id.is_empty() || closed.rep_id.is_empty() {
                    return Err(HandlerError::Permanent(anyhow::anyhow!(
                        "wheel.offer.closed without an offer_id or rep_id"
                    )));
                }
                crate::customers::offer_closed(&self.ops, tx, &closed)
                    .await
                    .map_err(transient)
            }
            subjects::TEAM_UPSERTED => {
                let team: TeamUpserted = event.decode()?;
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
            subjects::REP_UPSERTED => {
                let rep: RepUpserted = event.decode()?;
                directory::upsert_rep(tx, &rep.rep_id, &rep.team_id, rep.at_ms)
                    .await
                    .map_err(transient)
            }
            _ => Ok(()),
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

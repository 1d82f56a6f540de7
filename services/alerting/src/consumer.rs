//! Raises alerts from the wheel's events: `lead_pooled` (to the manager)
//! from `wheel.lead.pooled`, `lead_escalated` (to the manager) from
//! `wheel.lead.escalated`, and `rep_set_away` (to the rep and to their
//! manager) when the circuit breaker sets a rep away.
//!
//! The inbox drops a redelivered event id; the unique (kind, dedupe key)
//! drops the same fact reported again under a new event id, so people are
//! told once per fact, not once per delivery.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Event, EventDraft, Tx, ids, now_ms};
use leadwheel_proto::events::v1::{AlertRaised, LeadEscalated, LeadPooled, RepAvailabilityChanged};

use crate::store::{self, Alert, StoreError};

/// The kind of alert raised when a lead goes to the open pool.
pub const KIND_LEAD_POOLED: &str = "lead_pooled";
/// The kind raised when a pooled lead stays unclaimed past the pool timeout.
pub const KIND_LEAD_ESCALATED: &str = "lead_escalated";
/// The kind raised when the circuit breaker sets a rep away.
pub const KIND_REP_SET_AWAY: &str = "rep_set_away";

/// Applies `wheel.lead.pooled` events.
#[derive(Clone, Debug)]
pub struct PooledHandler {
    outbox: Outbox,
}

impl PooledHandler {
    /// A handler announcing raised alerts through `outbox`.
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
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

impl PooledHandler {
    /// Stores `alert` unless the same (kind, `dedupe_key`) was raised
    /// before, and announces it on `alerts.raised`.
    async fn raise(&self, tx: &mut Tx, alert: Alert, dedupe_key: &str) -> Result<(), HandlerError> {
        if !store::raise(tx, &alert, dedupe_key)
            .await
            .map_err(transient)?
        {
            tracing::info!(kind = %alert.kind, dedupe_key, "alert already raised; repeated event ignored");
            return Ok(());
        }
        let raised = AlertRaised {
            alert_id: alert.alert_id.clone(),
            kind: alert.kind.clone(),
            team_id: alert.team_id.clone(),
            recipient_id: alert.recipient_id.clone(),
            subject_key: alert.subject_key.clone(),
            message: alert.message.clone(),
            raised_at_ms: alert.raised_at_ms,
        };
        let draft = EventDraft::new(subjects::ALERT_RAISED, &alert.alert_id, &raised);
        store::enqueue(tx, &self.outbox, draft)
            .await
            .map_err(transient)?;
        tracing::info!(alert_id = %alert.alert_id, kind = %alert.kind, recipient_id = %alert.recipient_id, subject = %alert.subject_key, "alert raised");
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
        let alert = Alert {
            alert_id: ids::prefixed("alert"),
            kind: KIND_LEAD_POOLED.to_string(),
            team_id: pooled.team_id.clone(),
            recipient_id: pooled.manager_id.clone(),
            subject_key: pooled.lead_id.clone(),
            message: pooled_message(&pooled),
            raised_at_ms: now_ms(),
        };
        self.raise(tx, alert, &pooled.lead_id).await
    }

    async fn escalated(&self, tx: &mut Tx, escalated: LeadEscalated) -> Result<(), HandlerError> {
        if escalated.lead_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "wheel.lead.escalated without a lead_id"
            )));
        }
        let waited_min = (escalated.escalated_at_ms - escalated.pooled_at_ms).max(0) / 60_000;
        let alert = Alert {
            alert_id: ids::prefixed("alert"),
            kind: KIND_LEAD_ESCALATED.to_string(),
            team_id: escalated.team_id.clone(),
            recipient_id: escalated.manager_id.clone(),
            subject_key: escalated.lead_id.clone(),
            message: format!(
                "Lead {} has waited in the open pool of team {} for {waited_min} min and nobody claimed it. Assign it to a rep.",
                escalated.lead_id, escalated.team_id
            ),
            raised_at_ms: now_ms(),
        };
        self.raise(
            tx,
            alert,
            &format!("{}@{}", escalated.lead_id, escalated.pooled_at_ms),
        )
        .await
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
        let to_rep = Alert {
            alert_id: ids::prefixed("alert"),
            kind: KIND_REP_SET_AWAY.to_string(),
            team_id: change.team_id.clone(),
            recipient_id: change.rep_id.clone(),
            subject_key: change.rep_id.clone(),
            message: format!(
                "You were set away because {}. You will get no offers until you set yourself available again.",
                change.reason
            ),
            raised_at_ms: now_ms(),
        };
        self.raise(tx, to_rep, &format!("{fact}:rep")).await?;
        let to_manager = Alert {
            alert_id: ids::prefixed("alert"),
            kind: KIND_REP_SET_AWAY.to_string(),
            team_id: change.team_id.clone(),
            recipient_id: change.manager_id.clone(),
            subject_key: change.rep_id.clone(),
            message: format!(
                "{} on team {} was set away by the circuit breaker: {}.",
                change.rep_id, change.team_id, change.reason
            ),
            raised_at_ms: now_ms(),
        };
        self.raise(tx, to_manager, &format!("{fact}:manager")).await
    }
}

impl EventHandler for PooledHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        match event.subject.as_str() {
            subjects::LEAD_POOLED => self.pooled(tx, event.decode()?).await,
            subjects::LEAD_ESCALATED => self.escalated(tx, event.decode()?).await,
            subjects::REP_AVAILABILITY_CHANGED => self.availability(tx, event.decode()?).await,
            _ => Ok(()),
        }
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

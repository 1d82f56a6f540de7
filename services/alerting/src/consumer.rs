//! Raises `lead_pooled` alerts from `wheel.lead.pooled`.
//!
//! The inbox drops a redelivered event id; the unique (kind, lead) key
//! drops the same pooling reported again under a new event id, so a
//! manager is told once per pooled lead, not once per delivery.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Event, EventDraft, Tx, ids, now_ms};
use leadwheel_proto::events::v1::{AlertRaised, LeadPooled};

use crate::store::{self, Alert, StoreError};

/// The kind of alert raised when a lead goes to the open pool.
pub const KIND_LEAD_POOLED: &str = "lead_pooled";

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

impl EventHandler for PooledHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let pooled: LeadPooled = event.decode()?;
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
        if !store::raise(tx, &alert, &pooled.lead_id)
            .await
            .map_err(transient)?
        {
            tracing::info!(lead_id = %pooled.lead_id, "lead_pooled alert already raised; repeated event ignored");
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
        tracing::info!(alert_id = %alert.alert_id, kind = %alert.kind, recipient_id = %alert.recipient_id, lead_id = %alert.subject_key, "alert raised");
        Ok(())
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

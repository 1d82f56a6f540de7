//! Creating and reading leads: the one code path both front doors use.
//!
//! A new lead, its dedupe key, its idempotency record and the
//! `intake.lead.created` outbox row commit in one transaction, before the
//! caller gets an answer; the relay publishes after commit. So an accepted
//! lead always produces its event (even if NATS is down right now), and a
//! rejected or duplicate one never does.

use std::time::Duration;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Store, ids, now_ms};
use tracing::Instrument;

use crate::error::IntakeError;
use crate::store::{self, LeadRecord};
use crate::validate::NewLead;

/// The outcome of a create.
#[derive(Clone, Debug)]
pub struct Created {
    /// The lead the request resolved to: new, or the existing one.
    pub lead: LeadRecord,
    /// True when the email matched a lead made within the dedupe window.
    pub duplicate: bool,
    /// True when this answer replays an earlier request with the same key.
    pub replayed: bool,
}

/// Creates and reads leads.
#[derive(Clone, Debug)]
pub struct Leads {
    store: Store,
    outbox: Outbox,
    dedupe_window: Duration,
}

impl Leads {
    /// Leads over `store`, publishing through `outbox`; the same email within
    /// `dedupe_window` of a lead's creation resolves to that lead.
    pub fn new(store: Store, outbox: Outbox, dedupe_window: Duration) -> Self {
        Self {
            store,
            outbox,
            dedupe_window,
        }
    }

    /// Creates `lead`, or resolves it to an existing one (dedupe by email, or
    /// a replay of `request_key`).
    pub async fn create(
        &self,
        lead: NewLead,
        request_key: Option<RequestKey>,
    ) -> Result<Created, IntakeError> {
        let span = tracing::info_span!(
            "create_lead",
            lead_id = tracing::field::Empty,
            duplicate = tracing::field::Empty
        );
        let created = self
            .create_inner(lead, request_key)
            .instrument(span.clone())
            .await?;
        span.record("lead_id", created.lead.lead_id.as_str());
        span.record("duplicate", created.duplicate);
        Ok(created)
    }

    async fn create_inner(
        &self,
        lead: NewLead,
        request_key: Option<RequestKey>,
    ) -> Result<Created, IntakeError> {
        let now = now_ms();
        let stored_key = request_key.as_ref().map(RequestKey::stored);
        let mut tx = store::begin(&self.store).await?;
        let prior = match &stored_key {
            Some(key) => store::claim_request(&mut tx, key, &lead.email_key, now).await?,
            None => None,
        };
        if let Some(prior) = prior {
            drop(tx); // nothing written: roll back
            if prior.fingerprint != lead.email_key {
                let id = request_key.map(|k| k.id).unwrap_or_default();
                return Err(IntakeError::RequestConflict(id));
            }
            let record = self.existing(&prior.lead_id).await?;
            tracing::info!(lead_id = %record.lead_id, "idempotent replay");
            return Ok(Created {
                lead: record,
                duplicate: prior.duplicate,
                replayed: true,
            });
        }

        let lead_id = ids::prefixed("lead");
        let cutoff = now.saturating_sub(self.dedupe_window.as_millis() as i64);
        if let Some(holder) =
            store::claim_dedupe_key(&mut tx, &lead.email_key, &lead_id, now, cutoff).await?
        {
            if let Some(key) = &stored_key {
                store::record_request(&mut tx, key, &holder, true).await?;
            }
            store::commit(tx).await?;
            let record = self.existing(&holder).await?;
            tracing::info!(lead_id = %record.lead_id, "duplicate signup resolved to an existing lead");
            return Ok(Created {
                lead: record,
                duplicate: true,
                replayed: false,
            });
        }

        let record = LeadRecord {
            lead_id,
            email: lead.email,
            email_key: lead.email_key,
            name: lead.name,
            company: lead.company,
            domain: lead.domain,
            phone: lead.phone,
            website: lead.website,
            country: lead.country,
            source: lead.source,
            message: lead.message,
            tier: String::new(),
            score: 0,
            created_at_ms: now,
        };
        store::insert_lead(&mut tx, &record).await?;
        let event_id = store::enqueue_created(&self.outbox, &mut tx, &record).await?;
        if let Some(key) = &stored_key {
            store::record_request(&mut tx, key, &record.lead_id, false).await?;
        }
        store::commit(tx).await?;
        self.outbox.notify();
        tracing::info!(lead_id = %record.lead_id, event_id = %event_id, domain = %record.domain, "lead created");
        Ok(Created {
            lead: record,
            duplicate: false,
            replayed: false,
        })
    }

    /// The lead `lead_id`, or `NotFound`.
    pub async fn get(&self, lead_id: &str) -> Result<LeadRecord, IntakeError> {
        store::get_lead(&self.store, lead_id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(lead_id.to_string()))
    }

    /// A page of leads, newest first, older than `before` when given.
    pub async fn list(
        &self,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<LeadRecord>, IntakeError> {
        store::list_leads(&self.store, before, limit).await
    }

    /// A lead another row points at; its absence is corruption, not a 404.
    async fn existing(&self, lead_id: &str) -> Result<LeadRecord, IntakeError> {
        store::get_lead(&self.store, lead_id).await?.ok_or_else(|| {
            IntakeError::Internal(anyhow::anyhow!(
                "lead {lead_id} is referenced but not stored"
            ))
        })
    }
}

/// An idempotency key, scoped to who sent it, so two integrations that
/// both number their requests from 1 never collide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    /// The door and caller, e.g. `grpc/crm-sync` or `http`.
    pub scope: String,
    /// The caller's key.
    pub id: String,
}

impl RequestKey {
    /// The stored form; length-prefixed so no scope/id pair can alias another.
    fn stored(&self) -> String {
        format!("{}:{}:{}", self.scope.len(), self.scope, self.id)
    }
}

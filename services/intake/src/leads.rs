//! Creating and reading leads: the one code path both front doors use.
//!
//! A new lead, its dedupe key, its idempotency record and the
//! `intake.lead.created` outbox row commit in one transaction, before the
//! caller gets an answer; the relay publishes after commit. So an accepted
//! lead always produces its event (even if NATS is down right now), and a
//! rejected one never does.
//!
//! Writes go through one writer task that commits them in groups (see
//! [`writer`]): a transaction per signup costs a commit (an fsync) per
//! signup, which caps SQLite at a few hundred a second; a group of N costs
//! one. Scoring is done here, before the writer, as it needs no store.

mod writer;

use std::time::Duration;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::paging::Cursor;
use leadwheel_plumbing::{Store, ids, now_ms};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::error::IntakeError;
use crate::scoring::Scorer;
use crate::store::{self, LeadRecord, ListFilter, STATUS_ACTIVE};
use crate::validate::NewLead;

pub use writer::MAX_BATCH;

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
    scorer: Scorer,
    writer: mpsc::Sender<writer::Job>,
}

impl Leads {
    /// Leads over `store`, publishing through `outbox`, scored by `scorer`;
    /// the same email within `dedupe_window` of a lead's creation resolves
    /// to that lead. Starts the writer task, which ends when the last clone
    /// of the returned value is dropped.
    pub fn new(store: Store, outbox: Outbox, dedupe_window: Duration, scorer: Scorer) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer::run(
            store.clone(),
            outbox.clone(),
            dedupe_window,
            rx,
        ));
        Self {
            store,
            outbox,
            scorer,
            writer: tx,
        }
    }

    /// The store (for the erasure and account paths).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The scorer in force.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
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

    /// The record `lead` would be stored as (scored, not yet matched to an
    /// account), and the domains to match against accounts.
    fn prepare(&self, lead: NewLead, now: i64) -> (LeadRecord, Vec<String>) {
        let scored = self.scorer.score(&lead);
        let mut match_domains = Vec::new();
        for domain in [&lead.domain, &lead.email_domain] {
            if !domain.is_empty()
                && !self.scorer.is_freemail(domain)
                && !match_domains.contains(domain)
            {
                match_domains.push(domain.clone());
            }
        }
        let (tier, score, score_reasons) = match scored {
            Some(scored) => (
                scored.tier,
                scored.score,
                scored.fired.iter().map(ToString::to_string).collect(),
            ),
            None => (String::new(), 0, Vec::new()),
        };
        let record = LeadRecord {
            lead_id: ids::prefixed("lead"),
            email: lead.email,
            email_key: lead.email_key,
            name: lead.name,
            company: lead.company,
            domain: lead.domain,
            phone: lead.phone,
            website: lead.website,
            company_size: lead.company_size,
            country: lead.country,
            source: lead.source,
            utm: lead.utm,
            product: lead.product,
            plan: lead.plan,
            consent: lead.consent,
            message: lead.message,
            attributes: lead.attributes,
            tier,
            score,
            score_reasons,
            account_owner_hint: String::new(),
            team_hint: String::new(),
            status: STATUS_ACTIVE.to_string(),
            touches: 0,
            created_at_ms: now,
        };
        (record, match_domains)
    }

    async fn create_inner(
        &self,
        lead: NewLead,
        request_key: Option<RequestKey>,
    ) -> Result<Created, IntakeError> {
        let (record, match_domains) = self.prepare(lead, now_ms());
        let (reply, answer) = oneshot::channel();
        let job = writer::Job {
            record,
            match_domains,
            request_key: request_key.as_ref().map(RequestKey::stored),
            request_id: request_key.map(|key| key.id).unwrap_or_default(),
            trace: tracing::Span::current(),
            reply,
        };
        self.writer
            .send(job)
            .await
            .map_err(|_| IntakeError::Unavailable(anyhow::anyhow!("intake is shutting down")))?;
        let outcome = answer.await.map_err(|_| {
            IntakeError::Internal(anyhow::anyhow!("the lead writer stopped without answering"))
        })??;
        match outcome {
            writer::Outcome::Created(record) => {
                self.outbox.notify();
                Ok(Created {
                    lead: *record,
                    duplicate: false,
                    replayed: false,
                })
            }
            writer::Outcome::Duplicate { lead_id } => {
                self.outbox.notify();
                let record = self.existing(&lead_id).await?;
                tracing::info!(lead_id = %record.lead_id, "duplicate signup resolved to an existing lead");
                Ok(Created {
                    lead: record,
                    duplicate: true,
                    replayed: false,
                })
            }
            writer::Outcome::Replay { lead_id, duplicate } => {
                let record = self.existing(&lead_id).await?;
                tracing::info!(lead_id = %record.lead_id, "idempotent replay");
                Ok(Created {
                    lead: record,
                    duplicate,
                    replayed: true,
                })
            }
        }
    }

    /// Validates nothing more and stores nothing: what `lead` would score.
    pub fn dry_run(&self, lead: NewLead) -> LeadRecord {
        self.prepare(lead, now_ms()).0
    }

    /// Erases the personal data of the person with email key `email_key`;
    /// returns the erased lead ids (none for an unknown email).
    pub async fn erase(&self, email_key: &str, by: &str) -> Result<Vec<String>, IntakeError> {
        let mut tx = store::begin(&self.store).await?;
        let erased = store::erase_person(&self.outbox, &mut tx, email_key, by, now_ms()).await?;
        store::commit(tx).await?;
        if !erased.is_empty() {
            self.outbox.notify();
            tracing::info!(leads = erased.len(), by, "person erased");
        }
        Ok(erased)
    }

    /// The lead `lead_id`, or `NotFound`.
    pub async fn get(&self, lead_id: &str) -> Result<LeadRecord, IntakeError> {
        store::get_lead(&self.store, lead_id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(lead_id.to_string()))
    }

    /// A page of leads matching `filter`, newest first, after `cursor`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<LeadRecord>, IntakeError> {
        store::list_leads(&self.store, filter, cursor, limit).await
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

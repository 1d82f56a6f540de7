//! Group commit: one task writes every lead, many per transaction.
//!
//! Handlers send a [`Job`] and wait. The writer takes the first job, then
//! whatever else has queued meanwhile (up to [`MAX_BATCH`]), applies them in
//! arrival order inside one transaction, commits, and only then answers
//! each: no caller hears "accepted" before its lead is durable. While one
//! group commits the next one queues, so under load groups grow by
//! themselves and at low load a lone signup commits at once.
//!
//! Exactness is kept because the jobs of a group run one after another on
//! the transaction: a second signup with the same email in the same group
//! sees the first one's dedupe key, as it would in a later group. If the
//! transaction fails, every job of the group gets the error (none was
//! stored) and may be retried by its caller.

use std::collections::HashMap;
use std::time::Duration;

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Store, Tx, now_ms};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::error::IntakeError;
use crate::store::{self, AccountHint, LeadRecord};

/// Most signups committed in one transaction: bounds a transaction's time
/// (and so the latency of the group behind it).
pub const MAX_BATCH: usize = 256;

/// One signup to store.
#[derive(Debug)]
pub(super) struct Job {
    /// The lead as it would be stored.
    pub record: LeadRecord,
    /// Domains to match against known accounts, most specific first.
    pub match_domains: Vec<String>,
    /// Stored idempotency key, if any.
    pub request_key: Option<String>,
    /// The caller's key as sent (for the conflict message).
    pub request_id: String,
    /// The request's span, so the outbox row carries its trace.
    pub trace: tracing::Span,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Outcome, IntakeError>>,
}

/// What a job resolved to.
#[derive(Debug)]
pub(super) enum Outcome {
    /// A new lead (boxed: the record is large).
    Created(Box<LeadRecord>),
    /// The email matched this lead within the window; the touch is recorded.
    Duplicate { lead_id: String },
    /// The idempotency key was seen before; this was the answer.
    Replay { lead_id: String, duplicate: bool },
}

/// Runs until every sender is gone.
pub(super) async fn run(
    store: Store,
    outbox: Outbox,
    dedupe_window: Duration,
    mut jobs: mpsc::Receiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_group(&store, &outbox, dedupe_window, &mut batch).await;
        match results {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(err) => {
                let message = format!("{err:#}");
                let retryable = matches!(err, IntakeError::Unavailable(_));
                tracing::warn!(error = %message, signups = batch.len(), "a group of signups failed to commit; none was stored");
                for job in batch.drain(..) {
                    let err = if retryable {
                        IntakeError::Unavailable(anyhow::anyhow!("{message}"))
                    } else {
                        IntakeError::Internal(anyhow::anyhow!("{message}"))
                    };
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

/// Applies `batch` in one transaction. Per-job refusals (a reused request
/// id) are answers; a store error fails the whole group.
async fn commit_group(
    store: &Store,
    outbox: &Outbox,
    dedupe_window: Duration,
    batch: &mut [Job],
) -> Result<Vec<Result<Outcome, IntakeError>>, IntakeError> {
    let mut tx = store::begin(store).await?;
    // Account hints for the whole group in one query: accounts change only
    // in other transactions, so this is what each job would have read.
    let mut domains: Vec<&str> = batch
        .iter()
        .flat_map(|job| job.match_domains.iter())
        .flat_map(|domain| store::candidates(domain))
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let hints = store::account_hints(&mut tx, &domains).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch.iter_mut() {
        let span = job.trace.clone();
        outcomes.push(
            apply(&mut tx, outbox, dedupe_window, &hints, job)
                .instrument(span)
                .await?,
        );
    }
    store::commit(tx).await?;
    Ok(outcomes)
}

async fn apply(
    tx: &mut Tx,
    outbox: &Outbox,
    dedupe_window: Duration,
    hints: &HashMap<String, AccountHint>,
    job: &mut Job,
) -> Result<Result<Outcome, IntakeError>, IntakeError> {
    let now = now_ms();
    let record = &mut job.record;
    if let Some(key) = &job.request_key
        && let Some(prior) = store::claim_request(tx, key, &record.email_key, now).await?
    {
        if prior.fingerprint != record.email_key {
            return Ok(Err(IntakeError::RequestConflict(job.request_id.clone())));
        }
        return Ok(Ok(Outcome::Replay {
            lead_id: prior.lead_id,
            duplicate: prior.duplicate,
        }));
    }
    let cutoff = now.saturating_sub(dedupe_window.as_millis() as i64);
    if let Some(holder) =
        store::claim_dedupe_key(tx, &record.email_key, &record.lead_id, now, cutoff).await?
    {
        store::record_touch(outbox, tx, &holder, &record.source, now).await?;
        if let Some(key) = &job.request_key {
            store::record_request(tx, key, &holder, true).await?;
        }
        return Ok(Ok(Outcome::Duplicate { lead_id: holder }));
    }
    let hint = job
        .match_domains
        .iter()
        .flat_map(|domain| store::candidates(domain))
        .find_map(|candidate| hints.get(candidate));
    if let Some(hint) = hint {
        record.account_owner_hint = hint.owner_rep_id.clone();
        record.team_hint = hint.team_id.clone();
    }
    record.created_at_ms = now;
    store::insert_lead(tx, record).await?;
    let event_id = store::enqueue_created(outbox, tx, record).await?;
    if let Some(key) = &job.request_key {
        store::record_request(tx, key, &record.lead_id, false).await?;
    }
    tracing::info!(lead_id = %record.lead_id, event_id = %event_id, domain = %record.domain, tier = %record.tier, "lead created");
    Ok(Ok(Outcome::Created(Box::new(record.clone()))))
}

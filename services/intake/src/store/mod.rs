//! Intake's tables: leads, dedupe keys, idempotency keys, touches and the
//! account domain map.
//!
//! The repository boundary: every function here returns [`IntakeError`], so
//! callers never see `sqlx::Error`. Writes take the caller's transaction and
//! leave committing to it. The SQL runs unchanged on SQLite and Postgres.

mod accounts;
mod list;
mod record;

use leadwheel_plumbing::bus::EventDraft;
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Store, Tx, ids};
use leadwheel_proto::events::v1::{LeadTouched, PersonErased};
use sqlx::Row;

pub use accounts::{AccountHint, Applied, account_hints, apply_account, candidates};
pub use list::{ListFilter, list_leads};
pub use record::LeadRecord;

use crate::error::IntakeError;

/// The columns of `intake_leads`, in [`LeadRecord::from_row`]'s order.
macro_rules! lead_columns {
    () => {
        "lead_id, email, name, company, domain, phone, website, country, source, \
         message, tier, score, created_at_ms, company_size, utm_source, utm_medium, \
         utm_campaign, utm_term, utm_content, product, plan, consent, attributes, \
         score_reasons, account_owner_hint, team_hint, status, touches"
    };
}
pub(crate) use lead_columns;

/// Lead status before and after erasure.
pub const STATUS_ACTIVE: &str = "active";
/// See [`STATUS_ACTIVE`].
pub const STATUS_ERASED: &str = "erased";

/// What an earlier request with the same idempotency key produced.
#[derive(Clone, Debug)]
pub struct PriorRequest {
    /// What identified the earlier request's content (its email key).
    pub fingerprint: String,
    /// The lead it answered with.
    pub lead_id: String,
    /// Whether that answer was a duplicate.
    pub duplicate: bool,
}

/// Maps a store failure to the service error: connection trouble is
/// retryable (`Unavailable`), anything else is a bug or corruption.
pub fn db_error(err: sqlx::Error) -> IntakeError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => IntakeError::Unavailable(err.into()),
        other => IntakeError::Internal(other.into()),
    }
}

/// Begins a write transaction.
pub async fn begin(store: &Store) -> Result<Tx, IntakeError> {
    store.begin().await.map_err(db_error)
}

/// Commits `tx`.
pub async fn commit(tx: Tx) -> Result<(), IntakeError> {
    tx.commit().await.map_err(db_error)
}

/// Takes the idempotency key `key` for this request. Returns None when it is
/// ours (a new key), or what the earlier request with this key produced. On
/// Postgres a concurrent holder of the key makes this wait for its commit.
pub async fn claim_request(
    tx: &mut Tx,
    key: &str,
    fingerprint: &str,
    now_ms: i64,
) -> Result<Option<PriorRequest>, IntakeError> {
    let inserted = sqlx::query(
        "INSERT INTO intake_requests (request_key, fingerprint, lead_id, duplicate, created_at_ms) \
         VALUES ($1, $2, '', 0, $3) ON CONFLICT (request_key) DO NOTHING RETURNING request_key",
    )
    .bind(key)
    .bind(fingerprint)
    .bind(now_ms)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    if inserted.is_some() {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT fingerprint, lead_id, duplicate FROM intake_requests WHERE request_key = $1",
    )
    .bind(key)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    let prior = (|| -> Result<PriorRequest, sqlx::Error> {
        Ok(PriorRequest {
            fingerprint: row.try_get("fingerprint")?,
            lead_id: row.try_get("lead_id")?,
            duplicate: row.try_get::<i64, _>("duplicate")? != 0,
        })
    })()
    .map_err(db_error)?;
    Ok(Some(prior))
}

/// Records the answer to the request holding idempotency key `key`.
pub async fn record_request(
    tx: &mut Tx,
    key: &str,
    lead_id: &str,
    duplicate: bool,
) -> Result<(), IntakeError> {
    sqlx::query("UPDATE intake_requests SET lead_id = $1, duplicate = $2 WHERE request_key = $3")
        .bind(lead_id)
        .bind(i64::from(duplicate))
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Points dedupe key `email_key` at `lead_id` unless a lead made after
/// `cutoff_ms` already holds it. Returns None when the key is now ours, or
/// the holder's lead id. The primary key on `email_key` makes this the one
/// place concurrent signups with the same email are serialised.
pub async fn claim_dedupe_key(
    tx: &mut Tx,
    email_key: &str,
    lead_id: &str,
    now_ms: i64,
    cutoff_ms: i64,
) -> Result<Option<String>, IntakeError> {
    let claimed = sqlx::query(
        "INSERT INTO intake_dedupe_keys (email_key, lead_id, created_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (email_key) DO UPDATE \
         SET lead_id = excluded.lead_id, created_at_ms = excluded.created_at_ms \
         WHERE intake_dedupe_keys.created_at_ms <= $4 \
         RETURNING lead_id",
    )
    .bind(email_key)
    .bind(lead_id)
    .bind(now_ms)
    .bind(cutoff_ms)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    if claimed.is_some() {
        return Ok(None);
    }
    let holder: String =
        sqlx::query_scalar("SELECT lead_id FROM intake_dedupe_keys WHERE email_key = $1")
            .bind(email_key)
            .fetch_one(&mut **tx)
            .await
            .map_err(db_error)?;
    Ok(Some(holder))
}

/// Inserts a new lead.
pub async fn insert_lead(tx: &mut Tx, lead: &LeadRecord) -> Result<(), IntakeError> {
    let [utm_source, utm_medium, utm_campaign, utm_term, utm_content] = &lead.utm;
    sqlx::query(concat!(
        "INSERT INTO intake_leads (",
        lead_columns!(),
        ", email_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)"
    ))
    .bind(&lead.lead_id)
    .bind(&lead.email)
    .bind(&lead.name)
    .bind(&lead.company)
    .bind(&lead.domain)
    .bind(&lead.phone)
    .bind(&lead.website)
    .bind(&lead.country)
    .bind(&lead.source)
    .bind(&lead.message)
    .bind(&lead.tier)
    .bind(i64::from(lead.score))
    .bind(lead.created_at_ms)
    .bind(lead.company_size)
    .bind(utm_source)
    .bind(utm_medium)
    .bind(utm_campaign)
    .bind(utm_term)
    .bind(utm_content)
    .bind(&lead.product)
    .bind(&lead.plan)
    .bind(i64::from(lead.consent))
    .bind(record::attributes_json(&lead.attributes))
    .bind(lead.score_reasons.join("\n"))
    .bind(&lead.account_owner_hint)
    .bind(&lead.team_hint)
    .bind(&lead.status)
    .bind(lead.touches)
    .bind(&lead.email_key)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Writes `intake.lead.created` for `lead` into the outbox, in `tx`.
pub async fn enqueue_created(
    outbox: &Outbox,
    tx: &mut Tx,
    lead: &LeadRecord,
) -> Result<String, IntakeError> {
    let draft = EventDraft::of(lead.lead_id.clone(), &lead.to_event());
    outbox.enqueue(tx, draft).await.map_err(db_error)
}

/// Records a duplicate signup against `lead_id` and writes
/// `intake.lead.touched`, in `tx`.
pub async fn record_touch(
    outbox: &Outbox,
    tx: &mut Tx,
    lead_id: &str,
    source: &str,
    at_ms: i64,
) -> Result<(), IntakeError> {
    sqlx::query(
        "INSERT INTO intake_touches (touch_id, lead_id, source, at_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(ids::prefixed("touch"))
    .bind(lead_id)
    .bind(source)
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query("UPDATE intake_leads SET touches = touches + 1 WHERE lead_id = $1")
        .bind(lead_id)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    let touched = LeadTouched {
        lead_id: lead_id.to_string(),
        source: source.to_string(),
        at_ms,
    };
    let draft = EventDraft::of(lead_id, &touched);
    outbox.enqueue(tx, draft).await.map_err(db_error)?;
    Ok(())
}

/// Erases the personal data of every lead with dedupe key `email_key`, in
/// `tx`: the leads stay (anonymous, status `erased`) for counts; their
/// dedupe and idempotency keys, which hold the email, and the sent outbox
/// rows of their events go. Writes
/// `intake.person.erased` when there was anything to erase. Returns the
/// erased lead ids.
pub async fn erase_person(
    outbox: &Outbox,
    tx: &mut Tx,
    email_key: &str,
    by: &str,
    at_ms: i64,
) -> Result<Vec<String>, IntakeError> {
    let lead_ids: Vec<String> = sqlx::query_scalar(
        "SELECT lead_id FROM intake_leads WHERE email_key = $1 ORDER BY lead_id",
    )
    .bind(email_key)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if lead_ids.is_empty() {
        return Ok(lead_ids);
    }
    for lead_id in &lead_ids {
        // The erased key stays unique per lead and can never equal a real
        // (lowercased) email: it has no @.
        sqlx::query(
            "UPDATE intake_leads SET email = '', email_key = $1, name = '', company = '', \
             domain = '', phone = '', website = '', message = '', utm_source = '', \
             utm_medium = '', utm_campaign = '', utm_term = '', utm_content = '', \
             attributes = '{}', account_owner_hint = '', status = $2 WHERE lead_id = $3",
        )
        .bind(format!("erased:{lead_id}"))
        .bind(STATUS_ERASED)
        .bind(lead_id)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM intake_requests WHERE lead_id = $1")
            .bind(lead_id)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    sqlx::query("DELETE FROM intake_dedupe_keys WHERE email_key = $1")
        .bind(email_key)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    // Idempotency rows of duplicates point at the lead, removed above; rows
    // still naming the email as their fingerprint go too.
    sqlx::query("DELETE FROM intake_requests WHERE fingerprint = $1")
        .bind(email_key)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    // The published copies of the leads' events (`intake.lead.created`
    // holds the whole signup) go too; the streams drop theirs by age.
    leadwheel_plumbing::outbox::erase_sent(tx, &lead_ids)
        .await
        .map_err(db_error)?;
    let erased = PersonErased {
        lead_ids: lead_ids.clone(),
        by: by.to_string(),
        at_ms,
    };
    let key = lead_ids.first().cloned().unwrap_or_default();
    let draft = EventDraft::of(key, &erased);
    outbox.enqueue(tx, draft).await.map_err(db_error)?;
    Ok(lead_ids)
}

/// The lead with id `lead_id`, if any.
pub async fn get_lead(store: &Store, lead_id: &str) -> Result<Option<LeadRecord>, IntakeError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        lead_columns!(),
        " FROM intake_leads WHERE lead_id = $1"
    ))
    .bind(lead_id)
    .fetch_optional(store.pool())
    .await
    .map_err(db_error)?;
    row.as_ref()
        .map(LeadRecord::from_row)
        .transpose()
        .map_err(db_error)
}

/// Number of stored leads (for tests and diagnostics).
pub async fn count_leads(store: &Store) -> Result<i64, IntakeError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM intake_leads")
        .fetch_one(store.pool())
        .await
        .map_err(db_error)
}

//! Intake's tables: leads, dedupe keys and idempotency keys.
//!
//! The repository boundary: every function here returns [`IntakeError`], so
//! callers never see `sqlx::Error`. Writes take the caller's transaction and
//! leave committing to it. The SQL runs unchanged on SQLite and Postgres.

use leadwheel_plumbing::bus::EventDraft;
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{Store, Tx};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::intake::v1::Lead;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::IntakeError;

/// The columns of `intake_leads`, in [`LeadRecord::from_row`]'s order.
macro_rules! lead_columns {
    () => {
        "lead_id, email, name, company, domain, phone, website, country, source, \
         message, tier, score, created_at_ms"
    };
}

/// A stored lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadRecord {
    /// `lead_...`.
    pub lead_id: String,
    /// Normalised email.
    pub email: String,
    /// Dedupe key (lowercased email); written, not read back.
    pub email_key: String,
    /// Name.
    pub name: String,
    /// Company.
    pub company: String,
    /// Company domain.
    pub domain: String,
    /// Phone.
    pub phone: String,
    /// Website.
    pub website: String,
    /// Country code.
    pub country: String,
    /// Source tag.
    pub source: String,
    /// Free text.
    pub message: String,
    /// Tier label; empty until scoring rules exist.
    pub tier: String,
    /// Score 0..100.
    pub score: i32,
    /// Creation time, epoch ms.
    pub created_at_ms: i64,
}

impl LeadRecord {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let score: i64 = row.try_get("score")?;
        Ok(Self {
            lead_id: row.try_get("lead_id")?,
            email: row.try_get("email")?,
            email_key: String::new(),
            name: row.try_get("name")?,
            company: row.try_get("company")?,
            domain: row.try_get("domain")?,
            phone: row.try_get("phone")?,
            website: row.try_get("website")?,
            country: row.try_get("country")?,
            source: row.try_get("source")?,
            message: row.try_get("message")?,
            tier: row.try_get("tier")?,
            score: i32::try_from(score).unwrap_or_default(),
            created_at_ms: row.try_get("created_at_ms")?,
        })
    }

    /// The lead as the gRPC API shows it.
    pub fn to_proto(&self) -> Lead {
        Lead {
            lead_id: self.lead_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            company: self.company.clone(),
            domain: self.domain.clone(),
            phone: self.phone.clone(),
            country: self.country.clone(),
            source: self.source.clone(),
            tier: self.tier.clone(),
            score: self.score,
            message: self.message.clone(),
            created_at_ms: self.created_at_ms,
        }
    }

    /// The `intake.lead.created` payload.
    pub fn to_event(&self) -> LeadCreated {
        LeadCreated {
            lead_id: self.lead_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            company: self.company.clone(),
            domain: self.domain.clone(),
            tier: self.tier.clone(),
            score: self.score,
            source: self.source.clone(),
            account_owner_hint: String::new(),
            created_at_ms: self.created_at_ms,
            team_hint: String::new(),
            phone: self.phone.clone(),
            country: self.country.clone(),
            message: self.message.clone(),
        }
    }
}

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
    sqlx::query(concat!(
        "INSERT INTO intake_leads (",
        lead_columns!(),
        ", email_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
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
    let draft = EventDraft::new(
        leadwheel_plumbing::bus::subjects::LEAD_CREATED,
        lead.lead_id.clone(),
        &lead.to_event(),
    );
    outbox.enqueue(tx, draft).await.map_err(db_error)
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

/// Up to `limit` leads, newest first, strictly older than `before` when given.
/// Lead ids are ULIDs, so their order is creation order.
pub async fn list_leads(
    store: &Store,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<LeadRecord>, IntakeError> {
    let query = match before {
        Some(before) => sqlx::query(concat!(
            "SELECT ",
            lead_columns!(),
            " FROM intake_leads WHERE lead_id < $1 ORDER BY lead_id DESC LIMIT $2"
        ))
        .bind(before.to_string()),
        None => sqlx::query(concat!(
            "SELECT ",
            lead_columns!(),
            " FROM intake_leads ORDER BY lead_id DESC LIMIT $1"
        )),
    };
    let rows = query
        .bind(limit)
        .fetch_all(store.pool())
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(LeadRecord::from_row)
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

/// Number of stored leads (for tests and diagnostics).
pub async fn count_leads(store: &Store) -> Result<i64, IntakeError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM intake_leads")
        .fetch_one(store.pool())
        .await
        .map_err(db_error)
}

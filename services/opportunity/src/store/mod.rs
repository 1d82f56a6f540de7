//! The repository boundary: every SQL statement of the service lives here,
//! and `sqlx::Error` never leaves this module except wrapped in
//! [`StoreError`] (the plumbing's: unavailable or a failed query). Writes
//! take the caller's transaction (the consumer's, shared with the inbox row
//! and the outbox event); reads use the pool.

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::paging::Cursor;
pub use leadwheel_plumbing::store::StoreError;
use leadwheel_plumbing::{EventDraft, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The only status for now; conversion and disqualification come later.
pub const STATUS_IN_WORK: &str = "in_work";

/// A lead a rep is working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadInWork {
    /// The lead.
    pub lead_id: String,
    /// Its owner.
    pub rep_id: String,
    /// The owner's team.
    pub team_id: String,
    /// `in_work`.
    pub status: String,
    /// When the wheel assigned it.
    pub claimed_at_ms: i64,
    /// When this service recorded it.
    pub opened_at_ms: i64,
}

/// What recording an assignment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// A new lead in work.
    New,
    /// The lead was already in work for `rep_id`; nothing changed.
    AlreadyOwnedBy {
        /// The first (and kept) owner.
        rep_id: String,
    },
}

/// Records `lead` unless the lead is already in work, in `tx`.
pub async fn open_lead(
    tx: &mut Tx,
    lead: &LeadInWork,
    assigned_event_id: &str,
) -> Result<Opened, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO opps_leads_in_work \
         (lead_id, rep_id, team_id, status, claimed_at_ms, opened_at_ms, assigned_event_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(&lead.lead_id)
    .bind(&lead.rep_id)
    .bind(&lead.team_id)
    .bind(&lead.status)
    .bind(lead.claimed_at_ms)
    .bind(lead.opened_at_ms)
    .bind(assigned_event_id)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Opened::New);
    }
    let rep_id: String =
        sqlx::query_scalar("SELECT rep_id FROM opps_leads_in_work WHERE lead_id = $1")
            .bind(&lead.lead_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Opened::AlreadyOwnedBy { rep_id })
}

/// Writes `draft` to the outbox in `tx`, so it leaves only if `tx` commits.
pub async fn enqueue(
    tx: &mut Tx,
    outbox: &Outbox,
    draft: EventDraft,
) -> Result<String, StoreError> {
    Ok(outbox.enqueue(tx, draft).await?)
}

/// Which leads a list call may return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    /// Only this rep's, when set.
    pub rep_id: Option<String>,
    /// Only this team's, when set.
    pub team_id: Option<String>,
}

impl LeadFilter {
    /// A stable description of the filter, which page tokens are bound to.
    pub fn query_key(&self) -> String {
        format!(
            "leads;rep={};team={}",
            self.rep_id.as_deref().unwrap_or("*"),
            self.team_id.as_deref().unwrap_or("*")
        )
    }
}

/// Read access to leads in work.
#[derive(Clone, Debug)]
pub struct LeadStore {
    store: Store,
}

impl LeadStore {
    /// Reads from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The lead in work with `lead_id`, if any.
    #[tracing::instrument(skip(self))]
    pub async fn get(&self, lead_id: &str) -> Result<Option<LeadInWork>, StoreError> {
        let row = sqlx::query(
            "SELECT lead_id, rep_id, team_id, status, claimed_at_ms, opened_at_ms \
             FROM opps_leads_in_work WHERE lead_id = $1",
        )
        .bind(lead_id)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(lead_from_row).transpose()
    }

    /// Up to `limit` leads matching `filter` after `cursor`, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        filter: &LeadFilter,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<LeadInWork>, StoreError> {
        // One statement for every filter: an empty parameter means "any".
        let rows = sqlx::query(
            "SELECT lead_id, rep_id, team_id, status, claimed_at_ms, opened_at_ms \
             FROM opps_leads_in_work \
             WHERE ($1 = '' OR rep_id = $1) AND ($2 = '' OR team_id = $2) \
             AND (opened_at_ms < $3 OR (opened_at_ms = $3 AND lead_id < $4)) \
             ORDER BY opened_at_ms DESC, lead_id DESC LIMIT $5",
        )
        .bind(filter.rep_id.as_deref().unwrap_or_default())
        .bind(filter.team_id.as_deref().unwrap_or_default())
        .bind(cursor.after_ms)
        .bind(&cursor.after_id)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(lead_from_row).collect()
    }
}

fn lead_from_row(row: &AnyRow) -> Result<LeadInWork, StoreError> {
    Ok(LeadInWork {
        lead_id: row.try_get("lead_id")?,
        rep_id: row.try_get("rep_id")?,
        team_id: row.try_get("team_id")?,
        status: row.try_get("status")?,
        claimed_at_ms: row.try_get("claimed_at_ms")?,
        opened_at_ms: row.try_get("opened_at_ms")?,
    })
}

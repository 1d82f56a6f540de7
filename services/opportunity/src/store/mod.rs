//! The repository boundary: every SQL statement of the service lives in
//! this module and its children, and `sqlx::Error` never leaves it except
//! wrapped in [`StoreError`] (the plumbing's: unavailable or a failed
//! query). Functions take a connection: a transaction's for writes and the
//! reads that decide them (the caller commits), a pooled one for reads.

use leadwheel_plumbing::outbox::Outbox;
pub use leadwheel_plumbing::store::StoreError;
use leadwheel_plumbing::{EventDraft, Tx};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

pub mod activities;
pub mod deals;
pub mod directory;
pub mod handover;
pub mod stages;

/// A lead the rep is working.
pub const STATUS_IN_WORK: &str = "in_work";
/// A lead turned into an account and an opportunity.
pub const STATUS_CONVERTED: &str = "converted";
/// A lead the rep disqualified.
pub const STATUS_DISQUALIFIED: &str = "disqualified";
/// A lead handed back to the wheel (by a handover).
pub const STATUS_RETURNED: &str = "returned";

/// A lead a rep is working.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadInWork {
    /// The lead.
    pub lead_id: String,
    /// Its owner.
    pub rep_id: String,
    /// The owner's team.
    pub team_id: String,
    /// One of the `STATUS_*` values.
    pub status: String,
    /// When the wheel assigned it.
    pub claimed_at_ms: i64,
    /// When this service recorded it.
    pub opened_at_ms: i64,
    /// Activities logged on it.
    pub touch_count: i64,
    /// "YYYY-MM-DD" or "".
    pub next_follow_up: String,
    /// Set by conversion.
    pub account_id: String,
    /// Set by conversion.
    pub opportunity_id: String,
    /// Set by disqualification.
    pub disqualify_reason: String,
    /// Increases with every change.
    pub version: i64,
}

/// What recording an assignment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// A new lead in work.
    New,
    /// A lead handed back to the wheel (`returned`), assigned again: in
    /// work anew for its new owner.
    Reopened,
    /// The lead was already in work for `rep_id`; nothing changed.
    AlreadyOwnedBy {
        /// The first (and kept) owner.
        rep_id: String,
    },
}

/// Records `lead` unless the lead is already here, in `tx`; a lead that
/// was handed back to the wheel is reopened for its new owner.
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
    let reopened = sqlx::query(
        "UPDATE opps_leads_in_work SET rep_id = $2, team_id = $3, status = $4, \
         claimed_at_ms = $5, opened_at_ms = $6, assigned_event_id = $7, version = version + 1 \
         WHERE lead_id = $1 AND status = $8",
    )
    .bind(&lead.lead_id)
    .bind(&lead.rep_id)
    .bind(&lead.team_id)
    .bind(&lead.status)
    .bind(lead.claimed_at_ms)
    .bind(lead.opened_at_ms)
    .bind(assigned_event_id)
    .bind(STATUS_RETURNED)
    .execute(&mut **tx)
    .await?;
    if reopened.rows_affected() == 1 {
        return Ok(Opened::Reopened);
    }
    let rep_id: String =
        sqlx::query_scalar("SELECT rep_id FROM opps_leads_in_work WHERE lead_id = $1")
            .bind(&lead.lead_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Opened::AlreadyOwnedBy { rep_id })
}

/// Writes `draft` to the outbox on `conn` (inside the transaction making
/// the change), so it leaves only if that transaction commits.
pub async fn enqueue(
    conn: &mut AnyConnection,
    outbox: &Outbox,
    draft: EventDraft,
) -> Result<String, StoreError> {
    Ok(outbox.enqueue(conn, draft).await?)
}

const LEAD_COLUMNS: &str = "lead_id, rep_id, team_id, status, claimed_at_ms, opened_at_ms, \
     touch_count, next_follow_up, account_id, opportunity_id, disqualify_reason, version";

/// The lead in work with `lead_id`, if any.
pub async fn lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Option<LeadInWork>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {LEAD_COLUMNS} FROM opps_leads_in_work WHERE lead_id = $1"
    )))
    .bind(lead_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(lead_from_row).transpose()
}

/// Writes `lead`'s mutable fields if its version is still `lead.version`,
/// bumping the version; false when someone changed it first.
pub async fn update_lead(conn: &mut AnyConnection, lead: &LeadInWork) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE opps_leads_in_work SET rep_id = $1, team_id = $2, status = $3, \
         touch_count = $4, next_follow_up = $5, account_id = $6, opportunity_id = $7, \
         disqualify_reason = $8, version = version + 1 \
         WHERE lead_id = $9 AND version = $10",
    )
    .bind(&lead.rep_id)
    .bind(&lead.team_id)
    .bind(&lead.status)
    .bind(lead.touch_count)
    .bind(&lead.next_follow_up)
    .bind(&lead.account_id)
    .bind(&lead.opportunity_id)
    .bind(&lead.disqualify_reason)
    .bind(&lead.lead_id)
    .bind(lead.version)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Keeps the rep's free-text note on a disqualification (erasable).
pub async fn set_disqualify_note(
    conn: &mut AnyConnection,
    lead_id: &str,
    note: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE opps_leads_in_work SET disqualify_note = $1 WHERE lead_id = $2")
        .bind(note)
        .bind(lead_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks a lead's personal data erased and drops the rep's free text.
pub async fn erase_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE opps_leads_in_work SET disqualify_note = '', erased_at_ms = $1 WHERE lead_id = $2",
    )
    .bind(at_ms)
    .bind(lead_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Leads still in work owned by `rep_id`.
pub async fn leads_in_work_of(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Vec<LeadInWork>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {LEAD_COLUMNS} FROM opps_leads_in_work WHERE rep_id = $1 AND status = $2 \
         ORDER BY lead_id"
    )))
    .bind(rep_id)
    .bind(STATUS_IN_WORK)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(lead_from_row).collect()
}

/// Up to `limit` leads owned by `owner` (any when None) in `teams` (any
/// when None) strictly after `(after_ms, after_id)`, newest first.
pub async fn list_leads(
    conn: &mut AnyConnection,
    owner: Option<&str>,
    teams: Option<&[String]>,
    after: (i64, &str),
    limit: i64,
) -> Result<Vec<LeadInWork>, StoreError> {
    let (team_clause, team_binds) = in_clause("team_id", teams, 5);
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM opps_leads_in_work \
         WHERE ($1 = '' OR rep_id = $1) AND {team_clause} \
         AND (opened_at_ms < $2 OR (opened_at_ms = $2 AND lead_id < $3)) \
         ORDER BY opened_at_ms DESC, lead_id DESC LIMIT $4"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner.unwrap_or_default().to_string())
        .bind(after.0)
        .bind(after.1.to_string())
        .bind(limit);
    for team in team_binds {
        query = query.bind(team);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(lead_from_row).collect()
}

/// `column IN ($first, ...)` for `values` (TRUE when None, FALSE when
/// empty), and the values to bind in order.
pub(crate) fn in_clause(
    column: &str,
    values: Option<&[String]>,
    first: usize,
) -> (String, Vec<String>) {
    match values {
        None => ("1 = 1".to_string(), Vec::new()),
        Some([]) => ("1 = 0".to_string(), Vec::new()),
        Some(values) => {
            let placeholders: Vec<String> = (0..values.len())
                .map(|i| format!("${}", first + i))
                .collect();
            (
                format!("{column} IN ({})", placeholders.join(", ")),
                values.to_vec(),
            )
        }
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
        touch_count: row.try_get("touch_count")?,
        next_follow_up: row.try_get("next_follow_up")?,
        account_id: row.try_get("account_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        disqualify_reason: row.try_get("disqualify_reason")?,
        version: row.try_get("version")?,
    })
}

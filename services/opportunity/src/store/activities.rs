//! Activities (calls, emails, visits, meetings, notes) and call notes.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreError;

/// A logged touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Its id.
    pub activity_id: String,
    /// "call", "email", "visit", "meeting" or "note".
    pub kind: String,
    /// The lead (also set for an opportunity's, to its lead).
    pub lead_id: String,
    /// The opportunity, when logged on one.
    pub opportunity_id: String,
    /// The account, once there is one.
    pub account_id: String,
    /// Who logged it.
    pub by: String,
    /// When it happened.
    pub at_ms: i64,
    /// Calls only.
    pub duration_seconds: i64,
    /// Calls: how it went.
    pub outcome: String,
    /// Calls: an http(s) link.
    pub recording_url: String,
    /// Call notes: (offset in seconds, text).
    pub notes: Vec<(i64, String)>,
    /// A subject line.
    pub subject: String,
    /// Free text.
    pub body: String,
    /// When it was logged.
    pub logged_at_ms: i64,
}

/// Records `activity` and its call notes.
pub async fn insert(
    conn: &mut AnyConnection,
    activity: &Activity,
    request_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_activities (activity_id, kind, lead_id, opportunity_id, account_id, \
         logged_by, at_ms, duration_seconds, outcome, recording_url, subject, body, logged_at_ms, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&activity.activity_id)
    .bind(&activity.kind)
    .bind(&activity.lead_id)
    .bind(&activity.opportunity_id)
    .bind(&activity.account_id)
    .bind(&activity.by)
    .bind(activity.at_ms)
    .bind(activity.duration_seconds)
    .bind(&activity.outcome)
    .bind(&activity.recording_url)
    .bind(&activity.subject)
    .bind(&activity.body)
    .bind(activity.logged_at_ms)
    .bind(request_id)
    .execute(&mut *conn)
    .await?;
    for (seq, (offset, text)) in activity.notes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO opps_call_notes (activity_id, seq, offset_seconds, text) VALUES ($1, $2, $3, $4)",
        )
        .bind(&activity.activity_id)
        .bind(seq as i64)
        .bind(*offset)
        .bind(text)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

const COLUMNS: &str = "activity_id, kind, lead_id, opportunity_id, account_id, logged_by, at_ms, \
     duration_seconds, outcome, recording_url, subject, body, logged_at_ms";

/// The activity logged by LogActivity request `request_id` from `by`.
pub async fn by_request(
    conn: &mut AnyConnection,
    request_id: &str,
    by: &str,
) -> Result<Option<Activity>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM opps_activities WHERE request_id = $1 AND logged_by = $2"
    )))
    .bind(request_id)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => {
            let mut activity = from_row(&row)?;
            activity.notes = notes(conn, &activity.activity_id).await?;
            Ok(Some(activity))
        }
        None => Ok(None),
    }
}

async fn notes(
    conn: &mut AnyConnection,
    activity_id: &str,
) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT offset_seconds, text FROM opps_call_notes WHERE activity_id = $1 ORDER BY seq",
    )
    .bind(activity_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("offset_seconds")?, row.try_get("text")?)))
        .collect()
}

/// Gives a lead's earlier activities to its new account.
pub async fn attach_lead_to_account(
    conn: &mut AnyConnection,
    lead_id: &str,
    account_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE opps_activities SET account_id = $1 WHERE lead_id = $2")
        .bind(account_id)
        .bind(lead_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Up to `limit` activities of an account (or, when `account_id` is empty,
/// of `lead_id`) strictly before `(after_ms, after_id)`, newest first,
/// with their call notes.
pub async fn history(
    conn: &mut AnyConnection,
    account_id: &str,
    lead_id: &str,
    after: (i64, &str),
    limit: i64,
) -> Result<Vec<Activity>, StoreError> {
    let (column, value) = if account_id.is_empty() {
        ("lead_id", lead_id)
    } else {
        ("account_id", account_id)
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM opps_activities WHERE {column} = $1 \
         AND (at_ms < $2 OR (at_ms = $2 AND activity_id < $3)) \
         ORDER BY at_ms DESC, activity_id DESC LIMIT $4"
    )))
    .bind(value)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut activity = from_row(row)?;
        if activity.kind == "call" {
            activity.notes = notes(conn, &activity.activity_id).await?;
        }
        out.push(activity);
    }
    Ok(out)
}

/// Drops the personal content of `lead_id`'s activities (notes, bodies,
/// subjects, outcomes, recording links), keeping anonymous rows (kind,
/// times, durations) so counts and reports still add up. Returns how many
/// activities it touched.
pub async fn erase_lead(conn: &mut AnyConnection, lead_id: &str) -> Result<u64, StoreError> {
    sqlx::query(
        "DELETE FROM opps_call_notes WHERE activity_id IN \
         (SELECT activity_id FROM opps_activities WHERE lead_id = $1)",
    )
    .bind(lead_id)
    .execute(&mut *conn)
    .await?;
    let result = sqlx::query(
        "UPDATE opps_activities SET outcome = '', recording_url = '', subject = '', body = '' \
         WHERE lead_id = $1",
    )
    .bind(lead_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}

fn from_row(row: &AnyRow) -> Result<Activity, StoreError> {
    Ok(Activity {
        activity_id: row.try_get("activity_id")?,
        kind: row.try_get("kind")?,
        lead_id: row.try_get("lead_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        account_id: row.try_get("account_id")?,
        by: row.try_get("logged_by")?,
        at_ms: row.try_get("at_ms")?,
        duration_seconds: row.try_get("duration_seconds")?,
        outcome: row.try_get("outcome")?,
        recording_url: row.try_get("recording_url")?,
        notes: Vec::new(),
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        logged_at_ms: row.try_get("logged_at_ms")?,
    })
}

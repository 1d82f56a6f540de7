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

/// A raised alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Its id.
    pub alert_id: String,
    /// The rule that raised it, e.g. `lead_pooled`.
    pub kind: String,
    /// The team concerned.
    pub team_id: String,
    /// Who it is for (empty: nobody could be named; admins see it).
    pub recipient_id: String,
    /// The entity it is about, e.g. a lead id.
    pub subject_key: String,
    /// What a human reads.
    pub message: String,
    /// When it was raised.
    pub raised_at_ms: i64,
}

/// Stores `alert` unless one of the same kind already exists for
/// `dedupe_key`, in `tx`; true when it was stored.
pub async fn raise(tx: &mut Tx, alert: &Alert, dedupe_key: &str) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO alerting_alerts \
         (alert_id, kind, dedupe_key, team_id, recipient_id, subject_key, message, raised_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, dedupe_key) DO NOTHING",
    )
    .bind(&alert.alert_id)
    .bind(&alert.kind)
    .bind(dedupe_key)
    .bind(&alert.team_id)
    .bind(&alert.recipient_id)
    .bind(&alert.subject_key)
    .bind(&alert.message)
    .bind(alert.raised_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Writes `draft` to the outbox in `tx`, so it leaves only if `tx` commits.
pub async fn enqueue(
    tx: &mut Tx,
    outbox: &Outbox,
    draft: EventDraft,
) -> Result<String, StoreError> {
    Ok(outbox.enqueue(tx, draft).await?)
}

/// Read access to alerts.
#[derive(Clone, Debug)]
pub struct AlertStore {
    store: Store,
}

impl AlertStore {
    /// Reads from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Up to `limit` alerts for `recipient` (None: everyone's) after
    /// `cursor`, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        recipient: Option<&str>,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        // One statement for both cases: a 0 flag means "anyone"
        // (an empty string is a real, if odd, recipient).
        let rows = sqlx::query(
            "SELECT alert_id, kind, team_id, recipient_id, subject_key, message, raised_at_ms \
             FROM alerting_alerts \
             WHERE ($1 = 0 OR recipient_id = $2) \
             AND (raised_at_ms < $3 OR (raised_at_ms = $3 AND alert_id < $4)) \
             ORDER BY raised_at_ms DESC, alert_id DESC LIMIT $5",
        )
        .bind(i64::from(recipient.is_some()))
        .bind(recipient.unwrap_or_default())
        .bind(cursor.after_ms)
        .bind(&cursor.after_id)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(alert_from_row).collect()
    }
}

fn alert_from_row(row: &AnyRow) -> Result<Alert, StoreError> {
    Ok(Alert {
        alert_id: row.try_get("alert_id")?,
        kind: row.try_get("kind")?,
        team_id: row.try_get("team_id")?,
        recipient_id: row.try_get("recipient_id")?,
        subject_key: row.try_get("subject_key")?,
        message: row.try_get("message")?,
        raised_at_ms: row.try_get("raised_at_ms")?,
    })
}

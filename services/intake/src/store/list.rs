//! Listing leads with filters, keyset-paged newest first on
//! `(created_at_ms, lead_id)`.

use leadwheel_plumbing::Store;
use leadwheel_plumbing::paging::Cursor;

use super::{LeadRecord, db_error, lead_columns};
use crate::error::IntakeError;

/// What to list. Empty strings and zero times mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Created at or after (epoch ms).
    pub created_after_ms: i64,
    /// Created before (epoch ms); 0 = no bound.
    pub created_before_ms: i64,
    /// Exact tier.
    pub tier: String,
    /// Exact source.
    pub source: String,
    /// Exact status.
    pub status: String,
}

impl ListFilter {
    /// The filter as text, binding page tokens to it.
    pub fn query_key(&self) -> String {
        format!(
            "after={}&before={}&tier={}&source={}&status={}",
            self.created_after_ms, self.created_before_ms, self.tier, self.source, self.status
        )
    }
}

/// Up to `limit` leads matching `filter`, newest first, after `cursor`.
pub async fn list_leads(
    store: &Store,
    filter: &ListFilter,
    cursor: &Cursor,
    limit: i64,
) -> Result<Vec<LeadRecord>, IntakeError> {
    let before = if filter.created_before_ms > 0 {
        filter.created_before_ms
    } else {
        i64::MAX
    };
    // Every filter is always bound; an empty one matches everything, so the
    // statement text is one and the same for every request.
    let sql = concat!(
        "SELECT ",
        lead_columns!(),
        " FROM intake_leads \
         WHERE created_at_ms >= $1 AND created_at_ms < $2 \
           AND ($3 = '' OR tier = $3) AND ($4 = '' OR source = $4) AND ($5 = '' OR status = $5) \
           AND (created_at_ms < $6 OR (created_at_ms = $6 AND lead_id < $7)) \
         ORDER BY created_at_ms DESC, lead_id DESC LIMIT $8"
    );
    let after_id = if cursor.after_id.is_empty() {
        // Start of the list: every id sorts below this.
        "~".to_string()
    } else {
        cursor.after_id.clone()
    };
    let rows = sqlx::query(sql)
        .bind(filter.created_after_ms)
        .bind(before)
        .bind(&filter.tier)
        .bind(&filter.source)
        .bind(&filter.status)
        .bind(cursor.after_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(store.pool())
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(LeadRecord::from_row)
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

//! The routing ledger.

use leadwheel_plumbing::store::rows_per_statement;
use sqlx::{AnyConnection, Row};

use super::*;

/// The routing ledger of a lead, oldest first.
pub async fn ledger_of_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Vec<LedgerRow>, WheelError> {
    let rows = sqlx::query(
        "SELECT at_ms, kind, rep_id, offer_no, detail FROM wheel_ledger WHERE lead_id = $1 ORDER BY entry_id",
    )
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LedgerRow {
                at_ms: row.try_get("at_ms")?,
                kind: row.try_get("kind")?,
                rep_id: row.try_get("rep_id")?,
                offer_no: row.try_get("offer_no")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

/// A stored ledger entry.
#[derive(Clone, Debug)]
pub struct LedgerRow {
    pub at_ms: i64,
    pub kind: String,
    pub rep_id: Option<String>,
    pub offer_no: Option<i64>,
    pub detail: String,
}

pub async fn insert_ledger(
    conn: &mut AnyConnection,
    entry: LedgerEntry<'_>,
) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_ledger (entry_id, lead_id, at_ms, kind, rep_id, offer_no, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(leadwheel_plumbing::ids::new_id())
    .bind(entry.lead_id)
    .bind(entry.at_ms)
    .bind(entry.kind)
    .bind(entry.rep_id)
    .bind(entry.offer_no)
    .bind(entry.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A ledger line waiting to be written with its transition's others.
#[derive(Clone, Debug)]
pub struct PendingLedger {
    pub kind: String,
    pub rep_id: Option<String>,
    pub offer_no: Option<i64>,
    pub detail: String,
}

/// Writes ledger lines, each with its lead and time, in as few statements
/// as the backend's binding allows ([`rows_per_statement`]), in order (one transition's lines, or a
/// whole batch's).
pub async fn insert_ledger_lines(
    conn: &mut AnyConnection,
    lines: Vec<(String, i64, PendingLedger)>,
) -> Result<(), WheelError> {
    for chunk in leadwheel_plumbing::store::statement_chunks(&lines, rows_per_statement(conn)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|n| {
                let at = n * 7;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    at + 1,
                    at + 2,
                    at + 3,
                    at + 4,
                    at + 5,
                    at + 6,
                    at + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO wheel_ledger (entry_id, lead_id, at_ms, kind, rep_id, offer_no, detail) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (lead_id, at_ms, line) in chunk {
            query = query
                .bind(leadwheel_plumbing::ids::new_id())
                .bind(lead_id.as_str())
                .bind(*at_ms)
                .bind(line.kind.as_str())
                .bind(line.rep_id.as_deref())
                .bind(line.offer_no)
                .bind(line.detail.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Skips per rep and reason for `team_id`'s leads since `since`.
pub async fn skip_counts(
    conn: &mut AnyConnection,
    team_id: &str,
    since: i64,
) -> Result<Vec<(String, String, i64)>, WheelError> {
    let rows = sqlx::query(
        "SELECT g.rep_id, g.detail, COUNT(*) AS n FROM wheel_ledger g JOIN wheel_leads l ON l.lead_id = g.lead_id \
         WHERE g.kind = 'skipped' AND ($1 = '' OR l.team_id = $1) AND g.at_ms >= $2 \
         GROUP BY g.rep_id, g.detail",
    )
    .bind(team_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Option<String>, _>("rep_id")?
                    .unwrap_or_default(),
                row.try_get("detail")?,
                row.try_get("n")?,
            ))
        })
        .collect()
}

/// Claims from the open pool per rep for `team_id`'s leads since `since`:
/// the ledger's assignments via the pool (a pool claim has no offer, so
/// the offers table cannot count it).
pub async fn pool_claim_counts(
    conn: &mut AnyConnection,
    team_id: &str,
    since: i64,
) -> Result<Vec<(String, i64)>, WheelError> {
    let rows = sqlx::query(
        "SELECT g.rep_id, COUNT(*) AS n FROM wheel_ledger g JOIN wheel_leads l ON l.lead_id = g.lead_id \
         WHERE g.kind = 'assigned' AND (g.detail = 'via=pool' OR g.detail LIKE 'via=pool %') \
         AND ($1 = '' OR l.team_id = $1) AND g.at_ms >= $2 \
         GROUP BY g.rep_id",
    )
    .bind(team_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Option<String>, _>("rep_id")?
                    .unwrap_or_default(),
                row.try_get("n")?,
            ))
        })
        .collect()
}

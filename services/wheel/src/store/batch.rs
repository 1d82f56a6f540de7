//! The writer's batch statements (SQLite, and Postgres with the writer's
//! lease): many leads read, and their staged changes written, in a few
//! statements each instead of several
//! per transition (see `crate::engine`'s staged batch). Statements carry
//! at most [`rows_per_statement`] rows (32 on SQLite, 256 on Postgres), in
//! runs of powers of two so each kind has few texts ([`statement_chunks`]).

use leadwheel_plumbing::store::{rows_per_statement, statement_chunks};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::leads::{LEAD_COLUMNS, lead_from_row};
use super::*;

/// `$first, $first+1, …` for `count` parameters, each group of `width`
/// parenthesised: the VALUES rows of a statement.
fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=width)
                .map(|col| format!("${}", row * width + col))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(count: usize) -> String {
    (1..=count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A lead as the batch reads it: the row, and whether its owner's work on
/// it is still open (it counts toward the owner's load).
pub struct BatchLead {
    pub row: LeadRow,
    pub work_open: bool,
}

/// The rows `select` (a statement ending in `IN (` and the list) finds
/// for `ids`, in statements of at most [`rows_per_statement`] ids.
async fn rows_with_ids(
    conn: &mut AnyConnection,
    select: &str,
    ids: &[&str],
) -> Result<Vec<AnyRow>, WheelError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in statement_chunks(ids, rows_per_statement(conn)) {
        // Only constant column lists and placeholders are pasted in.
        let sql = format!("{select} IN ({})", list(chunk.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// The leads of `lead_ids` that exist.
pub async fn load_leads(
    conn: &mut AnyConnection,
    lead_ids: &[&str],
) -> Result<Vec<BatchLead>, WheelError> {
    let select = format!("SELECT {LEAD_COLUMNS}, work_closed_at_ms FROM wheel_leads WHERE lead_id");
    rows_with_ids(conn, &select, lead_ids)
        .await?
        .iter()
        .map(|row| {
            let work_closed: Option<i64> = row.try_get("work_closed_at_ms")?;
            Ok(BatchLead {
                row: lead_from_row(row)?,
                work_open: work_closed.is_none(),
            })
        })
        .collect()
}

/// The open offers of `lead_ids`. Every offer of the leads is read
/// (through the `(lead_id, offer_no)` index) and the open ones kept here:
/// with `state = 'open'` in the statement, Postgres's generic plan for it
/// intersected the lead ids with every open offer of the store
/// (through the index of deadlines), a scan that grew with the offers open (measured:
/// most of a 256-claim batch's time with 30,000 open).
pub async fn open_offers_of_leads(
    conn: &mut AnyConnection,
    lead_ids: &[&str],
) -> Result<Vec<OfferRow>, WheelError> {
    let select = format!(
        "SELECT {} FROM wheel_offers WHERE lead_id",
        super::offers::OFFER_COLUMNS
    );
    let mut open = Vec::new();
    for row in rows_with_ids(conn, &select, lead_ids).await? {
        let offer = super::offers::offer_from_row(&row)?;
        if offer.state == "open" {
            open.push(offer);
        }
    }
    Ok(open)
}

/// Each member of `team_id` with their count of expiries in a row.
pub async fn team_expiry_counts(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Vec<(String, i64)>, WheelError> {
    let rows =
        sqlx::query("SELECT rep_id, consecutive_expiries FROM wheel_reps WHERE team_id = $1")
            .bind(team_id)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("rep_id")?, row.try_get("consecutive_expiries")?)))
        .collect()
}

/// One rep's count of expiries in a row; None for an unknown rep.
pub async fn expiry_count(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Option<i64>, WheelError> {
    Ok(
        sqlx::query_scalar("SELECT consecutive_expiries FROM wheel_reps WHERE rep_id = $1")
            .bind(rep_id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// A batch's change to a rep's count of expiries in a row: `by` more
/// than stored, or `by` once `reset` (a response in the batch reset it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryCount {
    pub reset: bool,
    pub by: i64,
}

/// Changes each rep's count of expiries in a row.
pub async fn set_expiry_counts(
    conn: &mut AnyConnection,
    counts: &[(String, ExpiryCount)],
) -> Result<(), WheelError> {
    for chunk in statement_chunks(counts, rows_per_statement(conn)) {
        let sql = format!(
            "WITH v(rep_id, reset, n) AS (VALUES {}) \
             UPDATE wheel_reps SET consecutive_expiries = \
               CASE WHEN v.reset = 1 THEN v.n ELSE wheel_reps.consecutive_expiries + v.n END \
             FROM v WHERE wheel_reps.rep_id = v.rep_id",
            value_rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (rep_id, count) in chunk {
            query = query
                .bind(rep_id.as_str())
                .bind(i64::from(count.reset))
                .bind(count.by);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts new open offers.
pub async fn insert_offers(
    conn: &mut AnyConnection,
    offers: &[OfferRow],
) -> Result<(), WheelError> {
    for chunk in statement_chunks(offers, rows_per_statement(conn)) {
        let sql = format!(
            "INSERT INTO wheel_offers (offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms) \
             VALUES {}",
            value_rows(chunk.len(), 8)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for offer in chunk {
            query = query
                .bind(offer.offer_id.as_str())
                .bind(offer.lead_id.as_str())
                .bind(offer.offer_no)
                .bind(offer.team_id.as_str())
                .bind(offer.rep_id.as_str())
                .bind("open")
                .bind(offer.opened_at_ms)
                .bind(offer.deadline_ms);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Closes offers that must still be open (each row's state, reason and
/// closing time); returns how many were.
pub async fn close_offers(
    conn: &mut AnyConnection,
    closed: &[OfferRow],
) -> Result<u64, WheelError> {
    let mut changed = 0;
    for chunk in statement_chunks(closed, rows_per_statement(conn)) {
        let sql = format!(
            "WITH v(offer_id, state, reason, closed_at_ms) AS (VALUES {}) \
             UPDATE wheel_offers SET state = v.state, reason = v.reason, closed_at_ms = v.closed_at_ms \
             FROM v WHERE wheel_offers.offer_id = v.offer_id AND wheel_offers.state = 'open'",
            value_rows(chunk.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for offer in chunk {
            query = query
                .bind(offer.offer_id.as_str())
                .bind(offer.state.as_str())
                .bind(offer.reason.as_deref())
                .bind(offer.closed_at_ms);
        }
        changed += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(changed)
}

/// A lead's routing after one or more transitions of a batch, to be
/// written if the lead is still at `expected_version`. The timestamps
/// kept per state are those the single-transition update would have
/// left after the same sequence.
#[derive(Clone, Debug)]
pub struct LeadUpdate {
    pub expected_version: i64,
    /// Transitions applied: the version grows by as many.
    pub transitions: i64,
    pub routing: LeadRouting,
    pub updated_at_ms: i64,
    /// Set when a transition of the batch pooled the lead (the last one's time).
    pub pooled_at_ms: Option<i64>,
    /// Set when a transition of the batch assigned the lead.
    pub assigned_at_ms: Option<i64>,
    /// A transition left the assigned state, which clears the work's end.
    pub clear_work_closed: bool,
}

/// Writes each lead's staged routing; returns how many were still at
/// their expected version (the others are left alone).
pub async fn update_leads(
    conn: &mut AnyConnection,
    updates: &[LeadUpdate],
) -> Result<u64, WheelError> {
    let mut changed = 0;
    for chunk in statement_chunks(updates, rows_per_statement(conn)) {
        let sql = format!(
            "WITH v(lead_id, expected, n, team_id, state, owner, routing, updated_at, pooled_at, assigned_at, \
               clear_work, escalate_at) AS (VALUES {}) \
             UPDATE wheel_leads SET team_id = v.team_id, state = v.state, owner_rep_id = v.owner, \
               routing = v.routing, version = wheel_leads.version + v.n, updated_at_ms = v.updated_at, \
               pooled_at_ms = COALESCE(v.pooled_at, wheel_leads.pooled_at_ms), \
               assigned_at_ms = COALESCE(v.assigned_at, wheel_leads.assigned_at_ms), \
               escalate_at_ms = v.escalate_at, \
               work_closed_at_ms = CASE WHEN v.clear_work = 1 THEN NULL ELSE wheel_leads.work_closed_at_ms END \
             FROM v WHERE wheel_leads.lead_id = v.lead_id AND wheel_leads.version = v.expected",
            value_rows(chunk.len(), 12)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for update in chunk {
            let routing = &update.routing;
            let owner = match &routing.phase {
                Phase::Assigned { rep } => Some(rep.clone()),
                _ => None,
            };
            let escalate_at = match &routing.phase {
                Phase::Pooled { escalate_at, .. } => *escalate_at,
                _ => None,
            };
            query = query
                .bind(routing.lead_id.clone())
                .bind(update.expected_version)
                .bind(update.transitions)
                .bind(routing.team_id.clone())
                .bind(state_name(&routing.phase))
                .bind(owner)
                .bind(serde_json::to_string(routing).expect("routing serializes"))
                .bind(update.updated_at_ms)
                .bind(update.pooled_at_ms)
                .bind(update.assigned_at_ms)
                .bind(i64::from(update.clear_work_closed))
                .bind(escalate_at);
        }
        changed += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(changed)
}

/// Stores the team's rotation after `moves` changes in the batch if
/// nobody changed it since it was read at `from_version`.
pub async fn move_rotation_by(
    conn: &mut AnyConnection,
    team_id: &str,
    from_version: i64,
    moves: i64,
    rotation: &RotationState,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_teams SET rotation = $1, rotation_version = rotation_version + $4 \
         WHERE team_id = $2 AND rotation_version = $3",
    )
    .bind(serde_json::to_string(rotation).expect("rotation serializes"))
    .bind(team_id)
    .bind(from_version)
    .bind(moves)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The ids of `lead_ids` whose person was erased before their lead came.
pub async fn erased_among(
    conn: &mut AnyConnection,
    lead_ids: &[&str],
) -> Result<std::collections::HashSet<String>, WheelError> {
    let select = "SELECT lead_id FROM wheel_erased_leads WHERE lead_id";
    rows_with_ids(conn, select, lead_ids)
        .await?
        .iter()
        .map(|row| Ok(row.try_get("lead_id")?))
        .collect()
}

/// Inserts new leads (waiting, version 0); returns the ids inserted (a
/// lead already stored is left alone, as is the second of an id listed
/// twice).
pub async fn insert_leads(
    conn: &mut AnyConnection,
    leads: &[(&LeadDetails, &LeadRow)],
    now: i64,
) -> Result<std::collections::HashSet<String>, WheelError> {
    let mut inserted = std::collections::HashSet::new();
    for chunk in statement_chunks(leads, rows_per_statement(conn)) {
        // Each row: the lead's 16 values with its owner (none) and version
        // (0) written in.
        let rows: Vec<String> = (0..chunk.len())
            .map(|n| {
                let p = |col: usize| format!("${}", n * 16 + col);
                format!(
                    "({}, {}, {}, NULL, {}, 0, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10),
                    p(11),
                    p(12),
                    p(13),
                    p(14),
                    p(14),
                    p(15),
                    p(16)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO wheel_leads (lead_id, team_id, state, owner_rep_id, routing, version, name, company, email, \
               domain, tier, score, source, traceparent, lead_created_at_ms, routed_at_ms, updated_at_ms, country, \
               routed_by) \
             VALUES {} ON CONFLICT (lead_id) DO NOTHING RETURNING lead_id",
            rows.join(", ")
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for (details, row) in chunk {
            let routing = serde_json::to_string(&row.routing).expect("routing serializes");
            let routed_by = row
                .routed_by
                .as_ref()
                .map(|choice| serde_json::to_string(choice).expect("choice serializes"));
            query = query
                .bind(details.lead_id.clone())
                .bind(row.team_id.clone())
                .bind(row.state.clone())
                .bind(routing)
                .bind(details.name.clone())
                .bind(details.company.clone())
                .bind(details.email.clone())
                .bind(details.domain.clone())
                .bind(details.tier.clone())
                .bind(details.score)
                .bind(details.source.clone())
                .bind(row.traceparent.clone())
                .bind(details.lead_created_at_ms)
                .bind(now)
                .bind(row.country.clone())
                .bind(routed_by);
        }
        let ids: Vec<String> = query.fetch_all(&mut *conn).await?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

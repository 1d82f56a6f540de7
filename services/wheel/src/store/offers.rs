//! Offers: the durable timers, and the facts behind the statistics.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::*;

pub async fn insert_offer(conn: &mut AnyConnection, offer: &OfferRow) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_offers (offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
    )
    .bind(&offer.offer_id)
    .bind(&offer.lead_id)
    .bind(offer.offer_no)
    .bind(&offer.team_id)
    .bind(&offer.rep_id)
    .bind(offer.opened_at_ms)
    .bind(offer.deadline_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes the lead's open offer `offer_no`; None when it was not open
/// (another transition closed it first).
pub async fn close_offer(
    conn: &mut AnyConnection,
    lead_id: &str,
    offer_no: i64,
    state: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Option<OfferRow>, WheelError> {
    let row = sqlx::query(
        "UPDATE wheel_offers SET state = $1, reason = $2, closed_at_ms = $3 \
         WHERE lead_id = $4 AND offer_no = $5 AND state = 'open' \
         RETURNING offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms, closed_at_ms, reason",
    )
    .bind(state)
    .bind(reason)
    .bind(now)
    .bind(lead_id)
    .bind(offer_no)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(offer_from_row).transpose()
}

pub(super) fn offer_from_row(row: &AnyRow) -> Result<OfferRow, WheelError> {
    Ok(OfferRow {
        offer_id: row.try_get("offer_id")?,
        lead_id: row.try_get("lead_id")?,
        offer_no: row.try_get("offer_no")?,
        team_id: row.try_get("team_id")?,
        rep_id: row.try_get("rep_id")?,
        state: row.try_get("state")?,
        opened_at_ms: row.try_get("opened_at_ms")?,
        deadline_ms: row.try_get("deadline_ms")?,
        closed_at_ms: row.try_get("closed_at_ms")?,
        reason: row.try_get("reason")?,
    })
}

pub(super) const OFFER_COLUMNS: &str = "offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms, closed_at_ms, reason";

pub async fn offers_of_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Vec<OfferRow>, WheelError> {
    let sql =
        format!("SELECT {OFFER_COLUMNS} FROM wheel_offers WHERE lead_id = $1 ORDER BY offer_no");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lead_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(offer_from_row).collect()
}

pub async fn open_offers_of_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Vec<OfferRow>, WheelError> {
    let sql = format!(
        "SELECT {OFFER_COLUMNS} FROM wheel_offers WHERE rep_id = $1 AND state = 'open' ORDER BY deadline_ms"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rep_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(offer_from_row).collect()
}

/// The open offers of `team_id`'s leads with each lead's details, soonest
/// deadline first, at most `limit`: one statement whatever the team's size
/// (the team's offered leads through `wheel_leads_state`, joined to their
/// open offers). The leads' details only: parsing each one's routing state
/// (a lap that lists every member) made the board's call cost ~0.1 ms a
/// lead.
pub async fn open_offers_of_team(
    conn: &mut AnyConnection,
    team_id: &str,
    limit: i64,
) -> Result<Vec<(OfferRow, (LeadDetails, Option<String>))>, WheelError> {
    let prefixed = |table: &str, columns: &str| {
        columns
            .split(", ")
            // The offer's lead_id is the lead's: read once.
            .filter(|c| table == "o" || *c != "lead_id")
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "SELECT {}, {} FROM wheel_offers o JOIN wheel_leads l ON l.lead_id = o.lead_id \
         WHERE l.team_id = $1 AND l.state = 'offered' AND o.state = 'open' \
         ORDER BY o.deadline_ms, o.offer_id LIMIT $2",
        prefixed("o", OFFER_COLUMNS),
        prefixed("l", DETAILS_COLUMNS)
    );
    // Only the constant column lists are pasted in.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(team_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((offer_from_row(row)?, details_from_row(row)?)))
        .collect()
}

/// Open offers whose deadline is at or before `now`, oldest deadline first.
pub async fn due_offers(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, i64, i64)>, WheelError> {
    let rows = sqlx::query(
        "SELECT lead_id, offer_no, deadline_ms FROM wheel_offers WHERE state = 'open' AND deadline_ms <= $1 \
         ORDER BY deadline_ms, offer_id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("lead_id")?,
                row.try_get("offer_no")?,
                row.try_get("deadline_ms")?,
            ))
        })
        .collect()
}

/// The earliest deadline of any open offer.
pub async fn next_deadline(conn: &mut AnyConnection) -> Result<Option<i64>, WheelError> {
    Ok(
        sqlx::query_scalar("SELECT MIN(deadline_ms) FROM wheel_offers WHERE state = 'open'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// One offer, for statistics.
#[derive(Clone, Debug)]
pub struct OfferFact {
    pub rep_id: String,
    pub team_id: String,
    pub state: String,
    pub offer_no: i64,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

/// Offers of `team_id` (all teams when empty) opened at or after `since`.
pub async fn offer_facts(
    conn: &mut AnyConnection,
    team_id: &str,
    since: i64,
) -> Result<Vec<OfferFact>, WheelError> {
    let rows = sqlx::query(
        "SELECT rep_id, team_id, state, offer_no, opened_at_ms, closed_at_ms FROM wheel_offers \
         WHERE ($1 = '' OR team_id = $1) AND opened_at_ms >= $2",
    )
    .bind(team_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OfferFact {
                rep_id: row.try_get("rep_id")?,
                team_id: row.try_get("team_id")?,
                state: row.try_get("state")?,
                offer_no: row.try_get("offer_no")?,
                opened_at_ms: row.try_get("opened_at_ms")?,
                closed_at_ms: row.try_get("closed_at_ms")?,
            })
        })
        .collect()
}

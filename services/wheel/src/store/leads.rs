//! Leads being routed and their versioned routing state.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::*;

/// Pooled leads whose escalation time has come, oldest first.
pub async fn due_escalations(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, WheelError> {
    Ok(sqlx::query_scalar(
        "SELECT lead_id FROM wheel_leads WHERE state = 'pooled' AND escalate_at_ms IS NOT NULL AND escalate_at_ms <= $1 \
         ORDER BY escalate_at_ms, lead_id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) const LEAD_COLUMNS: &str = "lead_id, team_id, state, owner_rep_id, routing, version, name, company, email, \
     domain, tier, score, source, traceparent, lead_created_at_ms, pooled_at_ms, country, routed_by";

/// The columns of [`details_from_row`]: a lead's details and trace, not
/// its routing state (whose lap lists every member of the ring).
pub(super) const DETAILS_COLUMNS: &str = "lead_id, name, company, email, domain, tier, score, \
     source, lead_created_at_ms, traceparent";

/// A lead's details and its trace parent, from [`DETAILS_COLUMNS`].
pub(super) fn details_from_row(row: &AnyRow) -> Result<(LeadDetails, Option<String>), WheelError> {
    Ok((
        LeadDetails {
            lead_id: row.try_get("lead_id")?,
            name: row.try_get("name")?,
            company: row.try_get("company")?,
            email: row.try_get("email")?,
            domain: row.try_get("domain")?,
            tier: row.try_get("tier")?,
            score: row.try_get("score")?,
            source: row.try_get("source")?,
            lead_created_at_ms: row.try_get("lead_created_at_ms")?,
        },
        row.try_get("traceparent")?,
    ))
}

pub(super) fn lead_from_row(row: &AnyRow) -> Result<LeadRow, WheelError> {
    let routing: String = row.try_get("routing")?;
    let routing =
        serde_json::from_str(&routing).map_err(|err| WheelError::Corrupt(err.to_string()))?;
    let (details, traceparent) = details_from_row(row)?;
    Ok(LeadRow {
        team_id: row.try_get("team_id")?,
        state: row.try_get("state")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        routing,
        version: row.try_get("version")?,
        details,
        traceparent,
        pooled_at_ms: row.try_get("pooled_at_ms")?,
        country: row.try_get("country")?,
        routed_by: row
            .try_get::<Option<String>, _>("routed_by")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|err| WheelError::Corrupt(format!("routed_by: {err}")))?,
    })
}

pub async fn load_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Option<LeadRow>, WheelError> {
    let sql = format!("SELECT {LEAD_COLUMNS} FROM wheel_leads WHERE lead_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lead_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(lead_from_row).transpose()
}

/// Leads in `state` for `team_id`, oldest first.
pub async fn leads_in_state(
    conn: &mut AnyConnection,
    team_id: &str,
    state: &str,
    limit: i64,
) -> Result<Vec<LeadRow>, WheelError> {
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM wheel_leads WHERE ($1 = '' OR team_id = $1) AND state = $2 \
         ORDER BY routed_at_ms, lead_id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(team_id)
        .bind(state)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(lead_from_row).collect()
}

/// A pooled lead as the pool lists it: its details, not its routing.
#[derive(Clone, Debug)]
pub struct PooledLead {
    pub details: LeadDetails,
    pub team_id: String,
    pub pooled_at_ms: Option<i64>,
}

/// `team_id`'s pooled leads (every team's when empty), oldest routed
/// first: details only, so a large pool is not a parse of every lead's lap.
pub async fn pooled_leads(
    conn: &mut AnyConnection,
    team_id: &str,
    limit: i64,
) -> Result<Vec<PooledLead>, WheelError> {
    let sql = format!(
        "SELECT {DETAILS_COLUMNS}, team_id, pooled_at_ms FROM wheel_leads \
         WHERE ($1 = '' OR team_id = $1) AND state = 'pooled' \
         ORDER BY routed_at_ms, lead_id LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(team_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PooledLead {
                details: details_from_row(row)?.0,
                team_id: row.try_get("team_id")?,
                pooled_at_ms: row.try_get("pooled_at_ms")?,
            })
        })
        .collect()
}

/// Inserts a new lead; false when it already exists.
pub async fn insert_lead(
    conn: &mut AnyConnection,
    details: &LeadDetails,
    row: &LeadRow,
    now: i64,
) -> Result<bool, WheelError> {
    let routing = serde_json::to_string(&row.routing).expect("routing serializes");
    let routed_by = row
        .routed_by
        .as_ref()
        .map(|choice| serde_json::to_string(choice).expect("choice serializes"));
    let result = sqlx::query(
        "INSERT INTO wheel_leads (lead_id, team_id, state, owner_rep_id, routing, version, name, company, email, \
           domain, tier, score, source, traceparent, lead_created_at_ms, routed_at_ms, updated_at_ms, country, \
           routed_by) \
         VALUES ($1, $2, $3, NULL, $4, 0, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16) \
         ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(&details.lead_id)
    .bind(&row.team_id)
    .bind(&row.state)
    .bind(routing)
    .bind(&details.name)
    .bind(&details.company)
    .bind(&details.email)
    .bind(&details.domain)
    .bind(&details.tier)
    .bind(details.score)
    .bind(&details.source)
    .bind(&row.traceparent)
    .bind(details.lead_created_at_ms)
    .bind(now)
    .bind(&row.country)
    .bind(routed_by)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Writes a lead's new routing state if its version is still `expected`.
pub async fn update_lead(
    conn: &mut AnyConnection,
    expected_version: i64,
    routing: &LeadRouting,
    now: i64,
) -> Result<bool, WheelError> {
    let lead_id = routing.lead_id.as_str();
    let team_id = routing.team_id.as_str();
    let state = state_name(&routing.phase);
    let owner = match &routing.phase {
        Phase::Assigned { rep } => Some(rep.as_str()),
        _ => None,
    };
    let escalate_at = match &routing.phase {
        Phase::Pooled { escalate_at, .. } => *escalate_at,
        _ => None,
    };
    let routing = serde_json::to_string(routing).expect("routing serializes");
    let result = sqlx::query(
        "UPDATE wheel_leads SET team_id = $1, state = $2, owner_rep_id = $3, routing = $4, version = version + 1, \
           updated_at_ms = $5, \
           pooled_at_ms = CASE WHEN $2 = 'pooled' THEN $5 ELSE pooled_at_ms END, \
           assigned_at_ms = CASE WHEN $2 = 'assigned' THEN $5 ELSE assigned_at_ms END, \
           escalate_at_ms = $8, \
           work_closed_at_ms = CASE WHEN $2 = 'assigned' THEN work_closed_at_ms ELSE NULL END \
         WHERE lead_id = $6 AND version = $7",
    )
    .bind(team_id)
    .bind(state)
    .bind(owner)
    .bind(routing)
    .bind(now)
    .bind(lead_id)
    .bind(expected_version)
    .bind(escalate_at)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records that the owner's work on an assigned lead ended (opportunity
/// converted or disqualified it), so it stops counting toward the owner's
/// capacity; false when the lead is not assigned or already closed.
pub async fn close_work(
    conn: &mut AnyConnection,
    lead_id: &str,
    at_ms: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_leads SET work_closed_at_ms = $2 \
         WHERE lead_id = $1 AND state = 'assigned' AND work_closed_at_ms IS NULL",
    )
    .bind(lead_id)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

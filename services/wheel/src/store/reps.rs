//! Reps: availability, rank, capacity, schedules and the circuit breaker's count.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::*;

pub async fn load_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Option<RepRow>, WheelError> {
    let row = sqlx::query(
        "SELECT rep_id, name, team_id, availability, rep_rank, capacity, consecutive_expiries, schedule, skills, \
           (SELECT COUNT(*) FROM wheel_offers o WHERE o.rep_id = r.rep_id AND o.state = 'open') AS open_offers, \
           (SELECT COUNT(*) FROM wheel_leads l WHERE l.owner_rep_id = r.rep_id AND l.work_closed_at_ms IS NULL) AS assigned_leads \
         FROM wheel_reps r WHERE rep_id = $1",
    )
    .bind(rep_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| rep_from_row(&row)).transpose()
}

pub async fn list_reps(
    conn: &mut AnyConnection,
    team_id: Option<&str>,
) -> Result<Vec<RepRow>, WheelError> {
    // One team's reps through `wheel_reps_team`; `($1 = '' OR team_id =
    // $1)` would scan every rep of every team.
    let which = if team_id.is_some() {
        "WHERE team_id = $1"
    } else {
        "WHERE $1 = ''"
    };
    let sql = format!(
        "SELECT rep_id, name, team_id, availability, rep_rank, capacity, consecutive_expiries, schedule, skills, \
           (SELECT COUNT(*) FROM wheel_offers o WHERE o.rep_id = r.rep_id AND o.state = 'open') AS open_offers, \
           (SELECT COUNT(*) FROM wheel_leads l WHERE l.owner_rep_id = r.rep_id AND l.work_closed_at_ms IS NULL) AS assigned_leads \
         FROM wheel_reps r {which} \
         ORDER BY team_id, ring_position, rep_id"
    );
    // Only one of the two constant clauses is pasted in.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(team_id.unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(rep_from_row).collect()
}

/// The members of `team_id` in ring order, without load counts (see
/// [`count_load`]): what the engine keeps in memory per roster version.
pub async fn team_roster(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Vec<RepRow>, WheelError> {
    let rows = sqlx::query(
        "SELECT rep_id, name, team_id, availability, rep_rank, capacity, consecutive_expiries, schedule, skills, \
           CAST(0 AS BIGINT) AS open_offers, CAST(0 AS BIGINT) AS assigned_leads \
         FROM wheel_reps WHERE team_id = $1 ORDER BY ring_position, rep_id",
    )
    .bind(team_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rep_from_row).collect()
}

/// The load (open offers plus leads in work) of each rep with a capacity
/// cap: the others are never skipped for capacity. Two grouped queries
/// whatever the number of capped reps (one query per capped rep was the
/// dearest part of a decision in a team where everyone has a cap).
pub async fn count_load<'a>(
    conn: &mut AnyConnection,
    capped: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, i64>, WheelError> {
    let capped: Vec<&str> = capped.collect();
    let mut loads: HashMap<String, i64> = capped.iter().map(|rep| (rep.to_string(), 0)).collect();
    for chunk in capped.chunks(REPS_PER_QUERY) {
        let list = (1..=chunk.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let offers = format!(
            "SELECT rep_id AS rep, COUNT(*) AS n FROM wheel_offers \
             WHERE state = 'open' AND rep_id IN ({list}) GROUP BY rep_id"
        );
        let work = format!(
            "SELECT owner_rep_id AS rep, COUNT(*) AS n FROM wheel_leads \
             WHERE work_closed_at_ms IS NULL AND owner_rep_id IN ({list}) GROUP BY owner_rep_id"
        );
        for sql in [offers, work] {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for rep in chunk {
                query = query.bind(*rep);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let rep: String = row.try_get("rep")?;
                let n: i64 = row.try_get("n")?;
                *loads.entry(rep).or_default() += n;
            }
        }
    }
    Ok(loads)
}

/// Capped reps per load query at most (a bound on its parameters).
const REPS_PER_QUERY: usize = 500;

/// Marks the roster of `rep_id`'s team changed, so every replica reloads it.
pub(super) async fn bump_roster_of(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<(), WheelError> {
    sqlx::query(
        "UPDATE wheel_teams SET roster_version = roster_version + 1 \
         WHERE team_id = (SELECT team_id FROM wheel_reps WHERE rep_id = $1)",
    )
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn rep_from_row(row: &AnyRow) -> Result<RepRow, WheelError> {
    Ok(RepRow {
        rep_id: row.try_get("rep_id")?,
        name: row.try_get("name")?,
        team_id: row.try_get("team_id")?,
        open_offers: row.try_get("open_offers")?,
        assigned_leads: row.try_get("assigned_leads")?,
        availability: row.try_get("availability")?,
        rank: row.try_get("rep_rank")?,
        capacity: row.try_get("capacity")?,
        consecutive_expiries: row.try_get("consecutive_expiries")?,
        schedule: serde_json::from_str(&row.try_get::<String, _>("schedule")?)
            .map_err(|err| WheelError::Corrupt(format!("rep schedule: {err}")))?,
        skills: serde_json::from_str(&row.try_get::<String, _>("skills")?)
            .map_err(|err| WheelError::Corrupt(format!("rep skills: {err}")))?,
    })
}

/// Sets a rep away or available; returns false when the rep is unknown.
pub async fn set_availability(
    conn: &mut AnyConnection,
    rep_id: &str,
    availability: &str,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET availability = $1, consecutive_expiries = 0, updated_at_ms = $2 WHERE rep_id = $3",
    )
    .bind(availability)
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    bump_roster_of(conn, rep_id).await?;
    Ok(result.rows_affected() == 1)
}

/// Sets a rep's rank and capacity; returns false when the rep is unknown.
pub async fn update_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
    rank: i64,
    capacity: i64,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET rep_rank = $1, capacity = $2, updated_at_ms = $3 WHERE rep_id = $4",
    )
    .bind(rank)
    .bind(capacity)
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    bump_roster_of(conn, rep_id).await?;
    Ok(result.rows_affected() == 1)
}

/// Counts an expiry against a rep (or resets the count after a claim or a
/// pass); returns the new count.
pub async fn record_response(
    conn: &mut AnyConnection,
    rep_id: &str,
    expired: bool,
) -> Result<i64, WheelError> {
    let sql = if expired {
        "UPDATE wheel_reps SET consecutive_expiries = consecutive_expiries + 1 WHERE rep_id = $1 RETURNING consecutive_expiries"
    } else {
        "UPDATE wheel_reps SET consecutive_expiries = 0 WHERE rep_id = $1 RETURNING consecutive_expiries"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(rep_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0))
}

/// Sets a rep's working hours and skills; false when the rep is unknown.
pub async fn set_schedule(
    conn: &mut AnyConnection,
    rep_id: &str,
    schedule: &Schedule,
    skills: &Skills,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET schedule = $1, skills = $2, updated_at_ms = $3 WHERE rep_id = $4",
    )
    .bind(serde_json::to_string(schedule).expect("schedule serializes"))
    .bind(serde_json::to_string(skills).expect("skills serialize"))
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    bump_roster_of(conn, rep_id).await?;
    Ok(result.rows_affected() == 1)
}

/// Takes `rep_id` off their team (the rep has left the company): they are
/// offered nothing more and leave the ring. Returns the team they left.
pub async fn leave_team(
    conn: &mut AnyConnection,
    rep_id: &str,
    now: i64,
) -> Result<Option<String>, WheelError> {
    let team: Option<Option<String>> =
        sqlx::query_scalar("SELECT team_id FROM wheel_reps WHERE rep_id = $1")
            .bind(rep_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(team_id) = team.flatten() else {
        return Ok(None);
    };
    bump_roster_of(conn, rep_id).await?;
    sqlx::query("UPDATE wheel_reps SET team_id = NULL, updated_at_ms = $2 WHERE rep_id = $1")
        .bind(rep_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(Some(team_id))
}

//! Teams, their rings and the rotation standing.

use sqlx::{AnyConnection, Row};

use super::*;

pub async fn load_team(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Option<TeamRow>, WheelError> {
    let Some(mut team) = load_team_row(conn, team_id).await? else {
        return Ok(None);
    };
    let members = sqlx::query(
        "SELECT rep_id, rep_rank FROM wheel_reps WHERE team_id = $1 ORDER BY ring_position, rep_id",
    )
    .bind(team_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut ring = Vec::with_capacity(members.len());
    let mut ranks = BTreeMap::new();
    for member in &members {
        let rep_id: String = member.try_get("rep_id")?;
        let rank: i64 = member.try_get("rep_rank")?;
        ranks.insert(rep_id.clone(), rank as i32);
        ring.push(rep_id);
    }
    team.ring = ring.into();
    team.ranks = Arc::new(ranks);
    Ok(Some(team))
}

/// The team's own row, with an empty ring: for callers that know the
/// members already (the engine keeps them per roster version).
pub async fn load_team_row(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Option<TeamRow>, WheelError> {
    let Some(row) = sqlx::query(
        "SELECT team_id, name, manager_id, window_ms, policy, rotation, rotation_version, roster_version \
         FROM wheel_teams WHERE team_id = $1",
    )
    .bind(team_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let policy: String = row.try_get("policy")?;
    let rotation: String = row.try_get("rotation")?;
    Ok(Some(TeamRow {
        team_id: row.try_get("team_id")?,
        name: row.try_get("name")?,
        manager_id: row.try_get("manager_id")?,
        window_ms: row.try_get("window_ms")?,
        policy: serde_json::from_str(&policy)
            .map_err(|err| WheelError::Corrupt(format!("team policy: {err}")))?,
        rotation: serde_json::from_str(&rotation)
            .map_err(|err| WheelError::Corrupt(format!("team rotation: {err}")))?,
        rotation_version: row.try_get("rotation_version")?,
        roster_version: row.try_get("roster_version")?,
        ring: Arc::default(),
        ranks: Arc::default(),
    }))
}

/// The team leads go to when intake names none: the oldest team.
pub async fn default_team_id(conn: &mut AnyConnection) -> Result<Option<String>, WheelError> {
    Ok(sqlx::query_scalar(
        "SELECT team_id FROM wheel_teams ORDER BY created_at_ms, team_id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn list_teams(conn: &mut AnyConnection) -> Result<Vec<TeamRow>, WheelError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT team_id FROM wheel_teams ORDER BY team_id")
        .fetch_all(&mut *conn)
        .await?;
    let mut teams = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(team) = load_team(conn, &id).await? {
            teams.push(team);
        }
    }
    Ok(teams)
}

/// Creates or replaces a team; reps in `members` join it in ring order
/// (created when new), reps no longer listed leave it.
pub async fn upsert_team(
    conn: &mut AnyConnection,
    team: &TeamRow,
    names: &[String],
    now: i64,
) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_teams (team_id, name, manager_id, window_ms, policy, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $6, $5, $5) \
         ON CONFLICT (team_id) DO UPDATE SET name = $2, manager_id = $3, window_ms = $4, policy = $6, updated_at_ms = $5, \
           roster_version = wheel_teams.roster_version + 1",
    )
    .bind(&team.team_id)
    .bind(&team.name)
    .bind(&team.manager_id)
    .bind(team.window_ms)
    .bind(now)
    .bind(serde_json::to_string(&team.policy).expect("policy serializes"))
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE wheel_reps SET team_id = NULL, updated_at_ms = $2 WHERE team_id = $1")
        .bind(&team.team_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    for (position, rep_id) in team.ring.iter().enumerate() {
        let name = names
            .get(position)
            .filter(|n| !n.is_empty())
            .unwrap_or(rep_id);
        // A rep moving here from another team changes that team's roster too.
        super::reps::bump_roster_of(conn, rep_id).await?;
        sqlx::query(
            "INSERT INTO wheel_reps (rep_id, name, team_id, ring_position, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (rep_id) DO UPDATE SET name = $2, team_id = $3, ring_position = $4, updated_at_ms = $5",
        )
        .bind(rep_id)
        .bind(name)
        .bind(&team.team_id)
        .bind(position as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores the team's new rotation standing if nobody changed it since it
/// was read at `from_version`; false when another writer did.
pub async fn move_rotation(
    conn: &mut AnyConnection,
    team_id: &str,
    from_version: i64,
    rotation: &RotationState,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_teams SET rotation = $1, rotation_version = rotation_version + 1 \
         WHERE team_id = $2 AND rotation_version = $3",
    )
    .bind(serde_json::to_string(rotation).expect("rotation serializes"))
    .bind(team_id)
    .bind(from_version)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

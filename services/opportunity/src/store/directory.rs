//! The wheel's team directory, kept from its events: who manages which
//! team, and which team each rep is in.

use sqlx::AnyConnection;

use super::StoreError;

/// Records a team and its manager; an older copy never overwrites a newer.
pub async fn upsert_team(
    conn: &mut AnyConnection,
    team_id: &str,
    name: &str,
    manager_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_teams (team_id, name, manager_id, at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (team_id) DO UPDATE SET name = excluded.name, \
         manager_id = excluded.manager_id, at_ms = excluded.at_ms \
         WHERE opps_teams.at_ms <= excluded.at_ms",
    )
    .bind(team_id)
    .bind(name)
    .bind(manager_id)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that `rep_id` is in `team_id` (a newer fact wins).
pub async fn upsert_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
    name: Option<&str>,
    team_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_reps (rep_id, name, team_id, at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (rep_id) DO UPDATE SET \
         name = CASE WHEN $5 = 1 THEN excluded.name ELSE opps_reps.name END, \
         team_id = excluded.team_id, at_ms = excluded.at_ms \
         WHERE opps_reps.at_ms <= excluded.at_ms",
    )
    .bind(rep_id)
    .bind(name.unwrap_or_default())
    .bind(team_id)
    .bind(at_ms)
    .bind(i64::from(name.is_some()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The teams `manager_id` manages.
pub async fn teams_managed_by(
    conn: &mut AnyConnection,
    manager_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT team_id FROM opps_teams WHERE manager_id = $1 ORDER BY team_id")
            .bind(manager_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// The team of `rep_id`, when the directory knows the rep.
pub async fn team_of(conn: &mut AnyConnection, rep_id: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT team_id FROM opps_reps WHERE rep_id = $1")
            .bind(rep_id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

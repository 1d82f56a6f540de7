//! The wheel's team directory, kept from its events: who manages which
//! team, which team each rep is in, and which reps left their team.

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

/// Records that `rep_id` is in `team_id` (a newer fact wins; a rep who
/// had left is a member again).
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
         team_id = excluded.team_id, at_ms = excluded.at_ms, left_at_ms = NULL \
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

/// Records that `rep_id` left `team_id` at `at_ms` and is on no team (a
/// newer membership wins; an older one arriving later does not undo it).
pub async fn rep_left(
    conn: &mut AnyConnection,
    rep_id: &str,
    team_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_reps (rep_id, name, team_id, at_ms, left_at_ms) VALUES ($1, $1, $2, $3, $3) \
         ON CONFLICT (rep_id) DO UPDATE SET team_id = excluded.team_id, \
         at_ms = excluded.at_ms, left_at_ms = excluded.left_at_ms \
         WHERE opps_reps.at_ms <= excluded.at_ms",
    )
    .bind(rep_id)
    .bind(team_id)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Where a rep stands in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// On this team.
    Member(String),
    /// Left this team and on none now.
    Left(String),
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

/// Where `rep_id` stands, when the directory knows the rep.
pub async fn membership(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Option<Membership>, StoreError> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT team_id, left_at_ms FROM opps_reps WHERE rep_id = $1")
            .bind(rep_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(team_id, left)| match left {
        None => Membership::Member(team_id),
        Some(_) => Membership::Left(team_id),
    }))
}

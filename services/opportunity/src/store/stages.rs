//! The pipeline's stages.

use sqlx::{AnyConnection, Row};

use super::StoreError;

/// A pipeline stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Its name, e.g. `trial`.
    pub name: String,
    /// Sort order.
    pub position: i64,
    /// Win probability in percent.
    pub probability: i64,
    /// The owner cannot change in this stage (except forced by an admin).
    pub owner_locked: bool,
    /// Days in the stage before a deal is stale (0: never).
    pub stale_days: i64,
    /// "open", "won" or "lost".
    pub outcome: String,
}

/// Every stage, in order.
pub async fn stages(conn: &mut AnyConnection) -> Result<Vec<Stage>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, position, probability, owner_locked, stale_days, outcome \
         FROM opps_stages ORDER BY position, name",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| -> Result<Stage, StoreError> {
            Ok(Stage {
                name: row.try_get("name")?,
                position: row.try_get("position")?,
                probability: row.try_get("probability")?,
                owner_locked: row.try_get::<i64, _>("owner_locked")? != 0,
                stale_days: row.try_get("stale_days")?,
                outcome: row.try_get("outcome")?,
            })
        })
        .collect()
}

/// Creates or replaces `stage`.
pub async fn upsert_stage(
    conn: &mut AnyConnection,
    stage: &Stage,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_stages (name, position, probability, owner_locked, stale_days, outcome, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET \
         position = excluded.position, probability = excluded.probability, \
         owner_locked = excluded.owner_locked, stale_days = excluded.stale_days, \
         outcome = excluded.outcome, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(&stage.name)
    .bind(stage.position)
    .bind(stage.probability)
    .bind(i64::from(stage.owner_locked))
    .bind(stage.stale_days)
    .bind(&stage.outcome)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

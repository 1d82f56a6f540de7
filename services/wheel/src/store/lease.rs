//! The writer's lease (Postgres): which replica batches the wheel's
//! writes, and the fence each of its batches passes (see
//! `crate::engine::lease`).

use sqlx::AnyConnection;

use crate::error::WheelError;

/// Takes the lease on `shard` for `holder` until `expires_at_ms` if it is
/// free, lapsed (`expires_at_ms` of the row before `now_ms`) or already
/// `holder`'s; returns the epoch held, or None while another replica
/// holds it. The epoch grows each time the holder changes.
pub async fn try_hold(
    conn: &mut AnyConnection,
    shard: &str,
    holder: &str,
    now_ms: i64,
    expires_at_ms: i64,
) -> Result<Option<i64>, WheelError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO wheel_writer_lease (shard, holder, epoch, expires_at_ms) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (shard) DO UPDATE SET \
           epoch = CASE WHEN wheel_writer_lease.holder = excluded.holder \
             THEN wheel_writer_lease.epoch ELSE wheel_writer_lease.epoch + 1 END, \
           holder = excluded.holder, expires_at_ms = excluded.expires_at_ms \
         WHERE wheel_writer_lease.holder = excluded.holder OR wheel_writer_lease.expires_at_ms < $4 \
         RETURNING epoch",
    )
    .bind(shard)
    .bind(holder)
    .bind(expires_at_ms)
    .bind(now_ms)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Inside a batch's transaction: extends the lease if `holder` still
/// holds it at `epoch`, and keeps its row locked until the transaction
/// ends, so no replica takes the lease over while the batch is open.
/// False when it was taken over: the batch must not commit.
pub async fn fence(
    conn: &mut AnyConnection,
    shard: &str,
    holder: &str,
    epoch: i64,
    expires_at_ms: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_writer_lease SET expires_at_ms = $1 WHERE shard = $2 AND holder = $3 AND epoch = $4",
    )
    .bind(expires_at_ms)
    .bind(shard)
    .bind(holder)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Lets the lease lapse at once (a replica stopping), so another takes
/// it over without waiting for it to expire.
pub async fn release(
    conn: &mut AnyConnection,
    shard: &str,
    holder: &str,
) -> Result<(), WheelError> {
    sqlx::query("UPDATE wheel_writer_lease SET expires_at_ms = 0 WHERE shard = $1 AND holder = $2")
        .bind(shard)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

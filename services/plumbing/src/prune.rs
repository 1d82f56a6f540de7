//! Deleting old rows of the event trail: outbox rows sent longer ago than
//! [`Retention::outbox_keep_sent`], inbox rows processed longer ago than
//! [`Retention::inbox_keep`]. Pending outbox rows are never touched.
//!
//! Rows go in batches, each batch its own write transaction, so on SQLite
//! the prune takes its turn at the store's write gate like every writer
//! and never holds it for long; a large backlog (the first prune after an
//! upgrade) is worked off batch by batch.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::retention::Retention;
use crate::store::{Store, now_ms};

/// Rows deleted per transaction.
const BATCH: i64 = 1000;

/// What one prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Sent outbox rows.
    pub outbox: u64,
    /// Inbox rows.
    pub inbox: u64,
}

const OUTBOX_BATCH: &str = "DELETE FROM lw_outbox WHERE id IN (SELECT id FROM lw_outbox \
     WHERE sent_at_ms IS NOT NULL AND sent_at_ms < $1 ORDER BY sent_at_ms LIMIT $2)";

const INBOX_BATCH: &str = "DELETE FROM lw_inbox WHERE (consumer, event_id) IN \
     (SELECT consumer, event_id FROM lw_inbox WHERE processed_at_ms < $1 \
     ORDER BY processed_at_ms LIMIT $2)";

/// Deletes what `retention` no longer keeps at time `now_ms`.
pub async fn prune_once(
    store: &Store,
    retention: &Retention,
    now_ms: i64,
) -> Result<Pruned, sqlx::Error> {
    let mut pruned = Pruned::default();
    if let Some(keep) = retention.outbox_keep_sent {
        pruned.outbox = delete_older(store, OUTBOX_BATCH, cutoff(now_ms, keep)).await?;
    }
    if let Some(keep) = retention.inbox_keep {
        pruned.inbox = delete_older(store, INBOX_BATCH, cutoff(now_ms, keep)).await?;
    }
    Ok(pruned)
}

fn cutoff(now_ms: i64, keep: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `batch` (rows older than `before`, at most [`BATCH`]) until it
/// deletes fewer than a batch; returns the rows deleted.
async fn delete_older(store: &Store, batch: &'static str, before: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = store.begin().await?;
        let deleted = sqlx::query(batch)
            .bind(before)
            .bind(BATCH)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prunes every [`Retention::prune_every`] until `cancel` fires.
pub async fn run(store: Store, retention: Retention, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(retention.prune_every) => {}
            _ = cancel.cancelled() => return,
        }
        match prune_once(&store, &retention, now_ms()).await {
            Ok(pruned) if pruned != Pruned::default() => {
                tracing::info!(
                    outbox = pruned.outbox,
                    inbox = pruned.inbox,
                    "pruned old outbox and inbox rows"
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "pruning outbox and inbox rows failed; retrying at the next turn")
            }
        }
    }
}

//! Rebuild: empty the read models and replay every stream from the start.
//!
//! The read models and the reporting consumers' inbox rows are emptied in
//! one transaction (quotas are kept: they do not come from events); then
//! the durable consumers are deleted, and the running consumer tasks
//! recreate them from the first message of each stream and replay it.
//! Events applied between the two steps are in the inbox again and are
//! skipped by the replay, so nothing counts twice. On Postgres the inbox
//! is locked first, so a batch in flight commits either wholly before the
//! emptying or wholly after it.
//!
//! While the replay runs the reports show partial numbers: this is not a
//! build into fresh tables with an atomic switch-over.

use leadwheel_plumbing::Store;
use leadwheel_plumbing::bus::Bus;
use leadwheel_plumbing::store::{Backend, StoreError};
use leadwheel_proto::reporting::v1::ConsumerProgress;

use crate::CONSUMERS;
use crate::error::Error;

/// Every table built from events.
const READ_MODELS: [&str; 13] = [
    "reporting_counters",
    "reporting_facts",
    "reporting_opportunities",
    "reporting_open",
    "reporting_daily",
    "reporting_counted",
    "reporting_teams",
    "reporting_reps",
    "reporting_stages",
    "reporting_durations",
    "reporting_leads",
    "reporting_accounts",
    "reporting_opportunity_history",
];

/// Empties the read models and the consumers' inbox rows, and seeds the
/// default stages again (as the migration does).
pub async fn reset(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        // Waits for batches in flight (they hold the inbox after their first
        // statement) and holds new ones until this commits.
        sqlx::query("LOCK TABLE lw_inbox IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    for table in READ_MODELS {
        // Table names are the constants above.
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO reporting_stages (stage, position, stale_days) VALUES \
         ('needs_identified', 10, 30), ('trial', 20, 21), ('commercial', 30, 14), \
         ('won', 40, 0), ('lost', 50, 0)",
    )
    .execute(&mut *tx)
    .await?;
    for (durable, _, _) in CONSUMERS {
        sqlx::query("DELETE FROM lw_inbox WHERE consumer = $1")
            .bind(durable)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the durable consumers so their tasks recreate them from the
/// start of each stream.
pub async fn restart_consumers(bus: &Bus) -> Result<(), Error> {
    for (durable, stream, _) in CONSUMERS {
        let stream = bus
            .jetstream
            .get_stream(stream.name)
            .await
            .map_err(|err| Error::Bus(format!("opening stream {}: {err}", stream.name)))?;
        if let Err(err) = stream.delete_consumer(durable).await {
            // Not there (e.g. never created): nothing to restart.
            tracing::warn!(consumer = durable, error = %err, "deleting consumer");
        }
    }
    Ok(())
}

/// How far each consumer is: delivered and still pending messages.
pub async fn progress(bus: &Bus) -> Result<Vec<ConsumerProgress>, Error> {
    let mut out = Vec::new();
    for (durable, stream, _) in CONSUMERS {
        let stream = bus
            .jetstream
            .get_stream(stream.name)
            .await
            .map_err(|err| Error::Bus(format!("opening stream {}: {err}", stream.name)))?;
        let (delivered, pending) = match stream.consumer_info(durable).await {
            Ok(info) => (
                info.delivered.stream_sequence,
                info.num_pending + info.num_ack_pending as u64,
            ),
            // Being recreated: nothing delivered yet.
            Err(_) => (0, 0),
        };
        out.push(ConsumerProgress {
            consumer: durable.to_string(),
            delivered: delivered as i64,
            pending: pending as i64,
        });
    }
    Ok(out)
}

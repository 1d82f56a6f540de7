//! Applies events from every stream to the read models.
//!
//! One handler serves the intake, wheel and opportunity consumers: each
//! event is decoded by its contract ([`Incoming`], the one place events
//! are dispatched by subject), mapped to its funnel facts
//! ([`crate::funnel::facts_of`]) and to its sales updates
//! ([`crate::sales::updates_of`]), and both are applied in the inbox's
//! transaction, so the models and the event's "processed" mark commit
//! together or not at all.
//!
//! An event that is not what its contract says, or lacks a field its facts
//! need, is refused as permanent (terminated and logged), as every service
//! does. The consumers' filters are [`Incoming::SUBJECTS`], so no other
//! subject should arrive; one that does anyway is acked and ignored when
//! `docs/reporting.md` lists it as ignored, and refused as permanent
//! otherwise (a subject nobody declared is a bug to see in the logs).

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::store::Backend;
use leadwheel_plumbing::{Event, Tx};

use crate::event_subjects::{self, Incoming};
use crate::funnel::Rejected;
use crate::models::apply::Applier;
use crate::{funnel, sales, store};

/// Counts events into the funnel and applies them to the sales models.
#[derive(Clone, Debug)]
pub struct Handler {
    /// Applies sales updates (days in the business time zone).
    pub applier: Applier,
}

/// Why an event is not applied.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Malformed: it can never be applied.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// A subject reporting neither reads nor lists as ignored.
    #[error("unexpected subject {0}")]
    Unexpected(String),
}

impl Handler {
    /// The event, decoded by its contract; `None` for a subject reporting
    /// deliberately ignores.
    pub fn read(event: &Event) -> Result<Option<Incoming>, Refused> {
        match Incoming::decode(event).map_err(Rejected::from)? {
            Some(incoming) => Ok(Some(incoming)),
            None if event_subjects::ignored(&event.subject) => Ok(None),
            None => Err(Refused::Unexpected(event.subject.clone())),
        }
    }

    /// Rejects a malformed event before anything is written: the same
    /// pure mappings [`EventHandler::handle`] starts with. After it passes,
    /// `handle` fails only when the store does.
    pub fn check(event: &Event) -> Result<(), Refused> {
        if let Some(incoming) = Self::read(event)? {
            funnel::facts_of(&incoming)?;
            sales::updates_of(&incoming)?;
        }
        Ok(())
    }

    async fn funnel(
        &self,
        tx: &mut Tx,
        event: &Event,
        incoming: &Incoming,
    ) -> Result<(), HandlerError> {
        let facts = funnel::facts_of(incoming)
            // Retrying cannot fix a malformed event: terminate and log it.
            .map_err(|err| HandlerError::Permanent(err.into()))?;
        if facts.is_empty() {
            tracing::debug!(subject = %event.subject, "event counts for nothing in the funnel");
        }
        for fact in &facts {
            let counted = store::count(tx, fact, &event.envelope.id)
                .await
                .map_err(|err| HandlerError::Transient(err.into()))?;
            if counted {
                tracing::debug!(kind = fact.kind, key = %fact.key, metric = fact.metric.as_str(), "counted");
            } else {
                tracing::info!(kind = fact.kind, key = %fact.key, event_id = %event.envelope.id, "fact already counted; repeated event ignored");
            }
        }
        Ok(())
    }
}

/// The Postgres advisory lock every consumer batch of every reporting
/// replica takes first (an arbitrary constant, ASCII "lwreport").
const BATCH_LOCK: i64 = 0x6c77_7265_706f_7274;

/// Takes the batch lock in `tx` on Postgres (until `tx` ends): no
/// consumer batch of any replica applies meanwhile.
pub(crate) async fn lock_batches(tx: &mut Tx, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(BATCH_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl EventHandler for Handler {
    /// On Postgres, one consumer batch at a time across the service's three
    /// durables and all its replicas. A batch bumps shared rows (total and
    /// team counters, daily counters, pipeline buckets) in the order its
    /// events come; two batches interleaving take them in opposite orders
    /// and deadlock, which costs a retry of a whole batch each time (two
    /// replicas under load fell thousands of events behind that way).
    /// Batches hold those rows until commit anyway, so serialising them
    /// costs little; replicas still share the reads. SQLite already writes
    /// one transaction at a time.
    async fn begin_batch(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        lock_batches(tx, self.applier.backend).await
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let Some(incoming) =
            Self::read(event).map_err(|err| HandlerError::Permanent(err.into()))?
        else {
            tracing::debug!(subject = %event.subject, "subject ignored by reporting");
            return Ok(());
        };
        self.funnel(tx, event, &incoming).await?;
        let updates =
            sales::updates_of(&incoming).map_err(|err| HandlerError::Permanent(err.into()))?;
        for update in &updates {
            self.applier
                .apply(tx, update)
                .await
                .map_err(|err| HandlerError::Transient(err.into()))?;
        }
        Ok(())
    }
}

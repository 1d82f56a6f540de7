//! Applying inputs: one lead in a transaction of its own with retries on
//! lost races ([`Engine::apply`]), or the writer's batch of leads under
//! one commit ([`Engine::apply_chunk`], see [`super::writer`]).

use leadwheel_wheel_core::{Decision, Input};

use super::{Engine, Outcome, Refusal, SYSTEM};
use crate::effects::Deferred;
use crate::error::WheelError;
use crate::store;

/// Attempts before a contended transition gives up with `ABORTED`.
const MAX_ATTEMPTS: usize = 8;

impl Engine {
    /// Applies `input` to a lead in its own transaction, retrying when
    /// another transition won a race. A refusal changes nothing.
    pub async fn apply(
        &self,
        lead_id: &str,
        input: Input,
        actor: &str,
    ) -> Result<Outcome<Decision>, WheelError> {
        if matches!(input, Input::Retry | Input::EscalationDue) {
            // The 2-second sweep retries every waiting lead, and most of
            // those retries (nobody on shift yet) change nothing: find that
            // out on a read connection instead of taking the write lock.
            let mut conn = self.read().await?;
            if let Outcome::Refused(refusal) =
                self.decide(&mut conn, lead_id, input.clone()).await?
            {
                return Ok(Outcome::Refused(refusal));
            }
        }
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.begin().await?;
            match self
                .transition(&mut tx, lead_id, input.clone(), actor)
                .await
            {
                Ok(Outcome::Transition((decision, pushes))) => {
                    self.commit(tx, pushes).await?;
                    return Ok(Outcome::Transition(decision));
                }
                Ok(Outcome::Refused(refusal)) => return Ok(Outcome::Refused(refusal)),
                Err(WheelError::Conflict(_)) => {
                    drop(tx);
                    tokio::task::yield_now().await;
                }
                Err(err) => return Err(err),
            }
        }
        Err(WheelError::Conflict(lead_id.to_string()))
    }

    /// One transaction over `inputs` (lead, input, actor), the writer's
    /// batch. A refused input writes nothing and is simply reported; at
    /// the first transition that fails (a lost race, a store error) the
    /// whole transaction is dropped and `None` returned, nothing committed
    /// (the writer then redoes the batch with savepoints).
    pub(super) async fn apply_chunk(
        &self,
        inputs: &[(String, Input, String)],
    ) -> Result<Option<Vec<Result<Outcome<Decision>, WheelError>>>, WheelError> {
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut pushes = Vec::new();
        // The batch's ledger lines and events: one INSERT each at the end.
        let mut deferred = Deferred::default();
        for (lead_id, input, actor) in inputs {
            match self.decide(&mut tx, lead_id, input.clone()).await? {
                Outcome::Transition(planned) => {
                    match self.write(&mut *tx, &planned, actor, &mut deferred).await {
                        Ok(more) => pushes.extend(more),
                        Err(_) => return Ok(None),
                    }
                    outcomes.push(Ok(Outcome::Transition(planned.decision)));
                }
                Outcome::Refused(refusal) => outcomes.push(Ok(Outcome::Refused(refusal))),
            }
        }
        if deferred.flush(&self.outbox, &mut tx).await.is_err() {
            return Ok(None);
        }
        self.commit(tx, pushes).await?;
        Ok(Some(outcomes))
    }

    /// As [`Self::apply_chunk`], with a savepoint per input so that one
    /// failing transition is rolled back alone and reported, while the
    /// others commit. Each transition writes its own ledger lines and
    /// events inside its savepoint.
    pub(super) async fn apply_chunk_with_savepoints(
        &self,
        inputs: &[(String, Input, String)],
    ) -> Result<Vec<Result<Outcome<Decision>, WheelError>>, WheelError> {
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut pushes = Vec::new();
        for (lead_id, input, actor) in inputs {
            store::savepoint(&mut tx).await?;
            match self
                .transition(&mut tx, lead_id, input.clone(), actor)
                .await
            {
                Ok(Outcome::Transition((decision, more))) => {
                    pushes.extend(more);
                    outcomes.push(Ok(Outcome::Transition(decision)));
                }
                Ok(Outcome::Refused(refusal)) => outcomes.push(Ok(Outcome::Refused(refusal))),
                Err(err) => {
                    store::rollback_to_savepoint(&mut tx).await?;
                    outcomes.push(Err(err));
                }
            }
            store::release_savepoint(&mut tx).await?;
        }
        self.commit(tx, pushes).await?;
        Ok(outcomes)
    }

    /// Offers every waiting lead of `team_id` (all teams when empty) again,
    /// now that someone may have become eligible. Returns how many moved.
    pub async fn retry_waiting(&self, team_id: &str) -> Result<usize, WheelError> {
        let waiting = {
            let mut conn = self.read().await?;
            store::leads_in_state(&mut conn, team_id, "waiting", 500).await?
        };
        let mut moved = 0;
        for lead in waiting.iter().filter(|l| !l.team_id.is_empty()) {
            match self
                .apply(&lead.details.lead_id, Input::Retry, SYSTEM)
                .await
            {
                Ok(Outcome::Transition(_)) => moved += 1,
                Ok(Outcome::Refused(Refusal::Route(_))) | Err(WheelError::Conflict(_)) => {}
                Ok(Outcome::Refused(refusal)) => return Err(refusal.into()),
                Err(err) => return Err(err),
            }
        }
        Ok(moved)
    }
}

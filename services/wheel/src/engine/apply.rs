//! Applying inputs in transactions of their own: one lead with retries on
//! lost races ([`Engine::apply`]), or a chunk of leads under one commit
//! ([`Engine::apply_many`], the timer loop's expiries).

use leadwheel_wheel_core::{Decision, Input};

use super::{Engine, Outcome, Refusal, SYSTEM};
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

    /// Applies each `(lead, input)` in one transaction and returns each
    /// one's outcome in order. Under load one commit serves many
    /// transitions (the timer loop expires offers this way). A refused
    /// input writes nothing, so it is simply reported; a transition that
    /// fails while writing (a lost race) voids the shared transaction, and
    /// the chunk is then redone with a savepoint per transition so only
    /// that one is rolled back. The timer finds a still-open offer again on
    /// its next pass.
    pub async fn apply_many(
        &self,
        inputs: Vec<(String, Input)>,
        actor: &str,
    ) -> Result<Vec<Result<Outcome<Decision>, WheelError>>, WheelError> {
        match self.apply_chunk(&inputs, actor, false).await? {
            Some(outcomes) => Ok(outcomes),
            None => Ok(self
                .apply_chunk(&inputs, actor, true)
                .await?
                .expect("with savepoints a chunk always completes")),
        }
    }

    /// One transaction over `inputs`. Without savepoints it gives up
    /// (`None`, nothing committed) at the first transition that fails (a
    /// refusal is not a failure); with them, that transition alone is
    /// rolled back.
    async fn apply_chunk(
        &self,
        inputs: &[(String, Input)],
        actor: &str,
        savepoints: bool,
    ) -> Result<Option<Vec<Result<Outcome<Decision>, WheelError>>>, WheelError> {
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut pushes = Vec::new();
        for (lead_id, input) in inputs {
            if savepoints {
                store::savepoint(&mut tx).await?;
            }
            let outcome = match self.decide(&mut tx, lead_id, input.clone()).await {
                Ok(Outcome::Transition(planned)) => {
                    match self.write(&mut tx, &planned, actor).await {
                        Ok(more) => {
                            pushes.extend(more);
                            Ok(Outcome::Transition(planned.decision))
                        }
                        Err(err) => Err(err),
                    }
                }
                Ok(Outcome::Refused(refusal)) => Ok(Outcome::Refused(refusal)),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(outcome) => outcomes.push(Ok(outcome)),
                Err(err) if savepoints => {
                    store::rollback_to_savepoint(&mut tx).await?;
                    outcomes.push(Err(err));
                }
                // Dropping the transaction rolls the whole chunk back.
                Err(_) => return Ok(None),
            }
            if savepoints {
                store::release_savepoint(&mut tx).await?;
            }
        }
        self.commit(tx, pushes).await?;
        Ok(Some(outcomes))
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

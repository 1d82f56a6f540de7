//! The service side of routing: loads a lead, its team and the team's
//! eligibility, asks the pure core for a decision, and carries it out in
//! one transaction ([`crate::effects`]). Whoever loses a race sees zero
//! rows, rolls back and retries against the new state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::store::{Tx, now_ms};
use leadwheel_plumbing::{Bus, Store, telemetry};
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{Decision, Input, LeadRouting, NewLead, Phase, RouteError, start, step};
use sqlx::AnyConnection;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::effects::write_decision;
use crate::error::WheelError;
use crate::live::{self, Push};
use crate::store::{self, LeadDetails, LeadRow, LedgerEntry, Roster, TeamEligibility, TeamRow};

/// Attempts before a contended transition gives up with `ABORTED`.
const MAX_ATTEMPTS: usize = 8;

/// Routes leads: shared by the gRPC API, the event consumer and the timers.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub outbox: Outbox,
    pub bus: Bus,
    /// Wakes the timer loop when a new deadline may be the earliest.
    pub timers: Arc<Notify>,
    /// Team rosters as last read, by roster version.
    pub rosters: RosterCache,
}

/// Each team's members as last read from the store, with the roster
/// version they were read at. Reading a team's row (which every decision
/// does anyway) tells whether the copy is current, so a decision reads the
/// members only after someone changed them, here or on another replica.
/// Loads of capped reps change with every offer and are always read fresh.
#[derive(Clone, Default)]
pub struct RosterCache {
    teams: Arc<Mutex<HashMap<String, CachedRoster>>>,
}

/// A roster and the version it was read at.
type CachedRoster = (i64, Arc<Roster>);

impl RosterCache {
    fn get(&self, team_id: &str, version: i64) -> Option<Arc<Roster>> {
        let teams = self.teams.lock().expect("roster cache");
        teams
            .get(team_id)
            .filter(|(cached, _)| *cached == version)
            .map(|(_, reps)| reps.clone())
    }

    fn put(&self, team_id: &str, version: i64, reps: Arc<Roster>) {
        let mut teams = self.teams.lock().expect("roster cache");
        teams.insert(team_id.to_string(), (version, reps));
    }
}

/// Who asked for a transition, for the ledger and events.
pub const SYSTEM: &str = "wheel";

impl Engine {
    /// Loads a team with what the core needs to judge eligibility.
    pub async fn team_with_eligibility(
        &self,
        conn: &mut AnyConnection,
        team_id: &str,
        country: &str,
    ) -> Result<Option<(TeamRow, TeamEligibility)>, WheelError> {
        let Some(mut team) = store::load_team_row(conn, team_id).await? else {
            return Ok(None);
        };
        let roster = match self.rosters.get(team_id, team.roster_version) {
            Some(roster) => roster,
            None => {
                let roster = Arc::new(Roster::new(store::team_roster(conn, team_id).await?));
                self.rosters
                    .put(team_id, team.roster_version, roster.clone());
                roster
            }
        };
        for (rep_id, rank) in &roster.ring {
            team.ring.push(rep_id.clone());
            team.ranks.insert(rep_id.clone(), *rank);
        }
        let loads = store::count_load(conn, roster.capped()).await?;
        Ok(Some((team, TeamEligibility::new(roster, loads, country))))
    }

    /// Work to do once the transaction that produced `pushes` committed.
    pub async fn after_commit(&self, pushes: Vec<Push>) {
        self.outbox.notify();
        self.timers.notify_one();
        live::send(&self.bus, pushes).await;
    }

    /// What an inbox handler does once its event committed (the inbox has
    /// woken the outbox relay): wake the timer loop, since a new deadline
    /// may be the earliest, and send the live pushes without blocking the
    /// consumer.
    pub fn after_event_commit(&self, pushes: Vec<Push>) {
        self.timers.notify_one();
        if !pushes.is_empty() {
            let bus = self.bus.clone();
            tokio::spawn(async move { live::send(&bus, pushes).await });
        }
    }

    /// Routes a newly created lead inside the caller's transaction.
    /// Idempotent: a lead already known is left alone.
    pub async fn route_new(
        &self,
        tx: &mut Tx,
        created: &events::LeadCreated,
        traceparent: Option<String>,
    ) -> Result<Vec<Push>, WheelError> {
        let now = now_ms();
        let conn: &mut AnyConnection = tx;
        let team_id = match (!created.team_hint.is_empty()).then(|| created.team_hint.clone()) {
            Some(hint) => Some(hint),
            None => store::default_team_id(conn).await?,
        };
        let team = match &team_id {
            Some(team_id) => {
                self.team_with_eligibility(conn, team_id, &created.country)
                    .await?
            }
            None => None,
        };
        let details = LeadDetails {
            lead_id: created.lead_id.clone(),
            name: created.name.clone(),
            company: created.company.clone(),
            email: created.email.clone(),
            domain: created.domain.clone(),
            tier: created.tier.clone(),
            score: created.score as i64,
            source: created.source.clone(),
            lead_created_at_ms: created.created_at_ms,
        };
        let team_id = team
            .as_ref()
            .map(|(t, _)| t.team_id.clone())
            .unwrap_or_default();
        let waiting = LeadRow {
            team_id: team_id.clone(),
            state: "waiting".into(),
            owner_rep_id: None,
            routing: LeadRouting {
                lead_id: created.lead_id.clone(),
                team_id,
                phase: Phase::Waiting { since: now },
                lap_order: Vec::new(),
                position: 0,
                offered: Vec::new(),
                offers_made: 0,
                first_offer_at: None,
                tier: created.tier.clone(),
                lap: 1,
            },
            version: 0,
            details: details.clone(),
            traceparent,
            pooled_at_ms: None,
            country: created.country.clone(),
        };
        if !store::insert_lead(conn, &details, &waiting, now).await? {
            tracing::debug!(lead_id = %created.lead_id, "lead already routed");
            return Ok(Vec::new());
        }
        let detail = format!(
            "tier={:?} score={} source={:?}",
            created.tier, created.score, created.source
        );
        store::insert_ledger(
            conn,
            entry(&created.lead_id, "received", None, None, detail, now),
        )
        .await?;
        let Some((team, eligibility)) = team else {
            store::insert_ledger(
                conn,
                entry(
                    &created.lead_id,
                    "waiting",
                    None,
                    None,
                    "no team exists yet".into(),
                    now,
                ),
            )
            .await?;
            tracing::warn!(lead_id = %created.lead_id, "no team to route to; the lead waits for one");
            return Ok(Vec::new());
        };
        // One face to the customer: an active owner of the account gets it.
        let owner_hint = match created.account_owner_hint.as_str() {
            "" => None,
            owner => store::load_rep(conn, owner)
                .await?
                .filter(|rep| rep.team_id.is_some())
                .map(|rep| rep.rep_id),
        };
        let new = NewLead {
            lead_id: created.lead_id.clone(),
            tier: created.tier.clone(),
            owner_hint,
        };
        let decision = start(&team.config(), &team.rotation, &new, now, &eligibility);
        write_decision(self, conn, &team, &waiting, decision, now, SYSTEM).await
    }

    /// Routes every lead waiting for `team_id` (and, for the default team,
    /// those that arrived before any team existed), inside `tx`.
    pub async fn route_waiting(&self, tx: &mut Tx, team_id: &str) -> Result<Vec<Push>, WheelError> {
        let conn: &mut AnyConnection = tx;
        let mut waiting = store::leads_in_state(conn, team_id, "waiting", 10_000).await?;
        if store::default_team_id(conn).await?.as_deref() == Some(team_id) {
            let orphans = store::leads_in_state(conn, "", "waiting", 10_000).await?;
            waiting.extend(orphans.into_iter().filter(|l| l.team_id.is_empty()));
        }
        let mut pushes = Vec::new();
        let now = now_ms();
        for mut lead in waiting {
            let Some((team, eligibility)) = self
                .team_with_eligibility(conn, team_id, &lead.country)
                .await?
            else {
                break;
            };
            lead.team_id = team.team_id.clone();
            lead.routing.team_id = team.team_id.clone();
            match step(
                &team.config(),
                &team.rotation,
                &lead.routing,
                Input::Retry,
                now,
                &eligibility,
            ) {
                Ok(decision) => pushes
                    .extend(write_decision(self, conn, &team, &lead, decision, now, SYSTEM).await?),
                Err(RouteError::WrongPhase { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(pushes)
    }

    /// Applies `input` to a lead in its own transaction, retrying when
    /// another transition won a race. Route errors change nothing.
    pub async fn apply(
        &self,
        lead_id: &str,
        input: Input,
        actor: &str,
    ) -> Result<Decision, WheelError> {
        if matches!(input, Input::Retry | Input::EscalationDue) {
            // The 2-second sweep retries every waiting lead, and most of
            // those retries (nobody on shift yet) change nothing: find that
            // out on a read connection instead of taking the write lock.
            self.check_on_read_connection(lead_id, &input).await?;
        }
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.store.begin().await?;
            match self
                .transition(&mut tx, lead_id, input.clone(), actor)
                .await
            {
                Ok((decision, pushes)) => {
                    tx.commit().await?;
                    self.after_commit(pushes).await;
                    return Ok(decision);
                }
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
    /// transitions (the timer loop expires offers this way). A transition
    /// the core refuses writes nothing, so it is simply reported; one that
    /// fails after writing (a lost race) voids the shared transaction, and
    /// the chunk is then redone with a savepoint per transition so only
    /// that one is rolled back. The timer finds a still-open offer again on
    /// its next pass.
    pub async fn apply_many(
        &self,
        inputs: Vec<(String, Input)>,
        actor: &str,
    ) -> Result<Vec<Result<Decision, WheelError>>, WheelError> {
        match self.apply_chunk(&inputs, actor, false).await? {
            Some(outcomes) => Ok(outcomes),
            None => Ok(self
                .apply_chunk(&inputs, actor, true)
                .await?
                .expect("with savepoints a chunk always completes")),
        }
    }

    /// One transaction over `inputs`. Without savepoints it gives up
    /// (`None`, nothing committed) at the first transition that fails after
    /// writing; with them, that transition alone is rolled back.
    async fn apply_chunk(
        &self,
        inputs: &[(String, Input)],
        actor: &str,
        savepoints: bool,
    ) -> Result<Option<Vec<Result<Decision, WheelError>>>, WheelError> {
        let mut tx = self.store.begin().await?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut pushes = Vec::new();
        for (lead_id, input) in inputs {
            if savepoints {
                sqlx::query("SAVEPOINT lw_transition")
                    .execute(&mut *tx)
                    .await?;
            }
            match self
                .transition(&mut tx, lead_id, input.clone(), actor)
                .await
            {
                Ok((decision, more)) => {
                    pushes.extend(more);
                    outcomes.push(Ok(decision));
                }
                Err(err) if refused_before_writing(&err) => outcomes.push(Err(err)),
                Err(err) if savepoints => {
                    sqlx::query("ROLLBACK TO SAVEPOINT lw_transition")
                        .execute(&mut *tx)
                        .await?;
                    outcomes.push(Err(err));
                }
                // Dropping the transaction rolls the whole chunk back.
                Err(_) => return Ok(None),
            }
            if savepoints {
                sqlx::query("RELEASE SAVEPOINT lw_transition")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.after_commit(pushes).await;
        Ok(Some(outcomes))
    }

    /// One transition of `lead_id` inside `tx`: load, decide, write. The
    /// caller commits, then sends the returned pushes.
    pub(crate) async fn transition(
        &self,
        tx: &mut Tx,
        lead_id: &str,
        input: Input,
        actor: &str,
    ) -> Result<(Decision, Vec<Push>), WheelError> {
        let conn: &mut AnyConnection = tx;
        let lead = store::load_lead(conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        let (team, eligibility) = self
            .team_with_eligibility(conn, &lead.team_id, &lead.country)
            .await?
            .ok_or_else(|| {
                WheelError::FailedPrecondition(format!("lead {lead_id} has no team yet"))
            })?;
        let now = now_ms();
        let decision = step(
            &team.config(),
            &team.rotation,
            &lead.routing,
            input,
            now,
            &eligibility,
        )?;
        // Every transition of a lead joins the lead's own trace (begun at
        // signup), so one trace shows signup, offers, expiries and claim.
        let span = tracing::info_span!("transition", lead_id, actor);
        telemetry::set_parent(&span, lead.traceparent.as_deref());
        let pushes = write_decision(self, conn, &team, &lead, decision.clone(), now, actor)
            .instrument(span)
            .await?;
        Ok((decision, pushes))
    }

    /// Runs the core on a pooled read connection; an error means the input
    /// would be refused, so there is nothing to write.
    async fn check_on_read_connection(
        &self,
        lead_id: &str,
        input: &Input,
    ) -> Result<(), WheelError> {
        let mut conn = self.store.pool().acquire().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        let (team, eligibility) = self
            .team_with_eligibility(&mut conn, &lead.team_id, &lead.country)
            .await?
            .ok_or_else(|| {
                WheelError::FailedPrecondition(format!("lead {lead_id} has no team yet"))
            })?;
        step(
            &team.config(),
            &team.rotation,
            &lead.routing,
            input.clone(),
            now_ms(),
            &eligibility,
        )?;
        Ok(())
    }

    /// Offers every waiting lead of `team_id` (all teams when empty) again,
    /// now that someone may have become eligible. Returns how many moved.
    pub async fn retry_waiting(&self, team_id: &str) -> Result<usize, WheelError> {
        let waiting = {
            let mut conn = self.store.pool().acquire().await?;
            store::leads_in_state(&mut conn, team_id, "waiting", 500).await?
        };
        let mut moved = 0;
        for lead in waiting.iter().filter(|l| !l.team_id.is_empty()) {
            match self
                .apply(&lead.details.lead_id, Input::Retry, SYSTEM)
                .await
            {
                Ok(_) => moved += 1,
                Err(WheelError::Route(_)) | Err(WheelError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(moved)
    }
}

/// Errors a transition returns before it writes anything: the core
/// refused the input, or the lead or its team is not there.
pub(crate) fn refused_before_writing(err: &WheelError) -> bool {
    matches!(
        err,
        WheelError::Route(_) | WheelError::NotFound(_) | WheelError::FailedPrecondition(_)
    )
}

/// A ledger entry.
pub fn entry<'a>(
    lead_id: &'a str,
    kind: &'a str,
    rep_id: Option<&'a str>,
    offer_no: Option<u32>,
    detail: String,
    at_ms: i64,
) -> LedgerEntry<'a> {
    LedgerEntry {
        lead_id,
        kind,
        rep_id,
        offer_no: offer_no.map(i64::from),
        detail,
        at_ms,
    }
}

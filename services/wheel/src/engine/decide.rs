//! The two steps of a transition: [`Engine::decide`] reads the lead and its
//! team and asks the core, which either refuses the input (an
//! [`Outcome::Refused`] carrying the [`Refusal`], nothing written) or
//! plans a transition; [`Engine::write`] carries a [`Planned`] transition
//! out in the caller's transaction.

use std::sync::Arc;

use leadwheel_plumbing::telemetry;
use leadwheel_wheel_core::{Decision, Input, RouteError, step};
use sqlx::AnyConnection;
use tracing::Instrument;

use super::Engine;
use crate::effects::{Deferred, Sink, write_decision};
use crate::error::WheelError;
use crate::live::Push;
use crate::store::{self, LeadRow, Roster, TeamEligibility, TeamRow};

/// What became of an input: a transition, or a refusal that wrote nothing.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The input moved the lead.
    Transition(T),
    /// The input does not apply; nothing was written.
    Refused(Refusal),
}

impl<T> Outcome<T> {
    /// The transition, or the refusal as the error callers report.
    pub fn into_result(self) -> Result<T, WheelError> {
        match self {
            Self::Transition(done) => Ok(done),
            Self::Refused(refusal) => Err(refusal.into()),
        }
    }
}

/// Why an input was refused before anything was written.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The core refused it (wrong rep, expired, already assigned...).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The wheel does not route this lead.
    #[error("lead {0} not found")]
    NoLead(String),
    /// The lead waits for a team to exist.
    #[error("lead {0} has no team yet")]
    NoTeam(String),
}

impl From<Refusal> for WheelError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Route(route) => WheelError::Route(route),
            Refusal::NoLead(_) => WheelError::NotFound(refusal.to_string()),
            Refusal::NoTeam(_) => WheelError::FailedPrecondition(refusal.to_string()),
        }
    }
}

/// A transition the core decided on, with what it was decided from (the
/// lead at its version, the team at its rotation version), to be written.
#[derive(Debug)]
pub struct Planned {
    pub team: TeamRow,
    pub lead: LeadRow,
    pub decision: Decision,
    pub now: i64,
}

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
        let roster = self.roster(conn, team_id, team.roster_version).await?;
        roster.fill(&mut team);
        let loads = store::count_load(conn, roster.capped()).await?;
        Ok(Some((team, TeamEligibility::new(roster, loads, country))))
    }

    /// `team_id`'s members at `roster_version`: kept from an earlier read
    /// while the version holds, read again after a change.
    pub(super) async fn roster(
        &self,
        conn: &mut AnyConnection,
        team_id: &str,
        roster_version: i64,
    ) -> Result<Arc<Roster>, WheelError> {
        if let Some(roster) = self.rosters.get(team_id, roster_version) {
            return Ok(roster);
        }
        let roster = Arc::new(Roster::new(store::team_roster(conn, team_id).await?));
        self.rosters.put(team_id, roster_version, roster.clone());
        Ok(roster)
    }

    /// Step one: what `input` would do to `lead_id` now, read on `conn`.
    pub async fn decide(
        &self,
        conn: &mut AnyConnection,
        lead_id: &str,
        input: Input,
    ) -> Result<Outcome<Planned>, WheelError> {
        let Some(lead) = store::load_lead(conn, lead_id).await? else {
            return Ok(Outcome::Refused(Refusal::NoLead(lead_id.to_string())));
        };
        let Some((team, eligibility)) = self
            .team_with_eligibility(conn, &lead.team_id, &lead.country)
            .await?
        else {
            return Ok(Outcome::Refused(Refusal::NoTeam(lead_id.to_string())));
        };
        Ok(self.plan(lead, team, &eligibility, input))
    }

    /// What the core decides for `input` on `lead` in `team` now.
    pub(super) fn plan(
        &self,
        lead: LeadRow,
        team: TeamRow,
        eligibility: &TeamEligibility,
        input: Input,
    ) -> Outcome<Planned> {
        let now = self.now();
        let config = lead.config_in(&team);
        match step(
            &config,
            &team.rotation,
            &lead.routing,
            input,
            now,
            eligibility,
        ) {
            Ok(decision) => Outcome::Transition(Planned {
                team,
                lead,
                decision,
                now,
            }),
            Err(route) => Outcome::Refused(route.into()),
        }
    }

    /// Step two: writes `planned` in the caller's transaction, its ledger
    /// lines and events gathered in `deferred` (flushed by the caller
    /// before commit). A lost race fails with `Conflict`, after which the
    /// transaction must be dropped.
    pub async fn write<S: Sink>(
        &self,
        conn: &mut S,
        planned: &Planned,
        actor: &str,
        deferred: &mut Deferred,
    ) -> Result<Vec<Push>, WheelError> {
        let Planned {
            team,
            lead,
            decision,
            now,
        } = planned;
        // Every transition of a lead joins the lead's own trace (begun at
        // signup), so one trace shows signup, offers, expiries and claim.
        let lead_id = lead.details.lead_id.as_str();
        let span = tracing::info_span!("transition", lead_id, actor);
        telemetry::set_parent(&span, lead.traceparent.as_deref());
        write_decision(deferred, conn, team, lead, decision.clone(), *now, actor)
            .instrument(span)
            .await
    }

    /// Both steps of one transition of `lead_id` inside `conn` (the
    /// caller's transaction). The caller commits, then sends the pushes.
    pub async fn transition(
        &self,
        conn: &mut AnyConnection,
        lead_id: &str,
        input: Input,
        actor: &str,
    ) -> Result<Outcome<(Decision, Vec<Push>)>, WheelError> {
        let planned = match self.decide(conn, lead_id, input).await? {
            Outcome::Transition(planned) => planned,
            Outcome::Refused(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        let mut deferred = Deferred::default();
        let pushes = self.write(conn, &planned, actor, &mut deferred).await?;
        deferred.flush(&self.outbox, conn).await?;
        Ok(Outcome::Transition((planned.decision, pushes)))
    }
}

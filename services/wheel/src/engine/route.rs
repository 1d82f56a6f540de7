//! Routing leads that have no transition yet: a new lead from intake
//! ([`Engine::route_new`]) and the leads waiting for a team that now has
//! members ([`Engine::route_waiting`]), inside the caller's transaction.

use leadwheel_plumbing::Tx;
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{
    Input, LeadAttributes, LeadRouting, NewLead, Phase, RouteError, TeamChoice, choose_team, start,
    step,
};
use sqlx::AnyConnection;

use super::staged::Staged;
use super::{Engine, SYSTEM};
use crate::effects::{Deferred, Sink, write_decision};
use crate::erasure;
use crate::error::WheelError;
use crate::live::Push;
use crate::store::{self, LeadDetails, LeadRow, TeamEligibility, TeamRow};
use leadwheel_plumbing::outbox::Written;

impl Engine {
    /// Routes a newly created lead inside the caller's transaction.
    /// Idempotent: a lead already known is left alone.
    pub async fn route_new(
        &self,
        tx: &mut Tx,
        created: &events::LeadCreated,
        traceparent: Option<String>,
    ) -> Result<Vec<Push>, WheelError> {
        let now = self.now();
        let conn: &mut AnyConnection = tx;
        // Intake's team hint wins, then the first matching rule, then the
        // rules' default team, then the oldest team (see `choose_team`).
        let rules = store::current_rules(conn).await?.rules;
        let fallback = store::default_team_id(conn).await?;
        let choice = choose_team(&rules, &lead_attributes(created), fallback.as_deref());
        let team = match choice.team_id() {
            Some(team_id) => {
                self.team_with_eligibility(conn, team_id, &created.country)
                    .await?
            }
            None => None,
        };
        let erased = store::is_erased(conn, &created.lead_id).await?;
        let team_id = team.as_ref().map(|(t, _)| t.team_id.clone());
        let arrival = Arrival::new(created, choice, team_id, erased, traceparent, now);
        if !store::insert_lead(conn, &arrival.details, &arrival.waiting, now).await? {
            tracing::debug!(lead_id = %created.lead_id, "lead already routed");
            return Ok(Vec::new());
        }
        let owner_hint = account_owner(conn, created).await?;
        let mut deferred = Deferred::default();
        let pushes = arrival
            .start(&mut deferred, conn, team, created, owner_hint, now)
            .await?;
        deferred.flush(&self.outbox, conn).await?;
        Ok(pushes)
    }

    /// Routes a batch of new leads inside the caller's transaction (the
    /// inbox's; on Postgres only with the writer's lease, which it checks
    /// first), staged in memory like the writer's batch:
    /// the rules, the default team and each team read once, the leads
    /// inserted in a few statements, their first offers decided in order
    /// on the rotation as the batch's earlier leads left it and written
    /// together. Returns each lead's pushes, in order (a lead already
    /// known gets none and is left alone), and the events written, for
    /// the relay once the caller commits.
    pub async fn route_new_all(
        &self,
        tx: &mut Tx,
        leads: &[(events::LeadCreated, Option<String>)],
    ) -> Result<(Vec<Vec<Push>>, Written), WheelError> {
        let now = self.now();
        let conn: &mut AnyConnection = tx;
        self.fence(conn).await?;
        let rules = store::current_rules(conn).await?.rules;
        let fallback = store::default_team_id(conn).await?;
        let ids: Vec<&str> = leads.iter().map(|(c, _)| c.lead_id.as_str()).collect();
        let erased = store::batch::erased_among(conn, &ids).await?;
        let mut staged = Staged::empty(conn);
        let mut arrivals = Vec::with_capacity(leads.len());
        for (created, traceparent) in leads {
            let choice = choose_team(&rules, &lead_attributes(created), fallback.as_deref());
            let team_id = match choice.team_id() {
                Some(team_id) if staged.has_team(self, team_id).await? => Some(team_id.to_string()),
                _ => None,
            };
            let erased = erased.contains(&created.lead_id);
            arrivals.push(Arrival::new(
                created,
                choice,
                team_id,
                erased,
                traceparent.clone(),
                now,
            ));
        }
        let rows: Vec<(&LeadDetails, &LeadRow)> =
            arrivals.iter().map(|a| (&a.details, &a.waiting)).collect();
        let inserted = store::batch::insert_leads(staged.conn, &rows, now).await?;
        let mut deferred = Deferred::default();
        let mut pushes = Vec::with_capacity(leads.len());
        let mut routed = std::collections::HashSet::new();
        for (arrival, (created, _)) in arrivals.into_iter().zip(leads) {
            // A lead already known, or the second event of one in this batch.
            if !inserted.contains(&created.lead_id) || !routed.insert(created.lead_id.as_str()) {
                pushes.push(Vec::new());
                continue;
            }
            staged.add_new_lead(arrival.waiting.clone());
            // The team as the batch's earlier leads left its rotation and loads.
            let team = match &arrival.team_id {
                Some(team_id) => staged.team(self, team_id, &created.country).await?,
                None => None,
            };
            let owner_hint = account_owner(staged.conn, created).await?;
            pushes.push(
                arrival
                    .start(&mut deferred, &mut staged, team, created, owner_hint, now)
                    .await?,
            );
        }
        staged.flush().await?;
        let written = deferred.flush_written(&self.outbox, tx).await?;
        Ok((pushes, written))
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
        let mut deferred = Deferred::default();
        let now = self.now();
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
                &lead.config_in(&team),
                &team.rotation,
                &lead.routing,
                Input::Retry,
                now,
                &eligibility,
            ) {
                Ok(decision) => pushes.extend(
                    write_decision(&mut deferred, conn, &team, &lead, decision, now, SYSTEM)
                        .await?,
                ),
                Err(RouteError::WrongPhase { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        deferred.flush(&self.outbox, conn).await?;
        Ok(pushes)
    }
}

/// What routing across teams may look at in a new lead.
pub fn lead_attributes(created: &events::LeadCreated) -> LeadAttributes {
    LeadAttributes {
        tier: created.tier.clone(),
        score: created.score,
        country: created.country.clone(),
        source: created.source.clone(),
        company_size: created.company_size,
        product: created.product.clone(),
        plan: created.plan.clone(),
        email: created.email.clone(),
        attributes: created
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        team_hint: created.team_hint.clone().filter(|t| !t.is_empty()),
    }
}

/// The account's owner named by intake, when they are a rep on a team (one
/// face to the customer: an active owner of the account gets the lead).
async fn account_owner(
    conn: &mut AnyConnection,
    created: &events::LeadCreated,
) -> Result<Option<String>, WheelError> {
    Ok(match created.account_owner_hint.as_str() {
        "" => None,
        owner => store::load_rep(conn, owner)
            .await?
            .filter(|rep| rep.team_id.is_some())
            .map(|rep| rep.rep_id),
    })
}

/// A new lead as it is first stored (waiting, in the team its rules
/// chose), before its first decision.
struct Arrival {
    details: LeadDetails,
    waiting: LeadRow,
    choice: TeamChoice,
    /// The chosen team, when it exists.
    team_id: Option<String>,
}

impl Arrival {
    fn new(
        created: &events::LeadCreated,
        choice: TeamChoice,
        team_id: Option<String>,
        erased: bool,
        traceparent: Option<String>,
        now: i64,
    ) -> Self {
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
        // The person's erasure may have been applied before their lead
        // arrived (another consumer): keep nothing of the person then.
        let (details, choice) = if erased {
            erasure::for_erased_lead(details, &choice)
        } else {
            (details, choice)
        };
        let waiting = LeadRow {
            team_id: team_id.clone().unwrap_or_default(),
            state: "waiting".into(),
            owner_rep_id: None,
            routing: LeadRouting {
                lead_id: created.lead_id.clone(),
                team_id: team_id.clone().unwrap_or_default(),
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
            // A lead that waits for a team to exist is routed to the oldest
            // team once one does; no choice of rules is kept for it.
            routed_by: team_id.is_some().then(|| choice.clone()),
        };
        Self {
            details,
            waiting,
            choice,
            team_id,
        }
    }

    /// The stored lead's ledger lines and first decision (an offer, a wait,
    /// a direct assignment to the account's owner), written to `sink`.
    async fn start<S: Sink>(
        self,
        deferred: &mut Deferred,
        sink: &mut S,
        team: Option<(TeamRow, TeamEligibility)>,
        created: &events::LeadCreated,
        owner_hint: Option<String>,
        now: i64,
    ) -> Result<Vec<Push>, WheelError> {
        let lead_id = created.lead_id.as_str();
        let detail = format!(
            "tier={:?} score={} source={:?}",
            created.tier, created.score, created.source
        );
        deferred.ledger(lead_id, now, "received", detail);
        let Some((team, eligibility)) = team else {
            deferred.ledger(lead_id, now, "waiting", "no team exists yet".into());
            tracing::warn!(lead_id, "no team to route to; the lead waits for one");
            return Ok(Vec::new());
        };
        deferred.ledger(lead_id, now, "routed", self.choice.to_string());
        let new = NewLead {
            lead_id: lead_id.to_string(),
            tier: created.tier.clone(),
            owner_hint,
        };
        let decision = start(
            &self.waiting.config_in(&team),
            &team.rotation,
            &new,
            now,
            &eligibility,
        );
        write_decision(deferred, sink, &team, &self.waiting, decision, now, SYSTEM).await
    }
}

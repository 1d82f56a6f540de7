//! Routing leads that have no transition yet: a new lead from intake
//! ([`Engine::route_new`]) and the leads waiting for a team that now has
//! members ([`Engine::route_waiting`]), inside the caller's transaction.

use leadwheel_plumbing::Tx;
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{
    Input, LeadAttributes, LeadRouting, NewLead, Phase, RouteError, choose_team, start, step,
};
use sqlx::AnyConnection;

use super::{Engine, SYSTEM, entry};
use crate::effects::{Deferred, write_decision};
use crate::erasure;
use crate::error::WheelError;
use crate::live::Push;
use crate::store::{self, LeadDetails, LeadRow};

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
        let (details, choice) = if store::is_erased(conn, &created.lead_id).await? {
            erasure::for_erased_lead(details, &choice)
        } else {
            (details, choice)
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
            // A lead that waits for a team to exist is routed to the oldest
            // team once one does; no choice of rules is kept for it.
            routed_by: team.is_some().then(|| choice.clone()),
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
        store::insert_ledger(
            conn,
            entry(
                &created.lead_id,
                "routed",
                None,
                None,
                choice.to_string(),
                now,
            ),
        )
        .await?;
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
        let decision = start(
            &waiting.config_in(&team),
            &team.rotation,
            &new,
            now,
            &eligibility,
        );
        let mut deferred = Deferred::default();
        let pushes =
            write_decision(&mut deferred, conn, &team, &waiting, decision, now, SYSTEM).await?;
        deferred.flush(&self.outbox, conn).await?;
        Ok(pushes)
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

//! Routing leads that have no transition yet: a new lead from intake
//! ([`Engine::route_new`]) and the leads waiting for a team that now has
//! members ([`Engine::route_waiting`]), inside the caller's transaction.

use leadwheel_plumbing::Tx;
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{Input, LeadRouting, NewLead, Phase, RouteError, start, step};
use sqlx::AnyConnection;

use super::{Engine, SYSTEM, entry};
use crate::effects::write_decision;
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
        write_decision(&self.outbox, conn, &team, &waiting, decision, now, SYSTEM).await
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
                &team.config(),
                &team.rotation,
                &lead.routing,
                Input::Retry,
                now,
                &eligibility,
            ) {
                Ok(decision) => pushes.extend(
                    write_decision(&self.outbox, conn, &team, &lead, decision, now, SYSTEM).await?,
                ),
                Err(RouteError::WrongPhase { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(pushes)
    }
}

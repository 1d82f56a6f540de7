//! Explaining the wheel to people: why a rep did not get a lead, and the
//! per-rep saturation view managers use. These answer with the reply
//! messages themselves: they are reports assembled for people, with no
//! row of their own to convert.

use std::collections::BTreeMap;

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::wheel::v1::*;

use super::Wheel;
use crate::convert;
use crate::error::WheelError;
use crate::store::{self, LedgerRow};
use crate::validate;
use crate::why_not;

impl Wheel {
    /// Why `rep_id` did not get `lead_id`. A rep may ask about themselves for
    /// leads of their own team; managers and admins about anyone (and hear of
    /// the rep by id, not as "you": see [`why_not::summary`]).
    pub async fn why_not(
        &self,
        caller: &Caller,
        request: WhyNotRequest,
    ) -> Result<WhyNotResponse, WheelError> {
        let lead_id = validate::id("lead_id", &request.lead_id)?;
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        let mut conn = self.read().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        let rep = store::load_rep(&mut conn, rep_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("rep {rep_id} not found")))?;
        match caller.role {
            Role::Admin | Role::Manager => {}
            Role::Rep
                if caller.subject == rep_id
                    && rep.team_id.as_deref() == Some(lead.team_id.as_str()) => {}
            Role::Rep if caller.subject == rep_id => {
                return Err(WheelError::PermissionDenied(format!(
                    "lead {lead_id} is not routed by your team"
                )));
            }
            _ => {
                return Err(WheelError::PermissionDenied(format!(
                    "{} may not ask about rep {rep_id}",
                    caller.subject
                )));
            }
        }
        let ledger = store::ledger_of_lead(&mut conn, lead_id).await?;
        let mine: Vec<&LedgerRow> = ledger
            .iter()
            .filter(|e| e.rep_id.as_deref() == Some(rep_id))
            .collect();
        let position = lead
            .routing
            .lap_order
            .iter()
            .position(|r| r == rep_id)
            .map(|p| p + 1)
            .unwrap_or(0);
        let owner = lead.owner_rep_id.clone().unwrap_or_default();
        let last_turn = mine.iter().rev().copied().find(|e| {
            matches!(
                e.kind.as_str(),
                "passed" | "expired" | "skipped" | "withdrawn"
            )
        });
        let story = why_not::Story {
            rep_id,
            lead_team: &lead.team_id,
            rep_on_team: rep.team_id.as_deref() == Some(lead.team_id.as_str()),
            owner: &owner,
            last_turn,
            phase: &lead.routing.phase,
            position,
        };
        let summary = why_not::summary(&story, &caller.subject);
        Ok(WhyNotResponse {
            lead_id: lead_id.to_string(),
            rep_id: rep_id.to_string(),
            summary,
            entries: mine.into_iter().map(convert::ledger_entry).collect(),
            position_in_lap: position as i32,
            owner_rep_id: owner,
        })
    }

    /// Per-rep figures for a team (or all teams).
    pub async fn stats(
        &self,
        caller: &Caller,
        request: WheelStatsRequest,
    ) -> Result<WheelStatsResponse, WheelError> {
        let mut team_id = request.team_id.clone();
        if !team_id.is_empty() {
            validate::id("team_id", &team_id)?;
        }
        if request.since_ms < 0 {
            return Err(WheelError::invalid("since_ms", "must not be negative"));
        }
        match (caller.role, caller.team.as_deref()) {
            (Role::Admin, _) | (Role::Manager, None) => {}
            (Role::Manager, Some(own)) if team_id.is_empty() || team_id == own => {
                team_id = own.to_string()
            }
            (Role::Manager, Some(own)) => {
                return Err(WheelError::PermissionDenied(format!(
                    "manager of {own} may not read team {team_id}"
                )));
            }
            _ => {
                return Err(WheelError::PermissionDenied(
                    "only managers and admins read the wheel's stats".into(),
                ));
            }
        }
        let mut conn = self.read().await?;
        if !team_id.is_empty() && store::load_team(&mut conn, &team_id).await?.is_none() {
            return Err(WheelError::NotFound(format!("team {team_id} not found")));
        }
        let reps =
            store::list_reps(&mut conn, (!team_id.is_empty()).then_some(team_id.as_str())).await?;
        let facts = store::offer_facts(&mut conn, &team_id, request.since_ms).await?;
        let skips = store::skip_counts(&mut conn, &team_id, request.since_ms).await?;
        let pool_claims = store::pool_claim_counts(&mut conn, &team_id, request.since_ms).await?;
        let mut out: BTreeMap<String, (RepStats, Vec<i64>)> = BTreeMap::new();
        for rep in &reps {
            let stats = RepStats {
                rep_id: rep.rep_id.clone(),
                team_id: rep.team_id.clone().unwrap_or_default(),
                availability: rep.availability.clone(),
                ..Default::default()
            };
            out.insert(rep.rep_id.clone(), (stats, Vec::new()));
        }
        for fact in facts {
            let (stats, claim_times) = out.entry(fact.rep_id.clone()).or_insert_with(|| {
                (
                    RepStats {
                        rep_id: fact.rep_id.clone(),
                        team_id: fact.team_id.clone(),
                        ..Default::default()
                    },
                    Vec::new(),
                )
            });
            stats.offers += 1;
            if fact.offer_no == 1 {
                stats.first_looks += 1;
            }
            match fact.state.as_str() {
                "claimed" => {
                    stats.claims += 1;
                    claim_times
                        .push(fact.closed_at_ms.unwrap_or(fact.opened_at_ms) - fact.opened_at_ms);
                }
                "passed" => stats.passes += 1,
                "expired" => stats.expiries += 1,
                "withdrawn" => stats.withdrawn += 1,
                "open" => stats.open_now += 1,
                _ => {}
            }
        }
        for (rep_id, reason, n) in skips {
            if let Some((stats, _)) = out.get_mut(&rep_id) {
                *stats.skips.entry(reason).or_default() += n;
            }
        }
        // A pool claim is a claim: the rep took the lead. It has no offer, so
        // it adds to claims but not to offers or the time to claim an offer.
        for (rep_id, n) in pool_claims {
            if let Some((stats, _)) = out.get_mut(&rep_id) {
                stats.claims += n;
                stats.pool_claims += n;
            }
        }
        let reps = out
            .into_values()
            .map(|(mut stats, mut times)| {
                times.sort_unstable();
                stats.median_time_to_claim_ms = times.get(times.len() / 2).copied().unwrap_or(0);
                stats
            })
            .collect();
        Ok(WheelStatsResponse { reps })
    }
}

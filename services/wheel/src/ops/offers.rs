//! A rep's side of the wheel: their open offers (listed or watched live),
//! claiming and passing, the team's open pool, and a lead's routing.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::wheel::v1::{ClaimRequest, Offer, PassRequest};
use leadwheel_wheel_core::{AssignedVia, Effect, Input};

use super::{Wheel, access};
use crate::error::WheelError;
use crate::live;
use crate::store::{self, LeadRow, OfferRow};
use crate::validate;

/// Most offers one team listing returns (soonest deadlines first).
pub const TEAM_OFFERS_LIMIT: i64 = 2_000;

/// A rep's open offers now, and the live feed of what changes next.
pub struct OfferWatch {
    /// The offers open when the watch began.
    pub current: Vec<Offer>,
    /// Pushes from every replica, subscribed before `current` was read so
    /// an offer opened in between is not missed.
    pub live: async_nats::Subscriber,
}

impl Wheel {
    /// The open offers of `rep_id`, for them or their manager.
    pub async fn list_offers(
        &self,
        caller: &Caller,
        rep_id: &str,
    ) -> Result<Vec<Offer>, WheelError> {
        validate::id("rep_id", rep_id)?;
        access::for_rep(&mut *self.read().await?, caller, rep_id).await?;
        self.open_offers(rep_id).await
    }

    /// The open offers of `team_id`'s leads, soonest deadline first (at
    /// most `limit`, 0 meaning [`TEAM_OFFERS_LIMIT`]), for its manager or
    /// an admin: a team board in one call instead of one per rep.
    pub async fn list_team_offers(
        &self,
        caller: &Caller,
        team_id: &str,
        limit: i32,
    ) -> Result<Vec<Offer>, WheelError> {
        validate::id("team_id", team_id)?;
        let limit = match i64::from(limit) {
            0 => TEAM_OFFERS_LIMIT,
            n if (1..=TEAM_OFFERS_LIMIT).contains(&n) => n,
            n => {
                return Err(WheelError::invalid(
                    "limit",
                    format!("{n} is not between 0 and {TEAM_OFFERS_LIMIT}"),
                ));
            }
        };
        access::require_manager_of(caller, team_id)?;
        let mut conn = self.read().await?;
        if store::load_team(&mut conn, team_id).await?.is_none() {
            return Err(WheelError::NotFound(format!("team {team_id} not found")));
        }
        let offers = store::open_offers_of_team(&mut conn, team_id, limit).await?;
        Ok(offers
            .iter()
            .map(|(offer, lead)| live::offer_proto(offer, Some(&lead.0), lead.1.as_deref()))
            .collect())
    }

    /// As [`Self::list_offers`], followed by live changes.
    pub async fn watch_offers(
        &self,
        caller: &Caller,
        rep_id: &str,
    ) -> Result<OfferWatch, WheelError> {
        validate::id("rep_id", rep_id)?;
        access::for_rep(&mut *self.read().await?, caller, rep_id).await?;
        let live = self.engine.subscribe_offers(rep_id).await?;
        let current = self.open_offers(rep_id).await?;
        Ok(OfferWatch { current, live })
    }

    async fn open_offers(&self, rep_id: &str) -> Result<Vec<Offer>, WheelError> {
        let mut conn = self.read().await?;
        let offers = store::open_offers_of_rep(&mut conn, rep_id).await?;
        let mut out = Vec::with_capacity(offers.len());
        for offer in offers {
            let lead = store::load_lead(&mut conn, &offer.lead_id).await?;
            out.push(live::offer_proto(
                &offer,
                lead.as_ref().map(|l| &l.details),
                lead.as_ref().and_then(|l| l.traceparent.as_deref()),
            ));
        }
        Ok(out)
    }

    /// Claims a lead offered to the rep, or from their team's pool; returns
    /// how the rep got it.
    pub async fn claim(
        &self,
        caller: &Caller,
        request: ClaimRequest,
    ) -> Result<Option<AssignedVia>, WheelError> {
        let lead_id = validate::id("lead_id", &request.lead_id)?;
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        access::for_lead(&self.engine, caller, rep_id, lead_id).await?;
        let input = Input::Claim {
            rep: rep_id.to_string(),
        };
        let decision = self
            .engine
            .submit(lead_id, input, &caller.subject)
            .await?
            .into_result()?;
        let via = decision.effects.iter().find_map(|effect| match effect {
            Effect::Assign { via, .. } => Some(*via),
            _ => None,
        });
        tracing::info!(lead_id, rep_id, ?via, "lead claimed");
        Ok(via)
    }

    /// Passes on an offer, with a reason from the team's list when it has one.
    pub async fn pass(&self, caller: &Caller, request: PassRequest) -> Result<(), WheelError> {
        let lead_id = validate::id("lead_id", &request.lead_id)?;
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        let reason = validate::text("reason", &request.reason, validate::MAX_REASON_LEN, true)?;
        {
            access::for_lead(&self.engine, caller, rep_id, lead_id).await?;
            let mut conn = self.read().await?;
            check_pass_reason(&mut conn, lead_id, reason).await?;
        }
        let input = Input::Pass {
            rep: rep_id.to_string(),
            reason: reason.to_string(),
        };
        self.engine
            .submit(lead_id, input, &caller.subject)
            .await?
            .into_result()?;
        tracing::info!(lead_id, rep_id, reason, "offer passed");
        Ok(())
    }

    /// The pooled leads of `team_id`: a rep reads their own team's (the
    /// default when `team_id` is empty), managers and admins any.
    pub async fn list_pool(
        &self,
        caller: &Caller,
        team_id: &str,
    ) -> Result<Vec<store::PooledLead>, WheelError> {
        let mut team_id = team_id.to_string();
        if !team_id.is_empty() {
            validate::id("team_id", &team_id)?;
        }
        let mut conn = self.read().await?;
        if caller.role == Role::Rep {
            let own = store::load_rep(&mut conn, &caller.subject)
                .await?
                .and_then(|rep| rep.team_id)
                .ok_or_else(|| {
                    WheelError::PermissionDenied(format!("rep {} is on no team", caller.subject))
                })?;
            if team_id.is_empty() {
                team_id = own;
            } else if team_id != own {
                return Err(WheelError::PermissionDenied(format!(
                    "rep {} may not read team {team_id}'s pool",
                    caller.subject
                )));
            }
        } else if !caller.is_manager_or_admin() {
            return Err(WheelError::PermissionDenied(
                "only reps, managers and admins read pools".into(),
            ));
        }
        store::pooled_leads(&mut conn, &team_id, 1_000).await
    }

    /// A lead's routing and offers, for whoever may see the lead.
    pub async fn lead_routing(
        &self,
        caller: &Caller,
        lead_id: &str,
    ) -> Result<(LeadRow, Vec<OfferRow>), WheelError> {
        validate::id("lead_id", lead_id)?;
        let mut conn = self.read().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        if !access::may_see(&mut conn, caller, &lead).await? {
            return Err(WheelError::PermissionDenied(format!(
                "lead {lead_id} is not offered to, owned by or pooled for {}",
                caller.subject
            )));
        }
        let offers = store::offers_of_lead(&mut conn, lead_id).await?;
        Ok((lead, offers))
    }
}

/// Refuses a pass reason outside the team's list, when it has one.
async fn check_pass_reason(
    conn: &mut sqlx::AnyConnection,
    lead_id: &str,
    reason: &str,
) -> Result<(), WheelError> {
    let Some(lead) = store::load_lead(conn, lead_id).await? else {
        return Err(WheelError::NotFound(format!("lead {lead_id} not found")));
    };
    let Some(team) = store::load_team(conn, &lead.team_id).await? else {
        return Ok(());
    };
    let allowed = &team.policy.pass_reasons;
    if allowed.is_empty() || allowed.iter().any(|r| r.eq_ignore_ascii_case(reason)) {
        return Ok(());
    }
    Err(WheelError::invalid(
        "reason",
        format!(
            "{reason:?} is not one of the team's pass reasons: {}",
            allowed.join(", ")
        ),
    ))
}

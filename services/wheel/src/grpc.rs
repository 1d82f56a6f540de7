//! The `WheelService` gRPC API.

use std::collections::HashSet;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use leadwheel_plumbing::auth::{Caller, Role, caller};
use leadwheel_plumbing::bus::{EventDraft, subjects};
use leadwheel_plumbing::store::now_ms;
use leadwheel_proto::events::v1 as events;
use leadwheel_proto::wheel::v1::wheel_service_server::WheelService;
use leadwheel_proto::wheel::v1::*;
use leadwheel_wheel_core::{AssignedVia as CoreVia, Effect, Input};
use prost::Message;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::convert::{self, team_proto};
use crate::engine::Engine;
use crate::error::WheelError;
use crate::insight;
use crate::live;
use crate::manage;
use crate::store::{self, LeadRow, TeamRow};
use crate::validate;

/// The gRPC API over the engine.
#[derive(Clone)]
pub struct WheelApi {
    pub engine: Engine,
    /// Fires at shutdown so long-lived watch streams end.
    pub stop: CancellationToken,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<OfferUpdate, Status>> + Send>>;

/// True when a manager's token scope (if any) covers `team_id`.
fn manager_scope_covers(caller: &Caller, team_id: &str) -> bool {
    match (caller.role, caller.team.as_deref()) {
        (Role::Manager, Some(own)) => own == team_id,
        _ => true,
    }
}

impl WheelApi {
    /// A rep acts only as themselves; a manager for reps of their team (all
    /// teams when their token names none); an admin for anyone.
    async fn authorize_for_rep(&self, caller: &Caller, rep_id: &str) -> Result<(), Status> {
        caller.require_self_or_manager(rep_id)?;
        if caller.role == Role::Manager && caller.team.is_some() {
            let mut conn = self.conn().await?;
            let team = store::load_rep(&mut conn, rep_id)
                .await?
                .and_then(|rep| rep.team_id)
                .unwrap_or_default();
            if !manager_scope_covers(caller, &team) {
                return Err(WheelError::PermissionDenied(format!(
                    "manager {} may not act for rep {rep_id} of another team",
                    caller.subject
                ))
                .into());
            }
        }
        Ok(())
    }

    /// As [`Self::authorize_for_rep`], with the manager's scope checked
    /// against the team routing the lead.
    async fn authorize_for_lead(
        &self,
        caller: &Caller,
        rep_id: &str,
        lead_id: &str,
    ) -> Result<(), Status> {
        caller.require_self_or_manager(rep_id)?;
        if caller.role == Role::Manager && caller.team.is_some() {
            let mut conn = self.conn().await?;
            let lead = store::load_lead(&mut conn, lead_id)
                .await?
                .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
            if !manager_scope_covers(caller, &lead.team_id) {
                return Err(WheelError::PermissionDenied(format!(
                    "manager {} may not act on lead {lead_id} of team {}",
                    caller.subject, lead.team_id
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Refuses a pass reason outside the team's list, when it has one.
    async fn check_pass_reason(&self, lead_id: &str, reason: &str) -> Result<(), WheelError> {
        let mut conn = self.conn().await?;
        let Some(lead) = store::load_lead(&mut conn, lead_id).await? else {
            return Err(WheelError::NotFound(format!("lead {lead_id} not found")));
        };
        let Some(team) = store::load_team(&mut conn, &lead.team_id).await? else {
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

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, WheelError> {
        Ok(self.engine.store.pool().acquire().await?)
    }

    async fn open_offers(&self, rep_id: &str) -> Result<Vec<Offer>, WheelError> {
        let mut conn = self.conn().await?;
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

    /// Whether `caller` may see `lead`'s details: managers and admins
    /// always; a rep while the lead is offered to them, once they own it,
    /// or while it sits in their team's pool.
    async fn may_see(
        &self,
        conn: &mut AnyConnection,
        caller: &Caller,
        lead: &LeadRow,
    ) -> Result<bool, WheelError> {
        if caller.is_manager_or_admin() {
            return Ok(manager_scope_covers(caller, &lead.team_id));
        }
        if caller.role != Role::Rep {
            return Ok(false);
        }
        Ok(match lead.state.as_str() {
            "offered" => matches!(&lead.routing.phase,
                leadwheel_wheel_core::Phase::Offered { rep, .. } if *rep == caller.subject),
            "assigned" => lead.owner_rep_id.as_deref() == Some(caller.subject.as_str()),
            "pooled" | "escalated" => store::load_rep(conn, &caller.subject)
                .await?
                .and_then(|rep| rep.team_id)
                .is_some_and(|team| team == lead.team_id),
            _ => false,
        })
    }
}

#[tonic::async_trait]
impl WheelService for WheelApi {
    async fn upsert_team(
        &self,
        request: Request<UpsertTeamRequest>,
    ) -> Result<Response<UpsertTeamResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_role(&[Role::Admin, Role::Manager])?;
        let request = request.into_inner();
        let team = request
            .team
            .ok_or_else(|| WheelError::invalid("team", "is required"))?;
        let team_id = validate::id("team.team_id", &team.team_id)?.to_string();
        if let (Role::Manager, Some(own)) = (caller.role, caller.team.as_deref())
            && own != team_id
        {
            {
                return Err(WheelError::PermissionDenied(format!(
                    "manager of {own} may not change team {team_id}"
                ))
                .into());
            }
        }
        let name = validate::text("team.name", &team.name, validate::MAX_NAME_LEN, false)?;
        let manager_id = validate::id("team.manager_id", &team.manager_id)?.to_string();
        let window_ms = validate::window_ms(team.window_ms)?;
        if team.rep_ids.len() > validate::MAX_RING {
            return Err(WheelError::invalid(
                "team.rep_ids",
                format!("more than {} reps", validate::MAX_RING),
            )
            .into());
        }
        let mut seen = HashSet::new();
        for rep_id in &team.rep_ids {
            validate::id("team.rep_ids", rep_id)?;
            if !seen.insert(rep_id.as_str()) {
                return Err(WheelError::invalid(
                    "team.rep_ids",
                    format!("{rep_id} is listed twice"),
                )
                .into());
            }
        }
        if request.rep_names.len() > team.rep_ids.len() {
            return Err(
                WheelError::invalid("rep_names", "has more names than team.rep_ids").into(),
            );
        }
        let mut names = Vec::with_capacity(request.rep_names.len());
        for name in &request.rep_names {
            names.push(
                validate::text("rep_names", name, validate::MAX_NAME_LEN, false)?.to_string(),
            );
        }
        let row = TeamRow {
            team_id: team_id.clone(),
            name: if name.is_empty() {
                team_id.clone()
            } else {
                name.to_string()
            },
            manager_id,
            window_ms,
            policy: convert::policy_from_proto(team.policy.as_ref())?,
            rotation: Default::default(),
            rotation_version: 0,
            roster_version: 0,
            ring: team.rep_ids.clone(),
            ranks: Default::default(),
        };
        let now = now_ms();
        let mut tx = self.engine.store.begin().await.map_err(WheelError::from)?;
        store::upsert_team(&mut tx, &row, &names, now).await?;
        let event = events::TeamUpserted {
            team_id: row.team_id.clone(),
            name: row.name.clone(),
            manager_id: row.manager_id.clone(),
            window_ms,
            rep_ids: row.ring.clone(),
            at_ms: now,
        };
        self.engine
            .outbox
            .enqueue(
                &mut tx,
                EventDraft::new(subjects::TEAM_UPSERTED, &row.team_id, &event),
            )
            .await
            .map_err(WheelError::from)?;
        for (position, rep_id) in row.ring.iter().enumerate() {
            let event = events::RepUpserted {
                rep_id: rep_id.clone(),
                name: names
                    .get(position)
                    .cloned()
                    .unwrap_or_else(|| rep_id.clone()),
                team_id: row.team_id.clone(),
                at_ms: now,
            };
            self.engine
                .outbox
                .enqueue(
                    &mut tx,
                    EventDraft::new(subjects::REP_UPSERTED, rep_id, &event),
                )
                .await
                .map_err(WheelError::from)?;
        }
        let pushes = self.engine.route_waiting(&mut tx, &team_id).await?;
        let saved = store::load_team(&mut tx, &team_id)
            .await?
            .ok_or_else(|| WheelError::Corrupt("team vanished".into()))?;
        tx.commit().await.map_err(WheelError::from)?;
        self.engine.after_commit(pushes).await;
        tracing::info!(team_id = %team_id, reps = saved.ring.len(), "team upserted");
        Ok(Response::new(UpsertTeamResponse {
            team: Some(team_proto(&saved)),
        }))
    }

    async fn list_teams(
        &self,
        request: Request<ListTeamsRequest>,
    ) -> Result<Response<ListTeamsResponse>, Status> {
        caller(&request)?;
        let mut conn = self.conn().await?;
        let teams = store::list_teams(&mut conn).await?;
        Ok(Response::new(ListTeamsResponse {
            teams: teams.iter().map(team_proto).collect(),
        }))
    }

    async fn list_reps(
        &self,
        request: Request<ListRepsRequest>,
    ) -> Result<Response<ListRepsResponse>, Status> {
        caller(&request)?;
        let team_id = request.into_inner().team_id;
        if !team_id.is_empty() {
            validate::id("team_id", &team_id)?;
        }
        let mut conn = self.conn().await?;
        if !team_id.is_empty() && store::load_team(&mut conn, &team_id).await?.is_none() {
            return Err(WheelError::NotFound(format!("team {team_id} not found")).into());
        }
        let reps =
            store::list_reps(&mut conn, (!team_id.is_empty()).then_some(team_id.as_str())).await?;
        Ok(Response::new(ListRepsResponse {
            reps: reps.into_iter().map(convert::rep_proto).collect(),
        }))
    }

    async fn list_offers(
        &self,
        request: Request<ListOffersRequest>,
    ) -> Result<Response<ListOffersResponse>, Status> {
        let caller = caller(&request)?;
        let rep_id = request.into_inner().rep_id;
        validate::id("rep_id", &rep_id)?;
        self.authorize_for_rep(&caller, &rep_id).await?;
        Ok(Response::new(ListOffersResponse {
            offers: self.open_offers(&rep_id).await?,
        }))
    }

    type WatchOffersStream = WatchStream;

    async fn watch_offers(
        &self,
        request: Request<WatchOffersRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let caller = caller(&request)?;
        let rep_id = request.into_inner().rep_id;
        validate::id("rep_id", &rep_id)?;
        self.authorize_for_rep(&caller, &rep_id).await?;
        // Subscribe before listing, so an offer opened in between is not missed.
        let subscription = self
            .engine
            .bus
            .client
            .subscribe(subjects::live_rep_offers(&rep_id))
            .await
            .map_err(|err| Status::unavailable(format!("live offers unavailable: {err}")))?;
        let current = self.open_offers(&rep_id).await?;
        let initial = futures::stream::iter(current.into_iter().map(|offer| {
            Ok(OfferUpdate {
                offer: Some(offer),
                server_time_ms: now_ms(),
            })
        }));
        let live = subscription.filter_map(|message| async move {
            match OfferUpdate::decode(message.payload.as_ref()) {
                Ok(update) => Some(Ok(update)),
                Err(err) => {
                    tracing::warn!(error = %err, "undecodable live offer push");
                    None
                }
            }
        });
        let stop = self.stop.clone();
        let stream = initial
            .chain(live)
            .take_until(async move { stop.cancelled().await });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn claim(
        &self,
        request: Request<ClaimRequest>,
    ) -> Result<Response<ClaimResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let lead_id = validate::id("lead_id", &request.lead_id)?;
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        self.authorize_for_lead(&caller, rep_id, lead_id).await?;
        let decision = self
            .engine
            .apply(
                lead_id,
                Input::Claim {
                    rep: rep_id.to_string(),
                },
                &caller.subject,
            )
            .await?;
        let via = decision
            .effects
            .iter()
            .find_map(|effect| match effect {
                Effect::Assign {
                    via: CoreVia::Offer,
                    ..
                } => Some(ClaimedVia::Offer),
                Effect::Assign {
                    via: CoreVia::Pool, ..
                } => Some(ClaimedVia::Pool),
                _ => None,
            })
            .unwrap_or(ClaimedVia::Unspecified);
        tracing::info!(lead_id, rep_id, via = via.as_str_name(), "lead claimed");
        Ok(Response::new(ClaimResponse {
            lead_id: lead_id.to_string(),
            rep_id: rep_id.to_string(),
            via: via as i32,
        }))
    }

    async fn pass(&self, request: Request<PassRequest>) -> Result<Response<PassResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let lead_id = validate::id("lead_id", &request.lead_id)?;
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        let reason = validate::text("reason", &request.reason, validate::MAX_REASON_LEN, true)?;
        self.authorize_for_lead(&caller, rep_id, lead_id).await?;
        self.check_pass_reason(lead_id, reason).await?;
        self.engine
            .apply(
                lead_id,
                Input::Pass {
                    rep: rep_id.to_string(),
                    reason: reason.to_string(),
                },
                &caller.subject,
            )
            .await?;
        tracing::info!(lead_id, rep_id, reason, "offer passed");
        Ok(Response::new(PassResponse {}))
    }

    async fn list_pool(
        &self,
        request: Request<ListPoolRequest>,
    ) -> Result<Response<ListPoolResponse>, Status> {
        let caller = caller(&request)?;
        let mut team_id = request.into_inner().team_id;
        if !team_id.is_empty() {
            validate::id("team_id", &team_id)?;
        }
        let mut conn = self.conn().await?;
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
                ))
                .into());
            }
        } else if !caller.is_manager_or_admin() {
            return Err(WheelError::PermissionDenied(
                "only reps, managers and admins read pools".into(),
            )
            .into());
        }
        let leads = store::leads_in_state(&mut conn, &team_id, "pooled", 1_000).await?;
        Ok(Response::new(ListPoolResponse {
            leads: leads
                .iter()
                .map(|lead| PoolLead {
                    lead: Some(live::summary(&lead.details)),
                    team_id: lead.team_id.clone(),
                    pooled_at_ms: lead.pooled_at_ms.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn get_lead_routing(
        &self,
        request: Request<GetLeadRoutingRequest>,
    ) -> Result<Response<GetLeadRoutingResponse>, Status> {
        let caller = caller(&request)?;
        let lead_id = request.into_inner().lead_id;
        validate::id("lead_id", &lead_id)?;
        let mut conn = self.conn().await?;
        let lead = store::load_lead(&mut conn, &lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        if !self.may_see(&mut conn, &caller, &lead).await? {
            return Err(WheelError::PermissionDenied(format!(
                "lead {lead_id} is not offered to, owned by or pooled for {}",
                caller.subject
            ))
            .into());
        }
        let offers = store::offers_of_lead(&mut conn, &lead_id).await?;
        Ok(Response::new(convert::routing_proto(&lead, &offers)))
    }

    async fn set_availability(
        &self,
        request: Request<SetAvailabilityRequest>,
    ) -> Result<Response<SetAvailabilityResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            manage::set_availability(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn update_rep(
        &self,
        request: Request<UpdateRepRequest>,
    ) -> Result<Response<UpdateRepResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            manage::update_rep(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn assign_lead(
        &self,
        request: Request<AssignLeadRequest>,
    ) -> Result<Response<AssignLeadResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let rep_id = validate::id("rep_id", &request.rep_id)?.to_string();
        let lead = manage::lead_action(
            self,
            &caller,
            &request.lead_id,
            &request.reason,
            Input::AssignDirect { rep: rep_id },
        )
        .await?;
        Ok(Response::new(AssignLeadResponse { lead: Some(lead) }))
    }

    async fn requeue_lead(
        &self,
        request: Request<RequeueLeadRequest>,
    ) -> Result<Response<RequeueLeadResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let lead = manage::lead_action(
            self,
            &caller,
            &request.lead_id,
            &request.reason,
            Input::Requeue,
        )
        .await?;
        Ok(Response::new(RequeueLeadResponse { lead: Some(lead) }))
    }

    async fn withdraw_lead(
        &self,
        request: Request<WithdrawLeadRequest>,
    ) -> Result<Response<WithdrawLeadResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let lead = manage::lead_action(
            self,
            &caller,
            &request.lead_id,
            &request.reason,
            Input::Withdraw,
        )
        .await?;
        Ok(Response::new(WithdrawLeadResponse { lead: Some(lead) }))
    }

    async fn explain_lead(
        &self,
        request: Request<ExplainLeadRequest>,
    ) -> Result<Response<ExplainLeadResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            manage::explain(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn why_not(
        &self,
        request: Request<WhyNotRequest>,
    ) -> Result<Response<WhyNotResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            insight::why_not(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn wheel_stats(
        &self,
        request: Request<WheelStatsRequest>,
    ) -> Result<Response<WheelStatsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            insight::stats(self, &caller, request.into_inner()).await?,
        ))
    }

    async fn set_rep_schedule(
        &self,
        request: Request<SetRepScheduleRequest>,
    ) -> Result<Response<SetRepScheduleResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            manage::set_schedule(self, &caller, request.into_inner()).await?,
        ))
    }
}

//! The `WheelService` gRPC API: the verified caller and the request, then
//! an operation of [`crate::ops`], then messages ([`crate::convert`]).
//! Who may do what is decided in the operations.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use leadwheel_plumbing::auth::{self, Caller};
use leadwheel_proto::wheel::v1::wheel_service_server::WheelService;
use leadwheel_proto::wheel::v1::*;
use leadwheel_wheel_core::Input;
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::ops::Wheel;
use crate::validate;

/// The gRPC API over the operations.
#[derive(Clone, Debug)]
pub struct WheelApi {
    ops: Wheel,
    /// Fires at shutdown so long-lived watch streams end.
    stop: CancellationToken,
}

impl WheelApi {
    /// An API over `ops`; watch streams end when `stop` fires.
    pub fn new(ops: Wheel, stop: CancellationToken) -> Self {
        Self { ops, stop }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<OfferUpdate, Status>> + Send>>;

type Answer<T> = Result<Response<T>, Status>;

/// The verified caller and the request body.
fn split<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = auth::caller(&request)?;
    Ok((caller, request.into_inner()))
}

#[tonic::async_trait]
impl WheelService for WheelApi {
    async fn upsert_team(&self, request: Request<UpsertTeamRequest>) -> Answer<UpsertTeamResponse> {
        let (caller, r) = split(request)?;
        let saved = self.ops.upsert_team(&caller, r).await?;
        Ok(Response::new(UpsertTeamResponse {
            team: Some(convert::team_proto(&saved)),
        }))
    }

    async fn list_teams(&self, request: Request<ListTeamsRequest>) -> Answer<ListTeamsResponse> {
        split(request)?;
        let teams = self.ops.list_teams().await?;
        Ok(Response::new(ListTeamsResponse {
            teams: teams.iter().map(convert::team_proto).collect(),
        }))
    }

    async fn list_reps(&self, request: Request<ListRepsRequest>) -> Answer<ListRepsResponse> {
        let (_, r) = split(request)?;
        let reps = self.ops.list_reps(&r.team_id).await?;
        let now = self.ops.now();
        Ok(Response::new(ListRepsResponse {
            reps: reps
                .into_iter()
                .map(|rep| convert::rep_proto(rep, now))
                .collect(),
        }))
    }

    async fn list_offers(&self, request: Request<ListOffersRequest>) -> Answer<ListOffersResponse> {
        let (caller, r) = split(request)?;
        let offers = match (r.rep_id.is_empty(), r.team_id.is_empty()) {
            (false, true) => self.ops.list_offers(&caller, &r.rep_id).await?,
            (true, false) => {
                self.ops
                    .list_team_offers(&caller, &r.team_id, r.limit)
                    .await?
            }
            _ => {
                return Err(crate::error::WheelError::invalid(
                    "rep_id",
                    "name exactly one of rep_id and team_id",
                )
                .into());
            }
        };
        Ok(Response::new(ListOffersResponse { offers }))
    }

    type WatchOffersStream = WatchStream;

    async fn watch_offers(&self, request: Request<WatchOffersRequest>) -> Answer<WatchStream> {
        let (caller, r) = split(request)?;
        let watch = self.ops.watch_offers(&caller, &r.rep_id).await?;
        let now = self.ops.now();
        let initial = futures::stream::iter(watch.current.into_iter().map(move |offer| {
            Ok(OfferUpdate {
                offer: Some(offer),
                server_time_ms: now,
            })
        }));
        let live = watch.live.filter_map(|message| async move {
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

    async fn claim(&self, request: Request<ClaimRequest>) -> Answer<ClaimResponse> {
        let (caller, r) = split(request)?;
        let via = self.ops.claim(&caller, r.clone()).await?;
        Ok(Response::new(ClaimResponse {
            lead_id: r.lead_id,
            rep_id: r.rep_id,
            via: convert::claimed_via(via) as i32,
        }))
    }

    async fn pass(&self, request: Request<PassRequest>) -> Answer<PassResponse> {
        let (caller, r) = split(request)?;
        self.ops.pass(&caller, r).await?;
        Ok(Response::new(PassResponse {}))
    }

    async fn list_pool(&self, request: Request<ListPoolRequest>) -> Answer<ListPoolResponse> {
        let (caller, r) = split(request)?;
        let leads = self.ops.list_pool(&caller, &r.team_id).await?;
        Ok(Response::new(ListPoolResponse {
            leads: leads.iter().map(convert::pool_lead).collect(),
        }))
    }

    async fn get_lead_routing(
        &self,
        request: Request<GetLeadRoutingRequest>,
    ) -> Answer<GetLeadRoutingResponse> {
        let (caller, r) = split(request)?;
        let (lead, offers) = self.ops.lead_routing(&caller, &r.lead_id).await?;
        Ok(Response::new(convert::routing_proto(&lead, &offers)))
    }

    async fn set_availability(
        &self,
        request: Request<SetAvailabilityRequest>,
    ) -> Answer<SetAvailabilityResponse> {
        let (caller, r) = split(request)?;
        let rep = self.ops.set_availability(&caller, r).await?;
        Ok(Response::new(SetAvailabilityResponse {
            rep: Some(convert::rep_proto(rep, self.ops.now())),
        }))
    }

    async fn update_rep(&self, request: Request<UpdateRepRequest>) -> Answer<UpdateRepResponse> {
        let (caller, r) = split(request)?;
        let rep = self.ops.update_rep(&caller, r).await?;
        Ok(Response::new(UpdateRepResponse {
            rep: Some(convert::rep_proto(rep, self.ops.now())),
        }))
    }

    async fn assign_lead(&self, request: Request<AssignLeadRequest>) -> Answer<AssignLeadResponse> {
        let (caller, r) = split(request)?;
        let rep = validate::id("rep_id", &r.rep_id)?.to_string();
        let input = Input::AssignDirect { rep };
        let (lead, offers) = self
            .ops
            .lead_action(&caller, &r.lead_id, &r.reason, input)
            .await?;
        Ok(Response::new(AssignLeadResponse {
            lead: Some(convert::routing_proto(&lead, &offers)),
        }))
    }

    async fn requeue_lead(
        &self,
        request: Request<RequeueLeadRequest>,
    ) -> Answer<RequeueLeadResponse> {
        let (caller, r) = split(request)?;
        let (lead, offers) = self
            .ops
            .lead_action(&caller, &r.lead_id, &r.reason, Input::Requeue)
            .await?;
        Ok(Response::new(RequeueLeadResponse {
            lead: Some(convert::routing_proto(&lead, &offers)),
        }))
    }

    async fn withdraw_lead(
        &self,
        request: Request<WithdrawLeadRequest>,
    ) -> Answer<WithdrawLeadResponse> {
        let (caller, r) = split(request)?;
        let (lead, offers) = self
            .ops
            .lead_action(&caller, &r.lead_id, &r.reason, Input::Withdraw)
            .await?;
        Ok(Response::new(WithdrawLeadResponse {
            lead: Some(convert::routing_proto(&lead, &offers)),
        }))
    }

    async fn explain_lead(
        &self,
        request: Request<ExplainLeadRequest>,
    ) -> Answer<ExplainLeadResponse> {
        let (caller, r) = split(request)?;
        let (lead, entries) = self.ops.explain(&caller, &r.lead_id).await?;
        Ok(Response::new(convert::explain_proto(&lead, &entries)))
    }

    async fn why_not(&self, request: Request<WhyNotRequest>) -> Answer<WhyNotResponse> {
        let (caller, r) = split(request)?;
        Ok(Response::new(self.ops.why_not(&caller, r).await?))
    }

    async fn wheel_stats(&self, request: Request<WheelStatsRequest>) -> Answer<WheelStatsResponse> {
        let (caller, r) = split(request)?;
        Ok(Response::new(self.ops.stats(&caller, r).await?))
    }

    async fn set_rep_schedule(
        &self,
        request: Request<SetRepScheduleRequest>,
    ) -> Answer<SetRepScheduleResponse> {
        let (caller, r) = split(request)?;
        let rep = self.ops.set_schedule(&caller, r).await?;
        Ok(Response::new(SetRepScheduleResponse {
            rep: Some(convert::rep_proto(rep, self.ops.now())),
        }))
    }

    async fn list_routing_rules(
        &self,
        request: Request<ListRoutingRulesRequest>,
    ) -> Answer<ListRoutingRulesResponse> {
        let (caller, _) = split(request)?;
        let current = self.ops.routing_rules(&caller).await?;
        Ok(Response::new(ListRoutingRulesResponse {
            rule_set: Some(convert::rule_set_proto(&current)),
        }))
    }

    async fn set_routing_rules(
        &self,
        request: Request<SetRoutingRulesRequest>,
    ) -> Answer<SetRoutingRulesResponse> {
        let (caller, r) = split(request)?;
        let stored = self.ops.set_routing_rules(&caller, r).await?;
        Ok(Response::new(SetRoutingRulesResponse {
            rule_set: Some(convert::rule_set_proto(&stored)),
        }))
    }

    async fn list_routing_rule_history(
        &self,
        request: Request<ListRoutingRuleHistoryRequest>,
    ) -> Answer<ListRoutingRuleHistoryResponse> {
        let (caller, r) = split(request)?;
        let versions = self.ops.routing_history(&caller, r.page_size).await?;
        Ok(Response::new(ListRoutingRuleHistoryResponse {
            versions: versions.iter().map(convert::rule_set_proto).collect(),
        }))
    }

    async fn test_routing(
        &self,
        request: Request<TestRoutingRequest>,
    ) -> Answer<TestRoutingResponse> {
        let (caller, r) = split(request)?;
        let (choice, verdicts) = self.ops.test_routing(&caller, r).await?;
        Ok(Response::new(TestRoutingResponse {
            routed_by: Some(convert::routed_by_proto(&choice)),
            verdicts: verdicts.iter().map(convert::verdict_proto).collect(),
        }))
    }
}

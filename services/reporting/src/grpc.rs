//! The gRPC API. Any authenticated caller may read the funnel, reps
//! included: the counts are team performance figures a sales floor shares
//! openly, and they name no customer. The sales reports carry values and
//! follow `crate::access` (a rep their own numbers, a manager their
//! teams', an admin all); their handlers only take the caller, call
//! [`Reports`] and convert.

use leadwheel_plumbing::auth::{self, Caller};
use leadwheel_plumbing::now_ms;
use leadwheel_proto::reporting::v1::reporting_service_server::ReportingService;
use leadwheel_proto::reporting::v1::{
    FunnelCounts, GetActivityRequest, GetActivityResponse, GetFairnessRequest, GetFairnessResponse,
    GetFiveQuestionsRequest, GetFiveQuestionsResponse, GetForecastMovementRequest,
    GetForecastMovementResponse, GetForecastRequest, GetForecastResponse, GetFunnelRequest,
    GetFunnelResponse, GetPipelineRequest, GetPipelineResponse, GetRebuildProgressRequest,
    GetRebuildProgressResponse, GetRoutingOutcomeRequest, GetRoutingOutcomeResponse,
    GetSpeedToLeadRequest, GetSpeedToLeadResponse, GetStagesRequest, GetStagesResponse,
    GetTeamBalanceRequest, GetTeamBalanceResponse, ListQuotasRequest, ListQuotasResponse,
    RebuildRequest, RebuildResponse, RepFunnel, SetForecastAdjustmentRequest,
    SetForecastAdjustmentResponse, SetQuotasRequest, SetQuotasResponse, TeamFunnel,
};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::funnel::Metric;
use crate::rebuild::{Rebuilder, Status as RebuildStatus};
use crate::reports::Reports;
use crate::store::{Counts, FunnelStore};

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 128;

/// The ReportingService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    funnel: FunnelStore,
    reports: Reports,
    rebuilder: Rebuilder,
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    // The interceptor already refused anonymous calls.
    auth::caller(request).map_err(|_| Status::from(Error::Unauthenticated))
}

impl Api {
    /// An API reading the funnel from `funnel` and the sales models
    /// through `reports`.
    pub fn new(funnel: FunnelStore, reports: Reports, rebuilder: Rebuilder) -> Self {
        Self {
            funnel,
            reports,
            rebuilder,
        }
    }

    async fn get_funnel(&self, request: GetFunnelRequest) -> Result<GetFunnelResponse, Error> {
        if request.team_id.len() > MAX_ID_LEN {
            return Err(Error::invalid(
                "team_id",
                format!(
                    "is {} bytes long; the limit is {MAX_ID_LEN}",
                    request.team_id.len()
                ),
            ));
        }
        let team = (!request.team_id.is_empty()).then_some(request.team_id.as_str());
        let funnel = self.funnel.funnel(team).await?;
        Ok(GetFunnelResponse {
            total: Some(to_counts(&funnel.total)),
            teams: funnel
                .teams
                .iter()
                .map(|(team_id, counts)| TeamFunnel {
                    team_id: team_id.clone(),
                    counts: Some(to_counts(counts)),
                })
                .collect(),
            reps: funnel
                .reps
                .iter()
                .map(|((team_id, rep_id), counts)| RepFunnel {
                    rep_id: rep_id.clone(),
                    team_id: team_id.clone(),
                    counts: Some(to_counts(counts)),
                })
                .collect(),
        })
    }
}

fn to_counts(counts: &Counts) -> FunnelCounts {
    let get = |metric| counts.get(&metric).copied().unwrap_or_default();
    FunnelCounts {
        created: get(Metric::Created),
        offered: get(Metric::Offered),
        claimed: get(Metric::Claimed),
        passed: get(Metric::Passed),
        expired: get(Metric::Expired),
        pooled: get(Metric::Pooled),
        in_work: get(Metric::InWork),
    }
}

#[tonic::async_trait]
impl ReportingService for Api {
    async fn get_funnel(
        &self,
        request: Request<GetFunnelRequest>,
    ) -> Result<Response<GetFunnelResponse>, Status> {
        // The interceptor already refused anonymous calls; any role may read.
        auth::caller(&request).map_err(|_| Error::Unauthenticated)?;
        Ok(Response::new(
            Api::get_funnel(self, request.into_inner()).await?,
        ))
    }

    async fn get_pipeline(
        &self,
        request: Request<GetPipelineRequest>,
    ) -> Result<Response<GetPipelineResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .pipeline(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_forecast(
        &self,
        request: Request<GetForecastRequest>,
    ) -> Result<Response<GetForecastResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .forecast(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_five_questions(
        &self,
        request: Request<GetFiveQuestionsRequest>,
    ) -> Result<Response<GetFiveQuestionsResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self.reports.five(&caller, request.get_ref(), today).await?;
        Ok(Response::new(response))
    }

    async fn set_quotas(
        &self,
        request: Request<SetQuotasRequest>,
    ) -> Result<Response<SetQuotasResponse>, Status> {
        let caller = caller(&request)?;
        let response = self
            .reports
            .set_quotas(&caller, request.get_ref(), now_ms())
            .await?;
        Ok(Response::new(response))
    }

    async fn list_quotas(
        &self,
        request: Request<ListQuotasRequest>,
    ) -> Result<Response<ListQuotasResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .list_quotas(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_fairness(
        &self,
        request: Request<GetFairnessRequest>,
    ) -> Result<Response<GetFairnessResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .fairness(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_speed_to_lead(
        &self,
        request: Request<GetSpeedToLeadRequest>,
    ) -> Result<Response<GetSpeedToLeadResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .speed(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_stages(
        &self,
        request: Request<GetStagesRequest>,
    ) -> Result<Response<GetStagesResponse>, Status> {
        let caller = caller(&request)?;
        let now = now_ms();
        let today = self.reports.today(now);
        let response = self
            .reports
            .stages(&caller, request.get_ref(), today, now)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_activity(
        &self,
        request: Request<GetActivityRequest>,
    ) -> Result<Response<GetActivityResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .activity(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_team_balance(
        &self,
        request: Request<GetTeamBalanceRequest>,
    ) -> Result<Response<GetTeamBalanceResponse>, Status> {
        let caller = caller(&request)?;
        let response = self.reports.balance(&caller, request.get_ref()).await?;
        Ok(Response::new(response))
    }

    async fn get_routing_outcome(
        &self,
        request: Request<GetRoutingOutcomeRequest>,
    ) -> Result<Response<GetRoutingOutcomeResponse>, Status> {
        let caller = caller(&request)?;
        let today = self.reports.today(now_ms());
        let response = self
            .reports
            .routes(&caller, request.get_ref(), today)
            .await?;
        Ok(Response::new(response))
    }

    async fn get_forecast_movement(
        &self,
        request: Request<GetForecastMovementRequest>,
    ) -> Result<Response<GetForecastMovementResponse>, Status> {
        let caller = caller(&request)?;
        let now = now_ms();
        let today = self.reports.today(now);
        let response = self
            .reports
            .movement(&caller, request.get_ref(), today, now)
            .await?;
        Ok(Response::new(response))
    }

    async fn rebuild(
        &self,
        request: Request<RebuildRequest>,
    ) -> Result<Response<RebuildResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_role(&[auth::Role::Admin])?;
        tracing::warn!(by = %caller.subject, "rebuilding the read models from the streams");
        let status = self.rebuilder.start()?;
        let progress = to_progress(status);
        Ok(Response::new(RebuildResponse {
            consumers: progress.consumers,
            state: progress.state,
            error: progress.error,
            events: progress.events,
            elapsed_ms: progress.elapsed_ms,
        }))
    }

    async fn get_rebuild_progress(
        &self,
        request: Request<GetRebuildProgressRequest>,
    ) -> Result<Response<GetRebuildProgressResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_role(&[auth::Role::Admin, auth::Role::Manager])?;
        let status = self.rebuilder.progress().await?;
        Ok(Response::new(to_progress(status)))
    }

    async fn set_forecast_adjustment(
        &self,
        request: Request<SetForecastAdjustmentRequest>,
    ) -> Result<Response<SetForecastAdjustmentResponse>, Status> {
        let caller = caller(&request)?;
        let response = self
            .reports
            .set_adjustment(&caller, request.get_ref(), now_ms())
            .await?;
        Ok(Response::new(response))
    }
}

fn to_progress(status: RebuildStatus) -> GetRebuildProgressResponse {
    GetRebuildProgressResponse {
        state: status.phase.as_str().to_string(),
        error: match &status.phase {
            crate::rebuild::Phase::Failed(reason) => reason.clone(),
            _ => String::new(),
        },
        consumers: status.consumers,
        events: status.events as i64,
        elapsed_ms: status.elapsed_ms as i64,
    }
}

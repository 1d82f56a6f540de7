//! The gRPC API: authentication, then the operations in [`crate::ops`],
//! then messages. Who may do what is decided in the operations (see
//! [`crate::access`]).

use leadwheel_plumbing::auth::{self, Caller};
use leadwheel_proto::opportunity::v1::opportunity_service_server::OpportunityService;
use leadwheel_proto::opportunity::v1::*;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::error::Error;
use crate::ops::Service;

/// The OpportunityService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    ops: Service,
}

impl Api {
    /// An API over `ops`.
    pub fn new(ops: Service) -> Self {
        Self { ops }
    }
}

/// The verified caller and the request body.
fn split<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = auth::caller(&request).map_err(|_| Error::Unauthenticated)?;
    Ok((caller, request.into_inner()))
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl OpportunityService for Api {
    async fn list_leads_in_work(
        &self,
        request: Request<ListLeadsInWorkRequest>,
    ) -> Answer<ListLeadsInWorkResponse> {
        let (caller, r) = split(request)?;
        let (leads, next_page_token) = self
            .ops
            .list_leads(&caller, &r.rep_id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(ListLeadsInWorkResponse {
            leads: leads.into_iter().map(convert::lead).collect(),
            next_page_token,
        }))
    }

    async fn get_lead_in_work(
        &self,
        request: Request<GetLeadInWorkRequest>,
    ) -> Answer<GetLeadInWorkResponse> {
        let (caller, r) = split(request)?;
        let lead = self.ops.get_lead(&caller, &r.lead_id).await?;
        Ok(Response::new(GetLeadInWorkResponse {
            lead: Some(convert::lead(lead)),
        }))
    }

    async fn convert_lead(
        &self,
        request: Request<ConvertLeadRequest>,
    ) -> Answer<ConvertLeadResponse> {
        let (caller, r) = split(request)?;
        let done = self.ops.convert(&caller, r).await?;
        Ok(Response::new(ConvertLeadResponse {
            account: Some(convert::account(done.account)),
            opportunity: Some(convert::opportunity(done.opportunity, &done.pipeline)),
            joined_existing_account: done.joined,
        }))
    }

    async fn disqualify_lead(
        &self,
        request: Request<DisqualifyLeadRequest>,
    ) -> Answer<DisqualifyLeadResponse> {
        let (caller, r) = split(request)?;
        let lead = self.ops.disqualify(&caller, r).await?;
        Ok(Response::new(DisqualifyLeadResponse {
            lead: Some(convert::lead(lead)),
        }))
    }

    async fn set_follow_up(
        &self,
        request: Request<SetFollowUpRequest>,
    ) -> Answer<SetFollowUpResponse> {
        let (caller, r) = split(request)?;
        let date = self
            .ops
            .set_follow_up(&caller, &r.lead_id, &r.opportunity_id, &r.date)
            .await?;
        Ok(Response::new(SetFollowUpResponse { date }))
    }

    async fn get_account(&self, request: Request<GetAccountRequest>) -> Answer<GetAccountResponse> {
        let (caller, r) = split(request)?;
        let (account, opps, pipeline) = self.ops.get_account(&caller, &r.account_id).await?;
        Ok(Response::new(GetAccountResponse {
            account: Some(convert::account(account)),
            opportunities: opps
                .into_iter()
                .map(|o| convert::opportunity(o, &pipeline))
                .collect(),
        }))
    }

    async fn get_opportunity(
        &self,
        request: Request<GetOpportunityRequest>,
    ) -> Answer<GetOpportunityResponse> {
        let (caller, r) = split(request)?;
        let (opp, history, pipeline) = self.ops.get_opportunity(&caller, &r.opportunity_id).await?;
        Ok(Response::new(GetOpportunityResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
            history: history.into_iter().map(convert::stage_change).collect(),
        }))
    }

    async fn list_opportunities(
        &self,
        request: Request<ListOpportunitiesRequest>,
    ) -> Answer<ListOpportunitiesResponse> {
        let (caller, r) = split(request)?;
        let (opps, next_page_token, pipeline) = self.ops.list_opportunities(&caller, &r).await?;
        Ok(Response::new(ListOpportunitiesResponse {
            opportunities: opps
                .into_iter()
                .map(|o| convert::opportunity(o, &pipeline))
                .collect(),
            next_page_token,
        }))
    }

    async fn move_stage(&self, request: Request<MoveStageRequest>) -> Answer<MoveStageResponse> {
        let (caller, r) = split(request)?;
        let (opp, pipeline) = self.ops.move_stage(&caller, r).await?;
        Ok(Response::new(MoveStageResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
        }))
    }

    async fn set_amount(&self, request: Request<SetAmountRequest>) -> Answer<SetAmountResponse> {
        let (caller, r) = split(request)?;
        let (opp, pipeline) = self.ops.set_amount(&caller, r).await?;
        Ok(Response::new(SetAmountResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
        }))
    }

    async fn override_probability(
        &self,
        request: Request<OverrideProbabilityRequest>,
    ) -> Answer<OverrideProbabilityResponse> {
        let (caller, r) = split(request)?;
        let (opp, pipeline) = self.ops.override_probability(&caller, r).await?;
        Ok(Response::new(OverrideProbabilityResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
        }))
    }

    async fn set_forecast_category(
        &self,
        request: Request<SetForecastCategoryRequest>,
    ) -> Answer<SetForecastCategoryResponse> {
        let (caller, r) = split(request)?;
        let (opp, pipeline) = self.ops.set_forecast_category(&caller, r).await?;
        Ok(Response::new(SetForecastCategoryResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
        }))
    }

    async fn change_owner(
        &self,
        request: Request<ChangeOwnerRequest>,
    ) -> Answer<ChangeOwnerResponse> {
        let (caller, r) = split(request)?;
        let (opp, pipeline) = self.ops.change_owner(&caller, r).await?;
        Ok(Response::new(ChangeOwnerResponse {
            opportunity: Some(convert::opportunity(opp, &pipeline)),
        }))
    }

    async fn log_activity(
        &self,
        request: Request<LogActivityRequest>,
    ) -> Answer<LogActivityResponse> {
        let (caller, r) = split(request)?;
        let (activity, touch_count) = self.ops.log_activity(&caller, r).await?;
        Ok(Response::new(LogActivityResponse {
            activity: Some(convert::activity(activity)),
            touch_count,
        }))
    }

    async fn list_history(
        &self,
        request: Request<ListHistoryRequest>,
    ) -> Answer<ListHistoryResponse> {
        let (caller, r) = split(request)?;
        let (activities, next_page_token) = self
            .ops
            .history(
                &caller,
                &r.account_id,
                &r.lead_id,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListHistoryResponse {
            activities: activities.into_iter().map(convert::activity).collect(),
            next_page_token,
        }))
    }

    async fn list_stages(&self, request: Request<ListStagesRequest>) -> Answer<ListStagesResponse> {
        let (caller, _) = split(request)?;
        let pipeline = self.ops.list_stages(&caller).await?;
        Ok(Response::new(ListStagesResponse {
            stages: pipeline.0.into_iter().map(convert::stage).collect(),
        }))
    }

    async fn set_stage(&self, request: Request<SetStageRequest>) -> Answer<SetStageResponse> {
        let (caller, r) = split(request)?;
        let stage = r
            .stage
            .ok_or_else(|| Error::invalid("stage", "is required"))?;
        let stage = self
            .ops
            .set_stage(&caller, convert::stage_from(stage))
            .await?;
        Ok(Response::new(SetStageResponse {
            stage: Some(convert::stage(stage)),
        }))
    }

    async fn start_handover(
        &self,
        request: Request<StartHandoverRequest>,
    ) -> Answer<StartHandoverResponse> {
        let (caller, r) = split(request)?;
        let summary = self
            .ops
            .start_handover(
                &caller,
                &r.rep_id,
                &r.successor_rep_id,
                r.leads_to_successor,
            )
            .await?;
        Ok(Response::new(StartHandoverResponse {
            handover: Some(convert::handover(summary)),
        }))
    }

    async fn get_handover(
        &self,
        request: Request<GetHandoverRequest>,
    ) -> Answer<GetHandoverResponse> {
        let (caller, r) = split(request)?;
        let summary = self.ops.get_handover(&caller, &r.handover_id).await?;
        Ok(Response::new(GetHandoverResponse {
            handover: Some(convert::handover(summary)),
        }))
    }

    async fn list_handover_items(
        &self,
        request: Request<ListHandoverItemsRequest>,
    ) -> Answer<ListHandoverItemsResponse> {
        let (caller, r) = split(request)?;
        let (items, next_page_token) = self
            .ops
            .handover_items(&caller, &r.handover_id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(ListHandoverItemsResponse {
            items: items.into_iter().map(convert::item).collect(),
            next_page_token,
        }))
    }

    async fn edit_handover_item(
        &self,
        request: Request<EditHandoverItemRequest>,
    ) -> Answer<EditHandoverItemResponse> {
        let (caller, r) = split(request)?;
        let item = self
            .ops
            .edit_handover_item(
                &caller,
                &r.handover_id,
                &r.kind,
                &r.item_id,
                convert::action_name(r.action),
                &r.to_rep_id,
            )
            .await?;
        Ok(Response::new(EditHandoverItemResponse {
            item: Some(convert::item(item)),
        }))
    }

    async fn apply_handover(
        &self,
        request: Request<ApplyHandoverRequest>,
    ) -> Answer<ApplyHandoverResponse> {
        let (caller, r) = split(request)?;
        let summary = self
            .ops
            .apply_handover(&caller, &r.handover_id, r.task_due_days)
            .await?;
        Ok(Response::new(ApplyHandoverResponse {
            handover: Some(convert::handover(summary)),
        }))
    }

    async fn list_tasks(&self, request: Request<ListTasksRequest>) -> Answer<ListTasksResponse> {
        let (caller, r) = split(request)?;
        let (tasks, next_page_token) = self
            .ops
            .list_tasks(
                &caller,
                &r.owner_rep_id,
                &r.handover_id,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListTasksResponse {
            tasks: tasks.into_iter().map(convert::task).collect(),
            next_page_token,
        }))
    }

    async fn complete_task(
        &self,
        request: Request<CompleteTaskRequest>,
    ) -> Answer<CompleteTaskResponse> {
        let (caller, r) = split(request)?;
        let (task, summary) = self.ops.complete_task(&caller, &r.task_id).await?;
        Ok(Response::new(CompleteTaskResponse {
            task: Some(convert::task(task)),
            handover: Some(convert::handover(summary)),
        }))
    }
}

//! The gRPC API. Any authenticated caller may read the funnel, reps
//! included: the counts are team performance figures a sales floor shares
//! openly, and they name no customer. Narrow this when reports carry
//! values or customer data.

use leadwheel_plumbing::auth;
use leadwheel_proto::reporting::v1::reporting_service_server::ReportingService;
use leadwheel_proto::reporting::v1::{
    FunnelCounts, GetFunnelRequest, GetFunnelResponse, RepFunnel, TeamFunnel,
};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::funnel::Metric;
use crate::store::{Counts, FunnelStore};

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 128;

/// The ReportingService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    funnel: FunnelStore,
}

impl Api {
    /// An API reading from `funnel`.
    pub fn new(funnel: FunnelStore) -> Self {
        Self { funnel }
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
}

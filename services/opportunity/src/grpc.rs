//! The gRPC API: reps read their own leads in work; managers and admins
//! read everyone's (a manager whose token names a team, that team's).
//! Integrations have no business reading a rep's book and are refused.

use leadwheel_plumbing::auth::{self, Caller, Role};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_proto::opportunity::v1::opportunity_service_server::OpportunityService;
use leadwheel_proto::opportunity::v1::{
    GetLeadInWorkRequest, GetLeadInWorkResponse, LeadInWork as LeadInWorkMessage,
    ListLeadsInWorkRequest, ListLeadsInWorkResponse,
};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::store::{LeadFilter, LeadInWork, LeadStore};

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 128;

/// The OpportunityService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    leads: LeadStore,
}

impl Api {
    /// An API reading from `leads`.
    pub fn new(leads: LeadStore) -> Self {
        Self { leads }
    }

    async fn list(
        &self,
        caller: &Caller,
        request: ListLeadsInWorkRequest,
    ) -> Result<ListLeadsInWorkResponse, Error> {
        check_id("rep_id", &request.rep_id, true)?;
        let limit = paging::page_size(request.page_size)?;
        let filter = list_filter(caller, &request.rep_id)?;
        let cursor = Cursor::decode(&request.page_token, &filter.query_key())?;
        // One extra row tells whether another page follows.
        let mut leads = self.leads.list(&filter, &cursor, limit + 1).await?;
        let next_page_token = if leads.len() as i64 > limit {
            leads.truncate(limit as usize);
            let last = leads.last().expect("a full page has a last row");
            Cursor {
                query: filter.query_key(),
                after_ms: last.opened_at_ms,
                after_id: last.lead_id.clone(),
            }
            .encode()
        } else {
            String::new()
        };
        Ok(ListLeadsInWorkResponse {
            leads: leads.into_iter().map(to_message).collect(),
            next_page_token,
        })
    }

    async fn get(&self, caller: &Caller, lead_id: &str) -> Result<GetLeadInWorkResponse, Error> {
        check_id("lead_id", lead_id, false)?;
        let lead = self
            .leads
            .get(lead_id)
            .await?
            .ok_or_else(|| Error::LeadNotFound(lead_id.to_string()))?;
        may_read(caller, &lead)?;
        Ok(GetLeadInWorkResponse {
            lead: Some(to_message(lead)),
        })
    }
}

/// Which leads `caller` gets when asking for `rep_id`'s (empty: everyone's).
fn list_filter(caller: &Caller, rep_id: &str) -> Result<LeadFilter, Error> {
    let requested = (!rep_id.is_empty()).then(|| rep_id.to_string());
    match caller.role {
        // A rep asking for "everyone" gets their own: that is all they may see.
        Role::Rep => match requested {
            None => Ok(LeadFilter {
                rep_id: Some(caller.subject.clone()),
                team_id: None,
            }),
            Some(rep) if rep == caller.subject => Ok(LeadFilter {
                rep_id: Some(rep),
                team_id: None,
            }),
            Some(rep) => Err(Error::PermissionDenied(format!(
                "rep {} may not list the leads of rep {rep}",
                caller.subject
            ))),
        },
        Role::Manager => Ok(LeadFilter {
            rep_id: requested,
            team_id: caller.team.clone(),
        }),
        Role::Admin => Ok(LeadFilter {
            rep_id: requested,
            team_id: None,
        }),
        Role::Integration => Err(Error::PermissionDenied(
            "integrations may not read leads in work".into(),
        )),
    }
}

/// Refuses unless `caller` may read `lead`.
fn may_read(caller: &Caller, lead: &LeadInWork) -> Result<(), Error> {
    let allowed = match caller.role {
        Role::Admin => true,
        Role::Manager => caller
            .team
            .as_ref()
            .is_none_or(|team| *team == lead.team_id),
        Role::Rep => caller.subject == lead.rep_id,
        Role::Integration => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "{} may not read lead {}",
            caller.subject, lead.lead_id
        )))
    }
}

fn check_id(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), Error> {
    if value.is_empty() && !may_be_empty {
        return Err(Error::invalid(field, "is required"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("is {} bytes long; the limit is {MAX_ID_LEN}", value.len()),
        ));
    }
    Ok(())
}

fn to_message(lead: LeadInWork) -> LeadInWorkMessage {
    LeadInWorkMessage {
        lead_id: lead.lead_id,
        rep_id: lead.rep_id,
        team_id: lead.team_id,
        status: lead.status,
        claimed_at_ms: lead.claimed_at_ms,
        opened_at_ms: lead.opened_at_ms,
    }
}

fn caller_of<T>(request: &Request<T>) -> Result<Caller, Error> {
    auth::caller(request).map_err(|_| Error::Unauthenticated)
}

#[tonic::async_trait]
impl OpportunityService for Api {
    async fn list_leads_in_work(
        &self,
        request: Request<ListLeadsInWorkRequest>,
    ) -> Result<Response<ListLeadsInWorkResponse>, Status> {
        let caller = caller_of(&request)?;
        Ok(Response::new(
            self.list(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_lead_in_work(
        &self,
        request: Request<GetLeadInWorkRequest>,
    ) -> Result<Response<GetLeadInWorkResponse>, Status> {
        let caller = caller_of(&request)?;
        let lead_id = request.into_inner().lead_id;
        Ok(Response::new(self.get(&caller, &lead_id).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, role: Role, team: Option<&str>) -> Caller {
        Caller {
            subject: subject.into(),
            role,
            team: team.map(str::to_string),
        }
    }

    #[test]
    fn reps_list_only_their_own() {
        let ana = caller("ana", Role::Rep, None);
        assert_eq!(
            list_filter(&ana, "").unwrap().rep_id.as_deref(),
            Some("ana")
        );
        assert_eq!(
            list_filter(&ana, "ana").unwrap().rep_id.as_deref(),
            Some("ana")
        );
        assert!(matches!(
            list_filter(&ana, "bo"),
            Err(Error::PermissionDenied(_))
        ));
    }

    #[test]
    fn scoped_managers_see_their_team() {
        let manager = caller("m", Role::Manager, Some("north"));
        assert_eq!(
            list_filter(&manager, "").unwrap().team_id.as_deref(),
            Some("north")
        );
        let lead = LeadInWork {
            lead_id: "l".into(),
            rep_id: "bo".into(),
            team_id: "south".into(),
            status: "in_work".into(),
            claimed_at_ms: 1,
            opened_at_ms: 1,
        };
        assert!(may_read(&manager, &lead).is_err());
        assert!(may_read(&caller("m", Role::Manager, None), &lead).is_ok());
        assert!(may_read(&caller("i", Role::Integration, None), &lead).is_err());
    }
}

//! The gRPC `IntakeService`, for CRM integrations and operators.
//!
//! Who may do what: integrations, managers and admins may create, read and
//! list leads. Reps may do none of it here: until the wheel offers a lead to
//! a rep, its details are not theirs to see (DESIGN: an offer is exclusive),
//! and the wheel shows a rep the leads they were offered or own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadwheel_plumbing::auth::{self, Caller, Role};
use leadwheel_plumbing::paging::{self, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use leadwheel_proto::intake::v1::intake_service_server::IntakeService;
use leadwheel_proto::intake::v1::{
    CreateLeadRequest, CreateLeadResponse, GetLeadRequest, GetLeadResponse, ListLeadsRequest,
    ListLeadsResponse,
};
use tonic::{Request, Response, Status};

use crate::error::IntakeError;
use crate::leads::{Leads, RequestKey};
use crate::validate::{self, LeadInput};

/// Roles that may use this API.
const READERS_AND_WRITERS: &[Role] = &[Role::Integration, Role::Manager, Role::Admin];
/// Version tag inside page tokens, so their format can change later.
const TOKEN_PREFIX: &str = "v1:";

/// The gRPC API over [`Leads`].
#[derive(Clone, Debug)]
pub struct IntakeApi {
    leads: Leads,
}

impl IntakeApi {
    /// The API over `leads`.
    pub fn new(leads: Leads) -> Self {
        Self { leads }
    }

    async fn create(
        &self,
        caller: Caller,
        request: CreateLeadRequest,
    ) -> Result<CreateLeadResponse, IntakeError> {
        require(&caller, "create leads")?;
        let request_id = validate::request_id("request_id", &request.request_id)?;
        let input = LeadInput {
            email: Some(request.email),
            name: Some(request.name),
            company: Some(request.company),
            phone: Some(request.phone),
            website: Some(request.website),
            country: Some(request.country),
            source: Some(request.source),
            message: Some(request.message),
        };
        let lead = validate::validate(&input)?;
        let key = request_id.map(|id| RequestKey {
            scope: format!("grpc/{}", caller.subject),
            id,
        });
        let created = self.leads.create(lead, key).await?;
        Ok(CreateLeadResponse {
            lead: Some(created.lead.to_proto()),
            duplicate: created.duplicate,
        })
    }

    async fn get(
        &self,
        caller: Caller,
        request: GetLeadRequest,
    ) -> Result<GetLeadResponse, IntakeError> {
        require(&caller, "read leads")?;
        let lead_id = request.lead_id.trim();
        if lead_id.is_empty() {
            return Err(IntakeError::field("lead_id", "required", "is required"));
        }
        let lead = self.leads.get(lead_id).await?;
        Ok(GetLeadResponse {
            lead: Some(lead.to_proto()),
        })
    }

    async fn list(
        &self,
        caller: Caller,
        request: ListLeadsRequest,
    ) -> Result<ListLeadsResponse, IntakeError> {
        require(&caller, "list leads")?;
        // Intake's tokens are lead ids (not query-bound cursors), so only the
        // size rule is shared; its message keeps intake's wording.
        let page_size = paging::page_size(request.page_size).map_err(|_| {
            IntakeError::field(
                "page_size",
                "out_of_range",
                format!(
                    "{} is outside 1..{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})",
                    request.page_size
                ),
            )
        })?;
        let before = decode_page_token(&request.page_token)?;
        // Fetch one more than asked: if it exists, there is a next page.
        let mut leads = self.leads.list(before.as_deref(), page_size + 1).await?;
        let next_page_token = if leads.len() > page_size as usize {
            leads.truncate(page_size as usize);
            leads
                .last()
                .map(|lead| encode_page_token(&lead.lead_id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListLeadsResponse {
            leads: leads.iter().map(|lead| lead.to_proto()).collect(),
            next_page_token,
        })
    }
}

fn require(caller: &Caller, what: &str) -> Result<(), IntakeError> {
    if READERS_AND_WRITERS.contains(&caller.role) {
        Ok(())
    } else {
        Err(IntakeError::PermissionDenied(format!(
            "role {:?} may not {what} in intake (needs integration, manager or admin)",
            caller.role
        )))
    }
}

/// Page tokens are opaque to clients: the last lead id of the page,
/// versioned and base64url-encoded.
fn encode_page_token(last_lead_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{last_lead_id}"))
}

fn decode_page_token(token: &str) -> Result<Option<String>, IntakeError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        IntakeError::field(
            "page_token",
            "invalid_format",
            "is not a token this server issued",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.strip_prefix(TOKEN_PREFIX) {
        Some(id) if id.starts_with("lead_") && id.len() <= 64 => Ok(Some(id.to_string())),
        _ => Err(invalid()),
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn create_lead(
        &self,
        request: Request<CreateLeadRequest>,
    ) -> Result<Response<CreateLeadResponse>, Status> {
        let caller = auth::caller(&request)?;
        Ok(Response::new(
            self.create(caller, request.into_inner()).await?,
        ))
    }

    async fn get_lead(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<GetLeadResponse>, Status> {
        let caller = auth::caller(&request)?;
        Ok(Response::new(self.get(caller, request.into_inner()).await?))
    }

    async fn list_leads(
        &self,
        request: Request<ListLeadsRequest>,
    ) -> Result<Response<ListLeadsResponse>, Status> {
        let caller = auth::caller(&request)?;
        Ok(Response::new(
            self.list(caller, request.into_inner()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_refuse_forgeries() {
        let token = encode_page_token("lead_01J0000000000000000000000");
        assert_eq!(
            decode_page_token(&token).unwrap().as_deref(),
            Some("lead_01J0000000000000000000000")
        );
        assert_eq!(decode_page_token("").unwrap(), None);
        for bad in ["!!", "bGVhZF8x", &URL_SAFE_NO_PAD.encode("v1:x' OR 1=1")] {
            let err = decode_page_token(bad).unwrap_err();
            assert_eq!(err.field_name(), Some("page_token"));
        }
    }
}

//! The gRPC `IntakeService`, for CRM integrations and operators.
//!
//! Who may do what: integrations, managers and admins may create, read,
//! list and import leads; only admins may erase a person. Reps may do none
//! of it here: until the wheel offers a lead to a rep, its details are not
//! theirs to see (DESIGN: an offer is exclusive), and the wheel shows a rep
//! the leads they were offered or own.

use leadwheel_plumbing::auth::{self, Caller, Role};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_proto::intake::v1::intake_service_server::IntakeService;
use leadwheel_proto::intake::v1::{
    CreateLeadRequest, CreateLeadResponse, ErasePersonRequest, ErasePersonResponse, GetLeadRequest,
    GetLeadResponse, ImportLeadsRequest, ImportLeadsResponse, ImportRowResult, LeadFields,
    ListLeadsRequest, ListLeadsResponse,
};
use tonic::{Request, Response, Status};

use crate::error::IntakeError;
use crate::leads::{Leads, RequestKey};
use crate::store::{ListFilter, STATUS_ACTIVE, STATUS_ERASED};
use crate::validate::{self, LeadInput};

/// Roles that may use this API.
const READERS_AND_WRITERS: &[Role] = &[Role::Integration, Role::Manager, Role::Admin];
/// Most rows in one `ImportLeads` call.
pub const MAX_IMPORT_ROWS: usize = 500;

/// The gRPC API over [`Leads`].
#[derive(Clone, Debug)]
pub struct IntakeApi {
    leads: Leads,
}

/// The signup input named by a [`LeadFields`].
pub fn input_from_fields(fields: LeadFields) -> LeadInput {
    let some = |s: String| Some(s);
    LeadInput {
        email: some(fields.email),
        name: some(fields.name),
        company: some(fields.company),
        phone: some(fields.phone),
        website: some(fields.website),
        domain: some(fields.domain),
        company_size: some(fields.company_size),
        country: some(fields.country),
        source: some(fields.source),
        utm: [
            some(fields.utm_source),
            some(fields.utm_medium),
            some(fields.utm_campaign),
            some(fields.utm_term),
            some(fields.utm_content),
        ],
        product: some(fields.product),
        plan: some(fields.plan),
        consent: some(fields.consent.to_string()),
        message: some(fields.message),
        attributes: fields.attributes.into_iter().collect(),
    }
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
        let input = match request.fields {
            Some(fields) => {
                let flat = [
                    ("email", &request.email),
                    ("name", &request.name),
                    ("company", &request.company),
                    ("phone", &request.phone),
                    ("country", &request.country),
                    ("source", &request.source),
                    ("message", &request.message),
                    ("website", &request.website),
                ];
                if let Some((field, _)) = flat.iter().find(|(_, v)| !v.is_empty()) {
                    return Err(IntakeError::field(
                        field,
                        "conflict",
                        "is set beside `fields`; send every value inside `fields`",
                    ));
                }
                input_from_fields(fields)
            }
            None => LeadInput {
                email: Some(request.email),
                name: Some(request.name),
                company: Some(request.company),
                phone: Some(request.phone),
                website: Some(request.website),
                country: Some(request.country),
                source: Some(request.source),
                message: Some(request.message),
                ..LeadInput::default()
            },
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

    async fn import(
        &self,
        caller: Caller,
        request: ImportLeadsRequest,
    ) -> Result<ImportLeadsResponse, IntakeError> {
        require(&caller, "import leads")?;
        if request.rows.is_empty() || request.rows.len() > MAX_IMPORT_ROWS {
            return Err(IntakeError::field(
                "rows",
                "out_of_range",
                format!(
                    "{} rows; send 1 to {MAX_IMPORT_ROWS} per call",
                    request.rows.len()
                ),
            ));
        }
        // Every row goes to the writer at once, so a call commits in a few
        // groups rather than row by row.
        let rows = request.rows.into_iter().map(|row| {
            let caller = caller.clone();
            async move {
                let number = row.row;
                let outcome = async {
                    let request_id = validate::request_id("request_id", &row.request_id)?;
                    let lead =
                        validate::validate(&input_from_fields(row.fields.unwrap_or_default()))?;
                    if request.dry_run {
                        return Ok(None);
                    }
                    let key = request_id.map(|id| RequestKey {
                        scope: format!("grpc/{}", caller.subject),
                        id,
                    });
                    self.leads.create(lead, key).await.map(Some)
                }
                .await;
                let mut result = ImportRowResult {
                    row: number,
                    ..ImportRowResult::default()
                };
                match outcome {
                    Ok(Some(created)) => {
                        result.lead_id = created.lead.lead_id;
                        result.duplicate = created.duplicate;
                    }
                    Ok(None) => {}
                    Err(err @ (IntakeError::Unavailable(_) | IntakeError::Internal(_))) => {
                        return Err(err);
                    }
                    Err(err) => {
                        result.error_field = err.field_name().unwrap_or_default().to_string();
                        result.error_code = err.code().to_string();
                        result.error_message = err.to_string();
                    }
                }
                Ok(result)
            }
        });
        let results = futures::future::join_all(rows)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, IntakeError>>()?;
        Ok(ImportLeadsResponse { results })
    }

    async fn erase(
        &self,
        caller: Caller,
        request: ErasePersonRequest,
    ) -> Result<ErasePersonResponse, IntakeError> {
        if caller.role != Role::Admin {
            return Err(IntakeError::PermissionDenied(format!(
                "role {:?} may not erase people (needs admin)",
                caller.role
            )));
        }
        let lead = validate::validate(&LeadInput {
            email: Some(request.email),
            ..LeadInput::default()
        })?;
        let lead_ids = self
            .leads
            .erase(&lead.email_key, &format!("admin:{}", caller.subject))
            .await?;
        Ok(ErasePersonResponse { lead_ids })
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
        let paging_error =
            |err: paging::PagingError| IntakeError::field(err.field(), "invalid", err.reason());
        let page_size = paging::page_size(request.page_size).map_err(paging_error)?;
        let filter = filter(&request)?;
        let cursor = Cursor::decode(&request.page_token, &filter.query_key())
            .map_err(|err| IntakeError::field("page_token", "invalid_format", err.reason()))?;
        // Fetch one more than asked: if it exists, there is a next page.
        let mut leads = self.leads.list(&filter, &cursor, page_size + 1).await?;
        let next_page_token = if leads.len() > page_size as usize {
            leads.truncate(page_size as usize);
            leads
                .last()
                .map(|lead| {
                    Cursor {
                        query: filter.query_key(),
                        after_ms: lead.created_at_ms,
                        after_id: lead.lead_id.clone(),
                    }
                    .encode()
                })
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

fn filter(request: &ListLeadsRequest) -> Result<ListFilter, IntakeError> {
    if request.created_after_ms < 0 || request.created_before_ms < 0 {
        return Err(IntakeError::field(
            if request.created_after_ms < 0 {
                "created_after_ms"
            } else {
                "created_before_ms"
            },
            "out_of_range",
            "must be an epoch time in ms (or 0 for no bound)",
        ));
    }
    if request.created_before_ms > 0 && request.created_before_ms <= request.created_after_ms {
        return Err(IntakeError::field(
            "created_before_ms",
            "out_of_range",
            "must be later than created_after_ms",
        ));
    }
    let bounded = |field: &'static str, value: &str| -> Result<String, IntakeError> {
        let value = value.trim();
        if value.len() > 64 {
            return Err(IntakeError::field(
                field,
                "too_long",
                "at most 64 characters",
            ));
        }
        Ok(value.to_string())
    };
    let status = bounded("status", &request.status)?.to_lowercase();
    if !["", STATUS_ACTIVE, STATUS_ERASED].contains(&status.as_str()) {
        return Err(IntakeError::field(
            "status",
            "invalid_value",
            format!("{status:?}: use {STATUS_ACTIVE} or {STATUS_ERASED}"),
        ));
    }
    Ok(ListFilter {
        created_after_ms: request.created_after_ms,
        created_before_ms: request.created_before_ms,
        tier: bounded("tier", &request.tier)?,
        source: bounded("source", &request.source)?.to_lowercase(),
        status,
    })
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

    async fn import_leads(
        &self,
        request: Request<ImportLeadsRequest>,
    ) -> Result<Response<ImportLeadsResponse>, Status> {
        let caller = auth::caller(&request)?;
        Ok(Response::new(
            self.import(caller, request.into_inner()).await?,
        ))
    }

    async fn erase_person(
        &self,
        request: Request<ErasePersonRequest>,
    ) -> Result<Response<ErasePersonResponse>, Status> {
        let caller = auth::caller(&request)?;
        Ok(Response::new(
            self.erase(caller, request.into_inner()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let ok = filter(&ListLeadsRequest {
            tier: " A ".into(),
            source: "Website".into(),
            status: "ERASED".into(),
            ..ListLeadsRequest::default()
        })
        .unwrap();
        assert_eq!(
            (ok.tier.as_str(), ok.source.as_str(), ok.status.as_str()),
            ("A", "website", "erased")
        );
        for (request, field) in [
            (
                ListLeadsRequest {
                    status: "gone".into(),
                    ..Default::default()
                },
                "status",
            ),
            (
                ListLeadsRequest {
                    created_after_ms: -1,
                    ..Default::default()
                },
                "created_after_ms",
            ),
            (
                ListLeadsRequest {
                    created_after_ms: 10,
                    created_before_ms: 5,
                    ..Default::default()
                },
                "created_before_ms",
            ),
            (
                ListLeadsRequest {
                    tier: "x".repeat(65),
                    ..Default::default()
                },
                "tier",
            ),
        ] {
            assert_eq!(filter(&request).unwrap_err().field_name(), Some(field));
        }
    }
}

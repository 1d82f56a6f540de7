//! A lead's page and what the rep does on it, each through the opportunity
//! service as the signed-in user: LogActivity (a call with its recording
//! link and notes at times; an email, visit, meeting, note), SetFollowUp,
//! ConvertLead, DisqualifyLead, and hand back (DisqualifyLead with
//! `back_to_pool`, as `leadctl opps disqualify --back-to-pool`: the wheel
//! pools it for another rep). The service decides who may; its refusals
//! (INVALID_ARGUMENT naming the field, PERMISSION_DENIED, …) are shown
//! beside the form with their 4xx status.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use http::HeaderMap;
use leadwheel_proto::opportunity::v1::{
    ActivityKind, ConvertLeadRequest, DisqualifyLeadRequest, GetLeadInWorkRequest,
    ListHistoryRequest, ListStagesRequest, LogActivityRequest, SetFollowUpRequest,
};
use leadwheel_proto::wheel::v1::GetLeadRoutingRequest;

use crate::error::ConsoleError;
use crate::forms::{self, Refused, unloaded};
use crate::i18n;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::lead_actions::{LeadData, panel};
use crate::views::{Nav, page};

/// A form as posted, field by field.
type Fields = Form<Vec<(String, String)>>;

/// Reads the lead, what the wheel showed of it, its history and the
/// stages. Only the lead itself must be there (it carries the access
/// decision); the rest is shown when the services answer.
pub async fn load(state: &AppState, user: &User, lead_id: &str) -> Result<LeadData, tonic::Status> {
    let mut opportunity = state.upstream.opportunity(user);
    let lead = opportunity
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: lead_id.to_string(),
        })
        .await?
        .into_inner()
        .lead
        .unwrap_or_default();
    let mut wheel = state.upstream.wheel(user);
    let mut history_client = opportunity.clone();
    let (summary, history, stages) = tokio::join!(
        wheel.get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.to_string(),
        }),
        history_client.list_history(ListHistoryRequest {
            lead_id: lead_id.to_string(),
            page_size: 50,
            ..Default::default()
        }),
        opportunity.list_stages(ListStagesRequest {}),
    );
    let summary = summary.ok().and_then(|answer| {
        answer
            .into_inner()
            .offers
            .into_iter()
            .rev()
            .find_map(|o| o.lead)
    });
    let history = match history {
        Ok(answer) => answer.into_inner().activities,
        Err(status) => {
            tracing::warn!(error = %status, lead_id, "reading the lead's history");
            Vec::new()
        }
    };
    let stages = stages.map(|a| a.into_inner().stages).unwrap_or_default();
    Ok(LeadData {
        lead,
        summary,
        history,
        stages,
    })
}

/// `GET /leads/<id>`: the lead, its actions and history. A rep opening
/// another rep's lead gets the service's PERMISSION_DENIED, as a 403.
pub async fn page_handler(
    State(state): State<AppState>,
    signed: Signed,
    Path(lead_id): Path<String>,
) -> Response {
    let user = signed.user();
    match load(&state, user, &lead_id).await {
        Ok(data) => {
            let body = panel(&data, &signed.session.csrf, None, user.lang);
            Html(
                page(
                    Some(&signed.session),
                    user.lang,
                    i18n::LEAD.get(user.lang),
                    Nav::Leads,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(status) => error_page(&signed, status.into(), Nav::Leads),
    }
}

/// Answers a lead form: on success a plain form is sent back to the lead's
/// page, htmx gets the panel anew; on failure both get the panel with the
/// refusal beside the form (and what was typed), with its status.
async fn answer(
    state: &AppState,
    signed: &Signed,
    headers: &HeaderMap,
    lead_id: &str,
    form: &'static str,
    values: HashMap<String, String>,
    result: Result<(), ConsoleError>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let refused = match result {
        Ok(()) if !forms::is_htmx(headers) => {
            return forms::done(headers, &format!("/leads/{lead_id}"), String::new);
        }
        Ok(()) => None,
        Err(error) => Some(Refused::new(form, error, values, lang)),
    };
    let data = match load(state, user, lead_id).await {
        Ok(data) => data,
        Err(status) => return unloaded(signed, headers, refused, status, Nav::Leads),
    };
    let body = panel(&data, &signed.session.csrf, refused.as_ref(), lang);
    let status = refused
        .as_ref()
        .map_or(http::StatusCode::OK, Refused::status_code);
    if forms::is_htmx(headers) {
        (status, Html(body.into_string())).into_response()
    } else {
        let html = page(
            Some(&signed.session),
            lang,
            i18n::LEAD.get(lang),
            Nav::Leads,
            body,
        );
        (status, Html(html.into_string())).into_response()
    }
}

fn field<'a>(values: &'a HashMap<String, String>, name: &str) -> &'a str {
    values.get(name).map_or("", |v| v.trim())
}

fn activity_request(
    lead_id: &str,
    values: &HashMap<String, String>,
) -> Result<LogActivityRequest, ConsoleError> {
    let kind = match field(values, "kind") {
        "call" => ActivityKind::Call,
        "email" => ActivityKind::Email,
        "visit" => ActivityKind::Visit,
        "meeting" => ActivityKind::Meeting,
        "note" => ActivityKind::Note,
        other => {
            return Err(ConsoleError::BadRequest {
                field: "kind",
                message: format!("{other:?} is not a kind (call, email, visit, meeting, note)"),
            });
        }
    };
    let mut request = LogActivityRequest {
        request_id: field(values, "request_id").to_string(),
        kind: kind as i32,
        lead_id: lead_id.to_string(),
        duration_seconds: forms::parse_duration("duration", field(values, "duration"))?,
        outcome: field(values, "outcome").to_string(),
        recording_url: field(values, "recording_url").to_string(),
        notes: forms::parse_notes(values.get("notes").map_or("", String::as_str))?,
        subject: field(values, "subject").to_string(),
        body: values.get("body").map_or("", |b| b.trim()).to_string(),
        next_follow_up_date: forms::parse_date("follow_up", field(values, "follow_up"))?,
        ..Default::default()
    };
    if request.request_id.is_empty() {
        request.request_id = forms::request_id();
    }
    Ok(request)
}

/// `POST /leads/<id>/activity`: logs a call, email, visit, meeting or note.
pub async fn log_activity(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(lead_id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let request = activity_request(&lead_id, &values)?;
        state
            .upstream
            .opportunity(signed.user())
            .log_activity(request)
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(
        &state, &signed, &headers, &lead_id, "activity", values, result,
    )
    .await
}

/// `POST /leads/<id>/follow-up`: sets (empty: clears) the next follow-up.
pub async fn set_follow_up(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(lead_id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let date = forms::parse_date("date", field(&values, "date"))?;
        state
            .upstream
            .opportunity(signed.user())
            .set_follow_up(SetFollowUpRequest {
                lead_id: lead_id.clone(),
                opportunity_id: String::new(),
                date,
            })
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(
        &state,
        &signed,
        &headers,
        &lead_id,
        "follow_up",
        values,
        result,
    )
    .await
}

/// `POST /leads/<id>/convert`: an account and an opportunity from the lead.
pub async fn convert(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(lead_id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let currency = field(&values, "currency").to_ascii_uppercase();
        let request = ConvertLeadRequest {
            request_id: match field(&values, "request_id") {
                "" => forms::request_id(),
                id => id.to_string(),
            },
            lead_id: lead_id.clone(),
            account_name: field(&values, "account_name").to_string(),
            domains: field(&values, "domains")
                .split([',', ' '])
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
            tier: field(&values, "tier").to_string(),
            opportunity_name: field(&values, "opportunity_name").to_string(),
            amount_minor: forms::parse_amount("amount", field(&values, "amount"), &currency)?,
            currency,
            expected_close_date: forms::parse_date(
                "expected_close_date",
                field(&values, "expected_close_date"),
            )?,
            stage: field(&values, "stage").to_string(),
        };
        state
            .upstream
            .opportunity(signed.user())
            .convert_lead(request)
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(
        &state, &signed, &headers, &lead_id, "convert", values, result,
    )
    .await
}

async fn disqualify_as(
    state: &AppState,
    signed: &Signed,
    lead_id: &str,
    values: &HashMap<String, String>,
    back_to_pool: bool,
) -> Result<(), ConsoleError> {
    let reason = field(values, "reason");
    if reason.is_empty() {
        return Err(ConsoleError::BadRequest {
            field: "reason",
            message: "give a reason".into(),
        });
    }
    state
        .upstream
        .opportunity(signed.user())
        .disqualify_lead(DisqualifyLeadRequest {
            lead_id: lead_id.to_string(),
            reason: reason.to_string(),
            back_to_pool,
            note: field(values, "note").to_string(),
        })
        .await?;
    Ok(())
}

/// `POST /leads/<id>/disqualify`: disqualifies the lead with a reason.
pub async fn disqualify(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(lead_id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = disqualify_as(&state, &signed, &lead_id, &values, false).await;
    answer(
        &state,
        &signed,
        &headers,
        &lead_id,
        "disqualify",
        values,
        result,
    )
    .await
}

/// `POST /leads/<id>/hand-back`: gives the lead up to the team's open pool
/// for another rep (DisqualifyLead with `back_to_pool`).
pub async fn hand_back(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(lead_id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = disqualify_as(&state, &signed, &lead_id, &values, true).await;
    answer(
        &state,
        &signed,
        &headers,
        &lead_id,
        "hand_back",
        values,
        result,
    )
    .await
}

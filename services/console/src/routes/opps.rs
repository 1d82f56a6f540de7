//! My opportunities (ListOpportunities as the rep: their own; a manager's
//! list is whatever the service lets them see) and one opportunity
//! (GetOpportunity) with the owner's changes: MoveStage, SetAmount (amount,
//! currency, expected close date), SetForecastCategory and SetFollowUp,
//! each with the version the page showed (a change made meanwhile is the
//! service's ABORTED, a 409). A rep opening another rep's opportunity gets
//! the service's PERMISSION_DENIED, a 403.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use http::HeaderMap;
use leadwheel_proto::opportunity::v1::{
    GetOpportunityRequest, ListOpportunitiesRequest, ListStagesRequest, MoveStageRequest,
    SetAmountRequest, SetFollowUpRequest, SetForecastCategoryRequest,
};

use crate::error::ConsoleError;
use crate::forms::{self, Refused, unloaded};
use crate::i18n;
use crate::routes::work::error_page;
use crate::state::{AppState, Signed};
use crate::views::{Nav, opps, page};

type Fields = Form<Vec<(String, String)>>;

/// `GET /opportunities`: the first 200.
pub async fn list(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let owner = if user.is_manager() {
        String::new()
    } else {
        user.id.clone()
    };
    let answer = state
        .upstream
        .opportunity(user)
        .list_opportunities(ListOpportunitiesRequest {
            owner_rep_id: owner,
            page_size: 200,
            ..Default::default()
        })
        .await;
    match answer {
        Ok(answer) => {
            let body = opps::list(&answer.into_inner().opportunities, user.lang);
            Html(
                page(
                    Some(&signed.session),
                    user.lang,
                    i18n::NAV_OPPS.get(user.lang),
                    Nav::Opportunities,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(status) => error_page(&signed, status.into(), Nav::Opportunities),
    }
}

async fn panel(
    state: &AppState,
    signed: &Signed,
    id: &str,
    refused: Option<&Refused>,
) -> Result<maud::Markup, tonic::Status> {
    let user = signed.user();
    let mut client = state.upstream.opportunity(user);
    let got = client
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: id.to_string(),
        })
        .await?
        .into_inner();
    let stages = client
        .list_stages(ListStagesRequest {})
        .await
        .map(|a| a.into_inner().stages)
        .unwrap_or_default();
    Ok(opps::panel(
        &got.opportunity.unwrap_or_default(),
        &got.history,
        &stages,
        &signed.session.csrf,
        refused,
        user.lang,
    ))
}

/// `GET /opportunities/<id>`.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let lang = signed.user().lang;
    match panel(&state, &signed, &id, None).await {
        Ok(body) => Html(
            page(
                Some(&signed.session),
                lang,
                i18n::OPPORTUNITY.get(lang),
                Nav::Opportunities,
                body,
            )
            .into_string(),
        )
        .into_response(),
        Err(status) => error_page(&signed, status.into(), Nav::Opportunities),
    }
}

async fn answer(
    state: &AppState,
    signed: &Signed,
    headers: &HeaderMap,
    id: &str,
    form: &'static str,
    values: HashMap<String, String>,
    result: Result<(), ConsoleError>,
) -> Response {
    let lang = signed.user().lang;
    let refused = match result {
        Ok(()) if !forms::is_htmx(headers) => {
            return forms::done(headers, &format!("/opportunities/{id}"), String::new);
        }
        Ok(()) => None,
        Err(error) => Some(Refused::new(form, error, values, lang)),
    };
    let body = match panel(state, signed, id, refused.as_ref()).await {
        Ok(body) => body,
        Err(status) => return unloaded(signed, headers, refused, status, Nav::Opportunities),
    };
    let status = refused
        .as_ref()
        .map_or(http::StatusCode::OK, Refused::status_code);
    if forms::is_htmx(headers) {
        (status, Html(body.into_string())).into_response()
    } else {
        let html = page(
            Some(&signed.session),
            lang,
            i18n::OPPORTUNITY.get(lang),
            Nav::Opportunities,
            body,
        );
        (status, Html(html.into_string())).into_response()
    }
}

fn field<'a>(values: &'a HashMap<String, String>, name: &str) -> &'a str {
    values.get(name).map_or("", |v| v.trim())
}

fn version(values: &HashMap<String, String>) -> Result<i64, ConsoleError> {
    match field(values, "version") {
        "" => Ok(0),
        v => v.parse().map_err(|_| ConsoleError::BadRequest {
            field: "version",
            message: format!("{v:?} is not a version"),
        }),
    }
}

/// `POST /opportunities/<id>/stage`.
pub async fn move_stage(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let request = MoveStageRequest {
            opportunity_id: id.clone(),
            stage: field(&values, "stage").to_string(),
            reason: field(&values, "reason").to_string(),
            expected_version: version(&values)?,
        };
        state
            .upstream
            .opportunity(signed.user())
            .move_stage(request)
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(&state, &signed, &headers, &id, "stage", values, result).await
}

/// `POST /opportunities/<id>/amount`: amount, currency, expected close date.
pub async fn set_amount(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let currency = field(&values, "currency").to_ascii_uppercase();
        let request = SetAmountRequest {
            opportunity_id: id.clone(),
            amount_minor: forms::parse_amount("amount", field(&values, "amount"), &currency)?,
            currency,
            expected_close_date: forms::parse_date(
                "expected_close_date",
                field(&values, "expected_close_date"),
            )?,
            reason: field(&values, "reason").to_string(),
            expected_version: version(&values)?,
        };
        state
            .upstream
            .opportunity(signed.user())
            .set_amount(request)
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(&state, &signed, &headers, &id, "amount", values, result).await
}

/// `POST /opportunities/<id>/category`: the forecast category (empty: the
/// stage's default).
pub async fn set_category(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let request = SetForecastCategoryRequest {
            opportunity_id: id.clone(),
            category: field(&values, "category").to_string(),
            expected_version: version(&values)?,
        };
        state
            .upstream
            .opportunity(signed.user())
            .set_forecast_category(request)
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(&state, &signed, &headers, &id, "category", values, result).await
}

/// `POST /opportunities/<id>/follow-up`.
pub async fn set_follow_up(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(body): Fields,
) -> Response {
    let values = forms::values(&body);
    let result = async {
        let date = forms::parse_date("date", field(&values, "date"))?;
        state
            .upstream
            .opportunity(signed.user())
            .set_follow_up(SetFollowUpRequest {
                lead_id: String::new(),
                opportunity_id: id.clone(),
                date,
            })
            .await?;
        Ok::<(), ConsoleError>(())
    }
    .await;
    answer(&state, &signed, &headers, &id, "follow_up", values, result).await
}

//! The CSV download over HTTP (for spreadsheets and scripts; the web
//! console writes its own from gRPC): `GET /v1/reports/<name>.csv`
//! with the report's filters as query parameters (see `http_query`), the
//! same bearer token and the same rules of who sees what as gRPC (it calls
//! the same [`Reports`] operations), and the same CSV as `leadctl report
//! … -o csv` (the shared `leadwheel-report-sheets`). Errors are JSON:
//! `{"error": "invalid_argument", "field": "from", "message": "…"}`.
//! With the service's certificate configured (`LEADWHEEL_TLS_CERT_FILE`,
//! `LEADWHEEL_TLS_KEY_FILE`) the port speaks only HTTPS (see `run_with`).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leadwheel_plumbing::auth::{Authenticator, Caller};
use leadwheel_plumbing::now_ms;
use leadwheel_proto::reporting::v1::{
    GetActivityRequest, GetFairnessRequest, GetFiveQuestionsRequest, GetForecastMovementRequest,
    GetForecastRequest, GetPipelineRequest, GetRoutingOutcomeRequest, GetSpeedToLeadRequest,
    GetStagesRequest, GetTeamBalanceRequest, ListQuotasRequest,
};
use leadwheel_report_sheets as sheets;
use serde_json::json;

use crate::error::Error;
use crate::http_query::{Query, REPORTS, parameter_of};
use crate::reports::Reports;

#[derive(Clone)]
struct Download {
    reports: Reports,
    auth: Authenticator,
}

/// The download's routes over `reports`, callers verified by `auth`.
pub fn router(reports: Reports, auth: Authenticator) -> Router {
    Router::new()
        .route("/v1/reports/{file}", get(download))
        .fallback(|| async {
            failure(
                StatusCode::NOT_FOUND,
                "not_found",
                None,
                "no such path; reports are at /v1/reports/<name>.csv".into(),
            )
        })
        .with_state(Download { reports, auth })
}

fn failure(status: StatusCode, code: &str, field: Option<&str>, message: String) -> Response {
    let mut body = json!({"error": code, "message": message});
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, axum::Json(body)).into_response()
}

/// The HTTP answer to a report's error; store and bus failures are logged
/// in full and answered vaguely, as over gRPC.
fn error_response(err: Error) -> Response {
    let message = err.to_string();
    match err {
        Error::InvalidArgument { field, reason } => {
            let name = parameter_of(&field);
            failure(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                Some(&name),
                format!("invalid {name}: {reason}"),
            )
        }
        Error::Unauthenticated => {
            failure(StatusCode::UNAUTHORIZED, "unauthenticated", None, message)
        }
        Error::PermissionDenied(_) => {
            failure(StatusCode::FORBIDDEN, "permission_denied", None, message)
        }
        Error::FailedPrecondition(_) => {
            failure(StatusCode::CONFLICT, "failed_precondition", None, message)
        }
        Error::Bus(detail) => {
            tracing::error!(error = %detail, "event bus call failed");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                message,
            )
        }
        Error::Store(err) => {
            tracing::error!(error = %err, "a report's read failed");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                "the reports' store is unavailable".into(),
            )
        }
    }
}

/// The verified caller of a request, or why there is none.
fn caller(auth: &Authenticator, headers: &HeaderMap) -> Result<Caller, String> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("missing authorization: send `Authorization: Bearer <token>`")?
        .to_str()
        .map_err(|_| "authorization header is not ASCII")?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or("authorization must be `Bearer <token>`")?;
    let claims = auth.verify(token.trim()).map_err(|err| err.to_string())?;
    Ok(Caller {
        subject: claims.sub,
        role: claims.role,
        team: claims.team,
    })
}

async fn download(
    State(state): State<Download>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(name) = file.strip_suffix(".csv").filter(|n| REPORTS.contains(n)) else {
        return failure(
            StatusCode::NOT_FOUND,
            "not_found",
            None,
            format!("no report {file:?}; one of {}.csv", REPORTS.join(".csv, ")),
        );
    };
    let caller = match caller(&state.auth, &headers) {
        Ok(caller) => caller,
        Err(why) => return failure(StatusCode::UNAUTHORIZED, "unauthenticated", None, why),
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    match sheet(&state.reports, &caller, name, &pairs).await {
        Ok(sheet) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            sheet.csv(),
        )
            .into_response(),
        Err(err) => error_response(err),
    }
}

/// Runs report `name` for `caller` with the query `pairs`, as a sheet.
async fn sheet(
    reports: &Reports,
    caller: &Caller,
    name: &str,
    pairs: &[(String, String)],
) -> Result<sheets::Sheet, Error> {
    let q = Query::parse(name, pairs)?;
    let (team_id, rep_id, period) = (q.get("team"), q.get("rep"), q.period()?);
    let now = now_ms();
    let today = reports.today(now);
    let sheet = match name {
        "pipeline" => {
            let request = GetPipelineRequest {
                team_id,
                rep_id,
                period,
                as_of: q.get("as_of"),
            };
            sheets::pipeline_sheet(&reports.pipeline(caller, &request, today).await?)
        }
        "forecast" => {
            let subject = sheets::forecast_subject(&team_id, &rep_id);
            let request = GetForecastRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::forecast_sheet(&subject, &reports.forecast(caller, &request, today).await?)
        }
        "movement" => {
            let request = GetForecastMovementRequest {
                team_id,
                rep_id,
                period,
                since: q.get("since"),
                limit: q.int("limit")?,
            };
            sheets::movement_sheet(&reports.movement(caller, &request, today, now).await?)
        }
        "five" => {
            let request = GetFiveQuestionsRequest {
                team_id,
                rep_id,
                period,
                intent_stage: q.get("intent_stage"),
            };
            sheets::five_sheet(&reports.five(caller, &request, today).await?)
        }
        "stages" => {
            let request = GetStagesRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::stages_sheet(&reports.stages(caller, &request, today, now).await?)
        }
        "activity" => {
            let request = GetActivityRequest {
                team_id,
                rep_id,
                period,
                bucket: q.bucket()? as i32,
            };
            sheets::activity_sheet(&reports.activity(caller, &request, today).await?)
        }
        "balance" => {
            let request = GetTeamBalanceRequest {
                team_id,
                rep_id,
                max_share_bp: q.max_share_bp()?,
            };
            sheets::balance_sheet(&reports.balance(caller, &request).await?)
        }
        "routes" => {
            let request = GetRoutingOutcomeRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::routes_sheet(&reports.routes(caller, &request, today).await?)
        }
        "fairness" => {
            let request = GetFairnessRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::fairness_sheet(&reports.fairness(caller, &request, today).await?)
        }
        "speed" => {
            let request = GetSpeedToLeadRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::speed_sheet(&reports.speed(caller, &request, today).await?)
        }
        _ => {
            let request = ListQuotasRequest {
                team_id,
                rep_id,
                period,
            };
            sheets::quota_sheet(&reports.list_quotas(caller, &request, today).await?)
        }
    };
    Ok(sheet)
}

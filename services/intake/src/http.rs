//! The signup webhook: `POST /v1/signups` over HTTP/JSON.
//!
//! The body is parsed in two steps, first as any JSON value and then field
//! by field, so that a field of the wrong type is reported by name (serde's
//! typed errors would only say "invalid type at line 1 column 12"). Unknown
//! fields are ignored: website forms send tracking parameters we do not use.
//!
//! Order of checks: content type, size, signature (over the raw bytes),
//! JSON, fields; so the cheapest refusal comes first and nothing unsigned is
//! ever parsed.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, body::Bytes};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::{now_ms, telemetry};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::error::IntakeError;
use crate::leads::{Leads, RequestKey};
use crate::settings::IntakeSettings;
use crate::signature::{self, SIGNATURE_HEADER};
use crate::validate::{self, LeadInput};

/// Header carrying a client's idempotency key for a signup.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when the answer replays an earlier request.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// What the HTTP handlers share.
#[derive(Clone, Debug)]
pub struct HttpState {
    leads: Leads,
    max_body_bytes: usize,
    webhook_secret: Option<Secret>,
    signature_tolerance_s: i64,
}

/// The answer to an accepted signup.
#[derive(Debug, Serialize)]
pub struct SignupResponse {
    /// The lead the signup created or matched.
    pub lead_id: String,
    /// True when it matched an existing lead (HTTP 200 rather than 201).
    pub duplicate: bool,
}

/// The HTTP router: signups, traced, with bodies capped and signatures
/// checked as `settings` say.
pub fn router(leads: Leads, settings: &IntakeSettings) -> Router {
    let max_body_bytes = settings.max_body_bytes;
    let state = HttpState {
        leads,
        max_body_bytes,
        webhook_secret: settings.webhook_secret.clone(),
        signature_tolerance_s: settings.signature_tolerance.as_secs() as i64,
    };
    Router::new()
        .route("/v1/signups", post(signup))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// One span per request, continuing the caller's trace when it sends a
/// `traceparent`, so the trace runs on into the outbox row and the event.
async fn trace_request(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
    );
    let traceparent = request
        .headers()
        .get(telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    telemetry::set_parent(&span, traceparent);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    response
}

async fn signup(State(state): State<HttpState>, request: Request) -> Result<Response, IntakeError> {
    check_content_type(request.headers())?;
    let key = idempotency_key(request.headers())?;
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                IntakeError::PayloadTooLarge {
                    limit: state.max_body_bytes,
                }
            } else {
                IntakeError::MalformedJson(format!("could not read the body: {rejection}"))
            }
        })?;
    if let Some(secret) = &state.webhook_secret {
        let now_s = now_ms() / 1000;
        signature::verify(
            secret,
            signature.as_deref(),
            &body,
            now_s,
            state.signature_tolerance_s,
        )?;
    }
    let input = parse_body(&body)?;
    let lead = validate::validate(&input)?;
    let request_key = key.map(|id| RequestKey {
        scope: "http".into(),
        id,
    });
    let created = state.leads.create(lead, request_key).await?;
    let status = if created.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = SignupResponse {
        lead_id: created.lead.lead_id,
        duplicate: created.duplicate,
    };
    let mut response = (status, Json(body)).into_response();
    if created.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Accepts `application/json` and `application/<anything>+json`, with
/// parameters such as `charset=utf-8`.
fn check_content_type(headers: &HeaderMap) -> Result<(), IntakeError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(IntakeError::UnsupportedMediaType("none".into()));
    };
    let text = value.to_str().unwrap_or_default();
    let mime = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(IntakeError::UnsupportedMediaType(text.to_string()))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, IntakeError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                IntakeError::field(
                    "Idempotency-Key",
                    "invalid_format",
                    "must be printable ASCII",
                )
            })?;
            validate::request_id("Idempotency-Key", text)
        }
    }
}

/// The signup fields, in the order they are checked.
const FIELDS: [&str; 8] = [
    "email", "name", "company", "phone", "website", "country", "source", "message",
];

/// Parses the body into a [`LeadInput`]; a field that is present but not a
/// string (or null) is refused by name.
fn parse_body(body: &[u8]) -> Result<LeadInput, IntakeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| IntakeError::MalformedJson(err.to_string()))?;
    let Value::Object(object) = value else {
        return Err(IntakeError::MalformedJson(
            "expected a JSON object with an \"email\" field".into(),
        ));
    };
    let mut strings: [Option<String>; 8] = Default::default();
    for (slot, field) in strings.iter_mut().zip(FIELDS) {
        *slot = match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(IntakeError::field(field, "wrong_type", "must be a string"));
            }
        };
    }
    let [
        email,
        name,
        company,
        phone,
        website,
        country,
        source,
        message,
    ] = strings;
    Ok(LeadInput {
        email,
        name,
        company,
        phone,
        website,
        country,
        source,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_named() {
        let err = parse_body(br#"{"email": "a@b.io", "phone": 123}"#).unwrap_err();
        assert_eq!(err.field_name(), Some("phone"));
        assert_eq!(err.http_status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn non_objects_are_malformed() {
        for body in [&b"[1]"[..], b"\"a@b.io\"", b"{", b""] {
            let err = parse_body(body).unwrap_err();
            assert_eq!(err.http_status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&headers).is_err());
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/vnd.signup+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(check_content_type(&headers).is_ok(), ok, "{ct}");
        }
    }
}

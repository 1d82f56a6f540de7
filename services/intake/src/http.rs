//! The signup webhook: `POST /v1/signups`, JSON or a URL-encoded form.
//!
//! Order of checks, cheapest refusal first and nothing unauthenticated ever
//! parsed: the source address's rate limit, content type, idempotency key,
//! body size, authentication (a bearer token of an integration, else the
//! webhook signature over the raw bytes), the integration's rate limit,
//! then the body and its fields. Parsing and the unknown-field policy are in
//! [`crate::parse`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, body::Bytes};
use leadwheel_plumbing::auth::{Authenticator, Role};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::{now_ms, telemetry};
use serde::Serialize;
use tracing::Instrument;

use crate::error::IntakeError;
use crate::keepalive;
use crate::leads::{Leads, RequestKey};
use crate::parse;
use crate::ratelimit::Limiter;
use crate::settings::IntakeSettings;
use crate::signature::{self, SIGNATURE_HEADER};
use crate::validate;

/// Header carrying a client's idempotency key for a signup.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when the answer replays an earlier request.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// What the HTTP handlers share.
#[derive(Clone, Debug)]
pub struct HttpState {
    leads: Leads,
    max_body_bytes: usize,
    webhook_secrets: Arc<Vec<Secret>>,
    signature_tolerance_s: i64,
    auth: Authenticator,
    per_address: Arc<Limiter>,
    per_integration: Arc<Limiter>,
    trust_forwarded_for: bool,
}

/// The answer to an accepted signup.
#[derive(Debug, Serialize)]
pub struct SignupResponse {
    /// The lead the signup created or matched.
    pub lead_id: String,
    /// True when it matched an existing lead (HTTP 200 rather than 201).
    pub duplicate: bool,
}

/// The HTTP router: signups, traced, with bodies capped, callers
/// authenticated and rate-limited as `settings` say, and every request on
/// a kept-alive connection answered (see [`keepalive`]). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the
/// per-address limit sees the peer.
pub fn router(leads: Leads, settings: &IntakeSettings, auth: Authenticator) -> Router {
    let max_body_bytes = settings.max_body_bytes;
    let state = HttpState {
        leads,
        max_body_bytes,
        webhook_secrets: Arc::new(settings.webhook_secrets.clone()),
        signature_tolerance_s: settings.signature_tolerance.as_secs() as i64,
        auth,
        per_address: Arc::new(Limiter::new(settings.address_limit)),
        per_integration: Arc::new(Limiter::new(settings.integration_limit)),
        trust_forwarded_for: settings.trust_forwarded_for,
    };
    Router::new()
        .route("/v1/signups", post(signup))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(trace_request))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            keepalive::answer_after_body(max_body_bytes, request, next)
        }))
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

/// How the body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    Form,
}

async fn signup(State(state): State<HttpState>, request: Request) -> Result<Response, IntakeError> {
    if let Some(address) = client_address(&state, &request) {
        state
            .per_address
            .take(&address, Instant::now())
            .map_err(|retry_after_s| IntakeError::RateLimited {
                scope: "address",
                retry_after_s,
            })?;
    }
    let encoding = content_type(request.headers())?;
    let key = idempotency_key(request.headers())?;
    let signature = header_text(request.headers(), SIGNATURE_HEADER);
    let authorization = header_text(request.headers(), header::AUTHORIZATION.as_str());
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
    let integration = authenticate(
        &state,
        authorization.as_deref(),
        signature.as_deref(),
        &body,
    )?;
    state
        .per_integration
        .take(&integration, Instant::now())
        .map_err(|retry_after_s| IntakeError::RateLimited {
            scope: "integration",
            retry_after_s,
        })?;
    let input = match encoding {
        Encoding::Json => parse::json(&body)?,
        Encoding::Form => parse::form(&body)?,
    };
    let lead = validate::validate(&input)?;
    let request_key = key.map(|id| RequestKey {
        scope: format!("http/{integration}"),
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

/// The client's address, as the per-address limit counts it.
fn client_address(state: &HttpState, request: &Request) -> Option<String> {
    if state.trust_forwarded_for
        && let Some(last) = header_text(request.headers(), "x-forwarded-for")
            .and_then(|list| list.rsplit(',').next().map(|a| a.trim().to_string()))
            .filter(|a| !a.is_empty())
    {
        return Some(last);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_string())
}

/// Who is calling: `token:<subject>` for a bearer token of an integration,
/// `webhook` for signed (or, without secrets, unsigned) posts. A token that
/// is present must be valid: it is never silently ignored in favour of the
/// signature.
fn authenticate(
    state: &HttpState,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<String, IntakeError> {
    let refuse =
        |code: &'static str, message: String| IntakeError::Unauthenticated { code, message };
    if let Some(value) = authorization {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| refuse("bad_token", "authorization must be `Bearer <token>`".into()))?;
        let claims = state
            .auth
            .verify(token.trim())
            .map_err(|err| refuse("bad_token", err.to_string()))?;
        if claims.role != Role::Integration {
            return Err(IntakeError::PermissionDenied(format!(
                "role {:?} may not post signups; use an integration token",
                claims.role
            )));
        }
        return Ok(format!("token:{}", claims.sub));
    }
    if !state.webhook_secrets.is_empty() {
        signature::verify(
            &state.webhook_secrets,
            signature,
            body,
            now_ms() / 1000,
            state.signature_tolerance_s,
        )?;
    }
    Ok("webhook".into())
}

/// Accepts `application/json`, `application/<anything>+json` and
/// `application/x-www-form-urlencoded`, with parameters such as `charset=utf-8`.
fn content_type(headers: &HeaderMap) -> Result<Encoding, IntakeError> {
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
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(Encoding::Json)
    } else if mime == "application/x-www-form-urlencoded" {
        Ok(Encoding::Form)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert!(content_type(&headers).is_err());
        for (ct, expected) in [
            ("application/json", Some(Encoding::Json)),
            ("Application/JSON; charset=utf-8", Some(Encoding::Json)),
            ("application/vnd.signup+json", Some(Encoding::Json)),
            (
                "application/x-www-form-urlencoded; charset=UTF-8",
                Some(Encoding::Form),
            ),
            ("text/plain", None),
            ("multipart/form-data; boundary=x", None),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(content_type(&headers).ok(), expected, "{ct}");
        }
    }
}

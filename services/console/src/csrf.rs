//! Cross-site request forgery: every POST must come from this console's
//! own origin (the `Origin` header, which browsers always send on POST)
//! and carry the session's CSRF token (the `X-CSRF-Token` header htmx adds
//! from the page, or a `csrf` form field). The sign-in form, used before
//! any session exists, carries a token signed by the console instead.
//! Either failure is a 403 saying what was refused and why.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use http::{Method, StatusCode, header};
use leadwheel_plumbing::config::Secret;
use sha2::Sha256;

use crate::i18n::{self, Lang};
use crate::session;
use crate::state::AppState;

/// The header htmx sends the token in.
pub const HEADER: &str = "x-csrf-token";
/// The form field plain forms send it in.
pub const FIELD: &str = "csrf";
/// A POST that needs no session: the development sign-in.
pub const SIGNIN_PATH: &str = "/signin/dev";
/// The other: using a one-time sign-in link.
pub const LINK_PATH: &str = "/signin/link";
/// How long a sign-in form's token is good for.
const SIGNIN_TOKEN_SECS: i64 = 3600;
/// Forms are small; anything bigger is refused before parsing.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Refuses a POST from another origin or without the right token.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let session = session::session_id(request.headers()).and_then(|id| state.sessions.get(&id));
    let lang = session.as_ref().map_or(Lang::En, |s| s.user.lang);
    match request.headers().get(header::ORIGIN).map(|o| o.to_str()) {
        Some(Ok(origin)) if state.origins.iter().any(|allowed| allowed == origin) => {}
        Some(Ok(origin)) => {
            return refuse(format!(
                "cross-origin POST refused: Origin {origin} is not this console ({})",
                state.origins.join(", ")
            ));
        }
        _ => {
            return refuse(
                "POST refused: no Origin header (the console checks where each form comes from)"
                    .into(),
            );
        }
    }
    let from_header = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "form too large (64 KiB at most)\n",
            )
                .into_response();
        }
    };
    let token = from_header.or_else(|| form_field(&bytes, FIELD));
    let valid = match (parts.uri.path(), token.as_deref()) {
        (_, None) => false,
        (SIGNIN_PATH | LINK_PATH, Some(token)) => signin_token_valid(&state.key, token, now_secs()),
        (_, Some(token)) => session
            .as_ref()
            .is_some_and(|s| constant_time_eq(s.csrf.as_bytes(), token.as_bytes())),
    };
    if !valid {
        if session.is_none() && ![SIGNIN_PATH, LINK_PATH].contains(&parts.uri.path()) {
            return (
                StatusCode::UNAUTHORIZED,
                [("hx-redirect", "/signin")],
                "not signed in\n",
            )
                .into_response();
        }
        return refuse(i18n::CSRF_REFUSED.get(lang).to_string());
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refuse(message: String) -> Response {
    tracing::warn!(reason = %message, "POST refused");
    let body = maud::html! { p.error role="alert" data-status="403" { (message) } };
    (StatusCode::FORBIDDEN, Html(body.into_string())).into_response()
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    leadwheel_plumbing::store::now_ms() / 1000
}

fn signin_mac(key: &Secret, exp: i64) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(b"leadwheel-console-signin.");
    mac.update(exp.to_string().as_bytes());
    mac
}

/// The sign-in form's token: its expiry and a MAC over it.
pub fn signin_token(key: &Secret, now_secs: i64) -> String {
    use base64::Engine;
    let exp = now_secs + SIGNIN_TOKEN_SECS;
    let mac = signin_mac(key, exp).finalize().into_bytes();
    format!(
        "{exp}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    )
}

fn signin_token_valid(key: &Secret, token: &str, now_secs: i64) -> bool {
    use base64::Engine;
    let Some((exp, mac)) = token.split_once('.') else {
        return false;
    };
    let (Ok(exp), Ok(mac)) = (
        exp.parse::<i64>(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(mac),
    ) else {
        return false;
    };
    exp > now_secs && signin_mac(key, exp).verify_slice(&mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signin_tokens_expire_and_are_keyed() {
        let key = Secret::new("0123456789abcdef-csrf");
        let token = signin_token(&key, 1_000);
        assert!(signin_token_valid(&key, &token, 1_000));
        assert!(!signin_token_valid(&key, &token, 1_000 + SIGNIN_TOKEN_SECS));
        assert!(!signin_token_valid(
            &Secret::new("another-key-0123456"),
            &token,
            1_000
        ));
        assert!(!signin_token_valid(&key, "garbage", 1_000));
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(
            form_field(b"reason=on+a%20call&csrf=abc%2Fd", "csrf").as_deref(),
            Some("abc/d")
        );
        assert_eq!(form_field(b"reason=x", "csrf"), None);
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}

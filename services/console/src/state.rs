//! What every handler shares, and the signed-in user as an extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use leadwheel_plumbing::config::Secret;
use tokio_util::sync::CancellationToken;

use crate::link::UsedLinks;
use crate::session::{self, Session, Sessions, User};
use crate::snapshots::Snapshots;
use crate::upstream::Upstream;
use crate::views::board::BoardData;

/// The console's shared state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// Its parts.
pub struct Inner {
    /// Live sessions.
    pub sessions: Sessions,
    /// Sign-in links already used.
    pub used_links: UsedLinks,
    /// The services.
    pub upstream: Upstream,
    /// Signs links and the sign-in form's CSRF token.
    pub key: Secret,
    /// The pick-a-user sign-in page is served.
    pub dev_mode: bool,
    /// The origins a POST may come from (`scheme://host[:port]`).
    pub origins: Vec<String>,
    /// Cookies get `Secure` (the console serves TLS, or the public URL is https).
    pub secure_cookies: bool,
    /// Cancelled at shutdown: live streams end so the server can drain.
    pub stop: CancellationToken,
    /// The latest team board read per team, shared by its readers.
    pub boards: Snapshots<BoardData>,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The signed-in user of a request, with their session; a request without
/// a live session is sent to the sign-in page.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The session id (the cookie).
    pub id: String,
    /// The session.
    pub session: Session,
}

impl Signed {
    /// The user.
    pub fn user(&self) -> &User {
        &self.session.user
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = session::session_id(&parts.headers).and_then(|id| {
            state
                .sessions
                .get(&id)
                .map(|session| Signed { id, session })
        });
        match found {
            Some(signed) => Ok(signed),
            // htmx turns this header into a full page load of the sign-in page.
            None if parts.headers.contains_key("hx-request") => {
                Err(([("hx-redirect", "/signin")], http::StatusCode::UNAUTHORIZED).into_response())
            }
            // Sign-in comes back here afterwards (a deep link from an
            // alert opened without a session).
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                let target = if here == "/" {
                    "/signin".to_string()
                } else {
                    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                    format!("/signin?next={next}")
                };
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

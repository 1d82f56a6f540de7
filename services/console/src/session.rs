//! Sessions, kept in memory: a restart of the console signs everyone out
//! (they sign in again; nothing else is lost, the console owns no data).
//! With several console replicas, route each browser to one replica
//! (sticky sessions).
//!
//! The cookie holds only a random id: `lw_session`, HttpOnly (no script
//! reads it), SameSite=Strict (no other site's page sends it), Secure when
//! the console serves TLS or the public URL is https.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use leadwheel_plumbing::auth::Role;

use crate::i18n::Lang;

/// The session cookie's name.
pub const COOKIE: &str = "lw_session";

/// Who is signed in, and their choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The subject of the tokens minted for them (a rep id for reps).
    pub id: String,
    /// Their role.
    pub role: Role,
    /// Their team (a rep's team, a manager's managed team), when known.
    pub team: Option<String>,
    /// Their language.
    pub lang: Lang,
}

impl User {
    /// True for managers and admins.
    pub fn is_manager(&self) -> bool {
        matches!(self.role, Role::Manager | Role::Admin)
    }
}

/// A signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The user.
    pub user: User,
    /// The token every form and htmx request must send back.
    pub csrf: String,
    expires: Instant,
}

/// Every live session, by id.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

/// A fresh random token (256 bits), URL-safe.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    /// Sessions that last `ttl` from sign-in.
    pub fn new(ttl: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Starts a session for `user`; returns its id (the cookie's value).
    pub fn create(&self, user: User) -> String {
        let id = random_token();
        let session = Session {
            user,
            csrf: random_token(),
            expires: Instant::now() + self.ttl,
        };
        let mut map = self.map.lock().expect("sessions poisoned");
        // Expired sessions are dropped as new ones come, so the map stays small.
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), session);
        id
    }

    /// The live session with `id`.
    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.map.lock().expect("sessions poisoned");
        map.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// Changes the session's language.
    pub fn set_lang(&self, id: &str, lang: Lang) {
        if let Some(session) = self.map.lock().expect("sessions poisoned").get_mut(id) {
            session.user.lang = lang;
        }
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.map.lock().expect("sessions poisoned").remove(id);
    }

    /// The `Set-Cookie` value starting a session.
    pub fn cookie(&self, id: &str, secure: bool) -> String {
        format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }
}

/// The `Set-Cookie` value ending a session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id from the request's cookies.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> User {
        User {
            id: "ana".into(),
            role: Role::Rep,
            team: Some("demo".into()),
            lang: Lang::En,
        }
    }

    #[test]
    fn sessions_live_until_their_ttl() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.create(ana());
        assert_eq!(sessions.get(&id).unwrap().user, ana());
        sessions.set_lang(&id, Lang::Zh);
        assert_eq!(sessions.get(&id).unwrap().user.lang, Lang::Zh);
        sessions.remove(&id);
        assert!(sessions.get(&id).is_none());
        let short = Sessions::new(Duration::ZERO);
        let id = short.create(ana());
        assert!(short.get(&id).is_none(), "expired at once");
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let cookie = sessions.cookie("abc", true);
        for part in ["lw_session=abc", "HttpOnly", "SameSite=Strict", "Secure"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "other=1; lw_session=xyz; more=2".parse().unwrap(),
        );
        assert_eq!(session_id(&headers).as_deref(), Some("xyz"));
    }
}

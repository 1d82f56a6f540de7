//! One-time sign-in links in alert emails: an email goes to one person, so
//! its "Open in the console" link can sign that person in (the same signed
//! token `leadctl console link` prints, keyed with the shared
//! `LEADWHEEL_JWT_SECRET`, used once, valid for
//! `LEADWHEEL_ALERTING_SIGNIN_LINK_TTL_MS`) and land on the alert. Webhooks
//! go to a team's shared channel, where a link signing someone in would
//! sign in whoever clicks first: they carry the plain deep link, which asks
//! for a sign-in first when there is no session.
//!
//! A link names the role alerting knows the recipient has (the alert's
//! team's manager, or a rep of a team); for anyone else (an admin, a
//! second escalation's named person) the email carries the plain link. It
//! names no team: the console asks the wheel for the person's team when
//! the link is used, hours later perhaps, as for any link without one.

use leadwheel_plumbing::Store;
use leadwheel_plumbing::config::Secret;

use crate::clock::SharedClock;
use crate::store::directory;

/// What signing a link takes.
#[derive(Clone)]
pub struct SigninLinks {
    key: Secret,
    ttl_secs: i64,
    store: Store,
    clock: SharedClock,
}

impl std::fmt::Debug for SigninLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigninLinks")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl SigninLinks {
    /// Links signed with `key` (the console's), valid `ttl_secs` from the
    /// moment the email is sent; roles read from `store`.
    pub fn new(key: Secret, ttl_secs: i64, store: Store, clock: SharedClock) -> Self {
        Self {
            key,
            ttl_secs,
            store,
            clock,
        }
    }

    /// A one-time link to `console` signing `user_id` in and landing on
    /// `next` (a path), when alerting knows their role for an alert of
    /// `team_id`; None otherwise (or when the role cannot be read now: the
    /// email then carries the plain link rather than wait).
    pub async fn url(
        &self,
        console: &str,
        user_id: &str,
        team_id: &str,
        next: &str,
    ) -> Option<String> {
        let role = match directory::console_role(&self.store, user_id, team_id).await {
            Ok(found) => found?,
            Err(err) => {
                tracing::warn!(user_id, error = %err, "reading the recipient's role for a sign-in link failed; sending the plain link");
                return None;
            }
        };
        let token = leadwheel_client::link::issue(
            &self.key,
            user_id,
            role,
            None,
            self.clock.now_ms() / 1_000,
            self.ttl_secs,
        );
        Some(url(console, &token, next))
    }
}

/// `<console>/signin/link?token=…&next=…`.
pub fn url(console: &str, token: &str, next: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{console}/signin/link?token={token}&next={next}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_landing_path_is_escaped_in_the_query() {
        assert_eq!(
            super::url("https://c.example", "t.s", "/alerts/alert_1"),
            "https://c.example/signin/link?token=t.s&next=%2Falerts%2Falert_1"
        );
    }
}

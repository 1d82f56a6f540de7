//! Signed one-time sign-in links: the token format lives in
//! `leadwheel_client::link` (shared with `leadctl console link`); the
//! console adds what a server must remember, the nonces already used (kept
//! in memory until the link expires: a console restart forgets which links
//! were used, so keep link lifetimes short).

use std::collections::HashMap;
use std::sync::Mutex;

pub use leadwheel_client::link::{LinkClaims, LinkError, issue, sign, verify};

/// The nonces of links already used, until they expire.
#[derive(Debug, Default)]
pub struct UsedLinks {
    used: Mutex<HashMap<String, i64>>,
}

impl UsedLinks {
    /// Fails if `claims`' nonce was used before (uses nothing).
    pub fn check_unused(&self, claims: &LinkClaims, now_secs: i64) -> Result<(), LinkError> {
        let used = self.used.lock().expect("used links poisoned");
        match used.get(&claims.nonce) {
            Some(exp) if *exp > now_secs => Err(LinkError::Used),
            _ => Ok(()),
        }
    }

    /// Records `claims`' nonce; fails if it was used before.
    pub fn use_once(&self, claims: &LinkClaims, now_secs: i64) -> Result<(), LinkError> {
        let mut used = self.used.lock().expect("used links poisoned");
        used.retain(|_, exp| *exp > now_secs);
        if used.contains_key(&claims.nonce) {
            return Err(LinkError::Used);
        }
        used.insert(claims.nonce.clone(), claims.exp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadwheel_plumbing::auth::Role;
    use leadwheel_plumbing::config::Secret;

    fn key() -> Secret {
        Secret::new("0123456789abcdef-link")
    }

    #[test]
    fn a_link_signs_in_once() {
        let token = issue(&key(), "ana", Role::Rep, None, 1_000, 600);
        let claims = verify(&key(), &token, 1_100).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("ana", Role::Rep));
        let used = UsedLinks::default();
        // Looking does not use it.
        used.check_unused(&claims, 1_100).unwrap();
        used.check_unused(&claims, 1_100).unwrap();
        used.use_once(&claims, 1_100).unwrap();
        assert_eq!(used.use_once(&claims, 1_101), Err(LinkError::Used));
        assert_eq!(used.check_unused(&claims, 1_101), Err(LinkError::Used));
    }
}

//! Signed one-time sign-in links to the web console, issued by `leadctl
//! console link` for production, where there is no user picker.
//!
//! A link token is `base64url(json claims).base64url(HMAC-SHA256)`, keyed
//! with the shared JWT secret over a domain-separated input (so a link token
//! is never a valid bearer token, nor the reverse). It names the user, their
//! role, an optional team, an expiry and a random nonce; the console accepts
//! each nonce once (kept in memory until the link expires: a console restart
//! forgets which links were used, so keep link lifetimes short).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::secret::Secret;
use crate::token::Role;

/// What a link signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The user.
    pub sub: String,
    /// Their role.
    pub role: Role,
    /// Their team, when scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Random, so each link is used once.
    pub nonce: String,
}

/// Why a link was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token this code made.
    #[error("malformed sign-in link")]
    Malformed,
    /// Signed with another key, or altered.
    #[error("bad sign-in link signature")]
    Signature,
    /// Past its expiry.
    #[error("sign-in link expired")]
    Expired,
    /// Already used once.
    #[error("sign-in link already used")]
    Used,
}

const DOMAIN: &[u8] = b"leadwheel-console-link.";

fn mac(key: &Secret, body: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(DOMAIN);
    mac.update(body.as_bytes());
    mac
}

/// Signs a link token.
pub fn sign(key: &Secret, claims: &LinkClaims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &body).finalize().into_bytes());
    format!("{body}.{signature}")
}

/// A link token for `sub` valid `ttl_secs` from `now_secs`.
pub fn issue(
    key: &Secret,
    sub: &str,
    role: Role,
    team: Option<&str>,
    now_secs: i64,
    ttl_secs: i64,
) -> String {
    sign(
        key,
        &LinkClaims {
            sub: sub.to_string(),
            role,
            team: team.map(str::to_string),
            exp: now_secs + ttl_secs,
            nonce: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        },
    )
}

/// Checks signature and expiry (not use: the console keeps the nonces used).
pub fn verify(key: &Secret, token: &str, now_secs: i64) -> Result<LinkClaims, LinkError> {
    let (body, signature) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| LinkError::Malformed)?;
    mac(key, body)
        .verify_slice(&signature)
        .map_err(|_| LinkError::Signature)?;
    let claims: LinkClaims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(LinkError::Malformed)?;
    if claims.exp <= now_secs {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new("0123456789abcdef-link")
    }

    #[test]
    fn expired_forged_and_garbled_links_are_refused() {
        let token = issue(&key(), "ana", Role::Rep, None, 1_000, 600);
        assert_eq!(verify(&key(), &token, 1_600), Err(LinkError::Expired));
        let other = Secret::new("another-key-0123456789");
        assert_eq!(verify(&other, &token, 1_100), Err(LinkError::Signature));
        let (_, signature) = token.split_once('.').unwrap();
        let forged =
            URL_SAFE_NO_PAD.encode(br#"{"sub":"ana","role":"admin","exp":9999,"nonce":"x"}"#);
        assert_eq!(
            verify(&key(), &format!("{forged}.{signature}"), 1_100),
            Err(LinkError::Signature)
        );
        assert_eq!(verify(&key(), "nodot", 1_100), Err(LinkError::Malformed));
    }

    #[test]
    fn a_bearer_token_is_not_a_link() {
        let jwt = crate::token::TokenKey::new(key()).mint("ana", Role::Admin, None, 60);
        // header.body.signature: the "body" part after the first dot is not a link signature.
        assert!(verify(&key(), &jwt, 0).is_err());
    }
}

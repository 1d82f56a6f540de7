//! Bearer tokens: JWTs signed with HS256 using the shared key from
//! `LEADWHEEL_JWT_SECRET`, naming the caller (`sub`), their `role`, an
//! optional `team`, and an expiry. (The services also accept an identity
//! provider's RS256/ES256 tokens, mapped to the same [`Claims`]: see
//! `leadwheel_plumbing::jwks`.) Signing and verification are done here
//! with the `hmac` crate (constant-time comparison), which keeps heavyweight
//! RSA/EC dependencies out of every service and client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::secret::Secret;
use crate::unix_now_secs;

type HmacSha256 = Hmac<Sha256>;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A sales rep: acts only as themselves.
    Rep,
    /// A manager: acts on their team's reps and leads.
    Manager,
    /// Everything.
    Admin,
    /// A server-to-server integration (e.g. a CRM pushing leads).
    Integration,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rep" => Ok(Self::Rep),
            "manager" => Ok(Self::Manager),
            "admin" => Ok(Self::Admin),
            "integration" => Ok(Self::Integration),
            other => Err(format!(
                "unknown role {other:?} (rep, manager, admin, integration)"
            )),
        }
    }
}

/// The claims of a leadwheel token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The caller's id (a rep id for reps).
    pub sub: String,
    /// The caller's role.
    pub role: Role,
    /// The team a manager manages, when scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: i64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not three dot-separated base64url parts with a JSON header and body.
    #[error("malformed token")]
    Malformed,
    /// Not HS256 (nor, where an identity provider is configured, RS256 or
    /// ES256 matching the key).
    #[error("unsupported token algorithm (HS256, or RS256/ES256 from the identity provider)")]
    Algorithm,
    /// The signature does not match the key.
    #[error("bad token signature")]
    Signature,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// Before `nbf`.
    #[error("token not yet valid (nbf is in the future)")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("token issuer {0:?} is not the expected issuer")]
    Issuer(String),
    /// `aud` does not name the configured audience.
    #[error("token audience does not include the expected audience")]
    Audience,
    /// The header's `kid` names no key of the identity provider's key set.
    #[error("unknown token key id {0:?} (the key set is refreshed; retry shortly)")]
    UnknownKey(String),
    /// A claim the caller is mapped from is missing or has the wrong type.
    #[error("token claim {0:?} is missing or invalid")]
    Claim(String),
    /// An identity provider's token while no key set is configured.
    #[error(
        "token signed with {0} but no identity provider key set (LEADWHEEL_JWKS_URL) is configured"
    )]
    NoKeySet(String),
}

/// Signs and verifies tokens with one shared key.
#[derive(Clone)]
pub struct TokenKey {
    key: Secret,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

impl TokenKey {
    /// A key for signing and verifying tokens.
    pub fn new(key: Secret) -> Self {
        Self { key }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.key.expose().as_bytes())
            .expect("HMAC takes keys of any length")
    }

    /// Signs `claims` into a token.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signing_input = format!("{header}.{body}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// A token for `subject` with `role`, valid for `ttl_secs`.
    pub fn mint(&self, subject: &str, role: Role, team: Option<&str>, ttl_secs: i64) -> String {
        let now = unix_now_secs();
        self.sign(&Claims {
            sub: subject.to_string(),
            role,
            team: team.map(str::to_string),
            exp: now + ttl_secs,
            iat: now,
        })
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(body), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&token.as_bytes()[..header_body_len(token)]);
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp <= unix_now_secs() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn header_body_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> TokenKey {
        TokenKey::new(Secret::new("0123456789abcdef0123"))
    }

    #[test]
    fn round_trip() {
        let token = auth().mint("rep-1", Role::Rep, None, 60);
        let claims = auth().verify(&token).unwrap();
        assert_eq!(claims.sub, "rep-1");
        assert_eq!(claims.role, Role::Rep);
    }

    #[test]
    fn wrong_key_is_refused() {
        let token = auth().mint("rep-1", Role::Admin, None, 60);
        let other = TokenKey::new(Secret::new("another-key-entirely"));
        assert_eq!(other.verify(&token), Err(TokenError::Signature));
    }

    #[test]
    fn tampered_body_is_refused() {
        let token = auth().mint("rep-1", Role::Rep, None, 60);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"rep-1","role":"admin","exp":99999999999}"#);
        parts[1] = &forged;
        assert_eq!(auth().verify(&parts.join(".")), Err(TokenError::Signature));
    }

    #[test]
    fn expired_is_refused() {
        let token = auth().mint("rep-1", Role::Rep, None, -5);
        assert_eq!(auth().verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(auth().verify("abc"), Err(TokenError::Malformed));
        assert_eq!(auth().verify("a.b.c"), Err(TokenError::Malformed));
    }
}

//! Bearer-token authentication for gRPC.
//!
//! Tokens are JWTs signed with HS256 using the key from
//! `LEADWHEEL_JWT_SECRET`, naming the caller (`sub`), their `role`, an
//! optional `team`, and an expiry. Verification is done here with the
//! `hmac` crate (constant-time comparison), which keeps heavyweight
//! RSA/EC dependencies out of every service.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tonic::{Request, Status};

use crate::config::Secret;
use crate::store::now_ms;

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

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Subject id.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// Managed team, when scoped.
    pub team: Option<String>,
}

impl Caller {
    /// Refuses unless the caller has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), Status> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "role {:?} may not do this (needs one of {roles:?})",
                self.role
            )))
        }
    }

    /// Refuses a rep acting as another rep; managers and admins may act for anyone.
    pub fn require_self_or_manager(&self, rep_id: &str) -> Result<(), Status> {
        match self.role {
            Role::Admin | Role::Manager => Ok(()),
            Role::Rep if self.subject == rep_id => Ok(()),
            Role::Rep => Err(Status::permission_denied(format!(
                "rep {} may not act as rep {rep_id}",
                self.subject
            ))),
            Role::Integration => Err(Status::permission_denied(
                "integrations may not act for reps",
            )),
        }
    }

    /// True for managers and admins.
    pub fn is_manager_or_admin(&self) -> bool {
        matches!(self.role, Role::Manager | Role::Admin)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not three dot-separated base64url parts with a JSON header and body.
    #[error("malformed token")]
    Malformed,
    /// Not HS256.
    #[error("unsupported token algorithm (expected HS256)")]
    Algorithm,
    /// The signature does not match the key.
    #[error("bad token signature")]
    Signature,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
}

/// Signs and verifies tokens with one shared key.
#[derive(Clone)]
pub struct Authenticator {
    key: Secret,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

impl Authenticator {
    /// An authenticator keyed with `key`.
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
        let now = now_ms() / 1000;
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
        if claims.exp <= now_ms() / 1000 {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn header_body_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

/// The tonic interceptor: verifies the bearer token and puts the [`Caller`]
/// into the request's extensions.
impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing authorization: send `authorization: Bearer <token>`")
        })?;
        let value = header
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization header is not ASCII"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
        let claims = self
            .verify(token.trim())
            .map_err(|err| Status::unauthenticated(err.to_string()))?;
        request.extensions_mut().insert(Caller {
            subject: claims.sub,
            role: claims.role,
            team: claims.team,
        });
        Ok(request)
    }
}

/// The authenticated caller of `request` (set by the interceptor).
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(Secret::new("0123456789abcdef0123"))
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
        let other = Authenticator::new(Secret::new("another-key-entirely"));
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

    #[test]
    fn reps_act_only_as_themselves() {
        let rep = Caller {
            subject: "ana".into(),
            role: Role::Rep,
            team: None,
        };
        assert!(rep.require_self_or_manager("ana").is_ok());
        assert_eq!(
            rep.require_self_or_manager("bo").unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        let manager = Caller {
            subject: "m".into(),
            role: Role::Manager,
            team: None,
        };
        assert!(manager.require_self_or_manager("bo").is_ok());
    }
}

/// Client-side interceptor adding `authorization: Bearer <token>` (and the
/// current trace context) to every call.
#[derive(Clone, Debug)]
pub struct BearerToken {
    header: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl BearerToken {
    /// Wraps `token`; fails if it is not valid ASCII header text.
    pub fn new(token: &str) -> Result<Self, Status> {
        let header = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("token is not valid header text"))?;
        Ok(Self { header })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.header.clone());
        if let Some(value) =
            crate::telemetry::current_traceparent().and_then(|traceparent| traceparent.parse().ok())
        {
            request
                .metadata_mut()
                .insert(crate::telemetry::TRACEPARENT, value);
        }
        Ok(request)
    }
}

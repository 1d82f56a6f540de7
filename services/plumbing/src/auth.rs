//! Bearer-token authentication for gRPC, server side.
//!
//! Leadwheel's own HS256 tokens (their claims, signing and verification)
//! are defined in `leadwheel_client::token`, shared with `leadctl` and the
//! console; an identity provider's RS256/ES256 tokens are verified with its
//! key set ([`crate::jwks`]) when one is configured. Here is what only a
//! server needs: the interceptor that verifies each call's token and the
//! [`Caller`] it leaves for the handlers.

use tonic::{Request, Status};

pub use leadwheel_client::token::{Claims, Role, TokenError, TokenKey};

use crate::config::Secret;
use crate::jwks::KeySet;

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

/// Verifies tokens on incoming calls (a [`TokenKey`], plus an identity
/// provider's [`KeySet`] when configured, that is also a tonic
/// interceptor); derefs to the key, so it signs and mints as well.
#[derive(Clone, Debug)]
pub struct Authenticator {
    key: TokenKey,
    idp: Option<KeySet>,
}

impl Authenticator {
    /// An authenticator keyed with `key` (HS256 tokens only).
    pub fn new(key: Secret) -> Self {
        Self {
            key: TokenKey::new(key),
            idp: None,
        }
    }

    /// Also accepts the identity provider's RS256/ES256 tokens, verified
    /// with `keys` (kept fresh by [`KeySet::run_refresh`]).
    pub fn with_key_set(mut self, keys: KeySet) -> Self {
        self.idp = Some(keys);
        self
    }

    /// The identity provider's key set, when configured.
    pub fn key_set(&self) -> Option<&KeySet> {
        self.idp.as_ref()
    }

    /// Verifies `token`: HS256 with the shared key, RS256/ES256 with the
    /// identity provider's key set; returns the caller's claims. No
    /// network call: the key set is cached.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let alg = crate::jwks::token_alg(token)?;
        match alg.as_str() {
            "HS256" => self.key.verify(token),
            "RS256" | "ES256" => match &self.idp {
                Some(keys) => keys.verify(token),
                None => Err(TokenError::NoKeySet(alg)),
            },
            _ => Err(TokenError::Algorithm),
        }
    }
}

impl std::ops::Deref for Authenticator {
    type Target = TokenKey;
    fn deref(&self) -> &TokenKey {
        &self.key
    }
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

/// Client-side interceptor of the services (calling each other): the
/// client's `authorization: Bearer <token>`, plus the current trace context.
#[derive(Clone, Debug)]
pub struct BearerToken {
    bearer: leadwheel_client::bearer::BearerToken,
}

impl BearerToken {
    /// Wraps `token`; fails if it is not valid ASCII header text.
    pub fn new(token: &str) -> Result<Self, Status> {
        Ok(Self {
            bearer: leadwheel_client::bearer::BearerToken::new(token)?,
        })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = self.bearer.call(request)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! The wheel's one error type and its mapping to gRPC status codes.

use std::borrow::Cow;

use leadwheel_wheel_core::{RouteError, RuleError};
use serde::{Deserialize, Serialize};
use tonic::Status;

/// What a caller hears of a store failure (the failure itself is logged).
const STORE_UNAVAILABLE: &str = "the wheel's store is unavailable; try again";

/// Everything a wheel operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// A request field is missing or out of range.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        /// The field at fault (`rules[2].team_id` for an element of a list).
        field: Cow<'static, str>,
        /// What is wrong with it.
        message: String,
    },
    /// The named team, rep or lead does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The request does not fit the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The routing core refused the input (wrong rep, expired, already assigned...).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A part the call needs (the live-offer feed) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// Another transition won a race on the same lead; the caller may retry.
    #[error("lead {0} changed concurrently; try again")]
    Conflict(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(sqlx::Error),
    /// Stored state could not be read back.
    #[error("corrupt routing state: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for WheelError {
    /// A Postgres deadlock or serialization failure means two transitions
    /// met (e.g. a claim and a batch of expiries locking the same rows in
    /// another order): the loser's transaction is void and a retry will
    /// see the winner's state, like any lost race.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
        {
            return Self::Conflict(format!("a concurrent transition ({})", db.message()));
        }
        Self::Store(err)
    }
}

impl WheelError {
    /// An invalid-argument error for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: Cow::Borrowed(field),
            message: message.into(),
        }
    }
}

impl From<RuleError> for WheelError {
    fn from(err: RuleError) -> Self {
        Self::InvalidArgument {
            field: Cow::Owned(err.field),
            message: err.message,
        }
    }
}

impl From<WheelError> for Status {
    fn from(err: WheelError) -> Self {
        match err {
            // The field travels as a BadRequest detail too, so a client
            // can point at it.
            WheelError::InvalidArgument { field, message } => {
                leadwheel_plumbing::grpc::invalid_argument(
                    format!("invalid {field}: {message}"),
                    field,
                    message,
                )
            }
            WheelError::NotFound(message) => Status::not_found(message),
            WheelError::PermissionDenied(message) => Status::permission_denied(message),
            WheelError::FailedPrecondition(message) => Status::failed_precondition(message),
            WheelError::Route(route) => match route {
                RouteError::NotYourOffer { .. } => Status::permission_denied(route.to_string()),
                RouteError::NotTeamMember { .. } => Status::permission_denied(route.to_string()),
                RouteError::OfferExpired { .. }
                | RouteError::OfferEnded { .. }
                | RouteError::AlreadyAssigned { .. }
                | RouteError::NoOpenOffer { .. }
                | RouteError::StaleTimer { .. }
                | RouteError::NotDue { .. }
                | RouteError::WrongPhase { .. } => Status::failed_precondition(route.to_string()),
            },
            WheelError::Conflict(message) => Status::aborted(message),
            WheelError::Unavailable(message) => Status::unavailable(message),
            WheelError::Store(err) => {
                tracing::error!(error = %err, "store error");
                Status::unavailable(STORE_UNAVAILABLE)
            }
            WheelError::Corrupt(message) => {
                tracing::error!(%message, "corrupt routing state");
                Status::internal("internal error")
            }
        }
    }
}

/// A [`WheelError`] as it crosses from the holder of the writer's lease
/// back to the replica that forwarded the command (see
/// `engine::forward`): what the caller's gRPC status is made of (its
/// code, message and field), since the store's and the core's own error
/// types stay in the process that met them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RemoteError {
    InvalidArgument {
        field: String,
        message: String,
    },
    NotFound {
        message: String,
    },
    PermissionDenied {
        message: String,
    },
    FailedPrecondition {
        message: String,
    },
    Unavailable {
        message: String,
    },
    /// The lead (as [`WheelError::Conflict`] names it).
    Conflict {
        lead: String,
    },
    Internal {
        message: String,
    },
}

impl From<WheelError> for RemoteError {
    fn from(err: WheelError) -> Self {
        match err {
            WheelError::InvalidArgument { field, message } => Self::InvalidArgument {
                field: field.into_owned(),
                message,
            },
            WheelError::NotFound(message) => Self::NotFound { message },
            WheelError::PermissionDenied(message) => Self::PermissionDenied { message },
            WheelError::FailedPrecondition(message) => Self::FailedPrecondition { message },
            // The same split as the status mapping below.
            WheelError::Route(
                route @ (RouteError::NotYourOffer { .. } | RouteError::NotTeamMember { .. }),
            ) => Self::PermissionDenied {
                message: route.to_string(),
            },
            WheelError::Route(route) => Self::FailedPrecondition {
                message: route.to_string(),
            },
            WheelError::Unavailable(message) => Self::Unavailable { message },
            WheelError::Conflict(lead) => Self::Conflict { lead },
            WheelError::Store(err) => {
                tracing::error!(error = %err, "store error in a forwarded command");
                Self::Unavailable {
                    message: STORE_UNAVAILABLE.into(),
                }
            }
            WheelError::Corrupt(message) => {
                tracing::error!(%message, "corrupt routing state in a forwarded command");
                Self::Internal { message }
            }
        }
    }
}

impl From<RemoteError> for WheelError {
    fn from(err: RemoteError) -> Self {
        match err {
            RemoteError::InvalidArgument { field, message } => WheelError::InvalidArgument {
                field: Cow::Owned(field),
                message,
            },
            RemoteError::NotFound { message } => WheelError::NotFound(message),
            RemoteError::PermissionDenied { message } => WheelError::PermissionDenied(message),
            RemoteError::FailedPrecondition { message } => WheelError::FailedPrecondition(message),
            RemoteError::Unavailable { message } => WheelError::Unavailable(message),
            RemoteError::Conflict { lead } => WheelError::Conflict(lead),
            RemoteError::Internal { message } => WheelError::Corrupt(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<fn() -> WheelError> {
        vec![
            || WheelError::invalid("rep_id", "must not be empty"),
            || WheelError::NotFound("lead l-1 not found".into()),
            || WheelError::PermissionDenied("ana may not act for ben".into()),
            || WheelError::FailedPrecondition("lead l-1 has no team yet".into()),
            || {
                WheelError::Route(RouteError::NotYourOffer {
                    lead_id: "l-1".into(),
                })
            },
            || {
                WheelError::Route(RouteError::NotTeamMember {
                    rep: "ana".into(),
                    team_id: "t".into(),
                })
            },
            || {
                WheelError::Route(RouteError::AlreadyAssigned {
                    lead_id: "l-1".into(),
                    owner: "ben".into(),
                })
            },
            || {
                WheelError::Route(RouteError::WrongPhase {
                    lead_id: "l-1".into(),
                    phase: "pooled",
                    action: "pass",
                })
            },
            || WheelError::Unavailable("shutting down".into()),
            || WheelError::Conflict("l-1".into()),
            || WheelError::Store(sqlx::Error::PoolTimedOut),
            || WheelError::Corrupt("bad routing json".into()),
        ]
    }

    /// A forwarded command's caller gets the status (code, message and
    /// field detail) it would have got from the replica holding the lease.
    #[test]
    fn an_error_sent_back_from_the_lease_holder_keeps_its_status() {
        for make in every_kind() {
            let direct = Status::from(make());
            let wire = serde_json::to_vec(&RemoteError::from(make())).unwrap();
            let remote: RemoteError = serde_json::from_slice(&wire).unwrap();
            let forwarded = Status::from(WheelError::from(remote));
            assert_eq!(forwarded.code(), direct.code(), "{direct:?}");
            assert_eq!(forwarded.message(), direct.message());
            assert_eq!(forwarded.details(), direct.details());
        }
    }
}

//! The wheel's one error type and its mapping to gRPC status codes.

use std::borrow::Cow;

use leadwheel_wheel_core::{RouteError, RuleError};
use tonic::Status;

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
                Status::unavailable("the wheel's store is unavailable; try again")
            }
            WheelError::Corrupt(message) => {
                tracing::error!(%message, "corrupt routing state");
                Status::internal("internal error")
            }
        }
    }
}

//! The service's one error type and its one mapping to gRPC statuses.
//!
//! Store failures are logged in full and returned vaguely (the plumbing's
//! `StoreError` mapping), so callers never see SQL or connection details.

use std::borrow::Cow;

use leadwheel_plumbing::grpc;
use leadwheel_plumbing::store::StoreError;
use tonic::Status;

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is wrong; `field` names it for the client (e.g.
    /// `period.from`, `quotas[2].currency`).
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The request field at fault.
        field: Cow<'static, str>,
        /// What is wrong with it.
        reason: String,
    },
    /// No verified caller on the request.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The caller may not see or change this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The request cannot be answered or run in the service's current
    /// state (no snapshot taken yet; a rebuild while one runs).
    #[error("{0}")]
    FailedPrecondition(String),
    /// NATS failed (logged in full, answered as unavailable).
    #[error("the event bus is unavailable")]
    Bus(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A failed-precondition error.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::FailedPrecondition(message.into())
    }

    /// A permission-denied error.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::PermissionDenied(message.into())
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidArgument { field, reason } => {
                grpc::invalid_argument(message, field, reason)
            }
            Error::Unauthenticated => Status::unauthenticated("no authenticated caller"),
            Error::PermissionDenied(_) => Status::permission_denied(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            Error::Bus(detail) => {
                tracing::error!(error = %detail, "event bus call failed");
                Status::unavailable(message)
            }
            // Logged in full, answered vaguely (UNAVAILABLE or INTERNAL).
            Error::Store(err) => err.into(),
        }
    }
}

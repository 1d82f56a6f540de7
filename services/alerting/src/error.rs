//! The service's one error type and its one mapping to gRPC statuses.
//!
//! Store failures are logged in full and returned vaguely (the plumbing's
//! `StoreError` mapping), so callers never see SQL or connection details.

use leadwheel_plumbing::grpc;
use leadwheel_plumbing::paging::PagingError;
use leadwheel_plumbing::store::StoreError;
use tonic::Status;

/// Everything an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is wrong; `field` names it for the client.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No verified caller on the request.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The caller may not see or change this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Something named by the request does not exist.
    #[error("no {what} with id {id:?}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The request is fine but the alert's state refuses it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

impl From<PagingError> for Error {
    fn from(err: PagingError) -> Self {
        Self::invalid(err.field(), err.reason())
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
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
            Error::NotFound { .. } => Status::not_found(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            // Logged in full, answered vaguely (UNAVAILABLE or INTERNAL).
            Error::Store(err) => err.into(),
        }
    }
}

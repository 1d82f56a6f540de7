//! The service's one error type and its one mapping to gRPC statuses.
//!
//! Store failures are logged here in full and returned vaguely, so callers
//! never see SQL or connection details.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

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

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidArgument { field, reason } => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request_violation(field, reason),
            ),
            Error::Unauthenticated => Status::unauthenticated("no authenticated caller"),
            Error::Store(StoreError::Unavailable(source)) => {
                tracing::error!(error = %source, "store unavailable");
                Status::unavailable("the store is unavailable; retry shortly")
            }
            Error::Store(StoreError::Query(source)) => {
                tracing::error!(error = %source, "store query failed");
                Status::internal("internal error")
            }
        }
    }
}

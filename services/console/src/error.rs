//! One error type for the handlers and its one mapping to HTTP: a service's
//! gRPC status keeps its meaning (PERMISSION_DENIED is 403, NOT_FOUND 404,
//! INVALID_ARGUMENT 400 with the service's message naming the field, a lost
//! race 409); anything unexpected is logged in full and shown vaguely.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use tonic::Code;

use crate::i18n::{self, Lang};

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A service said no (or failed).
    #[error("{0}")]
    Upstream(#[from] tonic::Status),
    /// Bad input from the browser.
    #[error("{field}: {message}")]
    BadRequest {
        /// The form field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Refused by the console itself (CSRF, Origin, role).
    #[error("{0}")]
    Forbidden(String),
}

/// An error with the language to show it in.
#[derive(Debug)]
pub struct Failure {
    /// The error.
    pub error: ConsoleError,
    /// The user's language.
    pub lang: Lang,
}

impl ConsoleError {
    /// Shown in `lang`.
    pub fn in_lang(self, lang: Lang) -> Failure {
        Failure { error: self, lang }
    }

    /// The HTTP status and the text a user sees.
    pub fn status_and_text(&self, lang: Lang) -> (StatusCode, String) {
        match self {
            ConsoleError::BadRequest { field, message } => {
                (StatusCode::BAD_REQUEST, format!("{field}: {message}"))
            }
            ConsoleError::Forbidden(message) => (StatusCode::FORBIDDEN, message.clone()),
            ConsoleError::Upstream(status) => {
                let status_code = match status.code() {
                    Code::PermissionDenied => StatusCode::FORBIDDEN,
                    Code::NotFound => StatusCode::NOT_FOUND,
                    Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
                    Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => {
                        StatusCode::CONFLICT
                    }
                    Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                    Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                    Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                    Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                    _ => StatusCode::BAD_GATEWAY,
                };
                let text = match status.code() {
                    Code::PermissionDenied => {
                        format!("{} ({})", i18n::FORBIDDEN.get(lang), status.message())
                    }
                    Code::NotFound => {
                        format!("{} ({})", i18n::NOT_FOUND.get(lang), status.message())
                    }
                    _ if status_code.is_server_error() => {
                        tracing::error!(code = ?status.code(), message = status.message(), "a service call failed");
                        i18n::ERROR.get(lang).to_string()
                    }
                    _ => status.message().to_string(),
                };
                (status_code, text)
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, text) = self.error.status_and_text(self.lang);
        // A fragment: htmx swaps it where the answer was to go (the console
        // tells htmx to swap error answers too); a full page request shows it
        // as the page's only content, which reads well enough.
        let body = maud::html! {
            p.error role="alert" data-status=(status.as_u16()) { (text) }
        };
        (status, Html(body.into_string())).into_response()
    }
}

/// A handler's result.
pub type Answer<T> = Result<T, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_meaning() {
        let cases = [
            (
                tonic::Status::permission_denied("not yours"),
                StatusCode::FORBIDDEN,
            ),
            (tonic::Status::not_found("no lead"), StatusCode::NOT_FOUND),
            (
                tonic::Status::invalid_argument("reason: empty"),
                StatusCode::BAD_REQUEST,
            ),
            (
                tonic::Status::failed_precondition("offer closed"),
                StatusCode::CONFLICT,
            ),
            (
                tonic::Status::internal("db exploded"),
                StatusCode::BAD_GATEWAY,
            ),
        ];
        for (status, want) in cases {
            let (got, text) = ConsoleError::Upstream(status).status_and_text(Lang::En);
            assert_eq!(got, want, "{text}");
            assert!(
                !text.contains("db exploded"),
                "internal details stay in the log"
            );
        }
    }
}

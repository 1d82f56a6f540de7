//! The one error type of the intake service and its two mappings: to a
//! `tonic::Status` for gRPC and to an HTTP status with a JSON body.
//!
//! Both mappings are exhaustive `match`es, so a new variant cannot be added
//! without deciding what each front door says about it. Internal errors are
//! logged in full here and answered vaguely, so no SQL or stack detail leaks
//! to a caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// Everything that can go wrong while serving intake.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body is not JSON, or not a JSON object.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A form body that is not valid URL encoding or not UTF-8.
    #[error("malformed form body: {0}")]
    MalformedForm(String),
    /// The body is declared as neither JSON nor a form.
    #[error(
        "unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded"
    )]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// One field is missing, of the wrong type, too long or malformed.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field at fault, as named in the request.
        field: &'static str,
        /// A stable machine-readable reason, e.g. `too_long`.
        code: &'static str,
        /// What is wrong, for a human.
        message: String,
    },
    /// A webhook's signature is missing, wrong or too old.
    #[error("{message}")]
    Unauthenticated {
        /// `missing_signature`, `bad_signature`, `stale_signature` or `bad_token`.
        code: &'static str,
        /// What is wrong, for a human.
        message: String,
    },
    /// Too many requests from one source address or integration.
    #[error("too many signups from this {scope}; retry in {retry_after_s} s")]
    RateLimited {
        /// `address` or `integration`.
        scope: &'static str,
        /// Whole seconds until a request would be admitted.
        retry_after_s: u64,
    },
    /// The caller's role may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// No lead has this id.
    #[error("lead {0:?} not found")]
    NotFound(String),
    /// An idempotency key was reused for a different request.
    #[error("request id {0:?} was already used for a different lead")]
    RequestConflict(String),
    /// The store could not be reached in time; the caller may retry.
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or an unexpected store failure.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl IntakeError {
    /// A field error.
    pub fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            code,
            message: message.into(),
        }
    }

    /// The stable code clients can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::MalformedForm(_) => "malformed_form",
            Self::RateLimited { .. } => "rate_limited",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidField { code, .. } => code,
            Self::Unauthenticated { code, .. } => code,
            Self::PermissionDenied(_) => "permission_denied",
            Self::NotFound(_) => "not_found",
            Self::RequestConflict(_) => "request_conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The field at fault, when the error is about one.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::MalformedForm(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RequestConflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC code this error answers with.
    pub fn grpc_code(&self) -> Code {
        match self {
            Self::MalformedJson(_)
            | Self::MalformedForm(_)
            | Self::UnsupportedMediaType(_)
            | Self::PayloadTooLarge { .. }
            | Self::InvalidField { .. } => Code::InvalidArgument,
            Self::Unauthenticated { .. } => Code::Unauthenticated,
            Self::RateLimited { .. } => Code::ResourceExhausted,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::NotFound(_) => Code::NotFound,
            Self::RequestConflict(_) => Code::AlreadyExists,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// Logs server-side failures in full; client errors are not worth a warning.
    fn log(&self) {
        match self {
            Self::Unavailable(err) => {
                tracing::warn!(error = format!("{err:#}"), "store unavailable")
            }
            Self::Internal(err) => tracing::error!(error = format!("{err:#}"), "internal error"),
            _ => tracing::debug!(code = self.code(), error = %self, "request refused"),
        }
    }
}

impl From<IntakeError> for tonic::Status {
    fn from(err: IntakeError) -> Self {
        err.log();
        let code = err.grpc_code();
        let message = err.to_string();
        match err.field_name() {
            // The field also travels as a google.rpc.BadRequest detail, so a
            // client can point at it without parsing the message.
            Some(field) => tonic::Status::with_error_details(
                code,
                message.clone(),
                ErrorDetails::with_bad_request_violation(field, message),
            ),
            None => tonic::Status::new(code, message),
        }
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        self.log();
        let body = json!({
            "error": {
                "code": self.code(),
                "message": self.to_string(),
                "field": self.field_name(),
            }
        });
        let mut response = (self.http_status(), Json(body)).into_response();
        if let Self::RateLimited { retry_after_s, .. } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_s),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field_on_both_doors() {
        let err = IntakeError::field("email", "invalid_format", "not an email address");
        assert_eq!(err.http_status(), StatusCode::UNPROCESSABLE_ENTITY);
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status
            .get_details_bad_request()
            .expect("bad request detail");
        assert_eq!(bad_request.field_violations[0].field, "email");
    }

    #[test]
    fn internal_errors_say_nothing_inside() {
        let err = IntakeError::Internal(anyhow::anyhow!("relation intake_leads: secret detail"));
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}

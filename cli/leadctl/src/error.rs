//! Failures in plain words: every error leadctl prints is one line,
//! `leadctl: <reason>`, naming the service and what to do where it can.

use tonic::{Code, Status};

/// A service leadctl talks to, named the way people say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    IntakeHttp,
    Intake,
    Wheel,
    Opportunity,
    Alerting,
    Reporting,
}

impl Target {
    /// "the wheel", "the intake service", ...
    pub fn phrase(self) -> &'static str {
        match self {
            Target::IntakeHttp => "the signup endpoint",
            Target::Intake => "the intake service",
            Target::Wheel => "the wheel",
            Target::Opportunity => "the opportunity service",
            Target::Alerting => "the alerting service",
            Target::Reporting => "the reporting service",
        }
    }
}

/// Nothing answers at `url`.
pub fn unreachable(target: Target, url: &str) -> String {
    format!(
        "cannot reach {} at {url}: is `leadwheel dev` running?",
        target.phrase()
    )
}

/// A gRPC error as one plain line.
pub fn describe_status(target: Target, url: &str, status: &Status) -> String {
    let detail = one_line(status.message());
    let with = |words: &str| {
        if detail.is_empty() {
            words.to_string()
        } else {
            format!("{words}: {detail}")
        }
    };
    match status.code() {
        Code::Unavailable if looks_like_connection_failure(&detail) => unreachable(target, url),
        Code::Unavailable => with(&format!("{} at {url} is unavailable", target.phrase())),
        Code::PermissionDenied => with("permission denied"),
        Code::Unauthenticated => format!(
            "{} (check --token, LEADWHEEL_TOKEN or LEADWHEEL_JWT_SECRET)",
            with("not authenticated")
        ),
        Code::NotFound => with("not found"),
        Code::InvalidArgument => with("invalid argument"),
        Code::AlreadyExists => with("already exists"),
        Code::FailedPrecondition => with("not possible now"),
        Code::Aborted => with("conflict, try again"),
        Code::OutOfRange => with("out of range"),
        Code::ResourceExhausted => with("too busy or over a limit"),
        Code::DeadlineExceeded => with(&format!("{} did not answer in time", target.phrase())),
        Code::Cancelled => with("cancelled"),
        Code::Unimplemented => with(&format!("{} does not support this yet", target.phrase())),
        Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => {
            with(&format!("{} failed", target.phrase()))
        }
    }
}

/// tonic reports a refused or reset connection as `Unavailable` with
/// transport words in the message.
fn looks_like_connection_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "connect",
        "connection refused",
        "transport error",
        "dns error",
        "broken pipe",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// Collapses line breaks and runs of spaces, so a message fits one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when retrying cannot help (used by `offers watch` to decide
/// between reconnecting and giving up).
pub fn is_permanent(code: Code) -> bool {
    matches!(
        code,
        Code::Unauthenticated
            | Code::PermissionDenied
            | Code::InvalidArgument
            | Code::NotFound
            | Code::Unimplemented
            | Code::FailedPrecondition
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHEEL: &str = "http://127.0.0.1:50052";

    #[test]
    fn maps_codes_to_words() {
        let cases = [
            (
                Status::permission_denied("rep ana may not act as rep ben"),
                "permission denied: rep ana may not act as rep ben",
            ),
            (Status::not_found("lead L1"), "not found: lead L1"),
            (
                Status::invalid_argument("reason: required"),
                "invalid argument: reason: required",
            ),
            (
                Status::failed_precondition("the offer expired"),
                "not possible now: the offer expired",
            ),
            (Status::internal("boom"), "the wheel failed: boom"),
            (
                Status::unimplemented(""),
                "the wheel does not support this yet",
            ),
            (
                Status::deadline_exceeded(""),
                "the wheel did not answer in time",
            ),
        ];
        for (status, expected) in cases {
            assert_eq!(describe_status(Target::Wheel, WHEEL, &status), expected);
        }
    }

    #[test]
    fn unauthenticated_says_what_to_check() {
        let line = describe_status(
            Target::Wheel,
            WHEEL,
            &Status::unauthenticated("token expired"),
        );
        assert!(
            line.starts_with("not authenticated: token expired"),
            "{line}"
        );
        assert!(line.contains("LEADWHEEL_JWT_SECRET"));
    }

    #[test]
    fn refused_connection_says_is_leadwheel_dev_running() {
        let status = Status::unavailable("tcp connect error: Connection refused (os error 111)");
        assert_eq!(
            describe_status(Target::Wheel, WHEEL, &status),
            "cannot reach the wheel at http://127.0.0.1:50052: is `leadwheel dev` running?"
        );
        let status = Status::unavailable("draining");
        assert_eq!(
            describe_status(Target::Reporting, "u", &status),
            "the reporting service at u is unavailable: draining"
        );
    }

    #[test]
    fn messages_become_one_line() {
        let status = Status::internal("line one\n  line two\r\n");
        assert_eq!(
            describe_status(Target::Intake, "u", &status),
            "the intake service failed: line one line two"
        );
    }

    #[test]
    fn permanent_codes() {
        assert!(is_permanent(Code::PermissionDenied));
        assert!(!is_permanent(Code::Unavailable));
        assert!(!is_permanent(Code::Internal));
    }
}

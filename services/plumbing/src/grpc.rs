//! The gRPC server every service runs: its own service behind the auth
//! interceptor, plus tonic-health and tonic-reflection (v1 and v1alpha,
//! describing only what this server serves; see [`crate::reflection`]),
//! unauthenticated so probes and `grpcurl` just work, with the caller's
//! trace context taken from the `traceparent` metadata; over TLS when the
//! service has a certificate ([`crate::tls`]).

use std::convert::Infallible;

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_types::{ErrorDetails, StatusExt};

use crate::telemetry;

/// Serves `service` on `listener` (over TLS with `tls`) until `stop`
/// fires, then finishes in-flight calls and returns.
pub async fn serve<S>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: S,
    stop: CancellationToken,
) -> Result<()>
where
    S: tower::Service<http::Request<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: axum::response::IntoResponse,
    S::Future: Send + 'static,
{
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<S>().await;
    let (reflection_v1, reflection_v1alpha) = crate::reflection::services(S::NAME)?;
    let reporter = health_reporter.clone();
    let stop_signal = stop.clone();
    let shutdown = async move {
        stop_signal.cancelled().await;
        // Tell probes first, so no new calls are routed here while draining.
        reporter.set_not_serving::<S>().await;
    };
    Server::builder()
        .trace_fn(grpc_span)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        // Accepted with TCP_NODELAY (tonic sets it only on listeners it
        // binds itself), TLS handshakes done concurrently.
        .serve_with_incoming_shutdown(
            crate::tls::Incoming::new(listener, tls).into_stream(),
            shutdown,
        )
        .await
        .context("serving gRPC")
}

/// `INVALID_ARGUMENT` with `message`, carrying a `BadRequest` field
/// violation on `field` as details so a client can point at the field.
pub fn invalid_argument(
    message: impl Into<String>,
    field: impl Into<String>,
    reason: impl Into<String>,
) -> tonic::Status {
    tonic::Status::with_error_details(
        tonic::Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request_violation(field, reason),
    )
}

fn grpc_span(request: &http::Request<()>) -> tracing::Span {
    let span = tracing::info_span!("grpc", rpc = %request.uri().path());
    let traceparent = request
        .headers()
        .get(telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    telemetry::set_parent(&span, traceparent);
    span
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = std::pin::pin!(crate::tls::Incoming::new(listener, None).into_stream());
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        let crate::tls::Conn::Plain(tcp) = accepted else {
            panic!("plain listener gave a TLS connection")
        };
        assert!(tcp.nodelay().unwrap());
    }
}

//! The admin port: `/healthz` (the process is up), `/readyz` (serving, not
//! draining) and Prometheus `/metrics`. The console has no store or bus of
//! its own; a service it calls being down shows on its pages, not here, so
//! a rolling restart of the wheel does not take every console out too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{StatusCode, header};
use leadwheel_plumbing::tls::Incoming;
use tokio_util::sync::CancellationToken;

/// Serves the admin endpoints on `listener` (over TLS when it was made
/// with a TLS config) until `stop` fires.
pub async fn serve(
    listener: Incoming,
    accepting: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(accepting);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("serving the admin port")
}

async fn ready(State(accepting): State<Arc<AtomicBool>>) -> impl IntoResponse {
    if accepting.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not accepting (starting or draining)\n",
        )
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        leadwheel_plumbing::metrics::render(),
    )
}

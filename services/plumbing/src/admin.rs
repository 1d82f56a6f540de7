//! The admin HTTP port: `/healthz` (the process is up), `/readyz` (the
//! store answers and the service is not draining; NATS state is reported)
//! and Prometheus `/metrics`; over TLS when the service has a certificate
//! (unless `LEADWHEEL_ADMIN_TLS=0`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::metrics;
use crate::store::Store;

/// What readiness depends on.
#[derive(Clone)]
pub struct Readiness {
    /// False until started and again once draining.
    pub accepting: Arc<AtomicBool>,
    /// The store, pinged on each probe.
    pub store: Store,
    /// The bus, whose connection state is checked.
    pub bus: Bus,
}

/// Serves the admin endpoints (over TLS with `tls`) until `stop` fires.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    readiness: Readiness,
    stop: CancellationToken,
) -> Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(readiness);
    axum::serve(crate::tls::Incoming::new(listener, tls), app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("serving the admin port")
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    if !readiness.accepting.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not accepting (starting or draining)\n".to_string(),
        );
    }
    if let Err(err) = readiness.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {err}\n"),
        );
    }
    // NATS being down does not make a service unready: its writes queue in
    // the outbox and go out when NATS is back (intake keeps accepting
    // signups), so routing traffic away would only lose work.
    if !readiness.bus.is_connected() {
        return (
            StatusCode::OK,
            "ready (nats disconnected: events queue in the outbox)\n".to_string(),
        );
    }
    (StatusCode::OK, "ready\n".to_string())
}

async fn render_metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::render(),
    )
}

//! The reporting service: read models built from the event streams.
//!
//! For now the funnel: leads created; offers made, claimed, passed and
//! expired per rep and team; leads pooled per team; leads in work per rep
//! and team. It consumes intake's, the wheel's and opportunity's streams,
//! counts each fact once (by event id in the inbox and by the fact's own
//! key), and publishes nothing.

use std::future::Future;

use anyhow::Result;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use sqlx::migrate::Migrator;

pub mod consumer;
pub mod error;
pub mod funnel;
pub mod grpc;
pub mod store;

pub use error::Error;

/// The service name: config prefix, telemetry name.
pub const SERVICE: &str = "reporting";

/// This service's own tables (`reporting_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The durable consumers: (name, stream, subjects).
pub const CONSUMERS: [(&str, &StreamSpec, &str); 3] = [
    ("reporting-intake", &INTAKE_STREAM, subjects::LEAD_CREATED),
    ("reporting-wheel", &WHEEL_STREAM, "wheel.>"),
    ("reporting-opps", &OPPS_STREAM, "opps.>"),
];

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = Runtime::start(config, &MIGRATOR, None).await?;
    for (durable, stream, filter) in CONSUMERS {
        runtime.spawn_consumer(
            ConsumerSpec {
                durable: durable.to_string(),
                stream,
                filter_subjects: vec![filter.to_string()],
            },
            consumer::FunnelHandler,
        );
    }
    let api = grpc::Api::new(store::FunnelStore::new(runtime.store.clone()));
    let service = ReportingServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::REPORTING_GRPC, run).await
}

//! The alerting service: tells managers and reps what needs them.
//!
//! For now one rule: when the wheel sends a lead to its team's open pool
//! (`wheel.lead.pooled`), the team's manager gets a `lead_pooled` alert. An
//! alert is stored, deduplicated per (kind, subject), announced on
//! `alerts.raised` through the outbox (for live clients and future
//! webhook/email delivery) and listed over gRPC.

use std::future::Future;

use anyhow::Result;
use leadwheel_plumbing::bus::{ALERTS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::alerting::v1::alerting_service_server::AlertingServiceServer;
use sqlx::migrate::Migrator;

pub mod consumer;
pub mod error;
pub mod grpc;
pub mod store;

pub use error::Error;

/// The service name: config prefix, outbox source, telemetry name.
pub const SERVICE: &str = "alerting";

/// The durable consumer reading the wheel's events.
pub const WHEEL_CONSUMER: &str = "alerting-wheel";

/// This service's own tables (`alerting_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = Runtime::start(config, &MIGRATOR, Some(&ALERTS_STREAM)).await?;
    runtime.spawn_consumer(
        ConsumerSpec {
            durable: WHEEL_CONSUMER.to_string(),
            stream: &WHEEL_STREAM,
            filter_subjects: vec![
                subjects::LEAD_POOLED.to_string(),
                subjects::LEAD_ESCALATED.to_string(),
                subjects::REP_AVAILABILITY_CHANGED.to_string(),
            ],
        },
        consumer::PooledHandler::new(runtime.outbox.clone()),
    );
    let api = grpc::Api::new(store::AlertStore::new(runtime.store.clone()));
    let service = AlertingServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::ALERTING_GRPC, run).await
}

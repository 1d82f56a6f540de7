//! The opportunity service: the leads reps are working.
//!
//! When the wheel assigns a lead (`wheel.lead.assigned`) this service records
//! it as in work for that rep and announces it (`opps.lead.opened`) through
//! the outbox. Reps list and read their own leads in work over gRPC;
//! managers and admins read everyone's.

use std::future::Future;

use anyhow::Result;
use leadwheel_plumbing::bus::{OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::opportunity::v1::opportunity_service_server::OpportunityServiceServer;
use sqlx::migrate::Migrator;

pub mod consumer;
pub mod error;
pub mod grpc;
pub mod store;

pub use error::Error;

/// The service name: config prefix, outbox source, telemetry name.
pub const SERVICE: &str = "opportunity";

/// The durable consumer reading the wheel's assignments.
pub const WHEEL_CONSUMER: &str = "opportunity-wheel";

/// This service's own tables (`opps_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = Runtime::start(config, &MIGRATOR, Some(&OPPS_STREAM)).await?;
    runtime.spawn_consumer(
        ConsumerSpec {
            durable: WHEEL_CONSUMER.to_string(),
            stream: &WHEEL_STREAM,
            filter_subjects: vec![subjects::LEAD_ASSIGNED.to_string()],
        },
        consumer::AssignedHandler::new(runtime.outbox.clone()),
    );
    let api = grpc::Api::new(store::LeadStore::new(runtime.store.clone()));
    let service = OpportunityServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::OPPORTUNITY_GRPC, run).await
}

//! The opportunity service: where the work on a claimed lead lives.
//!
//! When the wheel assigns a lead (`wheel.lead.assigned`) this service records
//! it as in work for that rep and announces it (`opps.lead.opened`). The rep
//! logs touches, converts the lead into an account and an opportunity (or
//! disqualifies it), and moves the deal through the pipeline's stages;
//! managers change owners (respecting stages that lock them) and hand over
//! a leaving rep's book. Every change leaves through the outbox as an
//! `opps.*` event. See `docs/opportunity.md`.

use std::future::Future;

use anyhow::Result;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Contract, Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::events::v1::PersonErased;
use leadwheel_proto::opportunity::v1::opportunity_service_server::OpportunityServiceServer;
use sqlx::migrate::Migrator;

pub mod access;
pub mod consumer;
pub mod convert;
pub mod error;
pub mod events;
pub mod grpc;
pub mod ops;
pub mod rules;
pub mod store;

pub use error::Error;

/// The service name: config prefix, outbox source, telemetry name.
pub const SERVICE: &str = "opportunity";

/// The durable consumer reading the wheel's assignments and directory.
pub const WHEEL_CONSUMER: &str = "opportunity-wheel";

/// The durable consumer reading intake's erasures.
pub const INTAKE_CONSUMER: &str = "opportunity-intake";

/// This service's own tables (`opps_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service's durable consumers: the wheel's assignments and directory,
/// and intake's erasures (the contract tests read these).
pub fn consumer_specs() -> [ConsumerSpec; 2] {
    [
        ConsumerSpec {
            durable: WHEEL_CONSUMER.to_string(),
            stream: &WHEEL_STREAM,
            filter_subjects: consumer::WheelHandler::subjects(),
        },
        ConsumerSpec {
            durable: INTAKE_CONSUMER.to_string(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec![PersonErased::SUBJECT.to_string()],
        },
    ]
}

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let settings = ops::Settings::from_env(&config)?;
    let runtime = Runtime::start(config, &MIGRATOR, Some(&OPPS_STREAM)).await?;
    let [wheel, intake] = consumer_specs();
    runtime.spawn_consumer(wheel, consumer::WheelHandler::new(runtime.outbox.clone()));
    runtime.spawn_consumer(intake, consumer::ErasureHandler);
    let ops = ops::Service::new(runtime.store.clone(), runtime.outbox.clone(), settings);
    let service =
        OpportunityServiceServer::with_interceptor(grpc::Api::new(ops), runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::OPPORTUNITY_GRPC, run).await
}

//! The wheel service: routes each new lead round its team's ring with
//! exclusive timed offers, then to the team's open pool.
//!
//! The routing rules and eligibility are the pure core
//! (`leadwheel-wheel-core`). This crate layers, from the outside in: the
//! gRPC API ([`grpc`]: caller and request in, messages out) over the
//! operations ([`ops`]: checks and access, one area per module) over the
//! [`engine`] (every transaction; deciding and writing transitions through
//! [`effects`]) over the [`store`] (every query). The lead-created
//! consumer ([`consumer`]), intake's erasures ([`erasure`]), opportunity's
//! work events ([`work`]) and the
//! durable timers ([`timers`]) drive the engine directly; [`live`] sends
//! the offer pushes. Time comes from an injected clock.

pub mod consumer;
pub mod convert;
pub mod effects;
pub mod engine;
pub mod erasure;
pub mod error;
pub mod events;
pub mod grpc;
pub mod live;
pub mod ops;
pub mod store;
pub mod timers;
pub mod validate;
pub mod why_not;
pub mod work;

use std::future::Future;

use anyhow::Result;
use leadwheel_plumbing::Contract;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::clock::{self, SharedClock};
use leadwheel_plumbing::config::{ServiceConfig, ports};
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime};
use leadwheel_proto::events::v1::{LeadCreated, PersonErased};
use leadwheel_proto::wheel::v1::wheel_service_server::WheelServiceServer;
use sqlx::migrate::Migrator;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service name.
pub const SERVICE: &str = "wheel";

/// The wheel's durable consumers: new leads from intake, opportunity's
/// reports of the work on assigned leads, and intake's erasures (the
/// contract tests read these).
pub fn consumer_specs() -> [ConsumerSpec; 3] {
    [
        ConsumerSpec {
            durable: "wheel-intake".into(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec![LeadCreated::SUBJECT.into()],
        },
        ConsumerSpec {
            durable: "wheel-erasure".into(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec![PersonErased::SUBJECT.into()],
        },
        ConsumerSpec {
            durable: "wheel-opps".into(),
            stream: &OPPS_STREAM,
            filter_subjects: work::SUBJECTS.iter().map(|s| s.to_string()).collect(),
        },
    ]
}

/// Runs the wheel on `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_with_clock(clock::system(), config, listeners, shutdown).await
}

/// As [`run`], reading the time from `clock` (tests pass a manual one).
pub async fn run_with_clock(
    clock: SharedClock,
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = Runtime::start(config, &MIGRATOR, Some(&WHEEL_STREAM)).await?;
    let engine = engine::Engine::new(
        runtime.store.clone(),
        runtime.outbox.clone(),
        runtime.bus.clone(),
        clock,
    );
    // On Postgres, take the writer's lease (if free) before consuming,
    // so a lone replica batches from its first event.
    if let Err(err) = engine.renew_lease().await {
        tracing::warn!(error = %err, "taking the writer's lease failed; retrying in the background");
    }
    let [leads, erasures, opps_work] = consumer_specs();
    runtime.spawn_consumer(leads, consumer::LeadCreatedHandler::new(engine.clone()));
    runtime.spawn_consumer(erasures, erasure::ErasureHandler);
    runtime.spawn_consumer(opps_work, work::WorkHandler::new(engine.clone()));
    runtime.spawn_background(engine.clone().run_writer(runtime.background.clone()));
    runtime.spawn_background(engine.clone().run_lease(runtime.background.clone()));
    runtime.spawn_background(engine.clone().run_forwarded(runtime.background.clone()));
    runtime.spawn_background(timers::run(engine.clone(), runtime.background.clone()));
    let api = grpc::WheelApi::new(ops::Wheel::new(engine), runtime.front.clone());
    let service = WheelServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime
        .serve(listeners, service, Vec::new(), shutdown)
        .await
}

/// The binary's body: config from the environment, telemetry, bind, run
/// until SIGTERM/SIGINT.
pub async fn main_entry() -> Result<()> {
    leadwheel_plumbing::runtime::run_main(SERVICE, ports::WHEEL_GRPC, run).await
}

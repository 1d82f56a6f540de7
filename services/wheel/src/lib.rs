//! The wheel service: routes each new lead round its team's ring with
//! exclusive timed offers, then to the team's open pool.
//!
//! The routing rules are the pure core (`leadwheel-wheel-core`); this crate
//! wraps it with the store ([`store`]), durable timers ([`timers`]), the
//! lead-created consumer ([`consumer`]), opportunity's work events
//! ([`work`]), live pushes ([`live`]) and the
//! gRPC API ([`grpc`]).

pub mod consumer;
pub mod convert;
pub mod effects;
pub mod engine;
pub mod error;
pub mod grpc;
pub mod insight;
pub mod live;
pub mod manage;
pub mod store;
pub mod timers;
pub mod validate;
pub mod why_not;
pub mod work;

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::{ServiceConfig, ports};
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime};
use leadwheel_proto::wheel::v1::wheel_service_server::WheelServiceServer;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service name.
pub const SERVICE: &str = "wheel";

/// Runs the wheel on `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = Runtime::start(config, &MIGRATOR, Some(&WHEEL_STREAM)).await?;
    let engine = engine::Engine {
        store: runtime.store.clone(),
        outbox: runtime.outbox.clone(),
        bus: runtime.bus.clone(),
        timers: Arc::new(Notify::new()),
        rosters: Default::default(),
    };
    runtime.spawn_consumer(
        ConsumerSpec {
            durable: "wheel-intake".into(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec![subjects::LEAD_CREATED.into()],
        },
        consumer::LeadCreatedHandler::new(engine.clone()),
    );
    runtime.spawn_consumer(
        ConsumerSpec {
            durable: "wheel-opps".into(),
            stream: &OPPS_STREAM,
            filter_subjects: work::SUBJECTS.iter().map(|s| s.to_string()).collect(),
        },
        work::WorkHandler::new(engine.clone()),
    );
    runtime.spawn_background(timers::run(engine.clone(), runtime.background.clone()));
    let api = grpc::WheelApi {
        engine,
        stop: runtime.front.clone(),
    };
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

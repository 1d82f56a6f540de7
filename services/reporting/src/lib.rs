//! The reporting service: read models built from the event streams.
//!
//! The funnel (leads created; offers made, claimed, passed and expired;
//! leads pooled and in work), and the sales models: open pipeline per
//! team, rep and stage with amount and weighted value; won and lost per
//! day; conversions, stage entries and activities per day; quotas, and
//! the forecast and five questions built from them. It consumes intake's,
//! the wheel's and opportunity's streams, applies each event once (by
//! event id in the inbox and by each fact's natural key) in any order, and
//! publishes nothing. See `docs/reporting.md`.

use std::future::Future;

use anyhow::{Context, Result};
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::{env_or, env_parse, ports};
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use sqlx::migrate::Migrator;

pub mod access;
pub mod consumer;
pub mod error;
pub mod event_subjects;
pub mod funnel;
pub mod grpc;
pub mod models;
pub mod period;
pub mod rebuild;
pub mod reports;
pub mod routing;
pub mod sales;
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

/// The reports' settings from the environment:
/// `LEADWHEEL_REPORTING_TIME_ZONE` (IANA name, default `UTC`) and
/// `LEADWHEEL_REPORTING_INTENT_STAGE` (default `commercial`) and
/// `LEADWHEEL_REPORTING_MAX_WON_SHARE_PERCENT` (default 40).
pub fn settings(config: &ServiceConfig) -> Result<reports::Settings> {
    let zone_var = config.service_var("TIME_ZONE");
    let zone_name = env_or(&zone_var, "UTC");
    let zone = jiff::tz::TimeZone::get(&zone_name)
        .with_context(|| format!("{zone_var}: unknown time zone {zone_name:?}"))?;
    let intent_stage = env_or(&config.service_var("INTENT_STAGE"), "commercial");
    let share_var = config.service_var("MAX_WON_SHARE_PERCENT");
    let share: i64 = env_or(&share_var, "40")
        .trim()
        .parse()
        .ok()
        .filter(|p| (1..=100).contains(p))
        .with_context(|| format!("{share_var}: a whole percentage from 1 to 100"))?;
    Ok(reports::Settings {
        zone,
        intent_stage,
        max_won_share_bp: share * 100,
    })
}

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let settings = settings(&config)?;
    let batch_var = config.service_var("REBUILD_BATCH");
    let rebuild_batch: usize = env_parse(&batch_var, 5000)?;
    if !(1..=100_000).contains(&rebuild_batch) {
        anyhow::bail!(
            "{batch_var}: events per rebuild transaction, from 1 to 100000 (got {rebuild_batch})"
        );
    }
    let runtime = Runtime::start(config, &MIGRATOR, None).await?;
    let handler = consumer::Handler {
        applier: models::apply::Applier {
            zone: settings.zone.clone(),
            backend: runtime.store.backend(),
        },
    };
    for (durable, stream, filter) in CONSUMERS {
        runtime.spawn_consumer(
            ConsumerSpec {
                durable: durable.to_string(),
                stream,
                filter_subjects: vec![filter.to_string()],
            },
            handler.clone(),
        );
    }
    let api = grpc::Api::new(
        store::FunnelStore::new(runtime.store.clone()),
        reports::Reports::new(runtime.store.clone(), settings),
        rebuild::Rebuilder::new(
            runtime.store.clone(),
            runtime.bus.clone(),
            runtime.config.database_url.clone(),
            handler.clone(),
            rebuild_batch,
            runtime.background.clone(),
        ),
    );
    let service = ReportingServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::REPORTING_GRPC, run).await
}

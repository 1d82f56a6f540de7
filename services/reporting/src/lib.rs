//! The reporting service: read models built from the event streams.
//!
//! The funnel (leads created; offers made, claimed, passed and expired;
//! leads pooled and in work), and the sales models: open pipeline per
//! team, rep and stage with amount and weighted value; won and lost per
//! day; conversions, stage entries and activities per day; quotas, and
//! the forecast and five questions built from them. It consumes intake's,
//! the wheel's and opportunity's streams, applies each event once (by
//! event id in the inbox and by each fact's natural key) in any order, and
//! publishes nothing. A background job takes the weekly forecast snapshots
//! (`snapshot_job`), and an HTTP port serves every report as CSV (`http`).
//! See `docs/reporting.md`.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, StreamSpec, WHEEL_STREAM};
use leadwheel_plumbing::clock::{self, SharedClock};
use leadwheel_plumbing::config::{env_or, env_parse, ports};
use leadwheel_plumbing::contracts;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime, shutdown, telemetry};
use leadwheel_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

pub mod access;
pub mod consumer;
pub mod error;
pub mod event_subjects;
pub mod forecast_changes;
pub mod funnel;
pub mod grpc;
pub mod histogram;
pub mod http;
pub mod http_query;
pub mod models;
pub mod open_days;
pub mod period;
pub mod rebuild;
pub mod reports;
pub mod routing;
pub mod sales;
pub mod snapshot;
pub mod snapshot_job;
pub mod store;

pub use error::Error;

/// The service name: config prefix, telemetry name.
pub const SERVICE: &str = "reporting";

/// This service's own tables (`reporting_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The durable consumers: (name, stream). Each reads the subjects of
/// [`event_subjects::Incoming`] on its stream ([`filter_subjects`]).
pub const CONSUMERS: [(&str, &StreamSpec); 3] = [
    ("reporting-intake", &INTAKE_STREAM),
    ("reporting-wheel", &WHEEL_STREAM),
    ("reporting-opps", &OPPS_STREAM),
];

/// The subjects reporting reads from `stream`: those of
/// [`event_subjects::Incoming`] whose contract is published there.
pub fn filter_subjects(stream: &StreamSpec) -> Vec<String> {
    event_subjects::Incoming::SUBJECTS
        .iter()
        .filter(|subject| {
            contracts::ALL
                .iter()
                .any(|c| c.subject == **subject && c.stream.name == stream.name)
        })
        .map(|subject| subject.to_string())
        .collect()
}

/// The durable consumers as the service declares them.
pub fn consumer_specs() -> Vec<ConsumerSpec> {
    CONSUMERS
        .into_iter()
        .map(|(durable, stream)| ConsumerSpec {
            durable: durable.to_string(),
            stream,
            filter_subjects: filter_subjects(stream),
        })
        .collect()
}

/// The reports' settings from the environment:
/// `LEADWHEEL_REPORTING_TIME_ZONE` (IANA name, default `UTC`),
/// `LEADWHEEL_REPORTING_INTENT_STAGE` (default `commercial`),
/// `LEADWHEEL_REPORTING_MAX_WON_SHARE_PERCENT` (default 40), and the
/// weekly forecast snapshot's `LEADWHEEL_REPORTING_SNAPSHOT_WEEKDAY`
/// (`monday` … `sunday`, or `off`; default `monday`) and
/// `LEADWHEEL_REPORTING_SNAPSHOT_HOUR` (0–23 in the business time zone,
/// default 6).
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
    let weekday_var = config.service_var("SNAPSHOT_WEEKDAY");
    let hour_var = config.service_var("SNAPSHOT_HOUR");
    let weekday = env_or(&weekday_var, "monday");
    let hour = env_or(&hour_var, "6");
    let snapshots = if weekday.trim().eq_ignore_ascii_case("off") {
        None
    } else {
        Some(snapshot::Schedule::parse(&weekday, &hour).with_context(|| {
            format!(
                "{weekday_var}={weekday:?} / {hour_var}={hour:?}: a weekday (monday … sunday, \
                 or off) and an hour from 0 to 23"
            )
        })?)
    };
    Ok(reports::Settings {
        zone,
        intent_stage,
        max_won_share_bp: share * 100,
        snapshots,
    })
}

/// The CSV download's address: `LEADWHEEL_REPORTING_HTTP_ADDR`, default the
/// gRPC address's host with its port + [`HTTP_OFFSET`] (52055 by default;
/// port 0 when the gRPC port is 0, as in tests).
pub fn http_addr(config: &ServiceConfig) -> Result<SocketAddr> {
    let var = config.service_var("HTTP_ADDR");
    let grpc = config.grpc_addr;
    let port = match grpc.port() {
        0 => 0,
        port => port.saturating_add(HTTP_OFFSET),
    };
    let default = SocketAddr::new(grpc.ip(), port).to_string();
    let text = env_or(&var, &default);
    text.trim()
        .parse()
        .with_context(|| format!("{var}: not an address: {text:?}"))
}

/// Events per rebuild transaction (`LEADWHEEL_REPORTING_REBUILD_BATCH`).
fn rebuild_batch(config: &ServiceConfig) -> Result<usize> {
    let batch_var = config.service_var("REBUILD_BATCH");
    let rebuild_batch: usize = env_parse(&batch_var, 5000)?;
    if !(1..=100_000).contains(&rebuild_batch) {
        anyhow::bail!(
            "{batch_var}: events per rebuild transaction, from 1 to 100000 (got {rebuild_batch})"
        );
    }
    Ok(rebuild_batch)
}

/// The CSV download port is the gRPC port + this by default.
pub const HTTP_OFFSET: u16 = 2000;

/// Runs the service with settings from the environment on already-bound
/// `listeners` until `shutdown` resolves; the CSV download listens on
/// [`http_addr`] (port 0 when the gRPC port is 0).
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let settings = settings(&config)?;
    let http = runtime::bind(http_addr(&config)?).await?;
    run_with(config, settings, clock::system(), listeners, http, shutdown).await
}

/// Runs the service with explicit `settings` and `clock` (the snapshot
/// job's time) until `shutdown` resolves, then drains in order.
pub async fn run_with(
    config: ServiceConfig,
    settings: reports::Settings,
    clock: SharedClock,
    listeners: Listeners,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let rebuild_batch = rebuild_batch(&config)?;
    let runtime = Runtime::start(config, &MIGRATOR, None).await?;
    models::derived::upkeep(&runtime.store, &settings.zone, clock.now_ms())
        .await
        .context("deriving the tables added since this database was made")?;
    let handler = consumer::Handler {
        applier: models::apply::Applier {
            zone: settings.zone.clone(),
            backend: runtime.store.backend(),
        },
    };
    for spec in consumer_specs() {
        runtime.spawn_consumer(spec, handler.clone());
    }
    match settings.snapshots {
        Some(schedule) => {
            let job = snapshot_job::SnapshotJob {
                reader: models::queries::Reader::new(runtime.store.clone()),
                schedule,
                zone: settings.zone.clone(),
                clock,
                bus: runtime.bus.clone(),
            };
            runtime.spawn_background(job.run(runtime.background.clone()));
        }
        None => tracing::warn!("weekly forecast snapshots are off"),
    }
    let reports = reports::Reports::new(runtime.store.clone(), settings);
    let download = http::router(reports.clone(), runtime.auth.clone());
    let stop = runtime.front.clone();
    // TLS with the service's certificate when one is configured, as on
    // the gRPC port (never asking for a client certificate).
    let http =
        leadwheel_plumbing::tls::Incoming::new(http, runtime.tls.as_ref().map(|tls| tls.http()));
    let http_task = tokio::spawn(async move {
        axum::serve(http, download)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .context("serving the CSV download port")
    });
    let api = grpc::Api::new(
        store::FunnelStore::new(runtime.store.clone()),
        reports,
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
    runtime
        .serve(listeners, service, vec![http_task], shutdown)
        .await
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners (gRPC, admin, the CSV download), and a run until SIGTERM or
/// SIGINT; telemetry is flushed last.
pub async fn main_entry() -> Result<()> {
    let config = ServiceConfig::from_env(SERVICE, ports::REPORTING_GRPC)?;
    let telemetry = telemetry::init(SERVICE, config.log_format, config.otlp_endpoint.as_deref())?;
    let result = async {
        let listeners = Listeners::bind(&config).await?;
        let http = runtime::bind(http_addr(&config)?).await?;
        runtime::announce(
            SERVICE,
            &[
                ("grpc", listeners.grpc_addr()),
                ("admin", listeners.admin_addr()),
                ("http", http.local_addr()?),
            ],
        );
        let settings = settings(&config)?;
        run_with(
            config,
            settings,
            clock::system(),
            listeners,
            http,
            shutdown::signal(),
        )
        .await
    }
    .await;
    if let Err(err) = &result {
        tracing::error!(error = %format!("{err:#}"), "stopped with an error");
    }
    telemetry.shutdown();
    result
}

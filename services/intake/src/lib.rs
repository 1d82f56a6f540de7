//! leadwheel intake: accepts trial signups (`POST /v1/signups`) and leads
//! from integrations (gRPC `IntakeService`), validates and normalises them,
//! dedupes by email within a window, stores them and publishes
//! `intake.lead.created` through the transactional outbox.
//!
//! [`run`] takes already-bound listeners and a shutdown future, so tests
//! start the real service on port 0 and stop it cleanly; [`main_entry`] is
//! what the binary does around it.

pub mod accounts;
pub mod error;
pub mod grpc;
pub mod http;
pub mod keepalive;
pub mod leads;
pub mod parse;
pub mod ratelimit;
pub mod scoring;
pub mod settings;
pub mod signature;
pub mod store;
pub mod validate;

use std::future::Future;

use anyhow::{Context, Result};
use leadwheel_plumbing::bus::INTAKE_STREAM;
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, shutdown, telemetry};
use leadwheel_proto::intake::v1::intake_service_server::IntakeServiceServer;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

pub use error::IntakeError;
pub use settings::IntakeSettings;

/// Intake's migrations (tables prefixed `intake_`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs intake with settings from the environment until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_with(
        config,
        IntakeSettings::from_env()?,
        listeners,
        http,
        shutdown,
    )
    .await
}

/// Runs intake with explicit `settings` (its `http_addr` is ignored: `http`
/// is already bound) until `shutdown` resolves, then drains in order.
pub async fn run_with(
    config: ServiceConfig,
    settings: IntakeSettings,
    listeners: Listeners,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // A bad rules file stops the start here, before anything is served.
    let scorer = scoring::Scorer::load(settings.scoring_rules.clone())?;
    let runtime = Runtime::start(config, &MIGRATOR, Some(&INTAKE_STREAM)).await?;
    let leads = leads::Leads::new(
        runtime.store.clone(),
        runtime.outbox.clone(),
        settings.dedupe_window,
        scorer.clone(),
    );
    if settings.webhook_secrets.is_empty() {
        tracing::warn!(
            "LEADWHEEL_INTAKE_WEBHOOK_SECRET is not set: unsigned signups are accepted (development only)"
        );
    }
    match &settings.scoring_rules {
        Some(path) => tracing::info!(path = %path.display(), "scoring rules loaded"),
        None => tracing::warn!("LEADWHEEL_INTAKE_SCORING_RULES is not set: leads are not scored"),
    }
    runtime.spawn_background(
        scorer
            .clone()
            .watch(settings.scoring_reload, runtime.background.clone()),
    );
    runtime.spawn_consumer(
        accounts::consumer_spec(),
        accounts::AccountHandler::new(scorer),
    );
    let app = http::router(leads.clone(), &settings, runtime.auth.clone());
    let stop = runtime.front.clone();
    // TLS with the service's certificate when one is configured.
    let tls = runtime.tls.as_ref().map(|tls| tls.http());
    let http_task = tokio::spawn(async move {
        axum::serve(
            leadwheel_plumbing::tls::http_listener(http, tls),
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("serving the signup HTTP port")
    });
    let grpc =
        IntakeServiceServer::with_interceptor(grpc::IntakeApi::new(leads), runtime.auth.clone());
    runtime
        .serve(listeners, grpc, vec![http_task], shutdown)
        .await
}

/// The binary: config from the environment, telemetry, bind, run until
/// SIGTERM/SIGINT, flush telemetry last.
pub async fn main_entry() -> Result<()> {
    let config = ServiceConfig::from_env("intake", ports::INTAKE_GRPC)?;
    let settings = IntakeSettings::from_env()?;
    let telemetry = telemetry::init(
        config.service,
        config.log_format,
        config.otlp_endpoint.as_deref(),
    )?;
    let result = async {
        let listeners = Listeners::bind(&config).await?;
        let http = leadwheel_plumbing::runtime::bind(settings.http_addr).await?;
        leadwheel_plumbing::runtime::announce(
            "intake",
            &[
                ("grpc", listeners.grpc_addr()),
                ("admin", listeners.admin_addr()),
                ("http", http.local_addr()?),
            ],
        );
        tracing::info!(
            dedupe_window_ms = settings.dedupe_window.as_millis() as u64,
            "intake settings"
        );
        run_with(config, settings, listeners, http, shutdown::signal()).await
    }
    .await;
    if let Err(err) = &result {
        tracing::error!(error = format!("{err:#}"), "intake failed");
    }
    telemetry.shutdown();
    result
}

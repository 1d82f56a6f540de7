//! The alerting service: tells managers and reps what needs them.
//!
//! Alerts come from events (a lead pooled or escalated, a rep set away by
//! the circuit breaker) and from timed rules (no first touch, stuck in
//! stage, follow-up overdue) whose durable timers are armed and disarmed by
//! opportunity's events and fired by the timer loop. Every alert moves
//! raised → acknowledged → resolved (snoozed, escalated on the way), each
//! step an `alerts.*` event through the outbox. See docs/alerting.md.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use leadwheel_plumbing::bus::{ALERTS_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::config::ports;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::{Listeners, Runtime, ServiceConfig, runtime};
use leadwheel_proto::alerting::v1::alerting_service_server::AlertingServiceServer;
use sqlx::migrate::Migrator;

pub mod clock;
pub mod config;
pub mod consumer;
pub mod customers;
pub mod delivery;
pub mod error;
pub mod events;
pub mod forecast;
pub mod grpc;
pub mod ops;
pub mod prefs;
pub mod rules;
pub mod store;
pub mod timer_loop;
pub mod watch;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::Error;

/// The service name: config prefix, outbox source, telemetry name.
pub const SERVICE: &str = "alerting";

/// The durable consumer reading the wheel's events.
pub const WHEEL_CONSUMER: &str = "alerting-wheel";
/// The durable consumer reading opportunity's events.
pub const OPPS_CONSUMER: &str = "alerting-opps";

/// The durable consumers as the service declares them: the wheel's events
/// ([`consumer::WheelEvent`]) and opportunity's ([`watch::OppsEvent`]),
/// each filtered to the subjects of its contracts.
pub fn consumer_specs() -> [ConsumerSpec; 2] {
    let strings = |subjects: &[&str]| subjects.iter().map(|s| s.to_string()).collect();
    [
        ConsumerSpec {
            durable: WHEEL_CONSUMER.to_string(),
            stream: &WHEEL_STREAM,
            filter_subjects: strings(consumer::WheelEvent::SUBJECTS),
        },
        ConsumerSpec {
            durable: OPPS_CONSUMER.to_string(),
            stream: &OPPS_STREAM,
            filter_subjects: strings(watch::OppsEvent::SUBJECTS),
        },
    ]
}

/// This service's own tables (`alerting_*`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What the service runs with besides the shared configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The clock (the wall clock in production; tests move a manual one).
    pub clock: SharedClock,
    /// Delivery: retries, webhook signing, SMTP.
    pub delivery: config::DeliveryConfig,
    /// Reporting's gRPC URL, asked for forecasts
    /// (`LEADWHEEL_ALERTING_REPORTING_URL`).
    pub reporting_url: String,
    /// The business time zone (`LEADWHEEL_ALERTING_TIME_ZONE`, an IANA
    /// name, default UTC): a follow-up or handover task is overdue after
    /// the end of its due date there, and forecast periods are its
    /// calendar months, quarters and years. Set it to reporting's
    /// `LEADWHEEL_REPORTING_TIME_ZONE`, so both judge a day alike.
    pub zone: jiff::tz::TimeZone,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            delivery: config::DeliveryConfig::default(),
            reporting_url: config::default_reporting_url(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }
}

impl Settings {
    /// The wall clock and delivery settings from the environment.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            clock: Arc::new(SystemClock),
            delivery: config::DeliveryConfig::from_env()?,
            reporting_url: config::reporting_url_from_env(),
            zone: config::time_zone_from_env()?,
        })
    }
}

/// Runs the service on already-bound `listeners` until `shutdown` resolves.
pub async fn run(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_with(config, Settings::from_env()?, listeners, shutdown).await
}

/// [`run`] with explicit `settings` (tests inject a clock).
pub async fn run_with(
    config: ServiceConfig,
    settings: Settings,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Built before anything starts, so a bad SMTP or CA setting stops the
    // start.
    let webhook = delivery::webhook::Webhook::new(
        settings.delivery.webhook_timeout,
        settings.delivery.webhook_secret.clone(),
        settings.delivery.webhook_ca_file.as_deref(),
        settings.clock.clone(),
    )?
    .with_console_url(settings.delivery.console_url.clone());
    let email = settings
        .delivery
        .smtp
        .as_ref()
        .map(|smtp| {
            delivery::email::Email::new(smtp)
                .map(|e| e.with_console_url(settings.delivery.console_url.clone()))
        })
        .transpose()?;
    let jwt_secret = config.jwt_secret.clone();
    let runtime = Runtime::start(config, &MIGRATOR, Some(&ALERTS_STREAM)).await?;
    let mut ops = ops::Ops::new(
        runtime.store.clone(),
        runtime.outbox.clone(),
        settings.clock.clone(),
    );
    ops.email_enabled = email.is_some();
    ops.zone = settings.zone.clone();
    ops.reporting = Some(ops::forecast::Reporting::new(
        &settings.reporting_url,
        runtime.auth.clone(),
    )?);
    ops.arm_forecast_checks_of_known_teams().await?;
    let [wheel_spec, opps_spec] = consumer_specs();
    runtime.spawn_consumer(wheel_spec, consumer::WheelHandler::new(ops.clone()));
    runtime.spawn_consumer(opps_spec, watch::OppsHandler::new(ops.clone()));
    runtime.spawn_background(timer_loop::run(ops.clone(), runtime.background.clone()));
    spawn_worker(
        &runtime,
        &settings,
        &ops,
        delivery::live::Live::new(runtime.bus.client.clone()),
    );
    spawn_worker(&runtime, &settings, &ops, webhook);
    if let Some(email) = email {
        // Emails go to one person each: their console link signs them in.
        let ttl_ms = settings.delivery.signin_link_ttl.as_millis();
        let ttl_secs = i64::try_from(ttl_ms.div_ceil(1_000)).unwrap_or(i64::MAX);
        let links = (ttl_secs > 0).then(|| {
            delivery::signin::SigninLinks::new(
                jwt_secret,
                ttl_secs,
                runtime.store.clone(),
                settings.clock.clone(),
            )
        });
        spawn_worker(&runtime, &settings, &ops, email.with_signin_links(links));
    }
    let api = grpc::Api::new(ops, runtime.bus.client.clone(), runtime.front.clone());
    let service = AlertingServiceServer::with_interceptor(api, runtime.auth.clone());
    runtime.serve(listeners, service, vec![], shutdown).await
}

/// Runs `channel`'s delivery worker until shutdown.
fn spawn_worker<C: delivery::Channel>(
    runtime: &Runtime,
    settings: &Settings,
    ops: &ops::Ops,
    channel: C,
) {
    runtime.spawn_background(delivery::run_worker(
        channel,
        runtime.store.clone(),
        settings.clock.clone(),
        settings.delivery.clone(),
        ops.wakers.clone(),
        runtime.background.clone(),
    ));
}

/// The binary's body: configuration from the environment, telemetry,
/// listeners, and a run until SIGTERM or SIGINT.
pub async fn main_entry() -> Result<()> {
    runtime::run_main(SERVICE, ports::ALERTING_GRPC, run).await
}

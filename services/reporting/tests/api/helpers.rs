//! `spawn_app()` and friends: the real service on ephemeral ports against
//! a real `nats-server` and a fresh database, driven over real gRPC.

use std::time::Duration;

use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::StreamSpec;
use leadwheel_plumbing::clock::{self, SharedClock};
use leadwheel_plumbing::testing::{
    ServiceHandle, publish_event, publish_garbage, redeliver_event, test_token,
};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_reporting::reports::Settings;
use leadwheel_reporting::{SERVICE, run_with};
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use leadwheel_plumbing::testing::TestEnv as Env;

/// How long a test waits for an asynchronous effect.
pub const WAIT: Duration = Duration::from_secs(15);

/// The settings the tests run with: UTC, `commercial`, 40%, and no
/// weekly snapshots unless a test asks for them.
pub fn test_settings() -> Settings {
    Settings {
        zone: jiff::tz::TimeZone::UTC,
        intent_stage: "commercial".into(),
        max_won_share_bp: 4_000,
        snapshots: None,
    }
}

/// Starts the service on `env` and waits until it is ready.
pub async fn spawn_app(env: &Env) -> TestApp {
    spawn_with(env, test_settings(), clock::system()).await
}

/// Starts the service on `env` with `settings` and the snapshot job's
/// `clock`, its CSV download on an ephemeral port.
pub async fn spawn_with(env: &Env, settings: Settings, clock: SharedClock) -> TestApp {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the download port");
    let http_addr = http.local_addr().expect("a bound address");
    let service = env
        .spawn(SERVICE, move |config, listeners, shutdown| {
            run_with(config, settings, clock, listeners, http, shutdown)
        })
        .await;
    TestApp {
        service,
        nats_url: env.nats.url(),
        http_addr,
    }
}

/// A running service.
pub struct TestApp {
    pub service: ServiceHandle,
    pub nats_url: String,
    /// The CSV download's address.
    pub http_addr: std::net::SocketAddr,
}

pub type Client = ReportingServiceClient<InterceptedService<Channel, BearerToken>>;

impl TestApp {
    /// Shuts the service down and checks it stopped cleanly.
    pub async fn stop(self) {
        self.service.stop().await;
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.service.grpc_addr))
            .expect("valid uri")
            .connect()
            .await
            .expect("connecting to gRPC")
    }

    /// A client presenting `token`.
    pub async fn client_with_token(&self, token: &str) -> Client {
        let bearer = BearerToken::new(token).expect("ascii token");
        ReportingServiceClient::with_interceptor(self.channel().await, bearer)
    }

    /// A client acting as `subject` with `role`.
    pub async fn client(&self, subject: &str, role: Role) -> Client {
        self.client_with_token(&test_token(subject, role)).await
    }

    /// A client sending no token at all.
    pub async fn anonymous(&self) -> ReportingServiceClient<Channel> {
        ReportingServiceClient::new(self.channel().await)
    }

    /// Publishes `payload` on `subject` of `stream` as a fresh event; returns its id.
    pub async fn publish(
        &self,
        stream: &StreamSpec,
        subject: &str,
        key: &str,
        payload: &impl Message,
    ) -> String {
        publish_event(&self.nats_url, stream, subject, key, payload)
            .await
            .expect("publishing an event")
    }

    /// Publishes `payload` on `subject` again with event id `event_id`, as
    /// JetStream redelivers an event the consumer had processed but not
    /// acked (past the dedupe window).
    pub async fn redeliver(
        &self,
        event_id: &str,
        subject: &str,
        key: &str,
        payload: &impl Message,
    ) {
        redeliver_event(&self.nats_url, subject, event_id, key, payload)
            .await
            .expect("redelivering");
    }

    /// Publishes raw bytes as an event payload (a malformed event),
    /// creating `stream` if nobody has yet.
    pub async fn publish_garbage(&self, stream: &StreamSpec, subject: &'static str) {
        publish_garbage(&self.nats_url, stream, subject)
            .await
            .expect("publishing garbage");
    }
}

/// A store at `url` migrated only up to the migrations before `version`:
/// for tests of what a later migration does to rows written before it.
pub async fn store_before(url: &str, version: i64) -> leadwheel_plumbing::Store {
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            leadwheel_reporting::MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    leadwheel_plumbing::Store::connect(url, &before)
        .await
        .expect("a store before the migration")
}

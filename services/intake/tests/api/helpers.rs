//! `spawn_app()`: the real intake service on ephemeral ports, against a real
//! `nats-server` and a fresh database, plus typed clients for its doors.

use std::sync::Once;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures::StreamExt;
use leadwheel_intake::{IntakeSettings, MIGRATOR};
use leadwheel_plumbing::Store;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::INTAKE_STREAM;
use leadwheel_plumbing::testing::{NatsServer, ServiceHandle, TestDb, service_config, test_token};
use leadwheel_proto::events::v1::{Envelope, LeadCreated};
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A gRPC client authenticated as someone.
pub type GrpcClient = IntakeServiceClient<InterceptedService<Channel, BearerToken>>;

/// A running intake and everything it stands on.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the signup door.
    pub http_base: String,
    /// The gRPC address.
    pub grpc_addr: std::net::SocketAddr,
    /// The NATS server (kill/restart it to simulate an outage).
    pub nats: NatsServer,
    /// A second handle on the service's database, for checking what was stored.
    pub store: Store,
    /// An HTTP client.
    pub http: reqwest::Client,
    service: ServiceHandle,
    _db: TestDb,
}

/// Every warning and error logged in this test process, as its fields
/// (`message=… path=… line=…`), for tests that wait on something the
/// service only reports in its log.
static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keeps warnings and errors in [`LOGGED`].
struct KeepLogs;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for KeepLogs {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        LOGGED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fields.0);
    }
}

/// The logged warning or error (see [`LOGGED`]) whose fields contain every
/// one of `parts`, if any.
pub fn logged(parts: &[&str]) -> Option<String> {
    LOGGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .cloned()
}

/// Installs logs (to the test writer, `RUST_LOG` or warn, and every
/// warning and error kept for [`logged`]) and an OpenTelemetry tracer
/// without exporter, so spans carry real trace contexts and `traceparent`
/// propagation can be checked end to end.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("intake-tests");
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter),
            )
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(KeepLogs.with_filter(tracing_subscriber::filter::LevelFilter::WARN))
            .try_init();
    });
}

/// Starts intake with default settings on `db`, except the per-address
/// rate limit: every test request comes from 127.0.0.1, and the tests of
/// other things send more than a person would.
pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, relaxed()).await
}

/// The default settings without the per-address limit.
pub fn relaxed() -> IntakeSettings {
    IntakeSettings {
        address_limit: leadwheel_intake::ratelimit::Limit::OFF,
        ..IntakeSettings::default()
    }
}

/// Starts intake with `settings` on `db`, and waits until it is ready.
pub async fn spawn_app_with(db: TestDb, settings: IntakeSettings) -> TestApp {
    init_tracing();
    let nats = NatsServer::start().expect("starting nats-server");
    let config = service_config("intake", &nats.url(), &db.url);
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the HTTP listener");
    let http_base = format!("http://{}", http_listener.local_addr().unwrap());
    let service = ServiceHandle::spawn(config, move |config, listeners, shutdown| {
        leadwheel_intake::run_with(config, settings, listeners, http_listener, shutdown)
    })
    .await;
    let grpc_addr = service.grpc_addr;
    // The service has migrated the database by now; this is a plain second pool.
    let store = Store::connect(&db.url, &MIGRATOR)
        .await
        .expect("opening the test store");
    TestApp {
        http_base,
        grpc_addr,
        nats,
        store,
        http: reqwest::Client::new(),
        service,
        _db: db,
    }
}

impl TestApp {
    /// Posts `body` as JSON to `/v1/signups`.
    pub async fn post_signup(&self, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/signups", self.http_base))
            .json(body)
            .send()
            .await
            .expect("sending a signup")
    }

    /// A gRPC client acting as `subject` with `role`.
    pub async fn grpc(&self, subject: &str, role: Role) -> GrpcClient {
        self.grpc_with_token(&test_token(subject, role)).await
    }

    /// A gRPC client presenting `token`.
    pub async fn grpc_with_token(&self, token: &str) -> GrpcClient {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect()
            .await
            .expect("connecting to intake gRPC");
        IntakeServiceClient::with_interceptor(channel, BearerToken::new(token).unwrap())
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(self.store.pool())
            .await
            .expect("counting rows")
    }

    /// Outbox rows (events written) on `subject`.
    pub async fn events(&self, subject: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM lw_outbox WHERE subject = $1")
            .bind(subject)
            .fetch_one(self.store.pool())
            .await
            .expect("counting events")
    }

    /// Posts `body` with `content_type` and extra `headers` to `/v1/signups`.
    pub async fn post_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, String)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/v1/signups", self.http_base))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("sending a signup")
    }

    /// The first `n` events published on `subject`, decoded as `M`, once
    /// that many have been published (within 20 s).
    pub async fn published<M: prost::Message + Default>(&self, subject: &str, n: usize) -> Vec<M> {
        let url = self.nats_url();
        let subject = subject.to_string();
        leadwheel_plumbing::testing::eventually(
            Duration::from_secs(20),
            "events to be published",
            || {
                let url = url.clone();
                let subject = subject.clone();
                async move {
                    let events: Vec<M> =
                        leadwheel_plumbing::testing::read_events(&url, &INTAKE_STREAM, &subject)
                            .await;
                    (events.len() >= n).then_some(events)
                }
            },
        )
        .await
        .into_iter()
        .take(n)
        .collect()
    }

    /// The NATS URL.
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// Stops the service through its shutdown future and checks it ended well.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.service.stop())
            .await
            .expect("intake stops within 30s");
        self.store.close().await;
    }
}

/// One event read from the intake stream.
#[derive(Debug)]
pub struct ReceivedEvent {
    /// The subject.
    pub subject: String,
    /// The `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    /// The `traceparent` header.
    pub traceparent: Option<String>,
    /// The envelope.
    pub envelope: Envelope,
    /// The decoded payload.
    pub lead: LeadCreated,
}

/// Reads the intake stream from its start with an ordered consumer.
pub struct StreamReader {
    messages: jetstream::consumer::pull::Ordered,
    _client: async_nats::Client,
}

impl StreamReader {
    /// Opens a reader on `LEADWHEEL_INTAKE` at `nats_url`.
    pub async fn open(nats_url: &str) -> Self {
        let client = async_nats::connect(nats_url)
            .await
            .expect("connecting to NATS");
        let js = jetstream::new(client.clone());
        let stream = js
            .get_stream(INTAKE_STREAM.name)
            .await
            .expect("the intake stream exists");
        let consumer = stream
            .create_consumer(OrderedConfig::default())
            .await
            .expect("creating an ordered consumer");
        let messages = consumer.messages().await.expect("consuming");
        Self {
            messages,
            _client: client,
        }
    }

    /// The next event, or a panic after 20 s.
    pub async fn next(&mut self) -> ReceivedEvent {
        let message = tokio::time::timeout(Duration::from_secs(20), self.messages.next())
            .await
            .expect("an event arrives within 20s")
            .expect("the stream goes on")
            .expect("a message, not an error");
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        let envelope = Envelope::decode(message.payload.as_ref()).expect("an Envelope");
        let lead = LeadCreated::decode(envelope.payload.as_slice()).expect("a LeadCreated");
        ReceivedEvent {
            subject: message.subject.to_string(),
            msg_id: header("Nats-Msg-Id"),
            traceparent: header("traceparent"),
            envelope,
            lead,
        }
    }
}

//! `spawn_app()` and friends: the real service on ephemeral ports against
//! a real `nats-server` and a fresh database, driven over real gRPC.

use std::net::SocketAddr;
use std::time::Duration;

use leadwheel_plumbing::Listeners;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::StreamSpec;
use leadwheel_plumbing::testing::{
    NatsServer, TestDb, init_test_logs, publish_event, service_config, test_token, wait_ready,
};
use leadwheel_proto::events::v1::Envelope;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_reporting::run;
use prost::Message;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Runs a test body once on SQLite and once on Postgres (when
/// `TEST_POSTGRES_URL` is set; otherwise the Postgres run says it skipped).
macro_rules! on_both_backends {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(leadwheel_plumbing::testing::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = leadwheel_plumbing::testing::TestDb::postgres().await {
                    super::$body(db).await;
                }
            }
        }
    };
}

/// How long a test waits for an asynchronous effect.
pub const WAIT: Duration = Duration::from_secs(15);

/// A NATS server and a database that outlive service restarts.
pub struct Env {
    pub nats: NatsServer,
    pub db: TestDb,
}

impl Env {
    pub fn new(db: TestDb) -> Self {
        init_test_logs();
        Self {
            nats: NatsServer::start().expect("starting nats-server"),
            db,
        }
    }

    /// Starts the service and waits until it is ready.
    pub async fn spawn_app(&self) -> TestApp {
        let config = service_config("reporting", &self.nats.url(), &self.db.url);
        let listeners = Listeners::ephemeral().await.expect("binding ports");
        let grpc_addr = listeners.grpc_addr();
        let admin_addr = listeners.admin_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(config, listeners, async move {
            let _ = stopped.await;
        }));
        wait_ready(admin_addr).await;
        TestApp {
            grpc_addr,
            nats_url: self.nats.url(),
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// A running service.
pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub nats_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub type Client = ReportingServiceClient<InterceptedService<Channel, BearerToken>>;

impl TestApp {
    /// Shuts the service down and checks it stopped cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        let result = self
            .task
            .take()
            .expect("running")
            .await
            .expect("service task panicked");
        result.expect("service stopped with an error");
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.grpc_addr))
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

    /// Publishes an envelope whose event id is `event_id` under a fresh
    /// `Nats-Msg-Id`, as JetStream does when it redelivers an event the
    /// consumer had processed but not acked (past the dedupe window).
    pub async fn redeliver(
        &self,
        event_id: &str,
        subject: &str,
        key: &str,
        payload: &impl Message,
    ) {
        let client = async_nats::connect(&self.nats_url).await.expect("nats");
        let jetstream = async_nats::jetstream::new(client);
        let envelope = Envelope {
            id: event_id.to_string(),
            r#type: subject.to_string(),
            source: "test".into(),
            time_ms: leadwheel_plumbing::now_ms(),
            key: key.to_string(),
            payload: payload.encode_to_vec(),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{event_id}-again").as_str());
        jetstream
            .publish_with_headers(
                subject.to_string(),
                headers,
                envelope.encode_to_vec().into(),
            )
            .await
            .expect("publishing")
            .await
            .expect("jetstream ack");
    }

    /// Publishes raw bytes as an event payload (a malformed event),
    /// creating `stream` if nobody has yet.
    pub async fn publish_garbage(&self, stream: &StreamSpec, subject: &'static str) {
        let client = async_nats::connect(&self.nats_url).await.expect("nats");
        let jetstream = async_nats::jetstream::new(client.clone());
        leadwheel_plumbing::Bus {
            client,
            jetstream: jetstream.clone(),
        }
        .ensure_stream(stream)
        .await
        .expect("creating the stream");
        jetstream
            .publish(subject, vec![0xff, 0x00, 0x13].into())
            .await
            .expect("publishing")
            .await
            .expect("jetstream ack");
    }
}

//! `spawn_app()` and friends: the real service on ephemeral ports against
//! a real `nats-server` and a fresh database, driven over real gRPC.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;
use leadwheel_alerting::run;
use leadwheel_plumbing::Listeners;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::{StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{
    NatsServer, TestDb, init_test_logs, publish_event, service_config, test_token, wait_ready,
};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::events::v1::{Envelope, LeadPooled};
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
        let config = service_config("alerting", &self.nats.url(), &self.db.url);
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

pub type Client = AlertingServiceClient<InterceptedService<Channel, BearerToken>>;

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
        AlertingServiceClient::with_interceptor(self.channel().await, bearer)
    }

    /// A client acting as `subject` with `role`.
    pub async fn client(&self, subject: &str, role: Role) -> Client {
        self.client_with_token(&test_token(subject, role)).await
    }

    /// A client sending no token at all.
    pub async fn anonymous(&self) -> AlertingServiceClient<Channel> {
        AlertingServiceClient::new(self.channel().await)
    }

    /// Publishes `wheel.lead.pooled` for `lead_id`; returns the event id.
    pub async fn pool(&self, lead_id: &str, team_id: &str, manager_id: &str) -> String {
        publish_event(
            &self.nats_url,
            &WHEEL_STREAM,
            subjects::LEAD_POOLED,
            lead_id,
            &pooled(lead_id, team_id, manager_id),
        )
        .await
        .expect("publishing wheel.lead.pooled")
    }

    /// Publishes an envelope whose event id is `event_id` under a fresh
    /// `Nats-Msg-Id`, as JetStream does when it redelivers an event the
    /// consumer had processed but not acked (past the dedupe window).
    pub async fn redeliver(&self, event_id: &str, lead_id: &str, payload: &impl Message) {
        let client = async_nats::connect(&self.nats_url).await.expect("nats");
        let jetstream = async_nats::jetstream::new(client);
        let envelope = Envelope {
            id: event_id.to_string(),
            r#type: subjects::LEAD_POOLED.to_string(),
            source: "test".into(),
            time_ms: leadwheel_plumbing::now_ms(),
            key: lead_id.to_string(),
            payload: payload.encode_to_vec(),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{event_id}-again").as_str());
        jetstream
            .publish_with_headers(
                subjects::LEAD_POOLED,
                headers,
                envelope.encode_to_vec().into(),
            )
            .await
            .expect("publishing")
            .await
            .expect("jetstream ack");
    }

    /// Publishes raw bytes as an event payload (a malformed event) to the
    /// wheel's stream, creating it if the service has not yet.
    pub async fn publish_garbage(&self, subject: &'static str) {
        let client = async_nats::connect(&self.nats_url).await.expect("nats");
        let jetstream = async_nats::jetstream::new(client.clone());
        leadwheel_plumbing::Bus {
            client,
            jetstream: jetstream.clone(),
        }
        .ensure_stream(&WHEEL_STREAM)
        .await
        .expect("creating the wheel stream");
        jetstream
            .publish(subject, vec![0xff, 0x00, 0x13].into())
            .await
            .expect("publishing")
            .await
            .expect("jetstream ack");
    }

    /// Every event on `subject` in `stream` so far, decoded from its envelope.
    pub async fn events(&self, stream: &StreamSpec, subject: &str) -> Vec<Envelope> {
        read_events(&self.nats_url, stream, subject).await
    }
}

/// A `LeadPooled` payload after three offers.
pub fn pooled(lead_id: &str, team_id: &str, manager_id: &str) -> LeadPooled {
    LeadPooled {
        lead_id: lead_id.into(),
        team_id: team_id.into(),
        manager_id: manager_id.into(),
        pooled_at_ms: 5_000,
        offers_made: 3,
    }
}

/// Reads every message on `subject` with an ephemeral consumer.
pub async fn read_events(nats_url: &str, stream: &StreamSpec, subject: &str) -> Vec<Envelope> {
    let client = async_nats::connect(nats_url).await.expect("nats");
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(stream.name)
        .await
        .expect("stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: subject.to_string(),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(5),
            ..Default::default()
        })
        .await
        .expect("ephemeral consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(10_000)
        .messages()
        .await
        .expect("fetching");
    let mut out = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("message");
        out.push(Envelope::decode(message.payload.as_ref()).expect("an envelope"));
    }
    out
}

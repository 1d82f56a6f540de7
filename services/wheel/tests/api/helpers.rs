//! `spawn_app()`: the real wheel on ephemeral ports against a real
//! nats-server and a fresh database, with typed clients.
//! `spawn_app_with_clock()` runs it on a manual clock the test advances
//! past deadlines instead of sleeping through them.

use std::sync::Arc;
use std::time::Duration;

use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::{INTAKE_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::clock::ManualClock;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::testing::{self, NatsServer, ServiceHandle, TestDb};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Client = WheelServiceClient<InterceptedService<Channel, BearerToken>>;

pub struct TestApp {
    pub nats: NatsServer,
    pub db: TestDb,
    pub grpc_addr: std::net::SocketAddr,
    /// The service's clock when the test moves it by hand.
    pub clock: Option<Arc<ManualClock>>,
    service: Option<ServiceHandle>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::sqlite()).await
}

pub async fn spawn_app_on(db: TestDb) -> TestApp {
    spawn(db, None).await
}

/// The wheel on a manual clock standing at the current time.
pub async fn spawn_app_with_clock(db: TestDb) -> TestApp {
    spawn(db, Some(ManualClock::starting_now())).await
}

/// The wheel on a manual clock standing at `at_ms` (UTC epoch ms).
pub async fn spawn_app_with_clock_at(db: TestDb, at_ms: i64) -> TestApp {
    spawn(db, Some(ManualClock::at(at_ms))).await
}

async fn spawn(db: TestDb, clock: Option<Arc<ManualClock>>) -> TestApp {
    testing::init_test_logs();
    let nats = NatsServer::start().expect("nats-server");
    let mut app = TestApp {
        nats,
        db,
        grpc_addr: ([127, 0, 0, 1], 0).into(),
        clock,
        service: None,
    };
    app.start().await;
    app
}

/// Starts the wheel while its NATS server is down.
pub async fn spawn_app_with_nats_down() -> TestApp {
    testing::init_test_logs();
    let mut nats = NatsServer::start().expect("nats-server");
    nats.kill();
    let mut app = TestApp {
        nats,
        db: TestDb::sqlite(),
        grpc_addr: ([127, 0, 0, 1], 0).into(),
        clock: None,
        service: None,
    };
    app.start().await;
    app
}

impl TestApp {
    /// Starts (or restarts) the service against the same NATS and database.
    pub async fn start(&mut self) {
        let config = testing::service_config("wheel", &self.nats.url(), &self.db.url);
        let service = match self.clock.clone() {
            Some(clock) => {
                ServiceHandle::spawn(config, move |config, listeners, shutdown| {
                    leadwheel_wheel::run_with_clock(clock, config, listeners, shutdown)
                })
                .await
            }
            None => ServiceHandle::spawn(config, leadwheel_wheel::run).await,
        };
        self.grpc_addr = service.grpc_addr;
        self.service = Some(service);
    }

    /// A second replica of the wheel on the same NATS and database (real
    /// clock), stopped by the returned handle.
    pub async fn spawn_replica(&self) -> ServiceHandle {
        let config = testing::service_config("wheel", &self.nats.url(), &self.db.url);
        ServiceHandle::spawn(config, leadwheel_wheel::run).await
    }

    /// Moves the service's manual clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.clock
            .as_ref()
            .expect("the app runs on a manual clock")
            .advance(Duration::from_millis(ms));
    }

    /// Stops the service cleanly and waits for it.
    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }

    pub async fn client_as(&self, subject: &str, role: Role) -> Client {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let token = BearerToken::new(&testing::test_token(subject, role)).unwrap();
        WheelServiceClient::with_interceptor(channel, token)
    }

    pub async fn admin(&self) -> Client {
        self.client_as("admin", Role::Admin).await
    }

    pub async fn rep(&self, rep: &str) -> Client {
        self.client_as(rep, Role::Rep).await
    }

    /// Creates team `demo` with `reps` and the given window.
    pub async fn team(&self, reps: &[&str], window_ms: i64) {
        self.admin()
            .await
            .upsert_team(UpsertTeamRequest {
                team: Some(Team {
                    team_id: "demo".into(),
                    name: "Demo".into(),
                    manager_id: "maya".into(),
                    window_ms,
                    rep_ids: reps.iter().map(|r| r.to_string()).collect(),
                    policy: None,
                }),
                rep_names: vec![],
            })
            .await
            .unwrap();
    }

    /// Publishes `intake.lead.created` for `lead_id`, as intake would.
    pub async fn new_lead(&self, lead_id: &str) {
        let created = LeadCreated {
            lead_id: lead_id.into(),
            email: format!("{lead_id}@example.com"),
            name: format!("Person {lead_id}"),
            company: "Example".into(),
            domain: "example.com".into(),
            created_at_ms: now_ms(),
            ..Default::default()
        };
        testing::publish_event(
            &self.nats.url(),
            &INTAKE_STREAM,
            subjects::LEAD_CREATED,
            lead_id,
            &created,
        )
        .await
        .unwrap();
    }

    /// Waits until `lead_id` is in `state` and returns its routing.
    pub async fn wait_state(&self, lead_id: &str, state: LeadState) -> GetLeadRoutingResponse {
        let mut admin = self.admin().await;
        testing::eventually(
            Duration::from_secs(20),
            &format!("lead {lead_id} to be {state:?}"),
            || {
                let mut admin = admin.clone();
                let lead_id = lead_id.to_string();
                async move {
                    let routing = admin
                        .get_lead_routing(GetLeadRoutingRequest { lead_id })
                        .await
                        .ok()?
                        .into_inner();
                    (routing.state == state as i32).then_some(routing)
                }
            },
        )
        .await;
        admin
            .get_lead_routing(GetLeadRoutingRequest {
                lead_id: lead_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// The rep the lead is offered to now.
    pub async fn offered_to(&self, lead_id: &str) -> String {
        let routing = self.wait_state(lead_id, LeadState::Offered).await;
        let open = routing
            .offers
            .iter()
            .find(|o| o.state == OfferState::Open as i32)
            .expect("an open offer");
        open.rep_id.clone()
    }

    /// Every event on the wheel's stream with `subject`, decoded.
    pub async fn wheel_events<M: Message + Default>(&self, subject: &str) -> Vec<M> {
        testing::read_events(&self.nats.url(), &WHEEL_STREAM, subject).await
    }
}

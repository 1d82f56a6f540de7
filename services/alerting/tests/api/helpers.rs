//! `spawn_app()` and friends: the real service on ephemeral ports against
//! a real `nats-server` and a fresh database, driven over real gRPC.

use std::time::Duration;

use leadwheel_alerting::{ManualClock, SERVICE, Settings, run, run_with};
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::{OPPS_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{
    ServiceHandle, publish_event, publish_garbage, read_envelopes, redeliver_event, test_token,
};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::events::v1::{Envelope, LeadPooled};
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use leadwheel_plumbing::testing::TestEnv as Env;

/// How long a test waits for an asynchronous effect (generous: the tests
/// share two cores with builds).
pub const WAIT: Duration = Duration::from_secs(30);

/// Starts the service on `env` and waits until it is ready.
pub async fn spawn_app(env: &Env) -> TestApp {
    TestApp {
        service: env.spawn(SERVICE, run).await,
        nats_url: env.nats.url(),
    }
}

/// Starts the service on `env` with `clock` as its time.
pub async fn spawn_app_at(env: &Env, clock: &ManualClock) -> TestApp {
    let settings = Settings {
        clock: std::sync::Arc::new(clock.clone()),
        ..Settings::default()
    };
    spawn_app_with(env, settings).await
}

/// Starts the service on `env` with `settings`.
pub async fn spawn_app_with(env: &Env, settings: Settings) -> TestApp {
    TestApp {
        service: env
            .spawn(SERVICE, move |config, listeners, shutdown| {
                run_with(config, settings, listeners, shutdown)
            })
            .await,
        nats_url: env.nats.url(),
    }
}

/// A running service.
pub struct TestApp {
    pub service: ServiceHandle,
    pub nats_url: String,
}

pub type Client = AlertingServiceClient<InterceptedService<Channel, BearerToken>>;

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

    /// Publishes `wheel.lead.pooled` again with event id `event_id`, as
    /// JetStream redelivers an event the consumer had processed but not
    /// acked (past the dedupe window).
    pub async fn redeliver(&self, event_id: &str, lead_id: &str, payload: &impl Message) {
        redeliver_event(
            &self.nats_url,
            subjects::LEAD_POOLED,
            event_id,
            lead_id,
            payload,
        )
        .await
        .expect("redelivering");
    }

    /// Publishes raw bytes as an event payload (a malformed event) to the
    /// wheel's stream, creating it if the service has not yet.
    pub async fn publish_garbage(&self, subject: &'static str) {
        publish_garbage(&self.nats_url, &WHEEL_STREAM, subject)
            .await
            .expect("publishing garbage");
    }

    /// Publishes an opportunity event; returns the event id.
    pub async fn opps(&self, subject: &str, key: &str, payload: &impl Message) -> String {
        publish_event(&self.nats_url, &OPPS_STREAM, subject, key, payload)
            .await
            .expect("publishing an opps event")
    }

    /// Publishes a wheel event; returns the event id.
    pub async fn wheel(&self, subject: &str, key: &str, payload: &impl Message) -> String {
        publish_event(&self.nats_url, &WHEEL_STREAM, subject, key, payload)
            .await
            .expect("publishing a wheel event")
    }

    /// Every event on `subject` in `stream` so far, decoded from its envelope.
    pub async fn events(&self, stream: &StreamSpec, subject: &str) -> Vec<Envelope> {
        read_envelopes(&self.nats_url, stream, subject).await
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
        ..Default::default()
    }
}

/// Publishes `wheel.team.upserted`: `manager_id` manages `team_id` of
/// `reps`.
pub async fn team(app: &TestApp, team_id: &str, manager_id: &str, reps: &[&str]) {
    let team = leadwheel_proto::events::v1::TeamUpserted {
        team_id: team_id.into(),
        name: team_id.into(),
        manager_id: manager_id.into(),
        rep_ids: reps.iter().map(|r| r.to_string()).collect(),
        at_ms: 1,
        ..Default::default()
    };
    app.wheel(subjects::TEAM_UPSERTED, team_id, &team).await;
}

/// What most timed-rule tests start from: a fresh database and NATS, a
/// clock the test moves, the service on them and its tables.
pub struct Fixture {
    pub env: Env,
    pub clock: ManualClock,
    pub app: TestApp,
    pub tables: Tables,
}

impl Fixture {
    /// The service on `db` with its clock at `start_ms`.
    pub async fn start(db: leadwheel_plumbing::testing::TestDb, start_ms: i64) -> Self {
        let env = Env::new(db);
        let clock = ManualClock::new(start_ms);
        let app = spawn_app_at(&env, &clock).await;
        let tables = Tables::open(&env).await;
        Self {
            env,
            clock,
            app,
            tables,
        }
    }

    /// [`Fixture::start`], then team north (maya managing ana) announced
    /// and known to alerting, so an alert raised at any point after (a
    /// timer firing right after a restart, too) names its manager.
    pub async fn north(db: leadwheel_plumbing::testing::TestDb, start_ms: i64) -> Self {
        let fixture = Self::start(db, start_ms).await;
        team(&fixture.app, "north", "maya", &["ana"]).await;
        fixture.tables.wait_team("north", "maya").await;
        fixture
    }
}

/// Reads alerting's own tables directly (to see a timer armed, which no
/// API shows).
pub struct Tables {
    pool: sqlx::AnyPool,
    postgres: bool,
}

impl Tables {
    /// Opens `env`'s database (after the service migrated it).
    pub async fn open(env: &Env) -> Self {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&env.db.url)
            .await
            .expect("opening the test database");
        Self {
            pool,
            postgres: env.db.url.starts_with("postgres"),
        }
    }

    /// When timer `key` is due, if armed.
    pub async fn timer_due(&self, key: &str) -> Option<i64> {
        use sqlx::Row;
        sqlx::query("SELECT due_at_ms FROM alerting_timers WHERE timer_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .expect("reading timers")
            .map(|row| row.try_get("due_at_ms").expect("due_at_ms"))
    }

    /// Waits until timer `key` is armed at `due_at_ms`.
    pub async fn wait_timer(&self, key: &str, due_at_ms: i64) {
        leadwheel_plumbing::testing::eventually(
            WAIT,
            &format!("timer {key} armed at {due_at_ms}"),
            || async { (self.timer_due(key).await == Some(due_at_ms)).then_some(()) },
        )
        .await
    }

    /// Waits until timer `key` is not armed.
    pub async fn wait_no_timer(&self, key: &str) {
        leadwheel_plumbing::testing::eventually(WAIT, &format!("timer {key} disarmed"), || async {
            self.timer_due(key).await.is_none().then_some(())
        })
        .await
    }

    /// Waits until alerting knows `manager_id` manages `team_id` (the
    /// wheel's event applied), so a timer firing later names them.
    pub async fn wait_team(&self, team_id: &str, manager_id: &str) {
        use sqlx::Row;
        leadwheel_plumbing::testing::eventually(
            WAIT,
            &format!("{manager_id} known as {team_id}'s manager"),
            || async {
                sqlx::query("SELECT manager_id FROM alerting_teams WHERE team_id = $1")
                    .bind(team_id)
                    .fetch_optional(&self.pool)
                    .await
                    .expect("reading teams")
                    .map(|row| row.try_get::<String, _>("manager_id").expect("manager_id"))
                    .filter(|m| m == manager_id)
                    .map(|_| ())
            },
        )
        .await
    }

    /// Deletes timer `key`, as if it had never been armed (a team known
    /// from before a rule existed).
    pub async fn delete_timer(&self, key: &str) {
        sqlx::query("DELETE FROM alerting_timers WHERE timer_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .expect("deleting a timer");
    }

    /// Makes the store refuse to insert any alert about `subject_key` (a
    /// trigger raising an error): a real failure of one timer among others.
    pub async fn refuse_alerts_about(&self, subject_key: &str) {
        let statements = if self.is_postgres() {
            vec![
                format!(
                    "CREATE FUNCTION test_refuse_alert() RETURNS trigger AS $$ BEGIN \
                     IF NEW.subject_key = '{subject_key}' THEN RAISE EXCEPTION 'refused by the test'; \
                     END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
                "CREATE TRIGGER test_refuse_alert BEFORE INSERT ON alerting_alerts \
                 FOR EACH ROW EXECUTE FUNCTION test_refuse_alert()"
                    .to_string(),
            ]
        } else {
            vec![format!(
                "CREATE TRIGGER test_refuse_alert BEFORE INSERT ON alerting_alerts \
                 WHEN NEW.subject_key = '{subject_key}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )]
        };
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&self.pool)
                .await
                .expect("creating the refusing trigger");
        }
    }

    /// Undoes [`Tables::refuse_alerts_about`].
    pub async fn accept_alerts(&self) {
        let sql = if self.is_postgres() {
            "DROP TRIGGER test_refuse_alert ON alerting_alerts"
        } else {
            "DROP TRIGGER test_refuse_alert"
        };
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .expect("dropping the refusing trigger");
    }

    fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Closes the pool.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

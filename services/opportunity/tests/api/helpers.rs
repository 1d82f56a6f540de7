//! `spawn_app()` and friends: the real service on ephemeral ports against
//! a real `nats-server` and a fresh database, driven over real gRPC.

use std::time::Duration;

use leadwheel_opportunity::{SERVICE, run};
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_plumbing::bus::{INTAKE_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::testing::{
    ServiceHandle, TEST_JWT_SECRET, publish_event, publish_garbage, read_envelopes,
    redeliver_event, test_token,
};
use leadwheel_proto::events::v1::{
    Envelope, LeadAssigned, LeadReassigned, PersonErased, TeamUpserted,
};
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use leadwheel_plumbing::testing::TestEnv as Env;

/// How long a test waits for an asynchronous effect.
pub const WAIT: Duration = Duration::from_secs(15);

/// Starts the service on `env` and waits until it is ready.
pub async fn spawn_app(env: &Env) -> TestApp {
    TestApp {
        service: env.spawn(SERVICE, run).await,
        nats_url: env.nats.url(),
    }
}

/// A running service.
pub struct TestApp {
    pub service: ServiceHandle,
    pub nats_url: String,
}

pub type Client = OpportunityServiceClient<InterceptedService<Channel, BearerToken>>;

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
        OpportunityServiceClient::with_interceptor(self.channel().await, bearer)
    }

    /// A client acting as `subject` with `role`.
    pub async fn client(&self, subject: &str, role: Role) -> Client {
        self.client_with_token(&test_token(subject, role)).await
    }

    /// A manager's client whose token is scoped to `team`.
    pub async fn team_manager(&self, subject: &str, team: &str) -> Client {
        let token = Authenticator::new(Secret::new(TEST_JWT_SECRET)).mint(
            subject,
            Role::Manager,
            Some(team),
            3600,
        );
        self.client_with_token(&token).await
    }

    /// A client sending no token at all.
    pub async fn anonymous(&self) -> OpportunityServiceClient<Channel> {
        OpportunityServiceClient::new(self.channel().await)
    }

    /// Publishes `wheel.lead.assigned` for `lead_id` to `rep_id`; returns the event id.
    pub async fn assign(&self, lead_id: &str, rep_id: &str, team_id: &str) -> String {
        publish_event(
            &self.nats_url,
            &WHEEL_STREAM,
            subjects::LEAD_ASSIGNED,
            lead_id,
            &assigned(lead_id, rep_id, team_id),
        )
        .await
        .expect("publishing wheel.lead.assigned")
    }

    /// Publishes `wheel.team.upserted`: `team_id` managed by `manager_id`
    /// with `rep_ids` in it.
    pub async fn team(&self, team_id: &str, manager_id: &str, rep_ids: &[&str]) {
        let payload = TeamUpserted {
            team_id: team_id.into(),
            name: format!("Team {team_id}"),
            manager_id: manager_id.into(),
            window_ms: 60_000,
            rep_ids: rep_ids.iter().map(|r| r.to_string()).collect(),
            at_ms: leadwheel_plumbing::now_ms(),
        };
        publish_event(
            &self.nats_url,
            &WHEEL_STREAM,
            subjects::TEAM_UPSERTED,
            team_id,
            &payload,
        )
        .await
        .expect("publishing wheel.team.upserted");
    }

    /// Publishes `wheel.lead.reassigned` (a manager's reassign in the wheel).
    pub async fn reassign(&self, lead_id: &str, from: &str, to: &str, team_id: &str) {
        let payload = LeadReassigned {
            lead_id: lead_id.into(),
            team_id: team_id.into(),
            from_rep_id: from.into(),
            to_rep_id: to.into(),
            by: "maya".into(),
            at_ms: leadwheel_plumbing::now_ms(),
        };
        publish_event(
            &self.nats_url,
            &WHEEL_STREAM,
            subjects::LEAD_REASSIGNED,
            lead_id,
            &payload,
        )
        .await
        .expect("publishing wheel.lead.reassigned");
    }

    /// Publishes `intake.person.erased` for `lead_ids`.
    pub async fn erase(&self, lead_ids: &[&str]) {
        let payload = PersonErased {
            lead_ids: lead_ids.iter().map(|l| l.to_string()).collect(),
            by: "dpo".into(),
            at_ms: leadwheel_plumbing::now_ms(),
        };
        publish_event(
            &self.nats_url,
            &INTAKE_STREAM,
            subjects::PERSON_ERASED,
            lead_ids.first().copied().unwrap_or_default(),
            &payload,
        )
        .await
        .expect("publishing intake.person.erased");
    }

    /// Publishes `wheel.lead.assigned` again with event id `event_id`, as
    /// JetStream redelivers an event the consumer had processed but not
    /// acked (past the dedupe window).
    pub async fn redeliver(&self, event_id: &str, lead_id: &str, payload: &impl Message) {
        redeliver_event(
            &self.nats_url,
            subjects::LEAD_ASSIGNED,
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

    /// Every event on `subject` in `stream` so far, decoded from its envelope.
    pub async fn events(&self, stream: &StreamSpec, subject: &str) -> Vec<Envelope> {
        read_envelopes(&self.nats_url, stream, subject).await
    }

    /// The Prometheus exposition of the admin port.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.service.admin_addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

/// A `LeadAssigned` payload claimed through an offer.
pub fn assigned(lead_id: &str, rep_id: &str, team_id: &str) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead_id.into(),
        team_id: team_id.into(),
        rep_id: rep_id.into(),
        via: leadwheel_proto::events::v1::AssignedVia::Offer as i32,
        offer_id: Some(format!("offer-{lead_id}")),
        lead_created_at_ms: 1_000,
        first_offer_at_ms: 2_000,
        assigned_at_ms: 3_000,
        ..Default::default()
    }
}

/// Waits until `lead_id` is in work (read as an admin).
pub async fn wait_lead(
    app: &TestApp,
    lead_id: &str,
) -> leadwheel_proto::opportunity::v1::LeadInWork {
    let client = app.client("root", Role::Admin).await;
    leadwheel_plumbing::testing::eventually(WAIT, &format!("lead {lead_id} in work"), || {
        let mut client = client.clone();
        let lead_id = lead_id.to_string();
        async move {
            client
                .get_lead_in_work(leadwheel_proto::opportunity::v1::GetLeadInWorkRequest {
                    lead_id,
                })
                .await
                .ok()?
                .into_inner()
                .lead
        }
    })
    .await
}

/// Teams `north` (managed by maya: ana, bo, cy) and `south` (managed by
/// sue: dee), known to the service once `wait_lead` of a later lead returns.
pub async fn two_teams(app: &TestApp) {
    app.team("north", "maya", &["ana", "bo", "cy"]).await;
    app.team("south", "sue", &["dee"]).await;
}

/// A conversion request for `lead_id` with one domain and an amount in EUR.
pub fn conversion(
    lead_id: &str,
    domain: &str,
    amount_minor: i64,
) -> leadwheel_proto::opportunity::v1::ConvertLeadRequest {
    leadwheel_proto::opportunity::v1::ConvertLeadRequest {
        request_id: format!("convert-{lead_id}"),
        lead_id: lead_id.into(),
        account_name: format!("Company of {lead_id}"),
        domains: vec![domain.into()],
        tier: "mid".into(),
        opportunity_name: String::new(),
        amount_minor,
        currency: "EUR".into(),
        expected_close_date: "2026-12-31".into(),
        stage: String::new(),
    }
}

/// Assigns `lead_id` to `rep` in `team`, waits until it is in work, and
/// converts it as `rep`; returns the opportunity.
pub async fn opportunity(
    app: &TestApp,
    lead_id: &str,
    rep: &str,
    team: &str,
    amount_minor: i64,
) -> leadwheel_proto::opportunity::v1::Opportunity {
    app.assign(lead_id, rep, team).await;
    wait_lead(app, lead_id).await;
    let mut client = app.client(rep, Role::Rep).await;
    client
        .convert_lead(conversion(
            lead_id,
            &format!("{lead_id}.example.com"),
            amount_minor,
        ))
        .await
        .expect("converting")
        .into_inner()
        .opportunity
        .expect("an opportunity")
}

/// Every event on `subject` so far, decoded as `M`, with its key.
pub async fn events_of<M: Message + Default>(app: &TestApp, subject: &str) -> Vec<(String, M)> {
    app.events(&leadwheel_plumbing::bus::OPPS_STREAM, subject)
        .await
        .into_iter()
        .map(|e| {
            let payload = M::decode(e.payload.as_slice()).expect("the event's payload");
            (e.key, payload)
        })
        .collect()
}

/// Waits until `subject` has at least `count` events and returns them.
pub async fn wait_events<M: Message + Default>(
    app: &TestApp,
    subject: &str,
    count: usize,
) -> Vec<(String, M)> {
    leadwheel_plumbing::testing::eventually(
        WAIT,
        &format!("{count} events on {subject}"),
        || async {
            let events = events_of::<M>(app, subject).await;
            (events.len() >= count).then_some(events)
        },
    )
    .await
}

/// The field named by an INVALID_ARGUMENT status's details.
pub fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

/// Checks that `result` was refused with `code` (`why` says the rule at
/// stake) and returns the status for checks of its message or field.
pub fn refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
    why: &str,
) -> tonic::Status {
    let status = result.expect_err(why);
    assert_eq!(status.code(), code, "{why}: {}", status.message());
    status
}

/// Every row of a paged list, first page first: `page` fetches the page at
/// a token ("" for the first) and returns its rows and the next token (""
/// after the last page).
pub async fn all_pages<T>(mut page: impl AsyncFnMut(String) -> (Vec<T>, String)) -> Vec<T> {
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let (more, next) = page(token).await;
        rows.extend(more);
        if next.is_empty() {
            return rows;
        }
        token = next;
    }
}

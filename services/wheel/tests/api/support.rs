//! Helpers shared by the policy, bad-input and race tests: teams with a
//! policy, scoped manager tokens, a lead's routing and ledger, and events
//! read back with their ids.

use std::time::Duration;

use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_plumbing::bus::WHEEL_STREAM;
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::testing::{self, TEST_JWT_SECRET};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{Client, TestApp};

/// A team `team_id` managed by `manager_id` with `reps`, `window_ms` and `policy`.
pub fn team(
    team_id: &str,
    manager_id: &str,
    reps: &[&str],
    window_ms: i64,
    policy: Option<TeamPolicy>,
) -> Team {
    Team {
        team_id: team_id.into(),
        name: team_id.into(),
        manager_id: manager_id.into(),
        window_ms,
        rep_ids: reps.iter().map(|r| r.to_string()).collect(),
        policy,
    }
}

/// A policy whose circuit breaker never trips (tests that let offers lapse
/// on purpose must not lose their reps to it).
pub fn no_breaker() -> TeamPolicy {
    TeamPolicy {
        breaker_expiries: -1,
        ..Default::default()
    }
}

/// Creates or replaces `team` as an admin.
pub async fn upsert(app: &TestApp, team: Team) -> Team {
    app.admin()
        .await
        .upsert_team(UpsertTeamRequest {
            team: Some(team),
            rep_names: vec![],
        })
        .await
        .expect("upserting a team")
        .into_inner()
        .team
        .expect("the saved team")
}

/// A client whose token is a manager's scoped to `team` (None: unscoped).
pub async fn manager(app: &TestApp, subject: &str, team: Option<&str>) -> Client {
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token =
        Authenticator::new(Secret::new(TEST_JWT_SECRET)).mint(subject, Role::Manager, team, 3600);
    WheelServiceClient::with_interceptor(channel, BearerToken::new(&token).unwrap())
}

/// The lead's routing as an admin sees it.
pub async fn routing(app: &TestApp, lead_id: &str) -> GetLeadRoutingResponse {
    app.admin()
        .await
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.into(),
        })
        .await
        .expect("the lead's routing")
        .into_inner()
}

/// The lead's ledger as an admin sees it.
pub async fn explain(app: &TestApp, lead_id: &str) -> ExplainLeadResponse {
    app.admin()
        .await
        .explain_lead(ExplainLeadRequest {
            lead_id: lead_id.into(),
        })
        .await
        .expect("the lead's ledger")
        .into_inner()
}

/// The ledger as `(kind, rep, detail)` triples, oldest first.
pub fn story(ledger: &ExplainLeadResponse) -> Vec<(String, String, String)> {
    ledger
        .entries
        .iter()
        .map(|e| (e.kind.clone(), e.rep_id.clone(), e.detail.clone()))
        .collect()
}

/// Waits until the routing of `lead_id` satisfies `ready`.
pub async fn routing_when(
    app: &TestApp,
    lead_id: &str,
    what: &str,
    ready: impl Fn(&GetLeadRoutingResponse) -> bool,
) -> GetLeadRoutingResponse {
    let admin = app.admin().await;
    let ready = &ready;
    testing::eventually(
        Duration::from_secs(20),
        &format!("lead {lead_id}: {what}"),
        || {
            let mut admin = admin.clone();
            let lead_id = lead_id.to_string();
            async move {
                let routing = admin
                    .get_lead_routing(GetLeadRoutingRequest { lead_id })
                    .await
                    .ok()?
                    .into_inner();
                ready(&routing).then_some(routing)
            }
        },
    )
    .await
}

/// The open offer of a routing, if any.
pub fn open_offer(routing: &GetLeadRoutingResponse) -> Option<&Offer> {
    routing
        .offers
        .iter()
        .find(|o| o.state == OfferState::Open as i32)
}

/// Waits until at least `count` events are on `subject` and returns them
/// as `(event id, payload)`, in stream order.
pub async fn events_at_least<M: Message + Default>(
    app: &TestApp,
    subject: &str,
    count: usize,
) -> Vec<(String, M)> {
    let url = app.nats.url();
    testing::eventually(
        Duration::from_secs(20),
        &format!("{count} events on {subject}"),
        || {
            let url = url.clone();
            async move {
                let messages = testing::read_stream(&url, &WHEEL_STREAM, subject).await;
                (messages.len() >= count).then(|| {
                    messages
                        .into_iter()
                        .map(|m| {
                            let payload = M::decode(m.envelope.payload.as_slice())
                                .expect("the event's payload");
                            (m.envelope.id, payload)
                        })
                        .collect()
                })
            }
        },
    )
    .await
}

/// Asserts `result` failed with `code` and, when given, names `field`.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    field: Option<&str>,
    what: &str,
) {
    let status = match result {
        Ok(value) => panic!("{what}: expected {code:?}, got success {value:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{what}: {}", status.message());
    if let Some(field) = field {
        assert!(
            status.message().contains(field),
            "{what}: the message should name {field}: {}",
            status.message()
        );
    }
}

/// Every rep with their live counts, as an admin lists them.
pub async fn reps(app: &TestApp) -> Vec<Rep> {
    app.admin()
        .await
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reps
}

//! A person's erasure reaches the wheel: the real intake creates the lead
//! and erases the person (its events as it builds them), and the wheel
//! forgets the person (name, company, email, domain, the reasons its
//! routing rule quoted) and keeps the lead, its offers, its ledger and
//! its counts. An erasure applied before the lead arrives keeps the lead
//! blank from the start.

use std::time::Duration;

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::testing::{self, ServiceHandle, TestDb};
use leadwheel_plumbing::{now_ms, on_both_backends};
use leadwheel_proto::events::v1::{LeadCreated, PersonErased};
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use leadwheel_proto::intake::v1::{CreateLeadRequest, ErasePersonRequest, LeadFields};
use leadwheel_proto::wheel::v1::*;
use leadwheel_wheel::erasure::ERASED_REASONS;

use crate::helpers::{TestApp, spawn_app_on};
use crate::support::{explain, routing, story, team, upsert};

const WAIT: Duration = Duration::from_secs(20);

/// The real intake on the wheel's NATS server (its own SQLite store).
async fn spawn_intake(app: &TestApp) -> (ServiceHandle, TestDb) {
    let db = TestDb::sqlite();
    let config = testing::service_config("intake", &app.nats.url(), &db.url);
    let service = ServiceHandle::spawn(config, |config, listeners, shutdown| async move {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        leadwheel_intake::run_with(
            config,
            leadwheel_intake::IntakeSettings::default(),
            listeners,
            http,
            shutdown,
        )
        .await
    })
    .await;
    (service, db)
}

async fn intake_as(
    service: &ServiceHandle,
    role: Role,
) -> IntakeServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        leadwheel_plumbing::auth::BearerToken,
    >,
> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", service.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token =
        leadwheel_plumbing::auth::BearerToken::new(&testing::test_token("tester", role)).unwrap();
    IntakeServiceClient::with_interceptor(channel, token)
}

/// Rules sending the person's email domain to team `demo`.
async fn route_by_domain(app: &TestApp) {
    app.admin()
        .await
        .set_routing_rules(SetRoutingRulesRequest {
            rules: vec![RoutingRule {
                rule_id: "quill".into(),
                team_id: "demo".into(),
                r#match: Some(RoutingMatch {
                    email_domains: vec!["quill-erasure.example".into()],
                    ..Default::default()
                }),
                policy_override: None,
                description: "the quill signups".into(),
            }],
            default_team_id: "demo".into(),
            expected_version: 0,
        })
        .await
        .expect("setting the rules");
}

async fn erasure_removes_the_person_and_keeps_the_routing(db: TestDb) {
    let app = spawn_app_on(db).await;
    let (intake, _intake_db) = spawn_intake(&app).await;
    upsert(&app, team("demo", "maya", &["ana", "ben"], 60_000, None)).await;
    route_by_domain(&app).await;

    let created = intake_as(&intake, Role::Integration)
        .await
        .create_lead(CreateLeadRequest {
            request_id: "signup-1".into(),
            fields: Some(LeadFields {
                email: "ines.vasquez@quill-erasure.example".into(),
                name: "Ines Vasquez".into(),
                company: "Quill".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("intake takes the lead")
        .into_inner();
    let lead_id = created.lead.expect("a lead").lead_id;
    let offered = crate::support::routing_when(&app, &lead_id, "an offer", |r| {
        crate::support::open_offer(r).is_some()
    })
    .await;
    let rep = crate::support::open_offer(&offered).unwrap().rep_id.clone();
    app.rep(&rep)
        .await
        .claim(ClaimRequest {
            lead_id: lead_id.clone(),
            rep_id: rep.clone(),
        })
        .await
        .expect("the rep claims");
    let before = explain(&app, &lead_id).await;
    let lead = routing(&app, &lead_id).await.lead.expect("the lead");
    assert_eq!(
        (lead.name.as_str(), lead.email.as_str()),
        ("Ines Vasquez", "ines.vasquez@quill-erasure.example")
    );
    let routed = before.routed_by.clone().expect("routed by a rule");
    assert!(
        routed
            .reasons
            .iter()
            .any(|r| r.contains("quill-erasure.example")),
        "{routed:?}"
    );
    let stats_before = stats(&app).await;

    let erased = intake_as(&intake, Role::Admin)
        .await
        .erase_person(ErasePersonRequest {
            email: "Ines.Vasquez@quill-erasure.example".into(),
        })
        .await
        .expect("the admin erases ines")
        .into_inner();
    assert_eq!(erased.lead_ids, vec![lead_id.clone()]);

    let after = testing::eventually(WAIT, "the wheel to forget ines", || {
        let app = &app;
        let lead_id = lead_id.clone();
        async move {
            let lead = routing(app, &lead_id).await.lead?;
            lead.email.is_empty().then_some(lead)
        }
    })
    .await;
    assert_eq!(
        (
            after.name.as_str(),
            after.company.as_str(),
            after.domain.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(
        (after.tier.as_str(), after.score),
        (lead.tier.as_str(), lead.score)
    );

    // The ledger and how the team was chosen stay, without the reasons.
    let ledger = explain(&app, &lead_id).await;
    let shown: Vec<String> = story(&ledger)
        .into_iter()
        .map(|(kind, rep, detail)| format!("{kind} {rep} {detail}"))
        .collect();
    assert_eq!(ledger.entries.len(), before.entries.len());
    assert!(
        shown.iter().all(|line| !line.contains("quill-erasure")),
        "{shown:#?}"
    );
    let routed_after = ledger.routed_by.expect("still routed by the rule");
    assert_eq!(
        (routed_after.rule_id.as_str(), routed_after.team_id.as_str()),
        ("quill", "demo")
    );
    assert_eq!(routed_after.reasons, vec![ERASED_REASONS.to_string()]);
    assert!(
        shown
            .iter()
            .any(|line| line.starts_with("routed") && line.contains("rule quill")),
        "{shown:#?}"
    );
    assert_eq!(ledger.owner_rep_id, rep);
    assert_eq!(stats(&app).await, stats_before, "the wheel's counts moved");

    intake.stop().await;
}

async fn a_lead_created_after_its_erasure_is_kept_blank(db: TestDb) {
    let app = spawn_app_on(db).await;
    upsert(&app, team("demo", "maya", &["ana"], 60_000, None)).await;
    // The erasure is applied before the lead arrives (the two events come
    // on two consumers with no order between them).
    testing::publish_event(
        &app.nats.url(),
        &INTAKE_STREAM,
        subjects::PERSON_ERASED,
        "late-1",
        &PersonErased {
            lead_ids: vec!["late-1".into()],
            by: "admin:tester".into(),
            at_ms: now_ms(),
        },
    )
    .await
    .unwrap();
    testing::wait_consumer_done(&app.nats.url(), &INTAKE_STREAM, "wheel-erasure").await;
    testing::publish_event(
        &app.nats.url(),
        &INTAKE_STREAM,
        subjects::LEAD_CREATED,
        "late-1",
        &LeadCreated {
            lead_id: "late-1".into(),
            email: "late@person.example".into(),
            name: "Late Person".into(),
            company: "Late Co".into(),
            domain: "person.example".into(),
            tier: "B".into(),
            created_at_ms: now_ms(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let routing = app.wait_state("late-1", LeadState::Offered).await;
    let lead = routing.lead.expect("the lead");
    assert_eq!(
        (
            lead.name.as_str(),
            lead.company.as_str(),
            lead.email.as_str(),
            lead.domain.as_str(),
            lead.tier.as_str()
        ),
        ("", "", "", "", "B")
    );
}

async fn a_malformed_erasure_is_refused_and_changes_nothing(db: TestDb) {
    let app = spawn_app_on(db).await;
    upsert(&app, team("demo", "maya", &["ana"], 60_000, None)).await;
    app.new_lead("kept-1").await;
    app.wait_state("kept-1", LeadState::Offered).await;
    testing::publish_event(
        &app.nats.url(),
        &INTAKE_STREAM,
        subjects::PERSON_ERASED,
        "",
        &PersonErased {
            lead_ids: vec!["kept-1".into(), String::new()],
            by: "admin:tester".into(),
            at_ms: now_ms(),
        },
    )
    .await
    .unwrap();
    testing::wait_consumer_done(&app.nats.url(), &INTAKE_STREAM, "wheel-erasure").await;
    let lead = routing(&app, "kept-1").await.lead.expect("the lead");
    assert_eq!(lead.email, "kept-1@example.com", "a refused erasure erased");
}

async fn stats(app: &TestApp) -> WheelStatsResponse {
    app.admin()
        .await
        .wheel_stats(WheelStatsRequest {
            team_id: "demo".into(),
            ..Default::default()
        })
        .await
        .expect("the wheel's stats")
        .into_inner()
}

on_both_backends!(
    erasure_removes_the_person_and_keeps_the_routing,
    a_lead_created_after_its_erasure_is_kept_blank,
    a_malformed_erasure_is_refused_and_changes_nothing,
);

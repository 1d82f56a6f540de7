//! End to end, across the five real processes: a person is erased with
//! `leadctl intake erase`, and then no service's store holds their email,
//! name or phone any more, while every report counts what it counted.
//!
//! The person signs up (with a phone and a message naming them), the lead
//! is claimed, a short `no_first_touch` rule raises an alert about it, the
//! rep logs a call with a note naming the person and converts the lead.
//! After the erasure every table of every service's SQLite file is read
//! back as text (blobs too: the outbox's envelopes) and searched. The
//! JetStream streams still hold the old events: their max age
//! (`LEADWHEEL_STREAM_…_MAX_AGE_MS`, here a day for intake's stream, set by
//! intake whoever created the stream) is what bounds those copies.

mod flow;

use std::collections::BTreeMap;
use std::path::Path;

use flow::*;
use leadwheel_e2e::System;
use leadwheel_e2e::watch::TerminationWatch;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, StreamSpec, subjects};
use leadwheel_plumbing::testing::{eventually, read_events};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::alerting::v1::{ListAlertsRequest, Rule, SetRuleRequest};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::opportunity::v1::*;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    GetFiveQuestionsRequest, GetFiveQuestionsResponse, GetFunnelRequest, GetFunnelResponse,
};
use leadwheel_proto::wheel::v1::GetLeadRoutingRequest;
use sqlx::{Connection, Row};

const EMAIL: &str = "Zephyrine.Quillfeather@erasure-e2e.example";
const FIRST_NAME: &str = "Zephyrine";
const LAST_NAME: &str = "Quillfeather";
const PHONE: &str = "+49 30 5550 1987";
/// The phone as intake stores it.
const PHONE_STORED: &str = "+493055501987";

/// What must not be found anywhere after the erasure (compared lower-case).
const NEEDLES: [&str; 5] = [EMAIL, FIRST_NAME, LAST_NAME, PHONE, PHONE_STORED];

#[tokio::test]
async fn an_erased_person_is_in_no_store_and_every_count_stays() {
    // The wheel starts first (its consumers create intake's stream, without
    // a limit, when it is missing); intake, the stream's owner, sets the
    // max age it is configured with; the consumers starting later leave it.
    let mut system = System::nats_only().await.expect("nats");
    system.start_service("wheel").await.expect("wheel");
    system
        .start_instance(
            "intake",
            "intake",
            &[("LEADWHEEL_STREAM_INTAKE_MAX_AGE_MS", "86400000")],
        )
        .await
        .expect("intake");
    for service in ["opportunity", "alerting", "reporting"] {
        system.start_service(service).await.expect(service);
    }
    let watch = TerminationWatch::start(&system.nats.url())
        .await
        .expect("watching terminations");
    let mut admin = wheel(&system, "admin", Role::Admin).await;
    set_team(&mut admin, "north", "maya", &["ana"]).await;
    let mut alerts_admin =
        AlertingServiceClient::new(system.authed("alerting", "admin", Role::Admin).await);
    alerts_admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "north".into(),
                rule: "no_first_touch".into(),
                enabled: true,
                threshold_seconds: 1,
                recipients: "both".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("a 1 s first-touch rule");

    // The signup names the person in every free field it has.
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({
            "email": EMAIL,
            "name": format!("{FIRST_NAME} {LAST_NAME}"),
            "company": "Loomworks",
            "phone": PHONE,
            "message": format!("Please call me, {FIRST_NAME} {LAST_NAME}, about looms"),
            "attributes": {"referrer": format!("{FIRST_NAME} {LAST_NAME}")},
            "utm_campaign": format!("{LAST_NAME}-spring"),
        }))
        .send()
        .await
        .expect("posting the signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    let lead_id = body["lead_id"].as_str().expect("lead_id").to_string();

    // Claimed; nobody touches it for a while: an alert about it.
    claim_as(&system, &admin, &lead_id, "ana").await;
    let mut ana = opps(&system, "ana", Role::Rep).await;
    lead_in_work(&ana, &lead_id).await;
    let ana_alerts = AlertingServiceClient::new(system.authed("alerting", "ana", Role::Rep).await);
    eventually(WAIT, "the no_first_touch alert about the lead", || {
        let mut alerts = ana_alerts.clone();
        let lead_id = lead_id.clone();
        async move {
            alerts
                .list_alerts(ListAlertsRequest::default())
                .await
                .ok()?
                .into_inner()
                .alerts
                .into_iter()
                .find(|a| a.kind == "no_first_touch" && a.subject_key == lead_id)
        }
    })
    .await;

    // Worked: a call with a note naming the person, then converted.
    ana.log_activity(LogActivityRequest {
        request_id: "call-1".into(),
        kind: ActivityKind::Call as i32,
        lead_id: lead_id.clone(),
        duration_seconds: 300,
        outcome: "connected".into(),
        notes: vec![CallNote {
            offset_seconds: 30,
            text: format!("{FIRST_NAME} {LAST_NAME} wants a demo; mobile {PHONE}"),
        }],
        subject: format!("Call with {FIRST_NAME}"),
        body: format!("Reached {EMAIL}"),
        ..Default::default()
    })
    .await
    .expect("ana logs a call");
    ana.convert_lead(ConvertLeadRequest {
        request_id: "convert-1".into(),
        lead_id: lead_id.clone(),
        account_name: "Loomworks".into(),
        domains: vec!["loomworks.example".into()],
        tier: "A".into(),
        opportunity_name: "Loomworks looms".into(),
        amount_minor: 900_000,
        currency: "EUR".into(),
        expected_close_date: "2026-12-31".into(),
        stage: String::new(),
    })
    .await
    .expect("ana converts the lead");

    // The person is in the stores now (the search below can find them).
    let dumps = eventually(WAIT, "the person to reach every store", || async {
        let found = search_stores(system.dir.path()).await;
        ["intake", "wheel", "opportunity"]
            .iter()
            .all(|service| found.keys().any(|at| at.starts_with(service)))
            .then_some(found)
    })
    .await;
    assert!(!dumps.is_empty());

    // Reports before: wait until reporting counted the claim, the call and
    // the conversion.
    let maya = ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);
    let (funnel, five) = eventually(WAIT, "reporting to count the work", || {
        let maya = maya.clone();
        async move {
            let (funnel, five) = reports(&maya).await?;
            let total = funnel.total?;
            let current = five.current.clone()?;
            (total.created == 1
                && total.claimed == 1
                && current.calls == 1
                && current.opportunities == 1)
                .then_some((funnel, five))
        }
    })
    .await;

    // Erased with leadctl, as an operator does.
    let erased = system
        .leadctl_json("intake", &["intake", "erase", EMAIL])
        .await;
    assert_eq!(erased["lead_ids"], serde_json::json!([lead_id]));

    // Every consumer of the three services took everything, the erasure
    // included.
    let durables: Vec<(&StreamSpec, String)> = [leadwheel_intake::accounts::consumer_spec()]
        .into_iter()
        .chain(leadwheel_wheel::consumer_specs())
        .chain(leadwheel_opportunity::consumer_specs())
        .map(|spec| (spec.stream, spec.durable))
        .collect();
    let durables: Vec<(&StreamSpec, &str)> =
        durables.iter().map(|(s, d)| (*s, d.as_str())).collect();
    consumers_took_everything(&system, &watch, &durables).await;

    // Nothing of the person in any table of any store.
    let found = search_stores(system.dir.path()).await;
    assert!(
        found.is_empty(),
        "the erased person is still in: {found:#?}"
    );

    // The wheel still has the lead, anonymous, with its routing.
    let routing = admin
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.clone(),
        })
        .await
        .expect("the wheel still has the lead")
        .into_inner();
    assert_eq!(routing.owner_rep_id, "ana");
    assert!(!routing.offers.is_empty());

    // Every count as it was.
    let after = reports(&maya).await.expect("reports after the erasure");
    assert_eq!(after, (funnel, five), "a report changed with the erasure");

    // The stream still holds the signup as it was published: the stream's
    // max age bounds that copy, not the erasure.
    let client = async_nats::connect(system.nats.url()).await.unwrap();
    let mut stream = async_nats::jetstream::new(client)
        .get_stream(INTAKE_STREAM.name)
        .await
        .unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!(config.max_age, std::time::Duration::from_secs(86_400));
    let created: Vec<LeadCreated> =
        read_events(&system.nats.url(), &INTAKE_STREAM, subjects::LEAD_CREATED).await;
    assert!(
        created
            .iter()
            .any(|c| c.lead_id == lead_id && c.email.eq_ignore_ascii_case(EMAIL)),
        "the stream no longer holds the signup: the test's premise changed: {created:?}"
    );
}

/// The funnel and this week's five questions, as maya reads them.
async fn reports(
    maya: &ReportingServiceClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            leadwheel_plumbing::auth::BearerToken,
        >,
    >,
) -> Option<(GetFunnelResponse, GetFiveQuestionsResponse)> {
    let mut maya = maya.clone();
    let funnel = maya
        .get_funnel(GetFunnelRequest::default())
        .await
        .ok()?
        .into_inner();
    let five = maya
        .get_five_questions(GetFiveQuestionsRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner();
    Some((funnel, five))
}

/// Every place (`service.table.column`) where a value of any row holds
/// one of [`NEEDLES`], reading every table of every service's SQLite file,
/// each value as text (blobs as their bytes, so a protobuf envelope's
/// strings show).
async fn search_stores(dir: &Path) -> BTreeMap<String, String> {
    sqlx::any::install_default_drivers();
    let needles: Vec<String> = NEEDLES.iter().map(|n| n.to_ascii_lowercase()).collect();
    let mut found = BTreeMap::new();
    for service in leadwheel_e2e::SERVICES {
        let path = dir.join(format!("{service}.db"));
        assert!(path.exists(), "{} is missing", path.display());
        let url = format!("sqlite://{}?mode=ro", path.display());
        let mut conn = sqlx::AnyConnection::connect(&url)
            .await
            .unwrap_or_else(|err| panic!("opening {}: {err}", path.display()));
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&mut conn)
                .await
                .expect("listing tables");
        for table in tables {
            let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(&mut conn)
            .await
            .expect("listing columns");
            let select = columns
                .iter()
                .map(|c| format!("CAST(\"{c}\" AS BLOB)"))
                .collect::<Vec<_>>()
                .join(", ");
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {select} FROM \"{table}\""
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("reading {service}.{table}: {err}"));
            for row in rows {
                for (i, column) in columns.iter().enumerate() {
                    let value: Option<Vec<u8>> = row.try_get(i).expect("a value as bytes");
                    let text = String::from_utf8_lossy(&value.unwrap_or_default()).to_lowercase();
                    if let Some(needle) = needles.iter().find(|n| text.contains(n.as_str())) {
                        found.insert(
                            format!("{service}.{table}.{column}"),
                            format!("holds {needle:?}"),
                        );
                    }
                }
            }
        }
        let _ = conn.close().await;
    }
    found
}

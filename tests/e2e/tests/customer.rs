//! End-to-end across intake, wheel and opportunity as separate processes:
//! a claimed lead converted into an account frees its rep's capacity, and
//! the next signup from that account's domain goes straight to the account
//! owner (one face to the customer), not round the wheel.

use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::{WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{eventually, read_events};
use leadwheel_proto::events::v1::{AssignedVia, LeadAssigned};
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::opportunity::v1::{ConvertLeadRequest, GetLeadInWorkRequest};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

async fn signup(system: &System, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({"email": email, "name": "Pat Buyer", "company": "Brightline"}))
        .send()
        .await
        .expect("posting a signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"].as_str().expect("lead_id").to_string()
}

async fn routing(wheel: &mut WheelClient, lead_id: &str) -> Option<GetLeadRoutingResponse> {
    wheel
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner())
}

type WheelClient = WheelServiceClient<InterceptedService<Channel, BearerToken>>;

async fn load_of(wheel: &mut WheelClient, rep_id: &str) -> Option<i32> {
    let reps = wheel
        .list_reps(ListRepsRequest::default())
        .await
        .ok()?
        .into_inner()
        .reps;
    reps.into_iter()
        .find(|r| r.rep_id == rep_id)
        .map(|r| r.assigned_leads)
}

#[tokio::test]
async fn a_converted_customer_comes_back_to_its_owner() {
    let system = System::start().await.expect("system");
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "demo".into(),
                name: "Demo".into(),
                manager_id: "maya".into(),
                window_ms: 600_000,
                rep_ids: vec!["ana".into(), "ben".into(), "cy".into()],
                policy: None,
            }),
            rep_names: vec![],
        })
        .await
        .expect("seeding the team");

    // The first signup from brightline.example goes round the wheel: ana.
    let first = signup(&system, "pat@brightline.example").await;
    let offered = eventually(WAIT, "the first offer", || {
        let mut wheel = wheel.clone();
        let first = first.clone();
        async move {
            let r = routing(&mut wheel, &first).await?;
            r.offers.first().map(|o| o.rep_id.clone())
        }
    })
    .await;
    assert_eq!(offered, "ana");
    let mut ana = WheelServiceClient::new(system.authed("wheel", "ana", Role::Rep).await);
    ana.claim(ClaimRequest {
        lead_id: first.clone(),
        rep_id: "ana".into(),
    })
    .await
    .expect("ana claims");
    assert_eq!(load_of(&mut wheel, "ana").await, Some(1));

    // Ana works it and converts it into the Brightline account.
    let mut opps =
        OpportunityServiceClient::new(system.authed("opportunity", "ana", Role::Rep).await);
    eventually(WAIT, "the lead in work in opportunity", || {
        let mut opps = opps.clone();
        let lead_id = first.clone();
        async move {
            opps.get_lead_in_work(GetLeadInWorkRequest { lead_id })
                .await
                .ok()
        }
    })
    .await;
    let converted = opps
        .convert_lead(ConvertLeadRequest {
            request_id: "convert-1".into(),
            lead_id: first.clone(),
            account_name: "Brightline".into(),
            domains: vec!["brightline.example".into()],
            tier: "A".into(),
            opportunity_name: "Brightline rollout".into(),
            amount_minor: 1_200_000,
            currency: "EUR".into(),
            expected_close_date: "2026-12-31".into(),
            stage: String::new(),
        })
        .await
        .expect("ana converts the lead")
        .into_inner();
    assert_eq!(converted.account.expect("an account").owner_rep_id, "ana");

    // The wheel hears of it: the lead no longer counts toward ana's capacity.
    eventually(WAIT, "ana's load to drop", || {
        let mut wheel = wheel.clone();
        async move { (load_of(&mut wheel, "ana").await? == 0).then_some(()) }
    })
    .await;

    // Intake hears of it too: a later signup from that domain is routed to
    // ana directly. Intake learns of the account asynchronously, so sign up
    // until one is assigned to her as the account owner.
    let mut n = 0;
    let direct = eventually(
        WAIT,
        "a signup from the domain to reach ana directly",
        || {
            n += 1;
            let email = format!("sam{n}@brightline.example");
            let wheel = wheel.clone();
            let system = &system;
            async move {
                let lead_id = signup(system, &email).await;
                let settled = eventually(WAIT, "the signup to be routed", || {
                    let mut wheel = wheel.clone();
                    let lead_id = lead_id.clone();
                    async move {
                        let r = routing(&mut wheel, &lead_id).await?;
                        (r.state == LeadState::Assigned as i32 || !r.offers.is_empty()).then_some(r)
                    }
                })
                .await;
                (settled.state == LeadState::Assigned as i32 && settled.owner_rep_id == "ana")
                    .then_some(lead_id)
            }
        },
    )
    .await;
    let assigned: Vec<LeadAssigned> =
        read_events(&system.nats.url(), &WHEEL_STREAM, subjects::LEAD_ASSIGNED).await;
    let via = assigned
        .iter()
        .find(|a| a.lead_id == direct)
        .expect("the direct assignment's event")
        .via;
    assert_eq!(via, AssignedVia::AccountOwner as i32);
}

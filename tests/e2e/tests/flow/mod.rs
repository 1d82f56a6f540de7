//! Driving the real system as its users do: signups over HTTP, offers
//! claimed or passed over the wheel's gRPC API, work in opportunity; and
//! checking that the services' consumers took every event.

#![allow(dead_code)]

use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_e2e::watch::TerminationWatch;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::StreamSpec;
use leadwheel_plumbing::testing::{eventually, wait_consumer_done};
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::opportunity::v1::{GetLeadInWorkRequest, LeadInWork};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(30);

pub type Wheel = WheelServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Opps = OpportunityServiceClient<InterceptedService<Channel, BearerToken>>;

pub async fn wheel(system: &System, subject: &str, role: Role) -> Wheel {
    WheelServiceClient::new(system.authed("wheel", subject, role).await)
}

pub async fn opps(system: &System, subject: &str, role: Role) -> Opps {
    OpportunityServiceClient::new(system.authed("opportunity", subject, role).await)
}

/// Creates or replaces `team_id`, managed by `manager`, with `reps` as its
/// ring and a ten-minute window (offers wait for the test, never expire).
pub async fn set_team(admin: &mut Wheel, team_id: &str, manager: &str, reps: &[&str]) {
    admin
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: team_id.into(),
                name: team_id.into(),
                manager_id: manager.into(),
                window_ms: 600_000,
                rep_ids: reps.iter().map(|r| r.to_string()).collect(),
                policy: None,
            }),
            rep_names: vec![],
        })
        .await
        .expect("setting the team");
}

/// Posts a signup as the website does; returns the lead id.
pub async fn signup(system: &System, email: &str, company: &str) -> String {
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({"email": email, "name": "Pat Buyer", "company": company}))
        .send()
        .await
        .expect("posting a signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"].as_str().expect("lead_id").to_string()
}

pub async fn routing(admin: &mut Wheel, lead_id: &str) -> Option<GetLeadRoutingResponse> {
    admin
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// The rep the lead is offered to now, once it is.
pub async fn offered_to(admin: &Wheel, lead_id: &str) -> String {
    eventually(WAIT, &format!("an offer of {lead_id}"), || {
        let mut admin = admin.clone();
        async move {
            let r = routing(&mut admin, lead_id).await?;
            r.offers
                .iter()
                .find(|o| o.state == OfferState::Open as i32)
                .map(|o| o.rep_id.clone())
        }
    })
    .await
}

/// Every rep `lead_id` was offered to so far.
pub async fn offered_reps(admin: &Wheel, lead_id: &str) -> Vec<String> {
    let mut admin = admin.clone();
    routing(&mut admin, lead_id)
        .await
        .map(|r| r.offers.into_iter().map(|o| o.rep_id).collect())
        .unwrap_or_default()
}

/// `rep` claims `lead_id`: whoever it is offered to before them passes.
pub async fn claim_as(system: &System, admin: &Wheel, lead_id: &str, rep: &str) {
    loop {
        let offered = offered_to(admin, lead_id).await;
        let mut client = wheel(system, &offered, Role::Rep).await;
        if offered == rep {
            client
                .claim(ClaimRequest {
                    lead_id: lead_id.into(),
                    rep_id: rep.into(),
                })
                .await
                .unwrap_or_else(|err| panic!("{rep} claims {lead_id}: {err}"));
            return;
        }
        client
            .pass(PassRequest {
                lead_id: lead_id.into(),
                rep_id: offered.clone(),
                reason: format!("leaving it for {rep}"),
            })
            .await
            .unwrap_or_else(|err| panic!("{offered} passes {lead_id}: {err}"));
    }
}

/// The lead in work in opportunity, once it is there, as `viewer` sees it.
pub async fn lead_in_work(viewer: &Opps, lead_id: &str) -> LeadInWork {
    eventually(WAIT, &format!("{lead_id} in work in opportunity"), || {
        let mut viewer = viewer.clone();
        async move {
            viewer
                .get_lead_in_work(GetLeadInWorkRequest {
                    lead_id: lead_id.into(),
                })
                .await
                .ok()?
                .into_inner()
                .lead
        }
    })
    .await
}

/// The reps the wheel lists, with their team ("" for none).
pub async fn wheel_reps(admin: &mut Wheel) -> Vec<(String, String)> {
    admin
        .list_reps(ListRepsRequest::default())
        .await
        .expect("listing reps")
        .into_inner()
        .reps
        .into_iter()
        .map(|r| (r.rep_id, r.team_id))
        .collect()
}

/// Waits until each durable consumer has taken every event its filter
/// selects (none pending, none waiting for an ack), then checks no
/// consumer terminated an event since `watch` started.
pub async fn consumers_took_everything(
    system: &System,
    watch: &TerminationWatch,
    consumers: &[(&StreamSpec, &str)],
) {
    for (stream, durable) in consumers {
        wait_consumer_done(&system.nats.url(), stream, durable).await;
    }
    let terminated = watch.seen().await;
    assert!(
        terminated.is_empty(),
        "consumers terminated events they should have applied: {terminated:?}"
    );
}

/// Waits until the wheel counts `count` leads against `rep`'s capacity.
pub async fn wait_load(admin: &Wheel, rep: &str, count: i32) {
    eventually(WAIT, &format!("{rep}'s load to be {count}"), || {
        let mut admin = admin.clone();
        async move {
            let reps = admin
                .list_reps(ListRepsRequest::default())
                .await
                .ok()?
                .into_inner()
                .reps;
            reps.iter()
                .any(|r| r.rep_id == rep && r.assigned_leads == count)
                .then_some(())
        }
    })
    .await
}

/// Waits until the wheel has `lead_id` in `state`.
pub async fn wait_state(admin: &Wheel, lead_id: &str, state: LeadState) {
    eventually(WAIT, &format!("{lead_id} to be {state:?}"), || {
        let mut admin = admin.clone();
        async move {
            let r = routing(&mut admin, lead_id).await?;
            (r.state == state as i32).then_some(())
        }
    })
    .await
}

/// Waits until opportunity has `lead_id` in work for `rep`, as `viewer`
/// sees it.
pub async fn in_work_for(viewer: &Opps, lead_id: &str, rep: &str) {
    eventually(WAIT, &format!("{lead_id} in work for {rep}"), || {
        let mut viewer = viewer.clone();
        async move {
            let lead = viewer
                .get_lead_in_work(GetLeadInWorkRequest {
                    lead_id: lead_id.into(),
                })
                .await
                .ok()?
                .into_inner()
                .lead?;
            (lead.rep_id == rep && lead.status == "in_work").then_some(())
        }
    })
    .await
}

//! End-to-end: the five real service binaries as separate processes over a
//! real nats-server.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::opportunity::v1::GetLeadInWorkRequest;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::reporting::v1::GetFunnelRequest;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;

const WAIT: Duration = Duration::from_secs(30);

async fn seed_team(system: &System, reps: &[&str], window_ms: i64) {
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
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
        .expect("seeding the team");
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn signup(system: &System, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({"email": email, "name": "Pat Buyer", "company": "Acme"}))
        .send()
        .await
        .expect("posting a signup");
    assert!(
        response.status().is_success(),
        "signup refused: {}",
        response.status()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"]
        .as_str()
        .expect("lead_id in the answer")
        .to_string()
}

async fn routing(system: &System, lead_id: &str) -> Option<GetLeadRoutingResponse> {
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// signup → offer → expiry → next rep → claim → in work → counted.
#[tokio::test]
async fn a_signup_walks_to_a_claimed_lead_in_work_and_is_counted() {
    let system = System::start().await.expect("system");
    seed_team(&system, &["ana", "ben"], 1_000).await;

    let lead_id = signup(&system, "pat@acme.example").await;

    // ana gets the first look and lets it lapse; ben is offered it next.
    let first = eventually(WAIT, "the first offer", || async {
        let r = routing(&system, &lead_id).await?;
        r.offers.first().map(|o| o.rep_id.clone())
    })
    .await;
    assert_eq!(first, "ana");
    eventually(WAIT, "the offer to move to ben", || async {
        let r = routing(&system, &lead_id).await?;
        let open = r
            .offers
            .iter()
            .find(|o| o.state == OfferState::Open as i32)?;
        (open.rep_id == "ben" && r.offers[0].state == OfferState::Expired as i32).then_some(())
    })
    .await;

    let mut ben = WheelServiceClient::new(system.authed("wheel", "ben", Role::Rep).await);
    ben.claim(ClaimRequest {
        lead_id: lead_id.clone(),
        rep_id: "ben".into(),
    })
    .await
    .expect("ben claims in his window");

    let mut opps =
        OpportunityServiceClient::new(system.authed("opportunity", "ben", Role::Rep).await);
    let in_work = eventually(WAIT, "the lead in work in opportunity", || {
        let mut opps = opps.clone();
        let lead_id = lead_id.clone();
        async move {
            opps.get_lead_in_work(GetLeadInWorkRequest { lead_id })
                .await
                .ok()
        }
    })
    .await
    .into_inner()
    .lead
    .unwrap();
    assert_eq!(in_work.rep_id, "ben");
    assert_eq!(in_work.status, "in_work");
    let _ = &mut opps;

    let mut reporting =
        ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);
    let funnel = eventually(WAIT, "the funnel to count the lead", || {
        let mut reporting = reporting.clone();
        async move {
            let funnel = reporting
                .get_funnel(GetFunnelRequest::default())
                .await
                .ok()?
                .into_inner();
            let total = funnel.total?;
            (total.created == 1 && total.claimed == 1 && total.in_work == 1).then_some(funnel)
        }
    })
    .await;
    let _ = &mut reporting;
    let total = funnel.total.unwrap();
    assert_eq!((total.offered, total.expired), (2, 1));
    // The team's row counts the lead too: the wheel routed it there.
    let team = funnel.teams.iter().find(|t| t.team_id == "demo").unwrap();
    let team_counts = team.counts.as_ref().unwrap();
    assert_eq!(
        (team_counts.created, team_counts.claimed),
        (1, 1),
        "{team:?}"
    );
    let per_rep: HashMap<String, _> = funnel
        .reps
        .into_iter()
        .map(|r| (r.rep_id.clone(), r.counts.unwrap()))
        .collect();
    assert_eq!(per_rep["ana"].expired, 1);
    assert_eq!(per_rep["ben"].claimed, 1);

    // One trace spans the signup and the offers it led to: the caller's
    // trace id travels from the HTTP request through intake's event into
    // the wheel's events.
    let created = leadwheel_plumbing::testing::read_stream(
        &system.nats.url(),
        &leadwheel_plumbing::bus::INTAKE_STREAM,
        subjects::LEAD_CREATED,
    )
    .await;
    let created_tp = created[0]
        .headers
        .as_ref()
        .and_then(|h| h.get("traceparent"))
        .map(|v| v.as_str().to_string())
        .expect("intake's event carries a traceparent");
    assert!(
        created_tp.starts_with(&format!("00-{TRACE_ID}-")),
        "{created_tp}"
    );
    let opened = leadwheel_plumbing::testing::read_stream(
        &system.nats.url(),
        &leadwheel_plumbing::bus::WHEEL_STREAM,
        subjects::OFFER_OPENED,
    )
    .await;
    assert_eq!(opened.len(), 2);
    for message in opened {
        let traceparent = message
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .map(|v| v.as_str().to_string())
            .expect("wheel events carry a traceparent");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE_ID}-")),
            "{traceparent}"
        );
    }
}

/// The wheel is killed with SIGKILL while every lead has an open offer,
/// and restarted: every lead still ends claimed or pooled, and the shared
/// invariant check (one owner, one open offer at a time, no rep twice in a
/// lap, no late claim, events agreeing with the store) holds.
#[tokio::test]
async fn the_wheel_survives_sigkill_with_offers_open() {
    let mut system = System::start().await.expect("system");
    // A 3 s window: a lap of three reps lasts long enough for all twelve
    // leads to be offered at once before the crash.
    seed_team(&system, &["ana", "ben", "cy"], 3_000).await;

    let mut leads = Vec::new();
    for i in 0..12 {
        leads.push(signup(&system, &format!("buyer{i}@crash.example")).await);
    }
    // Wait until every lead has an open offer, then crash the wheel.
    eventually(WAIT, "an open offer for every lead", || async {
        for lead in &leads {
            let routing = routing(&system, lead).await?;
            routing
                .offers
                .iter()
                .any(|o| o.state == OfferState::Open as i32)
                .then_some(())?;
        }
        Some(())
    })
    .await;
    system.kill("wheel");
    system
        .start_service("wheel")
        .await
        .expect("restarting the wheel");

    // ana claims whatever she is offered from now on; others let offers lapse.
    let ana = WheelServiceClient::new(system.authed("wheel", "ana", Role::Rep).await);
    let claims = std::sync::Mutex::new(Vec::new());
    eventually(
        Duration::from_secs(90),
        "every lead to end claimed or pooled",
        || {
            let mut ana = ana.clone();
            let (system, leads, claims) = (&system, &leads, &claims);
            async move {
                if let Ok(offers) = ana
                    .list_offers(ListOffersRequest {
                        rep_id: "ana".into(),
                        ..Default::default()
                    })
                    .await
                {
                    for offer in offers.into_inner().offers {
                        let sent_at_ms = leadwheel_plumbing::now_ms();
                        let result = ana
                            .claim(ClaimRequest {
                                lead_id: offer.lead_id.clone(),
                                rep_id: "ana".into(),
                            })
                            .await;
                        claims.lock().unwrap().push(common::ClaimAttempt {
                            lead_id: offer.lead_id,
                            rep_id: "ana".into(),
                            deadline_ms: offer.deadline_ms,
                            sent_at_ms,
                            ok: result.is_ok(),
                            via_pool: result
                                .is_ok_and(|r| r.into_inner().via == ClaimedVia::Pool as i32),
                        });
                    }
                }
                for lead in leads {
                    let r = routing(system, lead).await?;
                    if r.state != LeadState::Assigned as i32 && r.state != LeadState::Pooled as i32
                    {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;

    let admin = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    let ends = common::read_ends(&[admin], &leads).await;
    let claims = claims.into_inner().unwrap();
    let summary = common::check_invariants(&system.nats.url(), &ends, &claims).await;
    assert_eq!(
        summary.assigned + summary.pooled,
        leads.len(),
        "{summary:?}"
    );
    system
        .terminate("wheel")
        .expect("the wheel stops cleanly on SIGTERM");
}

//! NATS entirely down for 30 s under load: signups keep coming in over
//! intake's HTTP at a steady rate before, during and after the outage, and
//! every one is accepted (201). Once NATS is back, every lead reaches the
//! wheel and is offered, once: one `intake.lead.created` per lead, one
//! offer per lead in the wheel's routing and events, and reporting counts
//! each lead created and offered once.
//!
//! On the five real processes (SQLite) over one nats-server, killed with
//! SIGKILL and restarted on its port and store. `E2E_OUTAGE_SECS` changes
//! the outage (default 30).

mod flow;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{self, eventually};
use leadwheel_proto::events::v1::OfferOpened;
use leadwheel_proto::reporting::v1::GetFunnelRequest;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::wheel::v1::{GetLeadRoutingRequest, LeadState, OfferState};
use prost::Message;

/// Signups a second, all along.
const RATE: u64 = 20;
/// Seconds of signups before the outage and after it.
const AROUND_SECS: u64 = 10;

/// One signup; the lead id and when it was answered, or why it failed.
async fn signup(http: &reqwest::Client, url: &str, i: usize) -> Result<String, String> {
    let response = http
        .post(url)
        .json(&serde_json::json!({
            "email": format!("outage{i:05}@buyer{}.example", i % 31),
            "name": format!("Buyer {i}"),
            "company": format!("Buyer {}", i % 31),
        }))
        .send()
        .await
        .map_err(|err| format!("signup {i}: {err}"))?;
    let status = response.status();
    if status != reqwest::StatusCode::CREATED {
        return Err(format!(
            "signup {i}: {status}: {}",
            response.text().await.unwrap_or_default()
        ));
    }
    let body: serde_json::Value = response.json().await.map_err(|err| err.to_string())?;
    body["lead_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("signup {i}: no lead_id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signups_are_accepted_while_nats_is_down_and_delivered_once_after() {
    let outage = Duration::from_secs(
        std::env::var("E2E_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    );
    let started = Instant::now();
    let mut system = System::nats_only().await.expect("nats");
    for service in leadwheel_e2e::SERVICES {
        system
            .start_instance(
                service,
                service,
                // Every signup comes from this one address.
                &[("LEADWHEEL_INTAKE_RATE_PER_ADDRESS", "0")],
            )
            .await
            .unwrap_or_else(|err| panic!("starting {service}: {err:#}"));
    }
    let mut admin = flow::wheel(&system, "admin", Role::Admin).await;
    // Offers wait ten minutes: each lead gets exactly one while the test runs.
    flow::set_team(&mut admin, "demo", "maya", &["ana", "ben", "carla"]).await;

    let total = (RATE * (2 * AROUND_SECS + outage.as_secs())) as usize;
    let url = system.signup_url();
    let signups = tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let gap = Duration::from_micros(1_000_000 / RATE);
        let start = tokio::time::Instant::now();
        let posts = (0..total).map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                tokio::time::sleep_until(start + gap * i as u32).await;
                let result = signup(&http, &url, i).await;
                (i, result, Instant::now())
            }
        });
        futures::stream::iter(posts)
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
    });

    tokio::time::sleep(Duration::from_secs(AROUND_SECS)).await;
    tokio::task::block_in_place(|| system.nats.server().kill());
    let down_at = Instant::now();
    eprintln!("NATS killed at {:?}", started.elapsed());
    tokio::time::sleep(outage).await;
    tokio::task::block_in_place(|| system.nats.server().restart()).expect("restarting NATS");
    let up_at = Instant::now();
    eprintln!("NATS back at {:?}", started.elapsed());

    let results = signups.await.expect("the signups");
    let failed: Vec<&String> = results
        .iter()
        .filter_map(|(_, r, _)| r.as_ref().err())
        .collect();
    assert!(
        failed.is_empty(),
        "{} signups were refused, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let during = results
        .iter()
        .filter(|(_, _, at)| (down_at..up_at).contains(at))
        .count();
    assert!(
        during as u64 >= RATE * outage.as_secs() * 8 / 10,
        "only {during} signups were answered while NATS was down"
    );
    let leads: Vec<String> = results.into_iter().map(|(_, r, _)| r.unwrap()).collect();
    assert_eq!(leads.iter().collect::<HashSet<_>>().len(), total);
    eprintln!(
        "{total} signups accepted, {during} of them while NATS was down; {:?}",
        started.elapsed()
    );

    // Every lead offered once the events flow again.
    let nats_url = system.nats.url();
    eventually(Duration::from_secs(90), "every lead to be offered", || {
        let (nats_url, leads) = (nats_url.clone(), leads.clone());
        async move {
            let offered: HashSet<String> =
                testing::read_stream(&nats_url, &WHEEL_STREAM, subjects::OFFER_OPENED)
                    .await
                    .into_iter()
                    .map(|m| {
                        OfferOpened::decode(m.envelope.payload.as_slice())
                            .unwrap()
                            .lead_id
                    })
                    .collect();
            leads.iter().all(|l| offered.contains(l)).then_some(())
        }
    })
    .await;
    eprintln!("every lead offered after {:?}", started.elapsed());

    // Once: one signup event per lead (and no more messages than leads:
    // a relay's resend was dropped by the stream's duplicate window), one
    // offer per lead in the events and in the wheel.
    let created = testing::read_stream(&nats_url, &INTAKE_STREAM, subjects::LEAD_CREATED).await;
    let mut created_per_lead: HashMap<String, usize> = HashMap::new();
    for message in &created {
        *created_per_lead
            .entry(message.envelope.key.clone())
            .or_default() += 1;
    }
    let opened = testing::read_stream(&nats_url, &WHEEL_STREAM, subjects::OFFER_OPENED).await;
    let mut opened_per_lead: HashMap<String, HashSet<String>> = HashMap::new();
    for message in &opened {
        let event = OfferOpened::decode(message.envelope.payload.as_slice()).unwrap();
        opened_per_lead
            .entry(event.lead_id)
            .or_default()
            .insert(event.offer_id);
    }
    for lead_id in &leads {
        assert_eq!(
            created_per_lead.get(lead_id),
            Some(&1),
            "{lead_id}: intake.lead.created"
        );
        assert_eq!(
            opened_per_lead.get(lead_id).map(HashSet::len),
            Some(1),
            "{lead_id}: wheel.offer.opened"
        );
    }
    assert_eq!(created.len(), total, "intake.lead.created messages");
    assert_eq!(opened.len(), total, "wheel.offer.opened messages");
    let routings = futures::stream::iter(leads.iter().cloned().map(|lead_id| {
        let mut admin = admin.clone();
        async move {
            let routing = admin
                .get_lead_routing(GetLeadRoutingRequest {
                    lead_id: lead_id.clone(),
                })
                .await
                .unwrap_or_else(|err| panic!("routing of {lead_id}: {err}"))
                .into_inner();
            (lead_id, routing)
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    for (lead_id, routing) in &routings {
        assert_eq!(routing.state, LeadState::Offered as i32, "{lead_id}");
        assert_eq!(
            routing.offers.len(),
            1,
            "{lead_id}: offers {:?}",
            routing.offers
        );
        assert_eq!(
            routing.offers[0].state,
            OfferState::Open as i32,
            "{lead_id}"
        );
    }

    // Downstream counts each lead once too.
    let reporting =
        ReportingServiceClient::new(system.authed("reporting", "admin", Role::Admin).await);
    eventually(
        Duration::from_secs(60),
        "reporting to count every lead created and offered once",
        || {
            let mut reporting = reporting.clone();
            async move {
                let total_counts = reporting
                    .get_funnel(GetFunnelRequest::default())
                    .await
                    .ok()?
                    .into_inner()
                    .total?;
                (total_counts.created == total as i64 && total_counts.offered == total as i64)
                    .then_some(())
            }
        },
    )
    .await;
    let funnel = reporting
        .clone()
        .get_funnel(GetFunnelRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total
        .unwrap();
    assert_eq!(
        (funnel.created, funnel.offered),
        (total as i64, total as i64)
    );

    for service in leadwheel_e2e::SERVICES {
        if let Err(err) = system.still_running(service) {
            panic!("{err:#}; its log:\n{}", system.log(service));
        }
    }
    eprintln!(
        "{total} leads through a {outage:?} NATS outage: all accepted, all offered once; {:?} in all",
        started.elapsed()
    );
}

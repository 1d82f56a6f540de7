//! Scale-out under faults: a 3-node NATS JetStream cluster with the
//! streams at R3 (`LEADWHEEL_STREAM_REPLICAS=3`), three wheel replicas and
//! two instances of intake, opportunity, alerting and reporting, each
//! service on its own Postgres database. 2,000 signups go in through both
//! intakes' HTTP while simulated
//! reps claim, pass and ignore their offers through the live wheel
//! replicas; in the middle one NATS node and one wheel replica are killed
//! with SIGKILL. Afterwards: every lead ended assigned or pooled (or
//! escalated from the pool), none twice, every wheel invariant held, every
//! lead's events are in the streams once, and reporting's funnel and
//! fairness add up to what the wheel's routing and ledger say.
//!
//! Needs `TEST_POSTGRES_URL` (fails without it, unless
//! `LEADWHEEL_SKIP_POSTGRES=1`). `E2E_SCALE_LEADS` changes the number of
//! leads (default 2000), `E2E_SCALE_RATE` the signups per second (default 40).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, LeadEnd};
use futures::StreamExt;
use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{ALL_STREAMS, INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    FunnelCounts, GetFairnessRequest, GetFunnelRequest, Period, PeriodKind,
};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{LeadState, OfferState};

const WHEELS: usize = 3;
/// Instances of each of the other services.
const OTHERS: usize = 2;
/// Instances of reporting (its two replicas share one Postgres database
/// and its durable consumers; their batches take turns, see
/// `leadwheel_reporting::consumer::Handler::begin_batch`).
const REPORTING: usize = OTHERS;

/// How many instances of `service` run.
fn instances(service: &str) -> usize {
    match service {
        "wheel" => WHEELS,
        _ => OTHERS,
    }
}
const REPS: usize = 8;
const WINDOW_MS: i64 = 3_000;
/// The NATS node and the wheel replica killed in the middle.
const KILLED_NODE: usize = 1;
const KILLED_WHEEL: usize = 2;

fn wheel_name(i: usize) -> String {
    format!("wheel-{i}")
}

async fn wheel_clients(
    system: &System,
    replicas: &[usize],
    subject: &str,
    role: Role,
) -> Vec<Client> {
    let mut out = Vec::new();
    for i in replicas {
        out.push(WheelServiceClient::new(
            system.authed(&wheel_name(*i), subject, role).await,
        ));
    }
    out
}

/// Posts one signup to `url`; returns the new lead's id, or why not.
async fn signup(http: &reqwest::Client, url: &str, i: usize) -> Result<String, String> {
    let response = http
        .post(url)
        .json(&serde_json::json!({
            "email": format!("buyer{i:05}@scale{}.example", i % 97),
            "name": format!("Buyer {i}"),
            "company": format!("Scale {}", i % 97),
        }))
        .send()
        .await
        .map_err(|err| format!("signup {i}: {err}"))?;
    let status = response.status();
    if status != reqwest::StatusCode::CREATED {
        let body = response.text().await.unwrap_or_default();
        return Err(format!("signup {i}: {status}: {body}"));
    }
    let body: serde_json::Value = response.json().await.map_err(|err| err.to_string())?;
    body["lead_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("signup {i}: no lead_id in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_a_node_and_a_wheel_killed_loses_nothing() {
    let leads_wanted: usize = std::env::var("E2E_SCALE_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let rate: u64 = std::env::var("E2E_SCALE_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    // One database per service, shared by that service's instances.
    let mut databases = HashMap::new();
    for service in leadwheel_e2e::SERVICES {
        let Some(db) = TestDb::postgres().await else {
            return; // skipped on purpose, said so by TestDb
        };
        databases.insert(service, db);
    }
    let started = Instant::now();
    let mut system = System::on_cluster().await.expect("a 3-node NATS cluster");
    let nats_url = system.nats.url();

    for service in leadwheel_e2e::SERVICES {
        let db_var = format!("LEADWHEEL_{}_DATABASE_URL", service.to_ascii_uppercase());
        for i in 0..instances(service) {
            system
                .start_instance(
                    &format!("{service}-{i}"),
                    service,
                    &[
                        (db_var.as_str(), databases[service].url.as_str()),
                        ("LEADWHEEL_STREAM_REPLICAS", "3"),
                        // Every signup comes from this one address.
                        ("LEADWHEEL_INTAKE_RATE_PER_ADDRESS", "0"),
                    ],
                )
                .await
                .unwrap_or_else(|err| panic!("starting {service}-{i}: {err:#}"));
        }
    }
    // Every stream is at three replicas, set by its owner.
    {
        let client = testing::connect(&nats_url).await.expect("NATS");
        let js = async_nats::jetstream::new(client);
        for spec in ALL_STREAMS {
            let mut stream = js.get_stream(spec.name).await.expect("the stream");
            let info = stream.info().await.expect("stream info");
            assert_eq!(info.config.num_replicas, 3, "{}", spec.name);
        }
    }
    let processes: usize = leadwheel_e2e::SERVICES.iter().map(|s| instances(s)).sum();
    eprintln!(
        "cluster and {processes} processes up after {:?}",
        started.elapsed()
    );

    let reps: Vec<String> = (0..REPS).map(|i| format!("rep{i}")).collect();
    let all_wheels: Vec<usize> = (0..WHEELS).collect();
    let admins = wheel_clients(&system, &all_wheels, "admin", Role::Admin).await;
    admins[0]
        .clone()
        .upsert_team(common::team(&reps, WINDOW_MS))
        .await
        .expect("seeding the team");

    // Reps act through any replica, the one killed too: a claim sent to
    // it once it is gone fails (and the offer runs out), a watch on it
    // moves to another replica.
    let live_wheels: Vec<usize> = all_wheels
        .iter()
        .copied()
        .filter(|i| *i != KILLED_WHEEL)
        .collect();
    let claims = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut rep_tasks = Vec::new();
    for (i, rep) in reps.iter().enumerate() {
        let replicas = wheel_clients(&system, &all_wheels, rep, Role::Rep).await;
        rep_tasks.push(tokio::spawn(common::rep_loop(
            rep.clone(),
            replicas,
            WINDOW_MS,
            0x5ca1e + i as u64,
            claims.clone(),
            common::Stop(stop_rx.clone()),
        )));
    }

    // Signups at `rate` a second, alternating between the two intakes.
    let urls: Vec<String> = (0..OTHERS)
        .map(|i| {
            format!(
                "http://{}/v1/signups",
                system.addr(&format!("intake-{i}"), "http")
            )
        })
        .collect();
    let signups = {
        let urls = urls.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let gap = Duration::from_micros(1_000_000 / rate.max(1));
            let start = tokio::time::Instant::now();
            let posts = (0..leads_wanted).map(|i| {
                let (http, url) = (http.clone(), urls[i % urls.len()].clone());
                async move {
                    tokio::time::sleep_until(start + gap * i as u32).await;
                    signup(&http, &url, i).await
                }
            });
            futures::stream::iter(posts)
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
        })
    };

    // In the middle: kill -9 one NATS node and one wheel replica.
    let middle = Duration::from_millis(leads_wanted as u64 * 1_000 / rate.max(1) / 2);
    tokio::time::sleep(middle).await;
    system.nats.cluster().kill(KILLED_NODE);
    system.kill(&wheel_name(KILLED_WHEEL));
    eprintln!(
        "killed NATS node n{KILLED_NODE} and {} at {:?}",
        wheel_name(KILLED_WHEEL),
        started.elapsed()
    );

    let results = signups.await.expect("the signups");
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} signups were refused, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let leads: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    let unique: HashSet<&String> = leads.iter().collect();
    assert_eq!(unique.len(), leads_wanted, "every signup made its own lead");
    eprintln!(
        "{} signups accepted by {:?}",
        leads.len(),
        started.elapsed()
    );

    common::wait_settled(&nats_url, &leads, Duration::from_secs(300)).await;
    let _ = stop_tx.send(true);
    for task in rep_tasks {
        let _ = task.await;
    }
    eprintln!("every lead settled after {:?}", started.elapsed());

    // The wheel's invariants, from the surviving replicas.
    let survivors = wheel_clients(&system, &live_wheels, "admin", Role::Admin).await;
    let ends = common::read_ends(&survivors, &leads).await;
    let claims = claims.lock().unwrap().clone();
    let summary = common::check_invariants(&nats_url, &ends, &claims).await;
    common::check_first_looks(&summary, &reps, leads.len());
    assert!(summary.assigned > 0 && summary.pooled + summary.escalated > 0);

    // No event lost, none twice: each lead's signup and, when assigned,
    // its opening in work at opportunity, once each.
    let created = once_per_key(&nats_url, &INTAKE_STREAM, subjects::LEAD_CREATED).await;
    let opened = once_per_key(&nats_url, &OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
    let pooled = once_per_key(&nats_url, &WHEEL_STREAM, subjects::LEAD_POOLED).await;
    for lead_id in &leads {
        assert_eq!(
            created.get(lead_id),
            Some(&1),
            "{lead_id}: intake.lead.created"
        );
        let state = ends[lead_id].routing.state;
        let expect_opened = usize::from(state == LeadState::Assigned as i32);
        assert_eq!(
            opened.get(lead_id).copied().unwrap_or(0),
            expect_opened,
            "{lead_id}: opps.lead.opened"
        );
    }
    assert_eq!(
        created.len(),
        leads.len(),
        "no lead created that was not signed up"
    );

    // Reports add up: once reporting has taken every event, its funnel
    // and fairness equal the wheel's routing and ledger.
    // (Reporting's durables, as services/reporting/src/lib.rs names them.)
    for (stream, durable) in [
        (&INTAKE_STREAM, "reporting-intake"),
        (&WHEEL_STREAM, "reporting-wheel"),
        (&OPPS_STREAM, "reporting-opps"),
    ] {
        if !consumer_done(&nats_url, stream, durable, Duration::from_secs(120)).await {
            let warnings: Vec<String> = (0..REPORTING)
                .flat_map(|i| {
                    system
                        .log(&format!("reporting-{i}"))
                        .lines()
                        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                        .map(|l| format!("reporting-{i}: {l}"))
                        .collect::<Vec<_>>()
                })
                .collect();
            panic!(
                "{durable} did not take every event; reporting's warnings ({}), the last 30:\n{}",
                warnings.len(),
                warnings[warnings.len().saturating_sub(30)..].join("\n")
            );
        }
    }
    eprintln!("reporting took every event after {:?}", started.elapsed());
    let expected = expected_funnel(&ends, leads.len(), &pooled);
    for i in 0..REPORTING {
        let name = format!("reporting-{i}");
        let mut reporting =
            ReportingServiceClient::new(system.authed(&name, "admin", Role::Admin).await);
        // Reporting catches up by itself; compare once it stops moving or
        // matches, and show the difference when it does not.
        let deadline = Instant::now() + Duration::from_secs(60);
        let total = loop {
            let total = reporting
                .get_funnel(GetFunnelRequest::default())
                .await
                .ok()
                .and_then(|r| r.into_inner().total);
            if total.as_ref() == Some(&expected) || Instant::now() > deadline {
                break total;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(
            total.as_ref(),
            Some(&expected),
            "{name}'s funnel (left) vs the wheel's routing and ledger (right)"
        );
        let fairness = reporting
            .get_fairness(GetFairnessRequest {
                team_id: "demo".into(),
                period: Some(Period {
                    kind: PeriodKind::Week as i32,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("fairness")
            .into_inner();
        let per_rep = wheel_per_rep(&ends);
        for rep in &fairness.reps {
            let wheel = per_rep.get(&rep.rep_id).cloned().unwrap_or_default();
            let passes: i64 = rep.passes.iter().map(|p| p.count).sum();
            assert_eq!(
                (
                    rep.offers,
                    rep.first_looks,
                    rep.claims,
                    passes,
                    rep.expiries,
                    rep.pool_claims
                ),
                (
                    wheel.offers,
                    wheel.first_looks,
                    wheel.claims,
                    wheel.passes,
                    wheel.expiries,
                    wheel.pool_claims
                ),
                "{name}: fairness of {} (offers, first looks, claims, passes, expiries, pool claims)",
                rep.rep_id
            );
        }
        let reported: HashSet<&str> = fairness.reps.iter().map(|r| r.rep_id.as_str()).collect();
        for rep in per_rep.keys() {
            assert!(
                reported.contains(rep.as_str()),
                "{name}: no fairness row for {rep}"
            );
        }
        eprintln!("{name}: funnel {total:?}");
        // The replicas took turns: no batch was lost to a deadlock.
        let log = system.log(&name);
        let deadlocked: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("deadlock"))
            .take(3)
            .collect();
        assert!(deadlocked.is_empty(), "{name} deadlocked: {deadlocked:#?}");
    }

    // Everything still runs but what was killed.
    for service in leadwheel_e2e::SERVICES {
        for i in 0..instances(service) {
            let name = format!("{service}-{i}");
            if name == wheel_name(KILLED_WHEEL) {
                continue;
            }
            if let Err(err) = system.still_running(&name) {
                panic!("{err:#}; its log:\n{}", system.log(&name));
            }
        }
    }
    let won = claims.iter().filter(|c| c.ok).count();
    eprintln!(
        "{} leads over 3 NATS nodes (one killed), {WHEELS} wheels (one killed): {} assigned, {} pooled, {} escalated; {} offers; {} claims sent, {won} won; {:?} in all",
        leads.len(),
        summary.assigned,
        summary.pooled,
        summary.escalated,
        summary.offers,
        claims.len(),
        started.elapsed()
    );
}

/// Waits until `durable` has nothing pending and nothing waiting for an ack
/// (false after `timeout`), saying how far it is every 10 s.
async fn consumer_done(
    nats_url: &str,
    stream: &leadwheel_plumbing::bus::StreamSpec,
    durable: &str,
    timeout: Duration,
) -> bool {
    let client = testing::connect(nats_url).await.expect("NATS");
    let js = async_nats::jetstream::new(client);
    let deadline = Instant::now() + timeout;
    let mut said = Instant::now();
    loop {
        let info = match js.get_stream(stream.name).await {
            Ok(handle) => handle.consumer_info(durable).await.ok(),
            Err(_) => None,
        };
        if let Some(info) = &info {
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return true;
            }
            if said.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "{durable}: {} pending, {} unacked",
                    info.num_pending, info.num_ack_pending
                );
                said = Instant::now();
            }
        }
        if Instant::now() > deadline {
            eprintln!(
                "{durable} did not take every event within {timeout:?}: {:?} (pending, unacked)",
                info.map(|i| (i.num_pending, i.num_ack_pending))
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How many distinct events (by event id) each key has on `subject`.
async fn once_per_key(
    nats_url: &str,
    stream: &leadwheel_plumbing::bus::StreamSpec,
    subject: &str,
) -> HashMap<String, usize> {
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    for message in testing::read_stream(nats_url, stream, subject).await {
        ids.entry(message.envelope.key.clone())
            .or_default()
            .insert(message.envelope.id.clone());
    }
    ids.into_iter().map(|(key, ids)| (key, ids.len())).collect()
}

fn pool_claimed(end: &LeadEnd) -> bool {
    end.ledger
        .entries
        .iter()
        .any(|e| e.kind == "assigned" && e.detail.contains("via=pool"))
}

/// The funnel the wheel's routing and ledger imply: every lead created,
/// each offer once by its outcome, pool claims as claims, each pooling.
fn expected_funnel(
    ends: &HashMap<String, LeadEnd>,
    leads: usize,
    pooled: &HashMap<String, usize>,
) -> FunnelCounts {
    let mut counts = FunnelCounts {
        created: leads as i64,
        ..Default::default()
    };
    for end in ends.values() {
        for offer in &end.routing.offers {
            counts.offered += 1;
            match OfferState::try_from(offer.state) {
                Ok(OfferState::Claimed) => counts.claimed += 1,
                Ok(OfferState::Passed) => counts.passed += 1,
                Ok(OfferState::Expired) => counts.expired += 1,
                _ => {}
            }
        }
        if pool_claimed(end) {
            counts.claimed += 1;
        }
        counts.pooled += end
            .ledger
            .entries
            .iter()
            .filter(|e| e.kind == "pooled")
            .count() as i64;
        if end.routing.state == LeadState::Assigned as i32 {
            counts.in_work += 1;
        }
    }
    // The ledger's poolings are the events' (one per lead here).
    assert_eq!(
        counts.pooled,
        pooled.values().sum::<usize>() as i64,
        "ledger poolings vs wheel.lead.pooled events"
    );
    counts
}

/// Per rep, what the wheel says: offers, first looks, offer claims, passes,
/// expiries, pool claims.
#[derive(Clone, Debug, Default)]
struct RepCounts {
    offers: i64,
    first_looks: i64,
    claims: i64,
    passes: i64,
    expiries: i64,
    pool_claims: i64,
}

fn wheel_per_rep(ends: &HashMap<String, LeadEnd>) -> HashMap<String, RepCounts> {
    let mut out: HashMap<String, RepCounts> = HashMap::new();
    for end in ends.values() {
        let mut offers = end.routing.offers.clone();
        offers.sort_by_key(|o| o.step);
        for (n, offer) in offers.iter().enumerate() {
            let rep = out.entry(offer.rep_id.clone()).or_default();
            rep.offers += 1;
            if n == 0 {
                rep.first_looks += 1;
            }
            match OfferState::try_from(offer.state) {
                Ok(OfferState::Claimed) => rep.claims += 1,
                Ok(OfferState::Passed) => rep.passes += 1,
                Ok(OfferState::Expired) => rep.expiries += 1,
                _ => {}
            }
        }
        if pool_claimed(end) {
            out.entry(end.routing.owner_rep_id.clone())
                .or_default()
                .pool_claims += 1;
        }
    }
    out
}

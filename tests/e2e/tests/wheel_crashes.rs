//! The wheel killed with SIGKILL five times at random moments while leads
//! flow in and reps claim, and restarted each time. Afterwards every lead
//! ended assigned, pooled or escalated, none has two owners, and the
//! deadlines that fell due while the wheel was down fired on restart in
//! deadline order. On SQLite, and on Postgres (`TEST_POSTGRES_URL`).

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::{Client, Rng};
use leadwheel_e2e::System;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::bus::{WHEEL_STREAM, subjects};
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::testing::{self, on_postgres};
use leadwheel_proto::events::v1::{Envelope, OfferClosed, OfferOpened, OfferOutcome};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const LEADS: usize = 300;
const REPS: usize = 5;
const WINDOW_MS: i64 = 1_000;
const KILLS: usize = 5;

/// The wheel's current gRPC address (it changes on every restart).
type Address = Arc<RwLock<SocketAddr>>;

async fn client(addr: &Address, subject: &str, role: Role) -> Option<Client> {
    let addr = *addr.read().unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    let token = BearerToken::new(&testing::test_token(subject, role)).ok()?;
    Some(WheelServiceClient::new(InterceptedService::new(
        channel, token,
    )))
}

/// A rep polling their offers and claiming about half of them at once,
/// ignoring the rest; errors (the wheel is down) are shrugged off.
async fn rep_loop(rep_id: String, addr: Address, seed: u64, stop: Arc<Mutex<bool>>) {
    let mut rng = Rng::new(seed);
    let mut decided = HashSet::new();
    while !*stop.lock().unwrap() {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let Some(mut wheel) = client(&addr, &rep_id, Role::Rep).await else {
            continue;
        };
        let Ok(offers) = wheel
            .list_offers(ListOffersRequest {
                rep_id: rep_id.clone(),
                ..Default::default()
            })
            .await
        else {
            continue;
        };
        for offer in offers.into_inner().offers {
            if !decided.insert(offer.offer_id.clone()) || rng.below(2) == 0 {
                continue;
            }
            let _ = wheel
                .claim(ClaimRequest {
                    lead_id: offer.lead_id,
                    rep_id: rep_id.clone(),
                })
                .await;
        }
    }
}

async fn start_wheel(system: &mut System, database_url: Option<&str>) -> SocketAddr {
    let env: Vec<(&str, &str)> = database_url
        .map(|url| vec![("LEADWHEEL_WHEEL_DATABASE_URL", url)])
        .unwrap_or_default();
    system
        .start_instance("wheel", "wheel", &env)
        .await
        .expect("starting the wheel");
    system.addr("wheel", "grpc")
}

async fn killed_under_load(database_url: Option<&str>, seed: u64) {
    let started = Instant::now();
    let mut system = System::nats_only().await.expect("nats");
    let addr: Address = Arc::new(RwLock::new(start_wheel(&mut system, database_url).await));
    let reps: Vec<String> = (0..REPS).map(|i| format!("rep{i}")).collect();
    client(&addr, "admin", Role::Admin)
        .await
        .expect("the wheel")
        .upsert_team(common::team(&reps, WINDOW_MS))
        .await
        .expect("seeding the team");

    let stop = Arc::new(Mutex::new(false));
    let mut rep_tasks = Vec::new();
    for (i, rep) in reps.iter().enumerate() {
        rep_tasks.push(tokio::spawn(rep_loop(
            rep.clone(),
            addr.clone(),
            seed + i as u64,
            stop.clone(),
        )));
    }
    let leads: Vec<String> = (0..LEADS).map(|i| format!("lead-{i:04}")).collect();
    let publisher = {
        let (url, leads) = (system.nats.url(), leads.clone());
        tokio::spawn(async move { common::publish_leads(&url, &leads, 15).await })
    };

    // Kill and restart at random moments while the leads flow in.
    let mut rng = Rng::new(seed);
    let mut restarts = Vec::new(); // (killed_at_ms, restarted_at_ms)
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(1_500 + rng.below(2_500))).await;
        system.kill("wheel");
        let killed_at = now_ms();
        // Down long enough for open offers to fall due.
        tokio::time::sleep(Duration::from_millis(800 + rng.below(1_200))).await;
        let restarted_at = now_ms();
        *addr.write().unwrap() = start_wheel(&mut system, database_url).await;
        restarts.push((killed_at, restarted_at));
    }
    publisher.await.expect("publishing the leads");
    common::wait_settled(&system.nats.url(), &leads, Duration::from_secs(90)).await;
    *stop.lock().unwrap() = true;
    for task in rep_tasks {
        let _ = task.await;
    }

    let admin = client(&addr, "admin", Role::Admin)
        .await
        .expect("the wheel");
    let ends = common::read_ends(&[admin], &leads).await;
    let summary = common::check_invariants(&system.nats.url(), &ends, &[]).await;

    // Overdue deadlines fire on restart in deadline order: the expiries of
    // offers whose deadline passed while the wheel was down, published
    // after the restart, come in deadline order.
    let messages = testing::read_stream(&system.nats.url(), &WHEEL_STREAM, "").await;
    let mut deadlines = HashMap::new();
    let mut expiries: Vec<(String, i64)> = Vec::new(); // (offer, closed_at) in stream order
    let mut seen = HashSet::new();
    for message in &messages {
        let envelope: &Envelope = &message.envelope;
        if !seen.insert(envelope.id.clone()) {
            continue;
        }
        if message.subject == subjects::OFFER_OPENED {
            let opened: OfferOpened = prost::Message::decode(envelope.payload.as_slice()).unwrap();
            deadlines.insert(opened.offer_id, opened.deadline_ms);
        } else if message.subject == subjects::OFFER_CLOSED {
            let closed: OfferClosed = prost::Message::decode(envelope.payload.as_slice()).unwrap();
            if closed.outcome == OfferOutcome::Expired as i32 {
                expiries.push((closed.offer_id, closed.closed_at_ms));
            }
        }
    }
    let mut overdue_checked = 0;
    for (i, (killed_at, restarted_at)) in restarts.iter().enumerate() {
        let next_kill = restarts.get(i + 1).map_or(i64::MAX, |r| r.0);
        let overdue: Vec<i64> = expiries
            .iter()
            .filter(|(_, closed_at)| (*restarted_at..next_kill).contains(closed_at))
            .map(|(offer, _)| deadlines[offer])
            .filter(|deadline| *deadline < *restarted_at)
            .collect();
        assert!(
            overdue.windows(2).all(|w| w[0] <= w[1]),
            "restart {i} (down {}..{}): overdue expiries out of deadline order: {overdue:?}",
            killed_at,
            restarted_at
        );
        overdue_checked += overdue.len();
    }
    assert!(
        overdue_checked >= 2,
        "too few overdue deadlines to check their order ({overdue_checked})"
    );
    eprintln!(
        "{LEADS} leads through {KILLS} SIGKILLs: {} assigned, {} pooled, {} escalated; {} offers; {overdue_checked} overdue expiries fired in deadline order; {:?}",
        summary.assigned,
        summary.pooled,
        summary.escalated,
        summary.offers,
        started.elapsed()
    );
    system
        .terminate("wheel")
        .expect("the wheel stops cleanly on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wheel_killed_under_load_loses_nothing_sqlite() {
    killed_under_load(None, 0xc4a54).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wheel_killed_under_load_loses_nothing_postgres() {
    on_postgres(|db| async move { killed_under_load(Some(&db.url), 0x9057).await }).await;
}

//! Three `leadwheel-wheel` processes on one Postgres database, a few
//! thousand leads, and simulated reps claiming, passing and ignoring their
//! offers at random through random replicas. Afterwards the ledger, the
//! routing and the events must show every wheel invariant held.
//!
//! Needs `TEST_POSTGRES_URL` (fails without it, unless
//! `LEADWHEEL_SKIP_POSTGRES=1`). The number of leads can be changed with
//! `E2E_REPLICA_LEADS` (default 2000).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Client;
use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::{TestDb, on_postgres};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;

const REPLICAS: usize = 3;
const REPS: usize = 8;
const WINDOW_MS: i64 = 1_500;

async fn clients(system: &System, subject: &str, role: Role) -> Vec<Client> {
    let mut out = Vec::new();
    for i in 0..REPLICAS {
        out.push(WheelServiceClient::new(
            system.authed(&format!("wheel-{i}"), subject, role).await,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wheels_on_one_postgres_keep_every_invariant() {
    on_postgres(three_wheels_on).await;
}

async fn three_wheels_on(db: TestDb) {
    let leads_wanted: usize = std::env::var("E2E_REPLICA_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let started = Instant::now();
    let mut system = System::nats_only().await.expect("nats");
    for i in 0..REPLICAS {
        system
            .start_instance(
                &format!("wheel-{i}"),
                "wheel",
                &[("LEADWHEEL_WHEEL_DATABASE_URL", db.url.as_str())],
            )
            .await
            .expect("starting a wheel replica");
    }
    let reps: Vec<String> = (0..REPS).map(|i| format!("rep{i}")).collect();
    let admins = clients(&system, "admin", Role::Admin).await;
    admins[1]
        .clone()
        .upsert_team(common::team(&reps, WINDOW_MS))
        .await
        .expect("seeding the team");

    let claims = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut rep_tasks = Vec::new();
    for (i, rep) in reps.iter().enumerate() {
        let replicas = clients(&system, rep, Role::Rep).await;
        rep_tasks.push(tokio::spawn(common::rep_loop(
            rep.clone(),
            replicas,
            WINDOW_MS,
            0x5eed + i as u64,
            claims.clone(),
            common::Stop(stop_rx.clone()),
        )));
    }

    let leads: Vec<String> = (0..leads_wanted).map(|i| format!("lead-{i:05}")).collect();
    common::publish_leads(&system.nats.url(), &leads, 150).await;
    eprintln!("published {} leads in {:?}", leads.len(), started.elapsed());
    common::wait_settled(&system.nats.url(), &leads, Duration::from_secs(90)).await;
    let _ = stop_tx.send(true);
    for task in rep_tasks {
        let _ = task.await;
    }
    eprintln!("every lead settled after {:?}", started.elapsed());

    let ends = common::read_ends(&admins, &leads).await;
    let claims = claims.lock().unwrap().clone();
    let summary = common::check_invariants(&system.nats.url(), &ends, &claims).await;
    common::check_first_looks(&summary, &reps, leads.len());
    let won = claims.iter().filter(|c| c.ok).count();
    eprintln!(
        "{} leads: {} assigned, {} pooled, {} escalated; {} offers; {} claims sent, {won} won; first looks {:?}; {:?} in all",
        leads.len(),
        summary.assigned,
        summary.pooled,
        summary.escalated,
        summary.offers,
        claims.len(),
        summary.first_looks,
        started.elapsed()
    );
    assert!(summary.assigned > 0 && summary.offers > leads.len());
    // No replica crashed or stopped along the way, and each stops cleanly.
    for i in 0..REPLICAS {
        let name = format!("wheel-{i}");
        if let Err(err) = system.still_running(&name) {
            panic!("{err:#}; its log:\n{}", system.log(&name));
        }
    }
    for i in 0..REPLICAS {
        let name = format!("wheel-{i}");
        if let Err(err) = system.terminate(&name) {
            panic!(
                "{name} did not stop cleanly on SIGTERM: {err:#}; its log:\n{}",
                system.log(&name)
            );
        }
    }
}

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

use common::{ClaimAttempt, Client, Rng};
use futures::StreamExt;
use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::testing::{TestDb, on_postgres};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;

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

/// One simulated rep: watches their offers on a random replica and, for
/// each, claims (45%), passes (25%) or ignores it (30%), after a random
/// think time of up to 1.1 windows, through a random replica.
async fn rep_loop(
    rep_id: String,
    replicas: Vec<Client>,
    seed: u64,
    claims: Arc<Mutex<Vec<ClaimAttempt>>>,
    stop: stop_signal::Stop,
) {
    let mut rng = Rng::new(seed);
    let mut watcher = replicas[rng.below(REPLICAS as u64) as usize].clone();
    let mut updates = watcher
        .watch_offers(WatchOffersRequest {
            rep_id: rep_id.clone(),
        })
        .await
        .expect("watching offers")
        .into_inner();
    let mut seen = std::collections::HashSet::new();
    loop {
        let update = tokio::select! {
            update = updates.next() => update,
            _ = stop.wait() => return,
        };
        let Some(Ok(update)) = update else { return };
        let Some(offer) = update.offer else { continue };
        if offer.state != OfferState::Open as i32 || !seen.insert(offer.offer_id.clone()) {
            continue;
        }
        let roll = rng.below(100);
        if roll >= 70 {
            continue;
        }
        let think = Duration::from_millis(rng.below((WINDOW_MS as u64) * 11 / 10));
        let mut client = replicas[rng.below(REPLICAS as u64) as usize].clone();
        let (rep_id, claims) = (rep_id.clone(), claims.clone());
        tokio::spawn(async move {
            tokio::time::sleep(think).await;
            if roll < 45 {
                let sent_at_ms = now_ms();
                let result = client
                    .claim(ClaimRequest {
                        lead_id: offer.lead_id.clone(),
                        rep_id: rep_id.clone(),
                    })
                    .await;
                let ok = result.is_ok();
                let via_pool = result.is_ok_and(|r| r.into_inner().via == ClaimedVia::Pool as i32);
                claims.lock().unwrap().push(ClaimAttempt {
                    lead_id: offer.lead_id,
                    rep_id,
                    deadline_ms: offer.deadline_ms,
                    sent_at_ms,
                    ok,
                    via_pool,
                });
            } else {
                let _ = client
                    .pass(PassRequest {
                        lead_id: offer.lead_id,
                        rep_id,
                        reason: "not for me".into(),
                    })
                    .await;
            }
        });
    }
}

/// A one-shot stop signal for the rep tasks.
mod stop_signal {
    use tokio::sync::watch;

    #[derive(Clone)]
    pub struct Stop(pub watch::Receiver<bool>);

    impl Stop {
        pub async fn wait(&self) {
            let mut rx = self.0.clone();
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
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
        rep_tasks.push(tokio::spawn(rep_loop(
            rep.clone(),
            replicas,
            0x5eed + i as u64,
            claims.clone(),
            stop_signal::Stop(stop_rx.clone()),
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

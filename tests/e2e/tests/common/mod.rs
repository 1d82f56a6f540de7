//! Load for the wheel's end-to-end invariant tests: leads published
//! straight to JetStream (as intake's outbox would), simulated reps, and
//! the check of every wheel invariant from the routing, the ledger and the
//! `LEADWHEEL_WHEEL` stream.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_nats::HeaderMap;
use futures::StreamExt;
use leadwheel_plumbing::bus::{INTAKE_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{self, StreamMessage};
use leadwheel_plumbing::{ids, now_ms};
use leadwheel_proto::events::v1::{
    Envelope, LeadAssigned, LeadCreated, OfferClosed, OfferOpened, OfferOutcome,
};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Client =
    WheelServiceClient<InterceptedService<Channel, leadwheel_plumbing::auth::BearerToken>>;

/// A small deterministic generator (xorshift64*), so runs are repeatable
/// per seed without another dependency.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The team `demo` with `reps`, `window_ms` and no circuit breaker (reps
/// that ignore offers on purpose must keep getting them).
pub fn team(reps: &[String], window_ms: i64) -> UpsertTeamRequest {
    UpsertTeamRequest {
        team: Some(Team {
            team_id: "demo".into(),
            name: "Demo".into(),
            manager_id: "maya".into(),
            window_ms,
            rep_ids: reps.to_vec(),
            policy: Some(TeamPolicy {
                breaker_expiries: -1,
                ..Default::default()
            }),
        }),
        rep_names: vec![],
    }
}

/// Publishes `intake.lead.created` for each of `leads`, `per_second` of
/// them a second, on one connection.
pub async fn publish_leads(nats_url: &str, leads: &[String], per_second: u64) {
    let client = leadwheel_plumbing::testing::connect(nats_url)
        .await
        .expect("connecting to NATS");
    let jetstream = async_nats::jetstream::new(client.clone());
    let bus = leadwheel_plumbing::Bus {
        client,
        jetstream: jetstream.clone(),
    };
    bus.ensure_stream(&INTAKE_STREAM)
        .await
        .expect("creating the intake stream");
    let gap = Duration::from_micros(1_000_000 / per_second.max(1));
    let start = tokio::time::Instant::now();
    for (i, lead_id) in leads.iter().enumerate() {
        tokio::time::sleep_until(start + gap * i as u32).await;
        let created = LeadCreated {
            lead_id: lead_id.clone(),
            email: format!("{lead_id}@load.example"),
            name: format!("Person {lead_id}"),
            company: "Load".into(),
            domain: "load.example".into(),
            created_at_ms: now_ms(),
            ..Default::default()
        };
        let id = ids::new_id();
        let envelope = Envelope {
            id: id.clone(),
            r#type: subjects::LEAD_CREATED.into(),
            source: "test".into(),
            time_ms: now_ms(),
            key: lead_id.clone(),
            payload: created.encode_to_vec(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        // JetStream may be briefly busy; a publish is retried until acked.
        loop {
            let acked = match jetstream
                .publish_with_headers(
                    subjects::LEAD_CREATED,
                    headers.clone(),
                    envelope.encode_to_vec().into(),
                )
                .await
            {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            };
            if acked {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every lead that reached an end (assigned, pooled, escalated) per the
/// wheel's events so far.
pub async fn settled_leads(nats_url: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for subject in [
        subjects::LEAD_ASSIGNED,
        subjects::LEAD_POOLED,
        subjects::LEAD_ESCALATED,
    ] {
        for message in testing::read_stream(nats_url, &WHEEL_STREAM, subject).await {
            out.insert(message.envelope.key.clone());
        }
    }
    out
}

/// Waits until every one of `leads` has reached an end per the events.
pub async fn wait_settled(nats_url: &str, leads: &[String], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let settled = settled_leads(nats_url).await;
        let missing: Vec<&String> = leads.iter().filter(|l| !settled.contains(*l)).collect();
        if missing.is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{} leads never settled within {timeout:?}, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A claim a simulated rep sent: when, and whether it succeeded.
#[derive(Clone, Debug)]
pub struct ClaimAttempt {
    pub lead_id: String,
    pub rep_id: String,
    pub deadline_ms: i64,
    pub sent_at_ms: i64,
    pub ok: bool,
    /// The claim won the lead from the pool, not from the offer.
    pub via_pool: bool,
}

/// What the wheel says of one lead at the end.
pub struct LeadEnd {
    pub routing: GetLeadRoutingResponse,
    pub ledger: ExplainLeadResponse,
}

/// Reads every lead's routing and ledger through `clients` (round robin).
pub async fn read_ends(clients: &[Client], leads: &[String]) -> HashMap<String, LeadEnd> {
    let reads = leads.iter().enumerate().map(|(i, lead_id)| {
        let mut client = clients[i % clients.len()].clone();
        let lead_id = lead_id.clone();
        async move {
            let routing = client
                .get_lead_routing(GetLeadRoutingRequest {
                    lead_id: lead_id.clone(),
                })
                .await
                .unwrap_or_else(|err| panic!("routing of {lead_id}: {err}"))
                .into_inner();
            let ledger = client
                .explain_lead(ExplainLeadRequest {
                    lead_id: lead_id.clone(),
                })
                .await
                .unwrap_or_else(|err| panic!("ledger of {lead_id}: {err}"))
                .into_inner();
            (lead_id, LeadEnd { routing, ledger })
        }
    });
    futures::stream::iter(reads)
        .buffer_unordered(8)
        .collect()
        .await
}

/// The stream's events, decoded, with their envelopes.
pub fn decode<M: Message + Default>(messages: &[StreamMessage]) -> Vec<(Envelope, M)> {
    messages
        .iter()
        .map(|m| {
            (
                m.envelope.clone(),
                M::decode(m.envelope.payload.as_slice()).expect("an event payload"),
            )
        })
        .collect()
}

/// What the invariant check saw, for the test's summary line.
#[derive(Debug, Default)]
pub struct Summary {
    pub assigned: usize,
    pub pooled: usize,
    pub escalated: usize,
    pub offers: usize,
    pub first_looks: HashMap<String, usize>,
}

/// Checks every wheel invariant over `ends` and the wheel's events:
/// one owner per lead, at most one open offer at a time, no rep offered a
/// lead twice in a lap, every lead ended assigned/pooled/escalated, no
/// claim at or after its deadline, and the events agreeing with the store.
pub async fn check_invariants(
    nats_url: &str,
    ends: &HashMap<String, LeadEnd>,
    claims: &[ClaimAttempt],
) -> Summary {
    let mut summary = Summary::default();
    let opened: Vec<(Envelope, OfferOpened)> =
        decode(&testing::read_stream(nats_url, &WHEEL_STREAM, subjects::OFFER_OPENED).await);
    let closed: Vec<(Envelope, OfferClosed)> =
        decode(&testing::read_stream(nats_url, &WHEEL_STREAM, subjects::OFFER_CLOSED).await);
    let assigned: Vec<(Envelope, LeadAssigned)> =
        decode(&testing::read_stream(nats_url, &WHEEL_STREAM, subjects::LEAD_ASSIGNED).await);

    // Events: one open and one close per offer (event ids deduplicated:
    // a relay may send a row twice after a crash), one assignment per lead.
    let mut opened_ids: HashMap<String, HashSet<String>> = HashMap::new();
    for (envelope, event) in &opened {
        opened_ids
            .entry(event.offer_id.clone())
            .or_default()
            .insert(envelope.id.clone());
    }
    let mut closes: HashMap<String, HashMap<String, i32>> = HashMap::new();
    for (envelope, event) in &closed {
        closes
            .entry(event.offer_id.clone())
            .or_default()
            .insert(envelope.id.clone(), event.outcome);
    }
    let mut assignments: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (envelope, event) in &assigned {
        assignments
            .entry(event.lead_id.clone())
            .or_default()
            .insert(envelope.id.clone(), event.rep_id.clone());
    }

    for (lead_id, end) in ends {
        let routing = &end.routing;
        let state = LeadState::try_from(routing.state).unwrap_or(LeadState::Unspecified);
        match state {
            LeadState::Assigned => summary.assigned += 1,
            LeadState::Pooled => summary.pooled += 1,
            LeadState::Escalated => summary.escalated += 1,
            other => panic!("invariant 4: lead {lead_id} ended {other:?}"),
        }
        summary.offers += routing.offers.len();

        // 1. One owner: at most one claimed offer, one assignment event,
        // and they agree with the owner.
        let claimed: Vec<&Offer> = routing
            .offers
            .iter()
            .filter(|o| o.state == OfferState::Claimed as i32)
            .collect();
        assert!(
            claimed.len() <= 1,
            "invariant 1: lead {lead_id} claimed twice"
        );
        let events = assignments.get(lead_id).cloned().unwrap_or_default();
        assert!(
            events.len() <= 1,
            "invariant 1: lead {lead_id} assigned {} times: {events:?}",
            events.len()
        );
        let via_pool = end
            .ledger
            .entries
            .iter()
            .any(|e| e.kind == "assigned" && e.detail.contains("via=pool"));
        if state == LeadState::Assigned {
            // Claimed from an offer, or from the pool after the lap.
            assert_eq!(
                claimed.len() + usize::from(via_pool),
                1,
                "lead {lead_id}: assigned without one claim; offers {:#?}; ledger {:#?}",
                routing.offers,
                end.ledger.entries
            );
            if let Some(offer) = claimed.first() {
                assert_eq!(offer.rep_id, routing.owner_rep_id);
            }
            let owner = events.values().next().unwrap_or_else(|| {
                panic!("lead {lead_id} is assigned but no wheel.lead.assigned was published")
            });
            assert_eq!(owner, &routing.owner_rep_id, "lead {lead_id}");
        } else {
            assert!(claimed.is_empty() && events.is_empty(), "lead {lead_id}");
        }
        let ledger_assigned = end
            .ledger
            .entries
            .iter()
            .filter(|e| e.kind == "assigned")
            .count();
        assert!(
            ledger_assigned <= 1,
            "invariant 1: lead {lead_id} assigned {ledger_assigned} times in the ledger"
        );

        // 2. At most one open offer at a time, and none left open: each
        // offer opened after the previous one closed.
        let mut offers = routing.offers.clone();
        offers.sort_by_key(|o| o.step);
        for pair in offers.windows(2) {
            assert!(
                pair[1].opened_at_ms >= pair[0].closed_at_ms && pair[0].closed_at_ms > 0,
                "invariant 2: lead {lead_id}: offer {} opened at {} before offer {} closed at {}",
                pair[1].step,
                pair[1].opened_at_ms,
                pair[0].step,
                pair[0].closed_at_ms
            );
        }
        assert!(
            offers.iter().all(|o| o.state != OfferState::Open as i32),
            "invariant 2: lead {lead_id} ended with an open offer"
        );
        let mut open_now = 0i32;
        for entry in &end.ledger.entries {
            match entry.kind.as_str() {
                "offered" => open_now += 1,
                "claimed" | "passed" | "expired" | "withdrawn" if !entry.rep_id.is_empty() => {
                    open_now -= 1
                }
                _ => {}
            }
            assert!(
                (0..=1).contains(&open_now),
                "invariant 2: lead {lead_id}'s ledger has {open_now} open offers at {}",
                entry.at_ms
            );
        }
        let ledger_offers = end
            .ledger
            .entries
            .iter()
            .filter(|e| e.kind == "offered")
            .count();
        assert_eq!(
            ledger_offers,
            offers.len(),
            "lead {lead_id}: ledger vs offers"
        );

        // 3. No rep offered the lead twice in its (only) lap.
        let reps: HashSet<&str> = offers.iter().map(|o| o.rep_id.as_str()).collect();
        assert_eq!(
            reps.len(),
            offers.len(),
            "invariant 3: lead {lead_id} offered twice to a rep: {:?}",
            offers.iter().map(|o| &o.rep_id).collect::<Vec<_>>()
        );

        // 5. No claim at or after the deadline.
        for offer in &claimed {
            assert!(
                offer.closed_at_ms < offer.deadline_ms,
                "invariant 5: lead {lead_id} claimed at {} at or after its deadline {}",
                offer.closed_at_ms,
                offer.deadline_ms
            );
        }

        // The events agree with the store: one open and one close per
        // offer, with the same outcome.
        for offer in &offers {
            assert_eq!(
                opened_ids.get(&offer.offer_id).map(HashSet::len),
                Some(1),
                "lead {lead_id}: wheel.offer.opened for {}",
                offer.offer_id
            );
            let outcomes: Vec<i32> = closes
                .get(&offer.offer_id)
                .map(|m| m.values().copied().collect())
                .unwrap_or_default();
            let expected = match OfferState::try_from(offer.state) {
                Ok(OfferState::Claimed) => OfferOutcome::Claimed,
                Ok(OfferState::Passed) => OfferOutcome::Passed,
                Ok(OfferState::Expired) => OfferOutcome::Expired,
                Ok(OfferState::Withdrawn) => OfferOutcome::Withdrawn,
                other => panic!("lead {lead_id}: offer in state {other:?}"),
            };
            assert_eq!(
                outcomes,
                vec![expected as i32],
                "lead {lead_id}: wheel.offer.closed for {}",
                offer.offer_id
            );
        }
        if let Some(first) = offers.first() {
            *summary.first_looks.entry(first.rep_id.clone()).or_default() += 1;
        }
    }

    // 5, from the reps' side: a claim sent after its offer's deadline
    // never won the offer (it may win the lead from the pool, after the lap).
    for claim in claims {
        if claim.sent_at_ms >= claim.deadline_ms && claim.ok {
            assert!(
                claim.via_pool,
                "invariant 5: {claim:?} was sent after the deadline and won the offer"
            );
        }
    }
    summary
}

/// Invariant 6: first looks spread evenly over the reps.
pub fn check_first_looks(summary: &Summary, reps: &[String], leads: usize) {
    let counts: Vec<usize> = reps
        .iter()
        .map(|r| summary.first_looks.get(r).copied().unwrap_or(0))
        .collect();
    let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    let mean = leads / reps.len();
    assert!(
        max - min <= (mean / 20).max(2),
        "invariant 6: first looks {counts:?} spread {min}..{max} over {leads} leads"
    );
}

/// A one-shot stop signal for the simulated reps.
#[derive(Clone)]
pub struct Stop(pub tokio::sync::watch::Receiver<bool>);

impl Stop {
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// One simulated rep: watches their offers on a random replica and, for
/// each, claims (45%), passes (25%) or ignores it (30%), after a random
/// think time of up to 1.1 windows, through a random replica. When the
/// watched replica goes away (killed), it watches another.
pub async fn rep_loop(
    rep_id: String,
    replicas: Vec<Client>,
    window_ms: i64,
    seed: u64,
    claims: std::sync::Arc<std::sync::Mutex<Vec<ClaimAttempt>>>,
    stop: Stop,
) {
    let mut rng = Rng::new(seed);
    let count = replicas.len() as u64;
    let mut seen = HashSet::new();
    'watch: loop {
        let mut watcher = replicas[rng.below(count) as usize].clone();
        let watched = tokio::select! {
            watched = watcher.watch_offers(WatchOffersRequest { rep_id: rep_id.clone() }) => watched,
            _ = stop.wait() => return,
        };
        let Ok(updates) = watched else {
            // That replica is down: try another shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue 'watch;
        };
        let mut updates = updates.into_inner();
        loop {
            let update = tokio::select! {
                update = updates.next() => update,
                _ = stop.wait() => return,
            };
            let Some(Ok(update)) = update else {
                continue 'watch;
            };
            let Some(offer) = update.offer else { continue };
            if offer.state != OfferState::Open as i32 || !seen.insert(offer.offer_id.clone()) {
                continue;
            }
            let roll = rng.below(100);
            if roll >= 70 {
                continue;
            }
            let think = Duration::from_millis(rng.below((window_ms as u64) * 11 / 10));
            let mut client = replicas[rng.below(count) as usize].clone();
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
                    let via_pool =
                        result.is_ok_and(|r| r.into_inner().via == ClaimedVia::Pool as i32);
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
}

//! A claim racing an expiry: the offered rep claims right at the deadline
//! while the timer fires. Every offer ends claimed XOR expired, never
//! both, and the events agree, on SQLite and Postgres.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{LeadAssigned, OfferClosed, OfferOutcome};
use leadwheel_proto::wheel::v1::*;
use tonic::Code;

use crate::helpers::{Client, TestApp, spawn_app_on};
use crate::support::{self, no_breaker, open_offer, routing_when};

const REPS: [&str; 3] = ["ana", "ben", "cy"];
const WINDOW_MS: i64 = 1_000;
/// Leads raced at once; each gives up to three races (one per rep).
const LEADS: usize = 40;
/// Rounds of `LEADS` leads.
const ROUNDS: usize = 3;

/// What one race produced: the offer, and whether its rep's claim succeeded.
#[derive(Debug)]
struct Race {
    offer_id: String,
    rep: String,
    claim_ok: bool,
    /// The claim came after the lap ended and won the lead from the pool
    /// (any member may claim a pooled lead), not the offer.
    via_pool: bool,
}

/// Walks one lead round its lap: for every offer, its rep claims within a
/// few milliseconds of the deadline (before, at or after it), while the
/// timer expires it. Stops when a claim wins or the lead is pooled.
async fn race_one_lead(
    app: &TestApp,
    clients: &HashMap<String, Client>,
    lead_id: String,
    seed: u64,
) -> Vec<Race> {
    let mut races = Vec::new();
    let mut offset_seed = seed;
    loop {
        let seen = races.len();
        let routing = routing_when(app, &lead_id, "the next offer or the pool", |r| {
            r.offers.len() > seen && open_offer(r).is_some() || r.state == LeadState::Pooled as i32
        })
        .await;
        let Some(offer) = open_offer(&routing).cloned() else {
            return races;
        };
        // Aim between 12 ms before and 4 ms after the deadline: some claims
        // commit first, some lose to the timer, some are simply late.
        offset_seed = offset_seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let offset = (offset_seed >> 33) as i64 % 17 - 12;
        let at = offer.deadline_ms + offset;
        let wait = at - now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        // A connected client, so the claim leaves when aimed.
        let mut client = clients[&offer.rep_id].clone();
        let result = client
            .claim(ClaimRequest {
                lead_id: lead_id.clone(),
                rep_id: offer.rep_id.clone(),
            })
            .await;
        let (claim_ok, via_pool) = match result {
            Ok(response) => (true, response.into_inner().via == ClaimedVia::Pool as i32),
            // Refused: too late (FAILED_PRECONDITION), the lead already
            // moved on to the next rep (PERMISSION_DENIED), or contended
            // past the retries (ABORTED). None of them may change anything.
            Err(status) => {
                assert!(
                    matches!(
                        status.code(),
                        Code::FailedPrecondition | Code::PermissionDenied | Code::Aborted
                    ),
                    "lead {lead_id}: unexpected refusal {status:?}"
                );
                (false, false)
            }
        };
        races.push(Race {
            offer_id: offer.offer_id.clone(),
            rep: offer.rep_id.clone(),
            claim_ok,
            via_pool,
        });
        if claim_ok {
            return races;
        }
    }
}

async fn a_claim_racing_an_expiry_has_one_outcome(db: TestDb) {
    let app = spawn_app_on(db).await;
    support::upsert(
        &app,
        support::team("demo", "maya", &REPS, WINDOW_MS, Some(no_breaker())),
    )
    .await;

    let mut clients = HashMap::new();
    for rep in REPS {
        clients.insert(rep.to_string(), app.rep(rep).await);
    }
    let mut results: Vec<(String, Vec<Race>)> = Vec::new();
    for round in 0..ROUNDS {
        let leads: Vec<String> = (0..LEADS).map(|i| format!("race-{round}-{i:03}")).collect();
        for lead in &leads {
            app.new_lead(lead).await;
        }
        let mut tasks = Vec::new();
        for (i, lead) in leads.iter().enumerate() {
            let (app, clients) = (&app, &clients);
            let lead = lead.clone();
            let seed = (round * LEADS + i) as u64 + 1;
            tasks
                .push(async move { (lead.clone(), race_one_lead(app, clients, lead, seed).await) });
        }
        results.extend(futures::future::join_all(tasks).await);
    }

    let mut claimed_leads = HashSet::new();
    let (mut wins, mut losses) = (0, 0);
    let mut closed_offers = 0;
    for (lead, races) in &results {
        let routing = routing_when(&app, lead, "assigned or pooled", |r| {
            r.state == LeadState::Assigned as i32 || r.state == LeadState::Pooled as i32
        })
        .await;
        closed_offers += routing.offers.len();
        let by_id: HashMap<&str, &Offer> = routing
            .offers
            .iter()
            .map(|o| (o.offer_id.as_str(), o))
            .collect();
        for race in races {
            let offer = by_id[race.offer_id.as_str()];
            if race.via_pool {
                // Too late for the offer, which expired; the lead was
                // pooled and the same claim then took it from the pool.
                losses += 1;
                assert_eq!(offer.state, OfferState::Expired as i32, "lead {lead}");
                assert_eq!(routing.owner_rep_id, race.rep);
                claimed_leads.insert(lead.clone());
            } else if race.claim_ok {
                wins += 1;
                assert_eq!(
                    offer.state,
                    OfferState::Claimed as i32,
                    "lead {lead}: {}'s claim succeeded but the offer is {:?}",
                    race.rep,
                    offer.state
                );
                assert!(
                    offer.closed_at_ms < offer.deadline_ms,
                    "lead {lead}: claimed at {} on or after the deadline {}",
                    offer.closed_at_ms,
                    offer.deadline_ms
                );
                assert_eq!(routing.owner_rep_id, race.rep);
                claimed_leads.insert(lead.clone());
            } else {
                losses += 1;
                assert_eq!(
                    offer.state,
                    OfferState::Expired as i32,
                    "lead {lead}: {}'s claim was refused but the offer is {:?}",
                    race.rep,
                    offer.state
                );
            }
        }
        let claimed = routing
            .offers
            .iter()
            .filter(|o| o.state == OfferState::Claimed as i32)
            .count();
        assert!(claimed <= 1, "lead {lead} has {claimed} claimed offers");
        let pool_claims = races.iter().filter(|r| r.via_pool).count();
        assert!(
            claimed + pool_claims <= 1,
            "lead {lead}: {claimed} offer claims and {pool_claims} pool claims won"
        );
        assert_eq!(
            routing.state == LeadState::Assigned as i32,
            claimed_leads.contains(lead),
            "lead {lead}: assigned exactly when a claim succeeded"
        );
        // Every offer of the lead was raced: none closed some other way.
        assert_eq!(routing.offers.len(), races.len(), "lead {lead}");
    }
    eprintln!("claim/expiry races: {wins} claims won, {losses} lost to the deadline");
    assert!(
        wins > 0 && losses > 0,
        "the races went both ways ({wins} won, {losses} lost)"
    );

    // The events agree: one close per offer, with the outcome the store
    // recorded, and one assignment per claimed lead.
    let closed: Vec<(String, OfferClosed)> =
        support::events_at_least(&app, subjects::OFFER_CLOSED, closed_offers).await;
    let mut closes_per_offer: HashMap<String, Vec<i32>> = HashMap::new();
    for (_, event) in &closed {
        closes_per_offer
            .entry(event.offer_id.clone())
            .or_default()
            .push(event.outcome);
    }
    assert_eq!(closes_per_offer.len(), closed_offers);
    for (lead, races) in &results {
        for race in races {
            let outcomes = &closes_per_offer[&race.offer_id];
            let expected = if race.claim_ok && !race.via_pool {
                OfferOutcome::Claimed
            } else {
                OfferOutcome::Expired
            };
            assert_eq!(
                outcomes,
                &vec![expected as i32],
                "lead {lead}, offer {}: one wheel.offer.closed with the store's outcome",
                race.offer_id
            );
        }
    }
    let assigned: Vec<(String, LeadAssigned)> =
        support::events_at_least(&app, subjects::LEAD_ASSIGNED, claimed_leads.len()).await;
    let mut per_lead: HashMap<&str, usize> = HashMap::new();
    for (_, event) in &assigned {
        *per_lead.entry(event.lead_id.as_str()).or_default() += 1;
    }
    assert_eq!(per_lead.len(), claimed_leads.len());
    for (lead, count) in per_lead {
        assert_eq!(count, 1, "lead {lead}: wheel.lead.assigned {count} times");
        assert!(claimed_leads.contains(lead));
    }
}

on_both_backends!(a_claim_racing_an_expiry_has_one_outcome);

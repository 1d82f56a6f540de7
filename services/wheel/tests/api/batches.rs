//! Transitions that share a transaction: offers lapsing together are
//! expired in one batch of the writer, and new leads waiting in the
//! stream are routed in one batch of the inbox (both staged in memory and
//! written at the end, on SQLite and on Postgres, where the lone replica
//! holds the writer's lease), so each decision of a batch must see what
//! the batch's earlier ones did: a rep's new load, a rep set away, the
//! rotation's turn.

use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::wheel::v1::*;

use crate::helpers::{spawn_app_on, spawn_app_with_clock};
use crate::support::{self, manager, no_breaker, open_offer, reps, routing_when};

/// Six reps capped at one lead each hold one offer each; all six offers
/// lapse at the same moment. Each expiry frees its rep and offers the
/// lead on: the batch's later decisions must count the offers its
/// earlier ones opened, or the first freed rep gets every lead.
async fn capacity_holds_when_offers_lapse_together(db: TestDb) {
    let app = spawn_app_with_clock(db).await;
    let team: Vec<String> = (0..6).map(|i| format!("cap{i}")).collect();
    let team_refs: Vec<&str> = team.iter().map(String::as_str).collect();
    support::upsert(
        &app,
        support::team("demo", "maya", &team_refs, 60_000, Some(no_breaker())),
    )
    .await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    for rep in &team {
        maya.update_rep(UpdateRepRequest {
            rep_id: rep.clone(),
            rank: 0,
            capacity: 1,
        })
        .await
        .unwrap();
    }
    let leads: Vec<String> = (0..6).map(|i| format!("lapse-{i}")).collect();
    for lead in &leads {
        app.new_lead(lead).await;
    }
    let mut first_offers = Vec::new();
    for lead in &leads {
        first_offers.push(app.offered_to(lead).await);
    }
    first_offers.sort();
    assert_eq!(first_offers, team, "one lead offered to each rep");

    app.advance(60_000);
    let mut offered_on = 0;
    for lead in &leads {
        let routing = routing_when(&app, lead, "its first offer expired", |r| {
            r.offers
                .first()
                .is_some_and(|o| o.state == OfferState::Expired as i32)
        })
        .await;
        offered_on += usize::from(open_offer(&routing).is_some());
    }
    assert!(offered_on > 0, "some lapsed leads were offered on");
    for rep in reps(&app).await {
        assert!(
            rep.open_offers + rep.assigned_leads <= rep.capacity,
            "{} holds {} offers and {} leads with a cap of {}",
            rep.rep_id,
            rep.open_offers,
            rep.assigned_leads,
            rep.capacity
        );
    }
}

/// A breaker of one lapse: ana's and ben's offers lapse at the same
/// moment. ana's expiry sets her away and offers her lead to ben; ben's
/// expiry sets him away, and his lead must not go to ana, who is away
/// since the batch's first decision.
async fn a_rep_set_away_in_a_batch_is_skipped_by_its_later_decisions(db: TestDb) {
    let app = spawn_app_with_clock(db).await;
    let policy = TeamPolicy {
        breaker_expiries: 1,
        ..Default::default()
    };
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 60_000, Some(policy)),
    )
    .await;
    app.new_lead("away-0").await;
    assert_eq!(app.offered_to("away-0").await, "ana");
    app.new_lead("away-1").await;
    assert_eq!(app.offered_to("away-1").await, "ben");

    app.advance(60_000);
    for lead in ["away-0", "away-1"] {
        routing_when(&app, lead, "its first offer expired", |r| {
            r.offers
                .first()
                .is_some_and(|o| o.state == OfferState::Expired as i32)
        })
        .await;
    }
    let reps = reps(&app).await;
    for rep in &reps {
        assert_eq!(rep.availability, "away", "{} lapsed once: away", rep.rep_id);
    }
    let ana = reps.iter().find(|r| r.rep_id == "ana").unwrap();
    assert_eq!(ana.open_offers, 0, "no offer opened to ana once away");
    let moved_on = routing_when(&app, "away-1", "past its first offer", |r| {
        r.offers.len() > 1 || r.state != LeadState::Offered as i32
    })
    .await;
    assert!(
        moved_on.offers.iter().all(|o| o.rep_id != "ana"),
        "away-1 offered to ana while she was away: {:?}",
        moved_on.offers
    );
}

/// New leads waiting in the stream while the wheel is down are consumed
/// in batches when it starts (on SQLite routed together, staged): each
/// takes the next rep in turn, as one at a time would. A malformed event
/// among them fails alone: the leads around it are still routed, in turn.
async fn leads_arriving_together_take_turns_and_a_bad_one_fails_alone(db: TestDb) {
    let mut app = spawn_app_on(db).await;
    let ring = ["ana", "ben", "cy", "dee"];
    support::upsert(
        &app,
        support::team("demo", "maya", &ring, 600_000, Some(no_breaker())),
    )
    .await;
    app.stop().await;
    let first: Vec<String> = (0..12).map(|i| format!("turn-{i:02}")).collect();
    for lead in &first {
        app.new_lead(lead).await;
    }
    app.start().await;
    for (i, lead) in first.iter().enumerate() {
        assert_eq!(app.offered_to(lead).await, ring[i % 4], "{lead} in turn");
    }

    app.stop().await;
    let second: Vec<String> = (0..6).map(|i| format!("more-{i:02}")).collect();
    for (i, lead) in second.iter().enumerate() {
        if i == 3 {
            let nameless = LeadCreated {
                lead_id: String::new(),
                email: "nobody@example.com".into(),
                ..Default::default()
            };
            testing::publish_event(
                &app.nats.url(),
                &INTAKE_STREAM,
                subjects::LEAD_CREATED,
                "nameless",
                &nameless,
            )
            .await
            .unwrap();
        }
        app.new_lead(lead).await;
    }
    app.start().await;
    for (i, lead) in second.iter().enumerate() {
        assert_eq!(
            app.offered_to(lead).await,
            ring[(first.len() + i) % 4],
            "{lead} in turn after a bad event"
        );
    }
}

on_both_backends!(
    capacity_holds_when_offers_lapse_together,
    a_rep_set_away_in_a_batch_is_skipped_by_its_later_decisions,
    leads_arriving_together_take_turns_and_a_bad_one_fails_alone,
);

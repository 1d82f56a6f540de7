//! The writer's lease (Postgres): the replica holding it batches; a
//! holder whose lease was taken over stops batching at its next batch
//! (the fence) and its commands are still applied, alone, while new leads
//! wait for the holder; a stopping holder lets the lease lapse and
//! another replica takes it over with a new epoch; the other replicas
//! forward their commands to the holder.

use std::time::Duration;

use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::testing::{self, on_postgres};
use leadwheel_proto::wheel::v1::*;
use sqlx::Connection;

use crate::helpers::{TestApp, spawn_app_on, spawn_app_with_clock};
use crate::support::routing_when;

/// The lease row: holder, epoch, expiry.
async fn lease(app: &TestApp) -> (String, i64, i64) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query_as(
        "SELECT holder, epoch, expires_at_ms FROM wheel_writer_lease WHERE shard = 'wheel'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the lease row")
}

async fn set_lease(app: &TestApp, holder: &str, epoch: i64, expires_at_ms: i64) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE wheel_writer_lease SET holder = $1, epoch = $2, expires_at_ms = $3")
        .bind(holder)
        .bind(epoch)
        .bind(expires_at_ms)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Waits until the lease row satisfies `test`.
async fn lease_when(
    app: &TestApp,
    what: &str,
    test: impl Fn(&(String, i64, i64)) -> bool,
) -> (String, i64, i64) {
    testing::eventually(Duration::from_secs(10), what, || async {
        let row = lease(app).await;
        test(&row).then_some(row)
    })
    .await
}

async fn claim(app: &TestApp, lead_id: &str) {
    let rep = app.offered_to(lead_id).await;
    app.rep(&rep)
        .await
        .claim(ClaimRequest {
            lead_id: lead_id.into(),
            rep_id: rep.clone(),
        })
        .await
        .unwrap_or_else(|status| panic!("claiming {lead_id}: {status:?}"));
    let routing = app.wait_state(lead_id, LeadState::Assigned).await;
    assert_eq!(routing.owner_rep_id, rep);
}

async fn a_deposed_writer_stops_batching_and_loses_nothing(mut app: TestApp) {
    app.team(&["ana", "ben"], 60_000).await;
    let (holder, epoch, expires) = lease(&app).await;
    assert!(
        epoch >= 1 && expires > now_ms(),
        "the lone replica holds the lease: {holder} {epoch} {expires}"
    );
    app.new_lead("fence-1").await;
    claim(&app, "fence-1").await;

    // Another replica takes the lease over behind this one's back (as
    // after a pause longer than the lease): this replica's next batch
    // fails the fence, and its commands are applied alone (nobody answers
    // them on the intruder's behalf).
    app.new_lead("fence-2").await;
    app.new_lead("fence-3").await;
    let _ = app.offered_to("fence-2").await;
    let _ = app.offered_to("fence-3").await;
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    claim(&app, "fence-2").await;
    // New leads are left to the intruder while it holds the lease.
    app.new_lead("fence-4").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (now_holder, now_epoch, _) = lease(&app).await;
    assert_eq!(
        (now_holder.as_str(), now_epoch),
        ("intruder", epoch + 1),
        "a deposed holder never writes the lease back"
    );
    let left = app
        .admin()
        .await
        .get_lead_routing(GetLeadRoutingRequest {
            lead_id: "fence-4".into(),
        })
        .await
        .expect_err("a new lead left to the lease's holder");
    assert_eq!(left.code(), tonic::Code::NotFound, "{left:?}");
    claim(&app, "fence-3").await;

    // The intruder's lease lapses: this replica takes it again, under a
    // new epoch, and routes the lead it had left.
    set_lease(&app, "intruder", epoch + 1, 0).await;
    lease_when(
        &app,
        "the replica to take the lapsed lease back",
        |(h, e, _)| h == &holder && *e == epoch + 2,
    )
    .await;
    claim(&app, "fence-4").await;

    // A second replica waits; when the holder stops it lets the lease
    // lapse and the second takes it over, and routes the next lead.
    let second = app.spawn_replica().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        lease(&app).await.0,
        holder,
        "the holder keeps its lease while it runs"
    );
    app.stop().await;
    let (taken_by, taken_at, _) =
        lease_when(&app, "the second replica to take the lease", |(h, _, _)| {
            h != &holder
        })
        .await;
    assert_eq!(taken_at, epoch + 3);
    assert_ne!(taken_by, "intruder");
    app.grpc_addr = second.grpc_addr;
    app.new_lead("fence-5").await;
    claim(&app, "fence-5").await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_writer_stops_batching_and_loses_nothing_postgres() {
    on_postgres(|db| async move {
        a_deposed_writer_stops_batching_and_loses_nothing(spawn_app_on(db).await).await
    })
    .await;
}

/// A replica without the lease leaves a due offer to the holder for the
/// timers' grace (6 s), then expires it itself (the holder died).
async fn without_the_lease_offers_expire_after_the_grace(app: TestApp) {
    app.team(&["ana", "ben"], 10_000).await;
    let (_, epoch, _) = lease(&app).await;
    app.new_lead("grace-1").await;
    let first = app.offered_to("grace-1").await;
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    // The replica notices at its next renewal (every second).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let first_open = |routing: &GetLeadRoutingResponse| {
        routing
            .offers
            .first()
            .is_some_and(|offer| offer.state == OfferState::Open as i32)
    };

    app.advance(10_000 + 1_000);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let routing = routing_when(&app, "grace-1", "the first offer still open", first_open).await;
    assert_eq!(
        routing.offers[0].rep_id, first,
        "left to the lease's holder"
    );

    app.advance(6_000);
    routing_when(
        &app,
        "grace-1",
        "the first offer expired after the grace",
        |routing| {
            routing
                .offers
                .first()
                .is_some_and(|offer| offer.state == OfferState::Expired as i32)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lease_offers_expire_after_the_grace_postgres() {
    on_postgres(|db| async move {
        without_the_lease_offers_expire_after_the_grace(spawn_app_with_clock(db).await).await
    })
    .await;
}

/// The next command the test's watch on `cmd.wheel.writer` sees, past
/// anything on it that is not one.
async fn next_forwarded(
    watched: &mut async_nats::Subscriber,
) -> leadwheel_wheel::engine::Forwarded {
    use futures::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), watched.next())
            .await
            .expect("a command forwarded to the holder")
            .unwrap();
        if let Ok(command) = serde_json::from_slice(&message.payload) {
            return command;
        }
    }
}

/// A claim, pass or manager action reaching a replica without the lease
/// crosses NATS to the holder, which applies it in its batch and answers
/// with what its own callers get; with nobody holding the lease the
/// replica applies it itself; a holder that never answers leaves the
/// command unapplied and the caller told so.
async fn commands_reach_the_lease_holder(mut app: TestApp) {
    use leadwheel_plumbing::bus::subjects::WHEEL_WRITER_COMMANDS;
    use leadwheel_wheel::engine::FORWARD_TIMEOUT;
    use leadwheel_wheel_core::Input;

    app.team(&["ana", "ben"], 60_000).await;
    let holder_addr = app.grpc_addr;
    let (holder, epoch, _) = lease(&app).await;
    let second = app.spawn_replica().await;
    // The second replica tries the lease at start and finds it held.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(lease(&app).await.0, holder);

    // Watches the commands on their way to the holder.
    let nats = async_nats::connect(app.nats.url()).await.unwrap();
    let mut watched = nats.subscribe(WHEEL_WRITER_COMMANDS).await.unwrap();
    nats.flush().await.unwrap();

    // A claim at the second replica: forwarded, applied, answered.
    app.new_lead("fwd-1").await;
    let first = app.offered_to("fwd-1").await;
    app.grpc_addr = second.grpc_addr;
    claim(&app, "fwd-1").await;
    let forwarded = next_forwarded(&mut watched).await;
    assert_eq!(forwarded.lead_id, "fwd-1");
    assert_eq!(forwarded.input, Input::Claim { rep: first.clone() });
    assert_eq!(forwarded.actor, first);

    // A refusal comes back as the holder's own callers get it.
    app.grpc_addr = holder_addr;
    app.new_lead("fwd-2").await;
    let offered = app.offered_to("fwd-2").await;
    let other = if offered == "ana" { "ben" } else { "ana" };
    let wrong_claim = ClaimRequest {
        lead_id: "fwd-2".into(),
        rep_id: other.into(),
    };
    let direct = app
        .rep(other)
        .await
        .claim(wrong_claim.clone())
        .await
        .expect_err("not their offer");
    app.grpc_addr = second.grpc_addr;
    let via_second = app
        .rep(other)
        .await
        .claim(wrong_claim)
        .await
        .expect_err("not their offer, forwarded");
    assert_eq!(via_second.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        (via_second.code(), via_second.message()),
        (direct.code(), direct.message())
    );
    assert_eq!(next_forwarded(&mut watched).await.lead_id, "fwd-2");

    // Something on the subject that is not a command: refused, naming
    // what is wrong, and nothing applied.
    let garbage = nats
        .request(WHEEL_WRITER_COMMANDS, "not json".into())
        .await
        .unwrap();
    let reply: leadwheel_wheel::engine::ForwardedReply =
        serde_json::from_slice(&garbage.payload).unwrap();
    assert!(
        matches!(
            &reply,
            leadwheel_wheel::engine::ForwardedReply::Failed {
                error: leadwheel_wheel::error::RemoteError::InvalidArgument { field, .. }
            } if field == "command"
        ),
        "{reply:?}"
    );

    // A pass and a manager's withdrawal, forwarded.
    app.rep(&offered)
        .await
        .pass(PassRequest {
            lead_id: "fwd-2".into(),
            rep_id: offered.clone(),
            reason: "wrong region".into(),
        })
        .await
        .unwrap();
    let pass = next_forwarded(&mut watched).await;
    assert_eq!(
        pass.input,
        Input::Pass {
            rep: offered.clone(),
            reason: "wrong region".into()
        }
    );
    assert_eq!(app.offered_to("fwd-2").await, other);
    app.admin()
        .await
        .withdraw_lead(WithdrawLeadRequest {
            lead_id: "fwd-2".into(),
            reason: "test lead".into(),
        })
        .await
        .unwrap();
    assert_eq!(next_forwarded(&mut watched).await.input, Input::Withdraw);
    app.wait_state("fwd-2", LeadState::Withdrawn).await;
    // Any subscriber counts as someone to answer: the watch ends here.
    watched.unsubscribe().await.unwrap();

    // Nobody holds the lease: the first replica notices at its next
    // renewal and stops taking commands; the second applies its own.
    app.grpc_addr = holder_addr;
    app.new_lead("fwd-3").await;
    app.new_lead("fwd-4").await;
    let _ = app.offered_to("fwd-3").await;
    let _ = app.offered_to("fwd-4").await;
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    app.grpc_addr = second.grpc_addr;
    claim(&app, "fwd-3").await;

    // A holder that takes the command and never answers: the caller is
    // told to try again, and the command was not applied.
    let mut silent = nats
        .queue_subscribe(WHEEL_WRITER_COMMANDS, "wheel-writer".into())
        .await
        .unwrap();
    nats.flush().await.unwrap();
    let rep = app.offered_to("fwd-4").await;
    let started = std::time::Instant::now();
    let unanswered = app
        .rep(&rep)
        .await
        .claim(ClaimRequest {
            lead_id: "fwd-4".into(),
            rep_id: rep.clone(),
        })
        .await
        .expect_err("nobody answered");
    assert_eq!(
        unanswered.code(),
        tonic::Code::Unavailable,
        "{unanswered:?}"
    );
    assert!(started.elapsed() >= FORWARD_TIMEOUT);
    assert_eq!(
        app.offered_to("fwd-4").await,
        rep,
        "still offered, not claimed"
    );
    silent.unsubscribe().await.unwrap();
    nats.flush().await.unwrap();
    claim(&app, "fwd-4").await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_lease_holder_postgres() {
    on_postgres(|db| async move { commands_reach_the_lease_holder(spawn_app_on(db).await).await })
        .await;
}

/// A lease that cannot be read (its table gone here; a failing store in
/// life): the replica stops batching and, since nobody may be holding
/// the lease, routes new leads and applies claims itself, even after it
/// had seen another replica holding it; once the lease can be read again
/// it takes it when it lapses.
async fn a_lease_that_cannot_be_read_leaves_the_replica_working(app: TestApp) {
    app.team(&["ana", "ben"], 60_000).await;
    let (holder, epoch, _) = lease(&app).await;
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("ALTER TABLE wheel_writer_lease RENAME TO wheel_writer_lease_away")
        .execute(&mut conn)
        .await
        .unwrap();
    // The next renewal fails: the lead is no longer left to the intruder.
    app.new_lead("dark-1").await;
    claim(&app, "dark-1").await;

    sqlx::query("ALTER TABLE wheel_writer_lease_away RENAME TO wheel_writer_lease")
        .execute(&mut conn)
        .await
        .unwrap();
    set_lease(&app, "intruder", epoch + 1, 0).await;
    lease_when(&app, "the replica to take the lapsed lease", |(h, e, _)| {
        h == &holder && *e == epoch + 2
    })
    .await;
    app.new_lead("dark-2").await;
    claim(&app, "dark-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_cannot_be_read_leaves_the_replica_working_postgres() {
    on_postgres(|db| async move {
        a_lease_that_cannot_be_read_leaves_the_replica_working(spawn_app_on(db).await).await
    })
    .await;
}

/// A batch writes each rep's count of expiries in a row as a change to
/// the stored count (unless it reset it), so an expiry another replica
/// counted meanwhile is kept.
async fn expiry_counts_are_written_as_changes(app: TestApp) {
    use leadwheel_wheel::store::batch::{ExpiryCount, set_expiry_counts};
    app.team(&["ana", "ben", "cy"], 60_000).await;
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    // Counted since the batch read them: ana 5, ben 3, cy 0.
    sqlx::query("UPDATE wheel_reps SET consecutive_expiries = CASE rep_id WHEN 'ana' THEN 5 WHEN 'ben' THEN 3 ELSE 0 END")
        .execute(&mut conn)
        .await
        .unwrap();
    let changes = [
        (
            "ana".to_string(),
            ExpiryCount {
                reset: false,
                by: 2,
            },
        ),
        ("ben".to_string(), ExpiryCount { reset: true, by: 1 }),
    ];
    set_expiry_counts(&mut conn, &changes).await.unwrap();
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT rep_id, consecutive_expiries FROM wheel_reps ORDER BY rep_id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        counts,
        vec![("ana".into(), 7), ("ben".into(), 1), ("cy".into(), 0)]
    );
}

leadwheel_plumbing::on_both_backends!(expiry_counts_are_written_as_changes_on);

async fn expiry_counts_are_written_as_changes_on(db: leadwheel_plumbing::testing::TestDb) {
    expiry_counts_are_written_as_changes(spawn_app_on(db).await).await;
}

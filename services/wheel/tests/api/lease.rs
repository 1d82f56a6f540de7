//! The writer's lease (Postgres): the replica holding it batches; a
//! holder whose lease was taken over stops batching at its next batch
//! (the fence) and its commands are still applied, alone; a stopping
//! holder lets the lease lapse and another replica takes it over with a
//! new epoch.

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
    // fails the fence, and its commands are applied alone.
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    app.new_lead("fence-2").await;
    claim(&app, "fence-2").await;
    app.new_lead("fence-3").await;
    let _ = app.offered_to("fence-3").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (now_holder, now_epoch, _) = lease(&app).await;
    assert_eq!(
        (now_holder.as_str(), now_epoch),
        ("intruder", epoch + 1),
        "a deposed holder never writes the lease back"
    );
    claim(&app, "fence-3").await;

    // The intruder's lease lapses: this replica takes it again, under a
    // new epoch.
    set_lease(&app, "intruder", epoch + 1, 0).await;
    lease_when(
        &app,
        "the replica to take the lapsed lease back",
        |(h, e, _)| h == &holder && *e == epoch + 2,
    )
    .await;
    app.new_lead("fence-4").await;
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
    set_lease(&app, "intruder", epoch + 1, now_ms() + 60_000).await;
    // The replica notices at its next renewal (every second).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    app.new_lead("grace-1").await;
    let first = app.offered_to("grace-1").await;
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

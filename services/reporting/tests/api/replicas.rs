//! Two reporting replicas on one Postgres database share the durable
//! consumers: together they give the numbers one instance gives, and their
//! concurrent batches never deadlock (each batch takes the service's
//! advisory lock first; see `consumer::Handler::begin_batch`).

use leadwheel_plumbing::Role;
use leadwheel_plumbing::testing::{TestDb, on_postgres, wait_consumer_done};
use leadwheel_reporting::CONSUMERS;
use sqlx::Connection;

use crate::helpers::{Env, spawn_app};
use crate::sales::{all_numbers, numbers_after, shuffled};
use crate::script::{self, Scripted};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_agree_with_one_and_never_deadlock() {
    on_postgres(|db| async move {
        let events = script::november();
        let one = numbers_after(&events, db).await;

        // Everything three times over (shuffled, redelivered, announced
        // again), so both replicas' six consumers have batches in flight
        // at once, bumping the same team and daily rows.
        let mut mixed = shuffled(&events);
        mixed.extend(events.iter().rev().map(Scripted::redelivered));
        mixed.extend(events.iter().rev().map(Scripted::announced_again));
        mixed.extend(events.iter().map(Scripted::redelivered));
        let db = TestDb::postgres().await.expect("TEST_POSTGRES_URL is set");
        let url = db.url.clone();
        let env = Env::new(db);
        let first = spawn_app(&env).await;
        let second = spawn_app(&env).await;
        script::publish_all(&first.nats_url, &mixed).await;
        for (durable, stream) in CONSUMERS {
            wait_consumer_done(&first.nats_url, stream, durable).await;
        }
        for app in [&first, &second] {
            let admin = app.client("root", Role::Admin).await;
            assert_eq!(
                all_numbers(&admin).await,
                one,
                "a replica's numbers (left) vs one instance's (right)"
            );
        }
        first.stop().await;
        second.stop().await;

        // Closing the pools ended their backends, which flushes their
        // statistics: the database's deadlock count is final.
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connecting");
        let deadlocks: i64 = sqlx::query_scalar(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("reading the deadlock count");
        assert_eq!(deadlocks, 0, "deadlocks between the replicas' batches");
    })
    .await;
}

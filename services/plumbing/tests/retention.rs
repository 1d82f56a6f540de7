//! Retention, on SQLite and on Postgres (`TEST_POSTGRES_URL`) over a real
//! nats-server: sent outbox rows and inbox rows pruned by age (pending
//! rows never), the sent rows of erased entities deleted at once, a
//! stream's max age set by its owner and kept by everyone else, and the
//! runtime doing both with the configured settings.

use std::time::Duration;

use leadwheel_plumbing::bus::{Bus, EventDraft, INTAKE_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::outbox::{self, Outbox};
use leadwheel_plumbing::prune::{Pruned, prune_once};
use leadwheel_plumbing::retention::Retention;
use leadwheel_plumbing::store::Store;
use leadwheel_plumbing::testing::{self, NatsServer, TestDb};
use leadwheel_plumbing::{Runtime, inbox, now_ms, on_both_backends};
use leadwheel_proto::events::v1::LeadCreated;
use sqlx::migrate::Migrator;

/// No service tables: only the plumbing's own.
static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

async fn enqueue(store: &Store, outbox: &Outbox, key: &str) -> String {
    let mut tx = store.begin().await.unwrap();
    let payload = LeadCreated {
        lead_id: key.into(),
        email: format!("{key}@person.example"),
        ..Default::default()
    };
    let id = outbox
        .enqueue(
            &mut tx,
            EventDraft::new("intake.lead.created", key, &payload),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn set_sent(store: &Store, id: &str, sent_at_ms: i64) {
    sqlx::query("UPDATE lw_outbox SET sent_at_ms = $1 WHERE id = $2")
        .bind(sent_at_ms)
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn outbox_ids(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM lw_outbox ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn inbox_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM lw_inbox")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Records `count` processed events for `consumer`, processed at `at_ms`.
async fn processed(store: &Store, consumer: &str, count: usize, at_ms: i64) {
    let mut tx = store.begin().await.unwrap();
    for _ in 0..count {
        let id = leadwheel_plumbing::ids::new_id();
        assert!(inbox::record(&mut tx, consumer, &id).await.unwrap());
        sqlx::query(
            "UPDATE lw_inbox SET processed_at_ms = $1 WHERE consumer = $2 AND event_id = $3",
        )
        .bind(at_ms)
        .bind(consumer)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn prune_removes_old_sent_and_inbox_rows_only(db: TestDb) {
    testing::init_test_logs();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let outbox = Outbox::new("intake");
    let now = now_ms();
    let old_sent = enqueue(&store, &outbox, "old-sent").await;
    set_sent(&store, &old_sent, now - 11 * MINUTE).await;
    let new_sent = enqueue(&store, &outbox, "new-sent").await;
    set_sent(&store, &new_sent, now - 9 * MINUTE).await;
    // Pending for a long time (NATS was down): never pruned.
    let old_pending = enqueue(&store, &outbox, "old-pending").await;
    sqlx::query("UPDATE lw_outbox SET created_at_ms = $1 WHERE id = $2")
        .bind(now - 40 * DAY)
        .bind(&old_pending)
        .execute(store.pool())
        .await
        .unwrap();
    // More old inbox rows than one batch, and a few recent ones.
    processed(&store, "wheel-intake", 2_345, now - 31 * DAY).await;
    processed(&store, "wheel-opps", 3, now - 29 * DAY).await;

    let retention = Retention {
        outbox_keep_sent: Some(Duration::from_secs(10 * 60)),
        inbox_keep: Some(Duration::from_secs(30 * 24 * 3600)),
        ..Retention::default()
    };
    let pruned = prune_once(&store, &retention, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            outbox: 1,
            inbox: 2_345
        }
    );
    let mut kept = vec![new_sent.clone(), old_pending.clone()];
    kept.sort();
    assert_eq!(outbox_ids(&store).await, kept);
    assert_eq!(inbox_count(&store).await, 3);
    assert_eq!(outbox::pending_count(&store).await.unwrap(), 1);

    // Again: nothing more is old enough.
    assert_eq!(
        prune_once(&store, &retention, now).await.unwrap(),
        Pruned::default()
    );

    // Keeping (None) prunes nothing, however old.
    let keep_all = Retention {
        outbox_keep_sent: None,
        inbox_keep: None,
        ..Retention::default()
    };
    assert_eq!(
        prune_once(&store, &keep_all, now + 365 * DAY)
            .await
            .unwrap(),
        Pruned::default()
    );
    assert_eq!(inbox_count(&store).await, 3);
}

async fn erase_sent_deletes_the_published_rows_of_the_keys(db: TestDb) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let config = testing::service_config("intake", &nats.url(), &db.url);
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    let outbox = Outbox::new("intake");
    enqueue(&store, &outbox, "ana").await;
    enqueue(&store, &outbox, "ana").await;
    let other = enqueue(&store, &outbox, "ben").await;
    assert_eq!(outbox::flush(&store, &bus.jetstream).await.unwrap(), 3);
    // Written after the relay ran: still pending.
    let pending = enqueue(&store, &outbox, "ana").await;

    let mut tx = store.begin().await.unwrap();
    let erased = outbox::erase_sent(&mut tx, &["ana".to_string(), "nobody".to_string()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(erased, 2);
    let mut kept = vec![other, pending];
    kept.sort();
    assert_eq!(outbox_ids(&store).await, kept);

    // The pending one is still published.
    assert_eq!(outbox::flush(&store, &bus.jetstream).await.unwrap(), 1);
    let published = testing::read_stream(&nats.url(), &INTAKE_STREAM, "").await;
    assert_eq!(published.len(), 4);
}

async fn the_runtime_applies_the_retention_settings(db: TestDb) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let mut config = testing::service_config("intake", &nats.url(), &db.url);
    config.retention = Retention {
        outbox_keep_sent: Some(Duration::from_millis(1)),
        prune_every: Duration::from_millis(100),
        ..Retention::default()
    }
    .with_stream_max_age(&INTAKE_STREAM, Duration::from_secs(3600));
    let runtime = Runtime::start(config, &NO_MIGRATIONS, Some(&INTAKE_STREAM))
        .await
        .unwrap();
    let info = stream_config(&nats, &INTAKE_STREAM).await;
    assert_eq!(info.max_age, Duration::from_secs(3600));

    // A sent row goes at the next prune; the runtime's relay sends it.
    let id = enqueue(&runtime.store, &runtime.outbox, "lead-1").await;
    runtime.outbox.notify();
    testing::eventually(Duration::from_secs(20), "the sent row to be pruned", || {
        let store = runtime.store.clone();
        let id = id.clone();
        async move { (!outbox_ids(&store).await.contains(&id)).then_some(()) }
    })
    .await;
    assert_eq!(
        testing::read_stream(&nats.url(), &INTAKE_STREAM, "")
            .await
            .len(),
        1
    );
}

async fn stream_config(
    nats: &NatsServer,
    stream: &leadwheel_plumbing::bus::StreamSpec,
) -> async_nats::jetstream::stream::Config {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream(stream.name).await.unwrap();
    stream.info().await.unwrap().config.clone()
}

/// The owner's max age holds: another service (a consumer, a test) that
/// makes sure the stream exists leaves it; messages older than it go.
#[tokio::test]
async fn a_streams_max_age_is_its_owners_and_drops_old_messages() {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let db = TestDb::sqlite();
    let config = testing::service_config("wheel", &nats.url(), &db.url);
    let bus = Bus::connect(&config).await.unwrap();

    bus.configure_stream(&WHEEL_STREAM, Some(Duration::from_secs(2)), 1)
        .await
        .unwrap();
    let set = stream_config(&nats, &WHEEL_STREAM).await;
    assert_eq!(set.max_age, Duration::from_secs(2));
    // The duplicate window may not be longer than the max age.
    assert_eq!(set.duplicate_window, Duration::from_secs(2));
    bus.ensure_stream(&WHEEL_STREAM).await.unwrap();
    assert_eq!(
        stream_config(&nats, &WHEEL_STREAM).await.max_age,
        Duration::from_secs(2)
    );

    testing::publish_event(
        &nats.url(),
        &WHEEL_STREAM,
        "wheel.lead.pooled",
        "lead-1",
        &LeadCreated::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        testing::read_stream(&nats.url(), &WHEEL_STREAM, "")
            .await
            .len(),
        1
    );
    testing::eventually(
        Duration::from_secs(15),
        "the message to age out",
        || async {
            testing::read_stream(&nats.url(), &WHEEL_STREAM, "")
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await;

    // Without a max age again (the setting removed): no limit.
    bus.configure_stream(&WHEEL_STREAM, None, 1).await.unwrap();
    let unset = stream_config(&nats, &WHEEL_STREAM).await;
    assert_eq!(unset.max_age, Duration::ZERO);
    assert_eq!(unset.duplicate_window, Duration::from_secs(120));
}

on_both_backends!(
    prune_removes_old_sent_and_inbox_rows_only,
    erase_sent_deletes_the_published_rows_of_the_keys,
    the_runtime_applies_the_retention_settings,
);

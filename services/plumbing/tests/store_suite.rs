//! The plumbing's store suite, run against SQLite and against Postgres
//! (`TEST_POSTGRES_URL`): migrations, the outbox relay (including while
//! NATS is down) and the inbox.

use std::time::Duration;

use leadwheel_plumbing::bus::{Bus, EventDraft, INTAKE_STREAM};
use leadwheel_plumbing::config::ServiceConfig;
use leadwheel_plumbing::outbox::{self, Outbox};
use leadwheel_plumbing::store::{Backend, Store};
use leadwheel_plumbing::testing::{self, NatsServer, TestDb, on_postgres};
use leadwheel_plumbing::{ids, inbox};
use leadwheel_proto::events::v1::LeadCreated;
use prost::Message;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

/// No service tables: only the plumbing's own.
static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

fn config(nats: &NatsServer, db: &TestDb) -> ServiceConfig {
    testing::service_config("intake", &nats.url(), &db.url)
}

async fn enqueue(store: &Store, outbox: &Outbox, lead_id: &str) -> String {
    let mut tx = store.begin().await.unwrap();
    let payload = LeadCreated {
        lead_id: lead_id.into(),
        ..Default::default()
    };
    let id = outbox
        .enqueue(
            &mut tx,
            EventDraft::new("intake.lead.created", lead_id, &payload),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    outbox.notify();
    id
}

/// With NATS down and `pending` events written: waits until the relay has
/// tried and failed (so the events were kept through a real failed
/// publish), checks they are all still pending, brings NATS back and waits
/// until the relay has published them.
/// The outbox relay of `box_` on `store`, until `stop`.
fn spawn_relay(
    store: &Store,
    bus: &Bus,
    box_: &Outbox,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(outbox::run_relay(
        store.clone(),
        bus.jetstream.clone(),
        box_.clone(),
        stop.clone(),
        Duration::from_secs(5),
    ))
}

/// A plain subscription to the lead events (every publish, duplicates
/// too), and the client holding it.
async fn raw_subscription(nats: &NatsServer) -> (async_nats::Client, async_nats::Subscriber) {
    let client = testing::connect(&nats.url()).await.unwrap();
    let raw = client.subscribe("intake.lead.created").await.unwrap();
    client.flush().await.unwrap();
    (client, raw)
}

/// A `LeadCreated` draft per key, keyed by it, without trace context.
fn lead_drafts(keys: &[String]) -> Vec<(EventDraft, Option<String>)> {
    keys.iter()
        .map(|key| {
            let payload = LeadCreated {
                lead_id: key.clone(),
                ..Default::default()
            };
            (EventDraft::new("intake.lead.created", key, &payload), None)
        })
        .collect()
}

/// The keys of the envelopes a plain subscription received, in order,
/// until none comes for half a second (every publish, duplicates too).
async fn received_keys(raw: &mut async_nats::Subscriber) -> Vec<String> {
    let mut keys = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), futures::StreamExt::next(raw)).await
    {
        let envelope =
            leadwheel_proto::events::v1::Envelope::decode(message.payload.as_ref()).unwrap();
        keys.push(envelope.key);
    }
    keys
}

async fn through_the_outage(nats: &mut NatsServer, store: &Store, outbox: &Outbox, pending: i64) {
    testing::eventually(
        Duration::from_secs(30),
        "the relay to fail while NATS is down",
        || async { (outbox.relay_failures() > 0).then_some(()) },
    )
    .await;
    assert_eq!(
        outbox::pending_count(store).await.unwrap(),
        pending,
        "a failed publish marked rows sent"
    );
    nats.restart().unwrap();
    testing::eventually(
        Duration::from_secs(30),
        "the relay to publish after NATS returns",
        || async { (outbox::pending_count(store).await.ok()? == 0).then_some(()) },
    )
    .await;
}

async fn suite(db: TestDb, backend: Backend) {
    testing::init_test_logs();
    let mut nats = NatsServer::start().unwrap();
    let config = config(&nats, &db);
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    assert_eq!(store.backend(), backend);
    // Migrations are idempotent: connecting again is fine.
    Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();

    // A rolled-back transaction leaves no event behind.
    let box_ = Outbox::new("intake");
    {
        let mut tx = store.begin().await.unwrap();
        box_.enqueue(
            &mut tx,
            EventDraft::new("intake.lead.created", "ghost", &LeadCreated::default()),
        )
        .await
        .unwrap();
        tx.rollback().await.unwrap();
    }
    assert_eq!(outbox::pending_count(&store).await.unwrap(), 0);

    // Committed events are published with their id as Nats-Msg-Id.
    let first = enqueue(&store, &box_, "lead-a").await;
    let second = enqueue(&store, &box_, "lead-b").await;
    assert_eq!(outbox::pending_count(&store).await.unwrap(), 2);
    assert_eq!(outbox::flush(&store, &bus.jetstream).await.unwrap(), 2);
    assert_eq!(outbox::pending_count(&store).await.unwrap(), 0);
    let messages = testing::read_stream(&nats.url(), &INTAKE_STREAM, "").await;
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].header("Nats-Msg-Id").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(messages[1].envelope.id, second);
    assert_eq!(messages[1].envelope.source, "intake");
    assert_eq!(messages[1].envelope.key, "lead-b");
    let payload = LeadCreated::decode(messages[1].envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.lead_id, "lead-b");

    // A republished row (as after a crash between publish and mark) is
    // dropped by JetStream's duplicate window.
    sqlx::query("UPDATE lw_outbox SET sent_at_ms = NULL WHERE id = $1")
        .bind(&first)
        .execute(store.pool())
        .await
        .unwrap();
    outbox::flush(&store, &bus.jetstream).await.unwrap();
    assert_eq!(
        testing::read_stream(&nats.url(), &INTAKE_STREAM, "")
            .await
            .len(),
        2,
        "duplicate publish was not deduplicated"
    );

    // NATS down: events are kept and delivered once it is back.
    let stop = CancellationToken::new();
    let relay = spawn_relay(&store, &bus, &box_, &stop);
    nats.kill();
    let mut while_down = Vec::new();
    for i in 0..5 {
        while_down.push(enqueue(&store, &box_, &format!("down-{i}")).await);
    }
    through_the_outage(&mut nats, &store, &box_, 5).await;
    stop.cancel();
    relay.await.unwrap();
    let ids: Vec<String> = testing::read_envelopes(&nats.url(), &INTAKE_STREAM, "")
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 7);
    for id in &while_down {
        assert!(
            ids.contains(id),
            "event {id} written while NATS was down was lost"
        );
    }

    // The inbox records an event once per consumer.
    let event_id = ids::new_id();
    let mut tx = store.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "wheel-intake", &event_id)
            .await
            .unwrap()
    );
    assert!(
        !inbox::record(&mut tx, "wheel-intake", &event_id)
            .await
            .unwrap()
    );
    assert!(
        inbox::record(&mut tx, "reporting-intake", &event_id)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(
        !inbox::record(&mut tx, "wheel-intake", &event_id)
            .await
            .unwrap(),
        "survives commit"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn store_suite_sqlite() {
    suite(TestDb::sqlite(), Backend::Sqlite).await;
}

#[tokio::test]
async fn store_suite_postgres() {
    on_postgres(|db| suite(db, Backend::Postgres)).await;
}

/// Events handed to the relay after their commit are published from
/// memory, in commit order, and marked sent; handed over while NATS is
/// down they stay pending and the relay's poll publishes them once it is
/// back, each once.
async fn committed_events_are_published_as_handed_over(db: TestDb) {
    testing::init_test_logs();
    let mut nats = NatsServer::start().unwrap();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config(&nats, &db)).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    let box_ = Outbox::new("intake");
    let stop = CancellationToken::new();
    let relay = spawn_relay(&store, &bus, &box_, &stop);
    let commit = |keys: Vec<String>| {
        let (store, box_) = (store.clone(), box_.clone());
        async move {
            let mut tx = store.begin().await.unwrap();
            let written = box_
                .enqueue_written(&mut tx, lead_drafts(&keys))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            // A poll woken between the commit and the handover must leave
            // the events to the handover (or they go out twice).
            box_.notify();
            tokio::time::sleep(Duration::from_millis(50)).await;
            box_.publish_committed(written);
        }
    };
    // Every publish as sent (JetStream's stream keeps one copy of a
    // duplicate; a plain subscriber sees each).
    let (_client, mut raw) = raw_subscription(&nats).await;
    let keys: Vec<String> = (0..6).map(|i| format!("handed-{i}")).collect();
    commit(keys[..4].to_vec()).await;
    commit(keys[4..].to_vec()).await;
    testing::eventually(Duration::from_secs(10), "six events published", || async {
        (box_.handed_published() == 6 && outbox::pending_count(&store).await.ok()? == 0)
            .then_some(())
    })
    .await;
    let published: Vec<String> = testing::read_envelopes(&nats.url(), &INTAKE_STREAM, "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(published, keys, "in the stream once each, in commit order");
    let sent = received_keys(&mut raw).await;
    assert_eq!(sent, keys, "each published once, in commit order");

    nats.kill();
    let down: Vec<String> = (0..3).map(|i| format!("down-{i}")).collect();
    commit(down.clone()).await;
    through_the_outage(&mut nats, &store, &box_, 3).await;
    stop.cancel();
    relay.await.unwrap();
    let published: Vec<String> = testing::read_envelopes(&nats.url(), &INTAKE_STREAM, "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(published, [keys, down].concat());
}

/// The events a handover cannot deliver go to the relay's poll, once
/// each: written for a handover but dropped after the commit (a caller
/// that stopped on the way), and handed over when the relay's queue is
/// full (more than `HANDOVER_QUEUE`, 1,024, transactions before the relay
/// takes any).
async fn a_handover_that_cannot_be_made_is_left_to_the_poll(db: TestDb) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config(&nats, &db)).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    let (_client, mut raw) = raw_subscription(&nats).await;
    let box_ = Outbox::new("intake");
    let write = |key: String| {
        let (store, box_) = (store.clone(), box_.clone());
        async move {
            let mut tx = store.begin().await.unwrap();
            let payload = LeadCreated {
                lead_id: key.clone(),
                ..Default::default()
            };
            let draft = (EventDraft::new("intake.lead.created", &key, &payload), None);
            let written = box_.enqueue_written(&mut tx, vec![draft]).await.unwrap();
            tx.commit().await.unwrap();
            written
        }
    };
    // Before any relay runs: one dropped after its commit, then more
    // handovers than the queue holds.
    drop(write("dropped".into()).await);
    let queued: Vec<String> = (0..1_025).map(|i| format!("queued-{i:04}")).collect();
    for key in &queued {
        box_.publish_committed(write(key.clone()).await);
    }
    let stop = CancellationToken::new();
    let relay = spawn_relay(&store, &bus, &box_, &stop);
    testing::eventually(Duration::from_secs(30), "every event published", || async {
        (outbox::pending_count(&store).await.ok()? == 0).then_some(())
    })
    .await;
    assert_eq!(
        box_.handed_published(),
        1_024,
        "the queue's worth by handover"
    );
    let mut sent = received_keys(&mut raw).await;
    sent.sort();
    let mut expected = [vec!["dropped".to_string()], queued].concat();
    expected.sort();
    assert_eq!(sent, expected, "each published once");
    stop.cancel();
    relay.await.unwrap();
}

/// Handed-over events are marked sent by a task of their own, after the
/// publish: while the store's write lock is held by someone else the marks
/// wait, the events are published already, and the relay's polls (woken
/// again and again meanwhile) do not publish them a second time.
async fn handed_events_wait_for_their_marks_without_going_out_twice(db: TestDb, backend: Backend) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config(&nats, &db)).await.unwrap();
    bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    let (_client, mut raw) = raw_subscription(&nats).await;
    let box_ = Outbox::new("intake");
    let stop = CancellationToken::new();
    let relay = spawn_relay(&store, &bus, &box_, &stop);
    let keys: Vec<String> = (0..5).map(|i| format!("held-{i}")).collect();
    let mut tx = store.begin().await.unwrap();
    let written = box_
        .enqueue_written(&mut tx, lead_drafts(&keys))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Someone else holds the write lock: a write on SQLite (one writer),
    // the outbox table locked against updates on Postgres (reads go on).
    let mut holder = store.begin().await.unwrap();
    let hold = match backend {
        Backend::Sqlite => "UPDATE lw_outbox SET sent_at_ms = sent_at_ms WHERE id = ''",
        Backend::Postgres => "LOCK TABLE lw_outbox IN EXCLUSIVE MODE",
    };
    sqlx::query(hold).execute(&mut *holder).await.unwrap();
    box_.publish_committed(written);
    testing::eventually(Duration::from_secs(10), "five events acked", || async {
        (box_.handed_published() == 5).then_some(())
    })
    .await;
    for _ in 0..8 {
        box_.notify();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        outbox::pending_count(&store).await.unwrap(),
        5,
        "published, and the marks wait for the lock"
    );
    holder.rollback().await.unwrap();
    testing::eventually(Duration::from_secs(20), "the five marked sent", || async {
        (outbox::pending_count(&store).await.ok()? == 0).then_some(())
    })
    .await;
    let sent = received_keys(&mut raw).await;
    assert_eq!(sent, keys, "each published once, in commit order");
    stop.cancel();
    relay.await.unwrap();
}

#[tokio::test]
async fn handed_events_wait_for_their_marks_without_going_out_twice_sqlite() {
    handed_events_wait_for_their_marks_without_going_out_twice(TestDb::sqlite(), Backend::Sqlite)
        .await;
}

#[tokio::test]
async fn handed_events_wait_for_their_marks_without_going_out_twice_postgres() {
    on_postgres(|db| {
        handed_events_wait_for_their_marks_without_going_out_twice(db, Backend::Postgres)
    })
    .await;
}

#[tokio::test]
async fn a_handover_that_cannot_be_made_is_left_to_the_poll_sqlite() {
    a_handover_that_cannot_be_made_is_left_to_the_poll(TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_handover_that_cannot_be_made_is_left_to_the_poll_postgres() {
    on_postgres(a_handover_that_cannot_be_made_is_left_to_the_poll).await;
}

#[tokio::test]
async fn committed_events_are_published_as_handed_over_sqlite() {
    committed_events_are_published_as_handed_over(TestDb::sqlite()).await;
}

#[tokio::test]
async fn committed_events_are_published_as_handed_over_postgres() {
    on_postgres(committed_events_are_published_as_handed_over).await;
}

#[tokio::test]
async fn in_memory_sqlite_and_unknown_schemes_are_refused() {
    let err = Store::connect("sqlite::memory:", &NO_MIGRATIONS)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("in-memory"), "{err}");
    let err = Store::connect("mysql://x", &NO_MIGRATIONS)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unsupported"), "{err}");
}

/// A scratch SQLite file keeps a rollback journal, not a write-ahead log
/// (one write per page for a huge transaction), and a rollback still
/// undoes; a usual store is in WAL mode.
#[tokio::test]
async fn a_scratch_sqlite_file_has_no_write_ahead_log_and_still_rolls_back() {
    let journal_mode = |store: Store| async move {
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        sqlx::Row::try_get::<String, _>(&row, 0).unwrap()
    };
    let usual = TestDb::sqlite();
    let store = Store::connect(&usual.url, &NO_MIGRATIONS).await.unwrap();
    assert_eq!(journal_mode(store).await, "wal");

    let scratch = TestDb::sqlite();
    let store = Store::connect_scratch(&scratch.url, &NO_MIGRATIONS)
        .await
        .unwrap();
    assert_eq!(journal_mode(store.clone()).await, "delete");
    let mut tx = store.begin().await.unwrap();
    sqlx::query("CREATE TABLE kept (n INTEGER)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    sqlx::query("INSERT INTO kept (n) VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let rows = sqlx::query("SELECT n FROM kept")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(rows.is_empty(), "the rollback undid the insert");
}

/// A writer outside `begin` (the reporting rebuild's switch) waits in the
/// same queue as the process's transactions on SQLite: not while one is
/// open, at once after; in turn before a writer that came later.
#[tokio::test]
async fn a_write_turn_queues_with_the_transactions_on_sqlite() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let tx = store.begin().await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(200), store.write_turn()).await;
    assert!(waiting.is_err(), "a turn while a transaction is open");
    let turn = store.clone();
    let turn = tokio::spawn(async move { turn.write_turn().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.rollback().await.unwrap();
    let turn = tokio::time::timeout(Duration::from_secs(5), turn)
        .await
        .expect("the turn after the transaction")
        .unwrap();
    assert!(turn.is_some(), "SQLite writers queue");
    let later = tokio::time::timeout(Duration::from_millis(200), store.begin()).await;
    assert!(later.is_err(), "a transaction while the turn is held");
    drop(turn);
    store.begin().await.expect("a transaction after the turn");
}

#[tokio::test]
async fn postgres_has_no_write_turn() {
    on_postgres(|db| async move {
        let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
        let _tx = store.begin().await.unwrap();
        assert!(store.write_turn().await.is_none());
    })
    .await;
}

/// On SQLite transactions write through a connection that never
/// checkpoints (nor waits for one), and a task of the store copies the
/// log into the file beside it: the file grows only by checkpoints, so
/// rows committed through `begin` reach it without anyone else writing.
#[tokio::test]
async fn sqlite_checkpoints_off_the_writers_path() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let path = db.url.trim_start_matches("sqlite://").to_string();
    let mut tx = store.begin().await.unwrap();
    let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(autocheckpoint, 0, "the write connection checkpoints itself");
    create_filler(&mut tx).await;
    // About 8 MB: past SQLite's own threshold (1,000 pages) eight times.
    add_filler(&mut tx, 2_000).await;
    tx.commit().await.unwrap();
    let file_size = || std::fs::metadata(&path).unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while file_size() < 8_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log was not checkpointed into the file ({} bytes)",
            file_size()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Under a steady stream of transactions the log still starts over: the
/// checkpoint task copies its last frames between two transactions once
/// it holds more than 16 MiB, so it never holds all that was written.
#[tokio::test]
async fn sqlite_log_starts_over_under_steady_writes() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    let mut tx = store.begin().await.unwrap();
    create_filler(&mut tx).await;
    tx.commit().await.unwrap();
    // Transactions of ~200 KB one after another, never a pause, for 2.5 s
    // (several of the checkpoint task's rounds however fast the machine
    // writes) and at least 64 MB.
    let mut written = 0_u64;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2_500) || written < 64 << 20 {
        let mut tx = store.begin().await.unwrap();
        written += add_filler(&mut tx, 50).await;
        tx.commit().await.unwrap();
    }
    let wal_size = std::fs::metadata(&wal).unwrap().len();
    // Never started over, it would hold every frame written (each page
    // with its frame header: more than `written`).
    assert!(
        wal_size < written,
        "the log holds {wal_size} bytes of the {written} written: it never started over"
    );
}

/// SQLite's write connection is held by the store, not a pool: a
/// transaction dropped open is rolled back and the next one gets the
/// connection; a savepoint inside one rolls back alone; once the store
/// is closed, `begin` fails instead of waiting.
#[tokio::test]
async fn sqlite_write_connection_survives_dropped_transactions() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    create_filler(&mut tx).await;
    tx.commit().await.unwrap();

    let mut dropped = store.begin().await.unwrap();
    add_filler(&mut dropped, 1).await;
    drop(dropped);
    let mut tx = tokio::time::timeout(Duration::from_secs(5), store.begin())
        .await
        .expect("the next transaction gets the write connection")
        .unwrap();
    assert_eq!(
        count(&mut tx).await.unwrap(),
        0,
        "the dropped insert was rolled back"
    );

    add_filler(&mut tx, 1).await;
    {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO filler (body) VALUES ('inner')")
            .execute(&mut *savepoint)
            .await
            .unwrap();
        savepoint.rollback().await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut read = store.pool().acquire().await.unwrap();
    assert_eq!(
        count(&mut read).await.unwrap(),
        1,
        "only the savepoint's insert was undone"
    );
    drop(read);

    store.close().await;
    let closed = tokio::time::timeout(Duration::from_secs(5), store.begin())
        .await
        .expect("begin on a closed store answers at once");
    assert!(matches!(closed, Err(sqlx::Error::PoolClosed)), "{closed:?}");
}

async fn count(conn: &mut sqlx::AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM filler")
        .fetch_one(conn)
        .await
}

async fn create_filler(tx: &mut leadwheel_plumbing::Tx) {
    sqlx::query("CREATE TABLE filler (body TEXT NOT NULL)")
        .execute(&mut **tx)
        .await
        .unwrap();
}

/// Inserts `rows` rows of 4,000 bytes; the bytes written.
async fn add_filler(tx: &mut leadwheel_plumbing::Tx, rows: u64) -> u64 {
    for _ in 0..rows {
        sqlx::query("INSERT INTO filler (body) VALUES ($1)")
            .bind("x".repeat(4_000))
            .execute(&mut **tx)
            .await
            .unwrap();
    }
    rows * 4_000
}

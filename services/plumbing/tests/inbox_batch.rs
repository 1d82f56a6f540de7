//! The inbox consumer applies events already waiting in one transaction,
//! each in its own savepoint: an event that fails is rolled back alone
//! (retried when transient, terminated when permanent) while the others
//! commit exactly once; a handler that applies a batch at once falls back
//! to one event at a time when the batch fails. Run against SQLite and
//! Postgres.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadwheel_plumbing::bus::{Bus, EventDraft, INTAKE_STREAM};
use leadwheel_plumbing::inbox::{self, ConsumerSpec, EventHandler, HandlerError};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::store::Store;
use leadwheel_plumbing::testing::{self, NatsServer, TestDb};
use leadwheel_plumbing::{Event, Tx, on_both_backends};
use leadwheel_proto::events::v1::LeadCreated;
use sqlx::Row;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

/// Writes a marker row (an outbox row keyed by the event's key) for every
/// event, then fails `transient_once` the first time and `permanent` always,
/// after writing, so a rollback that leaked would leave a marker behind.
struct Marking {
    outbox: Outbox,
    transient_once: &'static str,
    permanent: &'static str,
    attempts: Arc<Mutex<HashMap<String, usize>>>,
}

impl EventHandler for Marking {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let key = event.envelope.key.clone();
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let marker = LeadCreated {
            lead_id: key.clone(),
            ..Default::default()
        };
        self.outbox
            .enqueue(tx, EventDraft::new("test.applied", &key, &marker))
            .await
            .map_err(|err| HandlerError::Transient(err.into()))?;
        if key == self.transient_once && attempt == 1 {
            return Err(HandlerError::Transient(anyhow::anyhow!("not yet")));
        }
        if key == self.permanent {
            return Err(HandlerError::Permanent(anyhow::anyhow!("never")));
        }
        Ok(())
    }
}

async fn markers(store: &Store) -> Vec<String> {
    let rows = sqlx::query("SELECT subject, envelope FROM lw_outbox ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.iter()
        .filter(|row| row.get::<String, _>("subject") == "test.applied")
        .map(|row| {
            let envelope: Vec<u8> = row.get("envelope");
            let envelope =
                <leadwheel_proto::events::v1::Envelope as prost::Message>::decode(&envelope[..])
                    .unwrap();
            envelope.key
        })
        .collect()
}

async fn a_failing_event_is_rolled_back_alone(db: TestDb) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let config = testing::service_config("intake", &nats.url(), &db.url);
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config).await.unwrap();
    // Every event is on the stream before the consumer starts, so they
    // arrive together and share a transaction.
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5"];
    publish_keys(&nats, &keys).await;
    let outbox = Outbox::new("test");
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler = Marking {
        outbox: outbox.clone(),
        transient_once: "k2",
        permanent: "k3",
        attempts: attempts.clone(),
    };
    let cancel = CancellationToken::new();
    let consumer = tokio::spawn(inbox::run_consumer(
        bus.clone(),
        store.clone(),
        outbox,
        ConsumerSpec {
            durable: "test-batch".into(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec![],
        },
        handler,
        cancel.clone(),
    ));

    // k2 comes back after its nak delay (1 s) and then applies.
    testing::eventually(Duration::from_secs(20), "5 events applied", || {
        let store = store.clone();
        async move {
            let applied = markers(&store).await;
            (applied.len() >= 5).then_some(())
        }
    })
    .await;
    // Every event acked or terminated: nothing can be redelivered now.
    testing::wait_consumer_done(&nats.url(), &INTAKE_STREAM, "test-batch").await;
    let mut applied = markers(&store).await;
    applied.sort();
    assert_eq!(
        applied,
        vec!["k0", "k1", "k2", "k4", "k5"],
        "each once, k3 never"
    );
    let inbox_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM lw_inbox WHERE consumer = 'test-batch'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        inbox_rows, 5,
        "the terminated event is not recorded as processed"
    );
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(
        attempts.get("k2"),
        Some(&2),
        "k2 retried once: {attempts:?}"
    );
    assert_eq!(
        attempts.get("k3"),
        Some(&1),
        "a terminated event is never redelivered: {attempts:?}"
    );
    cancel.cancel();
    consumer.await.unwrap();
}

on_both_backends!(a_failing_event_is_rolled_back_alone);

/// Applies a whole batch at once ([`EventHandler::handle_all`]), writing a
/// marker per event, and fails the batch (after writing) when it holds
/// `poison`; one at a time, `poison` fails for good. Counts both paths.
struct AtOnce {
    outbox: Outbox,
    poison: &'static str,
    one_at_a_time: Arc<AtomicUsize>,
    at_once: Arc<AtomicUsize>,
}

impl AtOnce {
    async fn mark(&self, tx: &mut Tx, key: &str) -> Result<(), HandlerError> {
        let marker = LeadCreated {
            lead_id: key.into(),
            ..Default::default()
        };
        self.outbox
            .enqueue(tx, EventDraft::new("test.applied", key, &marker))
            .await
            .map_err(|err| HandlerError::Transient(err.into()))?;
        Ok(())
    }
}

impl EventHandler for AtOnce {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.one_at_a_time.fetch_add(1, Ordering::SeqCst);
        if event.envelope.key == self.poison {
            return Err(HandlerError::Permanent(anyhow::anyhow!("never")));
        }
        self.mark(tx, &event.envelope.key).await
    }

    fn handles_all(&self) -> bool {
        true
    }

    async fn handle_all(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), HandlerError> {
        for event in events {
            self.mark(tx, &event.envelope.key).await?;
        }
        if events.iter().any(|e| e.envelope.key == self.poison) {
            return Err(HandlerError::Permanent(anyhow::anyhow!("poisoned batch")));
        }
        self.at_once.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn publish_keys(nats: &NatsServer, keys: &[&str]) {
    for key in keys {
        let payload = LeadCreated {
            lead_id: key.to_string(),
            ..Default::default()
        };
        testing::publish_event(
            &nats.url(),
            &INTAKE_STREAM,
            "intake.lead.created",
            key,
            &payload,
        )
        .await
        .unwrap();
    }
}

/// Events waiting together go to a handler that applies batches at once in
/// one call, each applied once and recorded; a batch that fails there
/// (a poisoned event) is applied again one event at a time, the poisoned
/// one terminated alone and nothing of the failed attempt kept.
async fn a_batch_applied_at_once_falls_back_one_at_a_time(db: TestDb) {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let config = testing::service_config("intake", &nats.url(), &db.url);
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config).await.unwrap();
    let one_at_a_time = Arc::new(AtomicUsize::new(0));
    let at_once = Arc::new(AtomicUsize::new(0));
    // Its own name per backend: the batches' metric is counted per
    // consumer in this process, where both backends' tests run.
    let durable = if db.url.starts_with("postgres") {
        "test-at-once-pg"
    } else {
        "test-at-once-lite"
    };
    let batches = |how: &str| {
        leadwheel_plumbing::metrics::PLUMBING
            .inbox_batches
            .get_or_create(&leadwheel_plumbing::metrics::labels(&[
                ("consumer", durable),
                ("how", how),
            ]))
            .get()
    };
    let run = |keys_before: Vec<&'static str>| {
        let (bus, store, nats_url) = (bus.clone(), store.clone(), nats.url());
        let (one_at_a_time, at_once) = (one_at_a_time.clone(), at_once.clone());
        async move {
            let outbox = Outbox::new("test");
            let handler = AtOnce {
                outbox: outbox.clone(),
                poison: "b2",
                one_at_a_time,
                at_once,
            };
            let cancel = CancellationToken::new();
            let consumer = tokio::spawn(inbox::run_consumer(
                bus,
                store.clone(),
                outbox,
                ConsumerSpec {
                    durable: durable.into(),
                    stream: &INTAKE_STREAM,
                    filter_subjects: vec![],
                },
                handler,
                cancel.clone(),
            ));
            testing::eventually(Duration::from_secs(20), "the events applied", || {
                let store = store.clone();
                let keys_before = keys_before.clone();
                async move {
                    let applied = markers(&store).await;
                    keys_before
                        .iter()
                        .all(|k| applied.iter().any(|a| a == k))
                        .then_some(())
                }
            })
            .await;
            testing::wait_consumer_done(&nats_url, &INTAKE_STREAM, durable).await;
            cancel.cancel();
            consumer.await.unwrap();
        }
    };

    // Waiting before the consumer starts, so they arrive together.
    publish_keys(&nats, &["a0", "a1", "a2", "a3", "a4", "a5"]).await;
    run(vec!["a0", "a1", "a2", "a3", "a4", "a5"]).await;
    assert!(at_once.load(Ordering::SeqCst) >= 1, "applied at once");
    // The events usually arrive in one batch, but the client may hand the
    // first over before the rest are in (seen under CI's load): a batch
    // of one goes through `handle`, and only such a batch may.
    assert_eq!(
        one_at_a_time.load(Ordering::SeqCst) as u64,
        batches("one_at_a_time"),
        "one at a time only as batches of one"
    );
    assert!(batches("at_once") >= 1, "counted at once");
    assert_eq!(batches("redone"), 0, "none counted redone");

    publish_keys(&nats, &["b0", "b1", "b2", "b3"]).await;
    run(vec!["b0", "b1", "b3"]).await;
    assert!(
        one_at_a_time.load(Ordering::SeqCst) >= 4,
        "the poisoned batch applied again one event at a time"
    );
    assert!(batches("redone") >= 1, "the poisoned batch counted redone");
    let mut applied = markers(&store).await;
    applied.sort();
    assert_eq!(
        applied,
        ["a0", "a1", "a2", "a3", "a4", "a5", "b0", "b1", "b3"],
        "each once, the poisoned event never, nothing of the failed batch"
    );
    let inbox_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lw_inbox WHERE consumer = $1")
        .bind(durable)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(inbox_rows, 9, "the terminated event is not recorded");
}

on_both_backends!(a_batch_applied_at_once_falls_back_one_at_a_time);

/// Records which of two processes applied each event; `yields` says
/// whether it leaves them to the other.
struct Yielding {
    name: &'static str,
    yields: Arc<std::sync::atomic::AtomicBool>,
    applied: Arc<Mutex<Vec<(&'static str, String)>>>,
}

impl EventHandler for Yielding {
    async fn handle(&self, _tx: &mut Tx, _event: &Event) -> Result<(), HandlerError> {
        Ok(())
    }

    fn after_commit(&self, event: &Event) {
        self.applied
            .lock()
            .unwrap()
            .push((self.name, event.envelope.key.clone()));
    }

    fn yields(&self) -> bool {
        self.yields.load(Ordering::SeqCst)
    }
}

/// Two processes on one durable consumer: while one yields, the other
/// applies every event; when they swap, events the second had received
/// are given back and the first applies them; each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yielding_consumer_leaves_its_events_to_another() {
    testing::init_test_logs();
    let nats = NatsServer::start().unwrap();
    let db = TestDb::sqlite();
    let config = testing::service_config("intake", &nats.url(), &db.url);
    let store = Store::connect(&db.url, &NO_MIGRATIONS).await.unwrap();
    let bus = Bus::connect(&config).await.unwrap();
    let applied = Arc::new(Mutex::new(Vec::new()));
    let cancel = CancellationToken::new();
    let spawn = |name: &'static str, yields: bool| {
        let yields = Arc::new(std::sync::atomic::AtomicBool::new(yields));
        let outbox = Outbox::new("test");
        let handler = Yielding {
            name,
            yields: yields.clone(),
            applied: applied.clone(),
        };
        let task = tokio::spawn(inbox::run_consumer(
            bus.clone(),
            store.clone(),
            outbox,
            ConsumerSpec {
                durable: "test-yield".into(),
                stream: &INTAKE_STREAM,
                filter_subjects: vec![],
            },
            handler,
            cancel.clone(),
        ));
        (yields, task)
    };
    let (first_yields, first) = spawn("first", true);
    let (second_yields, second) = spawn("second", false);
    let keys_applied = |want: usize| {
        let applied = applied.clone();
        async move {
            testing::eventually(Duration::from_secs(20), "the events applied", || {
                let applied = applied.clone();
                async move { (applied.lock().unwrap().len() >= want).then_some(()) }
            })
            .await
        }
    };

    publish_keys(&nats, &["y0", "y1", "y2", "y3"]).await;
    keys_applied(4).await;
    // The second is pulling; now it yields and the first takes over.
    second_yields.store(true, Ordering::SeqCst);
    first_yields.store(false, Ordering::SeqCst);
    publish_keys(&nats, &["z0", "z1", "z2", "z3"]).await;
    keys_applied(8).await;
    testing::wait_consumer_done(&nats.url(), &INTAKE_STREAM, "test-yield").await;

    let applied = applied.lock().unwrap().clone();
    let by = |name: &str| -> Vec<String> {
        let mut keys: Vec<String> = applied
            .iter()
            .filter(|(who, _)| *who == name)
            .map(|(_, key)| key.clone())
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(by("second"), ["y0", "y1", "y2", "y3"], "{applied:?}");
    assert_eq!(by("first"), ["z0", "z1", "z2", "z3"], "{applied:?}");
    cancel.cancel();
    first.await.unwrap();
    second.await.unwrap();
}

//! The inbox consumer applies events already waiting in one transaction,
//! each in its own savepoint: an event that fails is rolled back alone
//! (retried when transient, terminated when permanent) while the others
//! commit exactly once. Run against SQLite and Postgres.

use std::collections::HashMap;
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
    for key in keys {
        let payload = LeadCreated {
            lead_id: key.into(),
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

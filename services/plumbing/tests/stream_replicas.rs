//! Stream replicas on a real 3-node JetStream cluster: the owning service
//! creates its stream with `LEADWHEEL_STREAM_REPLICAS` copies and keeps it
//! there across restarts; a consumer making sure the stream exists never
//! changes them; a durable consumer created the way the services create
//! theirs (no replica count of its own) follows the stream's.

use std::time::Duration;

use async_nats::jetstream;
use leadwheel_plumbing::bus::{Bus, INTAKE_STREAM, StreamSpec};
use leadwheel_plumbing::inbox::{ConsumerSpec, EventHandler, HandlerError, run_consumer};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::retention::Retention;
use leadwheel_plumbing::store::{Store, Tx};
use leadwheel_plumbing::testing::{self, NatsCluster, TestDb};
use leadwheel_plumbing::{Event, Runtime};
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

const WAIT: Duration = Duration::from_secs(30);

/// The stream's configured replicas and the members of its RAFT group.
async fn stream_replicas(cluster: &NatsCluster, spec: &StreamSpec) -> (usize, usize) {
    let client = async_nats::connect(cluster.nodes[0].url()).await.unwrap();
    let js = jetstream::new(client);
    let mut stream = js.get_stream(spec.name).await.unwrap();
    let info = stream.info().await.unwrap();
    let members = info.cluster.as_ref().map_or(0, |c| c.replicas.len() + 1);
    (info.config.num_replicas, members)
}

/// Waits until the stream is configured for `replicas` and its group has
/// that many members (a scale-up completes in the background).
async fn wait_stream_replicas(cluster: &NatsCluster, spec: &StreamSpec, replicas: usize) {
    testing::eventually(
        WAIT,
        &format!("{} at {replicas} replicas", spec.name),
        || async { (stream_replicas(cluster, spec).await == (replicas, replicas)).then_some(()) },
    )
    .await;
}

/// The members of a durable consumer's RAFT group (its leader and replicas).
async fn consumer_members(cluster: &NatsCluster, spec: &StreamSpec, durable: &str) -> usize {
    let client = async_nats::connect(cluster.nodes[0].url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream(spec.name).await.unwrap();
    let mut consumer: jetstream::consumer::PullConsumer =
        stream.get_consumer(durable).await.unwrap();
    let info = consumer.info().await.unwrap();
    info.cluster.as_ref().map_or(0, |c| c.replicas.len() + 1)
}

struct Ignore;

impl EventHandler for Ignore {
    async fn handle(&self, _tx: &mut Tx, _event: &Event) -> Result<(), HandlerError> {
        Ok(())
    }
}

async fn owner(cluster: &NatsCluster, db: &TestDb, replicas: usize) -> Runtime {
    let mut config = testing::service_config("intake", &cluster.url(), &db.url);
    config.retention = Retention {
        stream_replicas: replicas,
        ..Retention::default()
    };
    Runtime::start(config, &NO_MIGRATIONS, Some(&INTAKE_STREAM))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_r3_and_consumers_never_change_it() {
    testing::init_test_logs();
    let cluster = NatsCluster::start().await.unwrap();

    // A consumer starts first: it creates the stream (one replica) and its
    // durable consumer, as every service does.
    let consumer_db = TestDb::sqlite();
    let consumer_config = testing::service_config("wheel", &cluster.url(), &consumer_db.url);
    let consumer_bus = Bus::connect(&consumer_config).await.unwrap();
    consumer_bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    assert_eq!(stream_replicas(&cluster, &INTAKE_STREAM).await, (1, 1));
    let consumer_store = Store::connect(&consumer_db.url, &NO_MIGRATIONS)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(run_consumer(
        consumer_bus.clone(),
        consumer_store,
        Outbox::new("wheel"),
        ConsumerSpec {
            durable: "wheel-intake".into(),
            stream: &INTAKE_STREAM,
            filter_subjects: vec!["intake.lead.created".into()],
        },
        Ignore,
        stop.clone(),
    ));
    testing::eventually(WAIT, "the durable consumer", || async {
        let client = async_nats::connect(cluster.nodes[0].url()).await.ok()?;
        let stream = jetstream::new(client)
            .get_stream(INTAKE_STREAM.name)
            .await
            .ok()?;
        stream
            .get_consumer::<jetstream::consumer::pull::Config>("wheel-intake")
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    // The owner starts with LEADWHEEL_STREAM_REPLICAS=3: the stream goes
    // to three copies, and the durable consumer follows it.
    let owner_db = TestDb::sqlite();
    let first = owner(&cluster, &owner_db, 3).await;
    assert_eq!(stream_replicas(&cluster, &INTAKE_STREAM).await.0, 3);
    wait_stream_replicas(&cluster, &INTAKE_STREAM, 3).await;
    testing::eventually(WAIT, "the consumer at three replicas", || async {
        (consumer_members(&cluster, &INTAKE_STREAM, "wheel-intake").await == 3).then_some(())
    })
    .await;

    // The consumer making sure the stream exists leaves it at three.
    consumer_bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    assert_eq!(stream_replicas(&cluster, &INTAKE_STREAM).await, (3, 3));

    // Events published now land in the R3 stream.
    testing::publish_event(
        &cluster.nodes[1].url(),
        &INTAKE_STREAM,
        "intake.lead.created",
        "lead-1",
        &leadwheel_proto::events::v1::LeadCreated::default(),
    )
    .await
    .unwrap();

    // The owner restarts with the same setting: still three, nothing lost.
    drop(first);
    let _second = owner(&cluster, &owner_db, 3).await;
    assert_eq!(stream_replicas(&cluster, &INTAKE_STREAM).await, (3, 3));
    consumer_bus.ensure_stream(&INTAKE_STREAM).await.unwrap();
    assert_eq!(stream_replicas(&cluster, &INTAKE_STREAM).await, (3, 3));
    assert_eq!(
        testing::read_stream(&cluster.nodes[2].url(), &INTAKE_STREAM, "")
            .await
            .len(),
        1
    );
    assert_eq!(
        consumer_members(&cluster, &INTAKE_STREAM, "wheel-intake").await,
        3
    );
    stop.cancel();
}

/// The cluster helper itself: a node killed with SIGKILL leaves an R3
/// stream writable and readable, and the restarted node catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_survives_a_killed_node() {
    testing::init_test_logs();
    let mut cluster = NatsCluster::start().await.unwrap();
    let db = TestDb::sqlite();
    let config = testing::service_config("intake", &cluster.url(), &db.url);
    let bus = Bus::connect(&config).await.unwrap();
    bus.configure_stream(&INTAKE_STREAM, None, 3).await.unwrap();
    let publish = |url: String, key: &'static str| async move {
        testing::publish_event(
            &url,
            &INTAKE_STREAM,
            "intake.lead.created",
            key,
            &leadwheel_proto::events::v1::LeadCreated::default(),
        )
        .await
    };
    publish(cluster.nodes[0].url(), "before").await.unwrap();
    cluster.kill(0);
    // Publishing through a live node goes on (a new stream leader is
    // elected if the killed node led it).
    testing::eventually(WAIT, "a publish with a node down", || {
        let url = cluster.nodes[1].url();
        async move { publish(url, "during").await.ok() }
    })
    .await;
    assert_eq!(
        testing::read_stream(&cluster.nodes[2].url(), &INTAKE_STREAM, "")
            .await
            .len(),
        2
    );
    cluster.restart(0).await.unwrap();
    cluster.wait_ready(WAIT).await.unwrap();
    testing::eventually(WAIT, "the restarted node to catch up", || async {
        let client = async_nats::connect(cluster.nodes[0].url()).await.ok()?;
        let mut stream = jetstream::new(client)
            .get_stream(INTAKE_STREAM.name)
            .await
            .ok()?;
        let info = stream.info().await.ok()?;
        let cluster_info = info.cluster.as_ref()?;
        (info.state.messages == 2
            && cluster_info.replicas.len() == 2
            && cluster_info
                .replicas
                .iter()
                .all(|p| p.current && !p.offline))
        .then_some(())
    })
    .await;
}

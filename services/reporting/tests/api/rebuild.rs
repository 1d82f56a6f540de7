//! Rebuild: the streams replayed into fresh tables and switched in give the
//! incrementally built numbers again; until the switch the reports answer
//! from the old tables; events arriving during the rebuild count once.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::OPPS_STREAM;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually, wait_consumer_done};
use leadwheel_proto::reporting::v1::{
    GetFiveQuestionsRequest, GetRebuildProgressRequest, GetRebuildProgressResponse, RebuildRequest,
};
use sqlx::Row;

use crate::helpers::{Client, Env, WAIT, spawn_app};
use crate::sales::{all_numbers, publish_and_wait, week};
use crate::script::{self, CY, Script, Scripted, at};

/// Events that make the replay last long enough to read reports during it.
const FILLER: usize = 1500;

/// `n` emails on a September day: work for the replay that no number of
/// [`all_numbers`] depends on.
fn filler(n: usize) -> Vec<Scripted> {
    let mut s = Script::default();
    for i in 0..n {
        s.activity(&format!("fill{i}"), "email", CY, at("2026-09-15", 10));
    }
    rename(s.events, "fill")
}

/// `n` calls by cy on 2026-12-02: counted in that week's five questions.
fn december_calls(n: usize) -> Vec<Scripted> {
    let mut s = Script::default();
    for i in 0..n {
        s.activity(&format!("dec{i}"), "call", CY, at("2026-12-02", 10));
    }
    rename(s.events, "dec")
}

/// Event ids of their own (every script numbers its events from 1).
fn rename(events: Vec<Scripted>, prefix: &str) -> Vec<Scripted> {
    events
        .into_iter()
        .map(|mut event| {
            event.id = format!("{prefix}-{}", event.id);
            event.msg_id = event.id.clone();
            event
        })
        .collect()
}

async fn progress(admin: &Client) -> GetRebuildProgressResponse {
    admin
        .clone()
        .get_rebuild_progress(GetRebuildProgressRequest {})
        .await
        .expect("GetRebuildProgress")
        .into_inner()
}

async fn december_week_calls(admin: &Client) -> i64 {
    let five = admin
        .clone()
        .get_five_questions(GetFiveQuestionsRequest {
            period: week("2026-12-02"),
            ..Default::default()
        })
        .await
        .expect("GetFiveQuestions")
        .into_inner();
    five.current
        .map(|answers| answers.calls)
        .unwrap_or_default()
}

/// The service's `reporting_*` tables, from the database's catalog.
async fn reporting_tables(store: &leadwheel_plumbing::Store) -> Vec<String> {
    let sql = match store.backend() {
        leadwheel_plumbing::store::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'reporting_%'"
        }
        leadwheel_plumbing::store::Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name LIKE 'reporting_%'"
        }
    };
    let rows = sqlx::query(sql)
        .fetch_all(store.pool())
        .await
        .expect("reading the catalog");
    let mut names: Vec<String> = rows
        .iter()
        .map(|row| row.try_get("name").expect("a name"))
        .collect();
    names.sort();
    names
}

/// Numbers damaged behind the service's back come back equal to the
/// incrementally built ones after a rebuild; during it the reports answer
/// the old (damaged) numbers; calls logged during it count exactly once.
async fn rebuild_equals_incremental(db: TestDb) {
    let url = db.url.clone();
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    // The filler first, with time to apply it under load (the shared
    // helper allows the short script 15 s).
    script::publish_all(&app.nats_url, &filler(FILLER)).await;
    let admin = app.client("root", Role::Admin).await;
    eventually(WAIT * 4, "the filler applied", || {
        let admin = admin.clone();
        async move {
            let done = progress(&admin)
                .await
                .consumers
                .iter()
                .all(|c| c.pending == 0);
            done.then_some(())
        }
    })
    .await;
    publish_and_wait(&app, &script::november()).await;
    let built = all_numbers(&admin).await;
    assert_eq!(december_week_calls(&admin).await, 1, "the sentinel call");
    // Damage: 100 calls ana never made, and a deal that does not exist.
    let store = leadwheel_plumbing::Store::connect(&url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    for table in reporting_tables(&store).await {
        assert!(
            leadwheel_reporting::rebuild::READ_MODELS.contains(&table.as_str())
                || leadwheel_reporting::rebuild::KEPT.contains(&table.as_str()),
            "{table} is neither rebuilt (READ_MODELS) nor kept (KEPT)"
        );
    }
    sqlx::query(
        "UPDATE reporting_daily SET events = events + 100 WHERE day = '2026-11-03' \
         AND rep_id = 'ana' AND metric = 'activity' AND dim = 'call'",
    )
    .execute(store.pool())
    .await
    .expect("damaging");
    sqlx::query(
        "INSERT INTO reporting_open (team_id, rep_id, stage, currency, close_date, category, \
         deals, amount_minor, weighted_minor) \
         VALUES ('north', 'bo', 'trial', 'EUR', '2026-11-27', 'pipeline', 1, 5, 5)",
    )
    .execute(store.pool())
    .await
    .expect("damaging");
    let damaged = all_numbers(&admin).await;
    assert_ne!(damaged, built);
    assert_eq!(progress(&admin).await.state, "idle");

    let ana = app.client("ana", Role::Rep).await;
    let refused = ana
        .clone()
        .rebuild(RebuildRequest {})
        .await
        .expect_err("only admins rebuild");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let started = admin
        .clone()
        .rebuild(RebuildRequest {})
        .await
        .expect("Rebuild")
        .into_inner();
    assert_eq!(started.state, "replaying");
    let again = admin
        .clone()
        .rebuild(RebuildRequest {})
        .await
        .expect_err("one rebuild at a time");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);

    // Calls logged while the rebuild runs: some reach the replay, some
    // only the durable consumer, some both; each must count once.
    let late = december_calls(20);
    let publisher = {
        let nats_url = app.nats_url.clone();
        tokio::spawn(async move { script::publish_all(&nats_url, &late).await })
    };
    let mut seen_replaying = 0;
    let finished = tokio::time::timeout(WAIT * 4, async {
        loop {
            let numbers = all_numbers(&admin).await;
            let status = progress(&admin).await;
            match status.state.as_str() {
                // Read before the switch began: the old tables.
                "replaying" => {
                    assert_eq!(numbers, damaged, "reports changed before the switch");
                    seen_replaying += 1;
                }
                "switching" => {}
                "done" => return status,
                other => panic!("rebuild state {other}: {}", status.error),
            }
        }
    })
    .await
    .expect("the rebuild never finished");
    assert!(seen_replaying > 0, "no report was read during the replay");
    assert!(finished.events >= FILLER as i64, "{finished:?}");
    assert!(
        finished.consumers.iter().all(|c| c.pending == 0),
        "{finished:?}"
    );
    assert_eq!(all_numbers(&admin).await, built, "rebuilt numbers");

    publisher.await.expect("publishing the late calls");
    eventually(WAIT, "the late calls counted", || {
        let admin = admin.clone();
        async move { (december_week_calls(&admin).await == 21).then_some(()) }
    })
    .await;
    wait_consumer_done(&app.nats_url, &OPPS_STREAM, "reporting-opps").await;
    assert_eq!(december_week_calls(&admin).await, 21, "each late call once");
    assert_eq!(all_numbers(&admin).await, built);

    // The fresh store is gone.
    let leftover = match store.backend() {
        leadwheel_plumbing::store::Backend::Sqlite => {
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default();
            std::path::Path::new(&format!("{path}.rebuild")).exists()
        }
        leadwheel_plumbing::store::Backend::Postgres => sqlx::query(
            "SELECT CAST(schema_name AS TEXT) AS schema_name FROM information_schema.schemata \
             WHERE schema_name = 'reporting_rebuild'",
        )
        .fetch_optional(store.pool())
        .await
        .expect("reading schemas")
        .is_some(),
    };
    assert!(!leftover, "the rebuild's fresh store was left behind");
    store.close().await;
    app.stop().await;
}

on_both_backends!(rebuild_equals_incremental);

/// Where each durable consumer starts, and each stream's last sequence.
async fn consumer_starts(
    nats_url: &str,
) -> Vec<(
    &'static str,
    async_nats::jetstream::consumer::DeliverPolicy,
    u64,
)> {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connecting to NATS");
    let jetstream = async_nats::jetstream::new(client);
    let mut starts = Vec::new();
    for (durable, spec) in leadwheel_reporting::CONSUMERS {
        let mut stream = jetstream.get_stream(spec.name).await.expect("a stream");
        let last = stream
            .info()
            .await
            .expect("stream info")
            .state
            .last_sequence;
        let info = stream.consumer_info(durable).await.expect("consumer info");
        starts.push((durable, info.config.deliver_policy, last));
    }
    starts
}

/// After a rebuild the durable consumers start past the events the live
/// tables now hold (a consumer that lagged behind the replay does not read
/// them all again to skip them); they go on applying new events, also
/// after a restart, and nothing counts twice.
async fn a_rebuild_moves_the_durable_consumers_past_the_replay(db: TestDb) {
    use async_nats::jetstream::consumer::DeliverPolicy;
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let admin = app.client("root", Role::Admin).await;
    let built = all_numbers(&admin).await;
    for (durable, policy, _) in consumer_starts(&app.nats_url).await {
        assert_eq!(policy, DeliverPolicy::All, "{durable} before any rebuild");
    }
    admin
        .clone()
        .rebuild(RebuildRequest {})
        .await
        .expect("Rebuild");
    eventually(WAIT * 4, "the rebuild done", || {
        let admin = admin.clone();
        async move {
            let status = progress(&admin).await;
            assert_ne!(status.state, "failed", "{}", status.error);
            (status.state == "done").then_some(())
        }
    })
    .await;
    // Nothing was published during the rebuild: each consumer starts right
    // after its stream's last event.
    for (durable, policy, last) in consumer_starts(&app.nats_url).await {
        assert_eq!(
            policy,
            DeliverPolicy::ByStartSequence {
                start_sequence: last + 1
            },
            "{durable} after the rebuild"
        );
    }
    assert_eq!(all_numbers(&admin).await, built, "rebuilt numbers");

    // New events reach the moved consumers, once each.
    script::publish_all(&app.nats_url, &december_calls(3)).await;
    eventually(WAIT, "the calls after the rebuild counted", || {
        let admin = admin.clone();
        async move { (december_week_calls(&admin).await == 4).then_some(()) }
    })
    .await;
    let moved = consumer_starts(&app.nats_url).await;
    app.stop().await;

    // A restarted service keeps the consumers' start (the server would
    // refuse to change it) and goes on from where they were.
    let app = spawn_app(&env).await;
    let admin = app.client("root", Role::Admin).await;
    let mut later = Script::default();
    later.activity("after-restart", "call", CY, at("2026-12-03", 11));
    script::publish_all(&app.nats_url, &rename(later.events, "restart")).await;
    eventually(WAIT, "the call after the restart counted", || {
        let admin = admin.clone();
        async move { (december_week_calls(&admin).await == 5).then_some(()) }
    })
    .await;
    for ((durable, policy, _), (_, before, _)) in
        consumer_starts(&app.nats_url).await.into_iter().zip(moved)
    {
        assert_eq!(policy, before, "{durable} after a restart");
    }
    wait_consumer_done(&app.nats_url, &OPPS_STREAM, "reporting-opps").await;
    assert_eq!(december_week_calls(&admin).await, 5, "each call once");
    app.stop().await;
}

on_both_backends!(a_rebuild_moves_the_durable_consumers_past_the_replay);

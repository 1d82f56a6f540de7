//! Rebuild, row by row: the folded replay writes exactly the rows the
//! durable consumers wrote, for the scripted month shuffled with every
//! event redelivered (the same id twice in a stream) and every fact
//! announced again under a new id.

use std::collections::BTreeMap;

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, wait_consumer_done};
use leadwheel_proto::events::v1::{AssignedVia, OfferOutcome};
use leadwheel_proto::reporting::v1::{GetRebuildProgressRequest, RebuildRequest};
use leadwheel_reporting::rebuild::READ_MODELS;
use sqlx::Row;

use crate::helpers::{Env, WAIT, spawn_app};
use crate::sales::{all_numbers, publish_and_wait, shuffled};
use crate::script::{self, ANA, BO, CY, Script, Scripted, at};

/// Columns holding the moment a row was written (not what it says).
const WRITE_TIMES: [&str; 2] = ["counted_at_ms", "processed_at_ms"];

/// Every row of `table` (the write-time columns left out), each column as
/// text, sorted.
async fn rows(store: &leadwheel_plumbing::Store, table: &str) -> Vec<Vec<String>> {
    let sql = if table == "lw_inbox" {
        "SELECT * FROM lw_inbox WHERE consumer LIKE 'reporting-%'".to_string()
    } else {
        format!("SELECT * FROM {table}")
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|err| panic!("reading {table}: {err}"));
    let mut out: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            use sqlx::Column;
            row.columns()
                .iter()
                .filter(|column| !WRITE_TIMES.contains(&column.name()))
                .map(|column| {
                    let i = column.ordinal();
                    let value = row
                        .try_get::<String, _>(i)
                        .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap_or_else(|err| panic!("{table}.{}: {err}", column.name()));
                    format!("{}={value}", column.name())
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// The pre-aggregated tables the rebuild derives from the base tables
/// (`models::derived`), with their count columns.
const DERIVED: [(&str, &[&str]); 8] = [
    (
        "reporting_forecast_changes",
        &["won_minor", "weighted_minor"],
    ),
    ("reporting_conversion_touches", &["leads"]),
    ("reporting_follow_up_daily", &["follow_ups"]),
    (
        "reporting_route_daily",
        &["leads", "converted", "won", "won_minor"],
    ),
    (
        "reporting_open_daily",
        &["deals", "amount_minor", "weighted_minor"],
    ),
    (
        "reporting_open_monthly",
        &["deals", "amount_minor", "weighted_minor"],
    ),
    ("reporting_balance", &["deals", "amount_minor"]),
    (
        "reporting_balance_accounts",
        &["accounts", "customers", "won_customers"],
    ),
];

/// `rows` without those whose every count column is 0.
fn without_zero_buckets(rows: &[Vec<String>], counts: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .filter(|row| {
            !row.iter().all(|cell| {
                let (column, value) = cell.split_once('=').expect("column=value");
                !counts.contains(&column) || value == "0"
            })
        })
        .cloned()
        .collect()
}

async fn all_rows(store: &leadwheel_plumbing::Store) -> BTreeMap<&'static str, Vec<Vec<String>>> {
    let mut tables = BTreeMap::new();
    for table in READ_MODELS.into_iter().chain(["lw_inbox"]) {
        tables.insert(table, rows(store, table).await);
    }
    tables
}

/// The live store's indexes (name and definition), sorted: the rebuild
/// drops the fresh tables' secondary indexes for its bulk write and makes
/// them again, and on Postgres the fresh tables become the live ones.
async fn indexes(store: &leadwheel_plumbing::Store) -> Vec<(String, String)> {
    let sql = match store.backend() {
        leadwheel_plumbing::store::Backend::Sqlite => {
            "SELECT name, COALESCE(sql, '') AS sql FROM sqlite_master WHERE type = 'index'"
        }
        leadwheel_plumbing::store::Backend::Postgres => {
            "SELECT CAST(indexname AS TEXT) AS name, indexdef AS sql FROM pg_indexes \
             WHERE schemaname = current_schema()"
        }
    };
    let mut out: Vec<(String, String)> = sqlx::query(sql)
        .fetch_all(store.pool())
        .await
        .expect("listing the indexes")
        .iter()
        .map(|row| (row.get("name"), row.get("sql")))
        .collect();
    out.sort();
    out
}

/// Offers and assignments (funnel facts, durations, lead rows), which the
/// sales month lacks; event ids of their own.
fn wheel_facts() -> Vec<Scripted> {
    let mut s = Script::default();
    let day = at("2026-11-04", 9);
    for (i, (outcome, rep)) in [
        (OfferOutcome::Passed, ANA),
        (OfferOutcome::Claimed, BO),
        (OfferOutcome::Expired, ANA),
        (OfferOutcome::Claimed, CY),
    ]
    .into_iter()
    .enumerate()
    {
        let (offer, lead) = (format!("offer{i}"), format!("lead{}", i / 2));
        let opened = day + i as i64 * 60_000;
        s.offer(
            (&offer, &lead),
            rep,
            i % 2 == 0,
            (opened, opened + 30_000),
            (outcome, ""),
        );
        if outcome == OfferOutcome::Claimed {
            s.assigned(
                (&lead, &offer),
                rep,
                AssignedVia::Offer,
                (day - 60_000, day, opened + 30_000),
            );
            s.touch(&format!("touch{i}"), &lead, rep, opened + 90_000);
        }
    }
    s.events
        .into_iter()
        .map(|mut event| {
            event.id = format!("wheel-{}", event.id);
            event.msg_id = event.id.clone();
            event
        })
        .collect()
}

async fn rebuilt_rows_equal_incremental_rows(db: TestDb) {
    let url = db.url.clone();
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut events = script::november();
    events.extend(wheel_facts());
    events.extend(
        crate::extras::follow_ups_script()
            .into_iter()
            .map(|mut event| {
                event.id = format!("follow-ups-{}", event.id);
                event.msg_id = event.id.clone();
                event
            }),
    );
    let mut mixed = shuffled(&events);
    mixed.extend(events.iter().rev().map(Scripted::redelivered));
    mixed.extend(events.iter().rev().map(Scripted::announced_again));
    publish_and_wait(&app, &mixed).await;
    for (stream, durable) in [
        (&INTAKE_STREAM, "reporting-intake"),
        (&WHEEL_STREAM, "reporting-wheel"),
        (&OPPS_STREAM, "reporting-opps"),
    ] {
        wait_consumer_done(&app.nats_url, stream, durable).await;
    }
    let store = leadwheel_plumbing::Store::connect(&url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    let built = all_rows(&store).await;
    let built_indexes = indexes(&store).await;
    assert!(
        built_indexes
            .iter()
            .any(|(name, _)| name == "reporting_counted_day"),
        "{built_indexes:?}"
    );
    for table in [
        "reporting_opportunities",
        "reporting_open",
        "reporting_daily",
        "reporting_facts",
        "reporting_counters",
        "reporting_durations",
        "reporting_duration_days",
        "reporting_duration_months",
        "reporting_conversion_touches",
        "reporting_follow_up_daily",
        "reporting_touches",
        "reporting_leads",
        "reporting_opportunity_history",
        "lw_inbox",
    ] {
        assert!(!built[table].is_empty(), "the script wrote no {table} row");
    }
    let admin = app.client("root", Role::Admin).await;
    let numbers = all_numbers(&admin).await;

    admin
        .clone()
        .rebuild(RebuildRequest {})
        .await
        .expect("Rebuild");
    let done = tokio::time::timeout(WAIT * 2, async {
        loop {
            let status = admin
                .clone()
                .get_rebuild_progress(GetRebuildProgressRequest {})
                .await
                .expect("GetRebuildProgress")
                .into_inner();
            match status.state.as_str() {
                "done" => return status,
                "failed" => panic!("the rebuild failed: {}", status.error),
                _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("the rebuild never finished");
    // Every event once: the redelivered copies are skipped.
    assert_eq!(
        done.events as usize,
        built["lw_inbox"].len(),
        "events replayed"
    );

    let rebuilt = all_rows(&store).await;
    for (table, rows) in &built {
        if let Some((_, counts)) = DERIVED.iter().find(|(name, _)| name == table) {
            // Recomputed from the base tables, so without the buckets the
            // consumers left at zero when a deal or lead moved away.
            assert_eq!(
                &rebuilt[table],
                &without_zero_buckets(rows, counts),
                "{table} after the rebuild"
            );
            continue;
        }
        assert_eq!(&rebuilt[table], rows, "{table} after the rebuild");
    }
    assert_eq!(all_numbers(&admin).await, numbers);
    assert_eq!(
        indexes(&store).await,
        built_indexes,
        "the indexes after the rebuild"
    );
    store.close().await;
    app.stop().await;
}

on_both_backends!(rebuilt_rows_equal_incremental_rows);

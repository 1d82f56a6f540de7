//! The pre-aggregated read models the consumers keep incrementally equal
//! the ones recomputed from the base tables (`models::derived`,
//! `models::open_days::derive`), after the
//! scripted month and its leads arrive shuffled, redelivered and announced
//! again.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, wait_consumer_done};
use leadwheel_proto::reporting::v1::GetRoutingOutcomeRequest;
use sqlx::Row;

use crate::extras::follow_ups_script;
use crate::helpers::{Env, spawn_app};
use crate::sales::{month, publish_and_wait, shuffled};
use crate::script::{self, Scripted};
use crate::wheel::leads_to_revenue;

/// An aggregate table: its key columns (text) and counters (integers).
struct Table {
    name: &'static str,
    keys: &'static [&'static str],
    counters: &'static [&'static str],
}

const TABLES: &[Table] = &[
    Table {
        name: "reporting_route_daily",
        keys: &[
            "day",
            "team_id",
            "rep_id",
            "routed_by",
            "rule_id",
            "route",
            "won_currency",
        ],
        counters: &["leads", "converted", "won", "won_minor"],
    },
    Table {
        name: "reporting_balance",
        keys: &["team_id", "rep_id", "tier", "stage", "status", "currency"],
        counters: &["deals", "amount_minor"],
    },
    Table {
        name: "reporting_balance_accounts",
        keys: &["team_id", "rep_id"],
        counters: &["accounts", "customers", "won_customers"],
    },
    Table {
        name: "reporting_open_daily",
        keys: &["day", "team_id", "rep_id", "stage", "currency"],
        counters: &["deals", "amount_minor", "weighted_minor"],
    },
    Table {
        name: "reporting_conversion_touches",
        keys: &["day", "team_id", "rep_id", "touches"],
        counters: &["leads"],
    },
    Table {
        name: "reporting_follow_up_daily",
        keys: &["due_date", "team_id", "rep_id", "outcome"],
        counters: &["follow_ups"],
    },
    Table {
        name: "reporting_open_monthly",
        keys: &["month", "team_id", "rep_id", "stage", "currency"],
        counters: &["deals", "amount_minor", "weighted_minor"],
    },
    Table {
        name: "reporting_forecast_changes",
        keys: &[
            "team_id",
            "month",
            "day",
            "opportunity_id",
            "rep_id",
            "currency",
        ],
        counters: &["won_minor", "weighted_minor"],
    },
];

/// The table's rows with any counter not zero (a bucket emptied by moves
/// keeps its zeros), one line each, in key order.
async fn rows(conn: &mut sqlx::AnyConnection, table: &Table) -> Vec<String> {
    let nonzero: Vec<String> = table.counters.iter().map(|c| format!("{c} <> 0")).collect();
    let sql = format!(
        "SELECT {}, {} FROM {} WHERE {} ORDER BY {}",
        table.keys.join(", "),
        table.counters.join(", "),
        table.name,
        nonzero.join(" OR "),
        table.keys.join(", ")
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .expect("reading an aggregate table");
    found
        .iter()
        .map(|row| {
            let mut cells: Vec<String> = table
                .keys
                .iter()
                .map(|k| {
                    // Text keys, and the touches before conversion.
                    row.try_get::<String, _>(*k)
                        .or_else(|_| row.try_get::<i64, _>(*k).map(|n| n.to_string()))
                        .expect("a key")
                })
                .collect();
            cells.extend(
                table
                    .counters
                    .iter()
                    .map(|c| row.try_get::<i64, _>(*c).expect("a counter").to_string()),
            );
            cells.join(" | ")
        })
        .collect()
}

/// The scripted month, the leads to revenue and the follow-ups, with event
/// ids of their own.
fn month_and_leads() -> Vec<Scripted> {
    let mut events = script::november();
    events.extend(leads_to_revenue().into_iter().map(|mut event| {
        event.id = format!("leads-{}", event.id);
        event.msg_id = event.id.clone();
        event
    }));
    // Follow-ups on time, late, overdue, replaced and pending.
    events.extend(follow_ups_script().into_iter().map(|mut event| {
        event.id = format!("follow-ups-{}", event.id);
        event.msg_id = event.id.clone();
        event
    }));
    events
}

async fn incremental_aggregates_equal_derived(db: TestDb) {
    let url = db.url.clone();
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let events = month_and_leads();
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
    // The routes report reads the aggregate: it answers what the leads say.
    let admin = app.client("root", Role::Admin).await;
    let routes = admin
        .clone()
        .get_routing_outcome(GetRoutingOutcomeRequest {
            period: month("2026-11-05"),
            ..Default::default()
        })
        .await
        .expect("GetRoutingOutcome")
        .into_inner()
        .routes;
    assert_eq!(routes.iter().map(|r| r.leads).sum::<i64>(), 5, "{routes:?}");

    let store = leadwheel_plumbing::Store::connect(&url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    let mut tx = store.begin().await.expect("a transaction");
    let mut incremental = Vec::new();
    for table in TABLES {
        let kept = rows(&mut tx, table).await;
        assert!(!kept.is_empty(), "{} is empty", table.name);
        incremental.push(kept);
    }
    leadwheel_reporting::models::derived::derive_all(&mut tx, &jiff::tz::TimeZone::UTC)
        .await
        .expect("deriving the aggregates");
    leadwheel_reporting::models::open_days::derive(
        &mut tx,
        store.backend(),
        &jiff::tz::TimeZone::UTC,
    )
    .await
    .expect("deriving the open pipeline's day sums");
    leadwheel_reporting::models::forecast_changes::derive(
        &mut tx,
        store.backend(),
        &jiff::tz::TimeZone::UTC,
    )
    .await
    .expect("deriving the forecast's changes");
    for (table, incremental) in TABLES.iter().zip(incremental) {
        let derived = rows(&mut tx, table).await;
        assert_eq!(incremental, derived, "{}", table.name);
    }
    // Nothing is kept: the comparison leaves the tables as they were.
    drop(tx);
    store.close().await;
    app.stop().await;
}

/// The stuck deals' query reads the index in order (no scan of the open
/// deals, no sort), with and without a team: SQLite's plan as it is;
/// Postgres's with sequential scans and sorts priced out (its planner
/// scans a table this small whatever the indexes), which it can only
/// honour with an index that gives the order.
async fn stuck_deals_read_the_index(db: TestDb) {
    let store = leadwheel_plumbing::Store::connect(&db.url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    let postgres = store.backend() == leadwheel_plumbing::store::Backend::Postgres;
    let mut tx = store.begin().await.expect("a transaction");
    if postgres {
        for setting in ["enable_seqscan", "enable_sort", "enable_bitmapscan"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL {setting} = off")))
                .execute(&mut *tx)
                .await
                .expect("pricing out scans");
        }
    }
    for (team, index) in [
        (false, "reporting_opportunities_stuck"),
        (true, "reporting_opportunities_team_stuck"),
    ] {
        let sql = leadwheel_reporting::models::queries::stuck_sql(team, true);
        let explain = if postgres {
            "EXPLAIN"
        } else {
            "EXPLAIN QUERY PLAN"
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("{explain} {sql}")))
            .bind("trial")
            .bind(1_000_i64);
        if team {
            query = query.bind("north");
        }
        let rows = query
            .bind("ana")
            .bind(200_i64)
            .fetch_all(&mut *tx)
            .await
            .expect("explaining the stuck deals' query");
        let column = if postgres { "QUERY PLAN" } else { "detail" };
        let plan: Vec<String> = rows
            .iter()
            .map(|row| row.try_get(column).expect("a plan line"))
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
    drop(tx);
    store.close().await;
}
on_both_backends!(
    incremental_aggregates_equal_derived,
    stuck_deals_read_the_index
);

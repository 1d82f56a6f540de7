//! The duration histograms per day and month in the store: the consumers'
//! upkeep as facts arrive, move and come back earlier (a bucket's range
//! read again from the facts when its smallest or largest leaves), and the
//! derivation for a store written before them, on both backends.

use jiff::tz::TimeZone;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_plumbing::{Store, Tx};
use leadwheel_reporting::MIGRATOR;
use leadwheel_reporting::histogram::Histogram;
use leadwheel_reporting::models::duration_histograms;
use leadwheel_reporting::models::timing::{self, Duration};
use sqlx::Row;

/// 2026-11-03T09:00Z and 2026-11-20T09:00Z.
const NOV_3: i64 = 1_793_696_400_000;
const NOV_20: i64 = NOV_3 + 17 * 86_400_000;

/// Every row of both tables: (table, metric, day or month, team, rep, dim,
/// histogram).
async fn cells(tx: &mut Tx) -> Vec<[String; 7]> {
    let mut out = Vec::new();
    for (table, column) in [
        ("reporting_duration_days", "day"),
        ("reporting_duration_months", "month"),
    ] {
        let sql = format!(
            "SELECT metric, {column} AS span, team_id, rep_id, dim, histogram FROM {table} \
             ORDER BY metric, span, team_id, rep_id, dim"
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut **tx)
            .await
            .expect("reading the histograms")
        {
            out.push([
                table.to_string(),
                row.get("metric"),
                row.get("span"),
                row.get("team_id"),
                row.get("rep_id"),
                row.get("dim"),
                row.get("histogram"),
            ]);
        }
    }
    out
}

fn cell(table: &str, span: &str, rep: &str, values: &[i64]) -> [String; 7] {
    let mut histogram = Histogram::default();
    for v in values {
        histogram.add(*v);
    }
    [
        table,
        "time_to_claim",
        span,
        "north",
        rep,
        "",
        histogram.encode().as_str(),
    ]
    .map(String::from)
}

async fn claim(store: &Store, key: &str, rep: &str, at_ms: i64, duration_ms: i64) {
    let mut tx = store.begin().await.expect("begin");
    let d = Duration {
        metric: "time_to_claim",
        key,
        dim: "",
        team_id: "north",
        rep_id: rep,
        at_ms,
        duration_ms,
    };
    timing::duration(&mut tx, &TimeZone::UTC, &d, false)
        .await
        .expect("writing a duration");
    tx.commit().await.expect("commit");
}

/// What the upkeep keeps equals what a derivation from the durations
/// gives (checked in a transaction rolled back).
async fn assert_derivable(store: &Store) {
    let mut tx = store.begin().await.expect("begin");
    let kept = cells(&mut tx).await;
    duration_histograms::derive(&mut tx, store.backend())
        .await
        .expect("deriving");
    assert_eq!(cells(&mut tx).await, kept, "kept ≠ derived");
    tx.rollback().await.expect("rollback");
}

async fn facts_move_in_and_out_of_their_day_and_month(db: TestDb) {
    let store = Store::connect(&db.url, &MIGRATOR).await.expect("store");
    let (day, month) = ("reporting_duration_days", "reporting_duration_months");
    // Three claims in one bucket (29,696–30,719 ms), one on another day.
    claim(&store, "o1", "ana", NOV_3, 30_000).await;
    claim(&store, "o2", "ana", NOV_3 + 1, 30_200).await;
    claim(&store, "o3", "ana", NOV_3 + 2, 30_500).await;
    claim(&store, "o4", "ana", NOV_20, 90_000).await;
    // A repeat of o1, later: the earliest stays, nothing moves.
    claim(&store, "o1", "ana", NOV_3 + 5, 45_000).await;
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        cells(&mut tx).await,
        vec![
            cell(day, "2026-11-03", "ana", &[30_000, 30_200, 30_500]),
            cell(day, "2026-11-20", "ana", &[90_000]),
            cell(month, "2026-11", "ana", &[30_000, 30_200, 30_500, 90_000]),
        ]
    );
    tx.rollback().await.expect("rollback");
    assert_derivable(&store).await;

    // An earlier occurrence of o3 (the bucket's largest) with another
    // value: out of its bucket, whose range is read again.
    claim(&store, "o3", "ana", NOV_3 - 1, 30_100).await;
    // An earlier occurrence of o4, on the 3rd and for bo: the 20th's cell
    // empties and goes.
    claim(&store, "o4", "bo", NOV_3, 5_000).await;
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        cells(&mut tx).await,
        vec![
            cell(day, "2026-11-03", "ana", &[30_000, 30_100, 30_200]),
            cell(day, "2026-11-03", "bo", &[5_000]),
            cell(month, "2026-11", "ana", &[30_000, 30_100, 30_200]),
            cell(month, "2026-11", "bo", &[5_000]),
        ]
    );
    tx.rollback().await.expect("rollback");
    assert_derivable(&store).await;
    store.close().await;
}

/// A store with durations written before migration 0014 gets their
/// histograms at the service's first start after it, once.
async fn durations_written_before_0014_get_their_histograms(db: TestDb) {
    let old = crate::helpers::store_before(&db.url, 14).await;
    sqlx::query(
        "INSERT INTO reporting_durations (metric, fact_key, dim, at_ms, day, team_id, rep_id, \
         duration_ms) VALUES \
         ('time_to_claim', 'o1', '', 1, '2026-11-03', 'north', 'ana', 30000), \
         ('time_to_claim', 'o2', '', 2, '2026-11-03', 'north', 'ana', 30500), \
         ('time_to_claim', 'o3', '', 3, '2026-11-20', 'north', 'ana', 90000)",
    )
    .execute(old.pool())
    .await
    .expect("old durations");
    old.close().await;
    let store = Store::connect(&db.url, &MIGRATOR)
        .await
        .expect("migrating to 0014");
    leadwheel_reporting::models::derived::upkeep(&store, &TimeZone::UTC, 1_000)
        .await
        .expect("upkeep");
    let (day, month) = ("reporting_duration_days", "reporting_duration_months");
    let expected = vec![
        cell(day, "2026-11-03", "ana", &[30_000, 30_500]),
        cell(day, "2026-11-20", "ana", &[90_000]),
        cell(month, "2026-11", "ana", &[30_000, 30_500, 90_000]),
    ];
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(cells(&mut tx).await, expected);
    tx.rollback().await.expect("rollback");
    // Once: a second start does not derive again (a row changed by hand
    // stays as it is).
    sqlx::query("DELETE FROM reporting_duration_days WHERE day = '2026-11-20'")
        .execute(store.pool())
        .await
        .expect("delete");
    leadwheel_reporting::models::derived::upkeep(&store, &TimeZone::UTC, 2_000)
        .await
        .expect("upkeep again");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(cells(&mut tx).await.len(), expected.len() - 1);
    tx.rollback().await.expect("rollback");
    store.close().await;
}

on_both_backends!(
    facts_move_in_and_out_of_their_day_and_month,
    durations_written_before_0014_get_their_histograms,
);

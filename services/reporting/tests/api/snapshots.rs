//! The weekly forecast snapshot: taken by the service's job (catching up
//! after downtime, once per week whatever the restarts), stored, and read
//! by the forecast's movement by default; on both backends. The moment is
//! chosen around today (two days ago at midnight UTC), so the deals are
//! scripted around it; the answers are worked out in the comments.

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::Role;
use leadwheel_plumbing::clock::{ManualClock, SharedClock};
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::store::Store;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::reporting::v1::{
    DealMove, ForecastAt, GetForecastMovementRequest, GetForecastMovementResponse,
    GetPipelineRequest, Period, PeriodKind, ResolvedPeriod,
};
use leadwheel_reporting::MIGRATOR;
use leadwheel_reporting::snapshot::Schedule;
use sqlx::Row;

use crate::helpers::{Client, Env, TestApp, WAIT, spawn_with, test_settings};
use crate::script::{self, ANA, BO, Opp, Script};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The snapshot moment: two days ago at 00:00 UTC, and its schedule.
fn moment(now: i64) -> (Date, i64, Schedule) {
    let today = leadwheel_reporting::period::day_of(now, &TimeZone::UTC);
    let day = today
        .checked_sub(jiff::Span::new().days(2))
        .expect("a date");
    let at = day
        .at(0, 0, 0, 0)
        .to_zoned(TimeZone::UTC)
        .expect("a time")
        .timestamp()
        .as_millisecond();
    let schedule = Schedule {
        weekday: day.weekday(),
        hour: 0,
    };
    (day, at, schedule)
}

async fn start(env: &Env, schedule: Option<Schedule>, clock: SharedClock) -> TestApp {
    let mut settings = test_settings();
    settings.snapshots = schedule;
    spawn_with(env, settings, clock).await
}

async fn snapshots_taken(db: &TestDb) -> Vec<(String, i64)> {
    let store = Store::connect(&db.url, &MIGRATOR).await.expect("the store");
    let rows = sqlx::query(
        "SELECT snapshot_day, taken_at_ms FROM reporting_snapshots ORDER BY snapshot_day",
    )
    .fetch_all(store.pool())
    .await
    .expect("reading the snapshots");
    let out = rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("snapshot_day"),
                r.get::<i64, _>("taken_at_ms"),
            )
        })
        .collect();
    store.close().await;
    out
}

async fn movement(
    client: &Client,
    month: &Period,
) -> Result<GetForecastMovementResponse, tonic::Status> {
    client
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            period: Some(month.clone()),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

fn eur(won: i64, weighted: i64) -> ForecastAt {
    ForecastAt {
        currency: "EUR".into(),
        won_minor: won,
        weighted_open_minor: weighted,
        forecast_minor: won + weighted,
    }
}

async fn weekly_snapshot_is_the_movement_s_default(db: TestDb) {
    let env = Env::new(db);
    let now = now_ms();
    let (day, t, schedule) = moment(now);
    let today = leadwheel_reporting::period::day_of(now, &TimeZone::UTC).to_string();
    // Every deal is expected to close today, so this month's forecast
    // holds them whatever the day the test runs.
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    // Before the moment: da (ana, 10,000.00 at 30% = 3,000.00), db (ana,
    // 5,000.00 at 50% = 2,500.00, best case), dd (bo, 1,000.00 USD at 20%
    // = 200.00).
    let mut da = Opp::new(
        "da",
        ANA,
        "needs_identified",
        (10_000_00, "EUR", 30),
        &today,
    );
    let mut db_ = Opp::new("db", ANA, "trial", (5_000_00, "EUR", 50), &today);
    let mut dd = Opp::new("dd", BO, "trial", (1_000_00, "USD", 20), &today);
    s.opened(&mut da, t - DAY);
    s.opened(&mut db_, t - DAY);
    s.opened(&mut dd, t - 2 * DAY);
    // After it: da moves to commercial at 60% (6,000.00); dc (bo,
    // 2,000.00 at 90% = 1,800.00) opens; db is won, a minute ago.
    s.stage(&mut da, "commercial", 60, t + HOUR);
    let mut dc = Opp::new("dc", BO, "commercial", (2_000_00, "EUR", 90), &today);
    s.opened(&mut dc, t + HOUR);
    s.closed(&mut db_, true, now - 60_000);

    // The service is down at the moment (snapshots off): the events are
    // applied, no snapshot is taken.
    let off = start(&env, None, leadwheel_plumbing::clock::system()).await;
    script::publish_all(&off.nats_url, &s.events).await;
    let maya = off.client("maya", Role::Manager).await;
    eventually(WAIT, "the deals to be applied", || {
        let maya = maya.clone();
        async move {
            let r = maya
                .clone()
                .get_pipeline(GetPipelineRequest {
                    team_id: "north".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            let open: i64 = r.open.iter().map(|o| o.count).sum();
            let won: i64 = r.closed.iter().map(|c| c.won_count).sum();
            (open == 3 && won == 1).then_some(())
        }
    })
    .await;
    let this_month = Period {
        kind: PeriodKind::Month as i32,
        date: today.clone(),
        ..Default::default()
    };
    let before_any = movement(&maya, &this_month)
        .await
        .expect_err("no snapshot yet");
    assert_eq!(
        before_any.code(),
        tonic::Code::FailedPrecondition,
        "{before_any:?}"
    );
    off.stop().await;
    assert!(snapshots_taken(&env.db).await.is_empty());

    // Back up with the weekly snapshot on: the job catches up the moment
    // it missed, as the deals stood then.
    let clock = ManualClock::at(now);
    let app = start(&env, Some(schedule), clock.clone()).await;
    let maya = app.client("maya", Role::Manager).await;
    let got = eventually(WAIT, "the snapshot to be taken", || {
        let maya = maya.clone();
        let this_month = this_month.clone();
        async move { movement(&maya, &this_month).await.ok() }
    })
    .await;
    let month_of = |d: &str| -> ResolvedPeriod {
        let d: Date = d.parse().unwrap();
        ResolvedPeriod {
            kind: PeriodKind::Month as i32,
            from: d.first_of_month().to_string(),
            to: d.last_of_month().to_string(),
        }
    };
    let deal_move = |id: &str,
                     (team, rep): (&str, &str),
                     (before, after): (i64, i64),
                     (stage_then, stage_now): (&str, &str),
                     then_close: &str| DealMove {
        opportunity_id: id.into(),
        team_id: team.into(),
        rep_id: rep.into(),
        currency: "EUR".into(),
        before_minor: before,
        after_minor: after,
        before_stage: stage_then.into(),
        after_stage: stage_now.into(),
        before_close_date: then_close.into(),
        after_close_date: today.clone(),
    };
    let taken = snapshots_taken(&env.db).await;
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].0, day.to_string());
    // Then: EUR 3,000.00 + 2,500.00 open; USD 200.00. Now: EUR won
    // 5,000.00, open 6,000.00 + 1,800.00; USD unchanged. The deals by the
    // size of their change: da +3,000.00, db +2,500.00, dc +1,800.00.
    let expected = GetForecastMovementResponse {
        period: Some(month_of(&today)),
        since: day.to_string(),
        before: vec![
            eur(0, 5_500_00),
            ForecastAt {
                currency: "USD".into(),
                won_minor: 0,
                weighted_open_minor: 200_00,
                forecast_minor: 200_00,
            },
        ],
        now: vec![
            eur(5_000_00, 7_800_00),
            ForecastAt {
                currency: "USD".into(),
                won_minor: 0,
                weighted_open_minor: 200_00,
                forecast_minor: 200_00,
            },
        ],
        deals: vec![
            deal_move(
                "da",
                ANA,
                (3_000_00, 6_000_00),
                ("needs_identified", "commercial"),
                &today,
            ),
            deal_move("db", ANA, (2_500_00, 5_000_00), ("trial", "won"), &today),
            deal_move("dc", BO, (0, 1_800_00), ("", "commercial"), ""),
        ],
        from_snapshot: true,
        snapshot_at_ms: t,
        snapshot_taken_at_ms: taken[0].1,
        deals_moved: 3,
    };
    assert_eq!(got, expected);
    // A limit lists the largest moves only; the totals still count all.
    let limited = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            period: Some(this_month.clone()),
            limit: 2,
            ..Default::default()
        })
        .await
        .expect("a limited movement")
        .into_inner();
    assert_eq!(limited.deals, expected.deals[..2]);
    assert_eq!(limited.deals_moved, 3);
    assert_eq!(
        (&limited.before, &limited.now),
        (&expected.before, &expected.now)
    );
    let refused = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            period: Some(this_month.clone()),
            limit: 1001,
            ..Default::default()
        })
        .await
        .expect_err("a limit over 1,000");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("limit"), "{}", refused.message());
    // A rep's movement reads the same snapshot, their deals only.
    let ana = app.client("ana", Role::Rep).await;
    let own = ana
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            period: Some(this_month.clone()),
            ..Default::default()
        })
        .await
        .expect("ana's movement")
        .into_inner();
    assert_eq!(own.before, vec![eur(0, 5_500_00)]);
    assert_eq!(own.deals, expected.deals[..2].to_vec());
    app.stop().await;

    // A restart takes nothing again.
    let clock = ManualClock::at(now);
    let again = start(&env, Some(schedule), clock.clone()).await;
    let maya = again.client("maya", Role::Manager).await;
    let same = movement(&maya, &this_month).await.expect("the movement");
    assert_eq!(same.snapshot_taken_at_ms, taken[0].1);
    assert_eq!(snapshots_taken(&env.db).await, taken);

    // Two weeks pass: the job wakes and takes both missed weeks, and the
    // movement compares with the newest (the deals as they stand now).
    clock.advance(Duration::from_millis(14 * DAY as u64));
    let newest = (day + jiff::Span::new().days(14)).to_string();
    let later = eventually(WAIT, "two more snapshots", || {
        let env_db = env.db.url.clone();
        let newest = newest.clone();
        async move {
            let store = Store::connect(&env_db, &MIGRATOR).await.ok()?;
            let n =
                sqlx::query("SELECT snapshot_day FROM reporting_snapshots ORDER BY snapshot_day")
                    .fetch_all(store.pool())
                    .await
                    .ok()?;
            store.close().await;
            let days: Vec<String> = n.iter().map(|r| r.get("snapshot_day")).collect();
            (days.len() == 3 && days[2] == newest).then_some(days)
        }
    })
    .await;
    assert_eq!(later[1], (day + jiff::Span::new().days(7)).to_string());
    let latest = movement(&maya, &this_month).await.expect("the movement");
    assert_eq!(latest.since, newest);
    assert_eq!(latest.before, latest.now);
    assert!(latest.deals.is_empty(), "{:?}", latest.deals);
    again.stop().await;
}

on_both_backends!(weekly_snapshot_is_the_movement_s_default);

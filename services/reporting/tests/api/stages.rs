//! Conversion, time in stage, win rate and stuck deals over the scripted
//! November (`script::november`), answers worked out by hand.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::reporting::v1::{GetStagesRequest, Percentiles, StageFlow};

use crate::helpers::{Env, spawn_app};
use crate::sales::{month, publish_and_wait};
use crate::script::{self, at};

const DAY: i64 = 86_400_000;

fn p(values: [i64; 4]) -> Option<Percentiles> {
    Some(Percentiles {
        count: values[0],
        median_ms: values[1],
        p90_ms: values[2],
        p99_ms: values[3],
    })
}

async fn conversion_time_in_stage_and_stuck_deals(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let root = app.client("root", Role::Admin).await;
    let report = root
        .clone()
        .get_stages(GetStagesRequest {
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .expect("GetStages")
        .into_inner();
    let flow =
        |stage: &str, entered, (on, back, lost), conversion_bp, time, stale_days| StageFlow {
            stage: stage.into(),
            entered,
            moved_on: on,
            moved_back: back,
            lost,
            conversion_bp,
            time_in_stage: time,
            stale_days,
        };
    assert_eq!(
        report.stages,
        vec![
            // opp1 and opp4 entered; opp1 moved on after 3 days, opp4 was
            // lost after 7.
            flow(
                "needs_identified",
                2,
                (1, 0, 1),
                5_000,
                p([2, 3 * DAY, 7 * DAY, 7 * DAY]),
                30
            ),
            // opp2, opp5, opp7 entered; none left.
            flow("trial", 3, (0, 0, 0), 0, p([0, 0, 0, 0]), 21),
            // opp1 (moved in), opp3 and opp6 (opened in it); opp1 won
            // after 5 days, opp6 after 11.
            flow(
                "commercial",
                3,
                (2, 0, 0),
                10_000,
                p([2, 5 * DAY, 11 * DAY, 11 * DAY]),
                14
            ),
        ]
    );
    assert_eq!((report.won, report.lost, report.win_rate_bp), (2, 1, 6_666));
    // Ana's stays: opp1 in needs_identified (3 d) and commercial (5 d),
    // opp6 in commercial (11 d).
    let ana: Vec<(&str, Option<Percentiles>)> = report
        .reps
        .iter()
        .filter(|r| r.rep_id == "ana")
        .map(|r| (r.stage.as_str(), r.time_in_stage))
        .collect();
    assert_eq!(
        ana,
        vec![
            ("commercial", p([2, 5 * DAY, 11 * DAY, 11 * DAY])),
            ("needs_identified", p([1, 3 * DAY, 3 * DAY, 3 * DAY])),
        ]
    );
    // Stuck now: open deals in their stage longer than its threshold
    // (trial 21 days, commercial 14), longest first. Which ones depends on
    // today, so the expectation applies the thresholds to today.
    let now = leadwheel_plumbing::now_ms();
    let open = [
        ("opp2", "north", at("2026-11-03", 9), 21),
        ("opp3", "north", at("2026-11-04", 9), 14),
        ("opp5", "south", at("2026-11-06", 9), 21),
        ("opp7", "north", at("2026-11-11", 9), 21),
    ];
    let expected: Vec<(&str, i64)> = open
        .iter()
        .filter(|(_, _, entered, stale)| entered + stale * DAY < now)
        .map(|(id, _, entered, _)| (*id, (now - entered) / DAY))
        .collect();
    assert!(expected.len() >= 3, "the script's deals are old enough");
    let stuck: Vec<(&str, i64)> = report
        .stuck
        .iter()
        .map(|s| (s.opportunity_id.as_str(), s.days_in_stage))
        .collect();
    assert_eq!(stuck, expected);
    // A manager sees their own team's stuck deals only.
    let maya = app.client("maya", Role::Manager).await;
    let theirs = maya
        .clone()
        .get_stages(GetStagesRequest::default())
        .await
        .expect("GetStages")
        .into_inner();
    assert!(theirs.stuck.iter().all(|s| s.team_id == "north"));
    assert!(!theirs.stuck.iter().any(|s| s.opportunity_id == "opp5"));
    app.stop().await;
}

on_both_backends!(conversion_time_in_stage_and_stuck_deals);

on_both_backends!(percentiles_ranked_in_the_store_equal_the_pure_ones);
/// The store ranks durations per group and returns the rows at the
/// nearest ranks (`Reader::duration_percentiles`): the same numbers as
/// sorting every value in Rust (`reports::wheel::percentiles`), for groups
/// of one, of a few and of many values with repeats, with rows of other
/// days and metrics left out.
async fn percentiles_ranked_in_the_store_equal_the_pure_ones(db: TestDb) {
    use std::collections::BTreeMap;

    use leadwheel_reporting::models::queries::{Filter, Reader};
    use leadwheel_reporting::reports::percentiles;

    let store = leadwheel_plumbing::Store::connect(&db.url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    // (team, rep, stage, values): a fixed pseudo-random spread with repeats.
    let mut seed: i64 = 7;
    let mut next = || {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        (seed % 50) * 60_000
    };
    let groups: Vec<(&str, &str, &str, Vec<i64>)> = vec![
        ("north", "ana", "trial", (0..37).map(|_| next()).collect()),
        (
            "north",
            "ana",
            "commercial",
            (0..2).map(|_| next()).collect(),
        ),
        ("north", "bo", "trial", vec![next()]),
        ("south", "cy", "trial", (0..101).map(|_| next()).collect()),
    ];
    let mut fact = 0;
    for (team, rep, stage, values) in &groups {
        for value in values {
            fact += 1;
            // Inside November, and the same value on a day and a metric
            // the reads must leave out.
            for (metric, day) in [
                ("stage_time", "2026-11-15"),
                ("stage_time", "2026-10-31"),
                ("time_to_claim", "2026-11-15"),
            ] {
                sqlx::query(
                    "INSERT INTO reporting_durations (metric, fact_key, dim, at_ms, day, \
                     team_id, rep_id, duration_ms) VALUES ($1, $2, $3, 0, $4, $5, $6, $7)",
                )
                .bind(metric)
                .bind(format!("f{fact}-{day}"))
                .bind(*stage)
                .bind(day)
                .bind(*team)
                .bind(*rep)
                .bind(*value)
                .execute(store.pool())
                .await
                .expect("inserting a duration");
            }
        }
    }
    let reader = Reader::new(store);
    let everyone = Filter {
        teams: None,
        rep: None,
    };
    let november = ("2026-11-01", "2026-11-30");
    let as_proto = |found: leadwheel_reporting::models::queries::GroupPercentiles| Percentiles {
        count: found.count,
        median_ms: found.median_ms,
        p90_ms: found.p90_ms,
        p99_ms: found.p99_ms,
    };

    let per_rep = reader
        .duration_percentiles(
            &everyone,
            november,
            &["stage_time"],
            &["team_id", "rep_id", "dim"],
        )
        .await
        .expect("per rep");
    let expected: BTreeMap<Vec<String>, Percentiles> = groups
        .iter()
        .map(|(team, rep, stage, values)| {
            let key = vec![team.to_string(), rep.to_string(), stage.to_string()];
            (key, percentiles(values.clone()))
        })
        .collect();
    let found: BTreeMap<Vec<String>, Percentiles> = per_rep
        .into_iter()
        .map(|(key, found)| (key, as_proto(found)))
        .collect();
    assert_eq!(found, expected);

    let per_stage = reader
        .duration_percentiles(&everyone, november, &["stage_time"], &["dim"])
        .await
        .expect("per stage");
    let mut by_stage: BTreeMap<Vec<String>, Vec<i64>> = BTreeMap::new();
    for (_, _, stage, values) in &groups {
        by_stage
            .entry(vec![stage.to_string()])
            .or_default()
            .extend(values);
    }
    let expected: BTreeMap<Vec<String>, Percentiles> = by_stage
        .into_iter()
        .map(|(key, values)| (key, percentiles(values)))
        .collect();
    let found: BTreeMap<Vec<String>, Percentiles> = per_stage
        .into_iter()
        .map(|(key, found)| (key, as_proto(found)))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found[&vec!["trial".to_string()]].count, 139);
}

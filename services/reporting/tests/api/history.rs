//! The pipeline as of a past day and the forecast's movement since then,
//! over the scripted November, each deal as it stood then.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::reporting::v1::{
    DealMove, ForecastAt, GetForecastMovementRequest, GetForecastMovementResponse,
    GetPipelineRequest, GetRoutingOutcomeRequest, PipelineOpenRow, RouteOutcome,
};
use tonic::Code;

use crate::helpers::{Env, spawn_app};
use crate::sales::{month, publish_and_wait};
use crate::script;

/// A move of one of ana's EUR deals in north.
fn ana_moved(
    id: &str,
    (before_minor, after_minor): (i64, i64),
    (before_stage, after_stage): (&str, &str),
    (before_close_date, after_close_date): (&str, &str),
) -> DealMove {
    DealMove {
        opportunity_id: id.into(),
        team_id: "north".into(),
        rep_id: "ana".into(),
        currency: "EUR".into(),
        before_minor,
        after_minor,
        before_stage: before_stage.into(),
        after_stage: after_stage.into(),
        before_close_date: before_close_date.into(),
        after_close_date: after_close_date.into(),
    }
}

fn open(
    (team, rep): (&str, &str),
    stage: &str,
    currency: &str,
    amount_minor: i64,
    weighted_minor: i64,
) -> PipelineOpenRow {
    PipelineOpenRow {
        team_id: team.into(),
        rep_id: rep.into(),
        stage: stage.into(),
        currency: currency.into(),
        count: 1,
        amount_minor,
        weighted_minor,
    }
}

fn at(currency: &str, won_minor: i64, weighted_open_minor: i64) -> ForecastAt {
    ForecastAt {
        currency: currency.into(),
        won_minor,
        weighted_open_minor,
        forecast_minor: won_minor + weighted_open_minor,
    }
}

async fn pipeline_as_of_and_forecast_movement(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let maya = app.client("maya", Role::Manager).await;

    // At the end of 4 November: opp1 still in needs_identified at 30%,
    // opp2 already 8,000.00 at 50%, opp3 just opened; opp4 and later not
    // yet there.
    let then = maya
        .clone()
        .get_pipeline(GetPipelineRequest {
            as_of: "2026-11-04".into(),
            ..Default::default()
        })
        .await
        .expect("GetPipeline as of")
        .into_inner();
    assert_eq!(
        then.open,
        vec![
            open(script::ANA, "needs_identified", "EUR", 10_000_00, 3_000_00),
            open(script::ANA, "trial", "EUR", 8_000_00, 4_000_00),
            open(script::BO, "commercial", "USD", 2_000_00, 1_800_00),
        ]
    );

    // Later days sum November's month row (and no day rows since): the
    // pipeline as it stands; before the month nothing was open.
    let as_of = |day: &str| {
        let maya = maya.clone();
        let day = day.to_string();
        async move {
            maya.clone()
                .get_pipeline(GetPipelineRequest {
                    as_of: day,
                    ..Default::default()
                })
                .await
                .expect("GetPipeline as of")
                .into_inner()
                .open
        }
    };
    let current = maya
        .clone()
        .get_pipeline(GetPipelineRequest::default())
        .await
        .expect("GetPipeline")
        .into_inner()
        .open;
    assert!(!current.is_empty());
    assert_eq!(as_of("2027-01-15").await, current);
    assert_eq!(as_of("2026-12-01").await, current);
    assert_eq!(as_of("2026-10-31").await, vec![]);

    // November's forecast for north since 4 November: then opp1 (30% of
    // 10,000.00) + opp2 (4,000.00) in EUR, opp3 in USD; now opp1 and opp6
    // won (14,000.00) + opp2. opp1 moved it most, then opp6.
    let movement = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            period: month("2026-11-01"),
            since: "2026-11-04".into(),
            ..Default::default()
        })
        .await
        .expect("GetForecastMovement")
        .into_inner();
    assert_eq!(
        movement.before,
        vec![at("EUR", 0, 7_000_00), at("USD", 0, 1_800_00)]
    );
    assert_eq!(
        movement.now,
        vec![at("EUR", 14_000_00, 4_000_00), at("USD", 0, 1_800_00)]
    );
    let moved = |id: &str, (before, after): (i64, i64), stages: (&str, &str), close: &str| {
        // A deal opened since has no close date then.
        let close_then = if stages.0.is_empty() { "" } else { close };
        ana_moved(id, (before, after), stages, (close_then, close))
    };
    assert_eq!(
        movement.deals,
        vec![
            moved(
                "opp1",
                (3_000_00, 10_000_00),
                ("needs_identified", "won"),
                "2026-11-20"
            ),
            moved("opp6", (0, 4_000_00), ("", "won"), "2026-11-30"),
        ]
    );
    assert_eq!(movement.deals_moved, 2);
    // With a limit of one: the largest move, and the same totals.
    let first = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            period: month("2026-11-01"),
            since: "2026-11-04".into(),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("GetForecastMovement with a limit")
        .into_inner();
    assert_eq!(first.deals, movement.deals[..1]);
    assert_eq!(first.deals_moved, 2);
    assert_eq!((first.before, first.now), (movement.before, movement.now));
    let bad = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            since: "2999-01-01".into(),
            ..Default::default()
        })
        .await
        .expect_err("a future since is refused");
    assert_eq!(bad.code(), Code::InvalidArgument);
    app.stop().await;
}

on_both_backends!(pipeline_as_of_and_forecast_movement);

on_both_backends!(movement_counts_the_deals_that_moved_into_or_out_of_the_period);
/// The movement reads only the deals with a version that could add to the
/// period (open with a close date in it, or won in it): a deal whose close
/// date moved in, one whose moved out, one won in November while expected
/// in December, and one that never touched December must each come out as
/// computed by hand.
async fn movement_counts_the_deals_that_moved_into_or_out_of_the_period(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut s = script::Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    // publish_and_wait's sentinel is a call in south.
    s.team("south", "sue", &["cy"]);
    let opened = script::at("2026-11-02", 9);
    let deal = |id: &str, (amount, probability): (i64, i32), close: &str| {
        script::Opp::new(
            id,
            script::ANA,
            "trial",
            (amount, "EUR", probability),
            close,
        )
    };
    // Expected in December at 30% (3,000.00), won on 25 November.
    let mut won_early = deal("won-early", (10_000_00, 30), "2026-12-20");
    s.opened(&mut won_early, opened);
    s.closed(&mut won_early, true, script::at("2026-11-25", 9));
    // Expected in January at 60% (1,200.00), moved into December.
    let mut moved_in = deal("moved-in", (2_000_00, 60), "2027-01-15");
    s.opened(&mut moved_in, opened);
    s.close_date(&mut moved_in, "2026-12-05", script::at("2026-11-10", 9));
    // Expected in December at 30% (300.00), moved to February.
    let mut moved_out = deal("moved-out", (1_000_00, 30), "2026-12-10");
    s.opened(&mut moved_out, opened);
    s.close_date(&mut moved_out, "2027-02-01", script::at("2026-11-12", 9));
    // Changed, but never in December: no move.
    let mut elsewhere = deal("elsewhere", (4_000_00, 30), "2027-03-01");
    s.opened(&mut elsewhere, opened);
    s.close_date(&mut elsewhere, "2027-03-15", script::at("2026-11-12", 9));
    // In December at 30% (1,500.00) and unchanged: the same then and now.
    let mut steady = deal("steady", (5_000_00, 30), "2026-12-15");
    s.opened(&mut steady, opened);
    publish_and_wait(&app, &s.events).await;
    let maya = app.client("maya", Role::Manager).await;
    let movement = |first_day: &str| {
        let maya = maya.clone();
        let period = month(first_day);
        async move {
            maya.clone()
                .get_forecast_movement(GetForecastMovementRequest {
                    team_id: "north".into(),
                    period,
                    since: "2026-11-04".into(),
                    ..Default::default()
                })
                .await
                .expect("GetForecastMovement")
                .into_inner()
        }
    };
    // December at the end of 4 November: won-early 3,000.00, moved-out
    // 300.00, steady 1,500.00; now moved-in 1,200.00 and steady.
    let december = movement("2026-12-01").await;
    assert_eq!(december.before, vec![at("EUR", 0, 4_800_00)]);
    assert_eq!(december.now, vec![at("EUR", 0, 2_700_00)]);
    assert_eq!(
        december.deals,
        vec![
            ana_moved(
                "won-early",
                (3_000_00, 0),
                ("trial", "won"),
                ("2026-12-20", "2026-12-20")
            ),
            ana_moved(
                "moved-in",
                (0, 1_200_00),
                ("trial", "trial"),
                ("2027-01-15", "2026-12-05")
            ),
            ana_moved(
                "moved-out",
                (300_00, 0),
                ("trial", "trial"),
                ("2026-12-10", "2027-02-01")
            ),
        ]
    );
    // November: won-early counts where it was won, though expected later.
    let november = movement("2026-11-01").await;
    assert_eq!(november.before, vec![]);
    assert_eq!(november.now, vec![at("EUR", 10_000_00, 0)]);
    assert_eq!(
        november.deals,
        vec![ana_moved(
            "won-early",
            (0, 10_000_00),
            ("trial", "won"),
            ("2026-12-20", "2026-12-20")
        )]
    );
    app.stop().await;
}

on_both_backends!(one_rep_s_movement_in_two_currencies_lists_the_largest);
/// The movement is summed in the store and only the largest moves come
/// back: one rep's deals in two currencies (never added together), a lost
/// deal, a probability raised by a stage and an amount overridden, a limit
/// that cuts between two moves of the same size (then by deal), and another
/// rep's deal that the rep's filter leaves out of every number.
async fn one_rep_s_movement_in_two_currencies_lists_the_largest(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut s = script::Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    s.team("south", "sue", &["cy"]);
    let opened = script::at("2026-11-02", 9);
    let deal = |id: &str, rep, (amount, currency, probability), close: &str| {
        script::Opp::new(id, rep, "trial", (amount, currency, probability), close)
    };
    // 300.00 USD then (30%), 600.00 now (60%).
    let mut usd_up = deal("usd-up", script::ANA, (1_000_00, "USD", 30), "2026-12-10");
    s.opened(&mut usd_up, opened);
    s.stage(&mut usd_up, "proposal", 60, script::at("2026-11-10", 9));
    // 600.00 EUR then, lost since: 0 now.
    let mut eur_lost = deal("eur-lost", script::ANA, (2_000_00, "EUR", 30), "2026-12-01");
    s.opened(&mut eur_lost, opened);
    s.closed(&mut eur_lost, false, script::at("2026-11-12", 9));
    // 300.00 EUR then (500.00 at 60%), 600.00 now (1,000.00 at 60%).
    let mut eur_amount = deal("eur-amount", script::ANA, (500_00, "EUR", 60), "2026-12-20");
    s.opened(&mut eur_amount, opened);
    s.amount(&mut eur_amount, 1_000_00, 60, script::at("2026-11-15", 9));
    // bo's: 2,700.00 EUR in December then, won in November since.
    let mut bo_won = deal("bo-won", script::BO, (9_000_00, "EUR", 30), "2026-12-05");
    s.opened(&mut bo_won, opened);
    s.closed(&mut bo_won, true, script::at("2026-11-20", 9));
    publish_and_wait(&app, &s.events).await;
    let maya = app.client("maya", Role::Manager).await;
    let movement = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "north".into(),
            rep_id: "ana".into(),
            period: month("2026-12-01"),
            since: "2026-11-04".into(),
            limit: 2,
        })
        .await
        .expect("GetForecastMovement")
        .into_inner();
    assert_eq!(
        movement.before,
        vec![at("EUR", 0, 900_00), at("USD", 0, 300_00)]
    );
    assert_eq!(
        movement.now,
        vec![at("EUR", 0, 600_00), at("USD", 0, 600_00)]
    );
    assert_eq!(movement.deals_moved, 3);
    assert_eq!(
        movement.deals,
        vec![
            ana_moved(
                "eur-lost",
                (600_00, 0),
                ("trial", "lost"),
                ("2026-12-01", "2026-12-01")
            ),
            ana_moved(
                "eur-amount",
                (300_00, 600_00),
                ("trial", "trial"),
                ("2026-12-20", "2026-12-20")
            ),
        ]
    );
    app.stop().await;
}

/// A database of the release before the day sums (and the other
/// pre-aggregated tables) had its base tables but empty sums: the first
/// start after the upgrade derives them once, so the answers are the same.
async fn an_upgraded_database_derives_its_sums_at_the_first_start(db: TestDb) {
    let url = db.url.clone();
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    async fn answers(
        app: &crate::helpers::TestApp,
    ) -> (
        Vec<PipelineOpenRow>,
        Vec<RouteOutcome>,
        GetForecastMovementResponse,
    ) {
        let mut client = app.client("maya", Role::Manager).await;
        let as_of = client
            .get_pipeline(GetPipelineRequest {
                as_of: "2026-11-04".into(),
                ..Default::default()
            })
            .await
            .expect("GetPipeline as of")
            .into_inner()
            .open;
        let routes = client
            .get_routing_outcome(GetRoutingOutcomeRequest {
                period: month("2026-11-05"),
                ..Default::default()
            })
            .await
            .expect("GetRoutingOutcome")
            .into_inner()
            .routes;
        let movement = client
            .get_forecast_movement(GetForecastMovementRequest {
                team_id: "north".into(),
                period: month("2026-11-01"),
                since: "2026-11-04".into(),
                ..Default::default()
            })
            .await
            .expect("GetForecastMovement")
            .into_inner();
        (as_of, routes, movement)
    }
    let before = answers(&app).await;
    assert!(!before.0.is_empty());
    assert!(before.2.deals_moved > 0, "{:?}", before.2);
    app.stop().await;

    let store = leadwheel_plumbing::Store::connect(&url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    for table in [
        "reporting_open_daily",
        "reporting_open_monthly",
        "reporting_forecast_changes",
        "reporting_route_daily",
        "reporting_balance",
        "reporting_balance_accounts",
        "reporting_upkeep",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(store.pool())
            .await
            .expect("emptying a table as before the upgrade");
    }
    store.close().await;

    let app = spawn_app(&env).await;
    assert_eq!(answers(&app).await, before);
    app.stop().await;
}

on_both_backends!(an_upgraded_database_derives_its_sums_at_the_first_start);

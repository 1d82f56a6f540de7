//! Pipeline, forecast against quota and the five questions over the
//! scripted November (`script.rs`), with answers worked out by hand; and
//! the same numbers from the same events in order, shuffled and repeated.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::reporting::v1::{
    BalanceRow, FiveAnswers, ForecastLine, GetFiveQuestionsRequest, GetForecastRequest,
    GetPipelineRequest, GetTeamBalanceRequest, Money, Period, PeriodKind, PipelineClosedRow,
    PipelineOpenRow, Quota, QuotaScope, RepBalance, SetQuotasRequest,
};

use crate::helpers::{Client, Env, TestApp, WAIT, spawn_app};
use crate::script::{self, Scripted};

pub fn month(date: &str) -> Option<Period> {
    Some(Period {
        kind: PeriodKind::Month as i32,
        date: date.into(),
        ..Default::default()
    })
}

pub fn week(date: &str) -> Option<Period> {
    Some(Period {
        kind: PeriodKind::Week as i32,
        date: date.into(),
        ..Default::default()
    })
}

pub fn quota(scope: QuotaScope, subject: &str, currency: &str, amount_minor: i64) -> Quota {
    Quota {
        scope: scope as i32,
        subject_id: subject.into(),
        period_kind: PeriodKind::Month as i32,
        period_start: "2026-11-01".into(),
        currency: currency.into(),
        amount_minor,
        ..Default::default()
    }
}

/// Publishes `events` then the sentinel, and waits until the sentinel is
/// applied: one consumer per stream applies in stream order, so every
/// opportunity event before it is applied too (and the teams, checked).
pub async fn publish_and_wait(app: &TestApp, events: &[Scripted]) {
    let mut all = events.to_vec();
    all.push(script::sentinel());
    script::publish_all(&app.nats_url, &all).await;
    let client = app.client("root", Role::Admin).await;
    leadwheel_plumbing::testing::eventually(WAIT, "the script applied", || {
        let mut client = client.clone();
        async move {
            let five = client
                .get_five_questions(GetFiveQuestionsRequest {
                    period: month(script::SENTINEL_DAY),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            for team in ["north", "south"] {
                client
                    .get_forecast(GetForecastRequest {
                        team_id: team.into(),
                        period: month(script::SENTINEL_DAY),
                        ..Default::default()
                    })
                    .await
                    .ok()?;
            }
            (five.current?.calls == 1).then_some(())
        }
    })
    .await;
}

fn open(
    team_rep: (&str, &str),
    stage: &str,
    currency: &str,
    amount_minor: i64,
    weighted_minor: i64,
) -> PipelineOpenRow {
    PipelineOpenRow {
        team_id: team_rep.0.into(),
        rep_id: team_rep.1.into(),
        stage: stage.into(),
        currency: currency.into(),
        count: 1,
        amount_minor,
        weighted_minor,
    }
}

fn eur(amount_minor: i64) -> Vec<Money> {
    vec![Money {
        currency: "EUR".into(),
        amount_minor,
    }]
}

/// (currency, quota or None, won, won deals, weighted, open amount, open deals).
type Expect<'a> = (&'a str, Option<i64>, i64, i64, i64, i64, i64);

fn forecast_line(
    (currency, quota, won, won_count, weighted, open, open_count): Expect,
) -> ForecastLine {
    let forecast = won + weighted;
    let q = quota.unwrap_or(0);
    let bp = |v: i64| if q > 0 { v * 10_000 / q } else { 0 };
    ForecastLine {
        currency: currency.into(),
        quota_minor: q,
        has_quota: quota.is_some(),
        won_minor: won,
        won_count,
        weighted_open_minor: weighted,
        open_amount_minor: open,
        open_count,
        forecast_minor: forecast,
        attainment_bp: bp(won),
        forecast_bp: bp(forecast),
        gap_minor: if quota.is_some() { q - forecast } else { 0 },
        ..Default::default()
    }
}

async fn scripted_month(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let admin = app.client("root", Role::Admin).await;

    // Pipeline: open deals now, per team, rep and stage (pipeline order);
    // won and lost in November.
    let pipeline = admin
        .clone()
        .get_pipeline(GetPipelineRequest {
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .expect("GetPipeline")
        .into_inner();
    assert_eq!(
        pipeline.open,
        vec![
            // opp2: 8,000.00 at the overridden 50%.
            open(script::ANA, "trial", "EUR", 8_000_00, 4_000_00),
            open(script::BO, "trial", "EUR", 500_00, 300_00),
            open(script::BO, "commercial", "USD", 2_000_00, 1_800_00),
            open(script::CY, "trial", "EUR", 3_000_00, 1_800_00),
        ]
    );
    assert_eq!(
        pipeline.closed,
        vec![
            PipelineClosedRow {
                team_id: "north".into(),
                rep_id: "ana".into(),
                currency: "EUR".into(),
                won_count: 2,
                won_minor: 14_000_00,
                ..Default::default()
            },
            PipelineClosedRow {
                team_id: "north".into(),
                rep_id: "bo".into(),
                currency: "EUR".into(),
                lost_count: 1,
                lost_minor: 1_000_00,
                ..Default::default()
            },
        ]
    );
    // October had no closes.
    let october = admin
        .clone()
        .get_pipeline(GetPipelineRequest {
            period: month("2026-10-01"),
            ..Default::default()
        })
        .await
        .expect("GetPipeline")
        .into_inner();
    assert!(october.closed.is_empty(), "{october:?}");

    // Forecast against quota: the manager sets north's and ana's quotas.
    let maya = app.client("maya", Role::Manager).await;
    maya.clone()
        .set_quotas(SetQuotasRequest {
            quotas: vec![
                quota(QuotaScope::Team, "north", "EUR", 20_000_00),
                quota(QuotaScope::Rep, "ana", "EUR", 15_000_00),
            ],
        })
        .await
        .expect("SetQuotas");
    let mut forecast = maya
        .clone()
        .get_forecast(GetForecastRequest {
            team_id: "north".into(),
            period: month("2026-11-30"),
            ..Default::default()
        })
        .await
        .expect("GetForecast")
        .into_inner();
    // By forecast category: opp2 (trial, overridden to 50%) is best case;
    // opp1 and opp6 closed; opp3 (commercial) commit.
    let categories = |line: &ForecastLine| -> Vec<(String, i64, i64, i64)> {
        line.categories
            .iter()
            .map(|c| {
                (
                    c.category.clone(),
                    c.deals,
                    c.amount_minor,
                    c.weighted_minor,
                )
            })
            .collect()
    };
    assert_eq!(
        categories(&forecast.lines[0]),
        vec![
            ("best_case".into(), 1, 8_000_00, 4_000_00),
            ("closed".into(), 2, 14_000_00, 14_000_00)
        ]
    );
    assert_eq!(
        categories(&forecast.lines[1]),
        vec![("commit".into(), 1, 2_000_00, 1_800_00)]
    );
    for line in forecast
        .lines
        .iter_mut()
        .chain(forecast.reps.iter_mut().flat_map(|r| r.lines.iter_mut()))
    {
        line.categories.clear();
    }
    // EUR: won opp1 + opp6; open closing in November: opp2 (opp7 has no
    // date, opp4 was lost). USD: opp3, with no quota in USD.
    assert_eq!(
        forecast.lines,
        vec![
            forecast_line(("EUR", Some(20_000_00), 14_000_00, 2, 4_000_00, 8_000_00, 1)),
            forecast_line(("USD", None, 0, 0, 1_800_00, 2_000_00, 1)),
        ]
    );
    assert_eq!(forecast.lines[0].attainment_bp, 7_000);
    assert_eq!(forecast.lines[0].gap_minor, 2_000_00);
    assert_eq!(forecast.unscheduled_open_count, 1);
    let reps: Vec<(&str, &[ForecastLine])> = forecast
        .reps
        .iter()
        .map(|r| (r.rep_id.as_str(), r.lines.as_slice()))
        .collect();
    assert_eq!(
        reps,
        vec![
            (
                "ana",
                &[forecast_line((
                    "EUR",
                    Some(15_000_00),
                    14_000_00,
                    2,
                    4_000_00,
                    8_000_00,
                    1
                ))][..]
            ),
            (
                "bo",
                &[forecast_line(("USD", None, 0, 0, 1_800_00, 2_000_00, 1))][..]
            ),
        ]
    );
    // The manager's own number, kept beside the computed one.
    maya.clone()
        .set_forecast_adjustment(
            leadwheel_proto::reporting::v1::SetForecastAdjustmentRequest {
                scope: QuotaScope::Team as i32,
                subject_id: "north".into(),
                period_kind: PeriodKind::Month as i32,
                period_start: "2026-11-15".into(),
                currency: "EUR".into(),
                amount_minor: 16_000_00,
                note: "opp2 slips to December".into(),
                clear: false,
            },
        )
        .await
        .expect("SetForecastAdjustment");
    let adjusted = maya
        .clone()
        .get_forecast(GetForecastRequest {
            team_id: "north".into(),
            period: month("2026-11-30"),
            ..Default::default()
        })
        .await
        .expect("GetForecast")
        .into_inner();
    let line = &adjusted.lines[0];
    assert_eq!(
        (
            line.forecast_minor,
            line.has_adjustment,
            line.adjusted_forecast_minor,
            line.adjustment_note.as_str(),
            line.adjusted_by.as_str()
        ),
        (18_000_00, true, 16_000_00, "opp2 slips to December", "maya")
    );
    assert!(!adjusted.lines[1].has_adjustment, "USD has none");
    let ana_client = app.client("ana", Role::Rep).await;
    let refused = ana_client
        .clone()
        .set_forecast_adjustment(
            leadwheel_proto::reporting::v1::SetForecastAdjustmentRequest {
                scope: QuotaScope::Rep as i32,
                subject_id: "ana".into(),
                period_kind: PeriodKind::Month as i32,
                period_start: "2026-11-01".into(),
                currency: "EUR".into(),
                amount_minor: 99_000_00,
                ..Default::default()
            },
        )
        .await
        .expect_err("a rep adjusts their own forecast");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // Ana beats her quota on forecast: a negative gap.
    assert_eq!(forecast.reps[0].lines[0].gap_minor, -3_000_00);
    assert_eq!(forecast.reps[0].lines[0].attainment_bp, 9_333);

    // The five questions for north in November, October beside.
    let five = maya
        .clone()
        .get_five_questions(GetFiveQuestionsRequest {
            team_id: "north".into(),
            period: month("2026-11-15"),
            ..Default::default()
        })
        .await
        .expect("GetFiveQuestions")
        .into_inner();
    assert_eq!(five.intent_stage, "commercial");
    assert_eq!(
        five.current,
        Some(FiveAnswers {
            calls: 4,
            opportunities: 6,
            purchase_intents: 3,
            won: 2,
            won_value: eur(14_000_00),
            average_deal: eur(7_000_00),
        })
    );
    assert_eq!(
        five.previous,
        Some(FiveAnswers {
            calls: 1,
            ..Default::default()
        })
    );
    let period = five.previous_period.expect("previous period");
    assert_eq!(
        (period.from.as_str(), period.to.as_str()),
        ("2026-10-01", "2026-10-31")
    );

    // Ana's own week of 2 November, the week before beside it.
    let ana = app.client("ana", Role::Rep).await;
    let week = ana
        .clone()
        .get_five_questions(GetFiveQuestionsRequest {
            period: week("2026-11-04"),
            ..Default::default()
        })
        .await
        .expect("GetFiveQuestions")
        .into_inner();
    assert_eq!(
        (week.current, week.previous),
        (
            Some(FiveAnswers {
                calls: 2,
                opportunities: 2,
                purchase_intents: 1,
                ..Default::default()
            }),
            Some(FiveAnswers {
                calls: 1,
                ..Default::default()
            })
        )
    );
    assert_eq!(week.reps.len(), 1, "a rep sees only their own row");

    // Team balance for north: open and won deals by account tier and
    // stage; ana holds both of the team's won customers (over 40%).
    let balance = maya
        .clone()
        .get_team_balance(GetTeamBalanceRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .expect("GetTeamBalance")
        .into_inner();
    let row = |rep: &str, tier: &str, stage: &str, currency: &str, amount_minor| BalanceRow {
        team_id: "north".into(),
        rep_id: rep.into(),
        tier: tier.into(),
        stage: stage.into(),
        currency: currency.into(),
        deals: 1,
        amount_minor,
    };
    assert_eq!(
        balance.rows,
        vec![
            row("ana", "A", "trial", "EUR", 8_000_00),
            row("ana", "A", "won", "EUR", 10_000_00),
            row("ana", "B", "won", "EUR", 4_000_00),
            row("bo", "A", "trial", "EUR", 500_00),
            row("bo", "B", "commercial", "USD", 2_000_00),
        ]
    );
    let rep = |rep: &str, customers, won, share, over| RepBalance {
        team_id: "north".into(),
        rep_id: rep.into(),
        customers,
        won_customers: won,
        won_share_bp: share,
        over_share: over,
        left: false,
    };
    assert_eq!(
        balance.reps,
        vec![rep("ana", 3, 2, 10_000, true), rep("bo", 3, 0, 0, false)]
    );
    assert_eq!(balance.max_share_bp, 4_000);
    app.stop().await;
}

/// Every report a test compares, read as an admin.
pub async fn all_numbers(client: &Client) -> String {
    let mut client = client.clone();
    let pipeline = client
        .get_pipeline(GetPipelineRequest {
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .expect("GetPipeline")
        .into_inner();
    let forecast = client
        .get_forecast(GetForecastRequest {
            team_id: "north".into(),
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .expect("GetForecast")
        .into_inner();
    let five = client
        .get_five_questions(GetFiveQuestionsRequest {
            period: week("2026-11-04"),
            ..Default::default()
        })
        .await
        .expect("GetFiveQuestions")
        .into_inner();
    let funnel = client
        .get_funnel(leadwheel_proto::reporting::v1::GetFunnelRequest::default())
        .await
        .expect("GetFunnel")
        .into_inner();
    let balance = client
        .get_team_balance(leadwheel_proto::reporting::v1::GetTeamBalanceRequest::default())
        .await
        .expect("GetTeamBalance")
        .into_inner();
    let as_of = client
        .get_pipeline(GetPipelineRequest {
            as_of: "2026-11-04".into(),
            ..Default::default()
        })
        .await
        .expect("GetPipeline as of")
        .into_inner();
    format!("{pipeline:#?}\n{forecast:#?}\n{five:#?}\n{funnel:#?}\n{balance:#?}\n{as_of:#?}")
}

pub async fn numbers_after(events: &[Scripted], db: TestDb) -> String {
    let env = Env::new(db);
    let app: TestApp = spawn_app(&env).await;
    publish_and_wait(&app, events).await;
    let admin = app.client("root", Role::Admin).await;
    let numbers = all_numbers(&admin).await;
    app.stop().await;
    numbers
}

/// A fixed shuffle (no randomness in tests): a stride through the list.
pub fn shuffled(events: &[Scripted]) -> Vec<Scripted> {
    let n = events.len();
    let stride = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s > n / 3)
        .unwrap_or(1);
    (0..n)
        .map(|i| events[(i * stride + 7) % n].clone())
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

async fn order_and_repeats_do_not_change_the_numbers(db: TestDb) {
    let events = script::november();
    let postgres = db.url.starts_with("postgres");
    let in_order = numbers_after(&events, db).await;
    // Shuffled, then every event redelivered and every fact announced
    // again under a new id, the repeats in reverse order (so the last
    // copy of each opportunity's state to arrive is its oldest).
    let mut mixed = shuffled(&events);
    assert_ne!(
        mixed.iter().map(|e| &e.id).collect::<Vec<_>>(),
        events.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    mixed.extend(events.iter().rev().map(Scripted::redelivered));
    mixed.extend(events.iter().rev().map(Scripted::announced_again));
    // The second run on a fresh database of the same backend.
    let other = if postgres {
        TestDb::postgres().await.expect("TEST_POSTGRES_URL is set")
    } else {
        TestDb::sqlite()
    };
    let after_mix = numbers_after(&mixed, other).await;
    assert_eq!(in_order, after_mix);
}

on_both_backends!(scripted_month, order_and_repeats_do_not_change_the_numbers);

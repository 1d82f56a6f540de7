//! End-to-end through the real processes: a signup is claimed, converted,
//! given an amount, moved to trial, its close date moved out and back, and
//! won; reporting's pipeline, forecast against quota, forecast movement and
//! five questions move with it.

// Money is written as units_cents (10_000_00 is 10,000.00) on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::opportunity::v1::{
    ActivityKind, ConvertLeadRequest, GetLeadInWorkRequest, LogActivityRequest, MoveStageRequest,
    SetAmountRequest,
};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    DealMove, ForecastLine, GetFiveQuestionsRequest, GetForecastMovementRequest,
    GetForecastRequest, GetPipelineRequest, Period, PeriodKind, PipelineOpenRow, Quota, QuotaScope,
    SetQuotasRequest,
};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

type Reporting = ReportingServiceClient<InterceptedService<Channel, BearerToken>>;

fn this(kind: PeriodKind) -> Option<Period> {
    Some(Period {
        kind: kind as i32,
        ..Default::default()
    })
}

async fn open(reporting: &Reporting) -> Option<Vec<PipelineOpenRow>> {
    Some(
        reporting
            .clone()
            .get_pipeline(GetPipelineRequest {
                team_id: "demo".into(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner()
            .open,
    )
}

async fn forecast(reporting: &Reporting) -> Option<ForecastLine> {
    reporting
        .clone()
        .get_forecast(GetForecastRequest {
            team_id: "demo".into(),
            period: this(PeriodKind::Month),
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner()
        .lines
        .into_iter()
        .find(|l| l.currency == "EUR")
}

/// The 15th of the month after the one `last_day` (`YYYY-MM-DD`) ends.
fn day_in_next_month(last_day: &str) -> String {
    let year: i32 = last_day[..4].parse().expect("a year");
    let month: u32 = last_day[5..7].parse().expect("a month");
    if month == 12 {
        format!("{}-01-15", year + 1)
    } else {
        format!("{year}-{:02}-15", month + 1)
    }
}

/// Waits until team demo's EUR forecast this month weighs `minor` open.
async fn weighted_open_becomes(reporting: &Reporting, minor: i64, what: &str) {
    eventually(WAIT, what, || async move {
        (forecast(reporting).await?.weighted_open_minor == minor).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_won_deal_moves_pipeline_forecast_and_the_five_questions() {
    let system = System::start().await.expect("system");
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "demo".into(),
                name: "Demo".into(),
                manager_id: "maya".into(),
                window_ms: 600_000,
                rep_ids: vec!["ana".into()],
                policy: None,
            }),
            rep_names: vec![],
        })
        .await
        .expect("seeding the team");
    let maya = ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);

    // A signup; ana is offered it and claims it.
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({"email": "kim@northwind.example", "name": "Kim", "company": "Northwind"}))
        .send()
        .await
        .expect("posting a signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    let lead_id = body["lead_id"].as_str().expect("lead_id").to_string();
    let ana_wheel = WheelServiceClient::new(system.authed("wheel", "ana", Role::Rep).await);
    eventually(WAIT, "ana claims the offer", || {
        let mut ana = ana_wheel.clone();
        let lead_id = lead_id.clone();
        async move {
            ana.claim(ClaimRequest {
                lead_id,
                rep_id: "ana".into(),
            })
            .await
            .ok()
        }
    })
    .await;

    // Ana converts it (10,000.00 EUR closing this month), raises the
    // amount, logs a call and moves it to trial.
    let mut opps =
        OpportunityServiceClient::new(system.authed("opportunity", "ana", Role::Rep).await);
    eventually(WAIT, "the lead in work", || {
        let mut opps = opps.clone();
        let lead_id = lead_id.clone();
        async move {
            opps.get_lead_in_work(GetLeadInWorkRequest { lead_id })
                .await
                .ok()
        }
    })
    .await;
    // This month, as reporting resolves it (its business time zone).
    let month = eventually(WAIT, "reporting to know team demo", || {
        let maya = maya.clone();
        async move {
            maya.clone()
                .get_forecast(GetForecastRequest {
                    team_id: "demo".into(),
                    period: this(PeriodKind::Month),
                    ..Default::default()
                })
                .await
                .ok()
                .and_then(|r| r.into_inner().period)
        }
    })
    .await;
    let opportunity = opps
        .convert_lead(ConvertLeadRequest {
            request_id: "convert-kim".into(),
            lead_id: lead_id.clone(),
            account_name: "Northwind".into(),
            domains: vec!["northwind.example".into()],
            tier: "A".into(),
            opportunity_name: "Northwind rollout".into(),
            amount_minor: 10_000_00,
            currency: "EUR".into(),
            expected_close_date: month.to.clone(),
            stage: String::new(),
        })
        .await
        .expect("ana converts the lead")
        .into_inner()
        .opportunity
        .expect("an opportunity");
    let id = opportunity.opportunity_id.clone();
    opps.set_amount(SetAmountRequest {
        opportunity_id: id.clone(),
        amount_minor: 12_000_00,
        currency: "EUR".into(),
        reason: "two more seats".into(),
        ..Default::default()
    })
    .await
    .expect("ana sets the amount");
    opps.log_activity(LogActivityRequest {
        request_id: "call-kim".into(),
        kind: ActivityKind::Call as i32,
        opportunity_id: id.clone(),
        duration_seconds: 600,
        outcome: "trial agreed".into(),
        ..Default::default()
    })
    .await
    .expect("ana logs a call");
    opps.move_stage(MoveStageRequest {
        opportunity_id: id.clone(),
        stage: "trial".into(),
        ..Default::default()
    })
    .await
    .expect("to trial");

    // The pipeline: one open deal in trial, 12,000.00 at 60%.
    let rows = eventually(WAIT, "the deal in trial in the pipeline", || {
        let maya = maya.clone();
        async move {
            let rows = open(&maya).await?;
            rows.iter()
                .any(|r| r.stage == "trial" && r.amount_minor == 12_000_00)
                .then_some(rows)
        }
    })
    .await;
    assert_eq!(
        rows,
        vec![PipelineOpenRow {
            team_id: "demo".into(),
            rep_id: "ana".into(),
            stage: "trial".into(),
            currency: "EUR".into(),
            count: 1,
            amount_minor: 12_000_00,
            weighted_minor: 7_200_00,
        }]
    );
    maya.clone()
        .set_quotas(SetQuotasRequest {
            quotas: vec![Quota {
                scope: QuotaScope::Team as i32,
                subject_id: "demo".into(),
                period_kind: PeriodKind::Month as i32,
                period_start: month.from.clone(),
                currency: "EUR".into(),
                amount_minor: 24_000_00,
                ..Default::default()
            }],
        })
        .await
        .expect("maya sets the month's quota");
    let line = forecast(&maya).await.expect("a EUR forecast");
    assert_eq!(
        (
            line.won_minor,
            line.weighted_open_minor,
            line.forecast_bp,
            line.gap_minor
        ),
        (0, 7_200_00, 3_000, 16_800_00)
    );

    // Ana expects it next month now: it leaves this month's forecast and
    // shows in next month's movement (the close date carried on the real
    // opportunity event into reporting's deal history); then back.
    let next_month = day_in_next_month(&month.to);
    let set_close_date = |date: &str| SetAmountRequest {
        opportunity_id: id.clone(),
        amount_minor: 12_000_00,
        currency: "EUR".into(),
        expected_close_date: date.to_string(),
        reason: "customer's budget".into(),
        ..Default::default()
    };
    opps.set_amount(set_close_date(&next_month))
        .await
        .expect("ana moves the close date out");
    weighted_open_becomes(&maya, 0, "the deal out of this month's forecast").await;
    let moved = maya
        .clone()
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: "demo".into(),
            period: Some(Period {
                kind: PeriodKind::Month as i32,
                date: next_month.clone(),
                ..Default::default()
            }),
            since: "2020-01-01".into(),
            ..Default::default()
        })
        .await
        .expect("next month's movement")
        .into_inner();
    assert_eq!(
        moved.deals,
        vec![DealMove {
            opportunity_id: id.clone(),
            team_id: "demo".into(),
            rep_id: "ana".into(),
            currency: "EUR".into(),
            before_minor: 0,
            after_minor: 7_200_00,
            before_stage: String::new(),
            after_stage: "trial".into(),
            before_close_date: String::new(),
            after_close_date: next_month.clone(),
        }]
    );
    assert_eq!(moved.deals_moved, 1, "every deal that moved is listed");
    opps.set_amount(set_close_date(&month.to))
        .await
        .expect("ana moves the close date back");
    weighted_open_becomes(&maya, 7_200_00, "the deal back in this month's forecast").await;

    // Won: out of the open pipeline, into won, attainment 50%.
    opps.move_stage(MoveStageRequest {
        opportunity_id: id.clone(),
        stage: "won".into(),
        reason: "signed".into(),
        ..Default::default()
    })
    .await
    .expect("won");
    let line = eventually(WAIT, "the win in the forecast", || {
        let maya = maya.clone();
        async move {
            let line = forecast(&maya).await?;
            (line.won_minor > 0).then_some(line)
        }
    })
    .await;
    assert_eq!(
        (
            line.won_minor,
            line.weighted_open_minor,
            line.attainment_bp,
            line.gap_minor
        ),
        (12_000_00, 0, 5_000, 12_000_00)
    );
    assert_eq!(open(&maya).await, Some(vec![]));
    let five = maya
        .clone()
        .get_five_questions(GetFiveQuestionsRequest {
            team_id: "demo".into(),
            period: this(PeriodKind::Week),
            ..Default::default()
        })
        .await
        .expect("the five questions")
        .into_inner()
        .current
        .expect("answers");
    assert_eq!((five.calls, five.opportunities, five.won), (1, 1, 1));
    assert_eq!(five.average_deal[0].amount_minor, 12_000_00);
}

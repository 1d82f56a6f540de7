//! Every report RPC, called as an admin over the whole year's data (no
//! team filter where the report allows it: the largest answer), timed at
//! the gRPC client.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use leadwheel_proto::reporting::v1::{
    GetActivityRequest, GetFairnessRequest, GetFiveQuestionsRequest, GetForecastMovementRequest,
    GetForecastRequest, GetFunnelRequest, GetPipelineRequest, GetRoutingOutcomeRequest,
    GetSpeedToLeadRequest, GetStagesRequest, GetTeamBalanceRequest, Period, PeriodKind,
};

use super::service::Client;
use crate::stats::Samples;

/// The busiest month of the generated year, and a week and day in it.
const MONTH_DAY: &str = "2026-06-15";
const AS_OF: &str = "2026-06-30";
const SINCE: &str = "2026-06-08";
const TEAM: &str = "team-000";

fn period(kind: PeriodKind) -> Option<Period> {
    Some(Period {
        kind: kind as i32,
        date: MONTH_DAY.into(),
        ..Default::default()
    })
}

/// The report names, in the order they are called.
pub const REPORTS: [&str; 12] = [
    "funnel",
    "pipeline",
    "pipeline as of",
    "forecast (team)",
    "movement (team)",
    "five questions",
    "stages",
    "activity",
    "fairness",
    "speed to lead",
    "balance (team)",
    "routes",
];

/// Times one RPC (the call only, not printing its answer).
macro_rules! timed {
    ($call:expr) => {{
        let started = Instant::now();
        let answer = $call.await?.into_inner();
        (started.elapsed(), format!("{answer:?}"))
    }};
}

/// Calls report `index` of [`REPORTS`] once; returns how long the call
/// took and its answer, printed.
async fn call(client: &mut Client, index: usize) -> Result<(Duration, String)> {
    let answer = match index {
        0 => timed!(client.get_funnel(GetFunnelRequest::default())),
        1 => timed!(client.get_pipeline(GetPipelineRequest {
            period: period(PeriodKind::Month),
            ..Default::default()
        })),
        2 => timed!(client.get_pipeline(GetPipelineRequest {
            as_of: AS_OF.into(),
            ..Default::default()
        })),
        3 => timed!(client.get_forecast(GetForecastRequest {
            team_id: TEAM.into(),
            period: period(PeriodKind::Month),
            ..Default::default()
        })),
        4 => timed!(client.get_forecast_movement(GetForecastMovementRequest {
            team_id: TEAM.into(),
            period: period(PeriodKind::Month),
            since: SINCE.into(),
            ..Default::default()
        })),
        5 => timed!(client.get_five_questions(GetFiveQuestionsRequest {
            period: period(PeriodKind::Week),
            ..Default::default()
        })),
        6 => timed!(client.get_stages(GetStagesRequest {
            period: period(PeriodKind::Month),
            ..Default::default()
        })),
        7 => timed!(client.get_activity(GetActivityRequest {
            period: period(PeriodKind::Week),
            ..Default::default()
        })),
        8 => timed!(client.get_fairness(GetFairnessRequest {
            period: period(PeriodKind::Week),
            ..Default::default()
        })),
        9 => timed!(client.get_speed_to_lead(GetSpeedToLeadRequest {
            period: period(PeriodKind::Week),
            ..Default::default()
        })),
        10 => timed!(client.get_team_balance(GetTeamBalanceRequest {
            team_id: TEAM.into(),
            ..Default::default()
        })),
        _ => timed!(client.get_routing_outcome(GetRoutingOutcomeRequest {
            period: period(PeriodKind::Month),
            ..Default::default()
        })),
    };
    Ok(answer)
}

/// Every report's answer, for comparing two builds of the same events.
pub async fn answers(client: &mut Client) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (index, name) in REPORTS.iter().enumerate() {
        let (_, answer) = call(client, index)
            .await
            .with_context(|| format!("report {name}"))?;
        out.push(answer);
    }
    Ok(out)
}

/// Calls every report `calls` times (one after another, one client) and
/// returns each one's latencies.
pub async fn time_all(client: &mut Client, calls: usize) -> Result<Vec<(&'static str, Samples)>> {
    let mut out = Vec::new();
    for (index, name) in REPORTS.iter().enumerate() {
        // One warm-up call: the first pays for connection and statement setup.
        call(client, index)
            .await
            .with_context(|| format!("report {name}"))?;
        let mut samples = Samples::with_capacity(calls);
        for _ in 0..calls {
            let (took, _) = call(client, index)
                .await
                .with_context(|| format!("report {name}"))?;
            samples.push(took);
        }
        out.push((*name, samples));
    }
    Ok(out)
}

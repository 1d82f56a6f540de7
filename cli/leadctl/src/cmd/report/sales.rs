//! `leadctl report pipeline|forecast|five`: one call each, shown as one
//! flat sheet (table or CSV) or as the API's JSON.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    FiveAnswers, ForecastLine, GetFiveQuestionsRequest, GetFiveQuestionsResponse,
    GetForecastMovementRequest, GetForecastRequest, GetForecastResponse, GetPipelineRequest,
    GetPipelineResponse, Money, Period, PeriodKind,
};
use serde_json::{Value, json};

use super::sheet::{
    five_sheet, forecast_sheet, forecast_subject, movement_sheet, pipeline_sheet, show,
};
use crate::cli::{FiveArgs, PeriodArg, PeriodArgs, PipelineArgs, ReportArgs};
use crate::conn::Ctx;
use crate::error::Target;

/// The request's period from the flags (None: the report's default).
pub fn period(args: &PeriodArgs) -> Option<Period> {
    if let (Some(from), Some(to)) = (&args.from, &args.to) {
        return Some(Period {
            kind: PeriodKind::Custom as i32,
            from: from.clone(),
            to: to.clone(),
            ..Default::default()
        });
    }
    let kind = match args.period {
        Some(PeriodArg::Day) => PeriodKind::Day,
        Some(PeriodArg::Week) => PeriodKind::Week,
        Some(PeriodArg::Month) => PeriodKind::Month,
        Some(PeriodArg::Quarter) => PeriodKind::Quarter,
        Some(PeriodArg::Year) => PeriodKind::Year,
        None if args.date.is_some() => {
            return Some(Period {
                kind: PeriodKind::Unspecified as i32,
                date: args.date.clone().unwrap_or_default(),
                ..Default::default()
            });
        }
        None => return None,
    };
    Some(Period {
        kind: kind as i32,
        date: args.date.clone().unwrap_or_default(),
        ..Default::default()
    })
}

fn json_of(value: &impl serde::Serialize) -> Result<Value> {
    Ok(serde_json::to_value(value)?)
}

pub async fn pipeline(ctx: &Ctx, args: PipelineArgs) -> Result<()> {
    let request = GetPipelineRequest {
        team_id: args.report.team.unwrap_or_default(),
        rep_id: args.report.rep.unwrap_or_default(),
        period: period(&args.report.period),
        as_of: args.as_of.unwrap_or_default(),
    };
    let response: GetPipelineResponse = ctx
        .reporting()
        .await?
        .get_pipeline(request)
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let view = pipeline_json(&response);
    show(ctx.output(), &view, |_| pipeline_sheet(&response))
}

fn pipeline_json(r: &GetPipelineResponse) -> Value {
    json!({
        "period": r.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "open": r.open.iter().map(|o| json!({
            "team_id": o.team_id, "rep_id": o.rep_id, "stage": o.stage, "currency": o.currency,
            "count": o.count, "amount_minor": o.amount_minor, "weighted_minor": o.weighted_minor,
        })).collect::<Vec<_>>(),
        "closed": r.closed.iter().map(|c| json!({
            "team_id": c.team_id, "rep_id": c.rep_id, "currency": c.currency,
            "won_count": c.won_count, "won_minor": c.won_minor,
            "lost_count": c.lost_count, "lost_minor": c.lost_minor,
        })).collect::<Vec<_>>(),
    })
}

pub async fn forecast(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let request = GetForecastRequest {
        team_id: args.team.unwrap_or_default(),
        rep_id: args.rep.unwrap_or_default(),
        period: period(&args.period),
    };
    let response: GetForecastResponse = ctx
        .reporting()
        .await?
        .get_forecast(request.clone())
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let subject = forecast_subject(&request.team_id, &request.rep_id);
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "lines": response.lines.iter().map(line_json).collect::<Vec<_>>(),
        "reps": response.reps.iter().map(|r| json!({
            "rep_id": r.rep_id,
            "lines": r.lines.iter().map(line_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "unscheduled_open_count": response.unscheduled_open_count,
    });
    show(ctx.output(), &view, |_| forecast_sheet(&subject, &response))
}

fn line_json(l: &ForecastLine) -> Value {
    json!({
        "currency": l.currency, "quota_minor": l.has_quota.then_some(l.quota_minor),
        "won_minor": l.won_minor, "won_count": l.won_count,
        "weighted_open_minor": l.weighted_open_minor, "open_amount_minor": l.open_amount_minor,
        "open_count": l.open_count, "forecast_minor": l.forecast_minor,
        "attainment_bp": l.has_quota.then_some(l.attainment_bp),
        "forecast_bp": l.has_quota.then_some(l.forecast_bp),
        "gap_minor": l.has_quota.then_some(l.gap_minor),
        "adjusted_forecast_minor": l.has_adjustment.then_some(l.adjusted_forecast_minor),
        "adjustment_note": l.adjustment_note, "adjusted_by": l.adjusted_by,
        "categories": l.categories.iter().map(|k| json!({
            "category": k.category, "deals": k.deals,
            "amount_minor": k.amount_minor, "weighted_minor": k.weighted_minor,
        })).collect::<Vec<_>>(),
    })
}

pub async fn five(ctx: &Ctx, args: FiveArgs) -> Result<()> {
    let request = GetFiveQuestionsRequest {
        team_id: args.report.team.unwrap_or_default(),
        rep_id: args.report.rep.unwrap_or_default(),
        period: period(&args.report.period),
        intent_stage: args.intent_stage.unwrap_or_default(),
    };
    let response: GetFiveQuestionsResponse = ctx
        .reporting()
        .await?
        .get_five_questions(request)
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let answers = |a: &Option<FiveAnswers>| -> Result<Value> {
        let a = a.clone().unwrap_or_default();
        Ok(json!({
            "calls": a.calls, "opportunities": a.opportunities,
            "purchase_intents": a.purchase_intents, "won": a.won,
            "won_value": a.won_value.iter().map(money_json).collect::<Vec<_>>(),
            "average_deal": a.average_deal.iter().map(money_json).collect::<Vec<_>>(),
        }))
    };
    let view = json!({
        "period": json_of(&response.period.as_ref().map(|p| (&p.from, &p.to)))?,
        "previous_period": json_of(&response.previous_period.as_ref().map(|p| (&p.from, &p.to)))?,
        "intent_stage": response.intent_stage,
        "current": answers(&response.current)?,
        "previous": answers(&response.previous)?,
        "reps": response.reps.iter().map(|r| Ok(json!({
            "team_id": r.team_id, "rep_id": r.rep_id,
            "current": answers(&r.current)?, "previous": answers(&r.previous)?,
        }))).collect::<Result<Vec<_>>>()?,
    });
    show(ctx.output(), &view, |_| five_sheet(&response))
}

fn money_json(m: &Money) -> Value {
    json!({"currency": m.currency, "amount_minor": m.amount_minor})
}

pub async fn movement(
    ctx: &Ctx,
    args: ReportArgs,
    since: Option<String>,
    limit: Option<i32>,
) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
            since: since.unwrap_or_default(),
            limit: limit.unwrap_or_default(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let at = |list: &[leadwheel_proto::reporting::v1::ForecastAt]| {
        list.iter()
            .map(|f| {
                json!({"currency": f.currency, "won_minor": f.won_minor,
                    "weighted_open_minor": f.weighted_open_minor, "forecast_minor": f.forecast_minor})
            })
            .collect::<Vec<_>>()
    };
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "since": response.since,
        "from_snapshot": response.from_snapshot,
        "snapshot_at_ms": response.from_snapshot.then_some(response.snapshot_at_ms),
        "snapshot_taken_at_ms": response.from_snapshot.then_some(response.snapshot_taken_at_ms),
        "before": at(&response.before),
        "now": at(&response.now),
        "deals_moved": response.deals_moved,
        "deals": response.deals.iter().map(|d| json!({
            "opportunity_id": d.opportunity_id, "team_id": d.team_id, "rep_id": d.rep_id,
            "currency": d.currency, "before_minor": d.before_minor, "after_minor": d.after_minor,
            "before_stage": d.before_stage, "after_stage": d.after_stage,
            "before_close_date": d.before_close_date, "after_close_date": d.after_close_date,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| movement_sheet(&response))
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{PipelineClosedRow, PipelineOpenRow};

    use leadwheel_proto::reporting::v1::ResolvedPeriod;

    use super::*;

    #[test]
    fn the_pipeline_sheet_lists_open_then_won_and_lost() {
        let response = GetPipelineResponse {
            period: Some(ResolvedPeriod {
                kind: PeriodKind::Month as i32,
                from: "2026-11-01".into(),
                to: "2026-11-30".into(),
            }),
            open: vec![PipelineOpenRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                stage: "trial".into(),
                currency: "EUR".into(),
                count: 2,
                amount_minor: 1_000_050,
                weighted_minor: 600_030,
            }],
            closed: vec![PipelineClosedRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                currency: "JPY".into(),
                won_count: 1,
                won_minor: 5000,
                ..Default::default()
            }],
        };
        let csv = pipeline_sheet(&response).csv();
        assert_eq!(
            csv,
            "section,team,rep,stage,currency,deals,amount,weighted\r\n\
             open now,demo,ana,trial,EUR,2,10000.50,6000.30\r\n\
             won 2026-11-01..2026-11-30,demo,ana,,JPY,1,5000,\r\n"
        );
    }

    #[test]
    fn a_negative_gap_is_neutralised_in_csv() {
        let response = GetForecastResponse {
            lines: vec![ForecastLine {
                currency: "EUR".into(),
                quota_minor: 10_000,
                has_quota: true,
                won_minor: 13_000,
                forecast_minor: 13_000,
                attainment_bp: 13_000,
                forecast_bp: 13_000,
                gap_minor: -3_000,
                ..Default::default()
            }],
            ..Default::default()
        };
        let csv = forecast_sheet("team demo", &response).csv();
        assert!(
            csv.ends_with("team demo,,EUR,100.00,130.00,0.00,130.00,130.00,130.00,'-30.00,,,\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn flags_make_periods() {
        let args = |period, date: Option<&str>, from: Option<&str>| PeriodArgs {
            period,
            date: date.map(String::from),
            from: from.map(String::from),
            to: from.map(|_| "2026-11-30".to_string()),
        };
        assert_eq!(period(&args(None, None, None)), None);
        let quarter = period(&args(Some(PeriodArg::Quarter), Some("2026-11-02"), None)).unwrap();
        assert_eq!(
            (quarter.kind, quarter.date.as_str()),
            (PeriodKind::Quarter as i32, "2026-11-02")
        );
        let custom = period(&args(None, None, Some("2026-11-01"))).unwrap();
        assert_eq!(
            (custom.kind, custom.from.as_str(), custom.to.as_str()),
            (PeriodKind::Custom as i32, "2026-11-01", "2026-11-30")
        );
    }
}

//! `leadctl report pipeline|forecast|five`: one call each, shown as one
//! flat sheet (table or CSV) or as the API's JSON.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    FiveAnswers, ForecastLine, GetFiveQuestionsRequest, GetFiveQuestionsResponse,
    GetForecastMovementRequest, GetForecastMovementResponse, GetForecastRequest,
    GetForecastResponse, GetPipelineRequest, GetPipelineResponse, Money, Period, PeriodKind,
    ResolvedPeriod,
};
use serde_json::{Value, json};

use super::sheet::{Sheet, show};
use crate::cli::{FiveArgs, PeriodArg, PeriodArgs, PipelineArgs, ReportArgs};
use crate::cmd::opps::views::money;
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

/// Minor units as a plain decimal in the currency's units (`12000.50`).
fn units(amount_minor: i64, currency: &str) -> String {
    let shown = money(amount_minor, currency);
    shown
        .strip_suffix(&format!(" {currency}"))
        .unwrap_or(&shown)
        .to_string()
}

fn percent(basis_points: i64, has_quota: bool) -> String {
    if has_quota {
        format!("{}.{:02}", basis_points / 100, (basis_points % 100).abs())
    } else {
        String::new()
    }
}

fn span(period: &Option<ResolvedPeriod>) -> String {
    period
        .as_ref()
        .map(|p| format!("{}..{}", p.from, p.to))
        .unwrap_or_default()
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

/// Open deals by stage, then won and lost in the period, one row each.
pub fn pipeline_sheet(r: &GetPipelineResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "SECTION", "TEAM", "REP", "STAGE", "CURRENCY", "DEALS", "AMOUNT", "WEIGHTED",
    ]);
    for o in &r.open {
        sheet.row(vec![
            "open now".into(),
            o.team_id.clone(),
            o.rep_id.clone(),
            o.stage.clone(),
            o.currency.clone(),
            o.count.to_string(),
            units(o.amount_minor, &o.currency),
            units(o.weighted_minor, &o.currency),
        ]);
    }
    let when = span(&r.period);
    for c in &r.closed {
        for (what, count, amount) in [
            ("won", c.won_count, c.won_minor),
            ("lost", c.lost_count, c.lost_minor),
        ] {
            if count > 0 {
                sheet.row(vec![
                    format!("{what} {when}"),
                    c.team_id.clone(),
                    c.rep_id.clone(),
                    String::new(),
                    c.currency.clone(),
                    count.to_string(),
                    units(amount, &c.currency),
                    String::new(),
                ]);
            }
        }
    }
    sheet
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
    let subject = if request.rep_id.is_empty() {
        if request.team_id.is_empty() {
            "me".to_string()
        } else {
            format!("team {}", request.team_id)
        }
    } else {
        format!("rep {}", request.rep_id)
    };
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

/// The subject's lines, then each rep's; one currency per row.
pub fn forecast_sheet(subject: &str, r: &GetForecastResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "WHO",
        "PERIOD",
        "CURRENCY",
        "QUOTA",
        "WON",
        "WEIGHTED OPEN",
        "FORECAST",
        "ATTAINMENT %",
        "FORECAST %",
        "GAP",
        "MANAGER'S",
        "NOTE",
        "BY CATEGORY (WEIGHTED)",
    ]);
    let when = span(&r.period);
    let mut add = |who: &str, l: &ForecastLine| {
        let c = &l.currency;
        let if_quota = |v: i64| {
            if l.has_quota {
                units(v, c)
            } else {
                String::new()
            }
        };
        sheet.row(vec![
            who.to_string(),
            when.clone(),
            c.clone(),
            if_quota(l.quota_minor),
            units(l.won_minor, c),
            units(l.weighted_open_minor, c),
            units(l.forecast_minor, c),
            percent(l.attainment_bp, l.has_quota),
            percent(l.forecast_bp, l.has_quota),
            if_quota(l.gap_minor),
            if l.has_adjustment {
                units(l.adjusted_forecast_minor, c)
            } else {
                String::new()
            },
            l.adjustment_note.clone(),
            l.categories
                .iter()
                .map(|k| format!("{} {}", k.category, units(k.weighted_minor, c)))
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    };
    for l in &r.lines {
        add(subject, l);
    }
    for rep in &r.reps {
        for l in &rep.lines {
            add(&format!("rep {}", rep.rep_id), l);
        }
    }
    sheet
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

fn moneys(list: &[Money]) -> String {
    list.iter()
        .map(|m| money(m.amount_minor, &m.currency))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One row per rep and period, then the totals.
pub fn five_sheet(r: &GetFiveQuestionsResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM",
        "REP",
        "PERIOD",
        "CALLS",
        "OPPORTUNITIES",
        "PURCHASE INTENTS",
        "WON",
        "WON VALUE",
        "AVERAGE DEAL",
    ]);
    let (now, before) = (span(&r.period), span(&r.previous_period));
    let mut add = |team: &str, rep: &str, when: &str, a: &Option<FiveAnswers>| {
        let a = a.clone().unwrap_or_default();
        sheet.row(vec![
            team.to_string(),
            rep.to_string(),
            when.to_string(),
            a.calls.to_string(),
            a.opportunities.to_string(),
            a.purchase_intents.to_string(),
            a.won.to_string(),
            moneys(&a.won_value),
            moneys(&a.average_deal),
        ]);
    };
    for rep in &r.reps {
        add(&rep.team_id, &rep.rep_id, &now, &rep.current);
        add(&rep.team_id, &rep.rep_id, &before, &rep.previous);
    }
    add("all", "", &now, &r.current);
    add("all", "", &before, &r.previous);
    sheet
}

pub async fn movement(ctx: &Ctx, args: ReportArgs, since: Option<String>) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_forecast_movement(GetForecastMovementRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
            since: since.unwrap_or_default(),
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
        "before": at(&response.before),
        "now": at(&response.now),
        "deals": response.deals.iter().map(|d| json!({
            "opportunity_id": d.opportunity_id, "team_id": d.team_id, "rep_id": d.rep_id,
            "currency": d.currency, "before_minor": d.before_minor, "after_minor": d.after_minor,
            "before_stage": d.before_stage, "after_stage": d.after_stage,
            "before_close_date": d.before_close_date, "after_close_date": d.after_close_date,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| movement_sheet(&response))
}

/// The forecast then and now per currency, then each deal that moved it.
pub fn movement_sheet(r: &GetForecastMovementResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "ROW",
        "CURRENCY",
        "THEN",
        "NOW",
        "CHANGE",
        "OWNER",
        "STAGE THEN",
        "STAGE NOW",
        "CLOSE THEN",
        "CLOSE NOW",
    ]);
    let mut currencies: Vec<&str> = r
        .before
        .iter()
        .chain(&r.now)
        .map(|f| f.currency.as_str())
        .collect();
    currencies.sort();
    currencies.dedup();
    for currency in currencies {
        let of = |list: &[leadwheel_proto::reporting::v1::ForecastAt]| {
            list.iter()
                .find(|f| f.currency == currency)
                .map(|f| f.forecast_minor)
                .unwrap_or(0)
        };
        let (then, now) = (of(&r.before), of(&r.now));
        sheet.row(vec![
            format!("forecast since {}", r.since),
            currency.to_string(),
            units(then, currency),
            units(now, currency),
            units(now - then, currency),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for d in &r.deals {
        sheet.row(vec![
            d.opportunity_id.clone(),
            d.currency.clone(),
            units(d.before_minor, &d.currency),
            units(d.after_minor, &d.currency),
            units(d.after_minor - d.before_minor, &d.currency),
            format!("{} ({})", d.rep_id, d.team_id),
            d.before_stage.clone(),
            d.after_stage.clone(),
            d.before_close_date.clone(),
            d.after_close_date.clone(),
        ]);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{PipelineClosedRow, PipelineOpenRow};

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

//! `leadctl report stages`, `activity` and `balance`: the work in the
//! pipeline and how it is spread.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    GetActivityRequest, GetStagesRequest, GetTeamBalanceRequest, Percentiles, PeriodKind,
};
use serde_json::json;

use super::sales::period;
use super::sheet::{activity_sheet, balance_sheet, show, stages_sheet};
use crate::cli::{BalanceArgs, BucketArg, ReportArgs};
use crate::conn::Ctx;
use crate::error::Target;

pub async fn stages(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_stages(GetStagesRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let p = |p: Option<Percentiles>| {
        let p = p.unwrap_or_default();
        json!({"count": p.count, "median_ms": p.median_ms, "p90_ms": p.p90_ms})
    };
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "stages": response.stages.iter().map(|s| json!({
            "stage": s.stage, "entered": s.entered, "moved_on": s.moved_on,
            "moved_back": s.moved_back, "lost": s.lost, "conversion_bp": s.conversion_bp,
            "time_in_stage": p(s.time_in_stage), "stale_days": s.stale_days,
        })).collect::<Vec<_>>(),
        "reps": response.reps.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "stage": r.stage,
            "time_in_stage": p(r.time_in_stage),
        })).collect::<Vec<_>>(),
        "won": response.won, "lost": response.lost, "win_rate_bp": response.win_rate_bp,
        "stuck": response.stuck.iter().map(|s| json!({
            "opportunity_id": s.opportunity_id, "team_id": s.team_id, "rep_id": s.rep_id,
            "stage": s.stage, "days_in_stage": s.days_in_stage, "stale_days": s.stale_days,
            "currency": s.currency, "amount_minor": s.amount_minor,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| stages_sheet(&response))
}

pub async fn activity(ctx: &Ctx, args: ReportArgs, by: BucketArg) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_activity(GetActivityRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
            bucket: match by {
                BucketArg::Day => PeriodKind::Day,
                BucketArg::Week => PeriodKind::Week,
            } as i32,
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "rows": response.rows.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "from": r.from, "calls": r.calls,
            "emails": r.emails, "visits": r.visits, "meetings": r.meetings, "notes": r.notes,
            "calls_recorded": r.calls_recorded, "call_seconds": r.call_seconds,
        })).collect::<Vec<_>>(),
        "by_stage": response.by_stage.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "stage": r.stage, "count": r.count,
        })).collect::<Vec<_>>(),
        "conversions": response.conversions.iter().map(|c| json!({
            "team_id": c.team_id, "rep_id": c.rep_id, "leads_converted": c.leads_converted,
            "touches": c.touches, "average_hundredths": c.average_hundredths, "median": c.median,
        })).collect::<Vec<_>>(),
        "follow_ups": response.follow_ups.iter().map(|f| json!({
            "team_id": f.team_id, "rep_id": f.rep_id, "due": f.due, "on_time": f.on_time,
            "late": f.late, "overdue": f.overdue, "pending": f.pending,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| activity_sheet(&response))
}

pub async fn balance(ctx: &Ctx, args: BalanceArgs) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_team_balance(GetTeamBalanceRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            max_share_bp: args.max_share.map(|p| i64::from(p) * 100).unwrap_or(0),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let view = json!({
        "max_share_bp": response.max_share_bp,
        "rows": response.rows.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "tier": r.tier, "stage": r.stage,
            "currency": r.currency, "deals": r.deals, "amount_minor": r.amount_minor,
        })).collect::<Vec<_>>(),
        "reps": response.reps.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "customers": r.customers,
            "won_customers": r.won_customers, "won_share_bp": r.won_share_bp,
            "over_share": r.over_share,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| balance_sheet(&response))
}

#[cfg(test)]
mod tests {
    const DAY_MS: i64 = 86_400_000;

    use leadwheel_proto::reporting::v1::{StageFlow, StuckDeal};

    use leadwheel_proto::reporting::v1::{GetActivityResponse, GetStagesResponse};

    use super::*;

    #[test]
    fn stages_then_win_rate_then_stuck_deals() {
        let response = GetStagesResponse {
            stages: vec![StageFlow {
                stage: "trial".into(),
                entered: 3,
                moved_on: 1,
                lost: 1,
                conversion_bp: 5_000,
                time_in_stage: Some(Percentiles {
                    count: 2,
                    median_ms: 3 * DAY_MS + DAY_MS / 2,
                    p90_ms: 7 * DAY_MS,
                    p99_ms: 7 * DAY_MS,
                }),
                stale_days: 21,
                ..Default::default()
            }],
            won: 2,
            lost: 1,
            win_rate_bp: 6_666,
            stuck: vec![StuckDeal {
                opportunity_id: "opp2".into(),
                team_id: "demo".into(),
                rep_id: "ana".into(),
                stage: "trial".into(),
                days_in_stage: 26,
                stale_days: 21,
                currency: "EUR".into(),
                amount_minor: 800_000,
            }],
            ..Default::default()
        };
        let csv = stages_sheet(&response).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "stage,trial,3,1,0,1,50.00,3.5,7.0,,,");
        assert_eq!(lines[2], "win rate,,,2,,1,66.66,,,,,");
        assert_eq!(
            lines[3],
            "stuck > 21 d,trial,,,,,,26,,opp2,ana (demo),8000.00 EUR"
        );
    }

    #[test]
    fn activity_rows_then_stages() {
        let response = GetActivityResponse {
            period: None,
            rows: vec![leadwheel_proto::reporting::v1::ActivityRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                from: "2026-11-02".into(),
                calls: 2,
                emails: 1,
                calls_recorded: 1,
                call_seconds: 420,
                ..Default::default()
            }],
            by_stage: vec![leadwheel_proto::reporting::v1::ActivityStageRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                stage: "trial".into(),
                count: 3,
            }],
            conversions: vec![leadwheel_proto::reporting::v1::ConversionTouches {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                leads_converted: 3,
                touches: 7,
                average_hundredths: 233,
                median: 2,
            }],
            follow_ups: vec![leadwheel_proto::reporting::v1::FollowUpRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                due: 4,
                on_time: 2,
                late: 1,
                overdue: 1,
                pending: 0,
            }],
        };
        let csv = activity_sheet(&response).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "team,rep,from,stage/measure,calls,emails,visits,meetings,notes,recorded,call min,all"
        );
        assert_eq!(lines[1], "demo,ana,2026-11-02,,2,1,0,0,0,1,7,3");
        assert_eq!(lines[2], "demo,ana,period,trial,,,,,,,,3");
        assert_eq!(lines[3], "demo,ana,period,leads converted,,,,,,,,3");
        assert_eq!(
            lines[4],
            "demo,ana,period,touches before conversion,,,,,,,,7"
        );
        assert_eq!(
            lines[5],
            "demo,ana,period,\"touches per lead, average\",,,,,,,,2.33"
        );
        assert_eq!(
            lines[6],
            "demo,ana,period,\"touches per lead, median\",,,,,,,,2"
        );
        assert_eq!(lines[8], "demo,ana,period,follow-ups on time,,,,,,,,2");
        assert_eq!(lines[10], "demo,ana,period,follow-ups overdue,,,,,,,,1");
    }
}

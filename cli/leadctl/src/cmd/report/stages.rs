//! `leadctl report stages`, `activity` and `balance`: the work in the
//! pipeline and how it is spread.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    GetActivityRequest, GetActivityResponse, GetStagesRequest, GetStagesResponse,
    GetTeamBalanceRequest, GetTeamBalanceResponse, Percentiles, PeriodKind,
};
use serde_json::json;

use super::sales::period;
use super::sheet::{Sheet, show};
use super::wheel::percent;
use crate::cli::{BalanceArgs, BucketArg, ReportArgs};
use crate::cmd::opps::views::money;
use crate::conn::Ctx;
use crate::error::Target;

const DAY_MS: i64 = 86_400_000;

/// Milliseconds as days with one decimal; empty without data.
fn days(ms: i64, count: i64) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("{}.{}", ms / DAY_MS, (ms % DAY_MS) * 10 / DAY_MS)
    }
}

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

/// One row per stage, a win-rate row, then one per stuck deal.
pub fn stages_sheet(r: &GetStagesResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "ROW",
        "STAGE",
        "IN",
        "ON",
        "BACK",
        "LOST",
        "CONVERSION %",
        "MEDIAN DAYS",
        "P90 DAYS",
        "DEAL",
        "OWNER",
        "VALUE",
    ]);
    for s in &r.stages {
        let t = s.time_in_stage.unwrap_or_default();
        sheet.row(vec![
            "stage".into(),
            s.stage.clone(),
            s.entered.to_string(),
            s.moved_on.to_string(),
            s.moved_back.to_string(),
            s.lost.to_string(),
            percent(s.conversion_bp),
            days(t.median_ms, t.count),
            days(t.p90_ms, t.count),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    sheet.row(vec![
        "win rate".into(),
        String::new(),
        String::new(),
        r.won.to_string(),
        String::new(),
        r.lost.to_string(),
        percent(r.win_rate_bp),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    for s in &r.stuck {
        sheet.row(vec![
            format!("stuck > {} d", s.stale_days),
            s.stage.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            s.days_in_stage.to_string(),
            String::new(),
            s.opportunity_id.clone(),
            format!("{} ({})", s.rep_id, s.team_id),
            money(s.amount_minor, &s.currency),
        ]);
    }
    sheet
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
    });
    show(ctx.output(), &view, |_| activity_sheet(&response))
}

/// One row per rep and day or week; then per rep and stage.
pub fn activity_sheet(r: &GetActivityResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM", "REP", "FROM", "STAGE", "CALLS", "EMAILS", "VISITS", "MEETINGS", "NOTES",
        "RECORDED", "CALL MIN", "ALL",
    ]);
    for a in &r.rows {
        let all = a.calls + a.emails + a.visits + a.meetings + a.notes;
        sheet.row(vec![
            a.team_id.clone(),
            a.rep_id.clone(),
            a.from.clone(),
            String::new(),
            a.calls.to_string(),
            a.emails.to_string(),
            a.visits.to_string(),
            a.meetings.to_string(),
            a.notes.to_string(),
            a.calls_recorded.to_string(),
            (a.call_seconds / 60).to_string(),
            all.to_string(),
        ]);
    }
    for s in &r.by_stage {
        let mut row = vec![
            s.team_id.clone(),
            s.rep_id.clone(),
            "period".into(),
            s.stage.clone(),
        ];
        row.extend(std::iter::repeat_n(String::new(), 7));
        row.push(s.count.to_string());
        sheet.row(row);
    }
    sheet
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

/// Per rep: deals by tier and stage, then customers and won share.
pub fn balance_sheet(r: &GetTeamBalanceResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM",
        "REP",
        "TIER",
        "STAGE",
        "DEALS",
        "VALUE",
        "CUSTOMERS",
        "WON",
        "WON SHARE %",
        "FLAG",
    ]);
    for row in &r.rows {
        sheet.row(vec![
            row.team_id.clone(),
            row.rep_id.clone(),
            row.tier.clone(),
            row.stage.clone(),
            row.deals.to_string(),
            money(row.amount_minor, &row.currency),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for rep in &r.reps {
        sheet.row(vec![
            rep.team_id.clone(),
            rep.rep_id.clone(),
            "all".into(),
            String::new(),
            String::new(),
            String::new(),
            rep.customers.to_string(),
            rep.won_customers.to_string(),
            percent(rep.won_share_bp),
            if rep.over_share {
                format!("over {}%", r.max_share_bp / 100)
            } else {
                String::new()
            },
        ]);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{StageFlow, StuckDeal};

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
        };
        let csv = activity_sheet(&response).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "demo,ana,2026-11-02,,2,1,0,0,0,1,7,3");
        assert_eq!(lines[2], "demo,ana,period,trial,,,,,,,,3");
    }
}

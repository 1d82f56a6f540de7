//! `leadctl report fairness|speed|routes`: how the wheel served the team.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetFairnessResponse, GetRoutingOutcomeRequest, GetRoutingOutcomeResponse,
    GetSpeedToLeadRequest, GetSpeedToLeadResponse, Percentiles, Speed,
};
use serde_json::{Value, json};

use super::sales::period;
use super::sheet::{Sheet, show};
use crate::cli::ReportArgs;
use crate::conn::Ctx;
use crate::error::Target;

/// Milliseconds as seconds with one decimal (`12.5`); empty without data.
fn seconds(ms: i64, count: i64) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("{}.{}", ms / 1_000, (ms % 1_000) / 100)
    }
}

/// Basis points as a percentage with two decimals (`1234` → `12.34`).
pub(super) fn percent(basis_points: i64) -> String {
    format!("{}.{:02}", basis_points / 100, basis_points % 100)
}

fn p_json(p: Option<Percentiles>) -> Value {
    let p = p.unwrap_or_default();
    json!({"count": p.count, "median_ms": p.median_ms, "p90_ms": p.p90_ms, "p99_ms": p.p99_ms})
}

pub async fn fairness(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_fairness(GetFairnessRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "reps": response.reps.iter().map(|r| json!({
            "team_id": r.team_id, "rep_id": r.rep_id, "offers": r.offers,
            "first_looks": r.first_looks, "claims": r.claims,
            "passes": r.passes.iter().map(|p| json!({"reason": p.reason, "count": p.count})).collect::<Vec<_>>(),
            "expiries": r.expiries, "pool_claims": r.pool_claims,
            "claim_rate_bp": r.claim_rate_bp, "time_to_claim": p_json(r.time_to_claim),
        })).collect::<Vec<_>>(),
        "teams": response.teams.iter().map(|t| json!({
            "team_id": t.team_id, "first_looks": t.first_looks,
            "min_first_looks": t.min_first_looks, "max_first_looks": t.max_first_looks,
            "evenness_bp": t.evenness_bp,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| fairness_sheet(&response))
}

/// One row per rep, then one per team with its evenness.
pub fn fairness_sheet(r: &GetFairnessResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM",
        "REP",
        "OFFERS",
        "FIRST LOOKS",
        "CLAIMS",
        "PASSES",
        "EXPIRIES",
        "POOL CLAIMS",
        "CLAIM RATE %",
        "CLAIM MEDIAN S",
        "CLAIM P90 S",
        "EVENNESS %",
    ]);
    for rep in &r.reps {
        let passes: i64 = rep.passes.iter().map(|p| p.count).sum();
        let reasons: Vec<String> = rep
            .passes
            .iter()
            .map(|p| format!("{} {}", p.count, p.reason))
            .collect();
        let ttc = rep.time_to_claim.unwrap_or_default();
        sheet.row(vec![
            rep.team_id.clone(),
            rep.rep_id.clone(),
            rep.offers.to_string(),
            rep.first_looks.to_string(),
            rep.claims.to_string(),
            if reasons.is_empty() {
                passes.to_string()
            } else {
                format!("{passes} ({})", reasons.join(", "))
            },
            rep.expiries.to_string(),
            rep.pool_claims.to_string(),
            percent(rep.claim_rate_bp),
            seconds(ttc.median_ms, ttc.count),
            seconds(ttc.p90_ms, ttc.count),
            String::new(),
        ]);
    }
    for team in &r.teams {
        let mut row = vec![team.team_id.clone(), "all".into(), String::new()];
        row.push(team.first_looks.to_string());
        row.extend(std::iter::repeat_n(String::new(), 7));
        row.push(percent(team.evenness_bp));
        sheet.row(row);
    }
    sheet
}

pub async fn speed(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_speed_to_lead(GetSpeedToLeadRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let speed_json = |s: Option<Speed>| {
        let s = s.unwrap_or_default();
        json!({
            "system": p_json(s.system),
            "offer_to_claim": p_json(s.offer_to_claim),
            "claim_to_touch": p_json(s.claim_to_touch),
        })
    };
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "total": speed_json(response.total),
        "teams": response.teams.iter().map(|t| json!({"team_id": t.team_id, "speed": speed_json(t.speed)})).collect::<Vec<_>>(),
        "reps": response.reps.iter().map(|r| json!({"team_id": r.team_id, "rep_id": r.rep_id, "speed": speed_json(r.speed)})).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| speed_sheet(&response))
}

/// One row per scope (all, each team, each rep) and measure.
pub fn speed_sheet(r: &GetSpeedToLeadResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM", "REP", "MEASURE", "LEADS", "MEDIAN S", "P90 S", "P99 S",
    ]);
    let mut add = |team: &str, rep: &str, speed: Option<Speed>| {
        let speed = speed.unwrap_or_default();
        for (name, p) in [
            ("signup → first offer", speed.system),
            ("offer → claim", speed.offer_to_claim),
            ("claim → first touch", speed.claim_to_touch),
        ] {
            let p = p.unwrap_or_default();
            sheet.row(vec![
                team.to_string(),
                rep.to_string(),
                name.to_string(),
                p.count.to_string(),
                seconds(p.median_ms, p.count),
                seconds(p.p90_ms, p.count),
                seconds(p.p99_ms, p.count),
            ]);
        }
    };
    add("all", "", r.total);
    for team in &r.teams {
        add(&team.team_id, "all", team.speed);
    }
    for rep in &r.reps {
        add(&rep.team_id, &rep.rep_id, rep.speed);
    }
    sheet
}

pub async fn routes(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let response = ctx
        .reporting()
        .await?
        .get_routing_outcome(GetRoutingOutcomeRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    let view = json!({
        "period": response.period.as_ref().map(|p| json!({"from": p.from, "to": p.to})),
        "routes": response.routes.iter().map(|r| json!({
            "team_id": r.team_id, "route": r.route, "leads": r.leads,
            "converted": r.converted, "won": r.won,
            "won_value": r.won_value.iter().map(|m| json!({"currency": m.currency, "amount_minor": m.amount_minor})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| routes_sheet(&response))
}

/// One row per team and route.
pub fn routes_sheet(r: &GetRoutingOutcomeResponse) -> Sheet {
    let mut sheet = Sheet::new(&["TEAM", "ROUTE", "LEADS", "CONVERTED", "WON", "WON VALUE"]);
    for route in &r.routes {
        let value: Vec<String> = route
            .won_value
            .iter()
            .map(|m| crate::cmd::opps::views::money(m.amount_minor, &m.currency))
            .collect();
        sheet.row(vec![
            route.team_id.clone(),
            route.route.replace('_', " "),
            route.leads.to_string(),
            route.converted.to_string(),
            route.won.to_string(),
            value.join("; "),
        ]);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{ReasonCount, RepFairness, TeamEvenness};

    use super::*;

    #[test]
    fn fairness_rows_show_reasons_and_evenness() {
        let response = GetFairnessResponse {
            period: None,
            reps: vec![RepFairness {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                offers: 4,
                first_looks: 2,
                claims: 1,
                passes: vec![ReasonCount {
                    reason: "busy".into(),
                    count: 2,
                }],
                expiries: 1,
                claim_rate_bp: 2_500,
                time_to_claim: Some(Percentiles {
                    count: 1,
                    median_ms: 12_500,
                    p90_ms: 12_500,
                    p99_ms: 12_500,
                }),
                ..Default::default()
            }],
            teams: vec![TeamEvenness {
                team_id: "demo".into(),
                first_looks: 3,
                min_first_looks: 1,
                max_first_looks: 2,
                evenness_bp: 5_000,
            }],
        };
        let csv = fairness_sheet(&response).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "demo,ana,4,2,1,2 (2 busy),1,0,25.00,12.5,12.5,");
        assert_eq!(lines[2], "demo,all,,3,,,,,,,,50.00");
    }
}

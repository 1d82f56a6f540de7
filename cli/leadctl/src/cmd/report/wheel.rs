//! `leadctl report fairness|speed|routes`: how the wheel served the team.

use anyhow::Result;
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetRoutingOutcomeRequest, GetSpeedToLeadRequest, Percentiles, Speed,
};
use serde_json::{Value, json};

use super::sales::period;
use super::sheet::{fairness_sheet, routes_sheet, show, speed_sheet};
use crate::cli::ReportArgs;
use crate::conn::Ctx;
use crate::error::Target;

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
            "skips": r.skips.iter().map(|s| json!({"reason": s.reason, "count": s.count})).collect::<Vec<_>>(),
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
            "team_id": r.team_id, "routed_by": r.routed_by, "rule_id": r.rule_id,
            "route": r.route, "leads": r.leads,
            "converted": r.converted, "won": r.won,
            "won_value": r.won_value.iter().map(|m| json!({"currency": m.currency, "amount_minor": m.amount_minor})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| routes_sheet(&response))
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{ReasonCount, RepFairness, TeamEvenness};

    use leadwheel_proto::reporting::v1::GetFairnessResponse;

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
                skips: vec![ReasonCount {
                    reason: "away".into(),
                    count: 3,
                }],
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
        assert_eq!(
            lines[1],
            "demo,ana,4,2,1,2 (2 busy),3 (3 away),1,0,25.00,12.5,12.5,"
        );
        assert_eq!(lines[2], "demo,all,,3,,,,,,,,,50.00");
    }
}

//! Fairness, speed to lead and routing outcome.

use leadwheel_proto::reporting::v1::{
    GetFairnessResponse, GetRoutingOutcomeResponse, GetSpeedToLeadResponse, Speed,
};

use crate::{Sheet, money, percent};

/// Milliseconds as seconds with one decimal (`12.5`); empty without data.
fn seconds(ms: i64, count: i64) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("{}.{}", ms / 1_000, (ms % 1_000) / 100)
    }
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
        "SKIPS",
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
        let skips: i64 = rep.skips.iter().map(|s| s.count).sum();
        let skip_reasons: Vec<String> = rep
            .skips
            .iter()
            .map(|s| format!("{} {}", s.count, s.reason))
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
            if skip_reasons.is_empty() {
                skips.to_string()
            } else {
                format!("{skips} ({})", skip_reasons.join(", "))
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
        row.extend(std::iter::repeat_n(String::new(), 8));
        row.push(percent(team.evenness_bp));
        sheet.row(row);
    }
    sheet
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

/// How the wheel chose the team, as one cell: `rule <id>`, `default`,
/// `team hint`, `fallback`, or `unknown`.
fn team_rule(routed_by: &str, rule_id: &str) -> String {
    match routed_by {
        "rule" => format!("rule {rule_id}"),
        "" => "unknown".into(),
        other => other.replace('_', " "),
    }
}

/// One row per team, routing rule and route.
pub fn routes_sheet(r: &GetRoutingOutcomeResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM",
        "TEAM CHOSEN BY",
        "ROUTE",
        "LEADS",
        "CONVERTED",
        "WON",
        "WON VALUE",
    ]);
    for route in &r.routes {
        let value: Vec<String> = route
            .won_value
            .iter()
            .map(|m| money(m.amount_minor, &m.currency))
            .collect();
        sheet.row(vec![
            route.team_id.clone(),
            team_rule(&route.routed_by, &route.rule_id),
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
    use leadwheel_proto::reporting::v1::{Money, RouteOutcome};

    use super::*;

    #[test]
    fn routes_are_split_by_the_rule_that_chose_the_team() {
        let route = |routed_by: &str, rule_id: &str, route: &str| RouteOutcome {
            team_id: "north".into(),
            route: route.into(),
            leads: 2,
            converted: 1,
            won: 1,
            won_value: vec![Money {
                currency: "EUR".into(),
                amount_minor: 800_000,
            }],
            routed_by: routed_by.into(),
            rule_id: rule_id.into(),
        };
        let response = GetRoutingOutcomeResponse {
            period: None,
            routes: vec![
                route("rule", "=enterprise", "first_look"),
                route("team_hint", "", "account_owner"),
                route("", "", "pool"),
            ],
        };
        let csv = routes_sheet(&response).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            vec![
                "team,team chosen by,route,leads,converted,won,won value",
                "north,rule =enterprise,first look,2,1,1,8000.00 EUR",
                "north,team hint,account owner,2,1,1,8000.00 EUR",
                "north,unknown,pool,2,1,1,8000.00 EUR",
            ]
        );
    }
}

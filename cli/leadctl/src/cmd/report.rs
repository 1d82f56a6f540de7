//! Reports: the funnel here; pipeline, forecast, the five questions and
//! quotas in the submodules.

pub mod quota;
pub mod sales;
mod sheet;
pub mod stages;
pub mod wheel;

use anyhow::Result;
use leadwheel_proto::reporting::v1::GetFunnelRequest;

use crate::conn::Ctx;
use crate::error::Target;
use crate::output::{Table, emit};
use crate::views::{Counts, FunnelView};

pub async fn funnel(ctx: &Ctx, team: Option<String>) -> Result<()> {
    let team = team.map(|t| t.trim().to_string());
    let response = ctx
        .reporting()
        .await?
        .get_funnel(GetFunnelRequest {
            team_id: team.clone().unwrap_or_default(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?;
    let funnel = one_team(FunnelView::from(response.into_inner()), team.as_deref());
    if ctx.output() == crate::cli::Output::Csv {
        crate::output::print_out(&funnel_sheet(&funnel).csv());
        return Ok(());
    }
    emit(ctx.output(), &funnel, |f| {
        match (&team, f.teams.is_empty()) {
            (Some(team), true) => format!("nothing counted for team {team} yet\n"),
            _ => funnel_table(f),
        }
    })
}

/// With `--team`, only that team: the service's all-teams total is dropped.
pub fn one_team(mut funnel: FunnelView, team: Option<&str>) -> FunnelView {
    if team.is_some() {
        funnel.total = None;
    }
    funnel
}

/// The funnel as one flat sheet (for CSV): the total, each team, each rep.
pub fn funnel_sheet(funnel: &FunnelView) -> sheet::Sheet {
    let mut sheet = sheet::Sheet::new(&[&["SCOPE", "TEAM", "REP"], &COLUMNS[..]].concat());
    let row = |scope: &str, team: &str, rep: &str, counts: &Counts| {
        [
            vec![scope.to_string(), team.to_string(), rep.to_string()],
            counts_cells(counts),
        ]
        .concat()
    };
    if let Some(total) = &funnel.total {
        sheet.row(row("all", "", "", total));
    }
    for t in &funnel.teams {
        sheet.row(row("team", &t.team_id, "", &t.counts));
    }
    for r in &funnel.reps {
        sheet.row(row("rep", &r.team_id, &r.rep_id, &r.counts));
    }
    sheet
}

fn counts_cells(c: &Counts) -> Vec<String> {
    [
        c.created, c.offered, c.claimed, c.passed, c.expired, c.pooled, c.in_work,
    ]
    .iter()
    .map(i64::to_string)
    .collect()
}

const COLUMNS: [&str; 7] = [
    "CREATED", "OFFERED", "CLAIMED", "PASSED", "EXPIRED", "POOLED", "IN WORK",
];

pub fn funnel_table(funnel: &FunnelView) -> String {
    let mut totals = Table::new(&[&["SCOPE"], &COLUMNS[..]].concat());
    if let Some(total) = &funnel.total {
        totals.row([vec!["all teams".to_string()], counts_cells(total)].concat());
    }
    for t in &funnel.teams {
        totals.row([vec![format!("team {}", t.team_id)], counts_cells(&t.counts)].concat());
    }
    let mut text = totals.render();
    if !funnel.reps.is_empty() {
        let mut reps = Table::new(&[&["REP", "TEAM"], &COLUMNS[1..]].concat());
        for r in &funnel.reps {
            reps.row(
                [
                    vec![r.rep_id.clone(), r.team_id.clone()],
                    counts_cells(&r.counts)[1..].to_vec(),
                ]
                .concat(),
            );
        }
        text.push('\n');
        text.push_str(&reps.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{RepCounts, TeamCounts};

    #[test]
    fn funnel_renders_totals_teams_and_reps() {
        let counts = Counts {
            created: 10,
            offered: 9,
            claimed: 5,
            passed: 2,
            expired: 3,
            pooled: 1,
            in_work: 5,
        };
        let funnel = FunnelView {
            total: Some(counts),
            teams: vec![TeamCounts {
                team_id: "demo".into(),
                counts,
            }],
            reps: vec![RepCounts {
                rep_id: "ana".into(),
                team_id: "demo".into(),
                counts,
            }],
        };
        let text = funnel_table(&funnel);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("SCOPE") && lines[0].ends_with("IN WORK"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("all teams") && lines[1].ends_with('5'),
            "{text}"
        );
        assert!(lines[2].starts_with("team demo"), "{text}");
        // Reps have no CREATED column: leads are created before they reach a rep.
        assert!(
            lines[4].starts_with("REP") && !lines[4].contains("CREATED"),
            "{text}"
        );
        assert!(lines[5].starts_with("ana"), "{text}");
        let csv = funnel_sheet(&funnel).csv();
        assert!(
            csv.starts_with("scope,team,rep,created,offered,claimed,passed,expired,pooled,in work\r\nall,,,10,9,5,2,3,1,5\r\n"),
            "{csv}"
        );
        let json = serde_json::to_value(&funnel).unwrap();
        assert_eq!(json["total"]["in_work"], 5);
        assert_eq!(json["reps"][0]["counts"]["claimed"], 5);
    }

    #[test]
    fn one_team_prints_only_that_team() {
        let counts = Counts {
            created: 4,
            offered: 4,
            claimed: 1,
            passed: 1,
            expired: 1,
            pooled: 1,
            in_work: 1,
        };
        let funnel = FunnelView {
            total: Some(Counts {
                created: 9,
                ..counts
            }),
            teams: vec![TeamCounts {
                team_id: "demo".into(),
                counts,
            }],
            reps: Vec::new(),
        };
        let all = funnel_table(&funnel);
        assert!(all.contains("all teams"), "{all}");
        let demo = one_team(funnel, Some("demo"));
        let text = funnel_table(&demo);
        assert!(!text.contains("all teams"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[1].starts_with("team demo  4"), "{text}");
        let json = serde_json::to_value(&demo).unwrap();
        assert!(json.get("total").is_none(), "{json}");
        assert_eq!(json["teams"][0]["counts"]["created"], 4);
    }
}

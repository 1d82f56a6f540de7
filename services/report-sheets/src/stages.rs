//! Stages, activity and team balance.

use leadwheel_proto::reporting::v1::{
    GetActivityResponse, GetStagesResponse, GetTeamBalanceResponse,
};

use crate::{Sheet, money, percent};

const DAY_MS: i64 = 86_400_000;

/// Milliseconds as days with one decimal; empty without data.
fn days(ms: i64, count: i64) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("{}.{}", ms / DAY_MS, (ms % DAY_MS) * 10 / DAY_MS)
    }
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

/// One row per rep and day or week; then per rep over the period: by
/// stage, then the touches before conversion and the follow-ups (the
/// measure in STAGE/MEASURE, its number in ALL).
pub fn activity_sheet(r: &GetActivityResponse) -> Sheet {
    let mut sheet = Sheet::new(&[
        "TEAM",
        "REP",
        "FROM",
        "STAGE/MEASURE",
        "CALLS",
        "EMAILS",
        "VISITS",
        "MEETINGS",
        "NOTES",
        "RECORDED",
        "CALL MIN",
        "ALL",
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
    let mut measure = |team: &str, rep: &str, what: &str, value: String| {
        let mut row = vec![
            team.to_string(),
            rep.to_string(),
            "period".into(),
            what.into(),
        ];
        row.extend(std::iter::repeat_n(String::new(), 7));
        row.push(value);
        sheet.row(row);
    };
    for c in &r.conversions {
        let (team, rep) = (&c.team_id, &c.rep_id);
        measure(team, rep, "leads converted", c.leads_converted.to_string());
        measure(
            team,
            rep,
            "touches before conversion",
            c.touches.to_string(),
        );
        let average = format!(
            "{}.{:02}",
            c.average_hundredths / 100,
            c.average_hundredths % 100
        );
        measure(team, rep, "touches per lead, average", average);
        measure(team, rep, "touches per lead, median", c.median.to_string());
    }
    for f in &r.follow_ups {
        let (team, rep) = (&f.team_id, &f.rep_id);
        measure(team, rep, "follow-ups due", f.due.to_string());
        measure(team, rep, "follow-ups on time", f.on_time.to_string());
        measure(team, rep, "follow-ups late", f.late.to_string());
        measure(team, rep, "follow-ups overdue", f.overdue.to_string());
        measure(team, rep, "follow-ups pending", f.pending.to_string());
    }
    sheet
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

//! Pipeline, forecast, the five questions and the forecast's movement.

use leadwheel_proto::reporting::v1::{
    FiveAnswers, ForecastLine, GetFiveQuestionsResponse, GetForecastMovementResponse,
    GetForecastResponse, GetPipelineResponse, Money,
};

use crate::{Sheet, money, span, units};

fn quota_percent(basis_points: i64, has_quota: bool) -> String {
    if has_quota {
        format!("{}.{:02}", basis_points / 100, (basis_points % 100).abs())
    } else {
        String::new()
    }
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

/// Who a forecast is for, as its first column says: `rep <id>`,
/// `team <id>`, or `me` (a rep asking for their own).
pub fn forecast_subject(team_id: &str, rep_id: &str) -> String {
    if !rep_id.is_empty() {
        format!("rep {rep_id}")
    } else if !team_id.is_empty() {
        format!("team {team_id}")
    } else {
        "me".to_string()
    }
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
            quota_percent(l.attainment_bp, l.has_quota),
            quota_percent(l.forecast_bp, l.has_quota),
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
            if r.from_snapshot {
                format!("forecast since snapshot {}", r.since)
            } else {
                format!("forecast since {}", r.since)
            },
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
    // Say when the limit cut the list, so the deals above are not read as
    // all that moved.
    let listed = r.deals.len() as i64;
    if r.deals_moved > listed {
        sheet.row(vec![
            format!(
                "{} more deals moved (the {listed} largest are listed)",
                r.deals_moved - listed
            ),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::DealMove;

    use super::*;

    fn moved(id: &str) -> DealMove {
        DealMove {
            opportunity_id: id.into(),
            currency: "EUR".into(),
            after_minor: 100,
            ..Default::default()
        }
    }

    /// The sheet says when the limit cut the list, and says nothing more
    /// when every deal that moved is listed.
    #[test]
    fn a_cut_movement_list_says_how_many_more_moved() {
        let all = GetForecastMovementResponse {
            deals: vec![moved("d1"), moved("d2")],
            deals_moved: 2,
            ..Default::default()
        };
        let sheet = movement_sheet(&all);
        assert_eq!(sheet.rows.len(), 2);
        let cut = GetForecastMovementResponse {
            deals_moved: 7,
            ..all
        };
        let sheet = movement_sheet(&cut);
        assert_eq!(sheet.rows.len(), 3);
        assert_eq!(
            sheet.rows[2][0],
            "5 more deals moved (the 2 largest are listed)"
        );
    }
}

//! The manager's charts, drawn on the server as inline SVG: horizontal bars
//! with each number written beside its bar and in a `<title>`, the chart
//! labelled for screen readers (`role="img"`, `aria-label`), and a table
//! with the same numbers beside it. Every bar group carries data attributes
//! (`data-rep`, `data-stage`, `data-currency`, …) and every bar its measure
//! and raw value (`data-measure`, `data-value`), so a test can compare the
//! chart with reporting's gRPC answer.

use leadwheel_proto::reporting::v1::{
    GetFairnessResponse, GetForecastResponse, GetPipelineResponse, GetSpeedToLeadResponse,
    Percentiles, ResolvedPeriod,
};
use leadwheel_report_sheets::{money, percent};
use maud::{Markup, html};

use crate::i18n::{self, Lang, Msg};

/// The periods the picker offers.
pub const PERIODS: &[(&str, Msg)] = &[
    ("week", i18n::PERIOD_WEEK),
    ("month", i18n::PERIOD_MONTH),
    ("quarter", i18n::PERIOD_QUARTER),
    ("year", i18n::PERIOD_YEAR),
];

/// The reports the page draws (and the CSV downloads' names).
pub const REPORTS: &[(&str, Msg)] = &[
    ("pipeline", i18n::CHART_PIPELINE),
    ("forecast", i18n::CHART_FORECAST),
    ("fairness", i18n::CHART_FAIRNESS),
    ("speed", i18n::CHART_SPEED),
];

/// One bar: its measure's name, label, raw value and the text shown.
pub struct Bar {
    /// The measure (`amount_minor`, `claims`, …), for `data-measure`.
    pub measure: &'static str,
    /// The legend's name for it.
    pub label: Msg,
    /// The raw value (minor units, counts, milliseconds, basis points).
    pub value: i64,
    /// How the number reads.
    pub text: String,
}

/// A group of bars: one rep, or one rep and stage.
pub struct Group {
    /// What the group is, as shown.
    pub label: String,
    /// Data attributes naming it (`rep`, `stage`, `currency`).
    pub keys: Vec<(&'static str, String)>,
    /// Its bars.
    pub bars: Vec<Bar>,
}

const COLOURS: [&str; 5] = ["#1f6feb", "#8250df", "#1a7f37", "#b35900", "#c62828"];
const WIDTH: i64 = 640;
const LABEL_W: i64 = 150;
const TEXT_W: i64 = 130;
const BAR_H: i64 = 16;
const GAP: i64 = 10;

fn data_attrs(keys: &[(&'static str, String)]) -> String {
    keys.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// A horizontal bar chart and its table. `chart` names it (`data-chart`);
/// bars scale to the largest value in the chart.
pub fn bar_chart(chart: &str, title: &str, groups: &[Group], lang: Lang) -> Markup {
    if groups.is_empty() {
        return html! { p.muted data-chart-empty=(chart) { (i18n::NO_DATA.get(lang)) } };
    }
    let max = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.value))
        .max()
        .unwrap_or(0)
        .max(1);
    let measures: Vec<(&'static str, Msg)> = {
        let mut seen: Vec<(&'static str, Msg)> = Vec::new();
        for bar in groups.iter().flat_map(|g| &g.bars) {
            if !seen.iter().any(|(m, _)| *m == bar.measure) {
                seen.push((bar.measure, bar.label));
            }
        }
        seen
    };
    let colour = |measure: &str| {
        let i = measures
            .iter()
            .position(|(m, _)| *m == measure)
            .unwrap_or(0);
        COLOURS[i % COLOURS.len()]
    };
    let span = WIDTH - LABEL_W - TEXT_W;
    let mut y = 0;
    let mut rows = Vec::new();
    for group in groups {
        let top = y;
        let height = group.bars.len() as i64 * BAR_H;
        y += height + GAP;
        rows.push((group, top, height));
    }
    let height = y.max(1);
    let label = format!("{title}: {}", i18n::CHART_TABLE_NOTE.get(lang));
    html! {
        figure.chart data-chart=(chart) {
            ul.legend aria-hidden="true" {
                @for (measure, name) in &measures {
                    li { span.swatch style={ "background:" (colour(measure)) } {} " " (name.get(lang)) }
                }
            }
            div.chart-scroll role="region" tabindex="0" aria-label=(title) {
            svg role="img" aria-label=(label) viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" {
                @for (group, top, group_h) in &rows {
                    g data-group=(data_attrs(&group.keys)) data-label=(group.label) {
                        text x="0" y=(top + group_h / 2 + 5) font-size="13" fill="#1d2430" { (group.label) }
                        @for (i, bar) in group.bars.iter().enumerate() {
                            @let bar_y = top + i as i64 * BAR_H;
                            @let w = (bar.value.max(0) as i128 * span as i128 / max as i128) as i64;
                            rect x=(LABEL_W) y=(bar_y + 1) width=(w.max(if bar.value > 0 { 1 } else { 0 })) height=(BAR_H - 2) fill=(colour(bar.measure)) data-measure=(bar.measure) data-value=(bar.value) {
                                title { (group.label) " · " (bar.label.get(lang)) ": " (bar.text) }
                            }
                            text x=(LABEL_W + w + 4) y=(bar_y + BAR_H - 4) font-size="11" fill="#5b6576" { (bar.text) }
                        }
                    }
                }
            }
            }
            table.chart-table {
                caption { (title) }
                thead { tr {
                    th scope="col" { }
                    @for (_, name) in &measures { th scope="col" { (name.get(lang)) } }
                } }
                tbody {
                    @for group in groups {
                        tr data-row=(data_attrs(&group.keys)) {
                            th scope="row" { (group.label) }
                            @for (measure, name) in &measures {
                                td data-label=(name.get(lang)) data-measure=(measure) {
                                    @if let Some(bar) = group.bars.iter().find(|b| b.measure == *measure) { (bar.text) } @else { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "2026-11-01 – 2026-11-30".
pub fn period_text(period: &Option<ResolvedPeriod>) -> String {
    period
        .as_ref()
        .map(|p| format!("{} – {}", p.from, p.to))
        .unwrap_or_default()
}

/// The pipeline: open deals now by rep and stage (amount and weighted), per currency.
pub fn pipeline(r: &GetPipelineResponse, lang: Lang) -> Markup {
    let groups: Vec<Group> = r
        .open
        .iter()
        .map(|row| Group {
            label: format!("{} · {}", row.rep_id, row.stage),
            keys: vec![
                ("rep", row.rep_id.clone()),
                ("stage", row.stage.clone()),
                ("currency", row.currency.clone()),
            ],
            bars: vec![
                Bar {
                    measure: "amount_minor",
                    label: i18n::AMOUNT,
                    value: row.amount_minor,
                    text: money(row.amount_minor, &row.currency),
                },
                Bar {
                    measure: "weighted_minor",
                    label: i18n::WEIGHTED,
                    value: row.weighted_minor,
                    text: money(row.weighted_minor, &row.currency),
                },
            ],
        })
        .collect();
    html! {
        (bar_chart("pipeline", i18n::CHART_PIPELINE.get(lang), &groups, lang))
        @if !r.closed.is_empty() {
            table data-closed {
                caption { (i18n::CLOSED_IN_PERIOD.get(lang)) " " (period_text(&r.period)) }
                thead { tr {
                    th scope="col" { (i18n::REP.get(lang)) }
                    th scope="col" { (i18n::WON.get(lang)) }
                    th scope="col" { (i18n::LOST.get(lang)) }
                } }
                tbody {
                    @for c in &r.closed {
                        tr data-row={ "rep=" (c.rep_id) ";currency=" (c.currency) } {
                            th scope="row" { (c.rep_id) }
                            td data-label=(i18n::WON.get(lang)) data-measure="won_minor" data-value=(c.won_minor) { (c.won_count) " · " (money(c.won_minor, &c.currency)) }
                            td data-label=(i18n::LOST.get(lang)) data-measure="lost_minor" data-value=(c.lost_minor) { (c.lost_count) " · " (money(c.lost_minor, &c.currency)) }
                        }
                    }
                }
            }
        }
    }
}

/// Forecast vs quota per rep (or the one rep asked for), per currency.
pub fn forecast(r: &GetForecastResponse, rep: Option<&str>, lang: Lang) -> Markup {
    let mut subjects: Vec<(String, &[leadwheel_proto::reporting::v1::ForecastLine])> = r
        .reps
        .iter()
        .map(|rf| (rf.rep_id.clone(), rf.lines.as_slice()))
        .collect();
    if subjects.is_empty()
        && let Some(rep) = rep
    {
        subjects.push((rep.to_string(), r.lines.as_slice()));
    }
    let mut groups = Vec::new();
    for (rep_id, lines) in subjects {
        for line in lines {
            let c = &line.currency;
            let mut bars = Vec::new();
            if line.has_quota {
                bars.push(Bar {
                    measure: "quota_minor",
                    label: i18n::QUOTA,
                    value: line.quota_minor,
                    text: money(line.quota_minor, c),
                });
            }
            bars.push(Bar {
                measure: "won_minor",
                label: i18n::WON,
                value: line.won_minor,
                text: money(line.won_minor, c),
            });
            bars.push(Bar {
                measure: "weighted_open_minor",
                label: i18n::WEIGHTED,
                value: line.weighted_open_minor,
                text: money(line.weighted_open_minor, c),
            });
            bars.push(Bar {
                measure: "forecast_minor",
                label: i18n::FORECAST,
                value: line.forecast_minor,
                text: money(line.forecast_minor, c),
            });
            let attainment = if line.has_quota {
                format!(
                    " · {} {}%",
                    i18n::ATTAINMENT.get(lang),
                    percent(line.attainment_bp)
                )
            } else {
                String::new()
            };
            groups.push(Group {
                label: format!("{rep_id}{attainment}"),
                keys: vec![
                    ("rep", rep_id.clone()),
                    ("currency", c.clone()),
                    ("attainment_bp", line.attainment_bp.to_string()),
                ],
                bars,
            });
        }
    }
    bar_chart("forecast", i18n::CHART_FORECAST.get(lang), &groups, lang)
}

/// Fairness: offers, claims, passes and expiries per rep; the teams' evenness.
pub fn fairness(r: &GetFairnessResponse, lang: Lang) -> Markup {
    let groups: Vec<Group> = r
        .reps
        .iter()
        .map(|rep| {
            let passes: i64 = rep.passes.iter().map(|p| p.count).sum();
            let bar = |measure, label, value: i64| Bar {
                measure,
                label,
                value,
                text: value.to_string(),
            };
            Group {
                label: rep.rep_id.clone(),
                keys: vec![("rep", rep.rep_id.clone()), ("team", rep.team_id.clone())],
                bars: vec![
                    bar("offers", i18n::OFFERS, rep.offers),
                    bar("claims", i18n::CLAIMS, rep.claims),
                    bar("passes", i18n::PASSES, passes),
                    bar("expiries", i18n::EXPIRIES, rep.expiries),
                ],
            }
        })
        .collect();
    html! {
        (bar_chart("fairness", i18n::CHART_FAIRNESS.get(lang), &groups, lang))
        @for team in &r.teams {
            p data-evenness=(team.team_id) data-value=(team.evenness_bp) {
                (i18n::EVENNESS.get(lang)) " · " (team.team_id) ": " strong { (percent(team.evenness_bp)) "%" }
                " (" (team.min_first_looks) "–" (team.max_first_looks) " " (i18n::FIRST_LOOKS.get(lang)) ")"
            }
        }
    }
}

/// A duration as read: `—` without data, `40 ms` under a second, else `12.3 s`.
fn seconds(p: &Percentiles, ms: i64) -> String {
    if p.count == 0 {
        "—".into()
    } else if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    }
}

/// Speed to lead: offer → claim median and p90 per rep, and the whole
/// scope's three measures.
pub fn speed(r: &GetSpeedToLeadResponse, lang: Lang) -> Markup {
    let pair = |p: Option<Percentiles>| {
        let p = p.unwrap_or_default();
        vec![
            Bar {
                measure: "median_ms",
                label: i18n::MEDIAN,
                value: p.median_ms,
                text: seconds(&p, p.median_ms),
            },
            Bar {
                measure: "p90_ms",
                label: i18n::P90,
                value: p.p90_ms,
                text: seconds(&p, p.p90_ms),
            },
        ]
    };
    let total = r.total.unwrap_or_default();
    let mut groups = vec![
        Group {
            label: i18n::SPEED_SYSTEM.get(lang).to_string(),
            keys: vec![("scope", "all".into()), ("measure", "system".into())],
            bars: pair(total.system),
        },
        Group {
            label: i18n::SPEED_OFFER_TO_CLAIM.get(lang).to_string(),
            keys: vec![
                ("scope", "all".into()),
                ("measure", "offer_to_claim".into()),
            ],
            bars: pair(total.offer_to_claim),
        },
        Group {
            label: i18n::SPEED_CLAIM_TO_TOUCH.get(lang).to_string(),
            keys: vec![
                ("scope", "all".into()),
                ("measure", "claim_to_touch".into()),
            ],
            bars: pair(total.claim_to_touch),
        },
    ];
    for rep in &r.reps {
        let speed = rep.speed.unwrap_or_default();
        groups.push(Group {
            label: format!("{} · {}", rep.rep_id, i18n::SPEED_OFFER_TO_CLAIM.get(lang)),
            keys: vec![
                ("rep", rep.rep_id.clone()),
                ("measure", "offer_to_claim".into()),
            ],
            bars: pair(speed.offer_to_claim),
        });
    }
    bar_chart("speed", i18n::CHART_SPEED.get(lang), &groups, lang)
}

#[cfg(test)]
mod tests {
    use leadwheel_proto::reporting::v1::{PipelineOpenRow, RepFairness};

    use super::*;

    #[test]
    fn bars_carry_the_numbers_they_draw() {
        let r = GetPipelineResponse {
            open: vec![PipelineOpenRow {
                team_id: "north".into(),
                rep_id: "ana".into(),
                stage: "qualify".into(),
                currency: "EUR".into(),
                count: 2,
                amount_minor: 1_200_000,
                weighted_minor: 120_000,
            }],
            ..Default::default()
        };
        let html = pipeline(&r, Lang::En).into_string();
        assert!(
            html.contains(r#"data-group="rep=ana;stage=qualify;currency=EUR""#),
            "{html}"
        );
        assert!(html.contains(r#"data-measure="amount_minor" data-value="1200000""#));
        assert!(html.contains(r#"data-measure="weighted_minor" data-value="120000""#));
        assert!(html.contains("12000.00 EUR") && html.contains("1200.00 EUR"));
        assert!(html.contains(r#"role="img""#) && html.contains("aria-label="));
        assert!(html.contains("<title>"), "bars have a title");
        assert!(html.contains("<table"), "a table for screen readers");
    }

    #[test]
    fn the_largest_bar_fills_the_span_and_zero_draws_nothing() {
        let r = GetFairnessResponse {
            reps: vec![RepFairness {
                rep_id: "ana".into(),
                offers: 4,
                claims: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let html = fairness(&r, Lang::Zh).into_string();
        let full = WIDTH - LABEL_W - TEXT_W;
        assert!(html.contains(&format!(r#"width="{full}""#)), "{html}");
        assert!(html.contains(&format!(r#"width="{}""#, full / 2)));
        assert!(html.contains(r#"data-measure="expiries" data-value="0""#));
        assert!(html.contains(i18n::CHART_FAIRNESS.get(Lang::Zh)));
    }

    #[test]
    fn nothing_to_draw_says_so() {
        let html = pipeline(&GetPipelineResponse::default(), Lang::En).into_string();
        assert!(html.contains(i18n::NO_DATA.get(Lang::En)));
    }
}

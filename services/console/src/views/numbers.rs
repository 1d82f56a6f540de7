//! My numbers: the five questions for this week with the previous week
//! beside them, and attainment for this month and this quarter, as
//! reporting answers them.

use leadwheel_proto::reporting::v1::{
    FiveAnswers, ForecastLine, GetFiveQuestionsResponse, GetForecastResponse, Money, ResolvedPeriod,
};
use maud::{Markup, html};

use crate::i18n::{self, Lang};
use crate::views::opps::money;

fn span(period: Option<&ResolvedPeriod>) -> String {
    period.map_or_else(String::new, |p| {
        if p.from == p.to {
            p.from.clone()
        } else {
            format!("{} – {}", p.from, p.to)
        }
    })
}

fn monies(values: &[Money], lang: Lang) -> String {
    if values.is_empty() {
        return i18n::NONE.get(lang).to_string();
    }
    values
        .iter()
        .map(|m| money(m.amount_minor, &m.currency))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Basis points as a percent (`12345` → `123.45%`).
pub fn percent(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, (bp % 100).abs())
}

/// One counted question: its key, label and how to read it.
type Question = (&'static str, i18n::Msg, fn(&FiveAnswers) -> i64);

/// The five questions, this period and the previous one.
pub fn five(answer: &GetFiveQuestionsResponse, lang: Lang) -> Markup {
    let now = answer.current.clone().unwrap_or_default();
    let before = answer.previous.clone().unwrap_or_default();
    let counts: [Question; 4] = [
        ("calls", i18n::CALLS_MADE, |a| a.calls),
        ("opportunities", i18n::OPPS_CREATED, |a| a.opportunities),
        ("purchase_intents", i18n::PURCHASE_INTENTS, |a| {
            a.purchase_intents
        }),
        ("won", i18n::DEALS_WON, |a| a.won),
    ];
    html! {
        section aria-labelledby="h-five" {
            h2 id="h-five" { (i18n::FIVE_QUESTIONS.get(lang)) }
            table data-report="five" {
                thead { tr {
                    th scope="col" { }
                    th scope="col" { (i18n::THIS_WEEK.get(lang)) br; span.muted { (span(answer.period.as_ref())) } }
                    th scope="col" { (i18n::LAST_WEEK.get(lang)) br; span.muted { (span(answer.previous_period.as_ref())) } }
                } }
                tbody {
                    @for (key, label, get) in counts {
                        tr data-question=(key) {
                            th scope="row" { (label.get(lang)) }
                            td data-label=(i18n::THIS_WEEK.get(lang)) data-current { (get(&now)) }
                            td data-label=(i18n::LAST_WEEK.get(lang)) data-previous { (get(&before)) }
                        }
                    }
                    tr data-question="won_value" {
                        th scope="row" { (i18n::WON_VALUE.get(lang)) }
                        td data-label=(i18n::THIS_WEEK.get(lang)) data-current { (monies(&now.won_value, lang)) }
                        td data-label=(i18n::LAST_WEEK.get(lang)) data-previous { (monies(&before.won_value, lang)) }
                    }
                    tr data-question="average_deal" {
                        th scope="row" { (i18n::AVERAGE_DEAL.get(lang)) }
                        td data-label=(i18n::THIS_WEEK.get(lang)) data-current { (monies(&now.average_deal, lang)) }
                        td data-label=(i18n::LAST_WEEK.get(lang)) data-previous { (monies(&before.average_deal, lang)) }
                    }
                }
            }
        }
    }
}

fn line(l: &ForecastLine, lang: Lang) -> Markup {
    html! {
        tr data-currency=(l.currency) {
            td data-label=(i18n::CURRENCY.get(lang)) { (l.currency) }
            td data-label=(i18n::QUOTA.get(lang)) { @if l.has_quota { (money(l.quota_minor, &l.currency)) } @else { (i18n::NO_QUOTA.get(lang)) } }
            td data-label=(i18n::WON.get(lang)) { (money(l.won_minor, &l.currency)) " (" (l.won_count) ")" }
            td data-label=(i18n::WEIGHTED_OPEN.get(lang)) { (money(l.weighted_open_minor, &l.currency)) " (" (l.open_count) ")" }
            td data-label=(i18n::FORECAST.get(lang)) { (money(l.forecast_minor, &l.currency)) }
            td data-label=(i18n::ATTAINMENT.get(lang)) data-attainment { @if l.has_quota { (percent(l.attainment_bp)) } @else { "—" } }
            td data-label=(i18n::FORECAST_VS_QUOTA.get(lang)) { @if l.has_quota { (percent(l.forecast_bp)) } @else { "—" } }
        }
    }
}

/// Attainment in one period (`title`: this month, this quarter), or why
/// reporting did not answer.
pub fn forecast(
    title: i18n::Msg,
    key: &str,
    answer: Result<&GetForecastResponse, &str>,
    lang: Lang,
) -> Markup {
    html! {
        section aria-labelledby={ "h-" (key) } data-report=(key) {
            h2 id={ "h-" (key) } { (title.get(lang)) }
            @match answer {
                Err(text) => {
                    p.error role="alert" { (text) }
                }
                Ok(answer) => {
                    p.muted { (span(answer.period.as_ref())) }
                    @if answer.lines.is_empty() {
                        p.muted { (i18n::NO_NUMBERS.get(lang)) }
                    } @else {
                        table {
                            thead { tr {
                                th scope="col" { (i18n::CURRENCY.get(lang)) }
                                th scope="col" { (i18n::QUOTA.get(lang)) }
                                th scope="col" { (i18n::WON.get(lang)) }
                                th scope="col" { (i18n::WEIGHTED_OPEN.get(lang)) }
                                th scope="col" { (i18n::FORECAST.get(lang)) }
                                th scope="col" { (i18n::ATTAINMENT.get(lang)) }
                                th scope="col" { (i18n::FORECAST_VS_QUOTA.get(lang)) }
                            } }
                            tbody { @for l in &answer.lines { (line(l, lang)) } }
                        }
                    }
                    @if answer.unscheduled_open_count > 0 {
                        p.muted { (i18n::UNSCHEDULED.get(lang)) ": " (answer.unscheduled_open_count) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_questions_sit_beside_last_week() {
        let answer = GetFiveQuestionsResponse {
            current: Some(FiveAnswers {
                calls: 7,
                ..Default::default()
            }),
            previous: Some(FiveAnswers {
                calls: 3,
                ..Default::default()
            }),
            ..Default::default()
        };
        let html = five(&answer, Lang::En).into_string();
        assert!(html.contains(r#"<tr data-question="calls"><th scope="row">Calls made</th><td data-label="This week" data-current>7</td><td data-label="Last week" data-previous>3</td>"#), "{html}");
    }

    #[test]
    fn attainment_is_a_percent_of_quota() {
        assert_eq!(percent(12_345), "123.45%");
        let answer = GetForecastResponse {
            lines: vec![ForecastLine {
                currency: "EUR".into(),
                has_quota: true,
                quota_minor: 1_000_000,
                won_minor: 250_000,
                attainment_bp: 2_500,
                ..Default::default()
            }],
            ..Default::default()
        };
        let html = forecast(i18n::THIS_MONTH, "month", Ok(&answer), Lang::Zh).into_string();
        assert!(
            html.contains("25.00%") && html.contains("10000.00 EUR"),
            "{html}"
        );
    }
}

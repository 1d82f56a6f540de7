//! The manager's charts (pipeline, forecast vs quota, fairness, speed to
//! lead) for a period and optionally one rep, and their CSV downloads: the
//! same reporting calls, written by `leadwheel-report-sheets` (the sheets
//! `leadctl report … -o csv` and reporting's HTTP download write).
//! Reporting decides what the signed-in user may see.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetForecastRequest, GetPipelineRequest, GetSpeedToLeadRequest, Period,
    PeriodKind,
};
use leadwheel_proto::wheel::v1::ListRepsRequest;
use leadwheel_report_sheets as sheets;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::i18n::{self, Lang};
use crate::routes::board;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::charts::{self, PERIODS, REPORTS};
use crate::views::{Nav, page};

/// The picker's choices, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct Picker {
    /// week, month, quarter or year (default month).
    #[serde(default)]
    period: String,
    /// Any day of the period, `YYYY-MM-DD` (default today).
    #[serde(default)]
    date: String,
    /// One rep (default every rep of the team).
    #[serde(default)]
    rep: String,
}

impl Picker {
    fn kind(&self) -> Result<(&'static str, PeriodKind), ConsoleError> {
        match self.period.as_str() {
            "" | "month" => Ok(("month", PeriodKind::Month)),
            "week" => Ok(("week", PeriodKind::Week)),
            "quarter" => Ok(("quarter", PeriodKind::Quarter)),
            "year" => Ok(("year", PeriodKind::Year)),
            other => Err(ConsoleError::BadRequest {
                field: "period",
                message: format!("{other:?} is not week, month, quarter or year"),
            }),
        }
    }

    fn period(&self) -> Result<Period, ConsoleError> {
        Ok(Period {
            kind: self.kind()?.1 as i32,
            date: self.date.trim().to_string(),
            ..Default::default()
        })
    }

    fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("period", self.kind().map(|k| k.0).unwrap_or("month"))
            .append_pair("date", self.date.trim())
            .append_pair("rep", self.rep.trim())
            .finish()
    }
}

/// What one report answered: its chart, or the service's refusal.
type Drawn = Result<Markup, ConsoleError>;

async fn draw_all(
    state: &AppState,
    user: &User,
    team: &str,
    picker: &Picker,
) -> Result<[Drawn; 4], ConsoleError> {
    let period = picker.period()?;
    let rep = picker.rep.trim().to_string();
    let lang = user.lang;
    let reporting = state.upstream.reporting(user);
    let (mut r1, mut r2, mut r3, mut r4) = (
        reporting.clone(),
        reporting.clone(),
        reporting.clone(),
        reporting,
    );
    let only_rep = Some(rep.as_str()).filter(|r| !r.is_empty());
    // The four reports at once: the page waits for the slowest, not the sum.
    let (pipeline, forecast, fairness, speed) = tokio::join!(
        r1.get_pipeline(GetPipelineRequest {
            team_id: team.to_string(),
            rep_id: rep.clone(),
            period: Some(period.clone()),
            as_of: String::new(),
        }),
        r2.get_forecast(GetForecastRequest {
            team_id: team.to_string(),
            rep_id: rep.clone(),
            period: Some(period.clone()),
        }),
        r3.get_fairness(GetFairnessRequest {
            team_id: team.to_string(),
            rep_id: rep.clone(),
            period: Some(period.clone()),
        }),
        r4.get_speed_to_lead(GetSpeedToLeadRequest {
            team_id: team.to_string(),
            rep_id: rep.clone(),
            period: Some(period.clone()),
        }),
    );
    let pipeline = pipeline
        .map(|r| charts::pipeline(&r.into_inner(), lang))
        .map_err(ConsoleError::from);
    let forecast = forecast
        .map(|r| charts::forecast(&r.into_inner(), only_rep, lang))
        .map_err(ConsoleError::from);
    let fairness = fairness
        .map(|r| charts::fairness(&r.into_inner(), lang))
        .map_err(ConsoleError::from);
    let speed = speed
        .map(|r| charts::speed(&r.into_inner(), lang))
        .map_err(ConsoleError::from);
    Ok([pipeline, forecast, fairness, speed])
}

fn picker_form(picker: &Picker, reps: &[(String, String)], lang: Lang) -> Markup {
    let current = picker.kind().map(|k| k.0).unwrap_or("month");
    html! {
        form.actions method="get" action="/charts" data-picker {
            div {
                label for="period" { (i18n::PERIOD.get(lang)) }
                select id="period" name="period" {
                    @for (value, name) in PERIODS {
                        option value=(value) selected[*value == current] { (name.get(lang)) }
                    }
                }
            }
            div {
                label for="date" { (i18n::PERIOD_DAY.get(lang)) }
                input id="date" name="date" type="date" value=(picker.date.trim());
            }
            div {
                label for="rep" { (i18n::REP.get(lang)) }
                select id="rep" name="rep" {
                    option value="" { (i18n::ALL_REPS.get(lang)) }
                    @for (id, name) in reps {
                        option value=(id) selected[picker.rep.trim() == id] { (name) " (" (id) ")" }
                    }
                }
            }
            button.primary type="submit" { (i18n::SHOW.get(lang)) }
        }
    }
}

fn charts_page(signed: &Signed, body: Markup, status: http::StatusCode) -> Response {
    let lang = signed.user().lang;
    (
        status,
        Html(
            page(
                Some(&signed.session),
                lang,
                i18n::NAV_CHARTS.get(lang),
                Nav::Charts,
                body,
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// The charts page.
pub async fn page_handler(
    State(state): State<AppState>,
    signed: Signed,
    Query(picker): Query<Picker>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let team = match board::team(&state, user).await {
        Ok(Some(team)) => team,
        Ok(None) => {
            return charts_page(
                &signed,
                html! { p { (i18n::NO_TEAM.get(lang)) } },
                http::StatusCode::OK,
            );
        }
        Err(status) => return error_page(&signed, status.into(), Nav::Charts),
    };
    let reps: Vec<(String, String)> = state
        .upstream
        .wheel(user)
        .list_reps(ListRepsRequest {
            team_id: team.clone(),
        })
        .await
        .map(|r| {
            r.into_inner()
                .reps
                .into_iter()
                .map(|r| (r.rep_id, r.name))
                .collect()
        })
        .unwrap_or_default();
    let drawn = match draw_all(&state, user, &team, &picker).await {
        Ok(drawn) => drawn,
        Err(error) => {
            let (status, text) = error.status_and_text(lang);
            let body = html! {
                h1 { (i18n::NAV_CHARTS.get(lang)) " · " (team) }
                (picker_form(&picker, &reps, lang))
                p.error role="alert" data-status=(status.as_u16()) { (text) }
            };
            return charts_page(&signed, body, status);
        }
    };
    let query = picker.query();
    let body = html! {
        h1 { (i18n::NAV_CHARTS.get(lang)) " · " (team) }
        (picker_form(&picker, &reps, lang))
        @for ((report, name), chart) in REPORTS.iter().zip(drawn) {
            section.card data-report=(report) {
                h2 { (name.get(lang)) }
                @match chart {
                    Ok(markup) => { (markup) }
                    Err(error) => {
                        @let (status, text) = error.status_and_text(lang);
                        p.error role="alert" data-status=(status.as_u16()) { (text) }
                    }
                }
                p { a href={ "/charts/" (report) ".csv?" (query) } download data-csv=(report) { (i18n::DOWNLOAD_CSV.get(lang)) } }
            }
        }
    };
    charts_page(&signed, body, http::StatusCode::OK)
}

/// The CSV of one report (`pipeline`, `forecast`, `fairness`, `speed`),
/// for the same picker, as an attachment.
pub async fn csv(
    State(state): State<AppState>,
    signed: Signed,
    Path(file): Path<String>,
    Query(picker): Query<Picker>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let Some(report) = file.strip_suffix(".csv") else {
        return ConsoleError::BadRequest {
            field: "report",
            message: format!("{file:?} is not a CSV download"),
        }
        .in_lang(lang)
        .into_response();
    };
    let team = match board::team(&state, user).await {
        Ok(team) => team.unwrap_or_default(),
        Err(status) => return ConsoleError::from(status).in_lang(lang).into_response(),
    };
    match sheet(&state, user, &team, report, &picker).await {
        Ok((sheet, span)) => {
            let name = format!("{report}-{}.csv", span.replace("..", "_"));
            (
                [
                    (
                        http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_string(),
                    ),
                    (
                        http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                sheet.csv(),
            )
                .into_response()
        }
        Err(error) => error.in_lang(lang).into_response(),
    }
}

/// One report's sheet and its period (`from..to`).
async fn sheet(
    state: &AppState,
    user: &User,
    team: &str,
    report: &str,
    picker: &Picker,
) -> Result<(sheets::Sheet, String), ConsoleError> {
    let period = Some(picker.period()?);
    let rep = picker.rep.trim().to_string();
    let team_id = team.to_string();
    let mut reporting = state.upstream.reporting(user);
    Ok(match report {
        "pipeline" => {
            let r = reporting
                .get_pipeline(GetPipelineRequest {
                    team_id,
                    rep_id: rep,
                    period,
                    as_of: String::new(),
                })
                .await?
                .into_inner();
            (sheets::pipeline_sheet(&r), sheets::span(&r.period))
        }
        "forecast" => {
            let subject = sheets::forecast_subject(&team_id, &rep);
            let r = reporting
                .get_forecast(GetForecastRequest {
                    team_id,
                    rep_id: rep,
                    period,
                })
                .await?
                .into_inner();
            (
                sheets::forecast_sheet(&subject, &r),
                sheets::span(&r.period),
            )
        }
        "fairness" => {
            let r = reporting
                .get_fairness(GetFairnessRequest {
                    team_id,
                    rep_id: rep,
                    period,
                })
                .await?
                .into_inner();
            (sheets::fairness_sheet(&r), sheets::span(&r.period))
        }
        "speed" => {
            let r = reporting
                .get_speed_to_lead(GetSpeedToLeadRequest {
                    team_id,
                    rep_id: rep,
                    period,
                })
                .await?
                .into_inner();
            (sheets::speed_sheet(&r), sheets::span(&r.period))
        }
        other => {
            return Err(ConsoleError::BadRequest {
                field: "report",
                message: format!("{other:?} is not pipeline, forecast, fairness or speed"),
            });
        }
    })
}

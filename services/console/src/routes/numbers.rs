//! My numbers, from reporting as the signed-in user: GetFiveQuestions for
//! this week (with the previous week, which reporting returns beside it)
//! and GetForecast for this month and this quarter. A rep's are their own;
//! a manager opening the page sees their team's.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use leadwheel_proto::reporting::v1::{
    GetFiveQuestionsRequest, GetForecastRequest, Period, PeriodKind,
};
use maud::html;

use crate::error::ConsoleError;
use crate::i18n;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::{Nav, numbers, page};

fn period(kind: PeriodKind) -> Option<Period> {
    Some(Period {
        kind: kind as i32,
        ..Default::default()
    })
}

/// (team, rep) the numbers are about: a rep's own, a manager's team.
fn subject(user: &User) -> (String, String) {
    if user.is_manager() {
        (user.team.clone().unwrap_or_default(), String::new())
    } else {
        (String::new(), user.id.clone())
    }
}

/// `GET /numbers`.
pub async fn page_handler(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let (team_id, rep_id) = subject(user);
    let mut reporting = state.upstream.reporting(user);
    let mut month_client = reporting.clone();
    let mut quarter_client = reporting.clone();
    let forecast = |kind| GetForecastRequest {
        team_id: team_id.clone(),
        rep_id: rep_id.clone(),
        period: period(kind),
    };
    let (five, month, quarter) = tokio::join!(
        reporting.get_five_questions(GetFiveQuestionsRequest {
            team_id: team_id.clone(),
            rep_id: rep_id.clone(),
            period: period(PeriodKind::Week),
            intent_stage: String::new(),
        }),
        month_client.get_forecast(forecast(PeriodKind::Month)),
        quarter_client.get_forecast(forecast(PeriodKind::Quarter)),
    );
    let five = match five {
        Ok(answer) => answer.into_inner(),
        Err(status) => return error_page(&signed, status.into(), Nav::Numbers),
    };
    let text = |status: tonic::Status| ConsoleError::from(status).status_and_text(lang).1;
    let month = month.map(|a| a.into_inner()).map_err(text);
    let quarter = quarter.map(|a| a.into_inner()).map_err(text);
    let body = html! {
        h1 { (i18n::NAV_NUMBERS.get(lang)) }
        (numbers::five(&five, lang))
        (numbers::forecast(i18n::THIS_MONTH, "month", month.as_ref().map_err(String::as_str), lang))
        (numbers::forecast(i18n::THIS_QUARTER, "quarter", quarter.as_ref().map_err(String::as_str), lang))
    };
    Html(
        page(
            Some(&signed.session),
            lang,
            i18n::NAV_NUMBERS.get(lang),
            Nav::Numbers,
            body,
        )
        .into_string(),
    )
    .into_response()
}

//! My alerts, through alerting as the signed-in user (it decides what each
//! may see: a rep the alerts addressed to them, a manager their team's):
//! the inbox (ListAlerts), live (WatchAlerts forwarded as server-sent
//! events), one alert by its link (`/alerts/<id>`, the deep link alerting's
//! webhook and email messages carry), AcknowledgeAlert and SnoozeAlert.

use std::convert::Infallible;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures::stream::{self, StreamExt};
use http::HeaderMap;
use leadwheel_proto::alerting::v1::{
    AcknowledgeAlertRequest, Alert, GetAlertRequest, ListAlertsRequest, SnoozeAlertRequest,
    WatchAlertsRequest,
};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::forms;
use crate::i18n;
use crate::routes::rep::KEEP_ALIVE;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::alerts::{card, card_id, inbox};
use crate::views::{Nav, page};

/// How many alerts one list call reads.
const PAGE: i32 = 200;

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

async fn list_state(
    state: &AppState,
    user: &User,
    which: &str,
) -> Result<Vec<Alert>, tonic::Status> {
    Ok(state
        .upstream
        .alerting(user)
        .list_alerts(ListAlertsRequest {
            state: which.to_string(),
            page_size: PAGE,
            ..Default::default()
        })
        .await?
        .into_inner()
        .alerts)
}

/// `GET /alerts`: the active alerts (open, snoozed, acknowledged), newest
/// first; `?state=resolved` the resolved ones.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let user = signed.user();
    let resolved = q.state.as_deref() == Some("resolved");
    let result = if resolved {
        list_state(&state, user, "resolved").await
    } else {
        let (open, snoozed, acked) = tokio::join!(
            list_state(&state, user, "open"),
            list_state(&state, user, "snoozed"),
            list_state(&state, user, "acknowledged"),
        );
        match (open, snoozed, acked) {
            (Ok(mut a), Ok(b), Ok(c)) => {
                a.extend(b);
                a.extend(c);
                a.sort_by_key(|x| std::cmp::Reverse(x.raised_at_ms));
                Ok(a)
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        }
    };
    match result {
        Ok(alerts) => {
            let body = inbox(&alerts, &signed.session.csrf, resolved, user.lang);
            Html(
                page(
                    Some(&signed.session),
                    user.lang,
                    i18n::NAV_ALERTS.get(user.lang),
                    Nav::Alerts,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(status) => error_page(&signed, status.into(), Nav::Alerts),
    }
}

/// `alert_id`, asked of alerting as the user: None when there is no such
/// alert (a refusal, PERMISSION_DENIED, stays an error: a 403).
async fn find(
    state: &AppState,
    user: &User,
    alert_id: &str,
) -> Result<Option<Alert>, tonic::Status> {
    let answer = state
        .upstream
        .alerting(user)
        .get_alert(GetAlertRequest {
            alert_id: alert_id.to_string(),
        })
        .await;
    match answer {
        Ok(answer) => Ok(answer.into_inner().alert),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}

/// `GET /alerts/<id>`: one alert (the deep link from a webhook or email).
/// Opened without a session, sign-in comes first and returns here.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(alert_id): Path<String>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    match find(&state, user, &alert_id).await {
        Ok(Some(alert)) => {
            let back = format!("/alerts/{alert_id}");
            let body = maud::html! {
                p { a href="/alerts" { "← " (i18n::NAV_ALERTS.get(lang)) } }
                h1 { (i18n::ALERT.get(lang)) }
                (card(&alert, &signed.session.csrf, &back, None, lang))
            };
            Html(
                page(
                    Some(&signed.session),
                    lang,
                    i18n::ALERT.get(lang),
                    Nav::Alerts,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Ok(None) => error_page(
            &signed,
            tonic::Status::not_found(format!("alert {alert_id} (or it is not yours to see)"))
                .into(),
            Nav::Alerts,
        ),
        Err(status) => error_page(&signed, status.into(), Nav::Alerts),
    }
}

/// The live stream: `hello`, then one card (`fragment`) per alert alerting
/// delivers to this user (raised, escalated to them, back from a snooze).
pub async fn stream(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user().clone();
    let csrf = signed.session.csrf.clone();
    let lang = user.lang;
    let watched = state
        .upstream
        .alerting(&user)
        .watch_alerts(WatchAlertsRequest {})
        .await;
    let updates = match watched {
        Ok(answer) => answer.into_inner(),
        Err(status) => {
            // A 200 stream saying why: an error status would stop the
            // browser's EventSource for good.
            let (_, text) = ConsoleError::from(status).status_and_text(lang);
            let event = Event::default()
                .event("unavailable")
                .retry(Duration::from_secs(5))
                .data(text);
            return Sse::new(stream::once(async move { Ok::<_, Infallible>(event) }))
                .into_response();
        }
    };
    let hello = Event::default()
        .event("hello")
        .retry(Duration::from_secs(1))
        .data(leadwheel_plumbing::store::now_ms().to_string());
    let who = user.id.clone();
    let cards = updates
        .take_while(move |update| {
            if let Err(status) = update {
                tracing::warn!(user = %who, error = %status, "alert stream ended");
            }
            std::future::ready(update.is_ok())
        })
        .filter_map(move |update| {
            let event = update.ok().map(|alert| {
                Event::default()
                    .event("fragment")
                    .data(card(&alert, &csrf, "/alerts", None, lang).into_string())
            });
            std::future::ready(event.map(Ok::<Event, Infallible>))
        });
    let stop = state.stop.clone();
    let events = stream::once(async move { Ok(hello) })
        .chain(cards)
        .take_until(async move { stop.cancelled_owned().await })
        .boxed();
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    back: String,
    #[serde(default, rename = "for")]
    for_seconds: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    tz_offset: String,
}

/// Only a path on this console.
fn back_path(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/alerts"
    }
}

/// The card after an action: htmx swaps it in; a plain form goes back.
fn after(
    signed: &Signed,
    headers: &HeaderMap,
    alert_id: &str,
    form: &ActionForm,
    result: Result<Alert, ConsoleError>,
) -> Response {
    let lang = signed.user().lang;
    let back = back_path(&form.back);
    match result {
        Ok(alert) => forms::done(headers, back, || {
            card(&alert, &signed.session.csrf, back, None, lang).into_string()
        }),
        Err(error) => {
            let (status, text) = error.status_and_text(lang);
            if forms::is_htmx(headers) {
                let body = maud::html! {
                    article.card id=(card_id(alert_id)) data-item {
                        p.error role="alert" data-status=(status.as_u16()) { (text) }
                    }
                };
                (status, Html(body.into_string())).into_response()
            } else {
                let body = maud::html! {
                    h1 { (i18n::ALERT.get(lang)) }
                    p.error role="alert" data-status=(status.as_u16()) { (text) }
                    p { a href=(back) { "← " (i18n::BACK.get(lang)) } }
                };
                let html = page(
                    Some(&signed.session),
                    lang,
                    i18n::ALERT.get(lang),
                    Nav::Alerts,
                    body,
                );
                (status, Html(html.into_string())).into_response()
            }
        }
    }
}

/// `POST /alerts/<id>/ack`.
pub async fn acknowledge(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(alert_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let result = state
        .upstream
        .alerting(signed.user())
        .acknowledge_alert(AcknowledgeAlertRequest {
            alert_id: alert_id.clone(),
        })
        .await
        .map(|a| a.into_inner().alert.unwrap_or_default())
        .map_err(ConsoleError::from);
    after(&signed, &headers, &alert_id, &form, result)
}

fn snooze_request(alert_id: &str, form: &ActionForm) -> Result<SnoozeAlertRequest, ConsoleError> {
    let mut request = SnoozeAlertRequest {
        alert_id: alert_id.to_string(),
        ..Default::default()
    };
    if !form.until.trim().is_empty() {
        let offset = match form.tz_offset.trim() {
            "" => 0,
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|m| m.abs() <= 16 * 60)
                .ok_or_else(|| ConsoleError::BadRequest {
                    field: "tz_offset",
                    message: format!("{raw:?} is not a time zone offset in minutes"),
                })?,
        };
        request.until_ms = forms::parse_local_time("until", &form.until, offset)?;
    } else {
        request.duration_seconds = form
            .for_seconds
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| ConsoleError::BadRequest {
                field: "for",
                message: format!("{:?} is not a number of seconds", form.for_seconds),
            })?;
    }
    Ok(request)
}

/// `POST /alerts/<id>/snooze`: for a while (`for`, seconds) or until a
/// time (`until`, the browser's local time; UTC without JavaScript).
pub async fn snooze(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(alert_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let result = match snooze_request(&alert_id, &form) {
        Ok(request) => state
            .upstream
            .alerting(signed.user())
            .snooze_alert(request)
            .await
            .map(|a| a.into_inner().alert.unwrap_or_default())
            .map_err(ConsoleError::from),
        Err(error) => Err(error),
    };
    after(&signed, &headers, &alert_id, &form, result)
}

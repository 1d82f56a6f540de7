//! The handover of a leaving rep over the opportunity service's RPCs
//! (StartHandover → ListHandoverItems → EditHandoverItem → ApplyHandover;
//! GetHandover for progress). The service decides who may hand over whom.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use leadwheel_proto::opportunity::v1::{
    ApplyHandoverRequest, EditHandoverItemRequest, GetHandoverRequest, HandoverItem,
    ListHandoverItemsRequest, StartHandoverRequest,
};
use leadwheel_proto::wheel::v1::{ListRepsRequest, Rep};
use maud::html;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::i18n::{self, Lang};
use crate::routes::board;
use crate::routes::team::refused_field;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::handover;
use crate::views::team::{FieldError, Outcome};
use crate::views::{Nav, page};

async fn team_reps(state: &AppState, user: &User) -> Vec<Rep> {
    let Ok(Some(team)) = board::team(state, user).await else {
        return Vec::new();
    };
    state
        .upstream
        .wheel(user)
        .list_reps(ListRepsRequest { team_id: team })
        .await
        .map(|r| r.into_inner().reps)
        .unwrap_or_default()
}

fn handover_page(signed: &Signed, body: maud::Markup) -> Response {
    let lang = signed.user().lang;
    Html(
        page(
            Some(&signed.session),
            lang,
            i18n::NAV_HANDOVER.get(lang),
            Nav::Handover,
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// Step 1.
pub async fn start_page(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let reps = team_reps(&state, user).await;
    let body = html! {
        h1 { (i18n::NAV_HANDOVER.get(lang)) }
        (handover::steps(0, lang))
        p.muted { (i18n::HANDOVER_NOTE.get(lang)) }
        (handover::start_form(&reps, "", "", false, &Outcome::default(), lang))
    };
    handover_page(&signed, body)
}

/// Step 1's form.
#[derive(Deserialize)]
pub struct StartValues {
    #[serde(default)]
    rep_id: String,
    #[serde(default)]
    successor_rep_id: String,
    #[serde(default)]
    leads_to_successor: Option<String>,
}

/// Where a successful POST goes: htmx follows `HX-Redirect`, a plain form a 303.
fn go_to(headers: &HeaderMap, to: &str) -> Response {
    if headers.contains_key("hx-request") {
        (StatusCode::OK, [("hx-redirect", to.to_string())]).into_response()
    } else {
        Redirect::to(to).into_response()
    }
}

fn outcome_of(error: ConsoleError, fields: &[&str], lang: Lang) -> (StatusCode, Outcome) {
    let field = match &error {
        ConsoleError::BadRequest { field, .. } => (*field).to_string(),
        ConsoleError::Upstream(status) => refused_field(status, fields, &[]),
        ConsoleError::Forbidden(_) => String::new(),
    };
    let (code, text) = error.status_and_text(lang);
    (
        code,
        Outcome {
            error: Some(FieldError { field, text }),
            saved: false,
        },
    )
}

/// Starts the plan, then shows it.
pub async fn start(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Form(values): Form<StartValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let leads_to_successor = values.leads_to_successor.is_some();
    let answer = state
        .upstream
        .opportunity(user)
        .start_handover(StartHandoverRequest {
            rep_id: values.rep_id.trim().to_string(),
            successor_rep_id: values.successor_rep_id.trim().to_string(),
            leads_to_successor,
        })
        .await;
    match answer {
        Ok(answer) => {
            let id = answer.into_inner().handover.unwrap_or_default().handover_id;
            go_to(&headers, &format!("/handover/{id}"))
        }
        Err(status) => {
            let reps = team_reps(&state, user).await;
            let (code, outcome) = outcome_of(status.into(), &["successor_rep_id", "rep_id"], lang);
            let form = handover::start_form(
                &reps,
                &values.rep_id,
                &values.successor_rep_id,
                leads_to_successor,
                &outcome,
                lang,
            );
            (code, Html(form.into_string())).into_response()
        }
    }
}

async fn all_items(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Vec<HandoverItem>, tonic::Status> {
    let mut opportunity = state.upstream.opportunity(user);
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let page = opportunity
            .list_handover_items(ListHandoverItemsRequest {
                handover_id: id.to_string(),
                page_size: 200,
                page_token: token,
            })
            .await?
            .into_inner();
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return Ok(items);
        }
        token = page.next_page_token;
    }
}

/// Steps 2 to 4: the plan and its progress.
pub async fn plan_page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let handover = match state
        .upstream
        .opportunity(user)
        .get_handover(GetHandoverRequest {
            handover_id: id.clone(),
        })
        .await
    {
        Ok(answer) => answer.into_inner().handover.unwrap_or_default(),
        Err(status) => return error_page(&signed, status.into(), Nav::Handover),
    };
    let items = match all_items(&state, user, &id).await {
        Ok(items) => items,
        Err(status) => return error_page(&signed, status.into(), Nav::Handover),
    };
    let reps = team_reps(&state, user).await;
    let body = html! {
        h1 { (i18n::NAV_HANDOVER.get(lang)) " · " (handover.rep_id) }
        (handover::plan(&handover, &items, &reps, lang))
    };
    handover_page(&signed, body)
}

/// One item's new action.
#[derive(Deserialize)]
pub struct EditValues {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    to_rep_id: String,
}

/// Changes one item's action; answers with its row.
pub async fn edit_item(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(values): Form<EditValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let Some(action) = handover::parse_action(&values.action) else {
        return ConsoleError::BadRequest {
            field: "action",
            message: format!(
                "{:?} is not reassign, return_to_wheel or manager_decides",
                values.action
            ),
        }
        .in_lang(lang)
        .into_response();
    };
    let answer = state
        .upstream
        .opportunity(user)
        .edit_handover_item(EditHandoverItemRequest {
            handover_id: id.clone(),
            kind: values.kind.clone(),
            item_id: values.item_id.clone(),
            action: action as i32,
            to_rep_id: values.to_rep_id.trim().to_string(),
        })
        .await;
    let reps = team_reps(&state, user).await;
    match answer {
        Ok(answer) => {
            let item = answer.into_inner().item.unwrap_or_default();
            let outcome = Outcome {
                error: None,
                saved: true,
            };
            let row = handover::item_row(&id, &item, &reps, true, &outcome, lang);
            Html(row.into_string()).into_response()
        }
        Err(status) => {
            let (code, outcome) = outcome_of(status.into(), &["to_rep_id", "action"], lang);
            let item = HandoverItem {
                kind: values.kind,
                item_id: values.item_id,
                action: action as i32,
                to_rep_id: values.to_rep_id,
                ..Default::default()
            };
            let row = handover::item_row(&id, &item, &reps, true, &outcome, lang);
            (code, Html(row.into_string())).into_response()
        }
    }
}

/// The apply form.
#[derive(Deserialize)]
pub struct ApplyValues {
    #[serde(default)]
    task_due_days: String,
}

/// Applies the plan (exactly once: the service refuses a second time), then
/// shows the result.
pub async fn apply(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(values): Form<ApplyValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let days = values.task_due_days.trim();
    let task_due_days = if days.is_empty() {
        Ok(0)
    } else {
        days.parse::<i32>().map_err(|_| ConsoleError::BadRequest {
            field: "task_due_days",
            message: format!("{days:?} is not a whole number"),
        })
    };
    let answer = match task_due_days {
        Ok(task_due_days) => state
            .upstream
            .opportunity(user)
            .apply_handover(ApplyHandoverRequest {
                handover_id: id.clone(),
                task_due_days,
            })
            .await
            .map_err(ConsoleError::from),
        Err(error) => Err(error),
    };
    match answer {
        Ok(_) => go_to(&headers, &format!("/handover/{id}")),
        Err(error) => {
            let (code, outcome) = outcome_of(error, &["task_due_days"], lang);
            let text = outcome.error.map(|e| e.text).unwrap_or_default();
            let body = html! {
                form.card id="handover-apply" hx-post={ "/handover/" (id) "/apply" } hx-target="this" hx-swap="outerHTML" {
                    p.error role="alert" data-field-error="task_due_days" { (text) }
                    div {
                        label for="task-due-days" { (i18n::TASK_DUE_DAYS.get(lang)) }
                        input id="task-due-days" name="task_due_days" type="number" value=(days);
                    }
                    button.primary type="submit" { (i18n::APPLY_HANDOVER.get(lang)) }
                }
            };
            (code, Html(body.into_string())).into_response()
        }
    }
}

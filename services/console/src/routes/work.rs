//! The open pool (claim) and my leads in work (the list; one lead's page
//! is `lead_actions`).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use leadwheel_proto::opportunity::v1::ListLeadsInWorkRequest;
use leadwheel_proto::wheel::v1::{ClaimRequest, ListPoolRequest};
use maud::html;

use crate::error::ConsoleError;
use crate::i18n;
use crate::state::{AppState, Signed};
use crate::views::{Nav, page, work};

/// A whole page showing an error, with the error's status.
pub fn error_page(signed: &Signed, error: ConsoleError, nav: Nav) -> Response {
    let lang = signed.user().lang;
    let (status, text) = error.status_and_text(lang);
    let body = html! { h1 { (i18n::ERROR.get(lang)) } p.error role="alert" data-status=(status.as_u16()) { (text) } };
    (
        status,
        Html(
            page(
                Some(&signed.session),
                lang,
                i18n::ERROR.get(lang),
                nav,
                body,
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// The team's open pool.
pub async fn pool(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let Some(team) = user.team.clone() else {
        let body = html! { p { (i18n::NO_TEAM.get(lang)) } };
        return Html(
            page(
                Some(&signed.session),
                lang,
                i18n::NAV_POOL.get(lang),
                Nav::Pool,
                body,
            )
            .into_string(),
        )
        .into_response();
    };
    match state
        .upstream
        .wheel(user)
        .list_pool(ListPoolRequest { team_id: team })
        .await
    {
        Ok(answer) => {
            let body = work::pool(&answer.into_inner().leads, lang);
            Html(
                page(
                    Some(&signed.session),
                    lang,
                    i18n::NAV_POOL.get(lang),
                    Nav::Pool,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(status) => error_page(&signed, status.into(), Nav::Pool),
    }
}

/// Claims a pooled lead (first claim wins).
pub async fn claim_pooled(
    State(state): State<AppState>,
    signed: Signed,
    Path(lead_id): Path<String>,
) -> Response {
    let user = signed.user();
    match state
        .upstream
        .wheel(user)
        .claim(ClaimRequest {
            lead_id: lead_id.clone(),
            rep_id: user.id.clone(),
        })
        .await
    {
        Ok(_) => Html(work::pool_claimed(&lead_id, user.lang).into_string()).into_response(),
        Err(status) => {
            let (code, text) = ConsoleError::from(status).status_and_text(user.lang);
            let body = html! { article.card id=(work::pool_id(&lead_id)) { p.error role="alert" data-status=(code.as_u16()) { (text) } } };
            (code, Html(body.into_string())).into_response()
        }
    }
}

/// My leads in work (the first page: 100).
pub async fn leads(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let request = ListLeadsInWorkRequest {
        rep_id: user.id.clone(),
        page_size: 100,
        page_token: String::new(),
    };
    match state
        .upstream
        .opportunity(user)
        .list_leads_in_work(request)
        .await
    {
        Ok(answer) => {
            let body = work::leads(&answer.into_inner().leads, user.lang);
            Html(
                page(
                    Some(&signed.session),
                    user.lang,
                    i18n::NAV_LEADS.get(user.lang),
                    Nav::Leads,
                    body,
                )
                .into_string(),
            )
            .into_response()
        }
        Err(status) => error_page(&signed, status.into(), Nav::Leads),
    }
}

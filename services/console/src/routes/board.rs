//! The manager's team board, live: re-read from the wheel every second (one
//! read per team shared by all the team's live streams: `snapshots.rs`) and
//! pushed over server-sent events when it changed (countdowns run in the
//! browser from the absolute deadlines).

use std::convert::Infallible;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures::stream::{self, BoxStream, StreamExt};
use leadwheel_proto::wheel::v1::{
    AssignLeadRequest, ListOffersRequest, ListPoolRequest, ListRepsRequest, ListTeamsRequest,
};
use maud::html;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::i18n;
use crate::routes::rep::KEEP_ALIVE;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::board::{self, BoardData};
use crate::views::{Nav, page};

/// How often the live board is re-read.
const REFRESH: Duration = Duration::from_secs(1);

/// The team a manager's screens show: theirs (an admin sees the first).
pub async fn team(state: &AppState, user: &User) -> Result<Option<String>, tonic::Status> {
    if let Some(team) = &user.team {
        return Ok(Some(team.clone()));
    }
    // An admin sees the first team.
    let teams = state
        .upstream
        .wheel(user)
        .list_teams(ListTeamsRequest {})
        .await?
        .into_inner()
        .teams;
    Ok(teams.into_iter().next().map(|t| t.team_id))
}

/// The board's three reads, at once: the team's reps, its open offers (one
/// call, the soonest deadlines first, whatever the number of reps holding
/// one) and its pool.
async fn load(state: &AppState, user: &User, team: &str) -> Result<BoardData, tonic::Status> {
    let (mut reps, mut offers, mut pool) = (
        state.upstream.wheel(user),
        state.upstream.wheel(user),
        state.upstream.wheel(user),
    );
    let team_id = team.to_string();
    let (reps, offers, pool) = tokio::try_join!(
        reps.list_reps(ListRepsRequest {
            team_id: team_id.clone(),
        }),
        offers.list_offers(ListOffersRequest {
            team_id: team_id.clone(),
            limit: board::MAX_OFFERS as i32,
            ..Default::default()
        }),
        pool.list_pool(ListPoolRequest { team_id }),
    )?;
    Ok(BoardData {
        reps: reps.into_inner().reps,
        offers: offers.into_inner().offers,
        pool: pool.into_inner().leads,
    })
}

fn forbid_reps(signed: &Signed) -> Option<Response> {
    (!signed.user().is_manager()).then(|| {
        error_page(
            signed,
            ConsoleError::Forbidden("the team board is for managers".into()),
            Nav::Board,
        )
    })
}

/// The board page.
pub async fn page_handler(State(state): State<AppState>, signed: Signed) -> Response {
    if let Some(refused) = forbid_reps(&signed) {
        return refused;
    }
    let user = signed.user();
    let lang = user.lang;
    let team = match team(&state, user).await {
        Ok(Some(team)) => team,
        Ok(None) => {
            let body = html! { p { (i18n::NO_TEAM.get(lang)) } };
            return Html(
                page(
                    Some(&signed.session),
                    lang,
                    i18n::NAV_BOARD.get(lang),
                    Nav::Board,
                    body,
                )
                .into_string(),
            )
            .into_response();
        }
        Err(status) => return error_page(&signed, status.into(), Nav::Board),
    };
    // Read now, not from the live streams' shared snapshot: the page shows
    // what the wheel holds when it is asked for.
    let data = match load(&state, user, &team).await {
        Ok(data) => data,
        Err(status) => return error_page(&signed, status.into(), Nav::Board),
    };
    let body = html! {
        section data-stream="/board/stream" aria-live="polite" {
            p.muted data-connection hidden data-reconnecting=(i18n::RECONNECTING.get(lang)) {}
            (board::board(&team, &data, lang))
        }
    };
    Html(
        page(
            Some(&signed.session),
            lang,
            i18n::NAV_BOARD.get(lang),
            Nav::Board,
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// The live board: the whole board as one fragment, when it changed.
pub async fn stream(State(state): State<AppState>, signed: Signed) -> Response {
    if let Some(refused) = forbid_reps(&signed) {
        return refused;
    }
    let user = signed.user().clone();
    let Ok(Some(team)) = team(&state, &user).await else {
        return (http::StatusCode::NOT_FOUND, "no team\n").into_response();
    };
    let hello = Event::default()
        .event("hello")
        .retry(Duration::from_secs(1))
        .data(leadwheel_plumbing::store::now_ms().to_string());
    let stop = state.stop.clone();
    let ticks = stream::unfold(
        (state, user, team, String::new()),
        |(state, user, team, last)| async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                let read = state
                    .boards
                    .fresh(&team, || load(&state, &user, &team))
                    .await;
                match read {
                    Ok(data) => {
                        let html = board::board(&team, &data, user.lang).into_string();
                        if html != last {
                            let event = Event::default().event("fragment").data(html.clone());
                            return Some((Ok::<_, Infallible>(event), (state, user, team, html)));
                        }
                    }
                    Err(status) => {
                        tracing::warn!(error = %status, "refreshing the team board");
                        return None;
                    }
                }
            }
        },
    );
    let events: BoxStream<'static, Result<Event, Infallible>> =
        stream::once(async move { Ok(hello) })
            .chain(ticks)
            .take_until(async move { stop.cancelled_owned().await })
            .boxed();
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

#[derive(Deserialize)]
pub struct AssignForm {
    rep_id: String,
}

/// Assigns a pooled lead to a rep.
pub async fn assign(
    State(state): State<AppState>,
    signed: Signed,
    Path(lead_id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Response {
    let user = signed.user();
    let request = AssignLeadRequest {
        lead_id: lead_id.clone(),
        rep_id: form.rep_id.clone(),
        reason: "assigned from the console's team board".into(),
    };
    match state.upstream.wheel(user).assign_lead(request).await {
        Ok(_) => {
            // The next board read shows the lead assigned.
            if let Ok(Some(team)) = team(&state, user).await {
                state.boards.forget(&team);
            }
            Html(board::assigned(&lead_id, &form.rep_id, user.lang).into_string()).into_response()
        }
        Err(status) => ConsoleError::from(status)
            .in_lang(user.lang)
            .into_response(),
    }
}

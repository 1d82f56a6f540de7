//! The rep's live offers: the page, the server-sent event stream forwarded
//! from the wheel's WatchOffers (absolute deadlines; the browser only counts
//! down), Claim and Pass.

use std::convert::Infallible;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::stream::{self, StreamExt};
use leadwheel_proto::wheel::v1::{
    ClaimRequest, ListTeamsRequest, Offer, OfferState, PassRequest, WatchOffersRequest,
};
use maud::html;
use serde::Deserialize;

use crate::error::{Answer, ConsoleError};
use crate::i18n::{self, Lang};
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::offer::{card, card_id};
use crate::views::{Nav, page};

/// How often an idle stream sends a keep-alive comment (proxies drop
/// silent connections).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The team's pass reasons (empty: the rep types one).
pub async fn pass_reasons(state: &AppState, user: &User) -> Vec<String> {
    let Some(team) = &user.team else {
        return Vec::new();
    };
    match state
        .upstream
        .wheel(user)
        .list_teams(ListTeamsRequest {})
        .await
    {
        Ok(answer) => answer
            .into_inner()
            .teams
            .into_iter()
            .find(|t| &t.team_id == team)
            .and_then(|t| t.policy)
            .map(|p| p.pass_reasons)
            .unwrap_or_default(),
        Err(status) => {
            tracing::warn!(error = %status, "reading the team's pass reasons");
            Vec::new()
        }
    }
}

/// `/`: the rep's live offers (managers go to their board).
pub async fn home(signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    if user.is_manager() {
        return Redirect::to("/board").into_response();
    }
    let body = html! {
        h1 { (i18n::LIVE_OFFER.get(lang)) }
        p {
            button type="button" data-notify data-on=(i18n::NOTIFY_ON.get(lang)) data-title=(i18n::NEW_OFFER.get(lang)) hidden {
                (i18n::NOTIFY.get(lang))
            }
        }
        section id="offers" data-stream="/offers/stream" aria-live="polite" aria-label=(i18n::LIVE_OFFER.get(lang)) {
            p.muted data-connection data-reconnecting=(i18n::RECONNECTING.get(lang)) { (i18n::CONNECTING.get(lang)) }
            p.muted data-empty { (i18n::NO_OFFER.get(lang)) }
            div data-list {}
        }
    };
    Html(
        page(
            Some(&signed.session),
            lang,
            i18n::LIVE_OFFER.get(lang),
            Nav::Offers,
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// The live stream: `hello` (server time, for the countdown's clock skew),
/// then one `fragment` (an offer card) per update, starting with the offers
/// open now, so a reconnection replays the current offer.
pub async fn stream(State(state): State<AppState>, signed: Signed) -> Answer<Response> {
    let user = signed.user().clone();
    let lang = user.lang;
    let reasons = pass_reasons(&state, &user).await;
    let watched = state
        .upstream
        .wheel(&user)
        .watch_offers(WatchOffersRequest {
            rep_id: user.id.clone(),
        })
        .await;
    let updates = match watched {
        Ok(answer) => answer.into_inner(),
        // Still a 200 stream: a browser's EventSource gives up for good on
        // an error status, but retries after a stream that ends.
        Err(status) => return Ok(unavailable(ConsoleError::from(status), lang)),
    };
    let hello = Event::default()
        .event("hello")
        .retry(Duration::from_secs(1))
        .data(leadwheel_plumbing::store::now_ms().to_string());
    let rep = user.id.clone();
    let fragments = updates
        .take_while(move |update| {
            if let Err(status) = update {
                // The browser reconnects and is replayed what is open.
                tracing::warn!(rep = %rep, error = %status, "offer stream ended");
            }
            std::future::ready(update.is_ok())
        })
        .filter_map(move |update| {
            let event = update.ok().and_then(|u| u.offer).map(|offer| {
                Event::default()
                    .event("fragment")
                    .data(card(&offer, lang, &reasons).into_string())
            });
            std::future::ready(event.map(Ok::<Event, Infallible>))
        });
    let stop = state.stop.clone();
    let events = stream::once(async move { Ok(hello) })
        .chain(fragments)
        .take_until(async move { stop.cancelled_owned().await })
        .boxed();
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// A stream saying why there are no offers now; the browser tries again
/// after a few seconds.
fn unavailable(error: ConsoleError, lang: Lang) -> Response {
    let (_, text) = error.status_and_text(lang);
    let event = Event::default()
        .event("unavailable")
        .retry(Duration::from_secs(5))
        .data(text);
    Sse::new(stream::once(async move { Ok::<_, Infallible>(event) })).into_response()
}

/// A card with an error in it, in place of the offer's card.
fn card_error(lead_id: &str, error: ConsoleError, lang: Lang) -> Response {
    let (status, text) = error.status_and_text(lang);
    let body = html! {
        article.card.state-error id=(card_id(lead_id)) data-item data-state="error" {
            p.error role="alert" data-status=(status.as_u16()) { (text) }
        }
    };
    (status, Html(body.into_string())).into_response()
}

fn closed(lead_id: &str, rep_id: &str, state: OfferState, reason: String) -> Offer {
    let mut offer = Offer {
        lead_id: lead_id.to_string(),
        rep_id: rep_id.to_string(),
        reason,
        ..Default::default()
    };
    offer.set_state(state);
    offer
}

/// Claims the offered lead.
pub async fn claim(
    State(state): State<AppState>,
    signed: Signed,
    Path(lead_id): Path<String>,
) -> Response {
    let user = signed.user();
    let answer = state
        .upstream
        .wheel(user)
        .claim(ClaimRequest {
            lead_id: lead_id.clone(),
            rep_id: user.id.clone(),
        })
        .await;
    match answer {
        Ok(_) => Html(
            card(
                &closed(&lead_id, &user.id, OfferState::Claimed, String::new()),
                user.lang,
                &[],
            )
            .into_string(),
        )
        .into_response(),
        Err(status) => card_error(&lead_id, status.into(), user.lang),
    }
}

#[derive(Deserialize)]
pub struct PassForm {
    #[serde(default)]
    reason: String,
}

/// Passes on the offer with a reason.
pub async fn pass(
    State(state): State<AppState>,
    signed: Signed,
    Path(lead_id): Path<String>,
    Form(form): Form<PassForm>,
) -> Response {
    let user = signed.user();
    let reason = form.reason.trim().to_string();
    if reason.is_empty() {
        let error = ConsoleError::BadRequest {
            field: "reason",
            message: "say why you pass".into(),
        };
        return card_error(&lead_id, error, user.lang);
    }
    let answer = state
        .upstream
        .wheel(user)
        .pass(PassRequest {
            lead_id: lead_id.clone(),
            rep_id: user.id.clone(),
            reason: reason.clone(),
        })
        .await;
    match answer {
        Ok(_) => Html(
            card(
                &closed(&lead_id, &user.id, OfferState::Passed, reason),
                user.lang,
                &[],
            )
            .into_string(),
        )
        .into_response(),
        Err(status) => card_error(&lead_id, status.into(), user.lang),
    }
}

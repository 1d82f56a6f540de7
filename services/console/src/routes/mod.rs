//! The console's routes.

pub mod board;
pub mod charts;
pub mod handover;
pub mod rep;
pub mod signin;
pub mod team;
pub mod work;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::{assets, csrf, metrics};

/// Every route, behind the CSRF/Origin guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(rep::home))
        .route("/offers/stream", get(rep::stream))
        .route("/offers/{lead_id}/claim", post(rep::claim))
        .route("/offers/{lead_id}/pass", post(rep::pass))
        .route("/pool", get(work::pool))
        .route("/pool/{lead_id}/claim", post(work::claim_pooled))
        .route("/leads", get(work::leads))
        .route("/leads/{lead_id}", get(work::lead))
        .route("/board", get(board::page_handler))
        .route("/board/stream", get(board::stream))
        .route("/board/pool/{lead_id}/assign", post(board::assign))
        // manager screens
        .route("/charts", get(charts::page_handler))
        .route("/charts/{file}", get(charts::csv))
        .route("/team", get(team::page_handler).post(team::save_team))
        .route("/team/reps/{rep_id}", post(team::save_rep))
        .route("/team/reps/{rep_id}/schedule", post(team::save_schedule))
        .route(
            "/team/routing",
            get(team::routing_page).post(team::save_rules),
        )
        .route("/team/routing/test", post(team::test_rules))
        .route("/handover", get(handover::start_page).post(handover::start))
        .route("/handover/{id}", get(handover::plan_page))
        .route("/handover/{id}/items", post(handover::edit_item))
        .route("/handover/{id}/apply", post(handover::apply))
        .route("/signin", get(signin::page_handler))
        .route(csrf::SIGNIN_PATH, post(signin::dev_signin))
        .route("/signin/link", get(signin::link_signin))
        .route("/signout", post(signin::signout))
        .route("/lang", post(signin::set_lang))
        .route("/assets/{version}/{name}", get(assets::serve))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::guard))
        .layer(middleware::from_fn(count))
        .with_state(state)
}

/// Counts requests by route and status.
async fn count(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    metrics::request(&method, &route, response.status().as_u16());
    response
}

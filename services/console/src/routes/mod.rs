//! The console's routes.

pub mod board;
pub mod charts;
pub mod handover;
pub mod rep;
pub mod signin;
pub mod team;
pub mod work;
// rep screens
pub mod alerts;
pub mod lead_actions;
pub mod numbers;
pub mod opps;

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
        // rep screens
        .route("/leads/{lead_id}", get(lead_actions::page_handler))
        .route(
            "/leads/{lead_id}/activity",
            post(lead_actions::log_activity),
        )
        .route(
            "/leads/{lead_id}/follow-up",
            post(lead_actions::set_follow_up),
        )
        .route("/leads/{lead_id}/convert", post(lead_actions::convert))
        .route(
            "/leads/{lead_id}/disqualify",
            post(lead_actions::disqualify),
        )
        .route("/leads/{lead_id}/hand-back", post(lead_actions::hand_back))
        .route("/opportunities", get(opps::list))
        .route("/opportunities/{id}", get(opps::show))
        .route("/opportunities/{id}/stage", post(opps::move_stage))
        .route("/opportunities/{id}/amount", post(opps::set_amount))
        .route("/opportunities/{id}/category", post(opps::set_category))
        .route("/opportunities/{id}/follow-up", post(opps::set_follow_up))
        .route("/alerts", get(alerts::list))
        .route("/alerts/stream", get(alerts::stream))
        .route("/alerts/{alert_id}", get(alerts::show))
        .route("/alerts/{alert_id}/ack", post(alerts::acknowledge))
        .route("/alerts/{alert_id}/snooze", post(alerts::snooze))
        .route("/numbers", get(numbers::page_handler))
        // end of rep screens
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
        .route(
            csrf::LINK_PATH,
            get(signin::link_page).post(signin::link_signin),
        )
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

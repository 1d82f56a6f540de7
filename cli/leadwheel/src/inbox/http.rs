//! The inbox's HTTP side: the webhook receiver (`POST /hooks/<name>`, a
//! Slack-compatible JSON body, answered 200) and what arrived, as a page
//! (`GET /`), as JSON (`GET /messages`) and one by one
//! (`GET /messages/<id>`). Errors are 4xx with `{"error": {...}}`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::page;
use super::store::{self, Channel, Store, valid_hook};

/// The largest webhook body taken (Slack's own limit is far lower).
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// The routes, over `store`.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/messages", get(messages))
        .route("/messages/{id}", get(message))
        .route("/hooks/{name}", post(hook))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

fn error(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(field) = field {
        error["field"] = json!(field);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

fn internal(err: std::io::Error) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("reading the inbox folder: {err}"),
        None,
    )
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page: GET /, GET /messages, GET /messages/<id>, POST /hooks/<name>".into(),
        None,
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "webhooks are POSTed to /hooks/<name>; the rest is read with GET".into(),
        None,
    )
}

async fn hook(State(store): State<Arc<Store>>, Path(name): Path<String>, body: Body) -> Response {
    if !valid_hook(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            format!("hook name {name:?}: use 1 to 64 letters, digits, '_' or '-'"),
            Some("name"),
        );
    }
    let Ok(body) = to_bytes(body, MAX_WEBHOOK_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {MAX_WEBHOOK_BYTES} bytes"),
            Some("body"),
        );
    };
    // As Slack does: a body that is not JSON is refused (and a sender
    // that retries 5xx but not 4xx gives up at once).
    if let Err(err) = serde_json::from_slice::<serde_json::Value>(&body) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_payload",
            format!("the body is not JSON: {err}"),
            Some("body"),
        );
    }
    match store.save_webhook(&name, &body).await {
        Ok(id) => axum::Json(json!({"ok": true, "id": id})).into_response(),
        Err(err) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("storing the body: {err}"),
            None,
        ),
    }
}

async fn listing(store: &Store) -> std::io::Result<Vec<store::Entry>> {
    let dir = store.dir().to_path_buf();
    tokio::task::spawn_blocking(move || store::list(&dir))
        .await
        .map_err(std::io::Error::other)?
}

async fn index(State(store): State<Arc<Store>>) -> Response {
    match listing(&store).await {
        Ok(entries) => Html(page::render(&entries, store.dir())).into_response(),
        Err(err) => internal(err),
    }
}

async fn messages(State(store): State<Arc<Store>>) -> Response {
    match listing(&store).await {
        Ok(entries) => axum::Json(entries).into_response(),
        Err(err) => internal(err),
    }
}

async fn message(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            format!("message id {id:?} is not a number"),
            Some("id"),
        );
    };
    let dir = store.dir().to_path_buf();
    let found = tokio::task::spawn_blocking(move || store::read(&dir, id))
        .await
        .map_err(std::io::Error::other)
        .and_then(|read| read);
    match found {
        Ok(Some((entry, content))) => {
            let kind = match entry.channel {
                Channel::Email => "text/plain; charset=utf-8",
                Channel::Webhook => "application/json",
            };
            ([(header::CONTENT_TYPE, kind)], content).into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no message {id} in the inbox"),
            Some("id"),
        ),
        Err(err) => internal(err),
    }
}

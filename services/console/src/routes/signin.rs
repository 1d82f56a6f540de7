//! Signing in and out, and the language toggle.
//!
//! Development (`LEADWHEEL_DEV_MODE=1`): `/signin` lists the teams' reps,
//! managers and an admin to pick from. Production: a signed one-time link
//! (`leadctl console link --as ana`, or in an alert email) opens
//! `/signin/link?token=…`, which asks to continue; continuing (a POST)
//! uses the link. Opening it uses nothing, so a mail scanner or a chat
//! preview fetching the link ahead of the person leaves it for them.
//! Either starts a session (an HttpOnly, SameSite=Strict cookie).

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use leadwheel_plumbing::auth::Role;
use leadwheel_proto::wheel::v1::{ListRepsRequest, ListTeamsRequest, Team};
use maud::html;
use serde::Deserialize;

use crate::csrf;
use crate::error::ConsoleError;
use crate::i18n::{self, Lang};
use crate::link;
use crate::session::{self, User};
use crate::state::{AppState, Signed};
use crate::views::{Nav, page};

/// The user's team: a rep's (the ring they are in), a manager's (the team
/// they manage); none for an admin. Asked of the wheel as the user.
pub async fn team_of(
    state: &AppState,
    id: &str,
    role: Role,
) -> Result<Option<String>, tonic::Status> {
    if role == Role::Admin {
        return Ok(None);
    }
    let probe = User {
        id: id.to_string(),
        role,
        team: None,
        lang: Lang::En,
    };
    let teams = state
        .upstream
        .wheel(&probe)
        .list_teams(ListTeamsRequest {})
        .await?
        .into_inner()
        .teams;
    Ok(teams
        .into_iter()
        .find(|team| match role {
            Role::Manager => team.manager_id == id,
            _ => team.rep_ids.iter().any(|rep| rep == id),
        })
        .map(|team| team.team_id))
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// `next` when it is a path on this console (`/alerts/ID`), never another
/// site (`//evil.example`, `https://…`, `/\\evil`): where sign-in lands.
pub fn same_origin_path(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(char::is_control)
    })
}

/// The sign-in page: the picker in development, else how to get a link.
pub async fn page_handler(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Response {
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or_default();
    let next = same_origin_path(q.next.as_deref());
    if !state.dev_mode {
        let body = html! {
            h1 { (i18n::SIGN_IN.get(lang)) }
            p { "Ask your administrator for a sign-in link (" code { "leadctl console link --as YOU" } ")." }
            p lang="zh-Hans" { "请向管理员索取登录链接。" }
        };
        return Html(page(None, lang, i18n::SIGN_IN.get(lang), Nav::None, body).into_string())
            .into_response();
    }
    let teams: Vec<Team> = match state
        .upstream
        .wheel_for_dev_picker()
        .list_teams(ListTeamsRequest {})
        .await
    {
        Ok(answer) => answer.into_inner().teams,
        Err(status) => return ConsoleError::Upstream(status).in_lang(lang).into_response(),
    };
    // (id, label, role), in the teams' order.
    let mut people: Vec<(String, String, Role)> = Vec::new();
    for team in &teams {
        let reps = match state
            .upstream
            .wheel_for_dev_picker()
            .list_reps(ListRepsRequest {
                team_id: team.team_id.clone(),
            })
            .await
        {
            Ok(answer) => answer.into_inner().reps,
            Err(status) => return ConsoleError::Upstream(status).in_lang(lang).into_response(),
        };
        for rep in reps {
            let label = format!("{} ({}, {})", rep.name, rep.rep_id, team.team_id);
            people.push((rep.rep_id, label, Role::Rep));
        }
        if !team.manager_id.is_empty() {
            let role = i18n::ROLE_MANAGER.get(lang);
            let label = format!("{} ({role}, {})", team.manager_id, team.team_id);
            people.push((team.manager_id.clone(), label, Role::Manager));
        }
    }
    let admin = format!("admin ({})", i18n::ROLE_ADMIN.get(lang));
    people.push(("admin".into(), admin, Role::Admin));
    let token = csrf::signin_token(&state.key, csrf::now_secs());
    let body = html! {
        h1 { (i18n::SIGN_IN.get(lang)) }
        p.muted { (i18n::DEV_SIGN_IN_NOTE.get(lang)) }
        form method="post" action=(csrf::SIGNIN_PATH) {
            input type="hidden" name="csrf" value=(token);
            @if let Some(next) = next { input type="hidden" name="next" value=(next); }
            label for="lang" { (i18n::LANGUAGE.get(lang)) }
            select id="lang" name="lang" {
                option value="en" selected[lang == Lang::En] { "English" }
                option value="zh-Hans" selected[lang == Lang::Zh] { "简体中文" }
            }
            fieldset {
                legend { (i18n::SIGN_IN_AS.get(lang)) }
                div.pick {
                    @for (id, label, role) in &people {
                        button type="submit" name="who" value={ (role_name(*role)) ":" (id) } data-user=(id) {
                            (label)
                        }
                    }
                }
            }
        }
    };
    Html(page(None, lang, i18n::SIGN_IN.get(lang), Nav::None, body).into_string()).into_response()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Rep => "rep",
        Role::Manager => "manager",
        Role::Admin => "admin",
        Role::Integration => "integration",
    }
}

#[derive(Deserialize)]
pub struct DevSignIn {
    who: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

/// Development sign-in: `who` is `role:id` (the team is looked up).
pub async fn dev_signin(State(state): State<AppState>, Form(form): Form<DevSignIn>) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or_default();
    if !state.dev_mode {
        return (
            StatusCode::NOT_FOUND,
            "the pick-a-user sign-in exists only in development mode\n",
        )
            .into_response();
    }
    let mut parts = form.who.splitn(2, ':');
    let (Some(role), Some(id)) = (parts.next(), parts.next()) else {
        return bad("who", format!("expected role:id, got {:?}", form.who), lang);
    };
    let role: Role = match role.parse() {
        Ok(role @ (Role::Rep | Role::Manager | Role::Admin)) => role,
        _ => {
            return bad(
                "who",
                format!("unknown role {role:?} (rep, manager, admin)"),
                lang,
            );
        }
    };
    if id.is_empty() || id.len() > 128 {
        return bad("who", "the user id must be 1..128 characters".into(), lang);
    }
    let next = same_origin_path(Some(&form.next)).unwrap_or("/");
    start_session(&state, id, role, None, lang, next).await
}

fn bad(field: &'static str, message: String, lang: Lang) -> Response {
    ConsoleError::BadRequest { field, message }
        .in_lang(lang)
        .into_response()
}

/// Creates the session (finding the user's team when not given) and sends
/// the browser on with the cookie.
async fn start_session(
    state: &AppState,
    id: &str,
    role: Role,
    team: Option<String>,
    lang: Lang,
    next: &str,
) -> Response {
    let team = match team {
        Some(team) => Some(team),
        None => match team_of(state, id, role).await {
            Ok(team) => team,
            Err(status) => return ConsoleError::Upstream(status).in_lang(lang).into_response(),
        },
    };
    let user = User {
        id: id.to_string(),
        role,
        team,
        lang,
    };
    tracing::info!(user = %user.id, role = ?user.role, "signed in");
    let session_id = state.sessions.create(user);
    (
        [(
            header::SET_COOKIE,
            state.sessions.cookie(&session_id, state.secure_cookies),
        )],
        Redirect::to(next),
    )
        .into_response()
}

/// A sign-in link's fields: in the link's query, then in the form that
/// uses it.
#[derive(Deserialize)]
pub struct LinkFields {
    token: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

/// `GET /signin/link`: checks the link (signature, expiry, not used yet)
/// and asks to continue; uses nothing.
pub async fn link_page(State(state): State<AppState>, Query(q): Query<LinkFields>) -> Response {
    let lang = Lang::parse(&q.lang).unwrap_or_default();
    let now = csrf::now_secs();
    let checked = link::verify(&state.key, &q.token, now)
        .and_then(|claims| state.used_links.check_unused(&claims, now).map(|()| claims));
    let claims = match checked {
        Ok(claims) => claims,
        Err(err) => return link_refused(err, lang),
    };
    let role = match claims.role {
        Role::Manager => i18n::ROLE_MANAGER.get(lang),
        Role::Admin => i18n::ROLE_ADMIN.get(lang),
        _ => i18n::ROLE_REP.get(lang),
    };
    let next = same_origin_path(Some(&q.next)).unwrap_or("/");
    let body = html! {
        h1 { (i18n::SIGN_IN.get(lang)) }
        p { (i18n::SIGN_IN_AS.get(lang)) " " strong data-user=(claims.sub) { (claims.sub) } " (" (role) ")" }
        p.muted { (i18n::LINK_CONFIRM_NOTE.get(lang)) }
        form method="post" action=(csrf::LINK_PATH) {
            input type="hidden" name=(csrf::FIELD) value=(csrf::signin_token(&state.key, now));
            input type="hidden" name="token" value=(q.token);
            input type="hidden" name="next" value=(next);
            input type="hidden" name="lang" value=(lang.tag());
            button.primary type="submit" data-action="continue" { (i18n::LINK_CONTINUE.get(lang)) }
        }
    };
    Html(page(None, lang, i18n::SIGN_IN.get(lang), Nav::None, body).into_string()).into_response()
}

/// `POST /signin/link`: uses the link (once) and starts the session.
pub async fn link_signin(State(state): State<AppState>, Form(form): Form<LinkFields>) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or_default();
    let now = csrf::now_secs();
    let checked = link::verify(&state.key, &form.token, now)
        .and_then(|claims| state.used_links.use_once(&claims, now).map(|()| claims));
    let claims = match checked {
        Ok(claims) => claims,
        Err(err) => return link_refused(err, lang),
    };
    // Only a path on this console: a link must not send anyone elsewhere.
    let next = same_origin_path(Some(&form.next)).unwrap_or("/");
    start_session(&state, &claims.sub, claims.role, claims.team, lang, next).await
}

fn link_refused(err: link::LinkError, lang: Lang) -> Response {
    tracing::warn!(error = %err, "sign-in link refused");
    let body = html! { h1 { (i18n::SIGN_IN.get(lang)) } p.error role="alert" { (i18n::LINK_INVALID.get(lang)) " (" (err) ")" } };
    (
        StatusCode::FORBIDDEN,
        Html(page(None, lang, i18n::SIGN_IN.get(lang), Nav::None, body).into_string()),
    )
        .into_response()
}

/// Signs out.
pub async fn signout(State(state): State<AppState>, signed: Signed) -> Response {
    state.sessions.remove(&signed.id);
    (
        [(header::SET_COOKIE, session::clear_cookie())],
        Redirect::to("/signin"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
}

/// The language toggle, kept in the session.
pub async fn set_lang(
    State(state): State<AppState>,
    signed: Signed,
    headers: http::HeaderMap,
    Form(form): Form<LangForm>,
) -> Response {
    let Some(lang) = Lang::parse(&form.lang) else {
        return bad(
            "lang",
            format!("unknown language {:?} (en, zh-Hans)", form.lang),
            signed.user().lang,
        );
    };
    state.sessions.set_lang(&signed.id, lang);
    // Back to the page the toggle was on (same origin: the guard checked it).
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            state
                .origins
                .iter()
                .find_map(|o| r.strip_prefix(o.as_str()))
        })
        .filter(|path| path.starts_with('/'))
        .unwrap_or("/")
        .to_string();
    Redirect::to(&back).into_response()
}

#[cfg(test)]
mod tests {
    use super::same_origin_path as path;

    #[test]
    fn sign_in_lands_only_on_this_console() {
        assert_eq!(path(Some("/alerts/alert_1")), Some("/alerts/alert_1"));
        assert_eq!(path(Some("/leads?x=1")), Some("/leads?x=1"));
        for other in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "alerts",
            "/a\r\nb",
        ] {
            assert_eq!(path(Some(other)), None, "{other:?}");
        }
        assert_eq!(path(None), None);
    }
}

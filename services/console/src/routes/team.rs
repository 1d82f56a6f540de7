//! Team settings over the wheel's own RPCs (the ones `leadctl teams set`,
//! `reps update`, `reps schedule` and `routing rules set|test` use): the
//! wheel decides who may change what and checks every value; its
//! INVALID_ARGUMENT shows next to the field it names, with a 400.

use std::collections::HashMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use leadwheel_proto::wheel::v1::{
    ListRepsRequest, ListRoutingRulesRequest, ListTeamsRequest, Rep, RepSchedule, RoutingLead,
    RoutingMatch, RoutingRule, SetRepScheduleRequest, SetRoutingRulesRequest, Team,
    TestRoutingRequest, UpdateRepRequest, UpsertTeamRequest, WorkingHours,
};
use maud::{Markup, html};
use serde::Deserialize;
use tonic_types::StatusExt;

use crate::error::ConsoleError;
use crate::i18n::{self, Lang};
use crate::routes::board;
use crate::routes::work::error_page;
use crate::session::User;
use crate::state::{AppState, Signed};
use crate::views::team::{
    self, FieldError, Outcome, RuleValues, RulesValues, SCHEDULE_FIELDS, ScheduleValues,
    TEAM_FIELDS, TeamValues,
};
use crate::views::{Nav, page};

/// Which of `fields` a service's refusal is about: the field its
/// `BadRequest` detail names (`team.window_ms`, `team.rep_ids[1]`, …)
/// mapped through `aliases` (a piece of the service's name → the form's
/// field), else the first form field named in its message.
pub fn refused_field(status: &tonic::Status, fields: &[&str], aliases: &[(&str, &str)]) -> String {
    let named = status
        .get_details_bad_request()
        .and_then(|d| d.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default();
    let haystacks = [named.as_str(), status.message()];
    for hay in haystacks {
        if hay.is_empty() {
            continue;
        }
        for (piece, field) in aliases {
            if hay.contains(piece) {
                return (*field).to_string();
            }
        }
        for field in fields {
            if hay.contains(field) {
                return (*field).to_string();
            }
        }
    }
    String::new()
}

/// A service's answer to a form: a refusal with its status and where it
/// goes, or a console-side bad value.
fn refusal(
    error: ConsoleError,
    fields: &[&str],
    aliases: &[(&str, &str)],
    lang: Lang,
) -> (StatusCode, Outcome) {
    let field = match &error {
        ConsoleError::BadRequest { field, .. } => (*field).to_string(),
        ConsoleError::Upstream(status) => refused_field(status, fields, aliases),
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

fn fragment(code: StatusCode, markup: Markup) -> Response {
    (code, Html(markup.into_string())).into_response()
}

async fn load_team(
    state: &AppState,
    user: &User,
) -> Result<Option<(Team, Vec<Rep>)>, tonic::Status> {
    let Some(team_id) = board::team(state, user).await? else {
        return Ok(None);
    };
    let mut wheel = state.upstream.wheel(user);
    let team = wheel
        .list_teams(ListTeamsRequest {})
        .await?
        .into_inner()
        .teams
        .into_iter()
        .find(|t| t.team_id == team_id);
    let Some(team) = team else { return Ok(None) };
    let reps = wheel
        .list_reps(ListRepsRequest {
            team_id: team_id.clone(),
        })
        .await?
        .into_inner()
        .reps;
    Ok(Some((team, reps)))
}

fn settings_page(signed: &Signed, title: &str, nav: Nav, body: Markup) -> Response {
    let lang = signed.user().lang;
    Html(page(Some(&signed.session), lang, title, nav, body).into_string()).into_response()
}

/// The settings page.
pub async fn page_handler(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    match load_team(&state, user).await {
        Ok(Some((team, reps))) => settings_page(
            &signed,
            i18n::NAV_TEAM.get(lang),
            Nav::Team,
            team::settings(&team, &reps, lang),
        ),
        Ok(None) => settings_page(
            &signed,
            i18n::NAV_TEAM.get(lang),
            Nav::Team,
            html! { p { (i18n::NO_TEAM.get(lang)) } },
        ),
        Err(status) => error_page(&signed, status.into(), Nav::Team),
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn list(text: &str) -> Vec<String> {
    text.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T, ConsoleError> {
    text.trim().parse().map_err(|_| ConsoleError::BadRequest {
        field,
        message: format!("{:?} is not a whole number", text.trim()),
    })
}

/// The upsert for `values` over the team as it is (what the form does not
/// show — manager, rotation, other policy — is kept).
fn team_request(mut team: Team, values: &TeamValues) -> Result<UpsertTeamRequest, ConsoleError> {
    team.name = values.name.trim().to_string();
    team.window_ms = number("window_ms", &values.window_ms)?;
    let mut policy = team.policy.take().unwrap_or_default();
    policy.tier_windows_ms.clear();
    for entry in list(&values.tier_windows_ms) {
        let (tier, ms) = entry
            .split_once('=')
            .ok_or_else(|| ConsoleError::BadRequest {
                field: "tier_windows_ms",
                message: format!("{entry:?}: expected TIER=MILLISECONDS, e.g. A=30000"),
            })?;
        policy
            .tier_windows_ms
            .insert(tier.trim().to_string(), number("tier_windows_ms", ms)?);
    }
    policy.pass_reasons = lines(&values.pass_reasons).map(str::to_string).collect();
    team.policy = Some(policy);
    let mut rep_ids = Vec::new();
    let mut rep_names = Vec::new();
    for line in lines(&values.members) {
        let (id, name) = line.split_once(',').unwrap_or((line, ""));
        rep_ids.push(id.trim().to_string());
        rep_names.push(name.trim().to_string());
    }
    team.rep_ids = rep_ids;
    Ok(UpsertTeamRequest {
        team: Some(team),
        rep_names,
    })
}

/// The wheel's field names → the team form's.
const TEAM_ALIASES: &[(&str, &str)] = &[
    ("tier_windows", "tier_windows_ms"),
    ("window_ms", "window_ms"),
    ("rep_ids", "members"),
    ("rep_names", "members"),
    ("pass_reasons", "pass_reasons"),
    ("team.name", "name"),
];

/// Saves the team form.
pub async fn save_team(
    State(state): State<AppState>,
    signed: Signed,
    Form(values): Form<TeamValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let team = match load_team(&state, user).await {
        Ok(Some((team, _))) => team,
        Ok(None) => {
            return ConsoleError::BadRequest {
                field: "team",
                message: i18n::NO_TEAM.get(lang).into(),
            }
            .in_lang(lang)
            .into_response();
        }
        Err(status) => return ConsoleError::from(status).in_lang(lang).into_response(),
    };
    let team_id = team.team_id.clone();
    let answer = match team_request(team, &values) {
        Ok(request) => state
            .upstream
            .wheel(user)
            .upsert_team(request)
            .await
            .map_err(ConsoleError::from),
        Err(error) => Err(error),
    };
    match answer {
        Ok(saved) => {
            let saved = saved.into_inner().team.unwrap_or_default();
            let reps = state
                .upstream
                .wheel(user)
                .list_reps(ListRepsRequest {
                    team_id: team_id.clone(),
                })
                .await
                .map(|r| r.into_inner().reps)
                .unwrap_or_default();
            let outcome = Outcome {
                error: None,
                saved: true,
            };
            fragment(
                StatusCode::OK,
                team::team_form(&team_id, &TeamValues::of(&saved, &reps), &outcome, lang),
            )
        }
        Err(error) => {
            let (code, outcome) = refusal(error, TEAM_FIELDS, TEAM_ALIASES, lang);
            fragment(code, team::team_form(&team_id, &values, &outcome, lang))
        }
    }
}

/// A rep's capacity and rank.
#[derive(Deserialize)]
pub struct RepValues {
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    rank: String,
}

/// Saves a rep's capacity and rank.
pub async fn save_rep(
    State(state): State<AppState>,
    signed: Signed,
    Path(rep_id): Path<String>,
    Form(values): Form<RepValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let parsed = number::<i32>("capacity", &values.capacity)
        .and_then(|capacity| Ok((capacity, number::<i32>("rank", &values.rank)?)));
    let typed = Rep {
        rep_id: rep_id.clone(),
        capacity: values.capacity.trim().parse().unwrap_or_default(),
        rank: values.rank.trim().parse().unwrap_or_default(),
        ..Default::default()
    };
    let answer = match parsed {
        Ok((capacity, rank)) => state
            .upstream
            .wheel(user)
            .update_rep(UpdateRepRequest {
                rep_id: rep_id.clone(),
                rank,
                capacity,
            })
            .await
            .map_err(ConsoleError::from),
        Err(error) => Err(error),
    };
    match answer {
        Ok(saved) => {
            let rep = saved.into_inner().rep.unwrap_or(typed);
            let outcome = Outcome {
                error: None,
                saved: true,
            };
            fragment(StatusCode::OK, team::rep_form(&rep, &outcome, lang))
        }
        Err(error) => {
            let (code, outcome) = refusal(error, &["capacity", "rank"], &[], lang);
            fragment(code, team::rep_form(&typed, &outcome, lang))
        }
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `mon-fri=09:00-17:00; sat=10:00-12:00` (as `leadctl reps schedule
/// --hours` reads it) into working hours.
pub fn parse_hours(text: &str) -> Result<Vec<WorkingHours>, String> {
    let mut out = Vec::new();
    for spec in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (days, times) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected DAYS=FROM-TO, e.g. mon-fri=09:00-17:00"))?;
        let (from, to) = times
            .split_once('-')
            .ok_or_else(|| format!("{spec:?}: expected a time range such as 09:00-17:00"))?;
        let index = |day: &str| {
            DAYS.iter()
                .position(|d| d.eq_ignore_ascii_case(day.trim()))
                .ok_or_else(|| format!("{spec:?}: {:?} is not a day (mon..sun)", day.trim()))
        };
        for part in days.split(',') {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (index(a)?, index(b)?),
                None => (index(part)?, index(part)?),
            };
            if last < first {
                return Err(format!("{spec:?}: {part} runs backwards"));
            }
            for day in &DAYS[first..=last] {
                out.push(WorkingHours {
                    day: day.to_string(),
                    from: from.trim().to_string(),
                    to: to.trim().to_string(),
                });
            }
        }
    }
    Ok(out)
}

const SCHEDULE_ALIASES: &[(&str, &str)] = &[
    ("time_zone", "time_zone"),
    ("hours", "hours"),
    ("days_off", "days_off"),
    ("tiers", "tiers"),
    ("regions", "regions"),
];

/// Saves a rep's schedule, tiers and regions.
pub async fn save_schedule(
    State(state): State<AppState>,
    signed: Signed,
    Path(rep_id): Path<String>,
    Form(values): Form<ScheduleValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let answer = match parse_hours(&values.hours) {
        Ok(hours) => state
            .upstream
            .wheel(user)
            .set_rep_schedule(SetRepScheduleRequest {
                rep_id: rep_id.clone(),
                schedule: Some(RepSchedule {
                    time_zone: values.time_zone.trim().to_string(),
                    hours,
                    days_off: list(&values.days_off),
                }),
                tiers: list(&values.tiers),
                regions: list(&values.regions),
            })
            .await
            .map_err(ConsoleError::from),
        Err(message) => Err(ConsoleError::BadRequest {
            field: "hours",
            message,
        }),
    };
    match answer {
        Ok(saved) => {
            let shown = saved
                .into_inner()
                .rep
                .map(|r| ScheduleValues::of(&r))
                .unwrap_or(values);
            let outcome = Outcome {
                error: None,
                saved: true,
            };
            fragment(
                StatusCode::OK,
                team::schedule_form(&rep_id, &shown, &outcome, lang),
            )
        }
        Err(error) => {
            let (code, outcome) = refusal(error, SCHEDULE_FIELDS, SCHEDULE_ALIASES, lang);
            fragment(code, team::schedule_form(&rep_id, &values, &outcome, lang))
        }
    }
}

/// The routing rules page (reading them is the wheel's call too).
pub async fn routing_page(State(state): State<AppState>, signed: Signed) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let set = match state
        .upstream
        .wheel(user)
        .list_routing_rules(ListRoutingRulesRequest {})
        .await
    {
        Ok(answer) => answer.into_inner().rule_set.unwrap_or_default(),
        Err(status) => return error_page(&signed, status.into(), Nav::Team),
    };
    let body = html! {
        h1 { (i18n::ROUTING_RULES.get(lang)) }
        p.muted { (i18n::ROUTING_RULES_NOTE.get(lang)) }
        (team::rules_form(&RulesValues::of(&set), &Outcome::default(), lang))
        (team::test_form(lang))
    };
    settings_page(&signed, i18n::ROUTING_RULES.get(lang), Nav::Team, body)
}

/// The rules form's rows from the posted fields (`r<i>.<field>`).
fn rules_values(fields: &HashMap<String, String>) -> RulesValues {
    let get = |key: &str| fields.get(key).cloned().unwrap_or_default();
    let mut rules = Vec::new();
    for i in 0.. {
        if !fields.contains_key(&format!("r{i}.id")) {
            break;
        }
        let f = |name: &str| get(&format!("r{i}.{name}"));
        rules.push(RuleValues {
            orig: f("orig"),
            order: f("order"),
            id: f("id"),
            team: f("team"),
            tiers: f("tiers"),
            countries: f("countries"),
            sources: f("sources"),
            score_min: f("score_min"),
            score_max: f("score_max"),
            description: f("description"),
            kept: String::new(),
            remove: fields.contains_key(&format!("r{i}.remove")),
        });
    }
    RulesValues {
        version: get("expected_version").trim().parse().unwrap_or(0),
        default_team: get("default_team"),
        rules,
    }
}

/// A bad value in one row of the rules form: (`r<i>.<field>`, message).
type RowError = (String, String);

fn row_number<T: std::str::FromStr>(
    i: usize,
    field: &str,
    text: &str,
) -> Result<Option<T>, RowError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        (
            format!("r{i}.{field}"),
            format!("{text:?} is not a whole number"),
        )
    })
}

/// The request replacing the rules: each row over the rule it edits (so
/// the conditions the form does not show are kept), in the rows' order.
fn rules_request(
    values: &RulesValues,
    current: &[RoutingRule],
) -> Result<SetRoutingRulesRequest, RowError> {
    let mut rows: Vec<(i64, usize, RoutingRule)> = Vec::new();
    for (i, row) in values.rules.iter().enumerate() {
        if row.remove
            || (row.orig.is_empty() && row.id.trim().is_empty() && row.team.trim().is_empty())
        {
            continue;
        }
        let mut rule = current
            .iter()
            .find(|r| !row.orig.is_empty() && r.rule_id == row.orig)
            .cloned()
            .unwrap_or_default();
        let mut m: RoutingMatch = rule.r#match.take().unwrap_or_default();
        m.tiers = list(&row.tiers);
        m.countries = list(&row.countries);
        m.sources = list(&row.sources);
        m.score_min = row_number(i, "score_min", &row.score_min)?;
        m.score_max = row_number(i, "score_max", &row.score_max)?;
        rule.r#match = Some(m);
        rule.rule_id = row.id.trim().to_string();
        rule.team_id = row.team.trim().to_string();
        rule.description = row.description.trim().to_string();
        let order = row_number::<i64>(i, "order", &row.order)?.unwrap_or(i as i64 + 1);
        rows.push((order, i, rule));
    }
    rows.sort_by_key(|(order, i, _)| (*order, *i));
    Ok(SetRoutingRulesRequest {
        rules: rows.into_iter().map(|(_, _, r)| r).collect(),
        default_team_id: values.default_team.trim().to_string(),
        expected_version: values.version,
    })
}

/// Maps the wheel's `rules[i].…` to the form row that sent rule i.
fn rules_refusal(
    error: ConsoleError,
    request: &SetRoutingRulesRequest,
    values: &RulesValues,
    lang: Lang,
) -> (StatusCode, Outcome) {
    let mut field = String::new();
    if let ConsoleError::Upstream(status) = &error {
        let named = status
            .get_details_bad_request()
            .and_then(|d| d.field_violations.first().map(|v| v.field.clone()))
            .unwrap_or_default();
        let hay = if named.is_empty() {
            status.message().to_string()
        } else {
            named
        };
        if hay.contains("default_team") {
            field = "default_team".into();
        } else if let Some(rest) = hay.split("rules[").nth(1) {
            let index: Option<usize> = rest.split(']').next().and_then(|n| n.parse().ok());
            if let Some(rule) = index.and_then(|n| request.rules.get(n)) {
                let row = values
                    .rules
                    .iter()
                    .position(|r| r.id.trim() == rule.rule_id)
                    .unwrap_or(0);
                let part = [
                    "team",
                    "tiers",
                    "countries",
                    "sources",
                    "score_min",
                    "score_max",
                    "description",
                ]
                .into_iter()
                .find(|p| rest.contains(p))
                .unwrap_or("id");
                field = format!("r{row}.{part}");
            }
        }
    }
    let (code, mut outcome) = refusal(error, &[], &[], lang);
    if let Some(e) = outcome.error.as_mut()
        && !field.is_empty()
    {
        e.field = field;
    }
    (code, outcome)
}

/// Replaces the routing rules at the version the form was read at.
pub async fn save_rules(State(state): State<AppState>, signed: Signed, body: Bytes) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let values = rules_values(&fields);
    let mut wheel = state.upstream.wheel(user);
    let current = match wheel.list_routing_rules(ListRoutingRulesRequest {}).await {
        Ok(answer) => answer.into_inner().rule_set.unwrap_or_default(),
        Err(status) => {
            let (code, outcome) = refusal(status.into(), &[], &[], lang);
            return fragment(code, team::rules_form(&values, &outcome, lang));
        }
    };
    let request = match rules_request(&values, &current.rules) {
        Ok(request) => request,
        Err((field, message)) => {
            let outcome = Outcome {
                error: Some(FieldError {
                    text: format!("{field}: {message}"),
                    field,
                }),
                saved: false,
            };
            return fragment(
                StatusCode::BAD_REQUEST,
                team::rules_form(&values, &outcome, lang),
            );
        }
    };
    match wheel.set_routing_rules(request.clone()).await {
        Ok(answer) => {
            let set = answer.into_inner().rule_set.unwrap_or_default();
            let outcome = Outcome {
                error: None,
                saved: true,
            };
            fragment(
                StatusCode::OK,
                team::rules_form(&RulesValues::of(&set), &outcome, lang),
            )
        }
        Err(status) => {
            let (code, outcome) = rules_refusal(status.into(), &request, &values, lang);
            fragment(code, team::rules_form(&values, &outcome, lang))
        }
    }
}

/// The tester's lead.
#[derive(Deserialize)]
pub struct TestValues {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    email: String,
}

/// Which team and rule a lead like this would go to.
pub async fn test_rules(
    State(state): State<AppState>,
    signed: Signed,
    Form(values): Form<TestValues>,
) -> Response {
    let user = signed.user();
    let lang = user.lang;
    let score = if values.score.trim().is_empty() {
        Ok(0)
    } else {
        number::<i32>("score", &values.score)
    };
    let answer = match score {
        Ok(score) => state
            .upstream
            .wheel(user)
            .test_routing(TestRoutingRequest {
                lead: Some(RoutingLead {
                    tier: values.tier.trim().to_string(),
                    score,
                    country: values.country.trim().to_string(),
                    source: values.source.trim().to_string(),
                    email: values.email.trim().to_string(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(ConsoleError::from),
        Err(error) => Err(error),
    };
    match answer {
        Ok(answer) => fragment(
            StatusCode::OK,
            team::test_result(&answer.into_inner(), lang),
        ),
        Err(error) => error.in_lang(lang).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_read_as_leadctl_reads_them() {
        let hours = parse_hours("mon-wed=09:00-17:00; sat=10:00-12:00").unwrap();
        let days: Vec<_> = hours.iter().map(|h| h.day.as_str()).collect();
        assert_eq!(days, ["mon", "tue", "wed", "sat"]);
        assert_eq!(hours[3].from, "10:00");
        assert!(parse_hours("").unwrap().is_empty());
        assert!(
            parse_hours("funday=09:00-10:00")
                .unwrap_err()
                .contains("not a day")
        );
        assert!(
            parse_hours("fri-mon=09:00-10:00")
                .unwrap_err()
                .contains("backwards")
        );
    }

    #[test]
    fn the_wheels_field_names_map_to_the_form() {
        let status = leadwheel_plumbing::grpc::invalid_argument(
            "invalid team.window_ms: 5 is out of range",
            "team.window_ms",
            "5 is out of range",
        );
        assert_eq!(
            refused_field(&status, TEAM_FIELDS, TEAM_ALIASES),
            "window_ms"
        );
        let status = leadwheel_plumbing::grpc::invalid_argument(
            "invalid team.policy.tier_windows_ms: …",
            "team.policy.tier_windows_ms",
            "…",
        );
        assert_eq!(
            refused_field(&status, TEAM_FIELDS, TEAM_ALIASES),
            "tier_windows_ms"
        );
        let plain = tonic::Status::invalid_argument("pass_reasons: too long");
        assert_eq!(
            refused_field(&plain, TEAM_FIELDS, TEAM_ALIASES),
            "pass_reasons"
        );
    }

    #[test]
    fn the_team_form_keeps_what_it_does_not_show() {
        let team = Team {
            team_id: "north".into(),
            manager_id: "maya".into(),
            window_ms: 30_000,
            policy: Some(leadwheel_proto::wheel::v1::TeamPolicy {
                breaker_expiries: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        let values = TeamValues {
            name: "North".into(),
            window_ms: "20000".into(),
            tier_windows_ms: "A=10000, B = 15000".into(),
            members: "ben, Ben O\nana".into(),
            pass_reasons: "busy\n\non a call\n".into(),
        };
        let request = team_request(team.clone(), &values).unwrap();
        let got = request.team.unwrap();
        assert_eq!(got.manager_id, "maya");
        assert_eq!(got.window_ms, 20_000);
        assert_eq!(got.rep_ids, ["ben", "ana"]);
        assert_eq!(request.rep_names, ["Ben O", ""]);
        let policy = got.policy.unwrap();
        assert_eq!(policy.breaker_expiries, 7);
        assert_eq!(policy.tier_windows_ms["B"], 15_000);
        assert_eq!(policy.pass_reasons, ["busy", "on a call"]);
        let bad = TeamValues {
            window_ms: "soon".into(),
            ..values
        };
        match team_request(team, &bad) {
            Err(ConsoleError::BadRequest { field, .. }) => assert_eq!(field, "window_ms"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn saving_rules_keeps_the_conditions_the_form_does_not_show() {
        let current = vec![RoutingRule {
            rule_id: "big".into(),
            team_id: "north".into(),
            r#match: Some(RoutingMatch {
                tiers: vec!["A".into()],
                products: vec!["crm".into()],
                company_size_min: Some(500),
                ..Default::default()
            }),
            ..Default::default()
        }];
        let mut values = RulesValues::of(&leadwheel_proto::wheel::v1::RoutingRuleSet {
            version: 4,
            rules: current.clone(),
            ..Default::default()
        });
        assert_eq!(values.rules.len(), 2, "the rule and an empty row");
        assert!(values.rules[0].kept.contains("products crm"));
        // Rename it, move a new rule before it.
        values.rules[0].id = "enterprise".into();
        values.rules[1].id = "de".into();
        values.rules[1].team = "south".into();
        values.rules[1].countries = "DE, AT".into();
        values.rules[1].order = "0".into();
        let request = rules_request(&values, &current).unwrap();
        assert_eq!(request.expected_version, 4);
        let ids: Vec<_> = request.rules.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["de", "enterprise"]);
        let kept = request.rules[1].r#match.clone().unwrap();
        assert_eq!(kept.products, ["crm"]);
        assert_eq!(kept.company_size_min, Some(500));
        assert_eq!(
            request.rules[0].r#match.clone().unwrap().countries,
            ["DE", "AT"]
        );
        // Removing it, and a bad score naming its row.
        values.rules[0].remove = true;
        values.rules[1].score_min = "high".into();
        let (field, message) = rules_request(&values, &current).unwrap_err();
        assert_eq!(field, "r1.score_min");
        assert!(message.contains("high"));
        values.rules[1].score_min = String::new();
        assert_eq!(rules_request(&values, &current).unwrap().rules.len(), 1);
    }
}

//! Team settings: the team's form (name, window, tier windows, members in
//! ring order, pass reasons), each rep's capacity, rank and schedule, and
//! the routing rules with a tester. A refused value shows the service's
//! message next to its field.

use leadwheel_proto::wheel::v1::{Rep, RoutingRuleSet, Team, TestRoutingResponse};
use maud::{Markup, html};

use crate::i18n::{self, Lang, Msg};

/// A message to show next to one field (or above the form, `field` "").
#[derive(Clone, Debug, Default)]
pub struct FieldError {
    /// The form field it belongs to.
    pub field: String,
    /// The text (the service's message).
    pub text: String,
}

/// What a form shows after a POST.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// A refusal, by field.
    pub error: Option<FieldError>,
    /// Saved.
    pub saved: bool,
}

fn field_error(outcome: &Outcome, field: &str) -> Markup {
    html! {
        @if let Some(error) = &outcome.error {
            @if error.field == field {
                p.error role="alert" id={ (field) "-error" } data-field-error=(field) { (error.text) }
            }
        }
    }
}

fn form_status(outcome: &Outcome, fields: &[&str], lang: Lang) -> Markup {
    html! {
        @if let Some(error) = &outcome.error {
            @if !fields.contains(&error.field.as_str()) {
                p.error role="alert" data-field-error=(error.field) { (error.text) }
            }
        }
        @if outcome.saved {
            p role="status" data-saved { (i18n::SAVED.get(lang)) }
        }
    }
}

/// A text input with its label and error.
fn input(
    id: &str,
    name: &str,
    label: Msg,
    value: &str,
    kind: &str,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    let invalid = outcome.error.as_ref().is_some_and(|e| e.field == name);
    html! {
        div {
            label for=(id) { (label.get(lang)) }
            input id=(id) name=(name) type=(kind) value=(value) aria-invalid=[invalid.then_some("true")] aria-describedby=[invalid.then(|| format!("{name}-error"))];
            (field_error(outcome, name))
        }
    }
}

fn textarea(
    id: &str,
    name: &str,
    label: Msg,
    hint: Msg,
    value: &str,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    let invalid = outcome.error.as_ref().is_some_and(|e| e.field == name);
    html! {
        div {
            label for=(id) { (label.get(lang)) }
            small.muted { (hint.get(lang)) }
            textarea id=(id) name=(name) rows="4" aria-invalid=[invalid.then_some("true")] { (value) }
            (field_error(outcome, name))
        }
    }
}

/// The team form's values, as typed (kept when refused).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TeamValues {
    /// The team's display name.
    #[serde(default)]
    pub name: String,
    /// The offer window, milliseconds.
    #[serde(default)]
    pub window_ms: String,
    /// `A=30000, B=60000`.
    #[serde(default)]
    pub tier_windows_ms: String,
    /// One rep a line, in ring order: `id, Name`.
    #[serde(default)]
    pub members: String,
    /// One reason a line.
    #[serde(default)]
    pub pass_reasons: String,
}

/// The fields of the team form.
pub const TEAM_FIELDS: &[&str] = &[
    "name",
    "window_ms",
    "tier_windows_ms",
    "members",
    "pass_reasons",
];

impl TeamValues {
    /// The values a team has now.
    pub fn of(team: &Team, reps: &[Rep]) -> Self {
        let policy = team.policy.clone().unwrap_or_default();
        let mut tiers: Vec<_> = policy.tier_windows_ms.iter().collect();
        tiers.sort();
        let name_of = |id: &str| {
            reps.iter()
                .find(|r| r.rep_id == id)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        };
        Self {
            name: team.name.clone(),
            window_ms: team.window_ms.to_string(),
            tier_windows_ms: tiers
                .iter()
                .map(|(tier, ms)| format!("{tier}={ms}"))
                .collect::<Vec<_>>()
                .join(", "),
            members: team
                .rep_ids
                .iter()
                .map(|id| {
                    let name = name_of(id);
                    if name.is_empty() {
                        id.clone()
                    } else {
                        format!("{id}, {name}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            pass_reasons: policy.pass_reasons.join("\n"),
        }
    }
}

/// The team form.
pub fn team_form(team_id: &str, values: &TeamValues, outcome: &Outcome, lang: Lang) -> Markup {
    html! {
        form.card id="team-form" hx-post="/team" hx-target="this" hx-swap="outerHTML" data-team=(team_id) {
            h2 { (i18n::TEAM.get(lang)) " " (team_id) }
            (form_status(outcome, TEAM_FIELDS, lang))
            (input("team-name", "name", i18n::TEAM_NAME, &values.name, "text", outcome, lang))
            (input("team-window", "window_ms", i18n::WINDOW_MS, &values.window_ms, "number", outcome, lang))
            (input("team-tier-windows", "tier_windows_ms", i18n::TIER_WINDOWS, &values.tier_windows_ms, "text", outcome, lang))
            (textarea("team-members", "members", i18n::MEMBERS, i18n::MEMBERS_HINT, &values.members, outcome, lang))
            (textarea("team-pass-reasons", "pass_reasons", i18n::PASS_REASONS, i18n::PASS_REASONS_HINT, &values.pass_reasons, outcome, lang))
            button.primary type="submit" { (i18n::SAVE.get(lang)) }
        }
    }
}

/// A rep's capacity and rank form.
pub fn rep_form(rep: &Rep, outcome: &Outcome, lang: Lang) -> Markup {
    let id = &rep.rep_id;
    html! {
        form.actions id={ "rep-" (id) } hx-post={ "/team/reps/" (id) } hx-target="this" hx-swap="outerHTML" data-rep-form=(id) {
            (form_status(outcome, &["capacity", "rank"], lang))
            (input(&format!("capacity-{id}"), "capacity", i18n::CAPACITY, &rep.capacity.to_string(), "number", outcome, lang))
            (input(&format!("rank-{id}"), "rank", i18n::RANK, &rep.rank.to_string(), "number", outcome, lang))
            button type="submit" { (i18n::SAVE.get(lang)) }
        }
    }
}

/// A rep's schedule values, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ScheduleValues {
    /// IANA time zone.
    #[serde(default)]
    pub time_zone: String,
    /// `mon-fri=09:00-17:00; sat=10:00-12:00`.
    #[serde(default)]
    pub hours: String,
    /// `2026-12-24, 2026-12-25`.
    #[serde(default)]
    pub days_off: String,
    /// `A, B`.
    #[serde(default)]
    pub tiers: String,
    /// `FR, DE`.
    #[serde(default)]
    pub regions: String,
}

/// The fields of the schedule form.
pub const SCHEDULE_FIELDS: &[&str] = &["time_zone", "hours", "days_off", "tiers", "regions"];

impl ScheduleValues {
    /// A rep's schedule now.
    pub fn of(rep: &Rep) -> Self {
        let schedule = rep.schedule.clone().unwrap_or_default();
        // Consecutive days with the same hours read as one range.
        let mut parts: Vec<String> = Vec::new();
        for h in &schedule.hours {
            parts.push(format!("{}={}-{}", h.day, h.from, h.to));
        }
        Self {
            time_zone: schedule.time_zone,
            hours: parts.join("; "),
            days_off: schedule.days_off.join(", "),
            tiers: rep.tiers.join(", "),
            regions: rep.regions.join(", "),
        }
    }
}

/// A rep's schedule form.
pub fn schedule_form(
    rep_id: &str,
    values: &ScheduleValues,
    outcome: &Outcome,
    lang: Lang,
) -> Markup {
    let id = rep_id;
    html! {
        form id={ "schedule-" (id) } hx-post={ "/team/reps/" (id) "/schedule" } hx-target="this" hx-swap="outerHTML" data-schedule-form=(id) {
            (form_status(outcome, SCHEDULE_FIELDS, lang))
            div.actions {
                (input(&format!("tz-{id}"), "time_zone", i18n::TIME_ZONE, &values.time_zone, "text", outcome, lang))
                (input(&format!("hours-{id}"), "hours", i18n::HOURS, &values.hours, "text", outcome, lang))
                (input(&format!("off-{id}"), "days_off", i18n::DAYS_OFF, &values.days_off, "text", outcome, lang))
                (input(&format!("tiers-{id}"), "tiers", i18n::TIERS, &values.tiers, "text", outcome, lang))
                (input(&format!("regions-{id}"), "regions", i18n::REGIONS, &values.regions, "text", outcome, lang))
            }
            button type="submit" { (i18n::SAVE_SCHEDULE.get(lang)) }
        }
    }
}

/// The settings page's body.
pub fn settings(team: &Team, reps: &[Rep], lang: Lang) -> Markup {
    html! {
        h1 { (i18n::NAV_TEAM.get(lang)) " · " (team.team_id) }
        p { a href="/team/routing" { (i18n::ROUTING_RULES.get(lang)) } " · " a href="/handover" { (i18n::NAV_HANDOVER.get(lang)) } }
        (team_form(&team.team_id, &TeamValues::of(team, reps), &Outcome::default(), lang))
        h2 { (i18n::REPS.get(lang)) }
        @for rep in reps {
            section.card data-rep=(rep.rep_id) {
                h3 { (rep.name) " (" (rep.rep_id) ")" }
                (rep_form(rep, &Outcome::default(), lang))
                (schedule_form(&rep.rep_id, &ScheduleValues::of(rep), &Outcome::default(), lang))
            }
        }
    }
}

/// One routing rule's row values, as typed.
#[derive(Clone, Debug, Default)]
pub struct RuleValues {
    /// The rule's id before editing (empty for a new one).
    pub orig: String,
    /// Position (smaller first).
    pub order: String,
    /// The rule's id.
    pub id: String,
    /// The team it routes to.
    pub team: String,
    /// Comma-separated lists.
    pub tiers: String,
    /// Countries.
    pub countries: String,
    /// Sources.
    pub sources: String,
    /// Score range.
    pub score_min: String,
    /// Score range.
    pub score_max: String,
    /// Free text.
    pub description: String,
    /// Conditions the form does not edit, kept as they are.
    pub kept: String,
    /// Remove it.
    pub remove: bool,
}

/// The rules form's values.
#[derive(Clone, Debug, Default)]
pub struct RulesValues {
    /// The version being replaced.
    pub version: i64,
    /// The default team.
    pub default_team: String,
    /// The rules, then one empty row for a new rule.
    pub rules: Vec<RuleValues>,
}

fn kept_conditions(rule: &leadwheel_proto::wheel::v1::RoutingRule) -> String {
    let m = rule.r#match.clone().unwrap_or_default();
    let mut kept = Vec::new();
    if !m.products.is_empty() {
        kept.push(format!("products {}", m.products.join(",")));
    }
    if !m.plans.is_empty() {
        kept.push(format!("plans {}", m.plans.join(",")));
    }
    if !m.email_domains.is_empty() {
        kept.push(format!("email domains {}", m.email_domains.join(",")));
    }
    if m.company_size_min.is_some() || m.company_size_max.is_some() {
        kept.push(format!(
            "company size {}..{}",
            m.company_size_min
                .map(|v| v.to_string())
                .unwrap_or_default(),
            m.company_size_max
                .map(|v| v.to_string())
                .unwrap_or_default()
        ));
    }
    if !m.attributes.is_empty() {
        let mut keys: Vec<_> = m.attributes.keys().cloned().collect();
        keys.sort();
        kept.push(format!("attributes {}", keys.join(",")));
    }
    if let Some(p) = &rule.policy_override
        && (p.window_ms.is_some() || p.rotation != 0)
    {
        kept.push("policy override".into());
    }
    kept.join("; ")
}

impl RulesValues {
    /// The rule set now, plus an empty row.
    pub fn of(set: &RoutingRuleSet) -> Self {
        let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut rules: Vec<RuleValues> = set
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let m = r.r#match.clone().unwrap_or_default();
                RuleValues {
                    orig: r.rule_id.clone(),
                    order: (i + 1).to_string(),
                    id: r.rule_id.clone(),
                    team: r.team_id.clone(),
                    tiers: m.tiers.join(", "),
                    countries: m.countries.join(", "),
                    sources: m.sources.join(", "),
                    score_min: opt(m.score_min),
                    score_max: opt(m.score_max),
                    description: r.description.clone(),
                    kept: kept_conditions(r),
                    remove: false,
                }
            })
            .collect();
        rules.push(RuleValues {
            order: (set.rules.len() + 1).to_string(),
            ..Default::default()
        });
        Self {
            version: set.version,
            default_team: set.default_team_id.clone(),
            rules,
        }
    }
}

/// The routing rules form (one row per rule, one empty row to add one).
pub fn rules_form(values: &RulesValues, outcome: &Outcome, lang: Lang) -> Markup {
    let row_fields: Vec<String> = (0..values.rules.len())
        .flat_map(|i| {
            [
                "order",
                "id",
                "team",
                "tiers",
                "countries",
                "sources",
                "score_min",
                "score_max",
                "description",
            ]
            .map(|f| format!("r{i}.{f}"))
        })
        .collect();
    let mut known: Vec<&str> = row_fields.iter().map(String::as_str).collect();
    known.push("default_team");
    let cell = |i: usize, f: &str, value: &str, label: Msg, kind: &str| {
        let name = format!("r{i}.{f}");
        input(
            &format!("rule-{i}-{f}"),
            &name,
            label,
            value,
            kind,
            outcome,
            lang,
        )
    };
    html! {
        form id="rules-form" hx-post="/team/routing" hx-target="this" hx-swap="outerHTML" data-rules-version=(values.version) {
            (form_status(outcome, &known, lang))
            input type="hidden" name="expected_version" value=(values.version);
            p.muted { (i18n::RULES_VERSION.get(lang)) " " (values.version) }
            (input("default-team", "default_team", i18n::DEFAULT_TEAM, &values.default_team, "text", outcome, lang))
            @for (i, rule) in values.rules.iter().enumerate() {
                fieldset.card data-rule=(rule.id) {
                    legend { @if rule.orig.is_empty() { (i18n::NEW_RULE.get(lang)) } @else { (i18n::RULE.get(lang)) " " (rule.orig) } }
                    input type="hidden" name={ "r" (i) ".orig" } value=(rule.orig);
                    div.actions {
                        (cell(i, "order", &rule.order, i18n::ORDER, "number"))
                        (cell(i, "id", &rule.id, i18n::RULE_ID, "text"))
                        (cell(i, "team", &rule.team, i18n::TEAM, "text"))
                        (cell(i, "tiers", &rule.tiers, i18n::TIERS, "text"))
                        (cell(i, "countries", &rule.countries, i18n::COUNTRIES, "text"))
                        (cell(i, "sources", &rule.sources, i18n::SOURCES, "text"))
                        (cell(i, "score_min", &rule.score_min, i18n::SCORE_MIN, "number"))
                        (cell(i, "score_max", &rule.score_max, i18n::SCORE_MAX, "number"))
                        (cell(i, "description", &rule.description, i18n::DESCRIPTION, "text"))
                    }
                    @if !rule.kept.is_empty() { p.muted { (i18n::KEPT_CONDITIONS.get(lang)) ": " (rule.kept) } }
                    @if !rule.orig.is_empty() {
                        label { input type="checkbox" name={ "r" (i) ".remove" } value="1" checked[rule.remove]; " " (i18n::REMOVE_RULE.get(lang)) }
                    }
                }
            }
            button.primary type="submit" { (i18n::SAVE_RULES.get(lang)) }
        }
    }
}

/// The routing tester's form.
pub fn test_form(lang: Lang) -> Markup {
    html! {
        form.card hx-post="/team/routing/test" hx-target="#routing-result" hx-swap="innerHTML" data-routing-test {
            h2 { (i18n::TEST_ROUTING.get(lang)) }
            div.actions {
                div { label for="t-tier" { (i18n::TIER.get(lang)) } input id="t-tier" name="tier" type="text"; }
                div { label for="t-score" { (i18n::SCORE.get(lang)) } input id="t-score" name="score" type="number" value="0"; }
                div { label for="t-country" { (i18n::COUNTRIES.get(lang)) } input id="t-country" name="country" type="text"; }
                div { label for="t-source" { (i18n::SOURCE.get(lang)) } input id="t-source" name="source" type="text"; }
                div { label for="t-email" { (i18n::EMAIL.get(lang)) } input id="t-email" name="email" type="email"; }
            }
            button type="submit" { (i18n::TEST_ROUTING.get(lang)) }
            div id="routing-result" aria-live="polite" {}
        }
    }
}

/// What the tester answered.
pub fn test_result(answer: &TestRoutingResponse, lang: Lang) -> Markup {
    let routed = answer.routed_by.clone().unwrap_or_default();
    html! {
        p role="status" data-routed-team=(routed.team_id) data-routed-rule=(routed.rule_id) {
            (i18n::ROUTED_TO.get(lang)) " " strong { (routed.team_id) }
            @if !routed.rule_id.is_empty() { " · " (i18n::RULE.get(lang)) " " (routed.rule_id) }
        }
        ul {
            @for verdict in &answer.verdicts {
                li data-verdict=(verdict.rule_id) data-matched=(verdict.matched) {
                    (verdict.rule_id) ": " (if verdict.matched { "✓" } else { "✗" }) " " (verdict.reasons.join("; "))
                }
            }
        }
    }
}

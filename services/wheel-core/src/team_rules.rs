//! Routing across teams: an ordered list of rules maps a lead's attributes
//! to a team. The first rule whose every condition holds wins; the rule
//! set's default team catches the rest; a team named by intake (the
//! account owner's, `team_hint`) wins over every rule; without one the caller's fallback
//! team (the wheel's oldest team) does; with no team at all the lead waits.
//! Pure: the service stores and audits the rules, `leadctl routing test`
//! and the property tests call [`choose_team`] directly.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Millis, Rotation};

/// What routing across teams may look at (what `intake.lead.created` carries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadAttributes {
    pub tier: String,
    /// 0..=100.
    pub score: i32,
    /// ISO country code, upper-case.
    pub country: String,
    pub source: String,
    /// Employees; 0 = unknown.
    pub company_size: i64,
    pub product: String,
    pub plan: String,
    pub email: String,
    /// Custom attributes from the signup form.
    pub attributes: BTreeMap<String, String>,
    /// A team intake named (account-owner routing): it wins over every rule.
    pub team_hint: Option<String>,
}

impl LeadAttributes {
    /// The domain of the lead's email, lower-case.
    pub fn email_domain(&self) -> String {
        self.email
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// The conditions of a rule. Every set condition must hold; a list holds
/// when the lead's value is any of its entries (compared case-insensitively).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMatch {
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub score_min: Option<i32>,
    #[serde(default)]
    pub score_max: Option<i32>,
    /// Countries (a region is matched by listing its countries).
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub company_size_min: Option<i64>,
    #[serde(default)]
    pub company_size_max: Option<i64>,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub plans: Vec<String>,
    /// Email domains; `acme.com` also matches `eu.acme.com`.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Custom attribute → accepted values.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl RuleMatch {
    /// True when the rule sets no condition at all (refused on save: it
    /// would catch everything, which is what the default team is for).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Why the lead matches (one reason per condition), or the first
    /// condition it fails.
    pub fn check(&self, lead: &LeadAttributes) -> Result<Vec<String>, String> {
        let mut why = Vec::new();
        one_of("tier", &self.tiers, &lead.tier, &mut why)?;
        range(
            "score",
            self.score_min.map(i64::from),
            self.score_max.map(i64::from),
            i64::from(lead.score),
            &mut why,
        )?;
        one_of("country", &self.countries, &lead.country, &mut why)?;
        one_of("source", &self.sources, &lead.source, &mut why)?;
        range(
            "company_size",
            self.company_size_min,
            self.company_size_max,
            lead.company_size,
            &mut why,
        )?;
        one_of("product", &self.products, &lead.product, &mut why)?;
        one_of("plan", &self.plans, &lead.plan, &mut why)?;
        if !self.email_domains.is_empty() {
            let domain = lead.email_domain();
            let hit = self.email_domains.iter().find(|d| {
                let d = d.to_ascii_lowercase();
                domain == d || domain.ends_with(&format!(".{d}"))
            });
            match hit {
                Some(d) => why.push(format!("email domain {domain} is {d}")),
                None => {
                    return Err(format!(
                        "email domain {domain:?} is not one of {}",
                        self.email_domains.join(", ")
                    ));
                }
            }
        }
        for (key, values) in &self.attributes {
            let value = lead.attributes.get(key).map(String::as_str).unwrap_or("");
            one_of(&format!("attribute {key}"), values, value, &mut why)?;
        }
        Ok(why)
    }
}

fn one_of(what: &str, set: &[String], value: &str, why: &mut Vec<String>) -> Result<(), String> {
    if set.is_empty() {
        return Ok(());
    }
    if set.iter().any(|s| s.eq_ignore_ascii_case(value)) {
        why.push(format!("{what} {value} is one of {}", set.join(", ")));
        Ok(())
    } else {
        Err(format!("{what} {value:?} is not one of {}", set.join(", ")))
    }
}

fn range(
    what: &str,
    min: Option<i64>,
    max: Option<i64>,
    value: i64,
    why: &mut Vec<String>,
) -> Result<(), String> {
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    let shown = match (min, max) {
        // Words, not `>=`: the ledger's readers split `key=value` pairs.
        (Some(lo), Some(hi)) => format!("between {lo} and {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => unreachable!(),
    };
    if min.is_none_or(|lo| value >= lo) && max.is_none_or(|hi| value <= hi) {
        why.push(format!("{what} {value} is {shown}"));
        Ok(())
    } else {
        Err(format!("{what} {value} is not {shown}"))
    }
}

/// Team policy a rule overrides for the leads it routes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOverride {
    #[serde(default)]
    pub window_ms: Option<Millis>,
    #[serde(default)]
    pub rotation: Option<Rotation>,
}

impl PolicyOverride {
    /// Applies the override to a team's configuration.
    pub fn apply(&self, config: &mut crate::TeamConfig) {
        if let Some(window) = self.window_ms {
            config.window_ms = window;
            // The rule's window is the lead's window: the team's tier
            // windows would otherwise win over it.
            config.tier_windows.clear();
        }
        if let Some(rotation) = self.rotation {
            config.rotation = rotation;
            if rotation == Rotation::RoundRobin {
                config.ability_order_tiers.clear();
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One routing rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRule {
    pub rule_id: String,
    pub team_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "match", default)]
    pub conditions: RuleMatch,
    #[serde(default)]
    pub policy_override: PolicyOverride,
}

/// The ordered rules and the default team, at a version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRules {
    /// 0 until rules are first set.
    pub version: i64,
    pub rules: Vec<TeamRule>,
    /// Catches leads no rule matches; empty means the fallback team.
    pub default_team_id: String,
}

/// Where a lead goes, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum TeamChoice {
    /// Intake named the team (the account owner's team): rules are not asked.
    TeamHint { team_id: String },
    /// The first rule whose conditions all hold.
    Rule {
        rule_id: String,
        /// Position in the list, from 0.
        index: usize,
        version: i64,
        team_id: String,
        reasons: Vec<String>,
        policy_override: PolicyOverride,
    },
    /// No rule matched: the rule set's default team.
    Default { version: i64, team_id: String },
    /// No rule matched and the rules name no default: the fallback team.
    Fallback { team_id: String },
    /// No team exists: the lead waits for one.
    NoTeam,
}

impl TeamChoice {
    /// The chosen team, if any.
    pub fn team_id(&self) -> Option<&str> {
        match self {
            Self::Rule { team_id, .. }
            | Self::TeamHint { team_id }
            | Self::Default { team_id, .. }
            | Self::Fallback { team_id } => Some(team_id),
            Self::NoTeam => None,
        }
    }
}

/// How one rule judged a lead (for `TestRouting`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleVerdict {
    pub rule_id: String,
    pub matched: bool,
    /// Why it matched, or the condition it failed.
    pub reasons: Vec<String>,
}

/// Chooses the team for `lead`: intake's team hint, else the first
/// matching rule, else the default team, else `fallback` (the wheel's
/// oldest team), else none.
pub fn choose_team(rules: &TeamRules, lead: &LeadAttributes, fallback: Option<&str>) -> TeamChoice {
    if let Some(team_id) = &lead.team_hint {
        return TeamChoice::TeamHint {
            team_id: team_id.clone(),
        };
    }
    for (index, rule) in rules.rules.iter().enumerate() {
        if let Ok(reasons) = rule.conditions.check(lead) {
            return TeamChoice::Rule {
                rule_id: rule.rule_id.clone(),
                index,
                version: rules.version,
                team_id: rule.team_id.clone(),
                reasons,
                policy_override: rule.policy_override.clone(),
            };
        }
    }
    if !rules.default_team_id.is_empty() {
        return TeamChoice::Default {
            version: rules.version,
            team_id: rules.default_team_id.clone(),
        };
    }
    match fallback {
        Some(team_id) => TeamChoice::Fallback {
            team_id: team_id.to_string(),
        },
        None => TeamChoice::NoTeam,
    }
}

/// Every rule's verdict on `lead`, in order (the first match is the one
/// [`choose_team`] takes).
pub fn judge_rules(rules: &TeamRules, lead: &LeadAttributes) -> Vec<RuleVerdict> {
    rules
        .rules
        .iter()
        .map(|rule| match rule.conditions.check(lead) {
            Ok(reasons) => RuleVerdict {
                rule_id: rule.rule_id.clone(),
                matched: true,
                reasons,
            },
            Err(reason) => RuleVerdict {
                rule_id: rule.rule_id.clone(),
                matched: false,
                reasons: vec![reason],
            },
        })
        .collect()
}

/// A rule set refused, naming the field at fault (`rules[2].match.score_min`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

fn refuse(field: String, message: impl Into<String>) -> RuleError {
    RuleError {
        field,
        message: message.into(),
    }
}

/// Bounds of an overridden window (the team window's bounds).
pub const MIN_RULE_WINDOW_MS: Millis = 1_000;
pub const MAX_RULE_WINDOW_MS: Millis = 3_600_000;
/// Most rules in a set.
pub const MAX_RULES: usize = 200;

/// Checks a rule set before it is stored: ids unique, teams known, no
/// empty match, ranges ordered and in bounds, windows in bounds.
pub fn check_rules(rules: &TeamRules, team_exists: impl Fn(&str) -> bool) -> Result<(), RuleError> {
    if rules.rules.len() > MAX_RULES {
        return Err(refuse(
            "rules".into(),
            format!("more than {MAX_RULES} rules"),
        ));
    }
    if !rules.default_team_id.is_empty() && !team_exists(&rules.default_team_id) {
        return Err(refuse(
            "default_team_id".into(),
            format!("team {} does not exist", rules.default_team_id),
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        let at = |field: &str| format!("rules[{i}].{field}");
        if rule.rule_id.trim().is_empty() {
            return Err(refuse(at("rule_id"), "is required"));
        }
        if !ids.insert(rule.rule_id.as_str()) {
            return Err(refuse(
                at("rule_id"),
                format!("{} is used by an earlier rule", rule.rule_id),
            ));
        }
        if rule.team_id.is_empty() {
            return Err(refuse(at("team_id"), "is required"));
        }
        if !team_exists(&rule.team_id) {
            return Err(refuse(
                at("team_id"),
                format!("team {} does not exist", rule.team_id),
            ));
        }
        let m = &rule.conditions;
        if m.is_empty() {
            return Err(refuse(
                at("match"),
                "sets no condition; use default_team_id to catch every lead",
            ));
        }
        for (field, value) in [("score_min", m.score_min), ("score_max", m.score_max)] {
            if let Some(v) = value
                && !(0..=100).contains(&v)
            {
                return Err(refuse(
                    at(&format!("match.{field}")),
                    format!("{v} is outside 0..=100"),
                ));
            }
        }
        if let (Some(lo), Some(hi)) = (m.score_min, m.score_max)
            && lo > hi
        {
            return Err(refuse(
                at("match.score_min"),
                format!("{lo} is above score_max {hi}"),
            ));
        }
        for (field, value) in [
            ("company_size_min", m.company_size_min),
            ("company_size_max", m.company_size_max),
        ] {
            if let Some(v) = value
                && v < 0
            {
                return Err(refuse(
                    at(&format!("match.{field}")),
                    format!("{v} is negative"),
                ));
            }
        }
        if let (Some(lo), Some(hi)) = (m.company_size_min, m.company_size_max)
            && lo > hi
        {
            return Err(refuse(
                at("match.company_size_min"),
                format!("{lo} is above company_size_max {hi}"),
            ));
        }
        let lists = [
            ("tiers", &m.tiers),
            ("countries", &m.countries),
            ("sources", &m.sources),
            ("products", &m.products),
            ("plans", &m.plans),
            ("email_domains", &m.email_domains),
        ];
        for (field, list) in lists {
            if list.iter().any(|v| v.trim().is_empty()) {
                return Err(refuse(at(&format!("match.{field}")), "has an empty entry"));
            }
        }
        for (key, values) in &m.attributes {
            if key.trim().is_empty() {
                return Err(refuse(at("match.attributes"), "has an empty key"));
            }
            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                return Err(refuse(
                    at(&format!("match.attributes.{key}")),
                    "needs at least one non-empty value",
                ));
            }
        }
        if let Some(window) = rule.policy_override.window_ms
            && !(MIN_RULE_WINDOW_MS..=MAX_RULE_WINDOW_MS).contains(&window)
        {
            return Err(refuse(
                at("policy_override.window_ms"),
                format!("{window} is outside {MIN_RULE_WINDOW_MS}..={MAX_RULE_WINDOW_MS}"),
            ));
        }
    }
    Ok(())
}

impl std::fmt::Display for TeamChoice {
    /// The ledger's words for the choice.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TeamHint { team_id } => {
                write!(
                    f,
                    "team {team_id} named by intake (team hint); rules not consulted"
                )
            }
            Self::Rule {
                rule_id,
                version,
                team_id,
                reasons,
                policy_override,
                ..
            } => {
                write!(
                    f,
                    "rule {rule_id} (rules v{version}) chose team {team_id}: {}",
                    reasons.join("; ")
                )?;
                if let Some(window) = policy_override.window_ms {
                    write!(f, "; window {window} ms")?;
                }
                if let Some(rotation) = policy_override.rotation {
                    let name = match rotation {
                        Rotation::RoundRobin => "round_robin",
                        Rotation::AbilityOrder => "ability_order",
                    };
                    write!(f, "; rotation {name}")?;
                }
                Ok(())
            }
            Self::Default { version, team_id } => {
                write!(
                    f,
                    "no rule matched: default team {team_id} (rules v{version})"
                )
            }
            Self::Fallback { team_id } => {
                write!(
                    f,
                    "no rule matched and no default team: oldest team {team_id}"
                )
            }
            Self::NoTeam => write!(f, "no team exists yet"),
        }
    }
}

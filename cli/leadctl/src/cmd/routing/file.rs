//! The rules file `leadctl routing rules set` reads and `list --output
//! json` writes (so one round-trips into the other): TOML or JSON, unknown
//! keys refused so a typo never silently drops a condition.

use std::collections::BTreeMap;

use leadwheel_proto::wheel::v1 as wheel;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The version this file is (or replaces, when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_at_ms: Option<i64>,
    /// Empty: the oldest team catches what no rule matches.
    #[serde(default)]
    pub default_team: String,
    #[serde(default)]
    pub rules: Vec<RuleEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    pub id: String,
    pub team: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_min: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_max: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_size_min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_size_max: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<i64>,
    /// round_robin or ability_order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
}

impl RulesFile {
    pub fn parse(text: &str, json: bool) -> Result<Self, String> {
        if json {
            serde_json::from_str(text).map_err(|err| err.to_string())
        } else {
            toml::from_str(text).map_err(|err| err.to_string())
        }
    }

    /// The request replacing the rules at `expected_version`. The wheel
    /// checks the rules; only the rotation's name is read here.
    pub fn to_request(
        &self,
        expected_version: i64,
    ) -> Result<wheel::SetRoutingRulesRequest, String> {
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let rotation = match rule.rotation.as_deref() {
                None => wheel::RotationPolicy::Unspecified,
                Some("round_robin") => wheel::RotationPolicy::RoundRobin,
                Some("ability_order") => wheel::RotationPolicy::AbilityOrder,
                Some(other) => {
                    return Err(format!(
                        "rules[{i}].rotation: unknown rotation {other:?}; use round_robin or ability_order"
                    ));
                }
            };
            rules.push(wheel::RoutingRule {
                rule_id: rule.id.clone(),
                team_id: rule.team.clone(),
                description: rule.description.clone(),
                r#match: Some(wheel::RoutingMatch {
                    tiers: rule.tiers.clone(),
                    score_min: rule.score_min,
                    score_max: rule.score_max,
                    countries: rule.countries.clone(),
                    sources: rule.sources.clone(),
                    company_size_min: rule.company_size_min,
                    company_size_max: rule.company_size_max,
                    products: rule.products.clone(),
                    plans: rule.plans.clone(),
                    email_domains: rule.email_domains.clone(),
                    attributes: rule
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), wheel::AttributeValues { values: v.clone() }))
                        .collect(),
                }),
                policy_override: Some(wheel::PolicyOverride {
                    window_ms: rule.window_ms,
                    rotation: rotation as i32,
                }),
            });
        }
        Ok(wheel::SetRoutingRulesRequest {
            rules,
            default_team_id: self.default_team.clone(),
            expected_version,
        })
    }

    pub fn from_proto(set: wheel::RoutingRuleSet) -> Self {
        let set_at = (set.version > 0).then_some(set.set_at_ms);
        let set_by = (set.version > 0).then_some(set.set_by);
        Self {
            version: Some(set.version),
            set_by,
            set_at_ms: set_at,
            default_team: set.default_team_id,
            rules: set.rules.into_iter().map(RuleEntry::from_proto).collect(),
        }
    }
}

impl RuleEntry {
    fn from_proto(rule: wheel::RoutingRule) -> Self {
        let m = rule.r#match.unwrap_or_default();
        let o = rule.policy_override.unwrap_or_default();
        Self {
            id: rule.rule_id,
            team: rule.team_id,
            description: rule.description,
            tiers: m.tiers,
            score_min: m.score_min,
            score_max: m.score_max,
            countries: m.countries,
            sources: m.sources,
            company_size_min: m.company_size_min,
            company_size_max: m.company_size_max,
            products: m.products,
            plans: m.plans,
            email_domains: m.email_domains,
            attributes: m
                .attributes
                .into_iter()
                .map(|(k, v)| (k, v.values))
                .collect(),
            window_ms: o.window_ms,
            rotation: match wheel::RotationPolicy::try_from(o.rotation) {
                Ok(wheel::RotationPolicy::RoundRobin) => Some("round_robin".into()),
                Ok(wheel::RotationPolicy::AbilityOrder) => Some("ability_order".into()),
                _ => None,
            },
        }
    }

    /// The rule's conditions in words, for the table.
    pub fn conditions(&self) -> Vec<String> {
        let mut out = Vec::new();
        let lists = [
            ("tier", &self.tiers),
            ("country", &self.countries),
            ("source", &self.sources),
            ("product", &self.products),
            ("plan", &self.plans),
            ("email domain", &self.email_domains),
        ];
        for (what, list) in lists {
            if !list.is_empty() {
                out.push(format!("{what} {}", list.join("|")));
            }
        }
        for (what, lo, hi) in [
            (
                "score",
                self.score_min.map(i64::from),
                self.score_max.map(i64::from),
            ),
            ("company size", self.company_size_min, self.company_size_max),
        ] {
            match (lo, hi) {
                (Some(lo), Some(hi)) => out.push(format!("{what} {lo}..{hi}")),
                (Some(lo), None) => out.push(format!("{what} {lo}+")),
                (None, Some(hi)) => out.push(format!("{what} up to {hi}")),
                (None, None) => {}
            }
        }
        for (key, values) in &self.attributes {
            out.push(format!("{key} {}", values.join("|")));
        }
        out
    }

    /// The policy the rule overrides, in words.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(window) = self.window_ms {
            out.push(format!("window {}", crate::duration::human(window)));
        }
        if let Some(rotation) = &self.rotation {
            out.push(rotation.replace('_', " "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_file_becomes_the_request_and_typos_are_refused() {
        let file = RulesFile::parse(
            r#"
version = 2
default_team = "smb"
[[rules]]
id = "big"
team = "enterprise"
tiers = ["A"]
company_size_min = 1000
window_ms = 30000
rotation = "ability_order"
[rules.attributes]
industry = ["fintech"]
"#,
            false,
        )
        .unwrap();
        let request = file.to_request(2).unwrap();
        assert_eq!(
            (request.expected_version, request.default_team_id.as_str()),
            (2, "smb")
        );
        let rule = &request.rules[0];
        assert_eq!(rule.r#match.as_ref().unwrap().company_size_min, Some(1000));
        let o = rule.policy_override.as_ref().unwrap();
        assert_eq!(
            (o.window_ms, o.rotation),
            (Some(30_000), wheel::RotationPolicy::AbilityOrder as i32)
        );
        assert_eq!(
            file.rules[0].conditions(),
            ["tier A", "company size 1000+", "industry fintech"]
        );

        let typo = RulesFile::parse(
            "[[rules]]\nid = \"x\"\nteam = \"t\"\ntier = [\"A\"]\n",
            false,
        );
        assert!(typo.unwrap_err().contains("tier"));
        let bad = RulesFile::parse(
            "[[rules]]\nid = \"x\"\nteam = \"t\"\nrotation = \"random\"\n",
            false,
        )
        .unwrap()
        .to_request(0);
        assert!(bad.unwrap_err().starts_with("rules[0].rotation"));
    }
}

//! Routing rules across teams and how a lead's team was chosen, on the wire.

use leadwheel_proto::wheel::v1 as api;
use leadwheel_wheel_core::{PolicyOverride, Rotation, RuleVerdict, TeamChoice, TeamRule};

use crate::store::RulesVersion;

/// A version of the routing rules, on the wire.
pub fn rule_set_proto(stored: &RulesVersion) -> api::RoutingRuleSet {
    api::RoutingRuleSet {
        version: stored.rules.version,
        rules: stored.rules.rules.iter().map(rule_proto).collect(),
        default_team_id: stored.rules.default_team_id.clone(),
        set_by: stored.set_by.clone(),
        set_at_ms: stored.set_at_ms,
    }
}

fn rule_proto(rule: &TeamRule) -> api::RoutingRule {
    let m = &rule.conditions;
    api::RoutingRule {
        rule_id: rule.rule_id.clone(),
        team_id: rule.team_id.clone(),
        r#match: Some(api::RoutingMatch {
            tiers: m.tiers.clone(),
            score_min: m.score_min,
            score_max: m.score_max,
            countries: m.countries.clone(),
            sources: m.sources.clone(),
            company_size_min: m.company_size_min,
            company_size_max: m.company_size_max,
            products: m.products.clone(),
            plans: m.plans.clone(),
            email_domains: m.email_domains.clone(),
            attributes: m
                .attributes
                .iter()
                .map(|(key, values)| {
                    let values = api::AttributeValues {
                        values: values.clone(),
                    };
                    (key.clone(), values)
                })
                .collect(),
        }),
        policy_override: Some(override_proto(&rule.policy_override)),
        description: rule.description.clone(),
    }
}

fn override_proto(policy: &PolicyOverride) -> api::PolicyOverride {
    api::PolicyOverride {
        window_ms: policy.window_ms,
        rotation: match policy.rotation {
            None => api::RotationPolicy::Unspecified,
            Some(Rotation::RoundRobin) => api::RotationPolicy::RoundRobin,
            Some(Rotation::AbilityOrder) => api::RotationPolicy::AbilityOrder,
        } as i32,
    }
}

/// How a lead's team was chosen, on the wire.
pub fn routed_by_proto(choice: &TeamChoice) -> api::RoutedBy {
    let mut routed = api::RoutedBy {
        team_id: choice.team_id().unwrap_or_default().to_string(),
        ..Default::default()
    };
    let how = match choice {
        TeamChoice::TeamHint { .. } => api::RoutedHow::TeamHint,
        TeamChoice::Rule {
            rule_id,
            version,
            reasons,
            policy_override,
            ..
        } => {
            routed.rule_id = rule_id.clone();
            routed.rules_version = *version;
            routed.reasons = reasons.clone();
            routed.policy_override = Some(override_proto(policy_override));
            api::RoutedHow::Rule
        }
        TeamChoice::Default { version, .. } => {
            routed.rules_version = *version;
            api::RoutedHow::Default
        }
        TeamChoice::Fallback { .. } => api::RoutedHow::Fallback,
        TeamChoice::NoTeam => api::RoutedHow::NoTeam,
    };
    routed.how = how as i32;
    routed
}

/// A rule's verdict, on the wire.
pub fn verdict_proto(verdict: &RuleVerdict) -> api::RuleVerdict {
    api::RuleVerdict {
        rule_id: verdict.rule_id.clone(),
        matched: verdict.matched,
        reasons: verdict.reasons.clone(),
    }
}

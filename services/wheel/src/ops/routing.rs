//! Routing rules across teams: reading them, replacing the whole ordered
//! list (admins only, at an expected version, every version kept), and
//! testing which team a lead would get, storing nothing. The matching
//! itself is the core's ([`choose_team`]).

use std::collections::HashSet;

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::wheel::v1 as api;
use leadwheel_wheel_core::{
    LeadAttributes, PolicyOverride, Rotation, RuleError, RuleMatch, RuleVerdict, TeamChoice,
    TeamRule, TeamRules, check_rules, choose_team, judge_rules,
};

use super::Wheel;
use super::access::denied;
use crate::error::WheelError;
use crate::store::{self, RulesVersion};

/// Most versions one history call returns.
const MAX_HISTORY: i32 = 100;

impl Wheel {
    /// The rules in force (version 0 and no rules when none were set).
    pub async fn routing_rules(&self, caller: &Caller) -> Result<RulesVersion, WheelError> {
        caller
            .require_role(&[Role::Admin, Role::Manager])
            .map_err(denied)?;
        let mut conn = self.read().await?;
        store::current_rules(&mut conn).await
    }

    /// Every version of the rules, newest first.
    pub async fn routing_history(
        &self,
        caller: &Caller,
        page_size: i32,
    ) -> Result<Vec<RulesVersion>, WheelError> {
        caller
            .require_role(&[Role::Admin, Role::Manager])
            .map_err(denied)?;
        if page_size < 0 {
            return Err(WheelError::invalid("page_size", "must not be negative"));
        }
        let limit = if page_size == 0 {
            MAX_HISTORY
        } else {
            page_size.min(MAX_HISTORY)
        };
        let mut conn = self.read().await?;
        store::rules_history(&mut conn, i64::from(limit)).await
    }

    /// Replaces the whole ordered list if it is still at
    /// `expected_version`; the new version is kept with who set it.
    pub async fn set_routing_rules(
        &self,
        caller: &Caller,
        request: api::SetRoutingRulesRequest,
    ) -> Result<RulesVersion, WheelError> {
        caller.require_role(&[Role::Admin]).map_err(denied)?;
        if request.expected_version < 0 {
            return Err(WheelError::invalid(
                "expected_version",
                "must not be negative",
            ));
        }
        let mut rules = parse_rules(request.rules)?;
        rules.default_team_id = request.default_team_id.trim().to_string();
        let engine = &self.engine;
        let mut tx = engine.begin().await?;
        let teams: HashSet<String> = store::team_ids(&mut tx).await?.into_iter().collect();
        check_rules(&rules, |team| teams.contains(team))?;
        let current = store::current_rules(&mut tx).await?;
        if current.rules.version != request.expected_version {
            return Err(WheelError::FailedPrecondition(format!(
                "routing rules are at version {}, not {}; read them again and retry",
                current.rules.version, request.expected_version
            )));
        }
        rules.version = current.rules.version + 1;
        let stored = RulesVersion {
            rules,
            set_by: caller.subject.clone(),
            set_at_ms: engine.now(),
        };
        if !store::insert_rules(&mut tx, &stored).await? {
            return Err(WheelError::Conflict(format!(
                "routing rules version {}",
                stored.rules.version
            )));
        }
        engine.commit(tx, Vec::new()).await?;
        tracing::info!(
            version = stored.rules.version,
            rules = stored.rules.rules.len(),
            by = %stored.set_by,
            "routing rules set"
        );
        Ok(stored)
    }

    /// Which team the rules in force give `lead`, and every rule's verdict.
    pub async fn test_routing(
        &self,
        caller: &Caller,
        request: api::TestRoutingRequest,
    ) -> Result<(TeamChoice, Vec<RuleVerdict>), WheelError> {
        caller
            .require_role(&[Role::Admin, Role::Manager])
            .map_err(denied)?;
        let lead = request
            .lead
            .ok_or_else(|| WheelError::invalid("lead", "is required"))?;
        if !(0..=100).contains(&lead.score) {
            return Err(WheelError::invalid(
                "lead.score",
                format!("{} is outside 0..=100", lead.score),
            ));
        }
        let lead = LeadAttributes {
            tier: lead.tier,
            score: lead.score,
            country: lead.country.to_ascii_uppercase(),
            source: lead.source,
            company_size: lead.company_size,
            product: lead.product,
            plan: lead.plan,
            email: lead.email,
            attributes: lead.attributes.into_iter().collect(),
            // The request's empty hint is none.
            team_hint: Some(lead.team_hint).filter(|t| !t.is_empty()),
        };
        let mut conn = self.read().await?;
        let rules = store::current_rules(&mut conn).await?.rules;
        let fallback = store::default_team_id(&mut conn).await?;
        let choice = choose_team(&rules, &lead, fallback.as_deref());
        Ok((choice, judge_rules(&rules, &lead)))
    }
}

/// The rules of a request in the core's terms; an unknown rotation is
/// refused here, everything else by [`check_rules`].
fn parse_rules(rules: Vec<api::RoutingRule>) -> Result<TeamRules, WheelError> {
    let mut parsed = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        let m = rule.r#match.unwrap_or_default();
        let policy = rule.policy_override.unwrap_or_default();
        let rotation = match api::RotationPolicy::try_from(policy.rotation) {
            Ok(api::RotationPolicy::Unspecified) => None,
            Ok(api::RotationPolicy::RoundRobin) => Some(Rotation::RoundRobin),
            Ok(api::RotationPolicy::AbilityOrder) => Some(Rotation::AbilityOrder),
            Err(_) => {
                return Err(rule_field(
                    i,
                    "policy_override.rotation",
                    format!("unknown value {}", policy.rotation),
                ));
            }
        };
        parsed.push(TeamRule {
            rule_id: rule.rule_id.trim().to_string(),
            team_id: rule.team_id.trim().to_string(),
            description: rule.description,
            conditions: RuleMatch {
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
                    .map(|(key, values)| (key, values.values))
                    .collect(),
            },
            policy_override: PolicyOverride {
                window_ms: policy.window_ms,
                rotation,
            },
        });
    }
    Ok(TeamRules {
        version: 0,
        rules: parsed,
        default_team_id: String::new(),
    })
}

/// A refusal of one field of the `i`th rule.
fn rule_field(i: usize, field: &str, message: String) -> WheelError {
    RuleError {
        field: format!("rules[{i}].{field}"),
        message,
    }
    .into()
}

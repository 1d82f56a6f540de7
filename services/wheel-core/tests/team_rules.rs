//! Routing across teams: every lead lands in exactly one team (or waits,
//! the documented fallback, when no team exists), and the first matching
//! rule wins.

use std::collections::BTreeMap;

use leadwheel_wheel_core::{
    LeadAttributes, PolicyOverride, Rotation, RuleMatch, TeamChoice, TeamConfig, TeamRule,
    TeamRules, check_rules, choose_team, judge_rules,
};
use proptest::prelude::*;

const TIERS: [&str; 4] = ["A", "B", "C", ""];
const COUNTRIES: [&str; 3] = ["US", "DE", "FR"];
const TEAMS: [&str; 3] = ["enterprise", "smb", "emea"];

fn lead() -> impl Strategy<Value = LeadAttributes> {
    (
        0usize..4,
        0i32..=100,
        0usize..3,
        0i64..5000,
        prop::bool::ANY,
        prop::option::of(0usize..2),
        prop::option::weighted(0.1, 0usize..3),
    )
        .prop_map(
            |(tier, score, country, size, gmail, plan, hint)| LeadAttributes {
                team_hint: hint.map(|t| TEAMS[t].to_string()),
                tier: TIERS[tier].into(),
                score,
                country: COUNTRIES[country].into(),
                source: "web".into(),
                company_size: size,
                product: String::new(),
                plan: plan
                    .map(|p| ["free", "enterprise"][p].to_string())
                    .unwrap_or_default(),
                email: if gmail {
                    "a@gmail.com"
                } else {
                    "a@eu.bigco.com"
                }
                .into(),
                attributes: BTreeMap::from([("industry".to_string(), "fintech".to_string())]),
            },
        )
}

fn conditions() -> impl Strategy<Value = RuleMatch> {
    (
        prop::option::of(0usize..3),
        prop::option::of((0i32..=100, 0i32..=100)),
        prop::option::of(0usize..3),
        prop::option::of(0i64..5000),
        prop::bool::ANY,
    )
        .prop_map(|(tier, score, country, size, domain)| RuleMatch {
            tiers: tier.map(|t| vec![TIERS[t].to_string()]).unwrap_or_default(),
            score_min: score.map(|(a, b)| a.min(b)),
            score_max: score.map(|(a, b)| a.max(b)),
            countries: country
                .map(|c| vec![COUNTRIES[c].to_string()])
                .unwrap_or_default(),
            company_size_min: size,
            email_domains: if domain {
                vec!["bigco.com".into()]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .prop_filter("a rule sets a condition", |m| !m.is_empty())
}

fn rule_set() -> impl Strategy<Value = TeamRules> {
    (
        prop::collection::vec((conditions(), 0usize..3), 0..6),
        prop::option::of(0usize..3),
    )
        .prop_map(|(rules, default)| TeamRules {
            version: 7,
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (conditions, team))| TeamRule {
                    rule_id: format!("r{i}"),
                    team_id: TEAMS[team].into(),
                    conditions,
                    ..Default::default()
                })
                .collect(),
            default_team_id: default.map(|t| TEAMS[t].to_string()).unwrap_or_default(),
        })
}

proptest! {
    #[test]
    fn every_lead_lands_in_exactly_one_team_and_the_first_match_wins(
        rules in rule_set(),
        lead in lead(),
        fallback in prop::option::of(0usize..3),
    ) {
        prop_assert!(check_rules(&rules, |t| TEAMS.contains(&t)).is_ok());
        let fallback = fallback.map(|t| TEAMS[t]);
        let choice = choose_team(&rules, &lead, fallback);
        let verdicts = judge_rules(&rules, &lead);
        let first = verdicts.iter().position(|v| v.matched);
        match (&choice, first) {
            (TeamChoice::TeamHint { team_id }, _) => {
                prop_assert_eq!(Some(team_id), lead.team_hint.as_ref());
            }
            _ if lead.team_hint.is_some() => prop_assert!(false, "the hint lost: {choice:?}"),
            (TeamChoice::Rule { index, rule_id, team_id, .. }, Some(first)) => {
                prop_assert_eq!(*index, first);
                prop_assert_eq!(rule_id, &rules.rules[first].rule_id);
                prop_assert_eq!(team_id, &rules.rules[first].team_id);
            }
            (TeamChoice::Default { team_id, .. }, None) => {
                prop_assert_eq!(team_id, &rules.default_team_id);
            }
            (TeamChoice::Fallback { team_id }, None) => {
                prop_assert!(rules.default_team_id.is_empty());
                prop_assert_eq!(Some(team_id.as_str()), fallback);
            }
            (TeamChoice::NoTeam, None) => {
                // The documented fallback: only when there is no team at all.
                prop_assert!(rules.default_team_id.is_empty() && fallback.is_none());
            }
            (choice, first) => prop_assert!(false, "{choice:?} with first match {first:?}"),
        }
        // Exactly one team, and a known one, whenever any team exists.
        if !rules.default_team_id.is_empty() || fallback.is_some() {
            let team = choice.team_id();
            prop_assert!(team.is_some_and(|t| TEAMS.contains(&t)));
        }
    }
}

fn enterprise_rule() -> TeamRule {
    TeamRule {
        rule_id: "tier-a-enterprise".into(),
        team_id: "enterprise".into(),
        conditions: RuleMatch {
            tiers: vec!["a".into()],
            company_size_min: Some(1000),
            ..Default::default()
        },
        policy_override: PolicyOverride {
            window_ms: Some(30_000),
            rotation: Some(Rotation::AbilityOrder),
        },
        ..Default::default()
    }
}

#[test]
fn a_match_says_why_and_a_miss_names_the_failed_condition() {
    let rules = TeamRules {
        version: 3,
        rules: vec![enterprise_rule()],
        default_team_id: "smb".into(),
    };
    let big = LeadAttributes {
        tier: "A".into(),
        company_size: 5000,
        ..Default::default()
    };
    match choose_team(&rules, &big, None) {
        TeamChoice::Rule {
            team_id,
            reasons,
            version,
            ..
        } => {
            assert_eq!((team_id.as_str(), version), ("enterprise", 3));
            assert_eq!(
                reasons,
                ["tier A is one of a", "company_size 5000 is at least 1000"]
            );
        }
        other => panic!("{other:?}"),
    }
    let small = LeadAttributes {
        company_size: 20,
        ..big
    };
    assert_eq!(
        choose_team(&rules, &small, Some("oldest")),
        TeamChoice::Default {
            version: 3,
            team_id: "smb".into()
        }
    );
    assert_eq!(
        judge_rules(&rules, &small)[0].reasons,
        ["company_size 20 is not at least 1000"]
    );
}

#[test]
fn the_override_replaces_window_and_rotation() {
    let mut config = TeamConfig::new("enterprise", vec!["r1".into()], 60_000);
    config.tier_windows.insert("A".into(), 10_000);
    enterprise_rule().policy_override.apply(&mut config);
    assert_eq!(config.window_ms, 30_000);
    assert!(config.tier_windows.is_empty());
    assert_eq!(config.rotation, Rotation::AbilityOrder);
}

#[test]
fn bad_rules_are_refused_naming_the_field() {
    let known = |t: &str| t == "enterprise" || t == "smb";
    let with = |edit: fn(&mut TeamRule)| {
        let mut rule = enterprise_rule();
        rule.rule_id = "second".into();
        edit(&mut rule);
        TeamRules {
            version: 0,
            rules: vec![enterprise_rule(), rule],
            default_team_id: String::new(),
        }
    };
    let cases: Vec<(TeamRules, &str)> = vec![
        (with(|r| r.team_id = "nope".into()), "rules[1].team_id"),
        (with(|r| r.rule_id = "x".into()), ""),
        (
            with(|r| r.conditions = RuleMatch::default()),
            "rules[1].match",
        ),
        (
            with(|r| {
                r.rule_id = "y".into();
                r.conditions.score_min = Some(90);
                r.conditions.score_max = Some(10)
            }),
            "rules[1].match.score_min",
        ),
        (
            with(|r| {
                r.rule_id = "y".into();
                r.conditions.score_max = Some(101)
            }),
            "rules[1].match.score_max",
        ),
        (
            with(|r| {
                r.rule_id = "y".into();
                r.policy_override.window_ms = Some(10)
            }),
            "rules[1].policy_override.window_ms",
        ),
        (
            with(|r| r.rule_id = "tier-a-enterprise".into()),
            "rules[1].rule_id",
        ),
        (with(|r| r.rule_id = " ".into()), "rules[1].rule_id"),
        (
            with(|r| r.policy_override.window_ms = Some(4_000_000)),
            "rules[1].policy_override.window_ms",
        ),
        (
            with(|r| r.conditions.company_size_max = Some(5)),
            "rules[1].match.company_size_min",
        ),
        (
            TeamRules {
                version: 0,
                rules: vec![],
                default_team_id: "ghost".into(),
            },
            "default_team_id",
        ),
    ];
    for (rules, field) in cases {
        match check_rules(&rules, known) {
            Ok(()) => assert_eq!(field, "", "{rules:?} was accepted"),
            Err(err) => assert_eq!(err.field, field, "{err}"),
        }
    }
}

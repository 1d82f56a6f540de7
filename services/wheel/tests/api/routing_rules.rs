//! Routing across teams over the real API: rules set, listed, versioned,
//! audited and tested; bad rules refused naming the field with nothing
//! changed; only admins change them; a lead routed by the first matching
//! rule with the rule's window and rotation; intake's team hint first.

use std::collections::HashMap;

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, subjects};
use leadwheel_plumbing::testing::{self, TestDb};
use leadwheel_plumbing::{now_ms, on_both_backends};
use leadwheel_proto::events::v1::{LeadAssigned, LeadCreated};
use leadwheel_proto::wheel::v1::*;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, spawn_app_on};
use crate::support::{events_at_least, explain, manager, open_offer, team, upsert};

/// Teams `enterprise` (e1, e2) and `smb` (s1), windows of a minute.
async fn two_teams(app: &TestApp) {
    upsert(app, team("enterprise", "maya", &["e1", "e2"], 60_000, None)).await;
    upsert(app, team("smb", "sam", &["s1"], 60_000, None)).await;
}

/// Tier-A companies of 1000+ go to enterprise, offered strongest first
/// with a 5 s window; the rest to smb.
fn enterprise_rules(expected_version: i64) -> SetRoutingRulesRequest {
    SetRoutingRulesRequest {
        rules: vec![RoutingRule {
            rule_id: "tier-a-enterprise".into(),
            team_id: "enterprise".into(),
            r#match: Some(RoutingMatch {
                tiers: vec!["A".into()],
                company_size_min: Some(1000),
                ..Default::default()
            }),
            policy_override: Some(PolicyOverride {
                window_ms: Some(5_000),
                rotation: RotationPolicy::AbilityOrder as i32,
            }),
            description: "big tier-A companies".into(),
        }],
        default_team_id: "smb".into(),
        expected_version,
    }
}

fn tier_a_big() -> RoutingLead {
    RoutingLead {
        tier: "A".into(),
        score: 90,
        company_size: 5000,
        email: "cto@bigco.com".into(),
        ..Default::default()
    }
}

async fn rules_are_set_listed_versioned_and_audited(db: TestDb) {
    let app = spawn_app_on(db).await;
    two_teams(&app).await;
    let mut admin = app.admin().await;
    let none = admin
        .list_routing_rules(ListRoutingRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_set
        .unwrap();
    assert_eq!((none.version, none.rules.len()), (0, 0));

    let v1 = admin
        .set_routing_rules(enterprise_rules(0))
        .await
        .unwrap()
        .into_inner()
        .rule_set
        .unwrap();
    assert_eq!((v1.version, v1.set_by.as_str()), (1, "admin"));
    let mut second = enterprise_rules(1);
    second.default_team_id = "enterprise".into();
    admin.set_routing_rules(second).await.unwrap();

    // A stale version changes nothing.
    let stale = admin.set_routing_rules(enterprise_rules(1)).await;
    crate::support::refused(
        stale,
        Code::FailedPrecondition,
        Some("version 2"),
        "stale set",
    );
    let current = admin
        .list_routing_rules(ListRoutingRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_set
        .unwrap();
    assert_eq!(
        (current.version, current.default_team_id.as_str()),
        (2, "enterprise")
    );
    assert_eq!(current.rules, v1.rules, "the rules read back as set");

    // Testing stores nothing and says why.
    let tested = admin
        .test_routing(TestRoutingRequest {
            lead: Some(tier_a_big()),
        })
        .await
        .unwrap()
        .into_inner();
    let routed = tested.routed_by.unwrap();
    assert_eq!(routed.how, RoutedHow::Rule as i32);
    assert_eq!(
        (
            routed.team_id.as_str(),
            routed.rule_id.as_str(),
            routed.rules_version
        ),
        ("enterprise", "tier-a-enterprise", 2)
    );
    assert_eq!(
        routed.reasons,
        ["tier A is one of A", "company_size 5000 is at least 1000"]
    );
    let small = admin
        .test_routing(TestRoutingRequest {
            lead: Some(RoutingLead {
                company_size: 20,
                ..tier_a_big()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(small.routed_by.unwrap().how, RoutedHow::Default as i32);
    assert_eq!(
        small.verdicts[0].reasons,
        ["company_size 20 is not at least 1000"]
    );
    assert!(!small.verdicts[0].matched);

    // Every version is kept, newest first, with who and when.
    let history = admin
        .list_routing_rule_history(ListRoutingRuleHistoryRequest { page_size: 0 })
        .await
        .unwrap()
        .into_inner()
        .versions;
    let versions: Vec<(i64, &str, &str)> = history
        .iter()
        .map(|v| (v.version, v.default_team_id.as_str(), v.set_by.as_str()))
        .collect();
    assert_eq!(versions, [(2, "enterprise", "admin"), (1, "smb", "admin")]);
    assert!(history.iter().all(|v| v.set_at_ms > 0));
}

async fn bad_rules_are_refused_naming_the_field(db: TestDb) {
    let app = spawn_app_on(db).await;
    two_teams(&app).await;
    let mut admin = app.admin().await;
    admin.set_routing_rules(enterprise_rules(0)).await.unwrap();
    type Edit = fn(&mut RoutingRule);
    let cases: [(&str, Edit); 8] = [
        ("rules[0].team_id", |r| r.team_id = "nobody".into()),
        ("rules[0].match", |r| r.r#match = None),
        ("rules[0].match.score_min", |r| {
            let m = r.r#match.as_mut().unwrap();
            m.score_min = Some(80);
            m.score_max = Some(20);
        }),
        ("rules[0].match.score_max", |r| {
            r.r#match.as_mut().unwrap().score_max = Some(101)
        }),
        ("rules[0].match.company_size_min", |r| {
            r.r#match.as_mut().unwrap().company_size_max = Some(10)
        }),
        ("rules[0].policy_override.rotation", |r| {
            r.policy_override.as_mut().unwrap().rotation = 99
        }),
        ("rules[0].policy_override.window_ms", |r| {
            r.policy_override.as_mut().unwrap().window_ms = Some(500)
        }),
        ("rules[0].rule_id", |r| r.rule_id = " ".into()),
    ];
    for (field, edit) in cases {
        let mut request = enterprise_rules(1);
        edit(&mut request.rules[0]);
        expect_field(admin.set_routing_rules(request).await, field);
    }
    let mut twice = enterprise_rules(1);
    twice.rules.push(twice.rules[0].clone());
    expect_field(admin.set_routing_rules(twice).await, "rules[1].rule_id");
    let mut ghost_default = enterprise_rules(1);
    ghost_default.default_team_id = "ghost".into();
    expect_field(
        admin.set_routing_rules(ghost_default).await,
        "default_team_id",
    );

    let current = admin
        .list_routing_rules(ListRoutingRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_set
        .unwrap();
    assert_eq!(current.version, 1, "nothing changed");
    let history = admin
        .list_routing_rule_history(ListRoutingRuleHistoryRequest { page_size: 10 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.versions.len(), 1);
}

#[track_caller]
fn expect_field<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = result.expect_err(field);
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{field}: {}",
        status.message()
    );
    let details = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("{field}: no field details in {status:?}"));
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, [field], "{}", status.message());
}

async fn only_admins_change_rules(db: TestDb) {
    let app = spawn_app_on(db).await;
    two_teams(&app).await;
    let mut boss = manager(&app, "maya", None).await;
    let refused = boss.set_routing_rules(enterprise_rules(0)).await;
    crate::support::refused(
        refused,
        Code::PermissionDenied,
        None,
        "a manager sets rules",
    );
    let mut rep = app.client_as("e1", Role::Rep).await;
    let refused = rep.set_routing_rules(enterprise_rules(0)).await;
    crate::support::refused(refused, Code::PermissionDenied, None, "a rep sets rules");
    let refused = rep.list_routing_rules(ListRoutingRulesRequest {}).await;
    crate::support::refused(refused, Code::PermissionDenied, None, "a rep reads rules");
    // Managers read and test them.
    boss.list_routing_rules(ListRoutingRulesRequest {})
        .await
        .unwrap();
    boss.test_routing(TestRoutingRequest {
        lead: Some(tier_a_big()),
    })
    .await
    .unwrap();
    let history = app
        .admin()
        .await
        .list_routing_rule_history(ListRoutingRuleHistoryRequest { page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(history.versions.is_empty(), "nothing was set");
}

/// Publishes `intake.lead.created` with routing attributes.
async fn signup(app: &TestApp, lead_id: &str, tier: &str, size: i64, team_hint: &str) {
    let created = LeadCreated {
        lead_id: lead_id.into(),
        email: format!("{lead_id}@bigco.com"),
        name: format!("Person {lead_id}"),
        company: "Bigco".into(),
        domain: "bigco.com".into(),
        tier: tier.into(),
        score: 80,
        company_size: size,
        team_hint: (!team_hint.is_empty()).then(|| team_hint.to_string()),
        attributes: HashMap::from([("industry".to_string(), "fintech".to_string())]),
        created_at_ms: now_ms(),
        ..Default::default()
    };
    testing::publish_event(
        &app.nats.url(),
        &INTAKE_STREAM,
        subjects::LEAD_CREATED,
        lead_id,
        &created,
    )
    .await
    .unwrap();
}

async fn a_lead_is_routed_by_the_first_matching_rule_with_its_override(db: TestDb) {
    let app = spawn_app_on(db).await;
    two_teams(&app).await;
    let mut admin = app.admin().await;
    // e2 is the stronger rep: ability order (the rule's override) offers
    // them first where the team's round robin would start with e1.
    admin
        .update_rep(UpdateRepRequest {
            rep_id: "e2".into(),
            rank: 10,
            capacity: 0,
        })
        .await
        .unwrap();
    admin.set_routing_rules(enterprise_rules(0)).await.unwrap();

    signup(&app, "big", "A", 5000, "").await;
    assert_eq!(app.offered_to("big").await, "e2");
    let routing = crate::support::routing(&app, "big").await;
    assert_eq!(routing.team_id, "enterprise");
    let offer = open_offer(&routing).unwrap();
    assert_eq!(
        offer.deadline_ms - offer.opened_at_ms,
        5_000,
        "the rule's window"
    );
    let ledger = explain(&app, "big").await;
    let routed = ledger.routed_by.clone().unwrap();
    assert_eq!(
        (routed.how, routed.rule_id.as_str(), routed.rules_version),
        (RoutedHow::Rule as i32, "tier-a-enterprise", 1)
    );
    let line = ledger
        .entries
        .iter()
        .find(|e| e.kind == "routed")
        .expect("a routed ledger line");
    assert!(
        line.detail
            .contains("rule tier-a-enterprise (rules v1) chose team enterprise"),
        "{}",
        line.detail
    );

    // The rest go to the default team, with its own window.
    signup(&app, "small", "C", 10, "").await;
    assert_eq!(app.offered_to("small").await, "s1");
    let routing = crate::support::routing(&app, "small").await;
    let offer = open_offer(&routing).unwrap();
    assert_eq!(offer.deadline_ms - offer.opened_at_ms, 60_000);
    let routed = explain(&app, "small").await.routed_by.unwrap();
    assert_eq!(
        (routed.how, routed.team_id.as_str()),
        (RoutedHow::Default as i32, "smb")
    );

    // Intake's team hint (the account owner's team) wins over the rules.
    signup(&app, "hinted", "A", 5000, "smb").await;
    assert_eq!(app.offered_to("hinted").await, "s1");
    let routed = explain(&app, "hinted").await.routed_by.unwrap();
    assert_eq!(routed.how, RoutedHow::TeamHint as i32);

    // Each assignment names how its team was chosen (for reporting's
    // routing outcome by rule).
    for (lead, rep) in [("big", "e2"), ("small", "s1"), ("hinted", "s1")] {
        app.rep(rep)
            .await
            .claim(ClaimRequest {
                lead_id: lead.into(),
                rep_id: rep.into(),
            })
            .await
            .unwrap_or_else(|err| panic!("{rep} claims {lead}: {err}"));
    }
    let assigned: Vec<(String, LeadAssigned)> =
        events_at_least(&app, subjects::LEAD_ASSIGNED, 3).await;
    let how: HashMap<String, (String, String, i64)> = assigned
        .into_iter()
        .map(|(_, a)| {
            (
                a.lead_id,
                (a.routed_by, a.routing_rule_id, a.routing_rules_version),
            )
        })
        .collect();
    assert_eq!(
        how["big"],
        ("rule".into(), "tier-a-enterprise".into(), 1),
        "{how:?}"
    );
    assert_eq!(how["small"], ("default".into(), String::new(), 1));
    assert_eq!(how["hinted"], ("team_hint".into(), String::new(), 0));
}

on_both_backends!(
    rules_are_set_listed_versioned_and_audited,
    bad_rules_are_refused_naming_the_field,
    only_admins_change_rules,
    a_lead_is_routed_by_the_first_matching_rule_with_its_override,
);

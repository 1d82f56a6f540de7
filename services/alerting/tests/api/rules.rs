//! Rules per team: defaults, set by the team's manager, refused with the
//! field named when bad, and obeyed (a disabled rule raises nothing; a
//! shorter threshold fires sooner).

use std::time::Duration;

use leadwheel_alerting::Clock;
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::alerting::v1::{ListRulesRequest, Rule, SetRuleRequest};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::Fixture;
use crate::lifecycle::{all_alerts, lead_opened, wait_for};

fn rule(team_id: &str, name: &str) -> Rule {
    Rule {
        team_id: team_id.into(),
        rule: name.into(),
        enabled: true,
        threshold_seconds: 60,
        recipients: "rep".into(),
        ..Default::default()
    }
}

on_both_backends!(a_manager_sets_their_teams_rules_and_bad_ones_name_the_field);
async fn a_manager_sets_their_teams_rules_and_bad_ones_name_the_field(db: TestDb) {
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::north(db, leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    let mut maya = app.client("maya", Role::Manager).await;

    let defaults = maya
        .list_rules(ListRulesRequest {
            team_id: "north".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    let names: Vec<&str> = defaults.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        names,
        [
            "no_first_touch",
            "stuck_in_stage",
            "follow_up_overdue",
            "silent_customer",
            "rep_saturated",
            "handover_task_overdue",
            "forecast_below_quota"
        ]
    );
    assert_eq!(defaults[3].tier_threshold_seconds["A"], 14 * 86_400);
    assert_eq!((defaults[4].share_percent, defaults[4].min_count), (50, 10));
    assert!(defaults.iter().all(|r| r.is_default && r.enabled));
    let forecast = &defaults[6];
    assert_eq!(
        (
            forecast.period.as_str(),
            forecast.check_at_percent,
            forecast.threshold_percent
        ),
        ("month", 50, 80)
    );
    assert_eq!(forecast.recipients, "manager");
    assert_eq!(defaults[0].threshold_seconds, 4 * 3_600);
    assert_eq!(defaults[1].stage_threshold_seconds["trial"], 21 * 86_400);
    assert_eq!(defaults[1].recipients, "both");

    // Wait for the directory to know maya manages north.
    leadwheel_plumbing::testing::eventually(
        crate::helpers::WAIT,
        "maya may set north's rules",
        || {
            let mut maya = maya.clone();
            async move {
                maya.set_rule(SetRuleRequest {
                    rule: Some(Rule {
                        escalate_after_seconds: 120,
                        ..rule("north", "no_first_touch")
                    }),
                })
                .await
                .ok()
            }
        },
    )
    .await;
    let set = maya
        .list_rules(ListRulesRequest {
            team_id: "north".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert!(!set[0].is_default);
    assert_eq!(
        (set[0].threshold_seconds, set[0].updated_by.as_str()),
        (60, "maya")
    );
    assert!(set[1].is_default);

    let bad = [
        (
            Rule {
                threshold_seconds: -1,
                ..rule("north", "no_first_touch")
            },
            "rule.threshold_seconds",
        ),
        (
            Rule {
                threshold_seconds: 400 * 86_400,
                ..rule("north", "no_first_touch")
            },
            "rule.threshold_seconds",
        ),
        (
            Rule {
                escalate_after_seconds: -3,
                ..rule("north", "no_first_touch")
            },
            "rule.escalate_after_seconds",
        ),
        (rule("north", "stale_vibes"), "rule.rule"),
        (
            Rule {
                recipients: "all".into(),
                ..rule("north", "no_first_touch")
            },
            "rule.recipients",
        ),
        (
            Rule {
                stage_threshold_seconds: [("nirvana".to_string(), 60)].into(),
                ..rule("north", "stuck_in_stage")
            },
            "rule.stage_threshold_seconds",
        ),
        (rule("", "no_first_touch"), "rule.team_id"),
        (
            Rule {
                escalate_after_seconds: 60,
                second_escalation_to: "vp".into(),
                ..rule("north", "no_first_touch")
            },
            "rule.second_escalate_after_seconds",
        ),
        (
            Rule {
                escalate_after_seconds: 60,
                second_escalate_after_seconds: 60,
                ..rule("north", "no_first_touch")
            },
            "rule.second_escalation_to",
        ),
        (
            Rule {
                share_percent: 50,
                ..rule("north", "no_first_touch")
            },
            "rule.share_percent",
        ),
        (
            Rule {
                share_percent: 0,
                min_count: 5,
                ..rule("north", "rep_saturated")
            },
            "rule.share_percent",
        ),
        (
            Rule {
                share_percent: 50,
                min_count: 0,
                ..rule("north", "rep_saturated")
            },
            "rule.min_count",
        ),
        (
            Rule {
                tier_threshold_seconds: [("A".to_string(), 60)].into(),
                ..rule("north", "stuck_in_stage")
            },
            "rule.tier_threshold_seconds",
        ),
        (
            Rule {
                tier_threshold_seconds: [("A".to_string(), -60)].into(),
                ..rule("north", "silent_customer")
            },
            "rule.tier_threshold_seconds",
        ),
    ];
    for (rule, field) in bad {
        let status = maya
            .set_rule(SetRuleRequest {
                rule: Some(rule.clone()),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{rule:?}");
        assert_eq!(
            status.get_details_bad_request().unwrap().field_violations[0].field,
            field
        );
    }
    let missing = maya
        .set_rule(SetRuleRequest { rule: None })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    // Nothing changed by the refusals.
    let after = maya
        .list_rules(ListRulesRequest {
            team_id: "north".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(after, set);

    let mut ana = app.client("ana", Role::Rep).await;
    let denied = ana
        .set_rule(SetRuleRequest {
            rule: Some(rule("north", "no_first_touch")),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mut sam = app.client("sam", Role::Manager).await;
    let denied = sam
        .set_rule(SetRuleRequest {
            rule: Some(rule("north", "no_first_touch")),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // The 60 s threshold is what the timer uses.
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &lead_opened("lead-1", "ana", t0),
    )
    .await;
    tables
        .wait_timer("rule:no_first_touch:lead-1", t0 + 60_000)
        .await;
    clock.advance(Duration::from_secs(61));
    let alert = wait_for(&app, "the alert", |a| a.subject_key == "lead-1").await;
    assert_eq!(alert.recipient_ids, ["ana"]);
    assert_eq!(
        tables
            .timer_due(&format!("escalate:{}", alert.alert_id))
            .await,
        Some(clock.now_ms() + 120_000)
    );
    tables.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_rule_raises_nothing() {
    let Fixture {
        env: _env,
        clock,
        app,
        tables,
    } = Fixture::start(TestDb::sqlite(), leadwheel_plumbing::now_ms()).await;
    let t0 = clock.now_ms();
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                enabled: false,
                ..rule("north", "no_first_touch")
            }),
        })
        .await
        .unwrap();
    // Armed for south (defaults), not for north (disabled).
    let mut south = lead_opened("lead-s", "sue", t0);
    south.team_id = "south".into();
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-n",
        &lead_opened("lead-n", "ana", t0),
    )
    .await;
    app.opps(subjects::OPPS_LEAD_OPENED, "lead-s", &south).await;
    tables
        .wait_timer("rule:no_first_touch:lead-s", t0 + 4 * 3_600_000)
        .await;
    assert_eq!(tables.timer_due("rule:no_first_touch:lead-n").await, None);
    clock.advance(Duration::from_secs(5 * 3_600));
    wait_for(&app, "south's alert", |a| a.subject_key == "lead-s").await;
    assert!(
        all_alerts(&app)
            .await
            .iter()
            .all(|a| a.subject_key != "lead-n")
    );
    tables.close().await;
    app.stop().await;
}

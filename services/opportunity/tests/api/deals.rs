//! Conversion, stages, probability overrides, weighted values, owner locks
//! and two managers reassigning one deal at once.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{
    AccountChanged, LeadConverted, OpportunityAmountChanged, OpportunityClosed, OpportunityOpened,
    OpportunityOwnerChanged, OpportunityStageChanged,
};
use leadwheel_proto::opportunity::v1::{
    ChangeOwnerRequest, GetAccountRequest, GetOpportunityRequest, ListStagesRequest,
    MoveStageRequest, OverrideProbabilityRequest, SetStageRequest, Stage,
};
use tonic::Code;

use crate::helpers::{
    Env, conversion, opportunity, refused, spawn_app, two_teams, wait_events, wait_lead,
};

fn move_to(opportunity_id: &str, stage: &str, reason: &str) -> MoveStageRequest {
    MoveStageRequest {
        opportunity_id: opportunity_id.into(),
        stage: stage.into(),
        reason: reason.into(),
        expected_version: 0,
    }
}

on_both_backends!(stages_overrides_and_weighted_values);
async fn stages_overrides_and_weighted_values(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    let mut ana = app.client("ana", Role::Rep).await;
    let mut root = app.client("root", Role::Admin).await;

    let stages = ana
        .list_stages(ListStagesRequest {})
        .await
        .unwrap()
        .into_inner()
        .stages;
    let defaults: Vec<(&str, i32, bool, &str)> = stages
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.probability_percent,
                s.owner_locked,
                s.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        defaults,
        [
            ("needs_identified", 30, false, "open"),
            ("trial", 60, false, "open"),
            ("commercial", 90, true, "open"),
            ("won", 100, false, "won"),
            ("lost", 0, false, "lost"),
        ]
    );

    app.assign("lead-1", "ana", "north").await;
    wait_lead(&app, "lead-1").await;
    let mut request = conversion("lead-1", "ACME.com", 1_000_000);
    request.account_name = "Acme".into();
    let converted = ana
        .convert_lead(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!converted.joined_existing_account);
    let account = converted.account.clone().unwrap();
    assert_eq!(account.domains, ["acme.com"]);
    assert_eq!(account.owner_rep_id, "ana");
    let opp = converted.opportunity.unwrap();
    assert_eq!(
        (
            opp.stage.as_str(),
            opp.probability_percent,
            opp.weighted_minor
        ),
        ("needs_identified", 30, 300_000)
    );
    // A retried conversion answers as the first did.
    let again = ana.convert_lead(request).await.unwrap().into_inner();
    assert_eq!(
        again.opportunity.unwrap().opportunity_id,
        opp.opportunity_id
    );
    let id = opp.opportunity_id.clone();

    let moved = ana
        .move_stage(move_to(&id, "trial", "demo went well"))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (moved.probability_percent, moved.weighted_minor),
        (60, 600_000)
    );

    let overridden = ana
        .override_probability(OverrideProbabilityRequest {
            opportunity_id: id.clone(),
            probability_percent: 45,
            clear: false,
            reason: "budget not signed".into(),
            expected_version: moved.version,
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert!(overridden.probability_overridden);
    assert_eq!(
        (overridden.probability_percent, overridden.weighted_minor),
        (45, 450_000)
    );

    // A second deal in trial, without an override.
    let other = opportunity(&app, "lead-2", "ana", "north", 200_000).await;
    ana.move_stage(move_to(&other.opportunity_id, "trial", ""))
        .await
        .unwrap();

    // The admin changes trial's probability: the plain deal follows, the
    // overridden one keeps its override.
    root.set_stage(SetStageRequest {
        stage: Some(Stage {
            name: "trial".into(),
            position: 20,
            probability_percent: 70,
            owner_locked: false,
            stale_days: 21,
            outcome: "open".into(),
        }),
    })
    .await
    .unwrap();
    let get = |id: &str| GetOpportunityRequest {
        opportunity_id: id.into(),
    };
    let plain = ana
        .get_opportunity(get(&other.opportunity_id))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (plain.probability_percent, plain.weighted_minor),
        (70, 140_000)
    );
    let kept = ana
        .get_opportunity(get(&id))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (kept.probability_percent, kept.weighted_minor),
        (45, 450_000)
    );
    assert_eq!(kept.probability_override_reason, "budget not signed");
    // Only admins shape the pipeline.
    refused(
        ana.set_stage(SetStageRequest {
            stage: Some(Stage {
                name: "trial".into(),
                position: 20,
                probability_percent: 10,
                outcome: "open".into(),
                ..Default::default()
            }),
        })
        .await,
        Code::PermissionDenied,
        "only admins shape the pipeline",
    );

    let cleared = ana
        .override_probability(OverrideProbabilityRequest {
            opportunity_id: id.clone(),
            clear: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert!(!cleared.probability_overridden);
    assert_eq!(cleared.probability_percent, 70);

    ana.move_stage(move_to(&id, "commercial", "proposal sent"))
        .await
        .unwrap();
    let status = refused(
        ana.move_stage(move_to(&id, "won", "")).await,
        Code::InvalidArgument,
        "closing a deal takes a reason",
    );
    assert_eq!(crate::helpers::field_of(&status), "reason");
    let won = ana
        .move_stage(move_to(&id, "won", "signed"))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (
            won.status.as_str(),
            won.probability_percent,
            won.weighted_minor
        ),
        ("won", 100, 1_000_000)
    );
    assert_eq!(won.close_reason, "signed");
    refused(
        ana.move_stage(move_to(&id, "trial", "reopen")).await,
        Code::FailedPrecondition,
        "closed deals do not change",
    );

    let history = ana
        .get_opportunity(get(&id))
        .await
        .unwrap()
        .into_inner()
        .history;
    let path: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|h| {
            (
                h.from_stage.as_str(),
                h.to_stage.as_str(),
                h.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        path,
        [
            ("", "needs_identified", "converted from lead lead-1"),
            ("needs_identified", "trial", "demo went well"),
            ("trial", "commercial", "proposal sent"),
            ("commercial", "won", "signed"),
        ]
    );
    assert!(history.iter().all(|h| h.by == "ana" && h.at_ms > 0));
    assert!(history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));

    // A second lead from a known company joins its account and its owner.
    app.assign("lead-3", "bo", "north").await;
    wait_lead(&app, "lead-3").await;
    let mut bo = app.client("bo", Role::Rep).await;
    let mut request = conversion("lead-3", "acme.com", 50_000);
    request.domains.push("Acme.de".into());
    let joined = bo.convert_lead(request).await.unwrap().into_inner();
    assert!(joined.joined_existing_account);
    let account = joined.account.unwrap();
    assert_eq!(
        account.account_id,
        converted.account.as_ref().unwrap().account_id
    );
    assert_eq!(account.domains, ["acme.com", "acme.de"]);
    assert_eq!(account.version, 2);
    assert_eq!(joined.opportunity.unwrap().owner_rep_id, "ana");
    let full = ana
        .get_account(GetAccountRequest {
            account_id: account.account_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(full.opportunities.len(), 2);

    let opened = wait_events::<OpportunityOpened>(&app, subjects::OPPS_OPPORTUNITY_OPENED, 3).await;
    assert_eq!(opened.len(), 3);
    let state = opened[0].1.opportunity.clone().unwrap();
    assert_eq!(
        (
            state.amount_minor,
            state.currency.as_str(),
            state.probability_percent,
            state.weighted_minor
        ),
        (1_000_000, "EUR", 30, 300_000)
    );
    assert_eq!(
        (state.owner_rep_id.as_str(), state.team_id.as_str()),
        ("ana", "north")
    );
    let converted_events =
        wait_events::<LeadConverted>(&app, subjects::OPPS_LEAD_CONVERTED, 3).await;
    assert_eq!(
        converted_events[2].1.rep_id, "bo",
        "the converting rep's capacity is freed"
    );
    let stage_changes =
        wait_events::<OpportunityStageChanged>(&app, subjects::OPPS_OPPORTUNITY_STAGE_CHANGED, 3)
            .await;
    let ours: Vec<_> = stage_changes.iter().filter(|(k, _)| *k == id).collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[1].1.from_stage, "trial");
    assert_eq!(ours[1].1.to_stage, "commercial");
    let closed = wait_events::<OpportunityClosed>(&app, subjects::OPPS_OPPORTUNITY_CLOSED, 1).await;
    assert!(closed[0].1.won);
    assert_eq!(
        closed[0].1.opportunity.as_ref().unwrap().weighted_minor,
        1_000_000
    );
    let amounts =
        wait_events::<OpportunityAmountChanged>(&app, subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED, 2)
            .await;
    assert_eq!(amounts[0].1.previous_probability_percent, 60);
    assert_eq!(
        amounts[0]
            .1
            .opportunity
            .as_ref()
            .unwrap()
            .probability_percent,
        45
    );
    let accounts = wait_events::<AccountChanged>(&app, subjects::OPPS_ACCOUNT_UPDATED, 1).await;
    assert_eq!(accounts[0].1.version, 2);
    assert_eq!(accounts[0].1.domains, ["acme.com", "acme.de"]);
    app.stop().await;
}

on_both_backends!(owner_locks_and_two_managers_at_once);
async fn owner_locks_and_two_managers_at_once(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    let opp = opportunity(&app, "lead-1", "ana", "north", 100_000).await;
    let id = opp.opportunity_id.clone();
    let change = |to: &str, force: bool, reason: &str, version: i64| ChangeOwnerRequest {
        opportunity_id: id.clone(),
        to_rep_id: to.into(),
        reason: reason.into(),
        force,
        expected_version: version,
    };
    let mut ana = app.client("ana", Role::Rep).await;
    let mut maya = app.client("maya", Role::Manager).await;
    let mut sue = app.client("sue", Role::Manager).await;
    let mut root = app.client("root", Role::Admin).await;

    refused(
        ana.change_owner(change("bo", false, "", 0)).await,
        Code::PermissionDenied,
        "reps do not change owners",
    );
    refused(
        sue.change_owner(change("dee", false, "", 0)).await,
        Code::PermissionDenied,
        "sue does not manage north",
    );
    refused(
        maya.change_owner(change("dee", false, "", 0)).await,
        Code::PermissionDenied,
        "dee is not maya's rep",
    );
    refused(
        maya.change_owner(change("ghost", false, "", 0)).await,
        Code::NotFound,
        "ghost is no rep",
    );

    let moved = maya
        .change_owner(change("bo", false, "ana is overloaded", 0))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(moved.owner_rep_id, "bo");
    let account = root
        .get_account(GetAccountRequest {
            account_id: moved.account_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(account.owner_rep_id, "bo", "the account follows its deal");

    let mut bo = app.client("bo", Role::Rep).await;
    bo.move_stage(move_to(&id, "commercial", "pricing agreed"))
        .await
        .unwrap();
    let locked = refused(
        maya.change_owner(change("cy", false, "rebalance", 0)).await,
        Code::FailedPrecondition,
        "commercial locks the owner",
    );
    assert!(
        locked.message().contains("commercial"),
        "{}",
        locked.message()
    );
    refused(
        maya.change_owner(change("cy", true, "rebalance", 0)).await,
        Code::PermissionDenied,
        "managers cannot force",
    );
    let status = refused(
        root.change_owner(change("cy", true, "", 0)).await,
        Code::InvalidArgument,
        "forcing takes a reason",
    );
    assert_eq!(crate::helpers::field_of(&status), "reason");
    let forced = root
        .change_owner(change("cy", true, "bo left for a week", 0))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(forced.owner_rep_id, "cy");

    let events =
        wait_events::<OpportunityOwnerChanged>(&app, subjects::OPPS_OPPORTUNITY_OWNER_CHANGED, 2)
            .await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        (
            events[0].1.from_rep_id.as_str(),
            events[0].1.to_rep_id.as_str()
        ),
        ("ana", "bo")
    );
    assert!(!events[0].1.forced);
    assert!(events[1].1.forced);
    assert_eq!(events[1].1.reason, "bo left for a week");
    let owners = wait_events::<AccountChanged>(&app, subjects::OPPS_ACCOUNT_OWNER_CHANGED, 2).await;
    assert_eq!(owners[1].1.owner_rep_id, "cy");
    assert!(owners[1].1.version > owners[0].1.version);

    // Two managers reassign the same deal at once, each from the version
    // they saw: exactly one wins, the other is told to re-read.
    let race = opportunity(&app, "lead-2", "ana", "north", 5_000).await;
    let mut nora = app.team_manager("nora", "north").await;
    let request = |to: &str| ChangeOwnerRequest {
        opportunity_id: race.opportunity_id.clone(),
        to_rep_id: to.into(),
        reason: "race".into(),
        force: false,
        expected_version: race.version,
    };
    let (first, second) = tokio::join!(
        maya.change_owner(request("bo")),
        nora.change_owner(request("cy"))
    );
    let outcomes = [first, second];
    let winners: Vec<String> = outcomes
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| {
            r.get_ref()
                .opportunity
                .as_ref()
                .unwrap()
                .owner_rep_id
                .clone()
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let loser = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(loser.code(), Code::Aborted, "{loser:?}");
    let now = root
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: race.opportunity_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(now.owner_rep_id, winners[0]);
    assert_eq!(now.version, race.version + 1);
    let events =
        wait_events::<OpportunityOwnerChanged>(&app, subjects::OPPS_OPPORTUNITY_OWNER_CHANGED, 3)
            .await;
    assert_eq!(
        events
            .iter()
            .filter(|(k, _)| *k == race.opportunity_id)
            .count(),
        1
    );
    app.stop().await;
}

on_both_backends!(a_conversion_without_a_close_date_gets_the_default);
async fn a_conversion_without_a_close_date_gets_the_default(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    app.assign("lead-d", "ana", "north").await;
    wait_lead(&app, "lead-d").await;
    let mut ana = app.client("ana", Role::Rep).await;
    let request = leadwheel_proto::opportunity::v1::ConvertLeadRequest {
        expected_close_date: String::new(),
        ..conversion("lead-d", "dflt.example", 1_000)
    };
    let before = leadwheel_plumbing::now_ms();
    let opp = ana
        .convert_lead(request)
        .await
        .expect("converting without a close date")
        .into_inner()
        .opportunity
        .expect("an opportunity");
    let after = leadwheel_plumbing::now_ms();
    // The conversion day (UTC) plus the default 30 days.
    let expected = [
        leadwheel_opportunity::rules::date_after(before, 30),
        leadwheel_opportunity::rules::date_after(after, 30),
    ];
    assert!(
        expected.contains(&opp.expected_close_date),
        "{} is not 30 days after today",
        opp.expected_close_date
    );
    app.stop().await;
}

on_both_backends!(forecast_categories_default_by_stage_and_set_by_the_owner);
async fn forecast_categories_default_by_stage_and_set_by_the_owner(db: TestDb) {
    use leadwheel_proto::events::v1::OpportunityAmountChanged;
    use leadwheel_proto::opportunity::v1::SetForecastCategoryRequest;

    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    let opp = opportunity(&app, "lead-fc", "ana", "north", 10_000).await;
    // needs_identified (30%): pipeline, by default.
    assert_eq!(
        (opp.forecast_category.as_str(), opp.forecast_category_set),
        ("pipeline", false)
    );
    let mut ana = app.client("ana", Role::Rep).await;
    let set = |category: &str| SetForecastCategoryRequest {
        opportunity_id: opp.opportunity_id.clone(),
        category: category.into(),
        expected_version: 0,
    };
    let committed = ana
        .set_forecast_category(set("commit"))
        .await
        .expect("the owner commits the deal")
        .into_inner()
        .opportunity
        .expect("the opportunity");
    assert_eq!(
        (
            committed.forecast_category.as_str(),
            committed.forecast_category_set
        ),
        ("commit", true)
    );
    let status = refused(
        ana.set_forecast_category(set("maybe")).await,
        Code::InvalidArgument,
        "an unknown category",
    );
    assert_eq!(crate::helpers::field_of(&status), "category");
    let mut bo = app.client("bo", Role::Rep).await;
    refused(
        bo.set_forecast_category(set("pipeline")).await,
        Code::PermissionDenied,
        "another rep's deal",
    );
    // Back to the stage's default; the events carry the category.
    ana.move_stage(move_to(&opp.opportunity_id, "commercial", ""))
        .await
        .expect("to commercial");
    let back = ana
        .set_forecast_category(set(""))
        .await
        .expect("back to the default")
        .into_inner()
        .opportunity
        .expect("the opportunity");
    assert_eq!(
        back.forecast_category, "commit",
        "commercial (90%) defaults to commit"
    );
    let changed =
        wait_events::<OpportunityAmountChanged>(&app, subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED, 2)
            .await;
    let categories: Vec<&str> = changed
        .iter()
        .map(|(_, e)| {
            e.opportunity
                .as_ref()
                .expect("state")
                .forecast_category
                .as_str()
        })
        .collect();
    assert_eq!(categories, ["commit", "commit"]);
    app.stop().await;
}

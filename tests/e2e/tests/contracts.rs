//! Contract tests of the events intake, the wheel and opportunity publish:
//! every consumer of them (intake, the wheel, opportunity, reporting and
//! alerting) accepts each event as the real publisher builds it (not a
//! hand-built copy).
//!
//! The five real binaries run over a real nats-server; the scenario drives
//! them as users do so that every consumed subject is published by its
//! real publisher, checks each consumer applied it (its effect, read over
//! gRPC), and at the end that every durable consumer has nothing pending
//! and terminated nothing. The subjects come from the one place that binds
//! payloads to subjects (`leadwheel_plumbing::contracts::ALL`) and the
//! consumers from the services' own consumer specs, so a new subject, or
//! a new consumer of one, without a case here fails
//! `every_published_subject_has_a_contract_case`.

mod flow;

use std::collections::{BTreeMap, BTreeSet};

use flow::*;
use leadwheel_e2e::System;
use leadwheel_e2e::watch::TerminationWatch;
use leadwheel_plumbing::auth::BearerToken;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_plumbing::contracts;
use leadwheel_plumbing::inbox::ConsumerSpec;
use leadwheel_plumbing::testing::{eventually, read_envelopes};
use leadwheel_proto::alerting::v1::ListAlertsRequest;
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::intake::v1::ErasePersonRequest;
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use leadwheel_proto::opportunity::v1::*;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    ConversionTouches, FollowUpRow, GetActivityRequest, GetFairnessRequest, GetFunnelRequest,
    GetPipelineRequest, GetRoutingOutcomeRequest, GetStagesRequest, GetTeamBalanceRequest, Period,
    PeriodKind, ReasonCount,
};
use leadwheel_proto::wheel::v1::{
    AssignLeadRequest, LeadState, RoutingMatch, RoutingRule, SetAvailabilityRequest,
    SetRoutingRulesRequest, Team, TeamPolicy, UpsertTeamRequest,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel carrying a test token.
type Authed = InterceptedService<Channel, BearerToken>;

/// Durable consumers of reporting and alerting, as they name them.
const REPORTING_INTAKE: &str = "reporting-intake";
const REPORTING_WHEEL: &str = "reporting-wheel";
const REPORTING_OPPS: &str = "reporting-opps";
const ALERTING_WHEEL: &str = leadwheel_alerting::WHEEL_CONSUMER;
const ALERTING_OPPS: &str = leadwheel_alerting::OPPS_CONSUMER;

/// Each subject consumed among the services, with its consumers (durable
/// names). The scenario below publishes each through its real publisher.
const CONSUMED: &[(&str, &[&str])] = &[
    (subjects::LEAD_CREATED, &["wheel-intake", REPORTING_INTAKE]),
    (
        subjects::PERSON_ERASED,
        &["opportunity-intake", "wheel-erasure"],
    ),
    (
        subjects::TEAM_UPSERTED,
        &["opportunity-wheel", REPORTING_WHEEL, ALERTING_WHEEL],
    ),
    (
        subjects::REP_UPSERTED,
        &["opportunity-wheel", REPORTING_WHEEL, ALERTING_WHEEL],
    ),
    (
        subjects::LEAD_ASSIGNED,
        &["opportunity-wheel", REPORTING_WHEEL],
    ),
    (subjects::LEAD_REASSIGNED, &["opportunity-wheel"]),
    (
        subjects::REP_LEFT,
        &["opportunity-wheel", REPORTING_WHEEL, ALERTING_WHEEL],
    ),
    (subjects::OFFER_OPENED, &[REPORTING_WHEEL]),
    (subjects::OFFER_CLOSED, &[REPORTING_WHEEL, ALERTING_WHEEL]),
    (subjects::LEAD_POOLED, &[REPORTING_WHEEL, ALERTING_WHEEL]),
    (subjects::LEAD_ESCALATED, &[ALERTING_WHEEL]),
    (subjects::REP_AVAILABILITY_CHANGED, &[ALERTING_WHEEL]),
    (subjects::OPPS_LEAD_OPENED, &[REPORTING_OPPS, ALERTING_OPPS]),
    (
        subjects::OPPS_LEAD_CONVERTED,
        &["wheel-opps", REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_LEAD_DISQUALIFIED,
        &["wheel-opps", ALERTING_OPPS],
    ),
    (
        subjects::OPPS_LEAD_OWNER_CHANGED,
        &["wheel-opps", ALERTING_OPPS],
    ),
    (subjects::OPPS_LEAD_RETURNED, &["wheel-opps", ALERTING_OPPS]),
    (subjects::OPPS_HANDOVER_APPLIED, &["wheel-opps"]),
    (subjects::OPPS_HANDOVER_TASK_CREATED, &[ALERTING_OPPS]),
    (subjects::OPPS_HANDOVER_TASK_COMPLETED, &[ALERTING_OPPS]),
    (subjects::OPPS_HANDOVER_COMPLETED, &[ALERTING_OPPS]),
    (
        subjects::OPPS_ACCOUNT_CREATED,
        &["intake-accounts", REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_ACCOUNT_UPDATED,
        &["intake-accounts", REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_ACCOUNT_OWNER_CHANGED,
        &["intake-accounts", REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_FOLLOW_UP_SET,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_OPPORTUNITY_OPENED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_OPPORTUNITY_STAGE_CHANGED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_OPPORTUNITY_OWNER_CHANGED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_OPPORTUNITY_CLOSED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_ACTIVITY_LOGGED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
    (
        subjects::OPPS_PIPELINE_STAGE_CHANGED,
        &[REPORTING_OPPS, ALERTING_OPPS],
    ),
];

/// Published by intake, the wheel or opportunity and consumed by no
/// service (reporting lists them as ignored in docs/reporting.md).
const NOT_CONSUMED_HERE: &[&str] = &[
    subjects::LEAD_TOUCHED,
    subjects::LEAD_REQUEUED,
    subjects::LEAD_WITHDRAWN,
    subjects::OPPS_HANDOVER_STARTED,
];

/// The streams of the services under contract.
const STREAMS: [&StreamSpec; 3] = [&INTAKE_STREAM, &WHEEL_STREAM, &OPPS_STREAM];

/// Every durable consumer of the five services, as they declare them.
fn consumer_specs() -> Vec<ConsumerSpec> {
    let mut specs = vec![leadwheel_intake::accounts::consumer_spec()];
    specs.extend(leadwheel_wheel::consumer_specs());
    specs.extend(leadwheel_opportunity::consumer_specs());
    specs.extend(leadwheel_reporting::consumer_specs());
    specs.extend(leadwheel_alerting::consumer_specs());
    specs
}

/// Subject → the durables that read it, from the consumer specs.
fn consumers_by_subject() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for spec in consumer_specs() {
        assert!(
            !spec.filter_subjects.is_empty(),
            "{} reads its whole stream; list its subjects so each has a contract case",
            spec.durable
        );
        for subject in &spec.filter_subjects {
            let known = contracts::ALL.iter().any(|c| c.subject == subject);
            assert!(
                known,
                "{} reads {subject}, which no contract binds",
                spec.durable
            );
            out.entry(subject.clone())
                .or_default()
                .insert(spec.durable.clone());
        }
    }
    out
}

#[test]
fn every_published_subject_has_a_contract_case() {
    let consumers = consumers_by_subject();
    let cases: BTreeMap<&str, BTreeSet<String>> = CONSUMED
        .iter()
        .map(|(subject, durables)| (*subject, durables.iter().map(|d| d.to_string()).collect()))
        .collect();
    for stream in STREAMS {
        for contract in contracts::published_on(stream) {
            let subject = contract.subject;
            match consumers.get(subject) {
                Some(readers) => assert_eq!(
                    cases.get(subject),
                    Some(readers),
                    "{subject} is read by {readers:?}: give it a case in CONSUMED (and the scenario)"
                ),
                None => assert!(
                    NOT_CONSUMED_HERE.contains(&subject),
                    "{subject} ({}) has no consumer: list it in NOT_CONSUMED_HERE, \
                     or add its consumer's case",
                    contract.payload
                ),
            }
        }
    }
    for subject in cases.keys().chain(NOT_CONSUMED_HERE) {
        assert!(
            contracts::ALL.iter().any(|c| c.subject == *subject),
            "{subject} is listed here but bound by no contract"
        );
    }
}

#[tokio::test]
async fn every_consumer_applies_what_the_real_publisher_builds() {
    let system = System::start().await.expect("system");
    let watch = TerminationWatch::start(&system.nats.url())
        .await
        .expect("watching terminations");
    let mut admin = wheel(&system, "admin", Role::Admin).await;
    let mut maya_wheel = wheel(&system, "maya", Role::Manager).await;
    let maya = opps(&system, "maya", Role::Manager).await;
    let maya_reports =
        ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);
    let maya_alerts =
        AlertingServiceClient::new(system.authed("alerting", "maya", Role::Manager).await);

    // wheel.team.upserted, wheel.rep.upserted → opportunity's, reporting's
    // and alerting's directories. A lead left in the pool for a second is
    // escalated (wheel.lead.escalated).
    admin
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "north".into(),
                name: "north".into(),
                manager_id: "maya".into(),
                window_ms: 600_000,
                rep_ids: ["ana", "ben", "carla"].map(String::from).to_vec(),
                policy: Some(TeamPolicy {
                    pool_timeout_ms: 1_000,
                    ..Default::default()
                }),
            }),
            rep_names: vec![],
        })
        .await
        .expect("setting the team");

    // opps.pipeline.stage_changed → reporting's and alerting's stages.
    opps(&system, "admin", Role::Admin)
        .await
        .set_stage(SetStageRequest {
            stage: Some(Stage {
                name: "proposal".into(),
                position: 35,
                probability_percent: 50,
                owner_locked: false,
                stale_days: 5,
                outcome: "open".into(),
            }),
        })
        .await
        .expect("admin adds a stage");

    // intake.lead.created → the wheel routes it; wheel.lead.assigned →
    // opportunity opens it, and maya sees it as north's manager (the
    // directory from the team events).
    let first = signup(&system, "pat@acme.example", "Acme").await;
    claim_as(&system, &admin, &first, "ana").await;
    assert_eq!(lead_in_work(&maya, &first).await.rep_id, "ana");

    // wheel.lead.reassigned → opportunity moves the lead in work.
    maya_wheel
        .assign_lead(AssignLeadRequest {
            lead_id: first.clone(),
            rep_id: "ben".into(),
            reason: "ben knows acme".into(),
        })
        .await
        .expect("maya reassigns the lead");
    eventually(WAIT, "the lead in work to follow the reassignment", || {
        let maya = maya.clone();
        let first = first.clone();
        async move { (lead_in_work(&maya, &first).await.rep_id == "ben").then_some(()) }
    })
    .await;

    // opps.lead.converted → the wheel frees ben's capacity;
    // opps.account.created → intake maps acme.example to ben.
    let mut ben = opps(&system, "ben", Role::Rep).await;
    let converted = ben
        .convert_lead(convert(&first, "convert-1", &["acme.example"]))
        .await
        .expect("ben converts")
        .into_inner();
    let opportunity = converted.opportunity.expect("an opportunity");
    wait_load(&admin, "ben", 0).await;

    // opps.account.updated: another acme lead joins the account with a new
    // domain; intake maps it too.
    let second = signup(&system, "sam@acme-labs.example", "Acme Labs").await;
    claim_as(&system, &admin, &second, "ben").await;
    lead_in_work(&ben, &second).await;
    let joined = ben
        .convert_lead(convert(
            &second,
            "convert-2",
            &["acme.example", "acme-labs.example"],
        ))
        .await
        .expect("ben converts into the account")
        .into_inner();
    assert!(joined.joined_existing_account);
    let account_id = joined.account.expect("an account").account_id;

    // opps.opportunity.closed: ben wins the second deal.
    ben.move_stage(MoveStageRequest {
        opportunity_id: joined.opportunity.expect("a deal").opportunity_id,
        stage: "won".into(),
        reason: "signed".into(),
        ..Default::default()
    })
    .await
    .expect("ben wins the second deal");

    // opps.account.owner_changed: the deal (and its account) go to carla.
    maya.clone()
        .change_owner(ChangeOwnerRequest {
            opportunity_id: opportunity.opportunity_id.clone(),
            to_rep_id: "carla".into(),
            reason: "carla takes acme".into(),
            force: false,
            expected_version: 0,
        })
        .await
        .expect("maya gives the deal to carla");

    // opps.opportunity.stage_changed, .amount_changed: carla works it.
    let mut carla = opps(&system, "carla", Role::Rep).await;
    carla
        .move_stage(MoveStageRequest {
            opportunity_id: opportunity.opportunity_id.clone(),
            stage: "proposal".into(),
            ..Default::default()
        })
        .await
        .expect("carla moves the deal to proposal");
    carla
        .set_amount(SetAmountRequest {
            opportunity_id: opportunity.opportunity_id.clone(),
            amount_minor: 700_000,
            currency: "EUR".into(),
            reason: "more seats".into(),
            ..Default::default()
        })
        .await
        .expect("carla raises the amount");

    // opps.lead.disqualified, done → the wheel frees ana's capacity.
    let third = signup(&system, "kim@third.example", "Third").await;
    claim_as(&system, &admin, &third, "ana").await;
    let mut ana = opps(&system, "ana", Role::Rep).await;
    lead_in_work(&ana, &third).await;
    ana.log_activity(LogActivityRequest {
        request_id: "note-1".into(),
        kind: ActivityKind::Email as i32,
        lead_id: third.clone(),
        subject: "pricing".into(),
        body: "Kim's direct line is 555-0100".into(),
        ..Default::default()
    })
    .await
    .expect("ana logs an email");
    ana.disqualify_lead(DisqualifyLeadRequest {
        lead_id: third.clone(),
        reason: "no_budget".into(),
        back_to_pool: false,
        note: String::new(),
    })
    .await
    .expect("ana disqualifies");
    wait_load(&admin, "ana", 0).await;

    // opps.lead.disqualified, back to the pool → the wheel pools it.
    let fourth = signup(&system, "lou@fourth.example", "Fourth").await;
    claim_as(&system, &admin, &fourth, "ana").await;
    lead_in_work(&ana, &fourth).await;
    ana.disqualify_lead(DisqualifyLeadRequest {
        lead_id: fourth.clone(),
        reason: "bad_timing".into(),
        back_to_pool: true,
        note: String::new(),
    })
    .await
    .expect("ana sends it back to the pool");
    wait_state(&admin, &fourth, LeadState::Pooled).await;

    // opps.lead.owner_changed, opps.lead.returned, opps.handover.applied
    // → the wheel moves one lead, re-routes the other, takes ben off the
    // ring; wheel.rep.left → opportunity takes him out of the team.
    let fifth = signup(&system, "mo@fifth.example", "Fifth").await;
    claim_as(&system, &admin, &fifth, "ben").await;
    let sixth = signup(&system, "ida@sixth.example", "Sixth").await;
    claim_as(&system, &admin, &sixth, "ben").await;
    lead_in_work(&ben, &fifth).await;
    lead_in_work(&ben, &sixth).await;
    // opps.follow_up.set → reporting's follow-ups, alerting's timer.
    ben.set_follow_up(SetFollowUpRequest {
        lead_id: fifth.clone(),
        date: "2030-01-01".into(),
        ..Default::default()
    })
    .await
    .expect("ben sets a follow-up");
    let plan = maya
        .clone()
        .start_handover(StartHandoverRequest {
            rep_id: "ben".into(),
            successor_rep_id: "carla".into(),
            leads_to_successor: false,
        })
        .await
        .expect("maya starts ben's handover")
        .into_inner()
        .handover
        .expect("a plan");
    maya.clone()
        .edit_handover_item(EditHandoverItemRequest {
            handover_id: plan.handover_id.clone(),
            kind: "lead".into(),
            item_id: fifth.clone(),
            action: HandoverAction::Reassign as i32,
            to_rep_id: "carla".into(),
        })
        .await
        .expect("fifth goes to carla");
    maya.clone()
        .apply_handover(ApplyHandoverRequest {
            handover_id: plan.handover_id.clone(),
            task_due_days: 3,
        })
        .await
        .expect("maya applies the handover");
    // opps.handover.task_created → alerting arms each task's timer;
    // .task_completed and .handover.completed (the last task) disarm them.
    let tasks = carla
        .list_tasks(ListTasksRequest {
            handover_id: plan.handover_id.clone(),
            ..Default::default()
        })
        .await
        .expect("carla lists her tasks")
        .into_inner()
        .tasks;
    assert!(!tasks.is_empty(), "the handover made no task");
    let task_key = |task: &Task| format!("rule:handover_task_overdue:{}", task.task_id);
    for task in &tasks {
        eventually(WAIT, "alerting to arm the task's timer", || async {
            alerting_timer(&system, &task_key(task)).await
        })
        .await;
    }
    for task in &tasks {
        carla
            .complete_task(CompleteTaskRequest {
                task_id: task.task_id.clone(),
            })
            .await
            .expect("carla marks a task done");
    }
    eventually(WAIT, "the wheel to give fifth to carla", || {
        let mut admin = admin.clone();
        let fifth = fifth.clone();
        async move {
            let r = routing(&mut admin, &fifth).await?;
            (r.owner_rep_id == "carla").then_some(())
        }
    })
    .await;
    let again = offered_to(&admin, &sixth).await;
    assert_ne!(again, "ben", "the returned lead went back to ben");
    eventually(WAIT, "ben to leave the wheel's team", || {
        let mut admin = admin.clone();
        async move {
            wheel_reps(&mut admin)
                .await
                .iter()
                .any(|(rep, team)| rep == "ben" && team.is_empty())
                .then_some(())
        }
    })
    .await;
    let refused = eventually(WAIT, "opportunity to refuse giving ben a deal", || {
        let mut maya = maya.clone();
        let opportunity_id = opportunity.opportunity_id.clone();
        async move {
            let result = maya
                .change_owner(ChangeOwnerRequest {
                    opportunity_id,
                    to_rep_id: "ben".into(),
                    reason: "back to ben".into(),
                    force: false,
                    expected_version: 0,
                })
                .await;
            result.err()
        }
    })
    .await;
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    // wheel.rep.left → alerting: maya no longer answers for ben.
    let refused = eventually(WAIT, "alerting to take ben out of north", || {
        let mut alerts = maya_alerts.clone();
        async move {
            alerts
                .list_alerts(ListAlertsRequest {
                    recipient_id: "ben".into(),
                    ..Default::default()
                })
                .await
                .err()
        }
    })
    .await;
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // wheel.rep.availability_changed, by a manager (alerting only tells of
    // the circuit breaker's, so this one is applied and raises nothing).
    for availability in ["away", "available"] {
        maya_wheel
            .set_availability(SetAvailabilityRequest {
                rep_id: "ana".into(),
                availability: availability.into(),
                reason: "dentist".into(),
            })
            .await
            .expect("maya sets ana's availability");
    }

    // intake.person.erased → opportunity erases the email it keeps, the
    // wheel the person's name and email.
    let mut intake = IntakeServiceClient::new(system.authed("intake", "admin", Role::Admin).await);
    intake
        .erase_person(ErasePersonRequest {
            email: "kim@third.example".into(),
        })
        .await
        .expect("erasing kim");
    eventually(WAIT, "opportunity to erase kim's email", || {
        let mut ana = ana.clone();
        let third = third.clone();
        async move {
            let history = ana
                .list_history(ListHistoryRequest {
                    lead_id: third,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            history
                .activities
                .iter()
                .all(|a| !a.body.contains("555-0100"))
                .then_some(())
        }
    })
    .await;
    eventually(WAIT, "the wheel to erase kim", || {
        let mut admin = admin.clone();
        let third = third.clone();
        async move {
            let lead = routing(&mut admin, &third).await?.lead?;
            (lead.email.is_empty() && lead.name.is_empty()).then_some(())
        }
    })
    .await;

    // Every consumer took everything, and nothing was terminated.
    let durables: Vec<(&StreamSpec, String)> = consumer_specs()
        .into_iter()
        .map(|spec| (spec.stream, spec.durable))
        .collect();
    let durables: Vec<(&StreamSpec, &str)> =
        durables.iter().map(|(s, d)| (*s, d.as_str())).collect();
    consumers_took_everything(&system, &watch, &durables).await;
    reporting_applied_it(&maya_reports, &opportunity.opportunity_id).await;
    alerting_applied_it(
        &system,
        &maya_alerts,
        &fourth,
        &fifth,
        &opportunity.opportunity_id,
        &account_id,
    )
    .await;
    for task in &tasks {
        assert!(
            alerting_timer(&system, &task_key(task)).await.is_none(),
            "a done task's timer is still armed"
        );
    }

    // The account events reached intake: acme's next signups, on either
    // domain, go straight to the account's owner, carla.
    for email in ["lee@acme.example", "joy@acme-labs.example"] {
        let lead = signup(&system, email, "Acme").await;
        let routed = eventually(WAIT, "an acme signup to be routed", || {
            let mut admin = admin.clone();
            let lead = lead.clone();
            async move {
                let r = routing(&mut admin, &lead).await?;
                (r.state == LeadState::Assigned as i32).then_some(r)
            }
        })
        .await;
        assert_eq!(routed.owner_rep_id, "carla", "{email}");
    }

    // Each consumed subject was published by its real publisher: on its
    // stream, with the contract's type.
    for (subject, _) in CONSUMED {
        let contract = contracts::ALL
            .iter()
            .find(|c| c.subject == *subject)
            .expect("a contract");
        let envelopes = read_envelopes(&system.nats.url(), contract.stream, subject).await;
        assert!(
            !envelopes.is_empty(),
            "the scenario never made the real publisher send {subject}"
        );
        for envelope in envelopes {
            assert_eq!(envelope.r#type, *subject);
            assert_ne!(
                envelope.source, "test",
                "{subject} was not built by its service"
            );
        }
    }
}

/// What reporting made of the scenario's events, read over its gRPC API
/// as north's manager.
async fn reporting_applied_it(reports: &ReportingServiceClient<Authed>, opportunity_id: &str) {
    let mut reports = reports.clone();
    // intake.lead.created, wheel.offer.*, .lead.assigned, .lead.pooled,
    // opps.lead.opened → the funnel.
    let funnel = reports
        .get_funnel(GetFunnelRequest {
            team_id: "north".into(),
        })
        .await
        .expect("the funnel")
        .into_inner();
    let total = funnel.total.expect("a total");
    assert!(total.created >= 6, "{total:?}");
    let north = funnel
        .teams
        .iter()
        .find(|t| t.team_id == "north")
        .and_then(|t| t.counts)
        .expect("north's funnel");
    assert!(
        north.offered >= 6 && north.claimed >= 6 && north.pooled >= 1 && north.in_work >= 6,
        "{north:?}"
    );
    // wheel.rep.left → the fairness report still shows ben, marked left.
    let fairness = reports
        .get_fairness(GetFairnessRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .expect("fairness")
        .into_inner();
    let row = |rep: &str| fairness.reps.iter().find(|r| r.rep_id == rep).cloned();
    let ben = row("ben").expect("ben's history is kept");
    assert!(ben.left && ben.offers > 0, "{ben:?}");
    assert!(!row("ana").expect("ana's row").left);
    // opps.opportunity.closed → won; .opened/.stage_changed/.amount_changed
    // /.owner_changed → carla's open deal in proposal at its new amount.
    let pipeline = reports
        .get_pipeline(GetPipelineRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .expect("the pipeline")
        .into_inner();
    assert!(
        pipeline
            .closed
            .iter()
            .any(|c| c.rep_id == "ben" && c.won_count == 1),
        "{pipeline:?}"
    );
    assert!(
        pipeline
            .open
            .iter()
            .any(|o| o.rep_id == "carla" && o.stage == "proposal" && o.amount_minor == 700_000),
        "{pipeline:?} ({opportunity_id})"
    );
    // opps.pipeline.stage_changed → a known stage.
    let stages = reports
        .get_stages(GetStagesRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .expect("the stages")
        .into_inner();
    assert!(
        stages.stages.iter().any(|s| s.stage == "proposal"),
        "{stages:?}"
    );
    // opps.account.* → carla owns the account in the balance.
    let balance = reports
        .get_team_balance(GetTeamBalanceRequest {
            team_id: "north".into(),
            ..Default::default()
        })
        .await
        .expect("the balance")
        .into_inner();
    assert!(
        balance
            .reps
            .iter()
            .any(|r| r.rep_id == "carla" && r.customers == 1 && !r.left),
        "{balance:?}"
    );
    // opps.follow_up.set → due on its day.
    let activity = reports
        .get_activity(GetActivityRequest {
            team_id: "north".into(),
            period: Some(Period {
                kind: PeriodKind::Day as i32,
                date: "2030-01-01".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("the activity")
        .into_inner();
    assert!(
        activity.follow_ups.iter().any(|f| f.due == 1),
        "{activity:?}"
    );
}

/// What alerting made of the scenario's events: its alerts (over gRPC, as
/// north's manager) and its timers (in its store).
async fn alerting_applied_it(
    system: &System,
    alerts: &AlertingServiceClient<Authed>,
    pooled: &str,
    followed: &str,
    opportunity_id: &str,
    account_id: &str,
) {
    // wheel.lead.pooled, .lead.escalated → the manager's alerts.
    let raised = eventually(WAIT, "the pool alerts", || {
        let mut alerts = alerts.clone();
        async move {
            let list = alerts
                .list_alerts(ListAlertsRequest::default())
                .await
                .ok()?
                .into_inner()
                .alerts;
            let kinds: BTreeSet<String> = list
                .iter()
                .filter(|a| a.subject_key == pooled)
                .map(|a| a.kind.clone())
                .collect();
            (kinds.len() == 2).then_some(kinds)
        }
    })
    .await;
    assert_eq!(
        raised,
        BTreeSet::from(["lead_escalated".to_string(), "lead_pooled".to_string()])
    );
    // opps.opportunity.* → carla's open deal is watched in its stage;
    // opps.account.* → the account for silence; opps.follow_up.set → the
    // follow-up (the lead moved to carla, untouched since).
    for key in [
        format!("rule:stuck_in_stage:{opportunity_id}"),
        format!("rule:silent_customer:{account_id}"),
        format!("rule:follow_up_overdue:{followed}"),
    ] {
        assert!(
            alerting_timer(system, &key).await.is_some(),
            "alerting has no timer {key}"
        );
    }
}

fn convert(lead_id: &str, request_id: &str, domains: &[&str]) -> ConvertLeadRequest {
    ConvertLeadRequest {
        request_id: request_id.into(),
        lead_id: lead_id.into(),
        account_name: "Acme".into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        tier: "A".into(),
        opportunity_name: format!("Acme {request_id}"),
        amount_minor: 500_000,
        currency: "EUR".into(),
        expected_close_date: "2026-12-31".into(),
        stage: String::new(),
    }
}

/// The fields reporting reads from the wheel's and opportunity's events
/// (skips on `wheel.offer.opened`, the routing rule on
/// `wheel.lead.assigned`, `opps.follow_up.set`, the activity and the
/// conversion), as the real services publish them, reach the real
/// reporting's reports and its CSV download.
#[tokio::test]
async fn reporting_reads_skips_rules_and_follow_ups_as_published() {
    let system = System::start().await.expect("system");
    let mut admin = wheel(&system, "admin", Role::Admin).await;
    let mut maya_wheel = wheel(&system, "maya", Role::Manager).await;
    set_team(&mut admin, "north", "maya", &["ana", "ben", "cid"]).await;
    admin
        .set_routing_rules(SetRoutingRulesRequest {
            rules: vec![RoutingRule {
                rule_id: "acme-domain".into(),
                team_id: "north".into(),
                r#match: Some(RoutingMatch {
                    email_domains: vec!["acme.example".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            default_team_id: "north".into(),
            expected_version: 0,
        })
        .await
        .expect("setting the routing rules");
    // ana and ben are away: the first look walks past both to cid.
    for rep in ["ana", "ben"] {
        maya_wheel
            .set_availability(SetAvailabilityRequest {
                rep_id: rep.into(),
                availability: "away".into(),
                reason: "on leave".into(),
            })
            .await
            .expect("setting a rep away");
    }
    let lead = signup(&system, "pat@acme.example", "Acme").await;
    assert_eq!(offered_to(&admin, &lead).await, "cid");
    claim_as(&system, &admin, &lead, "cid").await;

    // cid sets a follow-up for today (reporting's business day, as it
    // resolves "today"), calls (doing it on time) and converts the lead.
    let reporting =
        ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);
    let today = reporting
        .clone()
        .get_fairness(GetFairnessRequest {
            period: Some(Period {
                kind: PeriodKind::Day as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("reporting answers")
        .into_inner()
        .period
        .expect("the period")
        .from;
    let mut cid = opps(&system, "cid", Role::Rep).await;
    lead_in_work(&cid, &lead).await;
    cid.set_follow_up(SetFollowUpRequest {
        lead_id: lead.clone(),
        date: today.clone(),
        ..Default::default()
    })
    .await
    .expect("cid sets a follow-up");
    cid.log_activity(LogActivityRequest {
        request_id: "call-1".into(),
        kind: ActivityKind::Call as i32,
        lead_id: lead.clone(),
        duration_seconds: 120,
        ..Default::default()
    })
    .await
    .expect("cid calls");
    cid.convert_lead(convert(&lead, "convert-cid", &["acme.example"]))
        .await
        .expect("cid converts");

    let day = Some(Period {
        kind: PeriodKind::Day as i32,
        date: today.clone(),
        ..Default::default()
    });
    let away = |count| {
        vec![ReasonCount {
            reason: "away".into(),
            count,
        }]
    };
    eventually(WAIT, "reporting to count ana's and ben's skips", || {
        let mut reporting = reporting.clone();
        let day = day.clone();
        let expected = (away(1), away(1));
        async move {
            let reps = reporting
                .get_fairness(GetFairnessRequest {
                    team_id: "north".into(),
                    period: day,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .reps;
            let skips = |rep: &str| {
                reps.iter()
                    .find(|r| r.rep_id == rep)
                    .map(|r| r.skips.clone())
                    .unwrap_or_default()
            };
            ((skips("ana"), skips("ben")) == expected).then_some(())
        }
    })
    .await;
    eventually(WAIT, "reporting to group the lead by its rule", || {
        let mut reporting = reporting.clone();
        let day = day.clone();
        async move {
            let routes = reporting
                .get_routing_outcome(GetRoutingOutcomeRequest {
                    team_id: "north".into(),
                    period: day,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .routes;
            routes
                .iter()
                .any(|r| {
                    (
                        r.routed_by.as_str(),
                        r.rule_id.as_str(),
                        r.route.as_str(),
                        r.leads,
                        r.converted,
                    ) == ("rule", "acme-domain", "first_look", 1, 1)
                })
                .then_some(())
        }
    })
    .await;
    eventually(WAIT, "reporting to see the touch and the follow-up", || {
        let mut reporting = reporting.clone();
        let day = day.clone();
        async move {
            let r = reporting
                .get_activity(GetActivityRequest {
                    team_id: "north".into(),
                    period: day,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            let touched = r.conversions
                == vec![ConversionTouches {
                    team_id: "north".into(),
                    rep_id: "cid".into(),
                    leads_converted: 1,
                    touches: 1,
                    average_hundredths: 100,
                    median: 1,
                }];
            let followed = r.follow_ups
                == vec![FollowUpRow {
                    team_id: "north".into(),
                    rep_id: "cid".into(),
                    due: 1,
                    on_time: 1,
                    ..Default::default()
                }];
            (touched && followed).then_some(())
        }
    })
    .await;

    // The real binary's CSV download says the same, with maya's token.
    let token = leadwheel_plumbing::testing::test_token("maya", Role::Manager);
    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/reports/fairness.csv?team=north&period=day&date={today}",
            system.addr("reporting", "http")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("downloading the fairness CSV");
    assert_eq!(csv.status(), reqwest::StatusCode::OK);
    let csv = csv.text().await.expect("a body");
    assert!(csv.contains("north,ben,0,0,0,0,1 (1 away),"), "{csv}");

    // Each event reporting read came from its real publisher.
    for (stream, subject) in [
        (&WHEEL_STREAM, subjects::OFFER_OPENED),
        (&WHEEL_STREAM, subjects::LEAD_ASSIGNED),
        (&OPPS_STREAM, subjects::OPPS_FOLLOW_UP_SET),
        (&OPPS_STREAM, subjects::OPPS_ACTIVITY_LOGGED),
        (&OPPS_STREAM, subjects::OPPS_LEAD_CONVERTED),
    ] {
        let envelopes = read_envelopes(&system.nats.url(), stream, subject).await;
        assert!(!envelopes.is_empty(), "{subject} was never published");
        assert!(envelopes.iter().all(|e| e.source != "test"), "{subject}");
    }
}

/// Subjects alerting reads that have their case here (its other subjects
/// are tested in services/alerting against hand-built events), with the
/// durable reading each; the case is
/// `a_task_marked_done_in_opportunity_disarms_its_timer_in_alerting`.
const CONSUMED_BY_ALERTING: &[(&str, &str)] = &[(
    subjects::OPPS_HANDOVER_TASK_COMPLETED,
    leadwheel_alerting::OPPS_CONSUMER,
)];

#[test]
fn alerting_reads_what_its_cases_cover() {
    for (subject, durable) in CONSUMED_BY_ALERTING {
        assert_eq!(*durable, leadwheel_alerting::OPPS_CONSUMER);
        assert!(
            leadwheel_alerting::watch::SUBJECTS.contains(subject),
            "{durable} does not read {subject}"
        );
        assert!(contracts::ALL.iter().any(|c| c.subject == *subject));
    }
}

/// When alerting's timer `key` is due, read from its SQLite file.
async fn alerting_timer(system: &System, key: &str) -> Option<i64> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}/alerting.db?mode=ro",
        system.dir.path().display()
    );
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("opening alerting's store");
    let due = sqlx::query("SELECT due_at_ms FROM alerting_timers WHERE timer_key = $1")
        .bind(key)
        .fetch_optional(&pool)
        .await
        .expect("reading alerting's timers")
        .map(|row| row.try_get::<i64, _>("due_at_ms").expect("due_at_ms"));
    pool.close().await;
    due
}

/// opps.handover.task_completed, as opportunity publishes it when a task
/// is marked done, disarms that task's `handover_task_overdue` timer in
/// alerting, and only that one (the handover, with another task open, is
/// not complete, so `opps.handover.completed` is not what did it).
#[tokio::test]
async fn a_task_marked_done_in_opportunity_disarms_its_timer_in_alerting() {
    let system = System::start().await.expect("system");
    let watch = TerminationWatch::start(&system.nats.url())
        .await
        .expect("watching terminations");
    let mut admin = wheel(&system, "admin", Role::Admin).await;
    let maya = opps(&system, "maya", Role::Manager).await;
    set_team(&mut admin, "north", "maya", &["ana", "ben"]).await;
    let mut leads = Vec::new();
    for (email, company) in [("pat@one.example", "One"), ("sam@two.example", "Two")] {
        let lead = signup(&system, email, company).await;
        claim_as(&system, &admin, &lead, "ana").await;
        lead_in_work(&maya, &lead).await;
        leads.push(lead);
    }

    // Ana leaves; her two leads go to Ben with a task each.
    let plan = maya
        .clone()
        .start_handover(StartHandoverRequest {
            rep_id: "ana".into(),
            successor_rep_id: "ben".into(),
            leads_to_successor: true,
        })
        .await
        .expect("maya starts ana's handover")
        .into_inner()
        .handover
        .expect("a plan");
    maya.clone()
        .apply_handover(ApplyHandoverRequest {
            handover_id: plan.handover_id.clone(),
            task_due_days: 3,
        })
        .await
        .expect("maya applies the handover");
    let mut ben = opps(&system, "ben", Role::Rep).await;
    let tasks = ben
        .list_tasks(ListTasksRequest {
            handover_id: plan.handover_id.clone(),
            ..Default::default()
        })
        .await
        .expect("ben lists his tasks")
        .into_inner()
        .tasks;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let key = |task: &Task| format!("rule:handover_task_overdue:{}", task.task_id);
    for task in &tasks {
        eventually(WAIT, "alerting to arm the task's timer", || async {
            alerting_timer(&system, &key(task)).await
        })
        .await;
    }

    ben.complete_task(CompleteTaskRequest {
        task_id: tasks[0].task_id.clone(),
    })
    .await
    .expect("ben marks one task done");
    eventually(WAIT, "alerting to disarm the done task's timer", || async {
        alerting_timer(&system, &key(&tasks[0]))
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        alerting_timer(&system, &key(&tasks[1])).await.is_some(),
        "the open task's timer was disarmed too"
    );
    consumers_took_everything(
        &system,
        &watch,
        &[(&OPPS_STREAM, leadwheel_alerting::OPPS_CONSUMER)],
    )
    .await;

    // Published by opportunity itself, with the contract's type.
    for (subject, _) in CONSUMED_BY_ALERTING {
        let envelopes = read_envelopes(&system.nats.url(), &OPPS_STREAM, subject).await;
        assert_eq!(envelopes.len(), 1, "{subject}");
        assert_eq!(envelopes[0].r#type, *subject);
        assert_eq!(envelopes[0].source, "opportunity");
    }
}

//! Every bad input is refused with the precise code (and field), and
//! changes nothing: no version bump, no touch, no event.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::OPPS_STREAM;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::opportunity::v1::{
    ActivityKind, CallNote, ChangeOwnerRequest, ConvertLeadRequest, DisqualifyLeadRequest,
    GetLeadInWorkRequest, GetOpportunityRequest, ListHistoryRequest, LogActivityRequest,
    MoveStageRequest, OverrideProbabilityRequest, SetAmountRequest, SetFollowUpRequest,
};
use tonic::Code;

use crate::helpers::{
    Client, Env, WAIT, conversion, field_of, opportunity, spawn_app, two_teams, wait_lead,
};

fn call(opportunity_id: &str) -> LogActivityRequest {
    LogActivityRequest {
        kind: ActivityKind::Call as i32,
        opportunity_id: opportunity_id.into(),
        duration_seconds: 300,
        outcome: "reached".into(),
        recording_url: "https://calls.example.com/r/1".into(),
        notes: vec![CallNote {
            offset_seconds: 60,
            text: "asked about pricing".into(),
        }],
        ..Default::default()
    }
}

/// What a refusal must leave untouched.
async fn snapshot(
    client: &mut Client,
    opportunity_id: &str,
    lead_id: &str,
) -> (i64, i64, i64, usize) {
    let opp = client
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: opportunity_id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let lead = client
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: lead_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    let opp = (opp.opportunity.unwrap(), opp.history.len());
    (opp.0.version, opp.0.touch_count, lead.version, opp.1)
}

on_both_backends!(bad_input_is_refused_precisely_and_changes_nothing);
async fn bad_input_is_refused_precisely_and_changes_nothing(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    let opp = opportunity(&app, "lead-1", "ana", "north", 100_000).await;
    app.assign("lead-2", "ana", "north").await;
    wait_lead(&app, "lead-2").await;
    let id = opp.opportunity_id.clone();
    let mut ana = app.client("ana", Role::Rep).await;
    let mut root = app.client("root", Role::Admin).await;
    // Everything published so far is out before we count.
    let events_before = eventually(WAIT, "the setup's events", || async {
        let events = app.events(&OPPS_STREAM, "opps.>").await;
        (events.len() >= 5).then_some(events.len())
    })
    .await;
    let before = snapshot(&mut root, &id, "lead-2").await;

    let long = |n: usize| "x".repeat(n);
    let mut cases: Vec<(&str, Code, &str, tonic::Status)> = Vec::new();
    macro_rules! case {
        ($name:expr, $code:expr, $field:expr, $call:expr) => {
            cases.push(($name, $code, $field, $call.await.unwrap_err()));
        };
    }
    let stage = |stage: &str, reason: &str| MoveStageRequest {
        opportunity_id: id.clone(),
        stage: stage.into(),
        reason: reason.into(),
        expected_version: 0,
    };
    case!(
        "unknown stage",
        Code::InvalidArgument,
        "stage",
        ana.move_stage(stage("negotiation", ""))
    );
    case!(
        "closing without a reason",
        Code::InvalidArgument,
        "reason",
        ana.move_stage(stage("lost", " "))
    );
    case!(
        "oversized reason",
        Code::InvalidArgument,
        "reason",
        ana.move_stage(stage("trial", &long(501)))
    );
    case!(
        "same stage",
        Code::FailedPrecondition,
        "",
        ana.move_stage(stage("needs_identified", ""))
    );
    case!(
        "stale version",
        Code::Aborted,
        "",
        ana.move_stage(MoveStageRequest {
            expected_version: 99,
            ..stage("trial", "")
        })
    );
    case!(
        "unknown opportunity",
        Code::NotFound,
        "",
        ana.move_stage(MoveStageRequest {
            opportunity_id: "opp_nope".into(),
            ..stage("trial", "")
        })
    );
    case!(
        "oversized id",
        Code::InvalidArgument,
        "opportunity_id",
        ana.move_stage(MoveStageRequest {
            opportunity_id: long(129),
            ..stage("trial", "")
        })
    );
    let amount = |amount_minor: i64, currency: &str, date: &str| SetAmountRequest {
        opportunity_id: id.clone(),
        amount_minor,
        currency: currency.into(),
        expected_close_date: date.into(),
        reason: String::new(),
        expected_version: 0,
    };
    case!(
        "negative amount",
        Code::InvalidArgument,
        "amount_minor",
        ana.set_amount(amount(-1, "EUR", ""))
    );
    case!(
        "lower-case currency",
        Code::InvalidArgument,
        "currency",
        ana.set_amount(amount(5, "eur", ""))
    );
    case!(
        "unknown currency",
        Code::InvalidArgument,
        "currency",
        ana.set_amount(amount(5, "XYZ", ""))
    );
    case!(
        "impossible date",
        Code::InvalidArgument,
        "expected_close_date",
        ana.set_amount(amount(5, "EUR", "2026-02-30"))
    );
    let probability = |p: i32, reason: &str| OverrideProbabilityRequest {
        opportunity_id: id.clone(),
        probability_percent: p,
        clear: false,
        reason: reason.into(),
        expected_version: 0,
    };
    case!(
        "probability above 100",
        Code::InvalidArgument,
        "probability_percent",
        ana.override_probability(probability(101, "why"))
    );
    case!(
        "override without reason",
        Code::InvalidArgument,
        "reason",
        ana.override_probability(probability(50, ""))
    );

    let activity = |change: &dyn Fn(&mut LogActivityRequest)| {
        let mut request = call(&id);
        change(&mut request);
        request
    };
    case!(
        "link that is not a URL",
        Code::InvalidArgument,
        "recording_url",
        ana.log_activity(activity(
            &|r| r.recording_url = "calls.example.com/r/1".into()
        ))
    );
    case!(
        "ftp link",
        Code::InvalidArgument,
        "recording_url",
        ana.log_activity(activity(
            &|r| r.recording_url = "ftp://calls.example.com/r/1".into()
        ))
    );
    case!(
        "note past the call's end",
        Code::InvalidArgument,
        "notes.offset_seconds",
        ana.log_activity(activity(&|r| r.notes[0].offset_seconds = 301))
    );
    case!(
        "negative note offset",
        Code::InvalidArgument,
        "notes.offset_seconds",
        ana.log_activity(activity(&|r| r.notes[0].offset_seconds = -1))
    );
    case!(
        "empty note",
        Code::InvalidArgument,
        "notes.text",
        ana.log_activity(activity(&|r| r.notes[0].text = " ".into()))
    );
    case!(
        "call without a length",
        Code::InvalidArgument,
        "duration_seconds",
        ana.log_activity(activity(&|r| r.duration_seconds = 0))
    );
    case!(
        "no kind",
        Code::InvalidArgument,
        "kind",
        ana.log_activity(activity(&|r| r.kind = 0))
    );
    case!(
        "unknown kind",
        Code::InvalidArgument,
        "kind",
        ana.log_activity(activity(&|r| r.kind = 42))
    );
    case!(
        "recording on an email",
        Code::InvalidArgument,
        "recording_url",
        ana.log_activity(activity(&|r| {
            r.kind = ActivityKind::Email as i32;
            r.notes.clear();
        }))
    );
    case!(
        "oversized body",
        Code::InvalidArgument,
        "body",
        ana.log_activity(activity(&|r| r.body = "x".repeat(10_001)))
    );
    case!(
        "both targets",
        Code::InvalidArgument,
        "lead_id",
        ana.log_activity(activity(&|r| r.lead_id = "lead-2".into()))
    );
    case!(
        "in the future",
        Code::InvalidArgument,
        "at_ms",
        ana.log_activity(activity(&|r| r.at_ms = i64::MAX / 2))
    );
    case!(
        "bad follow-up",
        Code::InvalidArgument,
        "next_follow_up_date",
        ana.log_activity(activity(&|r| r.next_follow_up_date = "tomorrow".into()))
    );
    case!(
        "unknown lead",
        Code::NotFound,
        "",
        ana.log_activity(LogActivityRequest {
            lead_id: "nope".into(),
            opportunity_id: String::new(),
            ..activity(&|_| {})
        })
    );

    let convert = |change: &dyn Fn(&mut ConvertLeadRequest)| {
        let mut request = conversion("lead-2", "globex.com", 10);
        change(&mut request);
        request
    };
    case!(
        "oversized account name",
        Code::InvalidArgument,
        "account_name",
        ana.convert_lead(convert(&|r| r.account_name = "x".repeat(201)))
    );
    case!(
        "no account name",
        Code::InvalidArgument,
        "account_name",
        ana.convert_lead(convert(&|r| r.account_name.clear()))
    );
    case!(
        "a URL for a domain",
        Code::InvalidArgument,
        "domains",
        ana.convert_lead(convert(&|r| r.domains = vec!["https://globex.com".into()]))
    );
    case!(
        "closed stage for a new deal",
        Code::InvalidArgument,
        "stage",
        ana.convert_lead(convert(&|r| r.stage = "won".into()))
    );
    case!(
        "unknown stage for a new deal",
        Code::InvalidArgument,
        "stage",
        ana.convert_lead(convert(&|r| r.stage = "maybe".into()))
    );
    case!(
        "negative amount for a new deal",
        Code::InvalidArgument,
        "amount_minor",
        ana.convert_lead(convert(&|r| r.amount_minor = -5))
    );
    case!(
        "no currency",
        Code::InvalidArgument,
        "currency",
        ana.convert_lead(convert(&|r| r.currency.clear()))
    );
    case!(
        "converting a converted lead",
        Code::FailedPrecondition,
        "",
        ana.convert_lead(ConvertLeadRequest {
            request_id: "another-try".into(),
            ..conversion("lead-1", "other.com", 1)
        })
    );
    case!(
        "unknown disqualify reason",
        Code::InvalidArgument,
        "reason",
        ana.disqualify_lead(DisqualifyLeadRequest {
            lead_id: "lead-2".into(),
            reason: "meh".into(),
            ..Default::default()
        })
    );
    case!(
        "unknown lead to disqualify",
        Code::NotFound,
        "",
        ana.disqualify_lead(DisqualifyLeadRequest {
            lead_id: "nope".into(),
            reason: "no_budget".into(),
            ..Default::default()
        })
    );
    case!(
        "follow-up on both",
        Code::InvalidArgument,
        "lead_id",
        ana.set_follow_up(SetFollowUpRequest {
            lead_id: "lead-2".into(),
            opportunity_id: id.clone(),
            date: "2026-01-05".into()
        })
    );
    case!(
        "follow-up date",
        Code::InvalidArgument,
        "date",
        ana.set_follow_up(SetFollowUpRequest {
            lead_id: "lead-2".into(),
            opportunity_id: String::new(),
            date: "2026-13-01".into()
        })
    );
    case!(
        "unknown new owner",
        Code::NotFound,
        "",
        root.change_owner(ChangeOwnerRequest {
            opportunity_id: id.clone(),
            to_rep_id: "ghost".into(),
            ..Default::default()
        })
    );
    case!(
        "oversized history page",
        Code::InvalidArgument,
        "page_size",
        ana.list_history(ListHistoryRequest {
            lead_id: "lead-2".into(),
            page_size: 501,
            ..Default::default()
        })
    );
    case!(
        "history of nobody",
        Code::InvalidArgument,
        "account_id",
        ana.list_history(ListHistoryRequest::default())
    );

    for (name, code, field, status) in &cases {
        assert_eq!(status.code(), *code, "{name}: {status:?}");
        if !field.is_empty() {
            assert_eq!(field_of(status), *field, "{name}: {status:?}");
        }
        assert!(!status.message().is_empty(), "{name}");
    }
    assert_eq!(
        snapshot(&mut root, &id, "lead-2").await,
        before,
        "nothing changed"
    );
    // A valid call lands after all of that: the outbox relays in commit
    // order, so had any refusal leaked an event it would be out by now.
    ana.log_activity(call(&id)).await.unwrap();
    let after = eventually(WAIT, "the valid call's event", || async {
        let events = app.events(&OPPS_STREAM, "opps.>").await;
        (events.len() > events_before).then_some(events.len())
    })
    .await;
    assert_eq!(after, events_before + 1, "only the valid call published");
    app.stop().await;
}

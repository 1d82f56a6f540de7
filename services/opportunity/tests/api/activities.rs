//! Activities, touch counts, follow-ups, a customer's history, idempotent
//! logging, erasure, disqualification and the wheel's reassignments.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::events::v1::{ActivityLogged, FollowUpSet, LeadDisqualified};
use leadwheel_proto::opportunity::v1::{
    ActivityKind, CallNote, DisqualifyLeadRequest, GetLeadInWorkRequest, GetOpportunityRequest,
    ListHistoryRequest, ListLeadsInWorkRequest, LogActivityRequest, SetFollowUpRequest,
};
use tonic::Code;

use crate::helpers::{
    Client, Env, WAIT, all_pages, conversion, refused, spawn_app, two_teams, wait_events, wait_lead,
};

fn on_lead(kind: ActivityKind, lead_id: &str, at_ms: i64) -> LogActivityRequest {
    LogActivityRequest {
        kind: kind as i32,
        lead_id: lead_id.into(),
        at_ms,
        subject: format!("{kind:?}"),
        ..Default::default()
    }
}

async fn history(client: &mut Client, account_id: &str, lead_id: &str, size: i32) -> Vec<String> {
    all_pages(async |page_token| {
        let page = client
            .list_history(ListHistoryRequest {
                account_id: account_id.into(),
                lead_id: lead_id.into(),
                page_size: size,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.activities.len() <= size as usize);
        let subjects = page.activities.into_iter().map(|a| a.subject).collect();
        (subjects, page.next_page_token)
    })
    .await
}

on_both_backends!(a_customers_whole_history);
async fn a_customers_whole_history(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    app.assign("lead-1", "ana", "north").await;
    wait_lead(&app, "lead-1").await;
    let mut ana = app.client("ana", Role::Rep).await;
    let base = leadwheel_plumbing::now_ms() - 3_600_000;

    let call = LogActivityRequest {
        request_id: "call-1".into(),
        duration_seconds: 600,
        outcome: "interested".into(),
        recording_url: "https://calls.example.com/r/42".into(),
        notes: vec![
            CallNote {
                offset_seconds: 0,
                text: "intro".into(),
            },
            CallNote {
                offset_seconds: 600,
                text: "asked for a demo".into(),
            },
        ],
        next_follow_up_date: "2026-12-01".into(),
        ..on_lead(ActivityKind::Call, "lead-1", base)
    };
    let first = ana.log_activity(call.clone()).await.unwrap().into_inner();
    assert_eq!(first.touch_count, 1);
    // The same request again is the same activity, not a second touch.
    let again = ana.log_activity(call).await.unwrap().into_inner();
    assert_eq!(
        again.activity.as_ref().unwrap().activity_id,
        first.activity.as_ref().unwrap().activity_id
    );
    assert_eq!(again.touch_count, 1);
    assert_eq!(again.activity.unwrap().notes.len(), 2);
    ana.log_activity(on_lead(ActivityKind::Email, "lead-1", base + 1_000))
        .await
        .unwrap();
    let note = ana
        .log_activity(LogActivityRequest {
            body: "prefers mornings".into(),
            ..on_lead(ActivityKind::Note, "lead-1", base + 2_000)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.touch_count, 3);
    let lead = ana
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: "lead-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(
        (lead.touch_count, lead.next_follow_up_date.as_str()),
        (3, "2026-12-01")
    );
    assert_eq!(
        history(&mut ana, "", "lead-1", 2).await,
        ["Note", "Email", "Call"]
    );

    // Converting keeps the history: it is the account's now.
    let converted = ana
        .convert_lead(conversion("lead-1", "acme.com", 1_000))
        .await
        .unwrap()
        .into_inner();
    let account_id = converted.account.unwrap().account_id;
    let opp = converted.opportunity.unwrap();
    assert_eq!(
        opp.next_follow_up_date, "2026-12-01",
        "the lead's follow-up carries over"
    );
    let visit = ana
        .log_activity(LogActivityRequest {
            kind: ActivityKind::Visit as i32,
            opportunity_id: opp.opportunity_id.clone(),
            at_ms: base + 3_000,
            subject: "Visit".into(),
            duration_seconds: 3_600,
            next_follow_up_date: "2026-12-15".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visit.touch_count, 1);
    // A meeting logged later but dated earlier sorts by when it happened.
    ana.log_activity(LogActivityRequest {
        kind: ActivityKind::Meeting as i32,
        opportunity_id: opp.opportunity_id.clone(),
        at_ms: base + 1_500,
        subject: "Meeting".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        history(&mut ana, &account_id, "", 2).await,
        ["Visit", "Note", "Meeting", "Email", "Call"]
    );
    ana.set_follow_up(SetFollowUpRequest {
        opportunity_id: opp.opportunity_id.clone(),
        date: String::new(),
        ..Default::default()
    })
    .await
    .unwrap();
    let opp = ana
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: opp.opportunity_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!((opp.touch_count, opp.next_follow_up_date.as_str()), (2, ""));

    // Another rep sees none of it; a page token is bound to its query.
    let mut bo = app.client("bo", Role::Rep).await;
    refused(
        bo.list_history(ListHistoryRequest {
            account_id: account_id.clone(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "another rep sees none of it",
    );

    let logged = wait_events::<ActivityLogged>(&app, subjects::OPPS_ACTIVITY_LOGGED, 5).await;
    assert_eq!(logged.len(), 5, "the retried call published once");
    let call_event = &logged[0].1;
    assert_eq!(
        (
            call_event.kind.as_str(),
            call_event.duration_seconds,
            call_event.owner_rep_id.as_str(),
            call_event.team_id.as_str()
        ),
        ("call", 600, "ana", "north")
    );
    // Where the work stood, and whether the call was recorded (not the link).
    assert_eq!(
        (call_event.stage.as_str(), call_event.has_recording),
        ("lead", true)
    );
    let visit_event = &logged[3].1;
    assert_eq!(visit_event.account_id, account_id);
    assert_eq!(
        (visit_event.stage.as_str(), visit_event.has_recording),
        ("needs_identified", false)
    );
    assert_eq!(visit_event.next_follow_up_date, "2026-12-15");

    let follow_ups = wait_events::<FollowUpSet>(&app, subjects::OPPS_FOLLOW_UP_SET, 1).await;
    assert_eq!(follow_ups.len(), 1);
    assert_eq!(
        (
            follow_ups[0].1.opportunity_id.as_str(),
            follow_ups[0].1.date.as_str(),
            follow_ups[0].1.owner_rep_id.as_str()
        ),
        (opp.opportunity_id.as_str(), "", "ana")
    );

    // Erasing the person keeps anonymous rows and drops what they said.
    app.erase(&["lead-1"]).await;
    let erased = eventually(WAIT, "the erasure", || {
        let mut ana = ana.clone();
        let account_id = account_id.clone();
        async move {
            let page = ana
                .list_history(ListHistoryRequest {
                    account_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            page.activities
                .iter()
                .all(|a| a.subject.is_empty())
                .then_some(page.activities)
        }
    })
    .await;
    assert_eq!(erased.len(), 5);
    assert!(
        erased
            .iter()
            .all(|a| a.body.is_empty() && a.recording_url.is_empty() && a.notes.is_empty())
    );
    assert!(
        erased.iter().any(|a| a.duration_seconds == 600),
        "anonymous facts stay"
    );
    app.stop().await;
}

on_both_backends!(disqualification_and_the_wheels_reassignments);
async fn disqualification_and_the_wheels_reassignments(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    app.assign("lead-1", "ana", "north").await;
    app.assign("lead-2", "ana", "north").await;
    // The wheel's manager gives lead-2 to bo.
    app.reassign("lead-2", "ana", "bo", "north").await;
    app.assign("sentinel", "cy", "north").await;
    wait_lead(&app, "sentinel").await;
    let mut bo = app.client("bo", Role::Rep).await;
    let bos = bo
        .list_leads_in_work(ListLeadsInWorkRequest::default())
        .await
        .unwrap()
        .into_inner()
        .leads;
    assert_eq!(
        bos.iter().map(|l| l.lead_id.as_str()).collect::<Vec<_>>(),
        ["lead-2"]
    );

    let mut ana = app.client("ana", Role::Rep).await;
    refused(
        ana.disqualify_lead(DisqualifyLeadRequest {
            lead_id: "lead-2".into(),
            reason: "no_budget".into(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "no longer ana's",
    );
    let lead = ana
        .disqualify_lead(DisqualifyLeadRequest {
            lead_id: "lead-1".into(),
            reason: "bad_timing".into(),
            back_to_pool: true,
            note: "call back next year".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(
        (lead.status.as_str(), lead.disqualify_reason.as_str()),
        ("disqualified", "bad_timing")
    );
    refused(
        ana.disqualify_lead(DisqualifyLeadRequest {
            lead_id: "lead-1".into(),
            reason: "bad_timing".into(),
            ..Default::default()
        })
        .await,
        Code::FailedPrecondition,
        "the lead is no longer in work",
    );
    let events = wait_events::<LeadDisqualified>(&app, subjects::OPPS_LEAD_DISQUALIFIED, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].1.rep_id.as_str(),
            events[0].1.reason.as_str(),
            events[0].1.back_to_pool
        ),
        ("ana", "bad_timing", true)
    );
    app.stop().await;
}

//! Integration tests of the opportunity service: the real service, a real
//! `nats-server`, a real database (SQLite always, Postgres when
//! `TEST_POSTGRES_URL` is set) and real gRPC calls.

mod activities;
mod auth;
mod bad_input;
mod deals;
mod directory;
mod handover;
mod helpers;

use helpers::{Env, WAIT, all_pages, assigned, spawn_app};
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::events::v1::LeadOpened;
use leadwheel_proto::opportunity::v1::{GetLeadInWorkRequest, LeadInWork, ListLeadsInWorkRequest};
use prost::Message;
use tonic::Code;
use tonic_types::StatusExt;

/// Waits until `lead_id` is in work, reading as an admin.
async fn wait_in_work(app: &helpers::TestApp, lead_id: &str) -> LeadInWork {
    let client = app.client("root", Role::Admin).await;
    eventually(WAIT, &format!("lead {lead_id} in work"), || {
        let mut client = client.clone();
        let lead_id = lead_id.to_string();
        async move {
            let response = client
                .get_lead_in_work(GetLeadInWorkRequest { lead_id })
                .await
                .ok()?;
            response.into_inner().lead
        }
    })
    .await
}

fn list(rep_id: &str, page_size: i32, page_token: &str) -> ListLeadsInWorkRequest {
    ListLeadsInWorkRequest {
        rep_id: rep_id.into(),
        page_size,
        page_token: page_token.into(),
    }
}

fn lead_ids(leads: &[LeadInWork]) -> Vec<&str> {
    leads.iter().map(|l| l.lead_id.as_str()).collect()
}

on_both_backends!(assigned_lead_is_in_work_and_announced);
async fn assigned_lead_is_in_work_and_announced(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;

    app.assign("lead-1", "ana", "north").await;
    let lead = wait_in_work(&app, "lead-1").await;
    assert_eq!(lead.rep_id, "ana");
    assert_eq!(lead.team_id, "north");
    assert_eq!(lead.status, "in_work");
    assert_eq!(
        lead.claimed_at_ms,
        assigned("lead-1", "ana", "north").assigned_at_ms
    );
    assert!(lead.opened_at_ms > 0);

    // The rep sees it too.
    let mut ana = app.client("ana", Role::Rep).await;
    let mine = ana
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&mine.leads), ["lead-1"]);
    assert!(mine.next_page_token.is_empty());

    let events = eventually(WAIT, "opps.lead.opened on JetStream", || async {
        let events = app.events(&OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 1);
    let envelope = &events[0];
    assert_eq!(envelope.r#type, subjects::OPPS_LEAD_OPENED);
    assert_eq!(envelope.source, "opportunity");
    assert_eq!(envelope.key, "lead-1");
    let opened = LeadOpened::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(
        opened,
        LeadOpened {
            lead_id: "lead-1".into(),
            rep_id: "ana".into(),
            team_id: "north".into(),
            opened_at_ms: lead.opened_at_ms,
        }
    );
    app.stop().await;
}

on_both_backends!(repeated_assignments_have_one_effect);
async fn repeated_assignments_have_one_effect(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;

    let first = app.assign("lead-1", "ana", "north").await;
    // The same fact again under a new event id (JetStream cannot dedupe it)...
    app.assign("lead-1", "ana", "north").await;
    // ...the same event id redelivered...
    app.redeliver(&first, "lead-1", &assigned("lead-1", "ana", "north"))
        .await;
    // ...and a conflicting owner, which must not win.
    app.assign("lead-1", "bo", "north").await;
    // Events are applied in stream order: once the sentinel is in, every
    // event before it has been handled.
    app.assign("sentinel", "cy", "north").await;
    wait_in_work(&app, "sentinel").await;

    let lead = wait_in_work(&app, "lead-1").await;
    assert_eq!(lead.rep_id, "ana", "the first owner is kept");
    let mut admin = app.client("root", Role::Admin).await;
    let all = admin
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&all.leads), ["sentinel", "lead-1"]);
    let mut bo = app.client("bo", Role::Rep).await;
    let bos = bo
        .list_leads_in_work(list("bo", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(bos.leads.is_empty(), "bo got {:?}", bos.leads);

    // The outbox relays in commit order: once the sentinel's event is out,
    // any duplicate would be out too.
    eventually(WAIT, "the sentinel's opps.lead.opened", || async {
        let events = app.events(&OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
        events.iter().any(|e| e.key == "sentinel").then_some(())
    })
    .await;
    let events = app.events(&OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
    let for_lead: Vec<_> = events.iter().filter(|e| e.key == "lead-1").collect();
    assert_eq!(for_lead.len(), 1, "one opps.lead.opened for lead-1");

    let metrics = app.metrics().await;
    let conflicts = metrics
        .lines()
        .find(|l| l.starts_with("leadwheel_opportunity_owner_conflicts_total"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .expect("the owner-conflict counter is exported");
    assert!(conflicts >= 1, "conflict counted: {metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_do_not_block_the_consumer() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    app.publish_garbage(subjects::LEAD_ASSIGNED).await;
    // A payload that decodes but names no rep is rejected too.
    app.assign("no-rep", "", "north").await;
    app.assign("lead-1", "ana", "north").await;
    wait_in_work(&app, "lead-1").await;
    let mut admin = app.client("root", Role::Admin).await;
    let status = admin
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: "no-rep".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_read_what() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    // Maya manages both teams per the wheel; her token names neither.
    app.team("north", "maya", &["ana"]).await;
    app.team("south", "maya", &["bo"]).await;
    app.assign("lead-a", "ana", "north").await;
    app.assign("lead-b", "bo", "south").await;
    wait_in_work(&app, "lead-a").await;
    wait_in_work(&app, "lead-b").await;

    let mut ana = app.client("ana", Role::Rep).await;
    let own = ana
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&own.leads), ["lead-a"]);
    let own = ana
        .list_leads_in_work(list("ana", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&own.leads), ["lead-a"]);
    let denied = ana.list_leads_in_work(list("bo", 0, "")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let get = |id: &str| GetLeadInWorkRequest { lead_id: id.into() };
    assert_eq!(
        ana.get_lead_in_work(get("lead-a"))
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap()
            .rep_id,
        "ana"
    );
    let denied = ana.get_lead_in_work(get("lead-b")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut manager = app.client("maya", Role::Manager).await;
    let all = manager
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&all.leads), ["lead-b", "lead-a"]);
    let bos = manager
        .list_leads_in_work(list("bo", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&bos.leads), ["lead-b"]);
    manager.get_lead_in_work(get("lead-b")).await.unwrap();

    // A manager whose token names a team sees that team only.
    let mut north = app.team_manager("nora", "north").await;
    let theirs = north
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead_ids(&theirs.leads), ["lead-a"]);
    let denied = north.get_lead_in_work(get("lead-b")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // A manager who manages no team the wheel knows sees nothing.
    let mut stranger = app.client("sam", Role::Manager).await;
    let none = stranger
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(none.leads.is_empty(), "sam got {:?}", none.leads);
    let denied = stranger.get_lead_in_work(get("lead-a")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut admin = app.client("root", Role::Admin).await;
    let all = admin
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.leads.len(), 2);

    let mut integration = app.client("crm", Role::Integration).await;
    let denied = integration
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut anonymous = app.anonymous().await;
    let status = anonymous
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = anonymous.get_lead_in_work(get("lead-a")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut forged = app.client_with_token("not.a.jwt").await;
    let status = forged
        .list_leads_in_work(list("", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    app.stop().await;
}

on_both_backends!(pages_walk_every_lead_once_newest_first);
async fn pages_walk_every_lead_once_newest_first(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    for n in 0..7 {
        app.assign(&format!("lead-{n}"), "ana", "north").await;
    }
    app.assign("other", "bo", "north").await;
    wait_in_work(&app, "other").await;

    let mut ana = app.client("ana", Role::Rep).await;
    let mut pages = 0;
    let seen = all_pages(async |token| {
        let page = ana
            .list_leads_in_work(list("ana", 3, &token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.leads.len() <= 3);
        pages += 1;
        let ids = page.leads.into_iter().map(|l| l.lead_id).collect();
        (ids, page.next_page_token)
    })
    .await;
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|n| format!("lead-{n}")).collect();
    assert_eq!(seen, expected, "every lead once, newest first");

    let first = ana
        .list_leads_in_work(list("ana", 3, ""))
        .await
        .unwrap()
        .into_inner();
    let mut admin = app.client("root", Role::Admin).await;
    // A token only works for the query that issued it.
    let status = admin
        .list_leads_in_work(list("", 3, &first.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    for (size, token) in [(-1, ""), (501, ""), (3, "garbage!")] {
        let status = ana
            .list_leads_in_work(list("ana", size, token))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "page_size {size}, token {token:?}"
        );
        let field = &status
            .get_details_bad_request()
            .expect("field details")
            .field_violations[0]
            .field;
        let expected = if token.is_empty() {
            "page_size"
        } else {
            "page_token"
        };
        assert_eq!(field, expected);
    }
    let biggest = ana
        .list_leads_in_work(list("ana", 500, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(biggest.leads.len(), 7);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_blank_ids() {
    let env = Env::new(TestDb::sqlite());
    let app = spawn_app(&env).await;
    let mut admin = app.client("root", Role::Admin).await;
    let status = admin
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = admin
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = admin
        .get_lead_in_work(GetLeadInWorkRequest {
            lead_id: "x".repeat(129),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

on_both_backends!(a_restart_keeps_leads_and_resumes_consuming);
async fn a_restart_keeps_leads_and_resumes_consuming(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let first = app.assign("lead-1", "ana", "north").await;
    wait_in_work(&app, "lead-1").await;
    app.stop().await;

    // Events published while the service is down wait in the stream.
    let payload = assigned("lead-2", "bo", "north");
    leadwheel_plumbing::testing::publish_event(
        &env.nats.url(),
        &WHEEL_STREAM,
        subjects::LEAD_ASSIGNED,
        "lead-2",
        &payload,
    )
    .await
    .unwrap();
    let app = spawn_app(&env).await;
    let lead = wait_in_work(&app, "lead-1").await;
    assert_eq!(lead.rep_id, "ana");
    assert_eq!(wait_in_work(&app, "lead-2").await.rep_id, "bo");
    // The inbox survived too: the first event again changes nothing.
    app.redeliver(&first, "lead-1", &assigned("lead-1", "ana", "north"))
        .await;
    app.assign("sentinel", "cy", "north").await;
    wait_in_work(&app, "sentinel").await;
    eventually(WAIT, "the sentinel's opps.lead.opened", || async {
        let events = app.events(&OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
        events.iter().any(|e| e.key == "sentinel").then_some(())
    })
    .await;
    let events = app.events(&OPPS_STREAM, subjects::OPPS_LEAD_OPENED).await;
    assert_eq!(events.iter().filter(|e| e.key == "lead-1").count(), 1);
    app.stop().await;
}

//! The gRPC `IntakeService` over a real channel, with real bearer tokens.

use std::collections::HashSet;

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::intake::v1::{CreateLeadRequest, GetLeadRequest, ListLeadsRequest};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{StreamReader, spawn_app};
use leadwheel_plumbing::on_both_backends;

on_both_backends!(
    create_lead_is_idempotent_on_request_id,
    bad_input_and_unknown_leads,
    roles_are_enforced,
    list_leads_pages_newest_first,
);

fn create(request_id: &str, email: &str) -> CreateLeadRequest {
    CreateLeadRequest {
        request_id: request_id.into(),
        email: email.into(),
        name: "Eve".into(),
        company: "Acme".into(),
        ..Default::default()
    }
}

async fn create_lead_is_idempotent_on_request_id(db: TestDb) {
    let app = spawn_app(db).await;
    let mut crm = app.grpc("crm-sync", Role::Integration).await;
    let first = crm
        .create_lead(create("req-1", "eve@acme.io"))
        .await
        .unwrap()
        .into_inner();
    let lead = first.lead.expect("a lead");
    assert!(!first.duplicate);
    assert_eq!(lead.email, "eve@acme.io");
    assert_eq!(lead.domain, "acme.io");

    // Retries, some at once, all answer the same lead and store nothing new.
    let retries = (0..8).map(|_| {
        let mut crm = crm.clone();
        async move { crm.create_lead(create("req-1", "eve@acme.io")).await }
    });
    for retry in futures::future::join_all(retries).await {
        let retry = retry.unwrap().into_inner();
        assert_eq!(retry.lead.unwrap().lead_id, lead.lead_id);
        assert!(!retry.duplicate, "a replay answers what the first call did");
    }
    assert_eq!(app.count("intake_leads").await, 1);
    assert_eq!(app.count("lw_outbox").await, 1);

    // The same request id for another lead is a client bug, refused.
    let reused = crm
        .create_lead(create("req-1", "frank@acme.io"))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);

    // Request ids are per caller: another integration's "req-1" is its own.
    let mut other = app.grpc("web-forms", Role::Integration).await;
    let theirs = other
        .create_lead(create("req-1", "gina@acme.io"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.lead.unwrap().lead_id, lead.lead_id);

    // Exactly the two leads were published.
    let mut reader = StreamReader::open(&app.nats_url()).await;
    let published = [reader.next().await, reader.next().await];
    let emails: HashSet<_> = published.iter().map(|e| e.lead.email.clone()).collect();
    assert_eq!(
        emails,
        HashSet::from(["eve@acme.io".into(), "gina@acme.io".into()])
    );
    app.stop().await;
}

async fn bad_input_and_unknown_leads(db: TestDb) {
    let app = spawn_app(db).await;
    let mut admin = app.grpc("root", Role::Admin).await;

    let missing = admin
        .get_lead(GetLeadRequest {
            lead_id: "lead_01J00000000000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let cases = [
        (create("r", "not-an-email"), "email"),
        (create("r", ""), "email"),
        (
            CreateLeadRequest {
                phone: "\u{7}".into(),
                ..create("r", "a@b.io")
            },
            "phone",
        ),
        (create(&"r".repeat(200), "a@b.io"), "request_id"),
    ];
    for (request, field) in cases {
        let status = admin.create_lead(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let details = status
            .get_details_bad_request()
            .expect("a BadRequest detail");
        assert_eq!(details.field_violations[0].field, field);
    }
    let empty_id = admin
        .get_lead(GetLeadRequest {
            lead_id: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(empty_id.code(), Code::InvalidArgument);
    assert_eq!(app.count("intake_leads").await, 0);
    assert_eq!(app.count("lw_outbox").await, 0);
    app.stop().await;
}

async fn roles_are_enforced(db: TestDb) {
    let app = spawn_app(db).await;
    let mut manager = app.grpc("mia", Role::Manager).await;
    let lead = manager
        .create_lead(create("", "hal@acme.io"))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();

    let mut rep = app.grpc("rep-ana", Role::Rep).await;
    let denied = [
        rep.create_lead(create("", "ivy@acme.io"))
            .await
            .unwrap_err(),
        rep.get_lead(GetLeadRequest {
            lead_id: lead.lead_id.clone(),
        })
        .await
        .unwrap_err(),
        rep.list_leads(ListLeadsRequest::default())
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }

    let mut forged = app.grpc_with_token("not.a.token").await;
    let status = forged
        .list_leads(ListLeadsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    for role in [Role::Integration, Role::Admin, Role::Manager] {
        let mut client = app.grpc("someone", role).await;
        let got = client
            .get_lead(GetLeadRequest {
                lead_id: lead.lead_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.lead.unwrap(), lead, "{role:?}");
    }
    assert_eq!(app.count("intake_leads").await, 1);
    app.stop().await;
}

async fn list_leads_pages_newest_first(db: TestDb) {
    let app = spawn_app(db).await;
    let mut admin = app.grpc("root", Role::Admin).await;
    let mut created = Vec::new();
    for n in 0..5 {
        let lead = admin
            .create_lead(create("", &format!("user{n}@acme.io")))
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        created.push(lead.lead_id);
    }
    created.reverse();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = admin
            .list_leads(ListLeadsRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.leads.len() <= 2);
        seen.extend(page.leads.into_iter().map(|l| l.lead_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every lead once, newest first");

    for (page_size, page_token, field) in [
        (501, String::new(), "page_size"),
        (-1, String::new(), "page_size"),
        (10, "bm9wZQ".to_string(), "page_token"),
    ] {
        let status = admin
            .list_leads(ListLeadsRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.get_details_bad_request().unwrap().field_violations[0].field,
            field
        );
    }
    app.stop().await;
}

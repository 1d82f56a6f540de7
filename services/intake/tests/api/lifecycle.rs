//! A lead's life at intake after creation: touches, list filters, bulk
//! import and erasure, over gRPC and HTTP.

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{LeadTouched, PersonErased};
use leadwheel_proto::intake::v1::{
    CreateLeadRequest, ErasePersonRequest, GetLeadRequest, ImportLeadsRequest, ImportRow,
    LeadFields, ListLeadsRequest,
};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{GrpcClient, relaxed, spawn_app_with};
use leadwheel_plumbing::on_both_backends;

on_both_backends!(touches_filters_imports_and_erasure);

const EXAMPLE_RULES: &str = include_str!("../../../../config/scoring.toml");

fn fields(email: &str, size: &str, source: &str) -> LeadFields {
    LeadFields {
        email: email.into(),
        name: "Someone".into(),
        company_size: size.into(),
        source: source.into(),
        plan: "enterprise".into(),
        country: "US".into(),
        ..LeadFields::default()
    }
}

async fn lead_ids(client: &mut GrpcClient, request: ListLeadsRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut request = request;
    loop {
        let page = client
            .list_leads(request.clone())
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.leads.into_iter().map(|l| l.lead_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        request.page_token = page.next_page_token;
    }
}

async fn touches_filters_imports_and_erasure(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("scoring.toml");
    std::fs::write(&rules, EXAMPLE_RULES).unwrap();
    let settings = leadwheel_intake::IntakeSettings {
        scoring_rules: Some(rules),
        ..relaxed()
    };
    let app = spawn_app_with(db, settings).await;
    let mut admin = app.grpc("root", Role::Admin).await;
    let mut crm = app.grpc("crm", Role::Integration).await;

    // Bulk import: a dry run validates and stores nothing.
    let rows = vec![
        ImportRow {
            row: 2,
            request_id: "f1:2".into(),
            fields: Some(fields("ana@acme.io", "5000", "partner")),
        },
        ImportRow {
            row: 3,
            request_id: "f1:3".into(),
            fields: Some(fields("not-an-email", "", "")),
        },
        ImportRow {
            row: 4,
            request_id: "f1:4".into(),
            fields: Some(fields("bo@small.io", "3", "website")),
        },
    ];
    let dry = crm
        .import_leads(ImportLeadsRequest {
            rows: rows.clone(),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dry.results.len(), 3);
    assert!(dry.results.iter().all(|r| r.lead_id.is_empty()));
    assert_eq!(
        (dry.results[1].row, dry.results[1].error_field.as_str()),
        (3, "email")
    );
    assert_eq!(app.count("intake_leads").await, 0);

    let imported = crm
        .import_leads(ImportLeadsRequest {
            rows: rows.clone(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    let ana = imported.results[0].lead_id.clone();
    let bo = imported.results[2].lead_id.clone();
    assert!(ana.starts_with("lead_") && bo.starts_with("lead_"));
    assert_eq!(imported.results[1].error_code, "invalid_format");
    // Re-running the same file answers the same leads.
    let again = crm
        .import_leads(ImportLeadsRequest {
            rows,
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.results[0].lead_id, ana);
    assert_eq!(again.results[2].lead_id, bo);
    assert_eq!(app.count("intake_leads").await, 2);
    let too_many = crm
        .import_leads(ImportLeadsRequest {
            rows: vec![ImportRow::default(); 501],
            dry_run: true,
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::InvalidArgument);

    // CreateLead with the full field set, and its refusal of mixed forms.
    // (A later millisecond than the import, so the newest-first order below
    // is certain.)
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cy = crm
        .create_lead(CreateLeadRequest {
            request_id: "c-1".into(),
            fields: Some(fields("cy@mid.io", "250", "referral")),
            ..CreateLeadRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!((cy.company_size, cy.tier.as_str()), (250, "A"));
    let mixed = crm
        .create_lead(CreateLeadRequest {
            email: "dd@mid.io".into(),
            fields: Some(fields("dd@mid.io", "", "")),
            ..CreateLeadRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        mixed.get_details_bad_request().unwrap().field_violations[0].field,
        "email"
    );

    // A duplicate signup touches the lead and says so.
    let touch = app
        .post_signup(&json!({"email": "ANA@acme.io", "source": "webinar"}))
        .await;
    assert_eq!(touch.status(), 200);
    let touched: Vec<LeadTouched> = app.published("intake.lead.touched", 1).await;
    assert_eq!(
        (touched[0].lead_id.as_str(), touched[0].source.as_str()),
        (ana.as_str(), "webinar")
    );
    let lead = admin
        .get_lead(GetLeadRequest {
            lead_id: ana.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!((lead.touches, lead.tier.as_str()), (1, "A"));

    // Filters: tier, source, time, and page tokens bound to their filter.
    let all = lead_ids(&mut admin, ListLeadsRequest::default()).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], cy.lead_id, "newest first");
    // ana and bo came in one import, maybe in the same millisecond.
    assert!(all[1..].contains(&ana) && all[1..].contains(&bo), "{all:?}");
    let tier_a = lead_ids(
        &mut admin,
        ListLeadsRequest {
            tier: "A".into(),
            page_size: 1,
            ..ListLeadsRequest::default()
        },
    )
    .await;
    assert_eq!(tier_a, [cy.lead_id.clone(), ana.clone()]);
    let website = lead_ids(
        &mut admin,
        ListLeadsRequest {
            source: "Website".into(),
            ..ListLeadsRequest::default()
        },
    )
    .await;
    assert_eq!(website, std::slice::from_ref(&bo));
    let since_cy = lead_ids(
        &mut admin,
        ListLeadsRequest {
            created_after_ms: cy.created_at_ms,
            ..ListLeadsRequest::default()
        },
    )
    .await;
    assert_eq!(since_cy, std::slice::from_ref(&cy.lead_id));
    let before_cy = lead_ids(
        &mut admin,
        ListLeadsRequest {
            created_before_ms: cy.created_at_ms,
            ..ListLeadsRequest::default()
        },
    )
    .await;
    assert!(!before_cy.contains(&cy.lead_id));
    let first = admin
        .list_leads(ListLeadsRequest {
            tier: "A".into(),
            page_size: 1,
            ..ListLeadsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let other_query = admin
        .list_leads(ListLeadsRequest {
            tier: "C".into(),
            page_size: 1,
            page_token: first.next_page_token,
            ..ListLeadsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        other_query
            .get_details_bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "page_token"
    );

    // Erasure: admins only; the lead stays, anonymous; the event goes out.
    let mut manager = app.grpc("mia", Role::Manager).await;
    let denied = manager
        .erase_person(ErasePersonRequest {
            email: "ana@acme.io".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = admin
        .erase_person(ErasePersonRequest {
            email: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let erased = admin
        .erase_person(ErasePersonRequest {
            email: " Ana@ACME.io ".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.lead_ids, std::slice::from_ref(&ana));
    let lead = admin
        .get_lead(GetLeadRequest {
            lead_id: ana.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(
        (
            lead.email.as_str(),
            lead.name.as_str(),
            lead.phone.as_str(),
            lead.domain.as_str()
        ),
        ("", "", "", "")
    );
    assert_eq!(
        (lead.status.as_str(), lead.tier.as_str()),
        ("erased", "A"),
        "kept for counts"
    );
    let events: Vec<PersonErased> = app.published("intake.person.erased", 1).await;
    assert_eq!(events[0].lead_ids, std::slice::from_ref(&ana));
    assert_eq!(events[0].by, "admin:root");
    let leftovers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM intake_leads WHERE email_key = $1 OR email = $2")
            .bind("ana@acme.io")
            .bind("ana@acme.io")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(leftovers, 0);
    let keys: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM intake_dedupe_keys WHERE email_key = 'ana@acme.io'",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(keys, 0);
    let erased_list = lead_ids(
        &mut admin,
        ListLeadsRequest {
            status: "erased".into(),
            ..ListLeadsRequest::default()
        },
    )
    .await;
    assert_eq!(erased_list, std::slice::from_ref(&ana));
    // The person may come back: a new lead, not a duplicate of the erased one.
    let back = app.post_signup(&json!({"email": "ana@acme.io"})).await;
    assert_eq!(back.status(), 201);
    let back: Value = back.json().await.unwrap();
    assert_ne!(back["lead_id"], ana.as_str());
    // Erasing an unknown person erases nothing and announces nothing.
    let nobody = admin
        .erase_person(ErasePersonRequest {
            email: "ghost@acme.io".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(nobody.lead_ids.is_empty());
    assert_eq!(app.events("intake.person.erased").await, 1);
    app.stop().await;
}

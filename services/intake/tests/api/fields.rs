//! The full field set over both encodings, the unknown-field policy and
//! the custom attribute limits.

use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::LeadCreated;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use leadwheel_plumbing::on_both_backends;

on_both_backends!(every_field_in_json_and_in_a_form);

async fn every_field_in_json_and_in_a_form(db: TestDb) {
    let app = spawn_app(db).await;
    let full = json!({
        "email": "Ana@Acme.io",
        "name": "Ana Lima",
        "company": "Acme",
        "phone": "0049 (30) 123-4567",
        "domain": "www.acme-group.com",
        "company_size": "201-500",
        "country": "de",
        "source": "Partner",
        "utm_source": "linkedin",
        "utm_medium": "paid",
        "utm_campaign": "q3-launch",
        "utm_term": "lead routing",
        "utm_content": "banner-a",
        "product": "wheel",
        "plan": "Business",
        "consent": true,
        "message": "Call me",
        "attributes": {"CRM": "hubspot", "seats": 40, "beta": false},
        // Unknown fields are ignored, not stored (documented policy).
        "honeypot": "",
        "gclid": {"nested": [1, 2]},
    });
    let response = app.post_signup(&full).await;
    assert_eq!(response.status(), 201);

    // A plain website form: URL-encoded, attributes as attributes[name].
    let form = "email=bo%40shop.example&name=Bo+Berg&company_size=12&consent=on\
                &utm_campaign=spring%20sale&attributes%5Buse_case%5D=round-robin&submit=Sign+up";
    let response = app
        .post_raw("application/x-www-form-urlencoded", form, &[])
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert!(body["lead_id"].as_str().unwrap().starts_with("lead_"));

    let events: Vec<LeadCreated> = app.published("intake.lead.created", 2).await;
    assert_eq!(events.len(), 2);
    let ana = &events[0];
    assert_eq!(ana.email, "Ana@acme.io");
    assert_eq!(ana.phone, "+49301234567");
    assert_eq!(
        ana.domain, "acme-group.com",
        "the domain field wins over the email's"
    );
    assert_eq!(ana.company_size, 201);
    assert_eq!(ana.country, "DE");
    assert_eq!(ana.source, "partner");
    assert_eq!(
        [
            ana.utm_source.as_str(),
            ana.utm_medium.as_str(),
            ana.utm_campaign.as_str(),
            ana.utm_term.as_str(),
            ana.utm_content.as_str()
        ],
        ["linkedin", "paid", "q3-launch", "lead routing", "banner-a"]
    );
    assert_eq!(
        (ana.product.as_str(), ana.plan.as_str()),
        ("wheel", "Business")
    );
    assert!(ana.consent);
    let mut attributes: Vec<_> = ana.attributes.iter().collect();
    attributes.sort();
    assert_eq!(
        attributes,
        vec![
            (&"beta".to_string(), &"false".to_string()),
            (&"crm".to_string(), &"hubspot".to_string()),
            (&"seats".to_string(), &"40".to_string()),
        ]
    );
    let bo = &events[1];
    assert_eq!(
        (bo.email.as_str(), bo.name.as_str()),
        ("bo@shop.example", "Bo Berg")
    );
    assert_eq!(bo.company_size, 12);
    assert!(bo.consent);
    assert_eq!(bo.utm_campaign, "spring sale");
    assert_eq!(
        bo.attributes.get("use_case").map(String::as_str),
        Some("round-robin")
    );
    assert_eq!(
        bo.attributes.len(),
        1,
        "unknown form fields are not attributes"
    );

    // Refusals on the new fields, each naming its field; nothing stored.
    let too_many: serde_json::Map<String, Value> =
        (0..21).map(|n| (format!("k{n}"), json!("v"))).collect();
    let refused = [
        (
            json!({"email": "c@acme.io", "attributes": too_many}),
            "attributes",
            "too_many",
        ),
        (
            json!({"email": "c@acme.io", "attributes": {"a b": "v"}}),
            "attributes",
            "invalid_key",
        ),
        (
            json!({"email": "c@acme.io", "attributes": {"k": "v".repeat(501)}}),
            "attributes",
            "too_long",
        ),
        (
            json!({"email": "c@acme.io", "attributes": {"k": ["v"]}}),
            "attributes",
            "wrong_type",
        ),
        (
            json!({"email": "c@acme.io", "company_size": "lots"}),
            "company_size",
            "invalid_format",
        ),
        (
            json!({"email": "c@acme.io", "consent": "maybe"}),
            "consent",
            "invalid_format",
        ),
        (
            json!({"email": "c@acme.io", "utm_source": "u".repeat(201)}),
            "utm_source",
            "too_long",
        ),
        (
            json!({"email": "c@acme.io", "plan": 3}),
            "plan",
            "wrong_type",
        ),
        (
            json!({"email": "c@acme.io", "domain": "not a domain"}),
            "domain",
            "invalid_format",
        ),
        (
            json!({"email": "c@acme.io", "phone": "+1 555"}),
            "phone",
            "invalid_format",
        ),
    ];
    for (body, field, code) in refused {
        let response = app.post_signup(&body).await;
        assert_eq!(response.status(), 422, "{field} {code}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let form_refusals = [
        ("email=c%40acme.io&email=d%40acme.io", 422, "duplicate"),
        ("email=c%40acme.io&name=%ff", 400, "malformed_form"),
        ("email=c%40acme.io&name=%4", 400, "malformed_form"),
        ("name=Cy", 422, "required"),
    ];
    for (form, status, code) in form_refusals {
        let response = app
            .post_raw("application/x-www-form-urlencoded", form, &[])
            .await;
        assert_eq!(response.status(), status, "{form}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{form}: {error}");
    }
    assert_eq!(app.count("intake_leads").await, 2);
    assert_eq!(app.count("lw_outbox").await, 2);
    app.stop().await;
}

//! Scoring and routing hints on `intake.lead.created`: tiers from the rules
//! file (reloaded while running, a bad edit refused), and the account
//! owner from intake's copy of opportunity's accounts.

use std::time::Duration;

use leadwheel_plumbing::bus::{OPPS_STREAM, subjects};
use leadwheel_plumbing::testing::{TestDb, eventually, publish_event};
use leadwheel_proto::events::v1::{AccountChanged, LeadCreated};
use serde_json::{Value, json};

use crate::helpers::{TestApp, logged, relaxed, spawn_app, spawn_app_with};
use leadwheel_plumbing::on_both_backends;

on_both_backends!(
    tiers_travel_on_the_event_and_rules_reload,
    known_account_domains_carry_their_owner,
);

const EXAMPLE_RULES: &str = include_str!("../../../../config/scoring.toml");

/// Posts `body` and returns the lead id it created.
async fn create(app: &TestApp, body: Value) -> String {
    let response = app.post_signup(&body).await;
    assert_eq!(response.status(), 201, "{body}");
    let body: Value = response.json().await.unwrap();
    body["lead_id"].as_str().unwrap().to_string()
}

/// The `intake.lead.created` event of `lead_id`.
async fn event_of(app: &TestApp, lead_id: &str, published: usize) -> LeadCreated {
    app.published::<LeadCreated>("intake.lead.created", published)
        .await
        .into_iter()
        .find(|event| event.lead_id == lead_id)
        .expect("the lead's event")
}

async fn tiers_travel_on_the_event_and_rules_reload(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scoring.toml");
    std::fs::write(&path, EXAMPLE_RULES).unwrap();
    let settings = leadwheel_intake::IntakeSettings {
        scoring_rules: Some(path.clone()),
        scoring_reload: Duration::from_millis(50),
        ..relaxed()
    };
    let app = spawn_app_with(db, settings).await;
    let big = |n: u32| {
        json!({"email": format!("cto{n}@bigco.com"), "company_size": "5000",
               "country": "US", "source": "partner", "plan": "Enterprise"})
    };
    let strong = create(&app, big(1)).await;
    let weak = create(
        &app,
        json!({"email": "someone@gmail.com", "company_size": 3}),
    )
    .await;
    let event = event_of(&app, &strong, 2).await;
    assert_eq!((event.tier.as_str(), event.score), ("A", 100));
    assert!(
        event.score_reasons.contains(&"country:US:+10".to_string()),
        "{:?}",
        event.score_reasons
    );
    let event = event_of(&app, &weak, 2).await;
    assert_eq!((event.tier.as_str(), event.score), ("C", 0));
    assert_eq!(
        event.score_reasons,
        [
            "base:+30",
            "freemail:gmail.com:-20",
            "company_size:1..9:-10"
        ]
    );

    // A bad edit is refused (logged with its line) and the old rules stay.
    std::fs::write(&path, "base = 10\n[tiers]\nA = oops\n").unwrap();
    let path_field = format!("path={}", path.display());
    let refusal = eventually(
        Duration::from_secs(10),
        "the bad rules to be refused",
        || {
            let parts = ["scoring rules refused", path_field.as_str()];
            async move { logged(&parts) }
        },
    )
    .await;
    assert!(refusal.contains("line=3"), "{refusal}");
    let still = create(&app, big(2)).await;
    assert_eq!(event_of(&app, &still, 3).await.tier, "A");

    // A good edit takes over without a restart.
    std::fs::write(
        &path,
        "base = 50\n[tiers]\nGold = 90\nSilver = 0\n[plan]\nenterprise = 1\n",
    )
    .unwrap();
    let mut n = 3;
    let reloaded = eventually(Duration::from_secs(10), "the new rules to score", || {
        n += 1;
        let app = &app;
        let body = big(n);
        async move {
            let lead_id = create(app, body).await;
            let event = event_of(app, &lead_id, n as usize).await;
            (event.tier == "Silver").then_some(event)
        }
    })
    .await;
    assert_eq!(reloaded.score, 51);
    assert_eq!(reloaded.score_reasons, ["base:+50", "plan:enterprise:+1"]);
    app.stop().await;
}

fn account(id: &str, domains: &[&str], owner: &str, status: &str, version: i64) -> AccountChanged {
    AccountChanged {
        account_id: id.into(),
        name: id.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        owner_rep_id: owner.into(),
        team_id: "team-east".into(),
        status: status.into(),
        version,
        ..AccountChanged::default()
    }
}

async fn known_account_domains_carry_their_owner(db: TestDb) {
    let app = spawn_app(db).await;
    let url = app.nats_url();
    let publish = |subject: &'static str, account: AccountChanged| {
        let url = url.clone();
        async move {
            publish_event(
                &url,
                &OPPS_STREAM,
                subject,
                &account.account_id.clone(),
                &account,
            )
            .await
            .unwrap();
        }
    };
    publish(
        subjects::OPPS_ACCOUNT_CREATED,
        account(
            "acc-acme",
            &["Acme.com", "www.acme.de"],
            "rep-ana",
            "active",
            2,
        ),
    )
    .await;
    // An older copy arriving late changes nothing.
    publish(
        subjects::OPPS_ACCOUNT_UPDATED,
        account("acc-acme", &["acme.com"], "rep-old", "active", 1),
    )
    .await;
    publish(
        subjects::OPPS_ACCOUNT_CREATED,
        account("acc-closed", &["closed.io"], "rep-cy", "closed", 1),
    )
    .await;
    publish(
        subjects::OPPS_ACCOUNT_CREATED,
        account("acc-nobody", &["nobody.io"], "", "active", 1),
    )
    .await;
    // Free-mail domains are never mapped, whatever an account lists.
    publish(
        subjects::OPPS_ACCOUNT_CREATED,
        account(
            "acc-freemail",
            &["gmail.com", "fm.io"],
            "rep-dee",
            "active",
            1,
        ),
    )
    .await;
    wait_for_accounts(&app, 4, "acc-acme", 2).await;

    let cases = [
        (json!({"email": "buyer@acme.com"}), "rep-ana"),
        (json!({"email": "eu@sales.acme.de"}), "rep-ana"),
        (
            json!({"email": "x@gmail.com", "website": "https://acme.com/team"}),
            "rep-ana",
        ),
        (json!({"email": "y@closed.io"}), ""),
        (json!({"email": "z@nobody.io"}), ""),
        (json!({"email": "w@gmail.com"}), ""),
        (json!({"email": "v@fm.io"}), "rep-dee"),
        (json!({"email": "u@elsewhere.io"}), ""),
    ];
    let mut ids = Vec::new();
    for (body, _) in &cases {
        ids.push(create(&app, body.clone()).await);
    }
    for ((body, owner), lead_id) in cases.iter().zip(&ids) {
        let event = event_of(&app, lead_id, cases.len()).await;
        assert_eq!(event.account_owner_hint, *owner, "{body}");
        // No owner: no hint at all (never an empty one).
        let team = (!owner.is_empty()).then(|| "team-east".to_string());
        assert_eq!(event.team_hint, team, "{body}");
    }

    // The owner changes: later signups follow the new owner.
    publish(
        subjects::OPPS_ACCOUNT_OWNER_CHANGED,
        account("acc-acme", &["acme.com"], "rep-bo", "active", 3),
    )
    .await;
    wait_for_accounts(&app, 4, "acc-acme", 3).await;
    let later = create(&app, json!({"email": "cfo@acme.com"})).await;
    assert_eq!(
        event_of(&app, &later, cases.len() + 1)
            .await
            .account_owner_hint,
        "rep-bo"
    );
    let gone = create(&app, json!({"email": "ops@acme.de"})).await;
    assert_eq!(
        event_of(&app, &gone, cases.len() + 2)
            .await
            .account_owner_hint,
        "",
        "acme.de is no longer the account's"
    );
    app.stop().await;
}

async fn wait_for_accounts(app: &TestApp, accounts: i64, account_id: &str, version: i64) {
    let store = app.store.clone();
    eventually(Duration::from_secs(20), "the account copy", || {
        let store = store.clone();
        async move {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM intake_accounts")
                .fetch_one(store.pool())
                .await
                .ok()?;
            let current: i64 =
                sqlx::query_scalar("SELECT version FROM intake_accounts WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(store.pool())
                    .await
                    .ok()?;
            (count == accounts && current == version).then_some(())
        }
    })
    .await;
}

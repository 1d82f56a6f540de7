//! End-to-end: routing across teams with the real intake and wheel
//! processes. Intake scores signups posted over HTTP with the example
//! rules (config/scoring.toml); the wheel's rules send tier-A companies of
//! 1000+ to `enterprise` and the rest to `smb`, and `ExplainLead` says
//! which rule chose. The rules are set, tested and read back with the
//! real `leadctl`.

use std::time::Duration;

use leadwheel_e2e::{System, bin_dir};
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::testing::{self, eventually};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

/// Intake's example scoring rules: a US company of 1000+ scores 75, tier A.
const SCORING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/scoring.toml");

static BIG: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
    serde_json::json!({"email": "cto@bigco.example", "name": "Casey", "company": "Bigco",
        "company_size": "1000+", "country": "US"})
});

/// Runs the real leadctl as an admin against the system's wheel; its stdout.
fn leadctl(system: &System, args: &[&str]) -> String {
    let out = leadctl_run(system, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "leadctl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn leadctl_run(system: &System, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin_dir().join("leadctl"))
        .args(args)
        .env_remove("LEADWHEEL_AS")
        .env_remove("LEADWHEEL_TOKEN")
        .env("LEADWHEEL_JWT_SECRET", testing::TEST_JWT_SECRET)
        .env(
            "LEADWHEEL_WHEEL_URL",
            format!("http://{}", system.addr("wheel", "grpc")),
        )
        .output()
        .expect("running leadctl")
}

type Wheel = WheelServiceClient<InterceptedService<Channel, BearerToken>>;

async fn team(wheel: &mut Wheel, team_id: &str, rep: &str) {
    wheel
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: team_id.into(),
                name: team_id.into(),
                manager_id: "maya".into(),
                window_ms: 60_000,
                rep_ids: vec![rep.into()],
                policy: None,
            }),
            rep_names: vec![],
        })
        .await
        .expect("seeding a team");
}

async fn signup(system: &System, body: serde_json::Value) -> String {
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&body)
        .send()
        .await
        .expect("posting a signup");
    assert!(
        response.status().is_success(),
        "signup refused: {}",
        response.status()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"].as_str().expect("lead_id").to_string()
}

#[tokio::test]
async fn two_teams_get_the_leads_their_rules_say_visible_in_explain() {
    let mut system = System::nats_only().await.expect("nats");
    let scoring = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/scoring.toml");
    system
        .start_instance(
            "intake",
            "intake",
            &[("LEADWHEEL_INTAKE_SCORING_RULES", scoring)],
        )
        .await
        .expect("intake");
    system.start_service("wheel").await.expect("wheel");

    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    team(&mut wheel, "enterprise", "erin").await;
    team(&mut wheel, "smb", "sol").await;
    // An admin sets the rules with leadctl, from a file.
    let rules = system.dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "default_team = \"smb\"\n\n[[rules]]\nid = \"tier-a-enterprise\"\nteam = \"enterprise\"\n\
         tiers = [\"A\"]\ncompany_size_min = 1000\n",
    )
    .unwrap();
    let set = leadctl(
        &system,
        &["routing", "rules", "set", rules.to_str().unwrap()],
    );
    assert!(
        set.contains("routing rules version 1 set (1 rule)"),
        "{set}"
    );

    // leadctl asks the wheel which team a signup would get, scoring it as
    // intake does; nothing is stored.
    let signup_file = system.dir.path().join("signup.json");
    std::fs::write(&signup_file, BIG.to_string()).unwrap();
    let tested = leadctl(
        &system,
        &[
            "routing",
            "test",
            signup_file.to_str().unwrap(),
            "--rules",
            SCORING,
        ],
    );
    assert!(tested.contains("(tier A)"), "{tested}");
    assert!(
        tested.contains("team enterprise by rule tier-a-enterprise (rules v1): tier A is one of A"),
        "{tested}"
    );
    let history = leadctl(
        &system,
        &["routing", "rules", "history", "--output", "json"],
    );
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history[0]["version"], 1);

    let big = signup(&system, BIG.clone()).await;
    let small = signup(
        &system,
        serde_json::json!({"email": "owner@shop.example", "name": "Sam", "company": "Shop",
            "company_size": 5}),
    )
    .await;

    for (lead_id, team_id, rep) in [(&big, "enterprise", "erin"), (&small, "smb", "sol")] {
        let explained = eventually(WAIT, &format!("{lead_id} offered in {team_id}"), || {
            let mut wheel = wheel.clone();
            let lead_id = lead_id.clone();
            async move {
                let r = wheel
                    .explain_lead(ExplainLeadRequest { lead_id })
                    .await
                    .ok()?
                    .into_inner();
                r.entries.iter().any(|e| e.kind == "offered").then_some(r)
            }
        })
        .await;
        assert_eq!(explained.team_id, team_id);
        let offered = explained
            .entries
            .iter()
            .find(|e| e.kind == "offered")
            .unwrap();
        assert_eq!(offered.rep_id, rep);
        let routed = explained.routed_by.expect("how the team was chosen");
        assert_eq!(routed.team_id, team_id);
        let line = explained
            .entries
            .iter()
            .find(|e| e.kind == "routed")
            .expect("a routed ledger line");
        if team_id == "enterprise" {
            assert_eq!(
                (routed.how, routed.rule_id.as_str(), routed.rules_version),
                (RoutedHow::Rule as i32, "tier-a-enterprise", 1)
            );
            assert!(
                line.detail.starts_with("rule tier-a-enterprise (rules v1)"),
                "{}",
                line.detail
            );
        } else {
            assert_eq!(routed.how, RoutedHow::Default as i32);
            assert!(line.detail.contains("default team smb"), "{}", line.detail);
        }
    }
}

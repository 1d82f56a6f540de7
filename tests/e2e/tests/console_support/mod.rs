//! What the console's end-to-end tests share: the five services and the
//! console started as processes, sign-in through the development picker,
//! form posts with the CSRF token, and the browser scripts run by node
//! against Debian's Chromium.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{Team, TeamPolicy, UpsertTeamRequest};
use reqwest::redirect::Policy;

pub const WAIT: Duration = Duration::from_secs(30);

/// The console tests of a file run one at a time: the browser test measures
/// that an offer shows within a second of a signup, and three other systems
/// of six processes starting beside it on a two-core machine would make it
/// measure the machine instead.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The five services, a demo team (ana, ben; pass reasons; `window_ms`)
/// and the console, in development mode.
pub async fn start(window_ms: i64) -> (System, String) {
    let mut system = System::start().await.expect("starting the services");
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "demo".into(),
                name: "Demo".into(),
                manager_id: "maya".into(),
                window_ms,
                rep_ids: vec!["ana".into(), "ben".into()],
                policy: Some(TeamPolicy {
                    pass_reasons: vec!["busy".into(), "on a call".into()],
                    breaker_expiries: 100,
                    ..Default::default()
                }),
            }),
            rep_names: vec!["Ana Lima".into(), "Ben Okafor".into()],
        })
        .await
        .expect("seeding the team");
    let wheel_url = format!("http://{}", system.addr("wheel", "grpc"));
    let opps_url = format!("http://{}", system.addr("opportunity", "grpc"));
    let alerting_url = format!("http://{}", system.addr("alerting", "grpc"));
    let reporting_url = format!("http://{}", system.addr("reporting", "grpc"));
    system
        .start_instance(
            "console",
            "console",
            &[
                ("LEADWHEEL_DEV_MODE", "1"),
                ("LEADWHEEL_CONSOLE_HTTP_ADDR", "127.0.0.1:0"),
                ("LEADWHEEL_CONSOLE_WHEEL_URL", &wheel_url),
                ("LEADWHEEL_CONSOLE_OPPORTUNITY_URL", &opps_url),
                ("LEADWHEEL_CONSOLE_ALERTING_URL", &alerting_url),
                ("LEADWHEEL_CONSOLE_REPORTING_URL", &reporting_url),
            ],
        )
        .await
        .expect("starting the console");
    let url = format!("http://{}", system.addr("console", "http"));
    (system, url)
}

/// Opens a one-time sign-in `link` to the console at `url` as a person
/// does: the page it opens (which uses nothing), then its Continue button;
/// the answer to that POST (a 303 with the session cookie when accepted).
pub async fn use_link(url: &str, link: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = client.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link's page");
    let page = page.text().await.unwrap();
    client
        .post(format!("{url}/signin/link"))
        .header("origin", url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(leadwheel_plumbing::testing::link_continue_body(&page))
        .send()
        .await
        .unwrap()
}

/// The session cookie (`name=value`) a sign-in answer sets.
pub fn session_cookie(answer: &reqwest::Response) -> String {
    answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

pub async fn signup(system: &System, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({"email": email, "name": "Pat Buyer", "company": "Acme"}))
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

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="csrf" value="…"` in a page.
pub fn csrf_in(html: &str) -> String {
    let start =
        html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Signs in through the development picker; returns (cookie, csrf token).
pub async fn sign_in(url: &str, who: &str) -> (String, String) {
    let page = client()
        .get(format!("{url}/signin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            r#"data-user="{}""#,
            who.split(':').nth(1).unwrap()
        )),
        "{who} on the picker: {page}"
    );
    let answer = client()
        .post(format!("{url}/signin/dev"))
        .header("origin", url)
        .header("content-type", "application/x-www-form-urlencoded")
        // Tokens are base64url and `who` is `role:id`: nothing to escape.
        .body(format!("csrf={}&who={who}&lang=en", csrf_in(&page)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let home = if who.starts_with("rep:") {
        "/"
    } else {
        "/board"
    };
    let home = client()
        .get(format!("{url}{home}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (cookie, csrf_in(&home))
}

pub fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../browser")
}

/// Reads `stream` until its text so far contains `needle`; returns it.
pub async fn read_until(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(WAIT, async {
        while !seen.contains(needle) {
            match stream.chunk().await.unwrap() {
                Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                None => return false,
            }
        }
        true
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "{needle:?} never came; the stream said:\n{seen}"
    );
    seen
}

pub async fn post(url: &str, cookie: &str, csrf: &str, body: &str) -> reqwest::Response {
    client()
        .post(url)
        .header("cookie", cookie)
        .header(
            "origin",
            url.split("/").take(3).collect::<Vec<_>>().join("/"),
        )
        .header("x-csrf-token", csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Runs `tests/browser/<script>` with node against the console at `url`
/// (Debian's Chromium through playwright-core), with `env` added; fails the
/// test with the script's output and the console's log unless the script
/// exits well and prints "browser: all checks passed".
pub async fn run_browser_script(system: &System, url: &str, script: &str, env: &[(&str, &str)]) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: `apt-get install -y chromium` (.ci/run does)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is missing: `npm ci --prefix tests/browser` (.ci/run does)"
    );
    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser_dir().join(script))
        .env("CONSOLE_URL", url)
        .env("SIGNUP_URL", system.signup_url())
        .env("CHROMIUM", &chromium)
        .env(
            "SCREENSHOT_DIR",
            std::env::var("SCREENSHOT_DIR").unwrap_or_default(),
        );
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().await.expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test {script} failed:\n{stdout}\n{stderr}\nconsole log:\n{}",
        system.log("console")
    );
    assert!(stdout.contains("browser: all checks passed"), "{stdout}");
}

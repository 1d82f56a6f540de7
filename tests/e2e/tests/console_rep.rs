//! End-to-end: the rep's work screens of the web console against the five
//! real services over a real nats-server: `tests/browser/console_rep.mjs`
//! in Debian's Chromium at a phone-sized viewport (claim, log a call with a
//! recording, set a follow-up, convert, move the opportunity's stage, an
//! alert shown live and acknowledged, my numbers), then over HTTP: my
//! numbers say what reporting's gRPC says, another rep's opportunity is a
//! 403, the manager's alerts inbox shows the team's alert, the services'
//! refusals name the field.

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::alerting::v1::{Rule, SetRuleRequest};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{GetFiveQuestionsRequest, Period, PeriodKind};
use leadwheel_proto::wheel::v1::SetAvailabilityRequest;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;

mod console_support;
use console_support::*;

/// The `<td … data-current>N</td>` of a row of the numbers page.
fn current(page: &str, question: &str) -> i64 {
    let row = &page[page
        .find(&format!(r#"data-question="{question}""#))
        .unwrap_or_else(|| panic!("no {question} row: {page}"))..];
    let cell = &row[row.find("data-current>").expect("a current cell") + "data-current>".len()..];
    cell[..cell.find('<').unwrap()].trim().parse().unwrap()
}

#[tokio::test]
async fn a_rep_works_leads_deals_alerts_and_numbers_in_chromium() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let (system, url) = start(30_000).await;
    // Every offer is ana's: ben is away.
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .set_availability(SetAvailabilityRequest {
            rep_id: "ben".into(),
            availability: "away".into(),
            reason: "the test wants ana".into(),
        })
        .await
        .expect("ben away");
    // A lead nobody touches for 2 s raises an alert for its rep.
    let mut alerting =
        AlertingServiceClient::new(system.authed("alerting", "admin", Role::Admin).await);
    alerting
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "demo".into(),
                rule: "no_first_touch".into(),
                enabled: true,
                threshold_seconds: 2,
                recipients: "rep".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("a 2 s first-touch rule");

    let results = system.dir.path().join("console_rep.json");
    run_browser_script(
        &system,
        &url,
        "console_rep.mjs",
        &[("RESULT_FILE", results.to_str().unwrap())],
    )
    .await;
    let made: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let field = |name: &str| made[name].as_str().unwrap().to_string();
    let (opportunity, quiet, alert) = (field("opportunity"), field("quiet"), field("alert"));

    // My numbers say what reporting says.
    let mut reporting =
        ReportingServiceClient::new(system.authed("reporting", "ana", Role::Rep).await);
    let five = reporting
        .get_five_questions(GetFiveQuestionsRequest {
            rep_id: "ana".into(),
            period: Some(Period {
                kind: PeriodKind::Week as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let current_five = five.current.unwrap_or_default();
    assert_eq!(current_five.calls, made["calls"].as_i64().unwrap());
    let (ana, ana_csrf) = sign_in(&url, "rep:ana").await;
    let numbers = client()
        .get(format!("{url}/numbers"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(current(&numbers, "calls"), current_five.calls);
    assert_eq!(
        current(&numbers, "opportunities"),
        current_five.opportunities
    );

    // Another rep opening ana's opportunity by URL: the service's 403.
    let (ben, _) = sign_in(&url, "rep:ben").await;
    for path in [
        format!("/opportunities/{opportunity}"),
        format!("/leads/{quiet}"),
    ] {
        let theirs = client()
            .get(format!("{url}{path}"))
            .header("cookie", &ben)
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status(), 403, "{path}");
    }
    let own = client()
        .get(format!("{url}/opportunities/{opportunity}"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // The manager's alerts inbox (linked from the board) has the team's alert.
    let (maya, _) = sign_in(&url, "manager:maya").await;
    let board = client()
        .get(format!("{url}/board"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(board.contains(r#"href="/alerts""#), "{board}");
    let inbox = client()
        .get(format!("{url}/alerts/{alert}"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status(), 200);
    assert!(
        inbox
            .text()
            .await
            .unwrap()
            .contains(r#"data-alert-state="acknowledged""#)
    );

    // The services' refusals, over plain HTTP: named, with their 4xx.
    let dq = post(
        &format!("{url}/leads/{quiet}/disqualify"),
        &ana,
        &ana_csrf,
        "reason=bogus&note=",
    )
    .await;
    assert_eq!(dq.status(), 400);
    assert!(dq.text().await.unwrap().contains("reason"));
    // A stale version: someone changed the deal meanwhile (409).
    let stale = post(
        &format!("{url}/opportunities/{opportunity}/category"),
        &ana,
        &ana_csrf,
        "category=commit&version=1",
    )
    .await;
    assert_eq!(stale.status(), 409);
    // A plain form that works goes back to the page (303), and it is done.
    let back = post(
        &format!("{url}/leads/{quiet}/hand-back"),
        &ana,
        &ana_csrf,
        "reason=bad_timing&note=not+now",
    )
    .await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], format!("/leads/{quiet}"));
    eventually(WAIT, "the lead back in the pool", || {
        let mut wheel = wheel.clone();
        let quiet = quiet.clone();
        async move {
            let pool = wheel
                .list_pool(leadwheel_proto::wheel::v1::ListPoolRequest {
                    team_id: "demo".into(),
                })
                .await
                .ok()?
                .into_inner()
                .leads;
            pool.iter()
                .any(|p| p.lead.as_ref().is_some_and(|l| l.lead_id == quiet))
                .then_some(())
        }
    })
    .await;
}

//! The manager's screens of the console against the five real services:
//! after signups, claims, a pass and a conversion driven through the real
//! APIs, the charts show the numbers reporting gives, a CSV download is
//! what `leadwheel-report-sheets` writes from reporting's answer, a team
//! setting is saved and a bad one refused by the wheel next to its field,
//! and a handover moves a leaver's lead to the receiver — in Chromium
//! (tests/browser/console_manager.mjs) at a laptop's viewport, and the
//! refusals over HTTP.

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::opportunity::v1::ConvertLeadRequest;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetFairnessResponse, GetPipelineRequest, GetPipelineResponse, Period,
    PeriodKind,
};
use leadwheel_proto::wheel::v1::ListTeamsRequest;

mod console_support;
mod flow;

use console_support::{ONE_AT_A_TIME, client, post, run_browser_script, sign_in, start};
use flow::{WAIT, claim_as, in_work_for, lead_in_work, opps, signup, wheel};

fn month() -> Option<Period> {
    Some(Period {
        kind: PeriodKind::Month as i32,
        ..Default::default()
    })
}

async fn pipeline(system: &System) -> GetPipelineResponse {
    ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await)
        .get_pipeline(GetPipelineRequest {
            team_id: "demo".into(),
            period: month(),
            ..Default::default()
        })
        .await
        .expect("maya reads the pipeline")
        .into_inner()
}

async fn fairness(system: &System) -> GetFairnessResponse {
    ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await)
        .get_fairness(GetFairnessRequest {
            team_id: "demo".into(),
            period: month(),
            ..Default::default()
        })
        .await
        .expect("maya reads fairness")
        .into_inner()
}

#[tokio::test]
async fn a_manager_reads_charts_sets_the_team_and_hands_over_in_chromium() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let started = std::time::Instant::now();
    let (system, url) = start(30_000).await;
    let admin = wheel(&system, "admin", Role::Admin).await;

    // Ana claims the first lead and converts it into a deal closing this
    // month; ana passes the second, which ben claims.
    let first = signup(&system, "pat@charts-one.example", "Charts One").await;
    claim_as(&system, &admin, &first, "ana").await;
    let second = signup(&system, "sam@charts-two.example", "Charts Two").await;
    claim_as(&system, &admin, &second, "ben").await;
    let mut ana = opps(&system, "ana", Role::Rep).await;
    lead_in_work(&ana, &first).await;
    let month_end = pipeline(&system).await.period.expect("a period").to;
    ana.convert_lead(ConvertLeadRequest {
        request_id: "convert-charts".into(),
        lead_id: first.clone(),
        account_name: "Charts One".into(),
        domains: vec!["charts-one.example".into()],
        tier: "A".into(),
        opportunity_name: "Charts One rollout".into(),
        amount_minor: 1_234_500,
        currency: "EUR".into(),
        expected_close_date: month_end,
        stage: String::new(),
    })
    .await
    .expect("ana converts the lead");
    let maya_opps = opps(&system, "maya", Role::Manager).await;
    in_work_for(&maya_opps, &second, "ben").await;

    // What reporting answers once it has taken all of that in.
    let pipeline = eventually(WAIT, "the deal in reporting's pipeline", || {
        let system = &system;
        async move {
            let answer = pipeline(system).await;
            answer
                .open
                .iter()
                .any(|row| row.rep_id == "ana" && row.amount_minor == 1_234_500)
                .then_some(answer)
        }
    })
    .await;
    let fairness = eventually(WAIT, "both claims in reporting's fairness", || {
        let system = &system;
        async move {
            let answer = fairness(system).await;
            let claims: i64 = answer.reps.iter().map(|r| r.claims).sum();
            (claims == 2).then_some(answer)
        }
    })
    .await;

    // Over HTTP: the refusals.
    let (maya, maya_csrf) = sign_in(&url, "manager:maya").await;
    let (ana_cookie, ana_csrf) = sign_in(&url, "rep:ana").await;
    let no_token = post(&format!("{url}/team"), &maya, "", "window_ms=40000").await;
    assert_eq!(no_token.status(), 403, "a POST without the CSRF token");
    // A rep may not change the team: the wheel says so, the console shows it.
    let rep_change = post(
        &format!("{url}/team"),
        &ana_cookie,
        &ana_csrf,
        "name=Demo&window_ms=40000&members=ana",
    )
    .await;
    assert_eq!(rep_change.status(), 403, "{:?}", rep_change.text().await);
    let unknown = client()
        .get(format!("{url}/charts/funnel.csv"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("report"));
    let bad_period = client()
        .get(format!("{url}/charts?period=decade"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_period.status(), 400);
    assert!(bad_period.text().await.unwrap().contains("period"));
    // The pipeline's CSV over HTTP: an attachment, the shared sheet.
    let csv = client()
        .get(format!("{url}/charts/pipeline.csv?period=month"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let expected_pipeline_csv = leadwheel_report_sheets::pipeline_sheet(&pipeline).csv();
    assert_eq!(csv.text().await.unwrap(), expected_pipeline_csv);
    // Routing rules: the wheel lets only an admin change them.
    let rule = "expected_version=0&default_team=demo&r0.orig=&r0.order=1&r0.id=tier-a&r0.team=demo&r0.tiers=A&r0.countries=&r0.sources=&r0.score_min=&r0.score_max=&r0.description=big";
    let refused = post(&format!("{url}/team/routing"), &maya, &maya_csrf, rule).await;
    assert_eq!(refused.status(), 403, "{:?}", refused.text().await);
    let (root, root_csrf) = sign_in(&url, "admin:admin").await;
    let saved = post(&format!("{url}/team/routing"), &root, &root_csrf, rule).await;
    assert_eq!(saved.status(), 200);
    let saved = saved.text().await.unwrap();
    assert!(
        saved.contains("data-saved") && saved.contains(r#"data-rules-version="1""#),
        "{saved}"
    );
    // Saving again at the old version is the wheel's conflict.
    let stale = post(&format!("{url}/team/routing"), &root, &root_csrf, rule).await;
    assert_eq!(stale.status(), 409);
    // A score out of range: the wheel's message, next to that row's field.
    let bad = rule
        .replace("r0.score_min=", "r0.score_min=500")
        .replace("expected_version=0", "expected_version=1");
    let bad = post(&format!("{url}/team/routing"), &root, &root_csrf, &bad).await;
    assert_eq!(bad.status(), 400);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains(r#"data-field-error="r0.score_min""#), "{bad}");
    let tested = post(
        &format!("{url}/team/routing/test"),
        &maya,
        &maya_csrf,
        "tier=A&score=50&country=FR&source=web&email=x%40y.example",
    )
    .await;
    assert_eq!(tested.status(), 200);
    let tested = tested.text().await.unwrap();
    assert!(
        tested.contains(r#"data-routed-team="demo" data-routed-rule="tier-a""#),
        "{tested}"
    );

    // In Chromium: the charts' numbers, the fairness CSV download, the
    // window, a refused window, the handover of ben to ana.
    let expected = serde_json::json!({
        "pipeline": pipeline.open.iter().map(|row| serde_json::json!({
            "group": format!("rep={};stage={};currency={}", row.rep_id, row.stage, row.currency),
            "amount_minor": row.amount_minor,
            "weighted_minor": row.weighted_minor,
        })).collect::<Vec<_>>(),
        "fairness": fairness.reps.iter().map(|rep| serde_json::json!({
            "group": format!("rep={};team={}", rep.rep_id, rep.team_id),
            "offers": rep.offers,
            "claims": rep.claims,
            "passes": rep.passes.iter().map(|p| p.count).sum::<i64>(),
            "expiries": rep.expiries,
        })).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let csv_file = dir.path().join("fairness.csv");
    std::fs::write(
        &csv_file,
        leadwheel_report_sheets::fairness_sheet(&fairness).csv(),
    )
    .unwrap();
    run_browser_script(
        &system,
        &url,
        "console_manager.mjs",
        &[
            ("EXPECTED", &expected.to_string()),
            ("FAIRNESS_CSV", csv_file.to_str().unwrap()),
            ("HANDED_OVER_LEAD", &second),
        ],
    )
    .await;

    // The window the browser saved is the wheel's now (the refused one is not).
    let teams = admin
        .clone()
        .list_teams(ListTeamsRequest {})
        .await
        .expect("listing teams")
        .into_inner()
        .teams;
    let demo = teams.iter().find(|t| t.team_id == "demo").expect("demo");
    assert_eq!(demo.window_ms, 45_000);
    // The handover gave ben's lead to ana.
    in_work_for(&maya_opps, &second, "ana").await;
    println!("console_manager: {:?}", started.elapsed());
}

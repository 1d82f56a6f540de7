//! The CSV download over real HTTP: the same CSV as `leadctl report … -o
//! csv` (the same shared sheets, formulas neutralised), the same bearer
//! tokens and rules of who sees what as gRPC, and JSON errors naming the
//! parameter; on both backends.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually, test_token};
use leadwheel_proto::reporting::v1::GetPipelineRequest;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Env, TestApp, WAIT, spawn_app};
use crate::script::{self, ANA, Opp, Script};

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = reqwest::Client::new().get(format!("http://{}{path}", app.http_addr));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("an HTTP answer");
    let status = response.status();
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.text().await.expect("a body"))
}

/// A JSON error's status, code and field.
async fn refused(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let (status, kind, body) = get(app, path, token).await;
    assert!(kind.starts_with("application/json"), "{kind}: {body}");
    let json: Value = serde_json::from_str(&body).expect("a JSON error");
    (
        status,
        json["error"].as_str().unwrap_or_default().to_string(),
        json["field"].as_str().unwrap_or_default().to_string(),
    )
}

async fn csv_download_over_http(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut s = Script::default();
    // A rep whose id a spreadsheet would run as a formula.
    s.team("north", "maya", &["ana", "@bo"]);
    let mut a = Opp::new("da", ANA, "trial", (1_000_00, "EUR", 30), "2026-11-30");
    let mut b = Opp::new(
        "db",
        ("north", "@bo"),
        "trial",
        (500_00, "EUR", 50),
        "2026-11-30",
    );
    s.opened(&mut a, script::at("2026-11-02", 9));
    s.opened(&mut b, script::at("2026-11-03", 9));
    script::publish_all(&app.nats_url, &s.events).await;
    let maya_grpc = app.client("maya", Role::Manager).await;
    let pipeline = eventually(WAIT, "the deals to be applied", || {
        let maya = maya_grpc.clone();
        async move {
            let r = maya
                .clone()
                .get_pipeline(GetPipelineRequest {
                    team_id: "north".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (r.open.len() == 2).then_some(r)
        }
    })
    .await;
    let maya = test_token("maya", Role::Manager);
    let ana = test_token("ana", Role::Rep);

    // The pipeline, by hand: both open deals in trial, @bo's first
    // (neutralised), amounts in units.
    let (status, kind, body) = get(&app, "/v1/reports/pipeline.csv?team=north", Some(&maya)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert_eq!(
        body,
        "section,team,rep,stage,currency,deals,amount,weighted\r\n\
         open now,north,'@bo,trial,EUR,1,500.00,250.00\r\n\
         open now,north,ana,trial,EUR,1,1000.00,300.00\r\n"
    );
    // Exactly what leadctl writes for the same answer.
    assert_eq!(
        body,
        leadwheel_report_sheets::pipeline_sheet(&pipeline).csv()
    );

    // Every report downloads for a manager (the movement with a day: no
    // snapshot is taken in this test).
    for name in leadwheel_reporting::http_query::REPORTS {
        let extra = if name == "movement" {
            "&since=2026-11-01&period=month&date=2026-11-15"
        } else {
            ""
        };
        let (status, kind, body) = get(
            &app,
            &format!("/v1/reports/{name}.csv?team=north{extra}"),
            Some(&maya),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(kind, "text/csv; charset=utf-8", "{name}");
        assert!(body.ends_with("\r\n"), "{name}: {body}");
    }
    // A rep gets their own rows only.
    let (status, _, body) = get(&app, "/v1/reports/pipeline.csv", Some(&ana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(",ana,") && !body.contains("@bo"), "{body}");

    // Refusals, as JSON naming what is wrong.
    let cases: [(&str, Option<&str>, StatusCode, &str, &str); 13] = [
        (
            "/v1/reports/movement.csv?team=north&since=2026-11-01&limit=lots",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "limit",
        ),
        (
            "/v1/reports/movement.csv?team=north&since=2026-11-01&limit=5000",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "limit",
        ),
        (
            "/v1/reports/pipeline.csv",
            None,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "",
        ),
        (
            "/v1/reports/pipeline.csv",
            Some("not-a-token"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "",
        ),
        (
            "/v1/reports/pipeline.csv?rep=@bo",
            Some(&ana),
            StatusCode::FORBIDDEN,
            "permission_denied",
            "",
        ),
        (
            "/v1/reports/pipeline.csv?colour=red",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "colour",
        ),
        (
            "/v1/reports/pipeline.csv?from=2026-13-01&to=2026-12-31",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "from",
        ),
        (
            "/v1/reports/routes.csv?from=2026-11-09&to=2026-11-01",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "from",
        ),
        (
            "/v1/reports/fairness.csv?team=nowhere",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "team",
        ),
        (
            "/v1/reports/activity.csv?by=hour",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "by",
        ),
        (
            "/v1/reports/forecast.csv?period=week",
            Some(&maya),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "period",
        ),
        (
            "/v1/reports/secrets.csv",
            Some(&maya),
            StatusCode::NOT_FOUND,
            "not_found",
            "",
        ),
        (
            "/v1/reports/movement.csv?team=north",
            Some(&maya),
            StatusCode::CONFLICT,
            "failed_precondition",
            "",
        ),
    ];
    for (path, token, status, code, field) in cases {
        assert_eq!(
            refused(&app, path, token).await,
            (status, code.to_string(), field.to_string()),
            "{path}"
        );
    }
    let integration = test_token("crm", Role::Integration);
    let (status, code, _) = refused(&app, "/v1/reports/five.csv", Some(&integration)).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "permission_denied")
    );
    app.stop().await;
}

on_both_backends!(csv_download_over_http);

//! The manager's screens in-process over real HTTP, with a real gRPC
//! reporting server behind the console that answers fixed reports (and a
//! wheel nobody answers): the charts draw reporting's numbers, the CSV
//! downloads are the shared sheets of the same answers, the period picker
//! reaches reporting, and the forms' refusals.

use std::sync::{Arc, Mutex};

use leadwheel_console::link;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::config::Secret;
use leadwheel_proto::reporting::v1::reporting_service_server::{
    ReportingService, ReportingServiceServer,
};
use leadwheel_proto::reporting::v1::*;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

mod common;
use common::{Console, KEY, Options, client, session_cookie, use_link};

/// Reporting with fixed answers; it keeps the requests it was asked.
#[derive(Clone, Default)]
struct Fixed {
    asked: Arc<Mutex<Vec<(String, i32, bool)>>>,
}

fn pipeline_answer() -> GetPipelineResponse {
    GetPipelineResponse {
        period: Some(ResolvedPeriod {
            kind: PeriodKind::Quarter as i32,
            from: "2026-10-01".into(),
            to: "2026-12-31".into(),
        }),
        open: vec![
            PipelineOpenRow {
                team_id: "demo".into(),
                rep_id: "ana".into(),
                stage: "qualify".into(),
                currency: "EUR".into(),
                count: 2,
                amount_minor: 2_000_000,
                weighted_minor: 400_000,
            },
            PipelineOpenRow {
                team_id: "demo".into(),
                rep_id: "ben".into(),
                stage: "commercial".into(),
                currency: "EUR".into(),
                count: 1,
                amount_minor: 500_050,
                weighted_minor: 250_025,
            },
        ],
        closed: vec![PipelineClosedRow {
            team_id: "demo".into(),
            rep_id: "ana".into(),
            currency: "EUR".into(),
            won_count: 1,
            won_minor: 99_900,
            lost_count: 0,
            lost_minor: 0,
        }],
    }
}

fn fairness_answer() -> GetFairnessResponse {
    GetFairnessResponse {
        period: pipeline_answer().period,
        reps: vec![RepFairness {
            team_id: "demo".into(),
            rep_id: "ana".into(),
            offers: 7,
            first_looks: 4,
            claims: 3,
            passes: vec![ReasonCount {
                reason: "busy".into(),
                count: 2,
            }],
            expiries: 2,
            claim_rate_bp: 4285,
            ..Default::default()
        }],
        teams: vec![TeamEvenness {
            team_id: "demo".into(),
            first_looks: 4,
            min_first_looks: 1,
            max_first_looks: 3,
            evenness_bp: 3333,
        }],
    }
}

fn forecast_answer() -> GetForecastResponse {
    GetForecastResponse {
        period: pipeline_answer().period,
        reps: vec![RepForecast {
            rep_id: "ana".into(),
            lines: vec![ForecastLine {
                currency: "EUR".into(),
                quota_minor: 5_000_000,
                has_quota: true,
                won_minor: 99_900,
                weighted_open_minor: 400_000,
                forecast_minor: 499_900,
                attainment_bp: 199,
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

fn speed_answer() -> GetSpeedToLeadResponse {
    let p = |median_ms, p90_ms| {
        Some(Percentiles {
            count: 3,
            median_ms,
            p90_ms,
            p99_ms: p90_ms,
        })
    };
    GetSpeedToLeadResponse {
        period: pipeline_answer().period,
        total: Some(Speed {
            system: p(40, 90),
            offer_to_claim: p(12_300, 45_600),
            claim_to_touch: None,
        }),
        reps: vec![RepSpeed {
            team_id: "demo".into(),
            rep_id: "ana".into(),
            speed: Some(Speed {
                system: None,
                offer_to_claim: p(12_300, 45_600),
                claim_to_touch: None,
            }),
        }],
        ..Default::default()
    }
}

impl Fixed {
    fn note(&self, rpc: &str, period: &Option<Period>, authed: bool) {
        self.asked.lock().unwrap().push((
            rpc.to_string(),
            period.as_ref().map_or(0, |p| p.kind),
            authed,
        ));
    }
}

fn authed<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
}

fn none<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this test"))
}

#[tonic::async_trait]
impl ReportingService for Fixed {
    async fn get_funnel(
        &self,
        _: Request<GetFunnelRequest>,
    ) -> Result<Response<GetFunnelResponse>, Status> {
        none()
    }
    async fn get_pipeline(
        &self,
        r: Request<GetPipelineRequest>,
    ) -> Result<Response<GetPipelineResponse>, Status> {
        self.note("pipeline", &r.get_ref().period, authed(&r));
        Ok(Response::new(pipeline_answer()))
    }
    async fn get_forecast(
        &self,
        r: Request<GetForecastRequest>,
    ) -> Result<Response<GetForecastResponse>, Status> {
        self.note("forecast", &r.get_ref().period, authed(&r));
        if r.get_ref()
            .period
            .as_ref()
            .is_some_and(|p| p.kind == PeriodKind::Week as i32)
        {
            return Err(Status::invalid_argument(
                "period: a forecast is for a month, quarter or year",
            ));
        }
        Ok(Response::new(forecast_answer()))
    }
    async fn get_five_questions(
        &self,
        _: Request<GetFiveQuestionsRequest>,
    ) -> Result<Response<GetFiveQuestionsResponse>, Status> {
        none()
    }
    async fn set_quotas(
        &self,
        _: Request<SetQuotasRequest>,
    ) -> Result<Response<SetQuotasResponse>, Status> {
        none()
    }
    async fn list_quotas(
        &self,
        _: Request<ListQuotasRequest>,
    ) -> Result<Response<ListQuotasResponse>, Status> {
        none()
    }
    async fn set_forecast_adjustment(
        &self,
        _: Request<SetForecastAdjustmentRequest>,
    ) -> Result<Response<SetForecastAdjustmentResponse>, Status> {
        none()
    }
    async fn get_fairness(
        &self,
        r: Request<GetFairnessRequest>,
    ) -> Result<Response<GetFairnessResponse>, Status> {
        self.note("fairness", &r.get_ref().period, authed(&r));
        Ok(Response::new(fairness_answer()))
    }
    async fn get_speed_to_lead(
        &self,
        r: Request<GetSpeedToLeadRequest>,
    ) -> Result<Response<GetSpeedToLeadResponse>, Status> {
        self.note("speed", &r.get_ref().period, authed(&r));
        Ok(Response::new(speed_answer()))
    }
    async fn get_stages(
        &self,
        _: Request<GetStagesRequest>,
    ) -> Result<Response<GetStagesResponse>, Status> {
        none()
    }
    async fn get_activity(
        &self,
        _: Request<GetActivityRequest>,
    ) -> Result<Response<GetActivityResponse>, Status> {
        none()
    }
    async fn get_team_balance(
        &self,
        _: Request<GetTeamBalanceRequest>,
    ) -> Result<Response<GetTeamBalanceResponse>, Status> {
        none()
    }
    async fn get_routing_outcome(
        &self,
        _: Request<GetRoutingOutcomeRequest>,
    ) -> Result<Response<GetRoutingOutcomeResponse>, Status> {
        none()
    }
    async fn get_forecast_movement(
        &self,
        _: Request<GetForecastMovementRequest>,
    ) -> Result<Response<GetForecastMovementResponse>, Status> {
        none()
    }
    async fn rebuild(
        &self,
        _: Request<RebuildRequest>,
    ) -> Result<Response<RebuildResponse>, Status> {
        none()
    }
    async fn get_rebuild_progress(
        &self,
        _: Request<GetRebuildProgressRequest>,
    ) -> Result<Response<GetRebuildProgressResponse>, Status> {
        none()
    }
}

async fn spawn(reporting: Fixed) -> Console {
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reporting_addr = grpc.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ReportingServiceServer::new(reporting))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc)),
    );
    Console::spawn(Options {
        reporting_url: Some(format!("http://{reporting_addr}")),
        ..Default::default()
    })
    .await
}

impl Console {
    /// Signs maya (manager of demo) in with a one-time link; (cookie, csrf).
    async fn maya(&self) -> (String, String) {
        let token = link::issue(
            &Secret::new(KEY),
            "maya",
            Role::Manager,
            Some("demo"),
            leadwheel_plumbing::store::now_ms() / 1000,
            60,
        );
        let link = format!("{}/signin/link?token={token}&next=/charts", self.url);
        let answer = use_link(&self.url, &link).await;
        assert_eq!(answer.status(), 303);
        let cookie = session_cookie(&answer);
        let page = self.get(&cookie, "/charts").await.1;
        let marker = r#"name="csrf" value=""#;
        let csrf = page[page.find(marker).unwrap() + marker.len()..]
            .split('"')
            .next()
            .unwrap()
            .to_string();
        (cookie, csrf)
    }

    async fn get(&self, cookie: &str, path: &str) -> (u16, String, http::HeaderMap) {
        let answer = client()
            .get(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        (status, answer.text().await.unwrap(), headers)
    }
}

#[tokio::test]
async fn charts_draw_reportings_numbers_and_the_csvs_are_its_sheets() {
    let reporting = Fixed::default();
    let console = spawn(reporting.clone()).await;
    let (maya, _) = console.maya().await;
    // The sign-in landed on /charts (this month): only what follows counts.
    reporting.asked.lock().unwrap().clear();

    let (status, page, _) = console.get(&maya, "/charts?period=quarter").await;
    assert_eq!(status, 200, "{page}");
    // Each bar carries its number, as reporting answered it.
    for row in pipeline_answer().open {
        let group = format!(
            r#"data-group="rep={};stage={};currency={}""#,
            row.rep_id, row.stage, row.currency
        );
        let at = page
            .find(&group)
            .unwrap_or_else(|| panic!("{group} in {page}"));
        let rest = &page[at..];
        let end = rest.find("</g>").unwrap();
        let g = &rest[..end];
        assert!(
            g.contains(&format!(
                r#"data-measure="amount_minor" data-value="{}""#,
                row.amount_minor
            )),
            "{g}"
        );
        assert!(
            g.contains(&format!(
                r#"data-measure="weighted_minor" data-value="{}""#,
                row.weighted_minor
            )),
            "{g}"
        );
    }
    assert!(
        page.contains("5000.50 EUR"),
        "the numbers are written as text too"
    );
    assert!(page.contains(r#"data-measure="claims" data-value="3""#));
    assert!(page.contains(r#"data-measure="passes" data-value="2""#));
    assert!(page.contains(r#"data-measure="expiries" data-value="2""#));
    assert!(page.contains(r#"data-evenness="demo" data-value="3333""#));
    assert!(page.contains(r#"data-measure="quota_minor" data-value="5000000""#));
    assert!(page.contains(r#"data-measure="forecast_minor" data-value="499900""#));
    assert!(page.contains(r#"data-measure="median_ms" data-value="12300""#));
    assert!(page.contains(r#"data-measure="p90_ms" data-value="45600""#));
    assert_eq!(page.matches(r#"role="img""#).count(), 4, "four charts");
    assert!(
        page.contains(r#"<option value="quarter" selected>"#),
        "{page}"
    );
    // Every call went as maya (a bearer token), for the quarter.
    {
        let asked = reporting.asked.lock().unwrap();
        assert_eq!(asked.len(), 4, "{asked:?}");
        assert!(
            asked
                .iter()
                .all(|(_, kind, authed)| *kind == PeriodKind::Quarter as i32 && *authed),
            "{asked:?}"
        );
    }

    // A week: reporting refuses the forecast (month, quarter, year); the
    // other charts still show, the refusal in the forecast's place.
    let (status, page, _) = console.get(&maya, "/charts?period=week").await;
    assert_eq!(status, 200);
    assert!(page.contains("a forecast is for a month"), "{page}");
    assert!(page.contains(r#"data-chart="pipeline""#));

    // The downloads: attachments, the shared sheets of the same answers.
    let expected = [
        (
            "pipeline",
            leadwheel_report_sheets::pipeline_sheet(&pipeline_answer()).csv(),
        ),
        (
            "forecast",
            leadwheel_report_sheets::forecast_sheet("team demo", &forecast_answer()).csv(),
        ),
        (
            "fairness",
            leadwheel_report_sheets::fairness_sheet(&fairness_answer()).csv(),
        ),
        (
            "speed",
            leadwheel_report_sheets::speed_sheet(&speed_answer()).csv(),
        ),
    ];
    for (report, csv) in expected {
        let (status, body, headers) = console
            .get(
                &maya,
                &format!("/charts/{report}.csv?period=quarter&date=2026-11-15"),
            )
            .await;
        assert_eq!(status, 200, "{report}: {body}");
        assert_eq!(body, csv, "{report}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            headers["content-disposition"],
            format!(r#"attachment; filename="{report}-2026-10-01_2026-12-31.csv""#).as_str()
        );
    }

    // Bad picks name their field.
    let (status, body, _) = console.get(&maya, "/charts?period=decade").await;
    assert_eq!(status, 400);
    assert!(body.contains("period"), "{body}");
    let (status, body, _) = console.get(&maya, "/charts/funnel.csv").await;
    assert_eq!(status, 400);
    assert!(body.contains("report"), "{body}");

    console.shutdown().await;
}

#[tokio::test]
async fn settings_forms_need_the_token_and_show_what_the_wheel_said() {
    let console = spawn(Fixed::default()).await;
    let (maya, csrf) = console.maya().await;
    let post = |path: &'static str, token: String, body: &'static str| {
        let url = console.url.clone();
        let cookie = maya.clone();
        async move {
            let answer = client()
                .post(format!("{url}{path}"))
                .header("cookie", cookie)
                .header("origin", &url)
                .header("x-csrf-token", token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let (status, _) = post("/team", String::new(), "window_ms=30000").await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, _) = post("/handover", "wrong".into(), "rep_id=ben").await;
    assert_eq!(status, 403, "a wrong CSRF token");

    // A value the console reads itself is refused next to its field…
    let (status, body) = post("/team/reps/ana", csrf.clone(), "capacity=lots&rank=1").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#"data-field-error="capacity""#), "{body}");
    let (status, body) = post(
        "/team/reps/ana/schedule",
        csrf.clone(),
        "time_zone=Europe%2FParis&hours=funday%3D09%3A00-10%3A00",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains(r#"data-field-error="hours""#) && body.contains("not a day"),
        "{body}"
    );
    let (status, body) = post(
        "/handover/h1/items",
        csrf.clone(),
        "kind=lead&item_id=l1&action=drop",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("action"), "{body}");
    // …and a wheel that cannot be reached shows in the form, as a 503.
    let (status, body) = post(
        "/team/routing",
        csrf.clone(),
        "expected_version=0&default_team=demo",
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#"id="rules-form""#), "{body}");

    console.shutdown().await;
}

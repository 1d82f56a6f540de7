//! Across the real boundary: the real opportunity service publishes what
//! reporting reads. A lead assigned by the wheel (scripted: the wheel is
//! not under test here) is converted, worked and won through
//! opportunity's gRPC API; reporting's numbers move with it.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{
    ServiceHandle, TestDb, eventually, publish_event, service_config, test_token,
};
use leadwheel_proto::events::v1::{AssignedVia, LeadAssigned, TeamUpserted};
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::opportunity::v1::{
    ActivityKind, ConvertLeadRequest, GetLeadInWorkRequest, LogActivityRequest, MoveStageRequest,
};
use leadwheel_proto::reporting::v1::{
    GetFiveQuestionsRequest, GetForecastRequest, GetPipelineRequest, Period, PeriodKind,
    PipelineOpenRow, QuotaScope, SetQuotasRequest,
};
use tonic::transport::Channel;

use crate::helpers::{Client, Env, WAIT, spawn_app};
use crate::sales::quota;

type Opps = OpportunityServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, leadwheel_plumbing::auth::BearerToken>,
>;

async fn opps_client(service: &ServiceHandle, subject: &str, role: Role) -> Opps {
    let channel = Channel::from_shared(format!("http://{}", service.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connecting to opportunity");
    let bearer = leadwheel_plumbing::auth::BearerToken::new(&test_token(subject, role))
        .expect("ascii token");
    OpportunityServiceClient::with_interceptor(channel, bearer)
}

fn this(kind: PeriodKind) -> Option<Period> {
    Some(Period {
        kind: kind as i32,
        ..Default::default()
    })
}

/// Waits until `check` finds what it wants in reporting's answers.
async fn until<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually(WAIT, what, check).await
}

async fn pipeline_of(client: &Client) -> Option<Vec<PipelineOpenRow>> {
    Some(
        client
            .clone()
            .get_pipeline(GetPipelineRequest::default())
            .await
            .ok()?
            .into_inner()
            .open,
    )
}

async fn opportunity_publishes_what_reporting_reads(db: TestDb) {
    let env = Env::new(db);
    let reporting = spawn_app(&env).await;
    // Opportunity on its own database, on the same NATS.
    let opps_db = TestDb::sqlite();
    let opportunity = ServiceHandle::spawn(
        service_config("opportunity", &env.nats.url(), &opps_db.url),
        leadwheel_opportunity::run,
    )
    .await;
    let nats = env.nats.url();
    let team = TeamUpserted {
        team_id: "north".into(),
        name: "North".into(),
        manager_id: "maya".into(),
        window_ms: 60_000,
        rep_ids: vec!["ana".into()],
        at_ms: 1,
    };
    publish_event(
        &nats,
        &WHEEL_STREAM,
        subjects::TEAM_UPSERTED,
        "north",
        &team,
    )
    .await
    .expect("team");
    let assigned = LeadAssigned {
        lead_id: "lead-x".into(),
        team_id: "north".into(),
        rep_id: "ana".into(),
        via: AssignedVia::Offer as i32,
        offer_id: Some("offer-x".into()),
        lead_created_at_ms: 1_000,
        first_offer_at_ms: 2_000,
        assigned_at_ms: 3_000,
        ..Default::default()
    };
    publish_event(
        &nats,
        &WHEEL_STREAM,
        subjects::LEAD_ASSIGNED,
        "lead-x",
        &assigned,
    )
    .await
    .expect("assigned");
    let mut ana = opps_client(&opportunity, "ana", Role::Rep).await;
    until("the lead in work", || {
        let mut ana = ana.clone();
        async move {
            ana.get_lead_in_work(GetLeadInWorkRequest {
                lead_id: "lead-x".into(),
            })
            .await
            .ok()
        }
    })
    .await;
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date();
    let close = today.last_of_month().to_string();
    let opp = ana
        .convert_lead(ConvertLeadRequest {
            request_id: "convert-x".into(),
            lead_id: "lead-x".into(),
            account_name: "Acme".into(),
            domains: vec!["acme.example".into()],
            tier: "mid".into(),
            opportunity_name: "Acme trial".into(),
            amount_minor: 10_000_00,
            currency: "EUR".into(),
            expected_close_date: close,
            stage: String::new(),
        })
        .await
        .expect("ConvertLead")
        .into_inner()
        .opportunity
        .expect("an opportunity");
    ana.log_activity(LogActivityRequest {
        request_id: "call-x".into(),
        kind: ActivityKind::Call as i32,
        opportunity_id: opp.opportunity_id.clone(),
        duration_seconds: 300,
        outcome: "interested".into(),
        ..Default::default()
    })
    .await
    .expect("LogActivity");
    ana.move_stage(MoveStageRequest {
        opportunity_id: opp.opportunity_id.clone(),
        stage: "trial".into(),
        ..Default::default()
    })
    .await
    .expect("to trial");

    let maya = reporting.client("maya", Role::Manager).await;
    // The open deal, in trial at 60%.
    let open = until("the deal in trial", || {
        let maya = maya.clone();
        async move {
            let open = pipeline_of(&maya).await?;
            open.iter().any(|r| r.stage == "trial").then_some(open)
        }
    })
    .await;
    assert_eq!(
        open,
        vec![PipelineOpenRow {
            team_id: "north".into(),
            rep_id: "ana".into(),
            stage: "trial".into(),
            currency: "EUR".into(),
            count: 1,
            amount_minor: 10_000_00,
            weighted_minor: 6_000_00,
        }]
    );
    maya.clone()
        .set_quotas(SetQuotasRequest {
            quotas: vec![{
                let mut q = quota(QuotaScope::Team, "north", "EUR", 20_000_00);
                q.period_start = today.to_string();
                q
            }],
        })
        .await
        .expect("SetQuotas");
    let forecast = |maya: Client| async move {
        maya.clone()
            .get_forecast(GetForecastRequest {
                team_id: "north".into(),
                period: this(PeriodKind::Month),
                ..Default::default()
            })
            .await
            .ok()
            .map(|r| r.into_inner().lines)
    };
    let lines = forecast(maya.clone()).await.expect("GetForecast");
    assert_eq!(
        (
            lines[0].weighted_open_minor,
            lines[0].won_minor,
            lines[0].forecast_bp
        ),
        (6_000_00, 0, 3_000)
    );

    // Commercial, then won: the deal leaves the pipeline and is won.
    for stage in ["commercial", "won"] {
        ana.move_stage(MoveStageRequest {
            opportunity_id: opp.opportunity_id.clone(),
            stage: stage.into(),
            reason: "signed".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("to {stage}: {s:?}"));
    }
    let lines = until("the win in the forecast", || {
        let maya = maya.clone();
        async move {
            let lines = forecast(maya).await?;
            (lines.first()?.won_minor > 0).then_some(lines)
        }
    })
    .await;
    assert_eq!(
        (
            lines[0].won_minor,
            lines[0].weighted_open_minor,
            lines[0].attainment_bp,
            lines[0].gap_minor
        ),
        (10_000_00, 0, 5_000, 10_000_00)
    );
    assert_eq!(pipeline_of(&maya).await, Some(vec![]));
    let five = maya
        .clone()
        .get_five_questions(GetFiveQuestionsRequest {
            team_id: "north".into(),
            period: this(PeriodKind::Week),
            ..Default::default()
        })
        .await
        .expect("GetFiveQuestions")
        .into_inner()
        .current
        .expect("answers");
    assert_eq!(
        (
            five.calls,
            five.opportunities,
            five.purchase_intents,
            five.won
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(five.average_deal[0].amount_minor, 10_000_00);
    opportunity.stop().await;
    reporting.stop().await;
}

on_both_backends!(opportunity_publishes_what_reporting_reads);

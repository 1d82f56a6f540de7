//! Who sees which numbers (a matrix over the real gRPC API) and bad input
//! refused with the field at fault, changing nothing.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::{OPPS_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::events::v1::PipelineStageChanged;
use leadwheel_proto::reporting::v1::{
    GetFiveQuestionsRequest, GetForecastRequest, GetPipelineRequest, ListQuotasRequest, Period,
    PeriodKind, QuotaScope, SetQuotasRequest,
};
use tonic::Code;

use crate::helpers::{Client, Env, WAIT, spawn_app};
use crate::sales::{month, publish_and_wait, quota, week};
use crate::script;

/// The field named by an INVALID_ARGUMENT status's details.
fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

fn refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    why: &str,
) -> tonic::Status {
    match result {
        Ok(response) => panic!("{why}: expected {code:?}, got {response:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{why}: {status:?}");
            status
        }
    }
}

async fn pipeline(client: &Client, team: &str, rep: &str) -> Result<Vec<(String, String)>, Code> {
    client
        .clone()
        .get_pipeline(GetPipelineRequest {
            team_id: team.into(),
            rep_id: rep.into(),
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .map(|r| {
            r.into_inner()
                .open
                .into_iter()
                .map(|row| (row.team_id, row.rep_id))
                .collect()
        })
        .map_err(|s| s.code())
}

async fn access_matrix(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let ana = app.client("ana", Role::Rep).await;
    let maya = app.client("maya", Role::Manager).await;
    let sue = app.client("sue", Role::Manager).await;
    let root = app.client("root", Role::Admin).await;
    let crm = app.client("crm", Role::Integration).await;
    let reps = |rows: Vec<(String, String)>| {
        let mut reps: Vec<String> = rows.into_iter().map(|(_, rep)| rep).collect();
        reps.dedup();
        reps
    };
    // (client, team, rep) → the reps whose open deals it sees, or a refusal.
    type Case<'a> = (&'a Client, &'a str, &'a str, Result<Vec<&'a str>, Code>);
    let cases: Vec<Case> = vec![
        (&ana, "", "", Ok(vec!["ana"])),
        (&ana, "north", "", Ok(vec!["ana"])),
        (&ana, "", "bo", Err(Code::PermissionDenied)),
        (&maya, "", "", Ok(vec!["ana", "bo"])),
        (&maya, "north", "bo", Ok(vec!["bo"])),
        (&maya, "south", "", Err(Code::PermissionDenied)),
        (&maya, "", "cy", Ok(vec![])),
        (&sue, "", "", Ok(vec!["cy"])),
        (&root, "", "", Ok(vec!["ana", "bo", "cy"])),
        (&crm, "", "", Err(Code::PermissionDenied)),
    ];
    for (client, team, rep, want) in cases {
        let got = pipeline(client, team, rep).await.map(reps);
        let want = want.map(|w| w.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(got, want, "team {team:?} rep {rep:?}");
    }
    // A rep's forecast is their own; a team's is for its manager.
    refused(
        ana.clone()
            .get_forecast(GetForecastRequest {
                team_id: "north".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "a rep reads a team forecast",
    );
    let own = ana
        .clone()
        .get_forecast(GetForecastRequest {
            period: month("2026-11-01"),
            ..Default::default()
        })
        .await
        .expect("a rep's own forecast")
        .into_inner();
    assert_eq!(own.lines[0].won_minor, 14_000_00);
    // Quotas: a manager for their own team only; reps never.
    let set = |client: &Client, scope, subject: &str| {
        let mut client = client.clone();
        let quotas = vec![quota(scope, subject, "EUR", 1)];
        async move { client.set_quotas(SetQuotasRequest { quotas }).await }
    };
    refused(
        set(&maya, QuotaScope::Team, "south").await,
        Code::PermissionDenied,
        "a manager sets another team's quota",
    );
    refused(
        set(&maya, QuotaScope::Rep, "cy").await,
        Code::PermissionDenied,
        "a manager sets another team's rep's quota",
    );
    refused(
        set(&ana, QuotaScope::Rep, "ana").await,
        Code::PermissionDenied,
        "a rep sets their own quota",
    );
    set(&sue, QuotaScope::Rep, "cy")
        .await
        .expect("sue sets cy's quota");
    let listed = |client: &Client| {
        let mut client = client.clone();
        async move {
            client
                .list_quotas(ListQuotasRequest::default())
                .await
                .expect("ListQuotas")
                .into_inner()
                .quotas
                .len()
        }
    };
    assert_eq!(
        (listed(&maya).await, listed(&sue).await, listed(&root).await),
        (0, 1, 1)
    );
    app.stop().await;
}

async fn bad_input_names_the_field(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let root = app.client("root", Role::Admin).await;
    let custom = |from: &str, to: &str| {
        Some(Period {
            kind: PeriodKind::Custom as i32,
            from: from.into(),
            to: to.into(),
            ..Default::default()
        })
    };
    let pipeline = |team: &str, period: Option<Period>| {
        let mut client = root.clone();
        let request = GetPipelineRequest {
            team_id: team.into(),
            period,
            ..Default::default()
        };
        async move { client.get_pipeline(request).await }
    };
    let cases = [
        (pipeline("west", None).await, "team_id"),
        (
            pipeline("", custom("2026-11-10", "2026-11-01")).await,
            "period.from",
        ),
        (
            pipeline("", custom("2024-01-01", "2026-11-01")).await,
            "period.to",
        ),
        (
            pipeline("", custom("2026-02-30", "2026-03-01")).await,
            "period.from",
        ),
    ];
    for (result, field) in cases {
        let status = refused(result, Code::InvalidArgument, field);
        assert_eq!(field_of(&status), field, "{status:?}");
    }
    let status = refused(
        root.clone()
            .get_five_questions(GetFiveQuestionsRequest {
                intent_stage: "signed".into(),
                period: week("2026-11-04"),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "unknown stage",
    );
    assert_eq!(field_of(&status), "intent_stage");
    // Once opportunity announces the stage, it may be asked about.
    let signed = PipelineStageChanged {
        stage: "signed".into(),
        position: 35,
        probability_percent: 95,
        stale_days: 5,
        outcome: "open".into(),
        by: "root".into(),
        at_ms: 1,
        ..Default::default()
    };
    app.publish(
        &OPPS_STREAM,
        subjects::OPPS_PIPELINE_STAGE_CHANGED,
        "signed",
        &signed,
    )
    .await;
    eventually(WAIT, "the new stage known", || {
        let mut root = root.clone();
        async move {
            root.get_five_questions(GetFiveQuestionsRequest {
                intent_stage: "signed".into(),
                period: week("2026-11-04"),
                ..Default::default()
            })
            .await
            .ok()
        }
    })
    .await;
    let status = refused(
        root.clone()
            .get_forecast(GetForecastRequest {
                team_id: "north".into(),
                period: week("2026-11-04"),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "a weekly forecast",
    );
    assert_eq!(field_of(&status), "period.kind");
    // A batch with one bad row changes nothing.
    let mut bad_currency = quota(QuotaScope::Rep, "bo", "eur", 1);
    bad_currency.period_start = "2026-12-01".into();
    let status = refused(
        root.clone()
            .set_quotas(SetQuotasRequest {
                quotas: vec![quota(QuotaScope::Team, "north", "EUR", 1), bad_currency],
            })
            .await,
        Code::InvalidArgument,
        "a lower-case currency",
    );
    assert_eq!(field_of(&status), "quotas[1].currency");
    let status = refused(
        root.clone()
            .set_quotas(SetQuotasRequest {
                quotas: vec![quota(QuotaScope::Rep, "zed", "EUR", 1)],
            })
            .await,
        Code::InvalidArgument,
        "an unknown rep",
    );
    assert_eq!(field_of(&status), "quotas[0].subject_id");
    let quotas = root
        .clone()
        .list_quotas(ListQuotasRequest::default())
        .await
        .expect("ListQuotas")
        .into_inner()
        .quotas;
    assert!(quotas.is_empty(), "refused batches wrote {quotas:?}");
    app.stop().await;
}

on_both_backends!(access_matrix, bad_input_names_the_field);

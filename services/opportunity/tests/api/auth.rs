//! Who may do what, as a matrix: reps their own, managers their team's
//! (from their token, else from the wheel's directory), admins everything,
//! integrations only log activities.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::opportunity::v1::{
    ActivityKind, ChangeOwnerRequest, GetOpportunityRequest, ListHistoryRequest,
    ListOpportunitiesRequest, ListStagesRequest, LogActivityRequest, Opportunity, SetAmountRequest,
};
use tonic::Code;

use crate::helpers::{Client, Env, TestApp, opportunity, spawn_app, two_teams};

/// What one caller tries on one deal.
async fn attempts(client: &mut Client, opp: &Opportunity) -> [Code; 4] {
    let code = |result: Result<(), tonic::Status>| match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    };
    let read = client
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: opp.opportunity_id.clone(),
        })
        .await
        .map(|_| ());
    let change = client
        .set_amount(SetAmountRequest {
            opportunity_id: opp.opportunity_id.clone(),
            amount_minor: opp.amount_minor,
            currency: "EUR".into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    let log = client
        .log_activity(LogActivityRequest {
            kind: ActivityKind::Note as i32,
            opportunity_id: opp.opportunity_id.clone(),
            body: "checked in".into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    let history = client
        .list_history(ListHistoryRequest {
            account_id: opp.account_id.clone(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    [code(read), code(change), code(log), code(history)]
}

async fn callers(app: &TestApp) -> Vec<(&'static str, Client)> {
    vec![
        ("ana", app.client("ana", Role::Rep).await),
        ("bo", app.client("bo", Role::Rep).await),
        ("maya", app.client("maya", Role::Manager).await),
        ("nora", app.team_manager("nora", "north").await),
        ("sue", app.client("sue", Role::Manager).await),
        ("root", app.client("root", Role::Admin).await),
        ("crm", app.client("crm", Role::Integration).await),
    ]
}

on_both_backends!(who_may_do_what);
async fn who_may_do_what(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    let north = opportunity(&app, "lead-n", "ana", "north", 1_000).await;
    let south = opportunity(&app, "lead-s", "dee", "south", 2_000).await;

    use Code::{Ok as Y, PermissionDenied as N};
    // read, change, log, history
    let expected_north = [
        ("ana", [Y, Y, Y, Y]),
        ("bo", [N, N, N, N]),
        ("maya", [Y, Y, Y, Y]),
        ("nora", [Y, Y, Y, Y]),
        ("sue", [N, N, N, N]),
        ("root", [Y, Y, Y, Y]),
        ("crm", [N, N, Y, N]),
    ];
    let expected_south = [
        ("ana", [N, N, N, N]),
        ("bo", [N, N, N, N]),
        ("maya", [N, N, N, N]),
        ("nora", [N, N, N, N]),
        ("sue", [Y, Y, Y, Y]),
        ("root", [Y, Y, Y, Y]),
        ("crm", [N, N, Y, N]),
    ];
    let mut clients = callers(&app).await;
    for (opp, expected) in [(&north, expected_north), (&south, expected_south)] {
        for ((name, client), (expected_name, codes)) in clients.iter_mut().zip(expected) {
            assert_eq!(*name, expected_name);
            assert_eq!(
                attempts(client, opp).await,
                codes,
                "{name} on {}'s deal",
                opp.owner_rep_id
            );
        }
    }

    // Lists hold exactly what each caller may see.
    let visible = [
        ("ana", 1),
        ("bo", 0),
        ("maya", 1),
        ("nora", 1),
        ("sue", 1),
        ("root", 2),
    ];
    for ((name, client), (expected_name, count)) in clients.iter_mut().zip(visible) {
        assert_eq!(*name, expected_name);
        let list = client
            .list_opportunities(ListOpportunitiesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .opportunities;
        assert_eq!(list.len(), count, "{name} sees {list:?}");
    }
    let (_, crm) = &mut clients[6];
    let status = crm
        .list_opportunities(ListOpportunitiesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let (_, ana) = &mut clients[0];
    let status = ana
        .list_opportunities(ListOpportunitiesRequest {
            owner_rep_id: "dee".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Owner changes: managers of the team and admins only.
    let owner = |to: &str| ChangeOwnerRequest {
        opportunity_id: north.opportunity_id.clone(),
        to_rep_id: to.into(),
        ..Default::default()
    };
    let expected_owner = [
        ("ana", N),
        ("bo", N),
        ("maya", Y),
        ("nora", Y),
        ("sue", N),
        ("root", Y),
        ("crm", N),
    ];
    let mut current = "ana";
    for ((name, client), (expected_name, code)) in clients.iter_mut().zip(expected_owner) {
        assert_eq!(*name, expected_name);
        let to = if current == "bo" { "cy" } else { "bo" };
        let result = client.change_owner(owner(to)).await;
        assert_eq!(
            result
                .as_ref()
                .map(|_| Code::Ok)
                .unwrap_or_else(|s| s.code()),
            code,
            "{name}: {result:?}"
        );
        if result.is_ok() {
            current = to;
        }
    }

    // No token, no answer; a forged one neither.
    let mut anonymous = app.anonymous().await;
    let status = anonymous
        .list_stages(ListStagesRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut forged = app.client_with_token("e30.e30.c2ln").await;
    let status = forged
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: north.opportunity_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    app.stop().await;
}

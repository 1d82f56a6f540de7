//! End to end, across the five real processes: a rep leaves after the
//! handover of their book, and every service's directory says so.
//!
//! Ben claims two leads and converts one; his manager hands his book over
//! to Carla (the open lead back to the wheel, the opportunity to Carla).
//! Then: the wheel has taken Ben off the ring (the returned lead and new
//! ones go to Carla, never to him); opportunity no longer has him in the
//! team (nothing can be given to him); reporting keeps his history but
//! marks him left; alerting no longer has his manager answer for him;
//! intake routes the account's next signup to its new owner; and every
//! consumer took every event, the leaving included, and still applies
//! later ones.

mod flow;

use flow::*;
use leadwheel_e2e::System;
use leadwheel_e2e::watch::TerminationWatch;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::alerting::v1::ListAlertsRequest;
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::opportunity::v1::*;
use leadwheel_proto::reporting::v1::GetFairnessRequest;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::wheel::v1::{LeadState, ListTeamsRequest};

#[tokio::test]
async fn a_rep_who_leaves_after_a_handover_leaves_every_directory() {
    let system = System::start().await.expect("system");
    let watch = TerminationWatch::start(&system.nats.url())
        .await
        .expect("watching terminations");
    let mut admin = wheel(&system, "admin", Role::Admin).await;
    set_team(&mut admin, "north", "maya", &["ben", "carla"]).await;

    // Ben claims two leads and converts the first into an account.
    let first = signup(&system, "pat@brightline.example", "Brightline").await;
    claim_as(&system, &admin, &first, "ben").await;
    let second = signup(&system, "sam@other.example", "Other").await;
    claim_as(&system, &admin, &second, "ben").await;
    let mut ben = opps(&system, "ben", Role::Rep).await;
    lead_in_work(&ben, &first).await;
    lead_in_work(&ben, &second).await;
    let converted = ben
        .convert_lead(ConvertLeadRequest {
            request_id: "convert-1".into(),
            lead_id: first.clone(),
            account_name: "Brightline".into(),
            domains: vec!["brightline.example".into()],
            tier: "A".into(),
            opportunity_name: "Brightline rollout".into(),
            amount_minor: 1_200_000,
            currency: "EUR".into(),
            expected_close_date: "2026-12-31".into(),
            stage: String::new(),
        })
        .await
        .expect("ben converts the lead")
        .into_inner();
    let opportunity_id = converted
        .opportunity
        .expect("an opportunity")
        .opportunity_id;

    // Maya hands Ben's book over to Carla: the open lead back to the
    // wheel, the opportunity (and its account) to Carla.
    let mut maya = opps(&system, "maya", Role::Manager).await;
    let started = maya
        .start_handover(StartHandoverRequest {
            rep_id: "ben".into(),
            successor_rep_id: "carla".into(),
            leads_to_successor: false,
        })
        .await
        .expect("maya starts ben's handover")
        .into_inner()
        .handover
        .expect("a handover");
    assert_eq!(started.team_id, "north");
    assert_eq!(started.items, 2, "{started:?}");
    maya.apply_handover(ApplyHandoverRequest {
        handover_id: started.handover_id.clone(),
        task_due_days: 0,
    })
    .await
    .expect("maya applies the handover");

    // The wheel: Ben is on no team and off the ring.
    eventually(WAIT, "ben to leave the wheel's team", || {
        let mut admin = admin.clone();
        async move {
            let reps = wheel_reps(&mut admin).await;
            reps.iter()
                .any(|(rep, team)| rep == "ben" && team.is_empty())
                .then_some(())
        }
    })
    .await;
    let teams = admin
        .list_teams(ListTeamsRequest {})
        .await
        .expect("listing teams")
        .into_inner()
        .teams;
    assert_eq!(teams[0].rep_ids, vec!["carla".to_string()]);

    // The returned lead goes round again, to Carla; so does a new one.
    claim_as(&system, &admin, &second, "carla").await;
    let third = signup(&system, "kim@third.example", "Third").await;
    assert_eq!(offered_to(&admin, &third).await, "carla");
    claim_as(&system, &admin, &third, "carla").await;
    let offers = offered_reps(&admin, &second).await;
    assert_eq!(
        offers.iter().filter(|r| *r == "ben").count(),
        1,
        "ben was offered the returned lead again: {offers:?}"
    );
    assert!(
        !offered_reps(&admin, &third)
            .await
            .contains(&"ben".to_string())
    );

    // Opportunity applied the later assignments (its consumer is healthy)
    // and has Ben out of the team: nothing can be given to him.
    in_work_for(&maya, &second, "carla").await;
    in_work_for(&maya, &third, "carla").await;
    let opportunity = maya
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: opportunity_id.clone(),
        })
        .await
        .expect("maya reads the deal")
        .into_inner()
        .opportunity
        .expect("the deal");
    assert_eq!(opportunity.owner_rep_id, "carla");
    let refused = maya
        .change_owner(ChangeOwnerRequest {
            opportunity_id: opportunity_id.clone(),
            to_rep_id: "ben".into(),
            reason: "give it back".into(),
            force: false,
            expected_version: opportunity.version,
        })
        .await
        .expect_err("a deal cannot go to a rep who left");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("left team north"), "{refused:?}");

    // Reporting: ben's offers are still in north's fairness report, his
    // row marked left.
    let reports =
        ReportingServiceClient::new(system.authed("reporting", "maya", Role::Manager).await);
    eventually(WAIT, "reporting to mark ben left", || {
        let mut reports = reports.clone();
        async move {
            let reps = reports
                .get_fairness(GetFairnessRequest {
                    team_id: "north".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .reps;
            reps.iter()
                .any(|r| r.rep_id == "ben" && r.left && r.claims >= 2)
                .then_some(())
        }
    })
    .await;
    // Alerting: maya no longer answers for ben.
    let alerts = AlertingServiceClient::new(system.authed("alerting", "maya", Role::Manager).await);
    let refused = eventually(WAIT, "alerting to take ben out of north", || {
        let mut alerts = alerts.clone();
        async move {
            alerts
                .list_alerts(ListAlertsRequest {
                    recipient_id: "ben".into(),
                    ..Default::default()
                })
                .await
                .err()
        }
    })
    .await;
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // Every consumer of the five services took every event, and none was
    // terminated anywhere in the system.
    consumers_took_everything(
        &system,
        &watch,
        &[
            (&INTAKE_STREAM, "wheel-intake"),
            (&OPPS_STREAM, "wheel-opps"),
            (&WHEEL_STREAM, "opportunity-wheel"),
            (&OPPS_STREAM, "intake-accounts"),
            (&INTAKE_STREAM, "reporting-intake"),
            (&WHEEL_STREAM, "reporting-wheel"),
            (&OPPS_STREAM, "reporting-opps"),
            (&WHEEL_STREAM, leadwheel_alerting::WHEEL_CONSUMER),
            (&OPPS_STREAM, leadwheel_alerting::OPPS_CONSUMER),
        ],
    )
    .await;

    // Intake has the account's new owner: the customer's next signup goes
    // straight to Carla.
    let again = signup(&system, "lee@brightline.example", "Brightline").await;
    let routed = eventually(WAIT, "the account's next signup to be routed", || {
        let mut admin = admin.clone();
        let again = again.clone();
        async move {
            let r = routing(&mut admin, &again).await?;
            (r.state == LeadState::Assigned as i32).then_some(r)
        }
    })
    .await;
    assert_eq!(routed.owner_rep_id, "carla");
    assert!(routed.offers.is_empty(), "{:?}", routed.offers);
}

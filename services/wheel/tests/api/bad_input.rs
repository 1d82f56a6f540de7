//! Bad input on every RPC gets a precise code (and names the field at
//! fault), and changes nothing: the teams, reps, leads, offers, ledgers
//! and pools read the same before and after each refusal, and no event is
//! published.

use std::collections::HashMap;
use std::time::Duration;

use leadwheel_plumbing::bus::{WHEEL_STREAM, subjects};
use leadwheel_plumbing::testing::{self, StreamMessage};
use leadwheel_proto::events::v1::{RepUpserted, TeamUpserted};
use leadwheel_proto::wheel::v1::*;
use prost::Message;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};
use crate::support::{self, manager, no_breaker};

/// Everything a refused call could have changed, as the API shows it.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    teams: Vec<Team>,
    reps: Vec<Rep>,
    leads: Vec<(GetLeadRoutingResponse, ExplainLeadResponse)>,
    pools: Vec<ListPoolResponse>,
}

pub async fn snapshot(app: &TestApp, leads: &[&str]) -> Snapshot {
    let mut admin = app.admin().await;
    let mut teams = admin
        .list_teams(ListTeamsRequest {})
        .await
        .unwrap()
        .into_inner()
        .teams;
    teams.sort_by(|a, b| a.team_id.cmp(&b.team_id));
    let reps = admin
        .list_reps(ListRepsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reps;
    let mut out = Vec::new();
    for lead in leads {
        out.push((
            support::routing(app, lead).await,
            support::explain(app, lead).await,
        ));
    }
    let mut pools = Vec::new();
    for team in &teams {
        pools.push(
            admin
                .list_pool(ListPoolRequest {
                    team_id: team.team_id.clone(),
                })
                .await
                .unwrap()
                .into_inner(),
        );
    }
    Snapshot {
        teams,
        reps,
        leads: out,
        pools,
    }
}

/// Checks one refusal: its code, the field its message names, and that
/// the state reads exactly as `before`.
pub async fn expect_refused<T: std::fmt::Debug>(
    app: &TestApp,
    leads: &[&str],
    before: &Snapshot,
    result: Result<T, tonic::Status>,
    code: Code,
    field: Option<&str>,
    what: &str,
) {
    support::refused(result, code, field, what);
    let after = snapshot(app, leads).await;
    assert!(
        after == *before,
        "{what}: the refusal changed the state\nbefore: {before:#?}\nafter: {after:#?}"
    );
}

fn demo(window_ms: i64, policy: TeamPolicy) -> UpsertTeamRequest {
    UpsertTeamRequest {
        team: Some(support::team(
            "demo",
            "maya",
            &["ana", "ben", "cy"],
            window_ms,
            Some(policy),
        )),
        rep_names: vec![],
    }
}

fn policy(edit: impl FnOnce(&mut TeamPolicy)) -> TeamPolicy {
    let mut policy = no_breaker();
    edit(&mut policy);
    policy
}

async fn stream_len(app: &TestApp) -> usize {
    testing::read_stream(&app.nats.url(), &WHEEL_STREAM, "")
        .await
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_rpc_is_refused_precisely_and_changes_nothing() {
    let app = spawn_app().await;
    support::upsert(
        &app,
        support::team("demo", "maya", &["ana", "ben"], 600_000, Some(no_breaker())),
    )
    .await;
    support::upsert(&app, support::team("north", "omar", &["zed"], 60_000, None)).await;
    app.new_lead("l1").await;
    app.new_lead("l2").await;
    assert_eq!(app.offered_to("l1").await, "ana");
    assert_eq!(app.offered_to("l2").await, "ben");
    let leads = ["l1", "l2"];
    // Wait until the setup's events are all out, so any later one stands out.
    let events_before = testing::eventually(
        Duration::from_secs(20),
        "the setup's events on the stream",
        || async {
            // 2 teams + 3 reps upserted, 2 offers opened.
            let n = stream_len(&app).await;
            (n >= 7).then_some(n)
        },
    )
    .await;
    let before = snapshot(&app, &leads).await;
    let mut admin = app.admin().await;
    let mut ana = app.rep("ana").await;
    let mut ben = app.rep("ben").await;
    let mut maya = manager(&app, "maya", Some("demo")).await;
    let mut omar = manager(&app, "omar", Some("north")).await;
    macro_rules! check {
        ($call:expr, $code:ident, $field:expr, $what:expr) => {
            expect_refused(&app, &leads, &before, $call, Code::$code, $field, $what).await
        };
    }

    // UpsertTeam: every window and policy value out of range, on the
    // existing team (a change would show in the snapshot).
    let long_text = "x".repeat(201);
    let bad_teams: Vec<(UpsertTeamRequest, &str, &str)> = vec![
        (
            demo(999, no_breaker()),
            "team.window_ms",
            "a window under 1 s",
        ),
        (
            demo(3_600_001, no_breaker()),
            "team.window_ms",
            "a window over an hour",
        ),
        (
            demo(-1, no_breaker()),
            "team.window_ms",
            "a negative window",
        ),
        (
            demo(
                60_000,
                policy(|p| p.tier_windows_ms = HashMap::from([("gold".into(), 999)])),
            ),
            "team.policy.tier_windows_ms",
            "a tier window under 1 s",
        ),
        (
            demo(
                60_000,
                policy(|p| p.tier_windows_ms = HashMap::from([("gold".into(), 3_600_001)])),
            ),
            "team.policy.tier_windows_ms",
            "a tier window over an hour",
        ),
        (
            demo(
                60_000,
                policy(|p| p.tier_windows_ms = HashMap::from([("gold tier".into(), 5_000)])),
            ),
            "team.policy.tier_windows_ms",
            "a tier name with a space",
        ),
        (
            demo(60_000, policy(|p| p.pool_timeout_ms = 999)),
            "team.policy.pool_timeout_ms",
            "a pool timeout under 1 s",
        ),
        (
            demo(60_000, policy(|p| p.pool_timeout_ms = -5)),
            "team.policy.pool_timeout_ms",
            "a negative pool timeout",
        ),
        (
            demo(60_000, policy(|p| p.pool_timeout_ms = 8 * 24 * 3_600_000)),
            "team.policy.pool_timeout_ms",
            "a pool timeout over a week",
        ),
        (
            demo(60_000, policy(|p| p.chain_budget_ms = 500)),
            "team.policy.chain_budget_ms",
            "a chain budget under 1 s",
        ),
        (
            demo(60_000, policy(|p| p.chain_budget_ms = 25 * 3_600_000)),
            "team.policy.chain_budget_ms",
            "a chain budget over a day",
        ),
        (
            demo(60_000, policy(|p| p.window_floor_ms = 10)),
            "team.policy.window_floor_ms",
            "a window floor under 1 s",
        ),
        (
            demo(60_000, policy(|p| p.breaker_expiries = 101)),
            "team.policy.breaker_expiries",
            "a breaker over 100",
        ),
        (
            demo(60_000, policy(|p| p.breaker_expiries = -2)),
            "team.policy.breaker_expiries",
            "a breaker below -1",
        ),
        (
            demo(60_000, policy(|p| p.rotation = 42)),
            "team.policy.rotation",
            "an unknown rotation",
        ),
        (
            demo(60_000, policy(|p| p.no_eligible = 42)),
            "team.policy.no_eligible",
            "an unknown no-eligible policy",
        ),
        (
            UpsertTeamRequest {
                team: None,
                rep_names: vec![],
            },
            "team",
            "no team",
        ),
        (
            UpsertTeamRequest {
                team: Some(support::team("de mo", "maya", &["ana"], 60_000, None)),
                rep_names: vec![],
            },
            "team.team_id",
            "a team id with a space",
        ),
        (
            UpsertTeamRequest {
                team: Some(support::team("demo", "", &["ana"], 60_000, None)),
                rep_names: vec![],
            },
            "team.manager_id",
            "no manager",
        ),
        (
            UpsertTeamRequest {
                team: Some(support::team("demo", "maya", &["ana", "ana"], 60_000, None)),
                rep_names: vec![],
            },
            "team.rep_ids",
            "a rep listed twice",
        ),
        (
            UpsertTeamRequest {
                team: Some(support::team("demo", "maya", &["ana", "b/c"], 60_000, None)),
                rep_names: vec![],
            },
            "team.rep_ids",
            "a bad rep id",
        ),
        (
            UpsertTeamRequest {
                team: Some(support::team("demo", "maya", &["ana"], 60_000, None)),
                rep_names: vec!["Ana".into(), "Extra".into()],
            },
            "rep_names",
            "more names than reps",
        ),
        (
            UpsertTeamRequest {
                team: Some(Team {
                    name: long_text.clone(),
                    ..support::team("demo", "maya", &["ana"], 60_000, None)
                }),
                rep_names: vec![],
            },
            "team.name",
            "a name over 100 characters",
        ),
    ];
    for (request, field, what) in bad_teams {
        check!(
            admin.upsert_team(request).await,
            InvalidArgument,
            Some(field),
            what
        );
    }
    check!(
        ana.upsert_team(demo(60_000, no_breaker())).await,
        PermissionDenied,
        None,
        "a rep upserting a team"
    );
    check!(
        omar.upsert_team(demo(60_000, no_breaker())).await,
        PermissionDenied,
        None,
        "another team's manager upserting a team"
    );

    // Reads naming unknown or forbidden things.
    check!(
        admin
            .list_reps(ListRepsRequest {
                team_id: "nope".into()
            })
            .await,
        NotFound,
        None,
        "list reps of an unknown team"
    );
    check!(
        ana.list_offers(ListOffersRequest {
            rep_id: "ben".into(),
            ..Default::default()
        })
        .await,
        PermissionDenied,
        None,
        "a rep listing another rep's offers"
    );
    check!(
        admin.list_offers(ListOffersRequest::default()).await,
        InvalidArgument,
        Some("rep_id"),
        "list offers without a rep"
    );
    check!(
        admin
            .list_offers(ListOffersRequest {
                rep_id: "ana".into(),
                team_id: "demo".into(),
                ..Default::default()
            })
            .await,
        InvalidArgument,
        Some("rep_id"),
        "list offers naming both a rep and a team"
    );
    check!(
        ana.list_offers(ListOffersRequest {
            team_id: "demo".into(),
            ..Default::default()
        })
        .await,
        PermissionDenied,
        None,
        "a rep listing the team's offers"
    );
    check!(
        omar.list_offers(ListOffersRequest {
            team_id: "demo".into(),
            ..Default::default()
        })
        .await,
        PermissionDenied,
        None,
        "another team's manager listing the team's offers"
    );
    check!(
        admin
            .list_offers(ListOffersRequest {
                team_id: "nope".into(),
                ..Default::default()
            })
            .await,
        NotFound,
        None,
        "the offers of an unknown team"
    );
    for limit in [-1, 2_001] {
        check!(
            admin
                .list_offers(ListOffersRequest {
                    team_id: "demo".into(),
                    limit,
                    ..Default::default()
                })
                .await,
            InvalidArgument,
            Some("limit"),
            "a team's offers with a limit out of 0..=2000"
        );
    }
    check!(
        ana.watch_offers(WatchOffersRequest {
            rep_id: "ben".into()
        })
        .await
        .map(|_| ()),
        PermissionDenied,
        None,
        "a rep watching another rep's offers"
    );
    check!(
        admin
            .get_lead_routing(GetLeadRoutingRequest {
                lead_id: "nope".into()
            })
            .await,
        NotFound,
        None,
        "routing of an unknown lead"
    );
    check!(
        ben.get_lead_routing(GetLeadRoutingRequest {
            lead_id: "l1".into()
        })
        .await,
        PermissionDenied,
        None,
        "a rep reading a lead offered to someone else"
    );
    check!(
        ben.explain_lead(ExplainLeadRequest {
            lead_id: "l1".into()
        })
        .await,
        PermissionDenied,
        None,
        "a rep reading the ledger of a lead never offered to them"
    );
    check!(
        omar.explain_lead(ExplainLeadRequest {
            lead_id: "l1".into()
        })
        .await,
        PermissionDenied,
        None,
        "another team's manager reading a ledger"
    );
    check!(
        admin
            .explain_lead(ExplainLeadRequest {
                lead_id: "nope".into()
            })
            .await,
        NotFound,
        None,
        "the ledger of an unknown lead"
    );
    check!(
        ana.list_pool(ListPoolRequest {
            team_id: "north".into()
        })
        .await,
        PermissionDenied,
        None,
        "a rep reading another team's pool"
    );

    // Claim and Pass.
    let claim = |lead: &str, rep: &str| ClaimRequest {
        lead_id: lead.into(),
        rep_id: rep.into(),
    };
    let pass = |lead: &str, rep: &str, reason: &str| PassRequest {
        lead_id: lead.into(),
        rep_id: rep.into(),
        reason: reason.into(),
    };
    check!(
        ana.claim(claim("nope", "ana")).await,
        NotFound,
        None,
        "claiming an unknown lead"
    );
    check!(
        ana.claim(claim("a b", "ana")).await,
        InvalidArgument,
        Some("lead_id"),
        "claiming a malformed lead id"
    );
    check!(
        ben.claim(claim("l1", "ben")).await,
        PermissionDenied,
        None,
        "claiming another rep's offer"
    );
    check!(
        ben.claim(claim("l1", "ana")).await,
        PermissionDenied,
        None,
        "a rep claiming as another rep"
    );
    check!(
        app.rep("ghost").await.claim(claim("l1", "ghost")).await,
        PermissionDenied,
        None,
        "an unknown rep claiming an offer"
    );
    // l1 is offered to ana: ben may no more pass it than claim it.
    check!(
        ben.pass(pass("l1", "ben", "not mine")).await,
        PermissionDenied,
        None,
        "passing another rep's offer"
    );
    check!(
        ben.pass(pass("l1", "ana", "not mine")).await,
        PermissionDenied,
        None,
        "a rep passing as another rep"
    );
    check!(
        ana.pass(pass("l1", "ana", "  ")).await,
        InvalidArgument,
        Some("reason"),
        "a pass without a reason"
    );
    check!(
        ana.pass(pass("l1", "ana", &long_text)).await,
        InvalidArgument,
        Some("reason"),
        "a pass reason over 200 characters"
    );
    check!(
        ana.pass(pass("l1", "ana", "bad\u{7}bell")).await,
        InvalidArgument,
        Some("reason"),
        "a pass reason with a control character"
    );
    check!(
        ana.pass(pass("nope", "ana", "no")).await,
        NotFound,
        None,
        "passing an unknown lead"
    );

    // SetAvailability.
    let availability = |rep: &str, value: &str, reason: &str| SetAvailabilityRequest {
        rep_id: rep.into(),
        availability: value.into(),
        reason: reason.into(),
    };
    check!(
        admin
            .set_availability(availability("ghost", "away", ""))
            .await,
        NotFound,
        None,
        "availability of an unknown rep"
    );
    check!(
        ana.set_availability(availability("ana", "busy", "")).await,
        InvalidArgument,
        Some("availability"),
        "an unknown availability"
    );
    check!(
        ana.set_availability(availability("ana", "away", &long_text))
            .await,
        InvalidArgument,
        Some("reason"),
        "an availability reason over 200 characters"
    );
    check!(
        ana.set_availability(availability("ben", "away", "")).await,
        PermissionDenied,
        None,
        "a rep setting another rep away"
    );
    check!(
        omar.set_availability(availability("ana", "away", "")).await,
        PermissionDenied,
        None,
        "another team's manager setting a rep away"
    );

    // UpdateRep (managers only).
    let update = |rep: &str, rank: i32, capacity: i32| UpdateRepRequest {
        rep_id: rep.into(),
        rank,
        capacity,
    };
    check!(
        maya.update_rep(update("ana", 1_001, 0)).await,
        InvalidArgument,
        Some("rank"),
        "a rank over 1000"
    );
    check!(
        maya.update_rep(update("ana", -1_001, 0)).await,
        InvalidArgument,
        Some("rank"),
        "a rank under -1000"
    );
    check!(
        maya.update_rep(update("ana", 0, -1)).await,
        InvalidArgument,
        Some("capacity"),
        "a negative capacity"
    );
    check!(
        maya.update_rep(update("ana", 0, 10_001)).await,
        InvalidArgument,
        Some("capacity"),
        "a capacity over 10000"
    );
    check!(
        maya.update_rep(update("ghost", 0, 1)).await,
        NotFound,
        None,
        "updating an unknown rep"
    );
    check!(
        ana.update_rep(update("ana", 5, 1)).await,
        PermissionDenied,
        None,
        "a rep updating themselves"
    );
    check!(
        omar.update_rep(update("ana", 5, 1)).await,
        PermissionDenied,
        None,
        "another team's manager updating a rep"
    );

    // AssignLead, RequeueLead, WithdrawLead (managers only).
    let assign = |lead: &str, rep: &str, reason: &str| AssignLeadRequest {
        lead_id: lead.into(),
        rep_id: rep.into(),
        reason: reason.into(),
    };
    check!(
        maya.assign_lead(assign("nope", "ana", "")).await,
        NotFound,
        None,
        "assigning an unknown lead"
    );
    check!(
        maya.assign_lead(assign("l1", "ghost", "")).await,
        NotFound,
        None,
        "assigning to an unknown rep"
    );
    check!(
        maya.assign_lead(assign("l1", "", "")).await,
        InvalidArgument,
        Some("rep_id"),
        "assigning to no rep"
    );
    check!(
        maya.assign_lead(assign("l1", "ben", &long_text)).await,
        InvalidArgument,
        Some("reason"),
        "an assignment reason over 200 characters"
    );
    check!(
        ana.assign_lead(assign("l1", "ana", "")).await,
        PermissionDenied,
        None,
        "a rep assigning a lead"
    );
    check!(
        omar.assign_lead(assign("l1", "ben", "")).await,
        PermissionDenied,
        None,
        "another team's manager assigning a lead"
    );
    let requeue = |lead: &str| RequeueLeadRequest {
        lead_id: lead.into(),
        reason: String::new(),
    };
    check!(
        maya.requeue_lead(requeue("nope")).await,
        NotFound,
        None,
        "requeueing an unknown lead"
    );
    check!(
        ana.requeue_lead(requeue("l1")).await,
        PermissionDenied,
        None,
        "a rep requeueing a lead"
    );
    check!(
        omar.requeue_lead(requeue("l1")).await,
        PermissionDenied,
        None,
        "another team's manager requeueing a lead"
    );
    let withdraw = |lead: &str| WithdrawLeadRequest {
        lead_id: lead.into(),
        reason: String::new(),
    };
    check!(
        maya.withdraw_lead(withdraw("nope")).await,
        NotFound,
        None,
        "withdrawing an unknown lead"
    );
    check!(
        ana.withdraw_lead(withdraw("l1")).await,
        PermissionDenied,
        None,
        "a rep withdrawing a lead"
    );
    check!(
        omar.withdraw_lead(withdraw("l1")).await,
        PermissionDenied,
        None,
        "another team's manager withdrawing a lead"
    );

    // Nothing was published for any of it. A valid change after the
    // refusals is the barrier: the relay publishes the outbox in order, so
    // once its events are out, anything a refusal had written is out too.
    support::upsert(
        &app,
        support::team("barrier", "bob", &["bea"], 60_000, None),
    )
    .await;
    let messages = testing::eventually(
        Duration::from_secs(20),
        "the barrier's team and rep events",
        || async {
            let messages = testing::read_stream(&app.nats.url(), &WHEEL_STREAM, "").await;
            let out = messages.iter().filter(|m| is_barrier(m)).count();
            (out == 2).then_some(messages)
        },
    )
    .await;
    let stray: Vec<&StreamMessage> = messages[events_before..]
        .iter()
        .filter(|m| !is_barrier(m))
        .collect();
    assert!(stray.is_empty(), "a refused call published {stray:#?}");
}

/// One of the barrier upsert's two events.
fn is_barrier(message: &StreamMessage) -> bool {
    let payload = message.envelope.payload.as_slice();
    match message.subject.as_str() {
        subjects::TEAM_UPSERTED => {
            TeamUpserted::decode(payload).is_ok_and(|team| team.team_id == "barrier")
        }
        subjects::REP_UPSERTED => RepUpserted::decode(payload).is_ok_and(|rep| rep.rep_id == "bea"),
        _ => false,
    }
}

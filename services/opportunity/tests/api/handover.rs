//! The handover of a leaving rep: a plan over 1,000 mixed leads and deals,
//! edited, applied exactly once even when applied twice at once, tasks for
//! the new owners and progress until every task is done; a lead handed
//! back to the wheel is in work again for its next owner.

use std::collections::HashMap;

use futures::StreamExt;
use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::events::v1::{
    HandoverApplied, HandoverCompleted, HandoverStarted, HandoverTaskCompleted,
    HandoverTaskCreated, LeadOpened, LeadOwnerChanged, LeadReturned, OpportunityOwnerChanged,
};
use leadwheel_proto::opportunity::v1::{
    ApplyHandoverRequest, CompleteTaskRequest, EditHandoverItemRequest, GetHandoverRequest,
    GetLeadInWorkRequest, HandoverAction, HandoverItem, ListHandoverItemsRequest,
    ListOpportunitiesRequest, ListTasksRequest, MoveStageRequest, StartHandoverRequest, Task,
};
use tonic::Code;

use crate::helpers::{
    Client, Env, all_pages, conversion, refused, spawn_app, two_teams, wait_events, wait_lead,
};

/// A handover of ana's customers to `successor` ("" names none).
fn ana_leaves(successor: &str) -> StartHandoverRequest {
    StartHandoverRequest {
        rep_id: "ana".into(),
        successor_rep_id: successor.into(),
        ..Default::default()
    }
}

const LEADS: usize = 400;
const DEALS: usize = 600;

async fn all_items(client: &mut Client, handover_id: &str) -> Vec<HandoverItem> {
    all_pages(async |page_token| {
        let page = client
            .list_handover_items(ListHandoverItemsRequest {
                handover_id: handover_id.into(),
                page_size: 500,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        (page.items, page.next_page_token)
    })
    .await
}

async fn all_tasks(client: &mut Client, owner: &str) -> Vec<Task> {
    all_pages(async |page_token| {
        let page = client
            .list_tasks(ListTasksRequest {
                owner_rep_id: owner.into(),
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (page.tasks, page.next_page_token)
    })
    .await
}

async fn open_deals_of(client: &mut Client, owner: &str) -> usize {
    let deals = all_pages(async |page_token| {
        let page = client
            .list_opportunities(ListOpportunitiesRequest {
                owner_rep_id: owner.into(),
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (page.opportunities, page.next_page_token)
    })
    .await;
    deals.iter().filter(|o| o.status == "open").count()
}

on_both_backends!(handover_of_a_thousand_applied_exactly_once);
async fn handover_of_a_thousand_applied_exactly_once(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    for n in 0..LEADS + DEALS {
        app.assign(&format!("lead-{n:04}"), "ana", "north").await;
    }
    wait_lead(&app, &format!("lead-{:04}", LEADS + DEALS - 1)).await;

    // 600 deals: a third in each open stage, converted and moved by ana
    // over a few connections at once.
    let ana = app.client("ana", Role::Rep).await;
    futures::stream::iter(LEADS..LEADS + DEALS)
        .map(|n| {
            let mut ana = ana.clone();
            async move {
                let lead_id = format!("lead-{n:04}");
                let opp = ana
                    .convert_lead(conversion(
                        &lead_id,
                        &format!("c{n}.example.com"),
                        1_000 + n as i64,
                    ))
                    .await
                    .expect("converting")
                    .into_inner()
                    .opportunity
                    .unwrap();
                let stage = ["needs_identified", "trial", "commercial"][n % 3];
                if stage != opp.stage {
                    ana.move_stage(MoveStageRequest {
                        opportunity_id: opp.opportunity_id,
                        stage: stage.into(),
                        ..Default::default()
                    })
                    .await
                    .expect("moving");
                }
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;

    let mut maya = app.client("maya", Role::Manager).await;
    let mut sue = app.client("sue", Role::Manager).await;
    let mut ana_client = ana.clone();
    refused(
        ana_client.start_handover(ana_leaves("")).await,
        Code::PermissionDenied,
        "reps do not hand themselves over",
    );
    refused(
        sue.start_handover(ana_leaves("")).await,
        Code::PermissionDenied,
        "sue does not manage north",
    );

    // Without a successor every deal is for the manager to decide.
    let undecided = maya
        .start_handover(ana_leaves(""))
        .await
        .unwrap()
        .into_inner()
        .handover
        .unwrap();
    assert_eq!((undecided.items, undecided.undecided_items), (1_000, 600));
    let status = refused(
        maya.apply_handover(ApplyHandoverRequest {
            handover_id: undecided.handover_id.clone(),
            task_due_days: 0,
        })
        .await,
        Code::FailedPrecondition,
        "600 deals are undecided",
    );
    assert!(status.message().contains("600"), "{}", status.message());
    refused(
        maya.start_handover(ana_leaves("bo")).await,
        Code::FailedPrecondition,
        "one draft per rep",
    );

    // The manager names bo for every deal but one, which goes to cy, and
    // gives one lead to cy instead of the wheel.
    let items = all_items(&mut maya, &undecided.handover_id).await;
    assert_eq!(items.len(), 1_000);
    let locked = items.iter().filter(|i| i.owner_locked).count();
    assert_eq!(locked, 200, "commercial deals are locked");
    assert!(
        items
            .iter()
            .filter(|i| i.kind == "lead")
            .all(|i| i.action == HandoverAction::ReturnToWheel as i32)
    );
    let edit = |item: &HandoverItem, to: &str, action: HandoverAction| EditHandoverItemRequest {
        handover_id: undecided.handover_id.clone(),
        kind: item.kind.clone(),
        item_id: item.item_id.clone(),
        action: action as i32,
        to_rep_id: to.into(),
    };
    let deals: Vec<&HandoverItem> = items.iter().filter(|i| i.kind == "opportunity").collect();
    futures::stream::iter(deals.iter().enumerate())
        .map(|(n, item)| {
            let mut maya = maya.clone();
            let request = edit(
                item,
                if n == 0 { "cy" } else { "bo" },
                HandoverAction::Reassign,
            );
            async move { maya.edit_handover_item(request).await.expect("editing") }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let first_lead = items.iter().find(|i| i.kind == "lead").unwrap();
    maya.edit_handover_item(edit(first_lead, "cy", HandoverAction::Reassign))
        .await
        .unwrap();
    refused(
        maya.edit_handover_item(edit(deals[1], "", HandoverAction::ReturnToWheel))
            .await,
        Code::InvalidArgument,
        "deals do not go back to the wheel",
    );
    refused(
        maya.edit_handover_item(edit(deals[1], "dee", HandoverAction::Reassign))
            .await,
        Code::PermissionDenied,
        "dee is not maya's rep",
    );
    refused(
        maya.edit_handover_item(edit(deals[1], "ana", HandoverAction::Reassign))
            .await,
        Code::InvalidArgument,
        "not to the leaving rep",
    );

    // Applied twice at once: exactly one applies.
    let apply = ApplyHandoverRequest {
        handover_id: undecided.handover_id.clone(),
        task_due_days: 5,
    };
    let mut nora = app.team_manager("nora", "north").await;
    let (first, second) = tokio::join!(
        maya.apply_handover(apply.clone()),
        nora.apply_handover(apply.clone())
    );
    let outcomes = [first, second];
    let applied: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(applied.len(), 1, "{outcomes:?}");
    let loser = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(loser.code(), Code::FailedPrecondition, "{loser:?}");
    let summary = applied[0].get_ref().handover.clone().unwrap();
    assert_eq!(summary.state, "applied");
    // One task per customer: 600 accounts and the lead given to cy.
    assert_eq!((summary.tasks_total, summary.tasks_done), (601, 0));
    refused(
        maya.apply_handover(apply).await,
        Code::FailedPrecondition,
        "a plan applies once",
    );

    let mut root = app.client("root", Role::Admin).await;
    assert_eq!(open_deals_of(&mut root, "ana").await, 0);
    assert_eq!(open_deals_of(&mut root, "bo").await, 599);
    assert_eq!(open_deals_of(&mut root, "cy").await, 1);
    let bo_tasks = all_tasks(&mut root, "bo").await;
    assert_eq!(bo_tasks.len(), 599);
    let kinds = bo_tasks.iter().fold(HashMap::new(), |mut m, t| {
        *m.entry(t.kind.as_str()).or_insert(0) += 1;
        m
    });
    assert_eq!(
        kinds.get("visit").copied().unwrap_or(0) + kinds.get("call").copied().unwrap_or(0),
        599
    );
    assert!(
        (199..=200).contains(&kinds["visit"]),
        "a visit per locked deal: {kinds:?}"
    );
    let due = &bo_tasks[0].due_date;
    assert_eq!(
        due,
        &leadwheel_opportunity::rules::date_after(summary.applied_at_ms, 5)
    );

    let started = wait_events::<HandoverStarted>(&app, subjects::OPPS_HANDOVER_STARTED, 1).await;
    assert_eq!(
        started.len(),
        1,
        "the refused second draft published nothing"
    );
    assert_eq!(
        (
            started[0].1.leads,
            started[0].1.opportunities,
            started[0].1.undecided
        ),
        (400, 600, 600)
    );
    let events = wait_events::<HandoverApplied>(&app, subjects::OPPS_HANDOVER_APPLIED, 1).await;
    assert_eq!(events.len(), 1, "applied once");
    let event = &events[0].1;
    assert_eq!(
        (
            event.rep_id.as_str(),
            event.leads_moved,
            event.leads_returned,
            event.opportunities_moved,
            event.tasks_created
        ),
        ("ana", 400, 399, 600, 601)
    );
    assert_eq!(
        wait_events::<LeadReturned>(&app, subjects::OPPS_LEAD_RETURNED, 399)
            .await
            .len(),
        399
    );
    assert_eq!(
        wait_events::<LeadOwnerChanged>(&app, subjects::OPPS_LEAD_OWNER_CHANGED, 1)
            .await
            .len(),
        1
    );
    let moved =
        wait_events::<OpportunityOwnerChanged>(&app, subjects::OPPS_OPPORTUNITY_OWNER_CHANGED, 600)
            .await;
    assert_eq!(moved.len(), 600);
    assert!(
        moved
            .iter()
            .all(|(_, e)| e.from_rep_id == "ana" && !e.forced)
    );
    assert_eq!(
        wait_events::<HandoverTaskCreated>(&app, subjects::OPPS_HANDOVER_TASK_CREATED, 601)
            .await
            .len(),
        601
    );

    // Progress as the new owners work through their tasks.
    let mut cy = app.client("cy", Role::Rep).await;
    let cy_tasks = all_tasks(&mut cy, "").await;
    assert_eq!(cy_tasks.len(), 2);
    let mut kinds: Vec<&str> = cy_tasks.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort();
    assert!(
        kinds == ["call", "email"] || kinds == ["email", "visit"],
        "{kinds:?}"
    );
    refused(
        cy.complete_task(CompleteTaskRequest {
            task_id: bo_tasks[0].task_id.clone(),
        })
        .await,
        Code::PermissionDenied,
        "not cy's task",
    );
    for task in &cy_tasks {
        cy.complete_task(CompleteTaskRequest {
            task_id: task.task_id.clone(),
        })
        .await
        .unwrap();
    }
    let progress = maya
        .get_handover(GetHandoverRequest {
            handover_id: summary.handover_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .handover
        .unwrap();
    assert_eq!(
        (progress.state.as_str(), progress.tasks_done),
        ("applied", 2)
    );
    app.stop().await;
}

on_both_backends!(a_handover_completes_when_every_task_is_done);
async fn a_handover_completes_when_every_task_is_done(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    crate::helpers::opportunity(&app, "lead-1", "ana", "north", 10).await;
    crate::helpers::opportunity(&app, "lead-2", "ana", "north", 20).await;
    app.assign("lead-3", "ana", "north").await;
    wait_lead(&app, "lead-3").await;
    let mut maya = app.client("maya", Role::Manager).await;
    let plan = maya
        .start_handover(StartHandoverRequest {
            rep_id: "ana".into(),
            successor_rep_id: "bo".into(),
            leads_to_successor: true,
        })
        .await
        .unwrap()
        .into_inner()
        .handover
        .unwrap();
    assert_eq!(
        (plan.items, plan.undecided_items, plan.state.as_str()),
        (3, 0, "draft")
    );
    // The leaving rep may look at their plan but not apply it.
    let mut ana = app.client("ana", Role::Rep).await;
    ana.get_handover(GetHandoverRequest {
        handover_id: plan.handover_id.clone(),
    })
    .await
    .unwrap();
    refused(
        ana.apply_handover(ApplyHandoverRequest {
            handover_id: plan.handover_id.clone(),
            task_due_days: 0,
        })
        .await,
        Code::PermissionDenied,
        "reps do not apply handovers",
    );
    refused(
        maya.apply_handover(ApplyHandoverRequest {
            handover_id: plan.handover_id.clone(),
            task_due_days: 61,
        })
        .await,
        Code::InvalidArgument,
        "tasks are due within 60 days",
    );
    let applied = maya
        .apply_handover(ApplyHandoverRequest {
            handover_id: plan.handover_id.clone(),
            task_due_days: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .handover
        .unwrap();
    assert_eq!((applied.tasks_total, applied.tasks_done), (3, 0));
    let mut bo = app.client("bo", Role::Rep).await;
    let tasks = all_tasks(&mut bo, "").await;
    assert_eq!(tasks.len(), 3);
    let mut last = None;
    for task in &tasks {
        last = Some(
            bo.complete_task(CompleteTaskRequest {
                task_id: task.task_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .handover
            .unwrap(),
        );
    }
    let last = last.unwrap();
    assert_eq!((last.state.as_str(), last.tasks_done), ("completed", 3));
    refused(
        bo.complete_task(CompleteTaskRequest {
            task_id: tasks[0].task_id.clone(),
        })
        .await,
        Code::FailedPrecondition,
        "a done task stays done",
    );
    let done = wait_events::<HandoverCompleted>(&app, subjects::OPPS_HANDOVER_COMPLETED, 1).await;
    assert_eq!((done.len(), done[0].1.tasks_done), (1, 3));
    // Each task done was announced once, by whom, for alerting; the
    // refused second completion announced nothing.
    let each =
        wait_events::<HandoverTaskCompleted>(&app, subjects::OPPS_HANDOVER_TASK_COMPLETED, 3).await;
    let mut announced: Vec<String> = each.iter().map(|(_, e)| e.task_id.clone()).collect();
    let mut expected: Vec<String> = tasks.iter().map(|t| t.task_id.clone()).collect();
    announced.sort();
    expected.sort();
    assert_eq!(announced, expected);
    for (_, e) in &each {
        assert_eq!(
            (
                e.handover_id.as_str(),
                e.owner_rep_id.as_str(),
                e.by.as_str()
            ),
            (plan.handover_id.as_str(), "bo", "bo")
        );
        assert!(e.at_ms > 0 && !e.team_id.is_empty());
    }
    app.stop().await;
}

on_both_backends!(a_returned_lead_is_reopened_for_its_next_owner);
/// A lead a handover handed back to the wheel, assigned again by the wheel,
/// is in work for the new owner (not kept with the leaver).
async fn a_returned_lead_is_reopened_for_its_next_owner(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    two_teams(&app).await;
    app.assign("lead-1", "ana", "north").await;
    wait_lead(&app, "lead-1").await;
    let mut maya = app.client("maya", Role::Manager).await;
    let plan = maya
        .start_handover(ana_leaves(""))
        .await
        .unwrap()
        .into_inner()
        .handover
        .unwrap();
    maya.apply_handover(ApplyHandoverRequest {
        handover_id: plan.handover_id,
        task_due_days: 0,
    })
    .await
    .unwrap();
    let mut root = app.client("root", Role::Admin).await;
    let read = async |root: &mut Client| {
        root.get_lead_in_work(GetLeadInWorkRequest {
            lead_id: "lead-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap()
    };
    assert_eq!(read(&mut root).await.status, "returned");

    app.assign("lead-1", "bo", "north").await;
    let opened = wait_events::<LeadOpened>(&app, subjects::OPPS_LEAD_OPENED, 2).await;
    assert_eq!(opened[1].1.rep_id, "bo");
    let lead = read(&mut root).await;
    assert_eq!(
        (lead.rep_id.as_str(), lead.status.as_str()),
        ("bo", "in_work")
    );
    app.stop().await;
}

//! `leadctl opps handover …` and `leadctl opps tasks`.

use anyhow::{Result, anyhow};
use leadwheel_proto::opportunity::v1::{
    ApplyHandoverRequest, EditHandoverItemRequest, GetHandoverRequest, HandoverAction,
    ListHandoverItemsRequest, ListTasksRequest, StartHandoverRequest,
};

use super::call;
use super::views::{HandoverItemView, HandoverView, handover_text};
use crate::cli::HandoverCommand;
use crate::conn::Ctx;
use crate::output::{Table, emit};

pub async fn run(ctx: &Ctx, command: HandoverCommand) -> Result<()> {
    match command {
        HandoverCommand::Start {
            rep,
            successor,
            leads_to_successor,
        } => {
            let request = StartHandoverRequest {
                rep_id: rep,
                successor_rep_id: successor,
                leads_to_successor,
            };
            let plan = call(ctx, |mut c| async move { c.start_handover(request).await })
                .await?
                .handover;
            show_plan(ctx, plan, true).await
        }
        HandoverCommand::Show { handover, items } => {
            let request = GetHandoverRequest {
                handover_id: handover,
            };
            let plan = call(ctx, |mut c| async move { c.get_handover(request).await })
                .await?
                .handover;
            show_plan(ctx, plan, items).await
        }
        HandoverCommand::Edit {
            handover,
            kind,
            item,
            reassign,
            return_to_wheel,
            undecided,
        } => {
            let action = match (&reassign, return_to_wheel, undecided) {
                (Some(_), _, _) => HandoverAction::Reassign,
                (None, true, _) => HandoverAction::ReturnToWheel,
                (None, false, true) => HandoverAction::ManagerDecides,
                _ => {
                    return Err(anyhow!(
                        "say what happens: --reassign REP, --return or --undecided"
                    ));
                }
            };
            let request = EditHandoverItemRequest {
                handover_id: handover,
                kind,
                item_id: item,
                action: action as i32,
                to_rep_id: reassign.unwrap_or_default(),
            };
            let item = call(
                ctx,
                |mut c| async move { c.edit_handover_item(request).await },
            )
            .await?
            .item
            .map(HandoverItemView::from)
            .ok_or_else(|| anyhow!("the opportunity service answered without the item"))?;
            emit(ctx.output(), &item, |i| {
                format!("{} {}: {} {}\n", i.kind, i.item_id, i.action, i.to_rep_id)
            })
        }
        HandoverCommand::Apply { handover, due_days } => {
            let request = ApplyHandoverRequest {
                handover_id: handover,
                task_due_days: due_days,
            };
            let plan = call(ctx, |mut c| async move { c.apply_handover(request).await })
                .await?
                .handover;
            show_plan(ctx, plan, false).await
        }
    }
}

async fn show_plan(
    ctx: &Ctx,
    plan: Option<leadwheel_proto::opportunity::v1::Handover>,
    with_items: bool,
) -> Result<()> {
    let mut view = HandoverView::from(
        plan.ok_or_else(|| anyhow!("the opportunity service answered without the plan"))?,
    );
    if with_items {
        let mut token = String::new();
        loop {
            let request = ListHandoverItemsRequest {
                handover_id: view.handover_id.clone(),
                page_size: 500,
                page_token: token,
            };
            let page = call(
                ctx,
                |mut c| async move { c.list_handover_items(request).await },
            )
            .await?;
            view.plan
                .extend(page.items.into_iter().map(HandoverItemView::from));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    emit(ctx.output(), &view, handover_text)
}

pub async fn tasks(ctx: &Ctx, owner: Option<String>, handover: Option<String>) -> Result<()> {
    let request = ListTasksRequest {
        owner_rep_id: owner.unwrap_or_default(),
        handover_id: handover.unwrap_or_default(),
        page_size: 500,
        page_token: String::new(),
    };
    let tasks = call(ctx, |mut c| async move { c.list_tasks(request).await })
        .await?
        .tasks;
    let rows: Vec<serde_json::Value> = tasks
        .iter()
        .map(|t| {
            serde_json::json!({
                "task_id": t.task_id,
                "handover_id": t.handover_id,
                "owner_rep_id": t.owner_rep_id,
                "kind": t.kind,
                "account_id": t.account_id,
                "lead_id": t.lead_id,
                "due_date": t.due_date,
                "done": t.done,
            })
        })
        .collect();
    emit(ctx.output(), &rows, |_| {
        if tasks.is_empty() {
            return "no tasks\n".into();
        }
        let mut table = Table::new(&["TASK", "OWNER", "KIND", "CUSTOMER", "DUE", "DONE"]);
        for t in &tasks {
            table.row(vec![
                t.task_id.clone(),
                t.owner_rep_id.clone(),
                t.kind.clone(),
                if t.account_id.is_empty() {
                    t.lead_id.clone()
                } else {
                    t.account_id.clone()
                },
                t.due_date.clone(),
                if t.done { "yes" } else { "" }.into(),
            ]);
        }
        table.render()
    })
}

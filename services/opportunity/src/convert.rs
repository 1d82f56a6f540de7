//! Store types to API messages.

use leadwheel_plumbing::now_ms;
use leadwheel_proto::opportunity::v1 as api;

use crate::ops::Pipeline;
use crate::ops::handover::{MANAGER_DECIDES, REASSIGN, RETURN, Summary};
use crate::rules;
use crate::store::LeadInWork;
use crate::store::activities::Activity;
use crate::store::deals::{Account, Opportunity, StageChange};
use crate::store::handover::{Item, Task};
use crate::store::stages::Stage;

/// A lead in work.
pub fn lead(lead: LeadInWork) -> api::LeadInWork {
    api::LeadInWork {
        lead_id: lead.lead_id,
        rep_id: lead.rep_id,
        team_id: lead.team_id,
        status: lead.status,
        claimed_at_ms: lead.claimed_at_ms,
        opened_at_ms: lead.opened_at_ms,
        touch_count: lead.touch_count,
        next_follow_up_date: lead.next_follow_up,
        account_id: lead.account_id,
        opportunity_id: lead.opportunity_id,
        disqualify_reason: lead.disqualify_reason,
        version: lead.version,
    }
}

/// An account.
pub fn account(account: Account) -> api::Account {
    api::Account {
        account_id: account.account_id,
        name: account.name,
        domains: account.domains,
        tier: account.tier,
        owner_rep_id: account.owner_rep_id,
        team_id: account.team_id,
        status: account.status,
        version: account.version,
        created_at_ms: account.created_at_ms,
    }
}

/// An opportunity with its effective probability, weighted value and staleness.
pub fn opportunity(opp: Opportunity, pipeline: &Pipeline) -> api::Opportunity {
    let probability = pipeline.probability(&opp);
    let stale = pipeline.is_stale(&opp, now_ms());
    api::Opportunity {
        weighted_minor: rules::weighted(opp.amount_minor, probability),
        probability_percent: probability,
        probability_overridden: opp.probability_override >= 0,
        stale,
        forecast_category: pipeline.forecast_category(&opp),
        forecast_category_set: !opp.forecast_category.is_empty(),
        opportunity_id: opp.opportunity_id,
        account_id: opp.account_id,
        lead_id: opp.lead_id,
        name: opp.name,
        owner_rep_id: opp.owner_rep_id,
        team_id: opp.team_id,
        stage: opp.stage,
        status: opp.status,
        amount_minor: opp.amount_minor,
        currency: opp.currency,
        expected_close_date: opp.expected_close,
        probability_override_reason: opp.override_reason,
        next_follow_up_date: opp.next_follow_up,
        touch_count: opp.touch_count,
        stage_entered_at_ms: opp.stage_entered_at_ms,
        created_at_ms: opp.created_at_ms,
        close_reason: opp.close_reason,
        version: opp.version,
    }
}

/// A stage move.
pub fn stage_change(change: StageChange) -> api::StageChange {
    api::StageChange {
        from_stage: change.from_stage,
        to_stage: change.to_stage,
        by: change.by,
        reason: change.reason,
        at_ms: change.at_ms,
    }
}

/// A stage.
pub fn stage(stage: Stage) -> api::Stage {
    api::Stage {
        name: stage.name,
        position: stage.position as i32,
        probability_percent: stage.probability as i32,
        owner_locked: stage.owner_locked,
        stale_days: stage.stale_days as i32,
        outcome: stage.outcome,
    }
}

/// A stage from a request.
pub fn stage_from(stage: api::Stage) -> Stage {
    Stage {
        name: stage.name,
        position: i64::from(stage.position),
        probability: i64::from(stage.probability_percent),
        owner_locked: stage.owner_locked,
        stale_days: i64::from(stage.stale_days),
        outcome: if stage.outcome.is_empty() {
            "open".into()
        } else {
            stage.outcome
        },
    }
}

/// An activity.
pub fn activity(activity: Activity) -> api::Activity {
    let kind = match activity.kind.as_str() {
        "call" => api::ActivityKind::Call,
        "email" => api::ActivityKind::Email,
        "visit" => api::ActivityKind::Visit,
        "meeting" => api::ActivityKind::Meeting,
        "note" => api::ActivityKind::Note,
        _ => api::ActivityKind::Unspecified,
    };
    api::Activity {
        activity_id: activity.activity_id,
        kind: kind as i32,
        lead_id: activity.lead_id,
        opportunity_id: activity.opportunity_id,
        account_id: activity.account_id,
        by: activity.by,
        at_ms: activity.at_ms,
        duration_seconds: activity.duration_seconds,
        outcome: activity.outcome,
        recording_url: activity.recording_url,
        notes: activity
            .notes
            .into_iter()
            .map(|(offset_seconds, text)| api::CallNote {
                offset_seconds,
                text,
            })
            .collect(),
        subject: activity.subject,
        body: activity.body,
        logged_at_ms: activity.logged_at_ms,
    }
}

/// A handover plan with its progress.
pub fn handover(summary: Summary) -> api::Handover {
    let h = summary.handover;
    api::Handover {
        handover_id: h.handover_id,
        rep_id: h.rep_id,
        team_id: h.team_id,
        state: h.state,
        successor_rep_id: h.successor_rep_id,
        created_by: h.created_by,
        created_at_ms: h.created_at_ms,
        applied_at_ms: h.applied_at_ms,
        items: summary.items as i32,
        undecided_items: summary.undecided as i32,
        tasks_total: summary.tasks_total as i32,
        tasks_done: summary.tasks_done as i32,
    }
}

/// The stored name of a handover action ("" for unspecified).
pub fn action_name(action: i32) -> &'static str {
    match api::HandoverAction::try_from(action) {
        Ok(api::HandoverAction::Reassign) => REASSIGN,
        Ok(api::HandoverAction::ReturnToWheel) => RETURN,
        Ok(api::HandoverAction::ManagerDecides) => MANAGER_DECIDES,
        _ => "",
    }
}

/// A plan item.
pub fn item(item: Item) -> api::HandoverItem {
    let action = match item.action.as_str() {
        REASSIGN => api::HandoverAction::Reassign,
        RETURN => api::HandoverAction::ReturnToWheel,
        MANAGER_DECIDES => api::HandoverAction::ManagerDecides,
        _ => api::HandoverAction::Unspecified,
    };
    api::HandoverItem {
        kind: item.kind,
        item_id: item.item_id,
        account_id: item.account_id,
        stage: item.stage,
        owner_locked: item.owner_locked,
        action: action as i32,
        to_rep_id: item.to_rep_id,
        amount_minor: item.amount_minor,
        currency: item.currency,
    }
}

/// A task.
pub fn task(task: Task) -> api::Task {
    api::Task {
        task_id: task.task_id,
        handover_id: task.handover_id,
        owner_rep_id: task.owner_rep_id,
        team_id: task.team_id,
        kind: task.kind,
        account_id: task.account_id,
        lead_id: task.lead_id,
        due_date: task.due_date,
        done: task.done_at_ms > 0,
        done_at_ms: task.done_at_ms,
    }
}

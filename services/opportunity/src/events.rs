//! Every `opps.*` event the service publishes, built here and only here
//! from the store's types, so each carries the same complete picture; the
//! operations decide and write, then hand this module what changed. Drafts
//! take their subject from the payload's contract
//! (`leadwheel_plumbing::contracts`), never from a string.

use leadwheel_plumbing::EventDraft;
use leadwheel_plumbing::contracts::Contract;
use leadwheel_proto::events::v1::{
    AccountChanged, ActivityLogged, FollowUpSet, HandoverApplied, HandoverCompleted,
    HandoverStarted, HandoverTaskCompleted, HandoverTaskCreated, LeadConverted, LeadDisqualified,
    LeadOpened, LeadOwnerChanged, LeadReturned, OpportunityAmountChanged, OpportunityClosed,
    OpportunityOpened, OpportunityOwnerChanged, OpportunityStageChanged, OpportunityState,
    PipelineStageChanged,
};

use crate::ops::Pipeline;
use crate::rules;
use crate::store::LeadInWork;
use crate::store::activities::Activity;
use crate::store::deals::{Account, Opportunity};
use crate::store::handover::{Handover, Task};
use crate::store::stages::Stage;

/// Who made a change, why and when: what most events carry besides what
/// changed.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    /// The caller's subject.
    pub by: &'a str,
    /// Their reason (empty when the change takes none).
    pub reason: &'a str,
    /// When.
    pub at_ms: i64,
}

/// The whole opportunity as events carry it.
pub fn opportunity_state(opp: &Opportunity, pipeline: &Pipeline) -> OpportunityState {
    let probability = pipeline.probability(opp);
    OpportunityState {
        opportunity_id: opp.opportunity_id.clone(),
        account_id: opp.account_id.clone(),
        lead_id: opp.lead_id.clone(),
        name: opp.name.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        team_id: opp.team_id.clone(),
        stage: opp.stage.clone(),
        status: opp.status.clone(),
        amount_minor: opp.amount_minor,
        currency: opp.currency.clone(),
        probability_percent: probability,
        probability_overridden: opp.probability_override >= 0,
        weighted_minor: rules::weighted(opp.amount_minor, probability),
        expected_close_date: opp.expected_close.clone(),
        stage_entered_at_ms: opp.stage_entered_at_ms,
        created_at_ms: opp.created_at_ms,
        version: opp.version,
        forecast_category: pipeline.forecast_category(opp),
    }
}

/// `opps.account.*` (contract `C`: created, updated or owner changed) with
/// the whole account.
pub fn account_changed<C>(account: &Account, at_ms: i64) -> EventDraft
where
    C: Contract<Payload = AccountChanged>,
{
    let payload = AccountChanged {
        account_id: account.account_id.clone(),
        name: account.name.clone(),
        domains: account.domains.clone(),
        tier: account.tier.clone(),
        owner_rep_id: account.owner_rep_id.clone(),
        team_id: account.team_id.clone(),
        status: account.status.clone(),
        version: account.version,
        at_ms,
    };
    EventDraft::contract::<C>(&account.account_id, &payload)
}

/// `opps.lead.opened`: the wheel's assignment put `lead` in work.
pub fn lead_opened(lead: &LeadInWork) -> EventDraft {
    let payload = LeadOpened {
        lead_id: lead.lead_id.clone(),
        rep_id: lead.rep_id.clone(),
        team_id: lead.team_id.clone(),
        opened_at_ms: lead.opened_at_ms,
    };
    EventDraft::of(&lead.lead_id, &payload)
}

/// `opps.lead.converted`: `lead` became `opportunity` on `account`.
pub fn lead_converted(
    lead: &LeadInWork,
    account: &Account,
    opportunity: &Opportunity,
    at_ms: i64,
) -> EventDraft {
    let payload = LeadConverted {
        lead_id: lead.lead_id.clone(),
        rep_id: lead.rep_id.clone(),
        team_id: lead.team_id.clone(),
        account_id: account.account_id.clone(),
        opportunity_id: opportunity.opportunity_id.clone(),
        at_ms,
    };
    EventDraft::of(&lead.lead_id, &payload)
}

/// `opps.lead.disqualified`, back to the pool or not.
pub fn lead_disqualified(
    lead: &LeadInWork,
    reason: String,
    back_to_pool: bool,
    at_ms: i64,
) -> EventDraft {
    let payload = LeadDisqualified {
        lead_id: lead.lead_id.clone(),
        rep_id: lead.rep_id.clone(),
        team_id: lead.team_id.clone(),
        reason,
        back_to_pool,
        at_ms,
    };
    EventDraft::of(&lead.lead_id, &payload)
}

/// `opps.lead.returned`: a handover gave `lead` (still as it was) back to
/// its team's wheel.
pub fn lead_returned(lead: &LeadInWork, stamp: Stamp<'_>) -> EventDraft {
    let payload = LeadReturned {
        lead_id: lead.lead_id.clone(),
        team_id: lead.team_id.clone(),
        from_rep_id: lead.rep_id.clone(),
        by: stamp.by.to_string(),
        reason: stamp.reason.to_string(),
        at_ms: stamp.at_ms,
    };
    EventDraft::of(&lead.lead_id, &payload)
}

/// `opps.lead.owner_changed`: `before` now belongs to `after`'s rep and team.
pub fn lead_owner_changed(before: &LeadInWork, after: &LeadInWork, stamp: Stamp<'_>) -> EventDraft {
    let payload = LeadOwnerChanged {
        lead_id: before.lead_id.clone(),
        team_id: after.team_id.clone(),
        from_rep_id: before.rep_id.clone(),
        to_rep_id: after.rep_id.clone(),
        by: stamp.by.to_string(),
        reason: stamp.reason.to_string(),
        at_ms: stamp.at_ms,
    };
    EventDraft::of(&before.lead_id, &payload)
}

/// `opps.follow_up.set` on a lead or (when `lead_id` is empty) an
/// opportunity, whose owner and team are given.
pub fn follow_up_set(
    lead_id: &str,
    opportunity_id: &str,
    (owner_rep_id, team_id): (String, String),
    date: &str,
    stamp: Stamp<'_>,
) -> EventDraft {
    let payload = FollowUpSet {
        lead_id: lead_id.to_string(),
        opportunity_id: opportunity_id.to_string(),
        owner_rep_id,
        team_id,
        date: date.to_string(),
        by: stamp.by.to_string(),
        at_ms: stamp.at_ms,
    };
    let key = if lead_id.is_empty() {
        opportunity_id
    } else {
        lead_id
    };
    EventDraft::of(key, &payload)
}

/// Where an activity was logged, as it stood after the touch.
#[derive(Clone, Debug)]
pub struct Touched {
    /// The lead's or opportunity's owner.
    pub owner_rep_id: String,
    /// Their team.
    pub team_id: String,
    /// Touches so far, this one included.
    pub touch_count: i64,
    /// "lead", or the opportunity's stage.
    pub stage: String,
}

/// `opps.activity.logged`.
pub fn activity_logged(
    activity: &Activity,
    touched: Touched,
    next_follow_up_date: &str,
) -> EventDraft {
    let payload = ActivityLogged {
        activity_id: activity.activity_id.clone(),
        kind: activity.kind.clone(),
        lead_id: activity.lead_id.clone(),
        opportunity_id: activity.opportunity_id.clone(),
        account_id: activity.account_id.clone(),
        by: activity.by.clone(),
        owner_rep_id: touched.owner_rep_id,
        team_id: touched.team_id,
        at_ms: activity.at_ms,
        duration_seconds: activity.duration_seconds,
        outcome: activity.outcome.clone(),
        touch_count: touched.touch_count,
        next_follow_up_date: next_follow_up_date.to_string(),
        stage: touched.stage,
        has_recording: !activity.recording_url.is_empty(),
    };
    let key = if activity.opportunity_id.is_empty() {
        &activity.lead_id
    } else {
        &activity.opportunity_id
    };
    EventDraft::of(key, &payload)
}

/// `opps.opportunity.opened`.
pub fn opportunity_opened(
    opportunity: &Opportunity,
    pipeline: &Pipeline,
    by: String,
    at_ms: i64,
) -> EventDraft {
    let payload = OpportunityOpened {
        opportunity: Some(opportunity_state(opportunity, pipeline)),
        by,
        at_ms,
    };
    EventDraft::of(&opportunity.opportunity_id, &payload)
}

/// `before` moved to `after`'s stage: `opps.opportunity.closed` when that
/// stage's `outcome` closes the deal (won or lost), else
/// `opps.opportunity.stage_changed`.
pub fn stage_moved(
    before: &Opportunity,
    after: &Opportunity,
    pipeline: &Pipeline,
    outcome: &str,
    stamp: Stamp<'_>,
) -> EventDraft {
    let opportunity = Some(opportunity_state(after, pipeline));
    if outcome != "open" {
        let payload = OpportunityClosed {
            opportunity,
            won: outcome == "won",
            from_stage: before.stage.clone(),
            from_stage_entered_at_ms: before.stage_entered_at_ms,
            by: stamp.by.to_string(),
            reason: stamp.reason.to_string(),
            at_ms: stamp.at_ms,
        };
        EventDraft::of(&before.opportunity_id, &payload)
    } else {
        let payload = OpportunityStageChanged {
            opportunity,
            from_stage: before.stage.clone(),
            to_stage: after.stage.clone(),
            from_stage_entered_at_ms: before.stage_entered_at_ms,
            by: stamp.by.to_string(),
            reason: stamp.reason.to_string(),
            at_ms: stamp.at_ms,
        };
        EventDraft::of(&before.opportunity_id, &payload)
    }
}

/// `opps.opportunity.amount_changed`: amount, currency, probability or
/// close date of `before` changed to `after`'s.
pub fn amount_changed(
    before: &Opportunity,
    after: &Opportunity,
    pipeline: &Pipeline,
    stamp: Stamp<'_>,
) -> EventDraft {
    let payload = OpportunityAmountChanged {
        opportunity: Some(opportunity_state(after, pipeline)),
        previous_amount_minor: before.amount_minor,
        previous_currency: before.currency.clone(),
        previous_probability_percent: pipeline.probability(before),
        previous_expected_close_date: before.expected_close.clone(),
        by: stamp.by.to_string(),
        reason: stamp.reason.to_string(),
        at_ms: stamp.at_ms,
    };
    EventDraft::of(&before.opportunity_id, &payload)
}

/// `opps.opportunity.owner_changed`: `before` now belongs to `after`'s
/// owner (`forced` past a locked stage).
pub fn opportunity_owner_changed(
    before: &Opportunity,
    after: &Opportunity,
    pipeline: &Pipeline,
    forced: bool,
    stamp: Stamp<'_>,
) -> EventDraft {
    let payload = OpportunityOwnerChanged {
        opportunity: Some(opportunity_state(after, pipeline)),
        from_rep_id: before.owner_rep_id.clone(),
        to_rep_id: after.owner_rep_id.clone(),
        from_team_id: before.team_id.clone(),
        forced,
        by: stamp.by.to_string(),
        reason: stamp.reason.to_string(),
        at_ms: stamp.at_ms,
    };
    EventDraft::of(&before.opportunity_id, &payload)
}

/// `opps.pipeline.stage_changed`: a stage of the pipeline was set.
pub fn pipeline_stage_changed(stage: &Stage, by: &str, at_ms: i64) -> EventDraft {
    let payload = PipelineStageChanged {
        stage: stage.name.clone(),
        position: stage.position as i32,
        probability_percent: stage.probability as i32,
        owner_locked: stage.owner_locked,
        stale_days: stage.stale_days as i32,
        outcome: stage.outcome.clone(),
        by: by.to_string(),
        at_ms,
    };
    EventDraft::of(&stage.name, &payload)
}

/// What a handover plan holds, counted for `opps.handover.started`.
#[derive(Clone, Copy, Debug)]
pub struct PlanCounts {
    /// Leads in work.
    pub leads: i32,
    /// Opportunities.
    pub opportunities: i32,
    /// Items left for the manager to decide.
    pub undecided: i32,
}

/// `opps.handover.started`.
pub fn handover_started(handover: &Handover, counts: PlanCounts, by: &str) -> EventDraft {
    let payload = HandoverStarted {
        handover_id: handover.handover_id.clone(),
        rep_id: handover.rep_id.clone(),
        team_id: handover.team_id.clone(),
        successor_rep_id: handover.successor_rep_id.clone(),
        leads: counts.leads,
        opportunities: counts.opportunities,
        undecided: counts.undecided,
        by: by.to_string(),
        at_ms: handover.created_at_ms,
    };
    EventDraft::of(&handover.handover_id, &payload)
}

/// What applying a handover moved, for `opps.handover.applied`.
#[derive(Clone, Copy, Debug)]
pub struct AppliedCounts {
    /// Leads moved to a new owner.
    pub leads_moved: i32,
    /// Opportunities moved.
    pub opportunities_moved: i32,
    /// Leads given back to the wheel.
    pub leads_returned: i32,
    /// Follow-up tasks created for the new owners.
    pub tasks_created: i32,
}

/// `opps.handover.applied`.
pub fn handover_applied(
    handover: &Handover,
    counts: AppliedCounts,
    by: &str,
    at_ms: i64,
) -> EventDraft {
    let payload = HandoverApplied {
        handover_id: handover.handover_id.clone(),
        rep_id: handover.rep_id.clone(),
        team_id: handover.team_id.clone(),
        by: by.to_string(),
        leads_moved: counts.leads_moved,
        opportunities_moved: counts.opportunities_moved,
        at_ms,
        leads_returned: counts.leads_returned,
        tasks_created: counts.tasks_created,
    };
    EventDraft::of(&handover.handover_id, &payload)
}

/// `opps.handover.task_created`.
pub fn handover_task_created(task: &Task, at_ms: i64) -> EventDraft {
    let payload = HandoverTaskCreated {
        task_id: task.task_id.clone(),
        handover_id: task.handover_id.clone(),
        owner_rep_id: task.owner_rep_id.clone(),
        team_id: task.team_id.clone(),
        kind: task.kind.clone(),
        account_id: task.account_id.clone(),
        lead_id: task.lead_id.clone(),
        due_date: task.due_date.clone(),
        at_ms,
    };
    EventDraft::of(&task.task_id, &payload)
}

/// `opps.handover.task_completed`.
pub fn handover_task_completed(task: &Task, by: &str, at_ms: i64) -> EventDraft {
    let payload = HandoverTaskCompleted {
        task_id: task.task_id.clone(),
        handover_id: task.handover_id.clone(),
        owner_rep_id: task.owner_rep_id.clone(),
        team_id: task.team_id.clone(),
        by: by.to_string(),
        at_ms,
    };
    EventDraft::of(&task.task_id, &payload)
}

/// `opps.handover.completed`: every task of `handover` is done.
pub fn handover_completed(handover: &Handover, tasks_done: i32, at_ms: i64) -> EventDraft {
    let payload = HandoverCompleted {
        handover_id: handover.handover_id.clone(),
        rep_id: handover.rep_id.clone(),
        team_id: handover.team_id.clone(),
        tasks_done,
        at_ms,
    };
    EventDraft::of(&handover.handover_id, &payload)
}

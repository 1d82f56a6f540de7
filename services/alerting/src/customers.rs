//! Two rules over running totals rather than one subject's timer:
//!
//! - `silent_customer`: every active account has a timer at its last touch
//!   plus its tier's threshold (`rule:silent_customer:<account>`); a touch
//!   on the account resolves the alert and re-arms from the touch; closing
//!   the account disarms and resolves. Dedupe key `<account>@<last touch>`.
//! - `rep_saturated`: each `wheel.offer.closed` is counted per rep; when
//!   passes and expiries exceed the rule's share of at least `min_count`
//!   offers closed in the window (the threshold) before the event, the
//!   manager is told, once per episode (dedupe key `<rep>@<closed_at_ms>`
//!   of the offer that crossed the line); the alert resolves when the share
//!   falls back under it (`load_eased`), and a new episode may raise again.
//! - `handover_task_overdue`: a task for a new owner is armed at the end of
//!   its due date (UTC) plus the threshold; marking the task done in
//!   opportunity (`opps.handover.task_completed`, `task_completed`), a
//!   touch on the task's account or lead (`activity_logged`) and the
//!   handover's completion (every task of it, `handover_completed`) disarm
//!   it and resolve its alert. Dedupe key `<task>`.

use leadwheel_plumbing::Tx;
use leadwheel_proto::events::v1::{AccountChanged, HandoverTaskCreated, OfferClosed, OfferOutcome};

use crate::ops::Ops;
use crate::ops::timers::{self, TimerAction};
use crate::rules::{HANDOVER_TASK_OVERDUE, REP_SATURATED, SILENT_CUSTOMER};
use crate::store::accounts::{self, Account};
use crate::store::{NewAlert, StoreError, alerts, directory, rules as rule_store};

/// Applies an announced account state.
pub async fn account_changed(ops: &Ops, tx: &mut Tx, e: &AccountChanged) -> Result<(), StoreError> {
    let announced = Account {
        account_id: e.account_id.clone(),
        owner_rep_id: e.owner_rep_id.clone(),
        team_id: e.team_id.clone(),
        tier: e.tier.clone(),
        status: e.status.clone(),
        version: e.version,
        // A new account counts as touched when it was created.
        last_touch_ms: e.at_ms,
    };
    match accounts::upsert(tx, &announced).await? {
        Some(account) => arm_silence(ops, tx, &account, "account_closed").await,
        None => Ok(()),
    }
}

/// A touch (any activity) on `account_id` at `at_ms`.
pub async fn account_touched(
    ops: &Ops,
    tx: &mut Tx,
    account_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let Some(account) = accounts::touch(tx, account_id, at_ms).await? else {
        return Ok(());
    };
    let keep = format!("{}@{}", account.account_id, account.last_touch_ms);
    ops.resolve_subject(
        tx,
        SILENT_CUSTOMER,
        account_id,
        Some(&keep),
        "activity_logged",
    )
    .await?;
    arm_silence(ops, tx, &account, "account_closed").await
}

async fn arm_silence(
    ops: &Ops,
    tx: &mut Tx,
    account: &Account,
    why_closed: &str,
) -> Result<(), StoreError> {
    let key = timers::rule_key(SILENT_CUSTOMER, &account.account_id);
    let rule = rule_store::get(tx, &account.team_id, SILENT_CUSTOMER).await?;
    if account.status != "active" || !rule.enabled {
        timers::disarm(tx, &key).await?;
        if account.status != "active" {
            ops.resolve_subject(tx, SILENT_CUSTOMER, &account.account_id, None, why_closed)
                .await?;
        }
        return Ok(());
    }
    let action = TimerAction::Raise {
        rule: SILENT_CUSTOMER.into(),
        team_id: account.team_id.clone(),
        rep_id: account.owner_rep_id.clone(),
        subject_key: account.account_id.clone(),
        dedupe_key: format!("{}@{}", account.account_id, account.last_touch_ms),
        detail: account.tier.clone(),
        since_ms: account.last_touch_ms,
    };
    let due = account.last_touch_ms + rule.threshold_for_stage(&account.tier);
    timers::arm(tx, &key, due, &action, ops.now_ms()).await
}

/// Counts an ended offer and raises or resolves the rep's saturation.
pub async fn offer_closed(ops: &Ops, tx: &mut Tx, e: &OfferClosed) -> Result<(), StoreError> {
    let missed = match e.outcome() {
        OfferOutcome::Passed | OfferOutcome::Expired => true,
        OfferOutcome::Claimed => false,
        // Withdrawn offers say nothing about the rep.
        OfferOutcome::Withdrawn | OfferOutcome::Unspecified => return Ok(()),
    };
    if !accounts::record_offer(
        tx,
        &e.offer_id,
        &e.rep_id,
        &e.team_id,
        missed,
        e.closed_at_ms,
    )
    .await?
    {
        return Ok(());
    }
    let rule = rule_store::get(tx, &e.team_id, REP_SATURATED).await?;
    if !rule.enabled {
        return Ok(());
    }
    let since = e.closed_at_ms - rule.threshold_ms;
    let (total, missed) = accounts::offers_in_window(tx, &e.rep_id, since, e.closed_at_ms).await?;
    let saturated = total >= rule.min_count && missed * 100 > rule.share_percent * total;
    let open = alerts::unresolved_for_subject(tx, REP_SATURATED, &e.rep_id).await?;
    if !saturated {
        if !open.is_empty() {
            ops.resolve_subject(tx, REP_SATURATED, &e.rep_id, None, "load_eased")
                .await?;
        }
        return Ok(());
    }
    if !open.is_empty() {
        return Ok(());
    }
    let manager_id = directory::manager_of(tx, &e.team_id).await?;
    let window = crate::ops::timers::human_duration(rule.threshold_ms);
    ops.raise(
        tx,
        NewAlert {
            kind: REP_SATURATED.into(),
            dedupe_key: format!("{}@{}", e.rep_id, e.closed_at_ms),
            team_id: e.team_id.clone(),
            rep_id: e.rep_id.clone(),
            recipients: rule.recipients.resolve(&e.rep_id, &manager_id),
            manager_id,
            subject_key: e.rep_id.clone(),
            message: format!(
                "{} passed or let expire {missed} of their last {total} offers (in {window}), over {}%. Check their workload.",
                e.rep_id, rule.share_percent
            ),
            escalate_after_ms: rule.escalate_after_ms,
            second_escalation_to: rule.second_escalation_to.clone(),
            second_escalate_after_ms: rule.second_escalate_after_ms,
        },
    )
    .await?;
    Ok(())
}

/// A handover task for a new owner: armed for its due date.
pub async fn task_created(
    ops: &Ops,
    tx: &mut Tx,
    e: &HandoverTaskCreated,
) -> Result<bool, StoreError> {
    let Some(due) = crate::watch::end_of_date_ms(&e.due_date, &ops.zone) else {
        return Ok(false);
    };
    accounts::add_task(tx, &e.task_id, &e.handover_id, &e.account_id, &e.lead_id).await?;
    let rule = rule_store::get(tx, &e.team_id, HANDOVER_TASK_OVERDUE).await?;
    let key = timers::rule_key(HANDOVER_TASK_OVERDUE, &e.task_id);
    if !rule.enabled {
        return Ok(true);
    }
    let about = if e.account_id.is_empty() {
        &e.lead_id
    } else {
        &e.account_id
    };
    let action = TimerAction::Raise {
        rule: HANDOVER_TASK_OVERDUE.into(),
        team_id: e.team_id.clone(),
        rep_id: e.owner_rep_id.clone(),
        subject_key: e.task_id.clone(),
        dedupe_key: e.task_id.clone(),
        detail: format!("{} {about}, due {}", e.kind, e.due_date),
        since_ms: due,
    };
    timers::arm(tx, &key, due + rule.threshold_ms, &action, ops.now_ms()).await?;
    Ok(true)
}

/// Task `task_id` was marked done in opportunity.
pub async fn task_completed(ops: &Ops, tx: &mut Tx, task_id: &str) -> Result<(), StoreError> {
    accounts::take_task(tx, task_id).await?;
    task_done(ops, tx, task_id, "task_completed").await
}

async fn task_done(ops: &Ops, tx: &mut Tx, task_id: &str, reason: &str) -> Result<(), StoreError> {
    timers::disarm(tx, &timers::rule_key(HANDOVER_TASK_OVERDUE, task_id)).await?;
    ops.resolve_subject(tx, HANDOVER_TASK_OVERDUE, task_id, None, reason)
        .await?;
    Ok(())
}

/// Tasks done: those of a completed handover, or about a touched customer.
pub async fn tasks_done(
    ops: &Ops,
    tx: &mut Tx,
    handover_id: &str,
    account_id: &str,
    lead_id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    for task_id in accounts::take_tasks(tx, handover_id, account_id, lead_id).await? {
        task_done(ops, tx, &task_id, reason).await?;
    }
    Ok(())
}

//! Arms and disarms the timed rules from opportunity's events, and resolves
//! their alerts when the condition clears:
//!
//! - `no_first_touch`: armed by `opps.lead.opened` (the claim, as
//!   opportunity took it in work; read from the same stream as the
//!   activities, so a touch is never seen before its claim), disarmed and
//!   resolved by an activity on the lead or the lead leaving work
//!   (converted, disqualified, returned); re-armed for the new owner when
//!   the lead changes hands untouched.
//! - `stuck_in_stage`: armed by every `opps.opportunity.*` event of an open
//!   opportunity for its current stage (the stage's threshold after it
//!   entered it); a stage change resolves the previous stage's alert and
//!   arms the new stage; closing disarms and resolves.
//! - `follow_up_overdue`: armed by a follow-up date (`opps.follow_up.set`,
//!   or an activity setting the next date) to fire at the end of that date
//!   (UTC) plus the rule's grace; an activity on the subject resolves it,
//!   clearing the date or closing the subject disarms and resolves.
//! - `silent_customer`, `handover_task_overdue`: see [`crate::customers`].
//!
//! Events are decoded by contract in [`OppsEvent`], whose subjects are the
//! consumer's filter. One that is not what its contract says, or lacks a
//! field it needs, is refused as permanent (terminated and logged); a
//! subject outside the filter is refused the same way.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::contracts::{AccountCreated, AccountOwnerChanged, AccountUpdated};
use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};
use leadwheel_proto::events::v1::{
    ActivityLogged, FollowUpSet, HandoverCompleted, HandoverTaskCompleted, HandoverTaskCreated,
    LeadConverted, LeadDisqualified, LeadOpened, LeadOwnerChanged, LeadReturned,
    OpportunityAmountChanged, OpportunityClosed, OpportunityOpened, OpportunityOwnerChanged,
    OpportunityStageChanged, OpportunityState, PipelineStageChanged,
};

use crate::ops::Ops;
use crate::ops::timers::{self, TimerAction};
use crate::rules::{FOLLOW_UP_OVERDUE, NO_FIRST_TOUCH, STUCK_IN_STAGE};
use crate::store::{StoreError, directory, rules as rule_store, timers as timer_store};

leadwheel_plumbing::consumed_events! {
    /// An event this handler reads from opportunity's stream, by contract.
    pub enum OppsEvent {
        /// `opps.handover.task_created`.
        HandoverTaskCreated(HandoverTaskCreated),
        /// `opps.handover.task_completed`.
        HandoverTaskCompleted(HandoverTaskCompleted),
        /// `opps.handover.completed`.
        HandoverCompleted(HandoverCompleted),
        /// `opps.account.created`.
        AccountCreated(AccountCreated),
        /// `opps.account.updated`.
        AccountUpdated(AccountUpdated),
        /// `opps.account.owner_changed`.
        AccountOwnerChanged(AccountOwnerChanged),
        /// `opps.lead.opened`.
        LeadOpened(LeadOpened),
        /// `opps.lead.converted`.
        LeadConverted(LeadConverted),
        /// `opps.lead.disqualified`.
        LeadDisqualified(LeadDisqualified),
        /// `opps.lead.owner_changed`.
        LeadOwnerChanged(LeadOwnerChanged),
        /// `opps.lead.returned`.
        LeadReturned(LeadReturned),
        /// `opps.opportunity.opened`.
        OpportunityOpened(OpportunityOpened),
        /// `opps.opportunity.stage_changed`.
        OpportunityStageChanged(OpportunityStageChanged),
        /// `opps.opportunity.amount_changed`.
        OpportunityAmountChanged(OpportunityAmountChanged),
        /// `opps.opportunity.owner_changed`.
        OpportunityOwnerChanged(OpportunityOwnerChanged),
        /// `opps.opportunity.closed`.
        OpportunityClosed(OpportunityClosed),
        /// `opps.activity.logged`.
        ActivityLogged(ActivityLogged),
        /// `opps.follow_up.set`.
        FollowUpSet(FollowUpSet),
        /// `opps.pipeline.stage_changed`.
        PipelineStageChanged(PipelineStageChanged),
    }
}

/// The subjects this handler reads from opportunity's stream.
pub const SUBJECTS: &[&str] = OppsEvent::SUBJECTS;

/// Applies opportunity's events to the timed rules.
#[derive(Clone, Debug)]
pub struct OppsHandler {
    ops: Ops,
}

impl OppsHandler {
    /// A handler working through `ops`.
    pub fn new(ops: Ops) -> Self {
        Self { ops }
    }
}

fn transient(err: StoreError) -> HandlerError {
    HandlerError::Transient(err.into())
}

fn required(value: &str, what: &str, subject: &str) -> Result<(), HandlerError> {
    if value.is_empty() {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "{subject} without a {what}"
        )));
    }
    Ok(())
}

/// Epoch ms at the end of `date` ("YYYY-MM-DD") in `zone` (the business
/// time zone): the first instant of the next day there. None when
/// malformed.
pub fn end_of_date_ms(date: &str, zone: &TimeZone) -> Option<i64> {
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let day = Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()?;
    let next = day.tomorrow().ok()?;
    next.to_zoned(zone.clone())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

impl OppsHandler {
    async fn arm_rule(
        &self,
        tx: &mut Tx,
        rule: &str,
        team_id: &str,
        due_base_ms: i64,
        action: TimerAction,
        subject: &str,
    ) -> Result<(), StoreError> {
        let config = rule_store::get(tx, team_id, rule).await?;
        let key = timers::rule_key(rule, subject);
        if !config.enabled {
            timers::disarm(tx, &key).await?;
            return Ok(());
        }
        let threshold = match &action {
            TimerAction::Raise { detail, .. } if rule == STUCK_IN_STAGE => {
                config.threshold_for_stage(detail)
            }
            _ => config.threshold_ms,
        };
        timers::arm(
            tx,
            &key,
            due_base_ms + threshold,
            &action,
            self.ops.now_ms(),
        )
        .await
    }

    /// The lead or opportunity left the rule's condition for good.
    async fn clear(
        &self,
        tx: &mut Tx,
        rule: &str,
        subject: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        timers::disarm(tx, &timers::rule_key(rule, subject)).await?;
        self.ops
            .resolve_subject(tx, rule, subject, None, reason)
            .await?;
        Ok(())
    }

    /// Several (rule, subject) left their condition for good: their timers
    /// disarmed in one statement, their alerts looked up in one.
    async fn clear_all(
        &self,
        tx: &mut Tx,
        cleared: &[(&str, &str)],
        reason: &str,
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = cleared
            .iter()
            .map(|(rule, subject)| timers::rule_key(rule, subject))
            .collect();
        timer_store::disarm_all(tx, &keys).await?;
        self.ops.resolve_subjects(tx, cleared, reason).await?;
        Ok(())
    }

    async fn lead_opened(&self, tx: &mut Tx, e: LeadOpened) -> Result<(), HandlerError> {
        required(&e.lead_id, "lead_id", subjects::OPPS_LEAD_OPENED)?;
        self.arm_first_touch(tx, &e.lead_id, &e.rep_id, &e.team_id, e.opened_at_ms)
            .await
            .map_err(transient)
    }

    async fn arm_first_touch(
        &self,
        tx: &mut Tx,
        lead_id: &str,
        rep_id: &str,
        team_id: &str,
        since_ms: i64,
    ) -> Result<(), StoreError> {
        let action = TimerAction::Raise {
            rule: NO_FIRST_TOUCH.into(),
            team_id: team_id.into(),
            rep_id: rep_id.into(),
            subject_key: lead_id.into(),
            dedupe_key: format!("{lead_id}@{since_ms}"),
            detail: String::new(),
            since_ms,
        };
        self.arm_rule(tx, NO_FIRST_TOUCH, team_id, since_ms, action, lead_id)
            .await
    }

    async fn lead_left_work(
        &self,
        tx: &mut Tx,
        lead_id: &str,
        reason: &str,
    ) -> Result<(), HandlerError> {
        required(lead_id, "lead_id", "opps.lead event")?;
        self.clear_all(
            tx,
            &[(NO_FIRST_TOUCH, lead_id), (FOLLOW_UP_OVERDUE, lead_id)],
            reason,
        )
        .await
        .map_err(transient)
    }

    async fn lead_owner_changed(
        &self,
        tx: &mut Tx,
        e: LeadOwnerChanged,
    ) -> Result<(), HandlerError> {
        required(&e.lead_id, "lead_id", subjects::OPPS_LEAD_OWNER_CHANGED)?;
        let key = timers::rule_key(NO_FIRST_TOUCH, &e.lead_id);
        let untouched = timer_store::get(tx, &key)
            .await
            .map_err(transient)?
            .is_some()
            || !crate::store::alerts::unresolved_for_subject(tx, NO_FIRST_TOUCH, &e.lead_id)
                .await
                .map_err(transient)?
                .is_empty();
        self.clear(tx, NO_FIRST_TOUCH, &e.lead_id, "owner_changed")
            .await
            .map_err(transient)?;
        if untouched {
            // The new owner gets their own N hours from the change.
            self.arm_first_touch(tx, &e.lead_id, &e.to_rep_id, &e.team_id, e.at_ms)
                .await
                .map_err(transient)?;
        }
        Ok(())
    }

    async fn opportunity(
        &self,
        tx: &mut Tx,
        opp: Option<OpportunityState>,
        subject: &str,
    ) -> Result<(), HandlerError> {
        let Some(opp) = opp else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "{subject} without its opportunity"
            )));
        };
        required(&opp.opportunity_id, "opportunity_id", subject)?;
        if opp.status != "open" {
            self.clear(
                tx,
                STUCK_IN_STAGE,
                &opp.opportunity_id,
                "opportunity_closed",
            )
            .await
            .map_err(transient)?;
            return self
                .clear(
                    tx,
                    FOLLOW_UP_OVERDUE,
                    &opp.opportunity_id,
                    "opportunity_closed",
                )
                .await
                .map_err(transient);
        }
        let dedupe_key = format!(
            "{}@{}@{}",
            opp.opportunity_id, opp.stage, opp.stage_entered_at_ms
        );
        // A stage change ends the previous stage's alert; the same stage
        // (an owner or amount change) keeps it.
        self.ops
            .resolve_subject(
                tx,
                STUCK_IN_STAGE,
                &opp.opportunity_id,
                Some(&dedupe_key),
                "stage_changed",
            )
            .await
            .map_err(transient)?;
        let action = TimerAction::Raise {
            rule: STUCK_IN_STAGE.into(),
            team_id: opp.team_id.clone(),
            rep_id: opp.owner_rep_id.clone(),
            subject_key: opp.opportunity_id.clone(),
            dedupe_key,
            detail: opp.stage.clone(),
            since_ms: opp.stage_entered_at_ms,
        };
        self.arm_rule(
            tx,
            STUCK_IN_STAGE,
            &opp.team_id,
            opp.stage_entered_at_ms,
            action,
            &opp.opportunity_id,
        )
        .await
        .map_err(transient)
    }

    async fn activity(&self, tx: &mut Tx, e: ActivityLogged) -> Result<(), HandlerError> {
        if !e.account_id.is_empty() {
            crate::customers::account_touched(&self.ops, tx, &e.account_id, e.at_ms)
                .await
                .map_err(transient)?;
        }
        crate::customers::tasks_done(
            &self.ops,
            tx,
            "",
            &e.account_id,
            &e.lead_id,
            "activity_logged",
        )
        .await
        .map_err(transient)?;
        let subject = if e.opportunity_id.is_empty() {
            &e.lead_id
        } else {
            &e.opportunity_id
        };
        // A touch ends the lead's wait for a first touch and the subject's
        // overdue follow-up: both cleared with two statements, not four.
        let mut cleared = Vec::with_capacity(2);
        if !e.lead_id.is_empty() {
            cleared.push((NO_FIRST_TOUCH, e.lead_id.as_str()));
        }
        if !subject.is_empty() {
            cleared.push((FOLLOW_UP_OVERDUE, subject.as_str()));
        }
        self.clear_all(tx, &cleared, "activity_logged")
            .await
            .map_err(transient)?;
        if subject.is_empty() {
            return Ok(());
        }
        if !e.next_follow_up_date.is_empty() {
            self.arm_follow_up(
                tx,
                subject,
                &e.owner_rep_id,
                &e.team_id,
                &e.next_follow_up_date,
            )
            .await?;
        }
        Ok(())
    }

    async fn follow_up_set(&self, tx: &mut Tx, e: FollowUpSet) -> Result<(), HandlerError> {
        let subject = if e.opportunity_id.is_empty() {
            &e.lead_id
        } else {
            &e.opportunity_id
        };
        required(
            subject,
            "lead_id or opportunity_id",
            subjects::OPPS_FOLLOW_UP_SET,
        )?;
        if e.date.is_empty() {
            return self
                .clear(tx, FOLLOW_UP_OVERDUE, subject, "follow_up_cleared")
                .await
                .map_err(transient);
        }
        let keep = format!("{subject}@{}", e.date);
        self.ops
            .resolve_subject(
                tx,
                FOLLOW_UP_OVERDUE,
                subject,
                Some(&keep),
                "follow_up_moved",
            )
            .await
            .map_err(transient)?;
        self.arm_follow_up(tx, subject, &e.owner_rep_id, &e.team_id, &e.date)
            .await
    }

    async fn arm_follow_up(
        &self,
        tx: &mut Tx,
        subject: &str,
        rep_id: &str,
        team_id: &str,
        date: &str,
    ) -> Result<(), HandlerError> {
        let Some(due) = end_of_date_ms(date, &self.ops.zone) else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "follow-up date {date:?} is not YYYY-MM-DD"
            )));
        };
        let action = TimerAction::Raise {
            rule: FOLLOW_UP_OVERDUE.into(),
            team_id: team_id.into(),
            rep_id: rep_id.into(),
            subject_key: subject.into(),
            dedupe_key: format!("{subject}@{date}"),
            detail: date.into(),
            since_ms: due,
        };
        self.arm_rule(tx, FOLLOW_UP_OVERDUE, team_id, due, action, subject)
            .await
            .map_err(transient)
    }
}

impl EventHandler for OppsHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let Some(read) = OppsEvent::decode(event)? else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "unexpected subject {}",
                event.subject
            )));
        };
        let subject = read.subject();
        match read {
            OppsEvent::LeadOpened(e) => self.lead_opened(tx, e).await,
            OppsEvent::LeadConverted(e) => {
                self.lead_left_work(tx, &e.lead_id, "lead_converted").await
            }
            OppsEvent::LeadDisqualified(e) => {
                self.lead_left_work(tx, &e.lead_id, "lead_disqualified")
                    .await
            }
            OppsEvent::LeadReturned(e) => {
                self.lead_left_work(tx, &e.lead_id, "lead_returned").await
            }
            OppsEvent::LeadOwnerChanged(e) => self.lead_owner_changed(tx, e).await,
            OppsEvent::OpportunityOpened(e) => self.opportunity(tx, e.opportunity, subject).await,
            OppsEvent::OpportunityStageChanged(e) => {
                self.opportunity(tx, e.opportunity, subject).await
            }
            OppsEvent::OpportunityAmountChanged(e) => {
                self.opportunity(tx, e.opportunity, subject).await
            }
            OppsEvent::OpportunityOwnerChanged(e) => {
                self.opportunity(tx, e.opportunity, subject).await
            }
            OppsEvent::OpportunityClosed(e) => self.opportunity(tx, e.opportunity, subject).await,
            OppsEvent::ActivityLogged(e) => self.activity(tx, e).await,
            OppsEvent::HandoverTaskCreated(e) => {
                required(&e.task_id, "task_id", subject)?;
                if !crate::customers::task_created(&self.ops, tx, &e)
                    .await
                    .map_err(transient)?
                {
                    return Err(HandlerError::Permanent(anyhow::anyhow!(
                        "handover task {} due {:?} is not YYYY-MM-DD",
                        e.task_id,
                        e.due_date
                    )));
                }
                Ok(())
            }
            OppsEvent::HandoverTaskCompleted(e) => {
                required(&e.task_id, "task_id", subject)?;
                crate::customers::task_completed(&self.ops, tx, &e.task_id)
                    .await
                    .map_err(transient)
            }
            OppsEvent::HandoverCompleted(e) => {
                required(&e.handover_id, "handover_id", subject)?;
                crate::customers::tasks_done(
                    &self.ops,
                    tx,
                    &e.handover_id,
                    "",
                    "",
                    "handover_completed",
                )
                .await
                .map_err(transient)
            }
            OppsEvent::AccountCreated(e)
            | OppsEvent::AccountUpdated(e)
            | OppsEvent::AccountOwnerChanged(e) => {
                required(&e.account_id, "account_id", subject)?;
                crate::customers::account_changed(&self.ops, tx, &e)
                    .await
                    .map_err(transient)
            }
            OppsEvent::FollowUpSet(e) => self.follow_up_set(tx, e).await,
            OppsEvent::PipelineStageChanged(e) => {
                required(&e.stage, "stage", subject)?;
                directory::upsert_stage(tx, &e.stage, &e.outcome, e.at_ms)
                    .await
                    .map_err(transient)
            }
        }
    }

    fn after_commit(&self, _event: &Event) {
        self.ops.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_ends_at_the_next_utc_midnight() {
        let utc = &TimeZone::UTC;
        assert_eq!(end_of_date_ms("1970-01-01", utc), Some(86_400_000));
        // 2026-03-01T00:00:00Z = 1772323200 s.
        assert_eq!(end_of_date_ms("2026-02-28", utc), Some(1_772_323_200_000));
        assert_eq!(end_of_date_ms("2026-13-01", utc), None);
        assert_eq!(end_of_date_ms("2026-02-30", utc), None);
        assert_eq!(end_of_date_ms("2026-02-28-01", utc), None);
        assert_eq!(end_of_date_ms("soon", utc), None);
        // The end of 28 February in Shanghai (UTC+8) is 8 hours earlier.
        let shanghai = &TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(
            end_of_date_ms("2026-02-28", shanghai),
            Some(1_772_323_200_000 - 8 * 3_600_000)
        );
    }
}

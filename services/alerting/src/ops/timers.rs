//! Durable timers: what each one does when it fires, and firing it.
//!
//! Keys: `rule:<rule>:<subject>` (one per rule and subject: arming again
//! replaces it; `rule:forecast_below_quota:<team>` for forecast checks),
//! `escalate:<alert_id>`, `snooze:<alert_id>`.

use serde::{Deserialize, Serialize};

use super::forecast::ForecastCheck;
use super::{Batch, Ops};
use crate::rules;
use crate::store::directory;
use crate::store::timers::{self, Timer};
use crate::store::{NewAlert, StoreError};
use leadwheel_plumbing::Tx;

/// What a timer does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimerAction {
    /// A rule's condition held long enough: raise its alert.
    Raise {
        /// The rule.
        rule: String,
        /// The subject's team.
        team_id: String,
        /// The subject's owner.
        rep_id: String,
        /// The lead or opportunity.
        subject_key: String,
        /// The alert's dedupe key (subject and occurrence).
        dedupe_key: String,
        /// What the message names: the stage, the follow-up date.
        detail: String,
        /// When the condition started (claim, stage entry, date end).
        since_ms: i64,
    },
    /// Escalate an alert nobody acknowledged.
    Escalate {
        /// The alert.
        alert_id: String,
    },
    /// A snooze ends.
    EndSnooze {
        /// The alert.
        alert_id: String,
    },
    /// A team's forecast is checked against its quota (rule 7); leased by
    /// [`Ops::fire_timer`] and run by [`Ops::run_forecast_check`], which
    /// calls reporting outside the transaction.
    ForecastCheck {
        /// The team.
        team_id: String,
        /// "month", "quarter" or "year".
        period: String,
        /// The checked period's first day, "YYYY-MM-DD".
        period_from: String,
        /// Failed attempts to reach reporting so far.
        attempt: u32,
    },
}

/// The key of `rule`'s timer for `subject`.
pub fn rule_key(rule: &str, subject: &str) -> String {
    format!("rule:{rule}:{subject}")
}

/// The key of an alert's escalation timer.
pub fn escalation_key(alert_id: &str) -> String {
    format!("escalate:{alert_id}")
}

/// The key of an alert's snooze timer.
pub fn snooze_key(alert_id: &str) -> String {
    format!("snooze:{alert_id}")
}

/// Arms `key` with `action` at `due_at_ms`.
pub async fn arm(
    tx: &mut Tx,
    key: &str,
    due_at_ms: i64,
    action: &TimerAction,
    now_ms: i64,
) -> Result<(), StoreError> {
    let payload = serde_json::to_string(action).expect("a timer action serializes");
    timers::arm(tx, key, due_at_ms, &payload, now_ms).await
}

/// Disarms `key`; true when it was armed.
pub async fn disarm(tx: &mut Tx, key: &str) -> Result<bool, StoreError> {
    timers::disarm(tx, key).await
}

/// What firing a timer came to.
#[derive(Debug)]
pub enum Fired {
    /// Fired here, its effects committed.
    Done,
    /// Another replica took it first.
    Elsewhere,
    /// A forecast check, leased to this caller: run it with
    /// [`Ops::run_forecast_check`] (it waits on reporting).
    Check(ForecastCheck),
}

impl Ops {
    /// Fires `timer` in its own transaction, or leases it when it is a
    /// forecast check (the caller runs those, so reporting's answer is
    /// awaited outside the timer loop).
    pub async fn fire_timer(&self, timer: &Timer) -> Result<Fired, StoreError> {
        if let Some(check) = forecast_check(timer) {
            return Ok(match self.lease_forecast_check(timer).await? {
                Some(leased) => Fired::Check(ForecastCheck {
                    timer: leased,
                    ..check
                }),
                None => Fired::Elsewhere,
            });
        }
        let mut tx = self.store.begin().await?;
        let mut batch = Batch::default();
        let took = self.fire(&mut tx, timer, &mut batch).await?;
        self.flush(&mut tx, &mut batch).await?;
        tx.commit().await?;
        Ok(if took { Fired::Done } else { Fired::Elsewhere })
    }

    /// Fires every one of `timers` this caller takes in one transaction,
    /// their outbox events written together before the commit; how many it
    /// took (the others were taken or re-armed elsewhere meanwhile). All or
    /// nothing: on an error none fired. Forecast checks are not fired here
    /// (see [`Ops::fire_timer`]); one among `timers` is put back, due now.
    pub async fn fire_batch(&self, timers: &[Timer]) -> Result<usize, StoreError> {
        let mut tx = self.store.begin().await?;
        let mut batch = Batch::default();
        let mut took = 0;
        for timer in timers {
            if self.fire(&mut tx, timer, &mut batch).await? {
                took += 1;
            }
        }
        self.flush(&mut tx, &mut batch).await?;
        tx.commit().await?;
        Ok(took)
    }

    /// Moves `timer` `by_ms` ahead of now if it is still armed as read (a
    /// timer that failed is tried again later, not at once); true when
    /// this caller moved it.
    pub async fn defer_timer(&self, timer: &Timer, by_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.store.begin().await?;
        let moved = timers::move_due(&mut tx, timer, self.now_ms() + by_ms).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Fires `timer` in `tx` if this caller takes it (another replica may
    /// have); false when it was no longer armed as read. Its lookups go
    /// through `batch`, and its events wait there for [`Ops::flush`].
    pub async fn fire(
        &self,
        tx: &mut Tx,
        timer: &Timer,
        batch: &mut Batch,
    ) -> Result<bool, StoreError> {
        if !timers::take(tx, timer).await? {
            return Ok(false);
        }
        let action: TimerAction = match serde_json::from_str(&timer.payload) {
            Ok(action) => action,
            Err(err) => {
                // Written by this service only; a row it cannot read is
                // dropped rather than retried for ever.
                tracing::error!(timer_key = %timer.timer_key, error = %err, "unreadable timer dropped");
                return Ok(true);
            }
        };
        match action {
            TimerAction::Raise {
                rule,
                team_id,
                rep_id,
                subject_key,
                dedupe_key,
                detail,
                since_ms,
            } => {
                if !rules::RULES.contains(&rule.as_str()) {
                    tracing::error!(timer_key = %timer.timer_key, rule, "timer of an unknown rule dropped");
                    return Ok(true);
                }
                let config = batch.rule(tx, &team_id, &rule).await?;
                if !config.enabled {
                    tracing::info!(
                        rule,
                        team_id,
                        subject_key,
                        "rule disabled since armed; no alert"
                    );
                    return Ok(true);
                }
                let manager_id = batch.manager(tx, &team_id).await?;
                let message = message(&rule, &subject_key, &detail, since_ms, self.now_ms());
                // A rep who left the team is not told; the manager is.
                let recipients =
                    directory::recipients(tx, config.recipients, &team_id, &rep_id, &manager_id)
                        .await?;
                let new = NewAlert {
                    kind: rule,
                    dedupe_key,
                    recipients,
                    team_id,
                    rep_id,
                    manager_id,
                    subject_key,
                    message,
                    escalate_after_ms: config.escalate_after_ms,
                    second_escalation_to: config.second_escalation_to.clone(),
                    second_escalate_after_ms: config.second_escalate_after_ms,
                };
                self.raise_in(tx, new, batch).await?;
            }
            TimerAction::Escalate { alert_id } => self.escalate(tx, &alert_id, batch).await?,
            TimerAction::EndSnooze { alert_id } => self.end_snooze(tx, &alert_id, batch).await?,
            TimerAction::ForecastCheck { .. } => {
                // `fire_timer` leases these for `run_forecast_check`; one
                // taken here is put back, due now, rather than lost.
                let now = self.now_ms();
                timers::arm(tx, &timer.timer_key, now, &timer.payload, now).await?;
            }
        }
        Ok(true)
    }
}

/// The forecast check `timer` runs, if it is one (its `timer` as read:
/// [`Ops::fire_timer`] leases it first).
pub fn forecast_check(timer: &Timer) -> Option<ForecastCheck> {
    match serde_json::from_str(&timer.payload) {
        Ok(TimerAction::ForecastCheck {
            team_id,
            period,
            period_from,
            attempt,
        }) => Some(ForecastCheck {
            timer: timer.clone(),
            team_id,
            period,
            period_from,
            attempt,
        }),
        _ => None,
    }
}

/// What a person reads about a timed rule's alert.
fn message(rule: &str, subject: &str, detail: &str, since_ms: i64, now_ms: i64) -> String {
    let held = human_duration(now_ms - since_ms);
    match rule {
        rules::NO_FIRST_TOUCH => format!(
            "Lead {subject} was claimed {held} ago and nobody has touched it yet. Call or email the customer."
        ),
        rules::STUCK_IN_STAGE => format!(
            "Opportunity {subject} has been in stage {detail} for {held}. Move it on or close it."
        ),
        rules::FOLLOW_UP_OVERDUE => format!(
            "The follow-up of {subject} was due on {detail} and nothing was logged since. Follow up with the customer."
        ),
        rules::HANDOVER_TASK_OVERDUE => format!(
            "Handover task {subject} ({detail}) is overdue. Reach the customer you took over."
        ),
        rules::SILENT_CUSTOMER => format!(
            "Nobody has touched account {subject} (tier {detail}) for {held}. Customers expect contact after the sale too."
        ),
        other => format!("{other}: {subject}"),
    }
}

/// "3 d 4 h", "2 h 5 min", "45 s".
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1_000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(45_000), "45 s");
        assert_eq!(human_duration(125_000), "2 min");
        assert_eq!(human_duration(2 * 3_600_000 + 300_000), "2 h 5 min");
        assert_eq!(human_duration(15 * 86_400_000 + 3_600_000), "15 d 1 h");
    }

    #[test]
    fn actions_round_trip() {
        let action = TimerAction::Escalate {
            alert_id: "alert_1".into(),
        };
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(json, r#"{"type":"escalate","alert_id":"alert_1"}"#);
        assert_eq!(serde_json::from_str::<TimerAction>(&json).unwrap(), action);
    }
}

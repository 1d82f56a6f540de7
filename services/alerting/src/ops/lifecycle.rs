//! The lifecycle of one alert: raised → (snoozed ↔ open) → acknowledged →
//! resolved, escalated to the manager when nobody acknowledged it in time.
//! Each function runs in the caller's transaction and writes the matching
//! `alerts.*` event and timers with the state change.

use leadwheel_plumbing::{Tx, ids};

use super::timers::{self as timer_ops, TimerAction};
use super::{Batch, Ops};
use crate::events;
use crate::store::{Alert, NewAlert, StoreError, alerts};

impl Ops {
    /// Raises `new` unless the same (kind, dedupe key) was raised before;
    /// the stored alert when it is new.
    pub async fn raise(&self, tx: &mut Tx, new: NewAlert) -> Result<Option<Alert>, StoreError> {
        let mut batch = Batch::default();
        let alert = self.raise_in(tx, new, &mut batch).await?;
        self.flush(tx, &mut batch).await?;
        Ok(alert)
    }

    /// [`Ops::raise`] sharing `batch`'s lookups; its events wait in
    /// `batch` for [`Ops::flush`].
    pub async fn raise_in(
        &self,
        tx: &mut Tx,
        new: NewAlert,
        batch: &mut Batch,
    ) -> Result<Option<Alert>, StoreError> {
        let now = self.now_ms();
        let alert_id = ids::prefixed("alert");
        if !alerts::insert(tx, &alert_id, &new, now).await? {
            tracing::info!(kind = %new.kind, dedupe_key = %new.dedupe_key, "alert already raised; not raised again");
            return Ok(None);
        }
        // The row just written, without reading it back.
        let alert = Alert::raised(alert_id, new, now);
        batch.emit(events::raised(&alert));
        self.enqueue_deliveries(tx, &alert, "raised", &alert.recipient_ids, batch)
            .await?;
        self.arm_escalation(tx, &alert, now).await?;
        tracing::info!(alert_id = %alert.alert_id, kind = %alert.kind, recipient_id = %alert.recipient_id, subject = %alert.subject_key, "alert raised");
        Ok(Some(alert))
    }

    /// Arms `alert`'s next escalation, if its rule has one: to the manager
    /// (unless told already), then to the second level.
    async fn arm_escalation(&self, tx: &mut Tx, alert: &Alert, now: i64) -> Result<(), StoreError> {
        let manager_told =
            !alert.manager_id.is_empty() && alert.recipient_ids.contains(&alert.manager_id);
        let delay = match alert.escalation_level {
            0 if alert.escalate_after_ms > 0 && !manager_told => alert.escalate_after_ms,
            // With the manager told from the start, the second level counts
            // from the raise.
            0 | 1
                if alert.second_escalate_after_ms > 0
                    && !alert.recipient_ids.contains(&alert.second_escalation_to) =>
            {
                alert.second_escalate_after_ms
            }
            _ => return Ok(()),
        };
        timer_ops::arm(
            tx,
            &timer_ops::escalation_key(&alert.alert_id),
            now + delay,
            &TimerAction::Escalate {
                alert_id: alert.alert_id.clone(),
            },
            now,
        )
        .await
    }

    /// Resolves every unresolved `kind` alert about `subject_key` whose
    /// dedupe key is not `keep` (the occurrence still true, if any).
    pub async fn resolve_subject(
        &self,
        tx: &mut Tx,
        kind: &str,
        subject_key: &str,
        keep: Option<&str>,
        reason: &str,
    ) -> Result<usize, StoreError> {
        let mut resolved = 0;
        for (alert_id, dedupe_key) in alerts::unresolved_for_subject(tx, kind, subject_key).await? {
            if keep == Some(dedupe_key.as_str()) {
                continue;
            }
            if self.resolve(tx, &alert_id, reason).await? {
                resolved += 1;
            }
        }
        Ok(resolved)
    }

    /// Resolves every unresolved alert of each (kind, subject) of `pairs`,
    /// looked up in one statement, in `pairs`' order.
    pub async fn resolve_subjects(
        &self,
        tx: &mut Tx,
        pairs: &[(&str, &str)],
        reason: &str,
    ) -> Result<usize, StoreError> {
        let mut resolved = 0;
        for (_, alert_id) in alerts::unresolved_for_subjects(tx, pairs).await? {
            if self.resolve(tx, &alert_id, reason).await? {
                resolved += 1;
            }
        }
        Ok(resolved)
    }

    /// Resolves one alert; false when it already was.
    pub async fn resolve(
        &self,
        tx: &mut Tx,
        alert_id: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        if !alerts::resolve(tx, alert_id, reason, now).await? {
            return Ok(false);
        }
        timer_ops::disarm(tx, &timer_ops::escalation_key(alert_id)).await?;
        timer_ops::disarm(tx, &timer_ops::snooze_key(alert_id)).await?;
        let alert = alerts::get(tx, alert_id)
            .await?
            .expect("the alert just resolved");
        self.emit(tx, events::resolved(&alert, reason, now)).await?;
        tracing::info!(alert_id, kind = %alert.kind, reason, "alert resolved");
        Ok(true)
    }

    /// Acknowledges `alert_id` as `by`; the alert after, and whether this
    /// call changed it (false: it was acknowledged or resolved already).
    pub async fn acknowledge(
        &self,
        tx: &mut Tx,
        alert_id: &str,
        by: &str,
    ) -> Result<(Alert, bool), StoreError> {
        let now = self.now_ms();
        let changed = alerts::acknowledge(tx, alert_id, by, now).await?;
        if changed {
            timer_ops::disarm(tx, &timer_ops::escalation_key(alert_id)).await?;
            timer_ops::disarm(tx, &timer_ops::snooze_key(alert_id)).await?;
        }
        let alert = alerts::get(tx, alert_id)
            .await?
            .expect("an alert the caller read");
        if changed {
            self.emit(tx, events::acknowledged(&alert, by, now)).await?;
            tracing::info!(alert_id, by, "alert acknowledged");
        }
        Ok((alert, changed))
    }

    /// Snoozes `alert_id` until `until_ms`; escalation waits for the snooze
    /// to end. None when the alert is acknowledged or resolved.
    pub async fn snooze(
        &self,
        tx: &mut Tx,
        alert_id: &str,
        by: &str,
        until_ms: i64,
    ) -> Result<Option<Alert>, StoreError> {
        let now = self.now_ms();
        if !alerts::snooze(tx, alert_id, until_ms).await? {
            return Ok(None);
        }
        timer_ops::disarm(tx, &timer_ops::escalation_key(alert_id)).await?;
        timer_ops::arm(
            tx,
            &timer_ops::snooze_key(alert_id),
            until_ms,
            &TimerAction::EndSnooze {
                alert_id: alert_id.to_string(),
            },
            now,
        )
        .await?;
        let alert = alerts::get(tx, alert_id)
            .await?
            .expect("the alert just snoozed");
        self.emit(tx, events::snoozed(&alert, by, until_ms, now))
            .await?;
        tracing::info!(alert_id, by, until_ms, "alert snoozed");
        Ok(Some(alert))
    }

    /// A snooze ended: the alert is open again and its escalation restarts.
    pub(crate) async fn end_snooze(
        &self,
        tx: &mut Tx,
        alert_id: &str,
        batch: &mut Batch,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        if !alerts::end_snooze(tx, alert_id, now).await? {
            return Ok(());
        }
        let alert = alerts::get(tx, alert_id)
            .await?
            .expect("the alert just reopened");
        batch.emit(events::snoozed(&alert, "", 0, now));
        self.enqueue_deliveries(tx, &alert, "reopened", &alert.recipient_ids, batch)
            .await?;
        self.arm_escalation(tx, &alert, now).await?;
        tracing::info!(alert_id, "snooze ended; alert open again");
        Ok(())
    }

    /// Nobody acknowledged `alert_id` in time: tell the team's manager
    /// (level 1), or then the rule's second level (level 2).
    pub(crate) async fn escalate(
        &self,
        tx: &mut Tx,
        alert_id: &str,
        batch: &mut Batch,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        let Some(alert) = alerts::get(tx, alert_id).await? else {
            return Ok(());
        };
        let manager = if alert.manager_id.is_empty() {
            batch.manager(tx, &alert.team_id).await?
        } else {
            alert.manager_id.clone()
        };
        let manager_told = !manager.is_empty() && alert.recipient_ids.contains(&manager);
        let (level, target) =
            if alert.escalation_level == 0 && !manager_told && alert.escalate_after_ms > 0 {
                (1, manager)
            } else {
                (2, alert.second_escalation_to.clone())
            };
        if target.is_empty() || alert.escalation_level >= 2 {
            tracing::warn!(alert_id, team_id = %alert.team_id, level, "alert not acknowledged in time but nobody to escalate to");
            return Ok(());
        }
        // A manager told from the start skips level 1.
        if level == 2 && alert.escalation_level == 0 {
            alerts::escalate(tx, alert_id, 1, now).await?;
        }
        if !alerts::escalate(tx, alert_id, level, now).await? {
            return Ok(());
        }
        // Escalation levels come after every first recipient.
        alerts::add_recipient(tx, alert_id, &target, "escalated", 1_000 + level, now).await?;
        let manager = target;
        let waited_min = (now - alert.raised_at_ms).max(0) / 60_000;
        let message = format!(
            "Not acknowledged after {waited_min} min (to {}): {}",
            alert.recipient_id, alert.message
        );
        let alert = alerts::get(tx, alert_id)
            .await?
            .expect("the alert just escalated");
        batch.emit(events::escalated(&alert, &manager, &message, now));
        self.arm_escalation(tx, &alert, now).await?;
        tracing::info!(alert_id, to = %manager, "alert escalated");
        Ok(())
    }
}

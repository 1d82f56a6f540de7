//! The `alerts.*` events, built in one place from the stored alert; each
//! payload type is bound to its subject in `leadwheel_plumbing::contracts`.

use leadwheel_plumbing::EventDraft;
use leadwheel_proto::events::v1::{
    AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved, AlertSnoozed,
};

use crate::store::Alert;

/// `alerts.raised` for `alert`.
pub fn raised(alert: &Alert) -> EventDraft {
    let payload = AlertRaised {
        alert_id: alert.alert_id.clone(),
        kind: alert.kind.clone(),
        team_id: alert.team_id.clone(),
        recipient_id: alert.recipient_id.clone(),
        subject_key: alert.subject_key.clone(),
        message: alert.message.clone(),
        raised_at_ms: alert.raised_at_ms,
        recipient_ids: alert.recipient_ids.clone(),
        dedupe_key: alert.dedupe_key.clone(),
    };
    EventDraft::of(&alert.alert_id, &payload)
}

/// `alerts.acknowledged` by `by`.
pub fn acknowledged(alert: &Alert, by: &str, at_ms: i64) -> EventDraft {
    let payload = AlertAcknowledged {
        alert_id: alert.alert_id.clone(),
        kind: alert.kind.clone(),
        team_id: alert.team_id.clone(),
        by: by.to_string(),
        at_ms,
    };
    EventDraft::of(&alert.alert_id, &payload)
}

/// `alerts.snoozed` until `until_ms` (0: the snooze ended).
pub fn snoozed(alert: &Alert, by: &str, until_ms: i64, at_ms: i64) -> EventDraft {
    let payload = AlertSnoozed {
        alert_id: alert.alert_id.clone(),
        kind: alert.kind.clone(),
        team_id: alert.team_id.clone(),
        by: by.to_string(),
        until_ms,
        at_ms,
    };
    EventDraft::of(&alert.alert_id, &payload)
}

/// `alerts.resolved` because of `reason`.
pub fn resolved(alert: &Alert, reason: &str, at_ms: i64) -> EventDraft {
    let payload = AlertResolved {
        alert_id: alert.alert_id.clone(),
        kind: alert.kind.clone(),
        team_id: alert.team_id.clone(),
        reason: reason.to_string(),
        at_ms,
    };
    EventDraft::of(&alert.alert_id, &payload)
}

/// `alerts.escalated` to `to`.
pub fn escalated(alert: &Alert, to: &str, message: &str, at_ms: i64) -> EventDraft {
    let payload = AlertEscalated {
        alert_id: alert.alert_id.clone(),
        kind: alert.kind.clone(),
        team_id: alert.team_id.clone(),
        to: to.to_string(),
        level: i32::try_from(alert.escalation_level).unwrap_or(i32::MAX),
        message: message.to_string(),
        at_ms,
    };
    EventDraft::of(&alert.alert_id, &payload)
}

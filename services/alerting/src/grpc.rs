//! The gRPC API: the handler parses, calls an operation, converts.

use std::collections::BTreeMap;

use leadwheel_plumbing::auth::{self, Caller};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_proto::alerting::v1::alerting_service_server::AlertingService;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use leadwheel_plumbing::bus::subjects;
use leadwheel_proto::alerting::v1::{
    AcknowledgeAlertRequest, AcknowledgeAlertResponse, Alert as AlertMessage, GetAlertRequest,
    GetAlertResponse, ListAlertsRequest, ListAlertsResponse, ListRulesRequest, ListRulesResponse,
    Rule as RuleMessage, SetRuleRequest, SetRuleResponse, SnoozeAlertRequest, SnoozeAlertResponse,
};
use leadwheel_proto::alerting::v1::{
    Delivery as DeliveryMessage, ListDeliveriesRequest, ListDeliveriesResponse, SetContactRequest,
    SetContactResponse, SetTeamWebhookRequest, SetTeamWebhookResponse, WatchAlertsRequest,
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::ops::Ops;
use crate::rules::{Recipients, RuleConfig};
use crate::store::Alert;
use crate::store::deliveries::Delivery;

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 128;

/// The states an alert can be listed by.
const STATES: [&str; 4] = ["open", "acknowledged", "snoozed", "resolved"];

/// The AlertingService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    ops: Ops,
    live: async_nats::Client,
    front: CancellationToken,
}

/// The stream WatchAlerts answers with.
pub type AlertStream = Pin<Box<dyn Stream<Item = Result<AlertMessage, Status>> + Send>>;

impl Api {
    /// An API working through `ops`, watching live alerts on `live`;
    /// streams end when `front` is cancelled (shutdown).
    pub fn new(ops: Ops, live: async_nats::Client, front: CancellationToken) -> Self {
        Self { ops, live, front }
    }

    async fn deliveries(
        &self,
        caller: &Caller,
        request: ListDeliveriesRequest,
    ) -> Result<ListDeliveriesResponse, Error> {
        check_id("alert_id", &request.alert_id, false)?;
        let limit = paging::page_size(request.page_size)?;
        let query = format!(
            "deliveries;by={};alert={};state={}",
            caller.subject, request.alert_id, request.state
        );
        let cursor = Cursor::decode(&request.page_token, &query)?;
        let mut rows = self
            .ops
            .list_deliveries(
                caller,
                &request.alert_id,
                &request.state,
                &cursor,
                limit + 1,
            )
            .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            let last = rows.last().expect("a full page has a last row");
            Cursor {
                query,
                after_ms: last.created_at_ms,
                after_id: last.delivery_id.clone(),
            }
            .encode()
        } else {
            String::new()
        };
        Ok(ListDeliveriesResponse {
            deliveries: rows.into_iter().map(delivery_to_message).collect(),
            next_page_token,
        })
    }

    async fn list(
        &self,
        caller: &Caller,
        request: ListAlertsRequest,
    ) -> Result<ListAlertsResponse, Error> {
        check_id("recipient_id", &request.recipient_id, false)?;
        if !request.state.is_empty() && !STATES.contains(&request.state.as_str()) {
            return Err(Error::invalid(
                "state",
                format!(
                    "unknown state {:?} (one of {})",
                    request.state,
                    STATES.join(", ")
                ),
            ));
        }
        let limit = paging::page_size(request.page_size)?;
        // A token serves only the caller who got it, with the same filters.
        let query = format!(
            "alerts;by={};to={};state={}",
            caller.subject, request.recipient_id, request.state
        );
        let cursor = Cursor::decode(&request.page_token, &query)?;
        // One extra row tells whether another page follows.
        let mut alerts = self
            .ops
            .list_alerts(
                caller,
                Some(request.recipient_id.as_str()),
                (!request.state.is_empty()).then_some(request.state.as_str()),
                &cursor,
                limit + 1,
            )
            .await?;
        let next_page_token = if alerts.len() as i64 > limit {
            alerts.truncate(limit as usize);
            let last = alerts.last().expect("a full page has a last row");
            Cursor {
                query,
                after_ms: last.raised_at_ms,
                after_id: last.alert_id.clone(),
            }
            .encode()
        } else {
            String::new()
        };
        Ok(ListAlertsResponse {
            alerts: alerts.into_iter().map(to_message).collect(),
            next_page_token,
        })
    }

    async fn snooze(&self, caller: &Caller, request: SnoozeAlertRequest) -> Result<Alert, Error> {
        check_id("alert_id", &request.alert_id, true)?;
        let until_ms = match (request.until_ms, request.duration_seconds) {
            (0, 0) => {
                return Err(Error::invalid(
                    "until_ms",
                    "give until_ms or duration_seconds",
                ));
            }
            (until, 0) => until,
            (0, secs) if secs > 0 => self.ops.now_ms().saturating_add(secs.saturating_mul(1_000)),
            (0, secs) => {
                return Err(Error::invalid(
                    "duration_seconds",
                    format!("{secs} is not positive"),
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "duration_seconds",
                    "give until_ms or duration_seconds, not both",
                ));
            }
        };
        self.ops
            .snooze_for(caller, &request.alert_id, until_ms)
            .await
    }
}

fn check_id(field: &'static str, value: &str, required: bool) -> Result<(), Error> {
    if required && value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("is {} bytes long; the limit is {MAX_ID_LEN}", value.len()),
        ));
    }
    Ok(())
}

/// The wire form of an alert (the API's and the live subject's).
pub fn to_message(alert: Alert) -> AlertMessage {
    AlertMessage {
        alert_id: alert.alert_id,
        kind: alert.kind,
        team_id: alert.team_id,
        recipient_id: alert.recipient_id,
        subject_key: alert.subject_key,
        message: alert.message,
        raised_at_ms: alert.raised_at_ms,
        state: alert.state,
        recipient_ids: alert.recipient_ids,
        dedupe_key: alert.dedupe_key,
        acknowledged_by: alert.acknowledged_by,
        acknowledged_at_ms: alert.acknowledged_at_ms,
        snoozed_until_ms: alert.snoozed_until_ms,
        resolved_at_ms: alert.resolved_at_ms,
        resolved_reason: alert.resolved_reason,
        escalation_level: i32::try_from(alert.escalation_level).unwrap_or(i32::MAX),
        escalated_at_ms: alert.escalated_at_ms,
    }
}

fn delivery_to_message(d: Delivery) -> DeliveryMessage {
    DeliveryMessage {
        delivery_id: d.delivery_id,
        alert_id: d.alert_id,
        channel: d.channel,
        recipient_id: d.recipient_id,
        target: d.target,
        reason: d.reason,
        state: d.state,
        attempts: d.attempts,
        next_attempt_at_ms: d.next_attempt_at_ms,
        last_error: d.last_error,
        created_at_ms: d.created_at_ms,
        done_at_ms: d.done_at_ms,
    }
}

fn rule_to_message(rule: RuleConfig) -> RuleMessage {
    let keyed: std::collections::HashMap<String, i64> = rule
        .stage_thresholds_ms
        .iter()
        .map(|(key, ms)| (key.clone(), ms / 1_000))
        .collect();
    let (stages, tiers) = match rule.rule.as_str() {
        crate::rules::SILENT_CUSTOMER => (Default::default(), keyed),
        _ => (keyed, Default::default()),
    };
    RuleMessage {
        team_id: rule.team_id,
        rule: rule.rule,
        enabled: rule.enabled,
        threshold_seconds: rule.threshold_ms / 1_000,
        stage_threshold_seconds: stages,
        tier_threshold_seconds: tiers,
        recipients: rule.recipients.as_str().to_string(),
        escalate_after_seconds: rule.escalate_after_ms / 1_000,
        share_percent: i32::try_from(rule.share_percent).unwrap_or(i32::MAX),
        min_count: i32::try_from(rule.min_count).unwrap_or(i32::MAX),
        second_escalation_to: rule.second_escalation_to,
        second_escalate_after_seconds: rule.second_escalate_after_ms / 1_000,
        period: rule.period,
        check_at_percent: i32::try_from(rule.check_at_percent).unwrap_or(i32::MAX),
        threshold_percent: i32::try_from(rule.threshold_percent).unwrap_or(i32::MAX),
        is_default: rule.is_default,
        updated_by: rule.updated_by,
        updated_at_ms: rule.updated_at_ms,
    }
}

/// Parses a rule from the wire; the error names the field.
fn rule_from_message(rule: RuleMessage) -> Result<RuleConfig, Error> {
    let recipients = Recipients::parse(&rule.recipients).ok_or_else(|| {
        Error::invalid(
            "rule.recipients",
            format!("{:?} is not rep, manager or both", rule.recipients),
        )
    })?;
    let ms = |field: &'static str, secs: i64| {
        secs.checked_mul(1_000)
            .ok_or_else(|| Error::invalid(field, format!("{secs} s is too large")))
    };
    let mut stages = BTreeMap::new();
    for (stage, secs) in rule.stage_threshold_seconds {
        stages.insert(stage, ms("rule.stage_threshold_seconds", secs)?);
    }
    // Per tier thresholds share the keyed map (a rule has one kind of key).
    if !rule.tier_threshold_seconds.is_empty() {
        if rule.rule != crate::rules::SILENT_CUSTOMER || !stages.is_empty() {
            return Err(Error::invalid(
                "rule.tier_threshold_seconds",
                "only silent_customer has per tier thresholds",
            ));
        }
        for (tier, secs) in rule.tier_threshold_seconds {
            stages.insert(tier, ms("rule.tier_threshold_seconds", secs)?);
        }
    } else if rule.rule == crate::rules::SILENT_CUSTOMER && !stages.is_empty() {
        return Err(Error::invalid(
            "rule.stage_threshold_seconds",
            "silent_customer has per tier thresholds, not per stage",
        ));
    }
    Ok(RuleConfig {
        team_id: rule.team_id,
        rule: rule.rule,
        enabled: rule.enabled,
        threshold_ms: ms("rule.threshold_seconds", rule.threshold_seconds)?,
        stage_thresholds_ms: stages,
        recipients,
        escalate_after_ms: ms("rule.escalate_after_seconds", rule.escalate_after_seconds)?,
        share_percent: i64::from(rule.share_percent),
        min_count: i64::from(rule.min_count),
        second_escalate_after_ms: ms(
            "rule.second_escalate_after_seconds",
            rule.second_escalate_after_seconds,
        )?,
        second_escalation_to: rule.second_escalation_to,
        period: rule.period,
        check_at_percent: i64::from(rule.check_at_percent),
        threshold_percent: i64::from(rule.threshold_percent),
        is_default: false,
        updated_by: String::new(),
        updated_at_ms: 0,
    })
}

fn caller_of<T>(request: &Request<T>) -> Result<Caller, Error> {
    auth::caller(request).map_err(|_| Error::Unauthenticated)
}

#[tonic::async_trait]
impl AlertingService for Api {
    type WatchAlertsStream = AlertStream;

    async fn set_team_webhook(
        &self,
        request: Request<SetTeamWebhookRequest>,
    ) -> Result<Response<SetTeamWebhookResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        self.ops
            .set_team_webhook(&caller, &request.team_id, &request.webhook_url)
            .await?;
        Ok(Response::new(SetTeamWebhookResponse {}))
    }

    async fn set_contact(
        &self,
        request: Request<SetContactRequest>,
    ) -> Result<Response<SetContactResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        let prefs = crate::prefs::parse(
            &request.email,
            &request.channels,
            &request.time_zone,
            &request.quiet_start,
            &request.quiet_end,
            i64::from(request.digest_minutes),
        )?;
        self.ops
            .set_contact(&caller, &request.recipient_id, &prefs)
            .await?;
        Ok(Response::new(SetContactResponse {}))
    }

    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let caller = caller_of(&request)?;
        Ok(Response::new(
            self.deliveries(&caller, request.into_inner()).await?,
        ))
    }

    async fn watch_alerts(
        &self,
        request: Request<WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let caller = caller_of(&request)?;
        if caller.role == leadwheel_plumbing::Role::Integration {
            return Err(Error::PermissionDenied("integrations may not watch alerts".into()).into());
        }
        let subscription = self
            .live
            .subscribe(subjects::live_alerts(&caller.subject))
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "subscribing to live alerts");
                Status::unavailable("live alerts are unavailable; retry shortly")
            })?;
        let front = self.front.clone();
        let stream = subscription
            .filter_map(|message| async move {
                // Published by this service only; skip anything unreadable.
                AlertMessage::decode(message.payload.as_ref()).ok().map(Ok)
            })
            .take_until(async move { front.cancelled().await });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        let caller = caller_of(&request)?;
        Ok(Response::new(
            self.list(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_alert(
        &self,
        request: Request<GetAlertRequest>,
    ) -> Result<Response<GetAlertResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        check_id("alert_id", &request.alert_id, true)?;
        let alert = self.ops.get_for(&caller, &request.alert_id).await?;
        Ok(Response::new(GetAlertResponse {
            alert: Some(to_message(alert)),
        }))
    }

    async fn acknowledge_alert(
        &self,
        request: Request<AcknowledgeAlertRequest>,
    ) -> Result<Response<AcknowledgeAlertResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        check_id("alert_id", &request.alert_id, true)?;
        let alert = self.ops.acknowledge_for(&caller, &request.alert_id).await?;
        Ok(Response::new(AcknowledgeAlertResponse {
            alert: Some(to_message(alert)),
        }))
    }

    async fn snooze_alert(
        &self,
        request: Request<SnoozeAlertRequest>,
    ) -> Result<Response<SnoozeAlertResponse>, Status> {
        let caller = caller_of(&request)?;
        let alert = self.snooze(&caller, request.into_inner()).await?;
        Ok(Response::new(SnoozeAlertResponse {
            alert: Some(to_message(alert)),
        }))
    }

    async fn list_rules(
        &self,
        request: Request<ListRulesRequest>,
    ) -> Result<Response<ListRulesResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        check_id("team_id", &request.team_id, true)?;
        let rules = self.ops.list_rules(&caller, &request.team_id).await?;
        Ok(Response::new(ListRulesResponse {
            rules: rules.into_iter().map(rule_to_message).collect(),
        }))
    }

    async fn set_rule(
        &self,
        request: Request<SetRuleRequest>,
    ) -> Result<Response<SetRuleResponse>, Status> {
        let caller = caller_of(&request)?;
        let rule = request
            .into_inner()
            .rule
            .ok_or_else(|| Error::invalid("rule", "is required"))?;
        let rule = self.ops.set_rule(&caller, rule_from_message(rule)?).await?;
        Ok(Response::new(SetRuleResponse {
            rule: Some(rule_to_message(rule)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::manage::scope_for;
    use leadwheel_plumbing::auth::Role;

    fn caller(subject: &str, role: Role) -> Caller {
        Caller {
            subject: subject.into(),
            role,
            team: None,
        }
    }

    #[test]
    fn each_sees_their_own_managers_their_teams_and_admins_all() {
        let maya = caller("maya", Role::Manager);
        let scope = scope_for(&maya, None).unwrap();
        assert_eq!(scope.manager.as_deref(), Some("maya"));
        assert_eq!(scope.recipient, None);
        let ana = caller("ana", Role::Rep);
        assert_eq!(
            scope_for(&ana, Some("ana")).unwrap().recipient.as_deref(),
            Some("ana")
        );
        assert_eq!(
            scope_for(&ana, None).unwrap().recipient.as_deref(),
            Some("ana")
        );
        assert!(scope_for(&ana, Some("maya")).is_err());
        let root = caller("root", Role::Admin);
        assert_eq!(scope_for(&root, None).unwrap(), Default::default());
        assert_eq!(
            scope_for(&root, Some("maya")).unwrap().recipient.as_deref(),
            Some("maya")
        );
        assert!(scope_for(&caller("crm", Role::Integration), None).is_err());
    }

    #[test]
    fn a_bad_recipients_value_names_the_field() {
        let err = rule_from_message(RuleMessage {
            rule: "no_first_touch".into(),
            recipients: "everyone".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidArgument {
                field: "rule.recipients",
                ..
            }
        ));
    }
}

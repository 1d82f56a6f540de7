//! What people do over the API: list, acknowledge and snooze alerts, read
//! and set rules. Each operation checks who may do it, owns its transaction
//! and commits; the handler only parses and converts.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::paging::Cursor;

use super::Ops;
use crate::error::Error;
use crate::rules::RuleConfig;
use crate::store::{Alert, AlertStore, Scope, directory, rules as rule_store};

/// Longest snooze accepted: 90 days.
pub const MAX_SNOOZE_MS: i64 = 90 * 86_400_000;

impl Ops {
    /// The alerts `caller` asked for (`recipient`: someone's; None: all they
    /// may see), in `state` if given.
    pub async fn list_alerts(
        &self,
        caller: &Caller,
        recipient: Option<&str>,
        state: Option<&str>,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<Alert>, Error> {
        let mut scope = scope_for(caller, recipient)?;
        if let (Role::Manager, Some(other)) = (caller.role, scope.recipient.as_deref())
            && other != caller.subject
            && !directory::manages_rep(&self.store, &caller.subject, other, caller.team.as_deref())
                .await?
        {
            return Err(Error::PermissionDenied(format!(
                "{} may not list the alerts of {other}: not a rep of their team",
                caller.subject
            )));
        }
        scope.state = state.map(str::to_string);
        Ok(AlertStore::new(self.store.clone())
            .list(&scope, cursor, limit)
            .await?)
    }

    /// Checks `caller` may act on `alert`: a rep on alerts addressed to
    /// them, a manager on their team's or those addressed to them.
    async fn check_may_act(&self, caller: &Caller, alert: &Alert) -> Result<(), Error> {
        let addressed = alert.recipient_ids.contains(&caller.subject);
        let allowed = match caller.role {
            Role::Admin => true,
            Role::Rep => addressed,
            Role::Manager => {
                addressed
                    || caller.team.as_deref() == Some(alert.team_id.as_str())
                    || directory::manages(&self.store, &caller.subject, &alert.team_id).await?
            }
            Role::Integration => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "{} may not act on alert {}",
                caller.subject, alert.alert_id
            )))
        }
    }

    async fn visible_alert(&self, caller: &Caller, alert_id: &str) -> Result<Alert, Error> {
        let alert = AlertStore::new(self.store.clone())
            .get(alert_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "alert",
                id: alert_id.to_string(),
            })?;
        self.check_may_act(caller, &alert).await?;
        Ok(alert)
    }

    /// `alert_id`, when `caller` may act on it.
    pub async fn get_for(&self, caller: &Caller, alert_id: &str) -> Result<Alert, Error> {
        self.visible_alert(caller, alert_id).await
    }

    /// Acknowledges `alert_id` for `caller`. Acknowledging twice is fine
    /// (the first acknowledgement stands); a resolved alert is refused.
    pub async fn acknowledge_for(&self, caller: &Caller, alert_id: &str) -> Result<Alert, Error> {
        let alert = self.visible_alert(caller, alert_id).await?;
        if alert.state == "resolved" {
            return Err(Error::FailedPrecondition(format!(
                "alert {alert_id} is resolved already ({})",
                alert.resolved_reason
            )));
        }
        let mut tx = self.store.begin().await?;
        let (alert, changed) = self.acknowledge(&mut tx, alert_id, &caller.subject).await?;
        tx.commit().await?;
        if changed {
            self.outbox.notify();
        }
        Ok(alert)
    }

    /// Snoozes `alert_id` until `until_ms` for `caller`.
    pub async fn snooze_for(
        &self,
        caller: &Caller,
        alert_id: &str,
        until_ms: i64,
    ) -> Result<Alert, Error> {
        let now = self.now_ms();
        if until_ms <= now || until_ms > now + MAX_SNOOZE_MS {
            return Err(Error::invalid(
                "until_ms",
                format!("{until_ms} is not in the next 90 days"),
            ));
        }
        let alert = self.visible_alert(caller, alert_id).await?;
        let mut tx = self.store.begin().await?;
        let Some(alert) = self
            .snooze(&mut tx, alert_id, &caller.subject, until_ms)
            .await?
        else {
            return Err(Error::FailedPrecondition(format!(
                "alert {alert_id} is {}; only open or snoozed alerts can be snoozed",
                alert.state
            )));
        };
        tx.commit().await?;
        self.outbox.notify();
        self.wake();
        Ok(alert)
    }

    /// `team_id`'s rules, for its manager, its reps (read only) or an admin.
    pub async fn list_rules(
        &self,
        caller: &Caller,
        team_id: &str,
    ) -> Result<Vec<RuleConfig>, Error> {
        if team_id.is_empty() {
            return Err(Error::invalid("team_id", "is required"));
        }
        if caller.role == Role::Integration {
            return Err(Error::PermissionDenied(
                "integrations may not read rules".into(),
            ));
        }
        Ok(rule_store::list(&self.store, team_id).await?)
    }

    /// Sets one rule, whole, as `caller` (the team's manager or an admin).
    pub async fn set_rule(
        &self,
        caller: &Caller,
        mut rule: RuleConfig,
    ) -> Result<RuleConfig, Error> {
        rule.validate(&directory::open_stages(&self.store).await?)?;
        let allowed = match caller.role {
            Role::Admin => true,
            Role::Manager => {
                caller.team.as_deref() == Some(rule.team_id.as_str())
                    || directory::manages(&self.store, &caller.subject, &rule.team_id).await?
            }
            Role::Rep | Role::Integration => false,
        };
        if !allowed {
            return Err(Error::PermissionDenied(format!(
                "{} may not set the rules of team {}",
                caller.subject, rule.team_id
            )));
        }
        rule.is_default = false;
        rule.updated_by = caller.subject.clone();
        rule.updated_at_ms = self.now_ms();
        let mut tx = self.store.begin().await?;
        rule_store::upsert(&mut tx, &rule).await?;
        if rule.rule == crate::rules::FORECAST_BELOW_QUOTA {
            self.arm_forecast_check(&mut tx, &rule.team_id, true)
                .await?;
        }
        tx.commit().await?;
        self.wake();
        tracing::info!(team_id = %rule.team_id, rule = %rule.rule, by = %caller.subject, "rule set");
        Ok(rule)
    }
}

/// Whose alerts `caller` gets when asking for `recipient`'s (None: all
/// they may see).
pub fn scope_for(caller: &Caller, recipient: Option<&str>) -> Result<Scope, Error> {
    let recipient = recipient.filter(|r| !r.is_empty());
    match caller.role {
        Role::Admin => Ok(Scope {
            recipient: recipient.map(str::to_string),
            ..Scope::default()
        }),
        Role::Rep if recipient.is_none_or(|r| r == caller.subject) => Ok(Scope {
            recipient: Some(caller.subject.clone()),
            ..Scope::default()
        }),
        Role::Rep => Err(Error::PermissionDenied(format!(
            "{} may not list the alerts of {}",
            caller.subject,
            recipient.unwrap_or_default()
        ))),
        // A manager sees their team's alerts; asking for one of their
        // reps' narrows that down (checked against the directory by the
        // caller of this function).
        Role::Manager => Ok(Scope {
            recipient: recipient.map(str::to_string),
            manager: Some(caller.subject.clone()),
            token_team: caller.team.clone(),
            state: None,
        }),
        Role::Integration => Err(Error::PermissionDenied(
            "integrations may not read alerts".into(),
        )),
    }
}

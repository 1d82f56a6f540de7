//! Forecast below quota (rule 7): one durable timer per team,
//! `rule:forecast_below_quota:<team>`, due at the check point of the
//! current or next period. When it fires, the team's forecast is asked from
//! reporting (`GetForecast`, outside any transaction), then in one
//! transaction the timer is taken, one alert is raised per team or rep line
//! below the threshold (dedupe key in [`crate::forecast::Shortfall`]) and
//! the timer is armed for the next period; lines back at or above the
//! threshold resolve their earlier alerts (`forecast_recovered`). Reporting
//! unreachable: the timer is armed again after a backoff (1 s doubling to
//! 5 min), so no check is lost, across restarts too.
//!
//! While reporting is asked, the check's timer is leased: moved
//! [`LEASE_MS`] ahead by a conditional update, so the timer loop (and other
//! replicas) go on with other timers and do not start the same check
//! again; the answer is applied only if the lease still holds. A process
//! that dies mid-check leaves the lease to run out: the check is due again.

use std::time::Duration;

use leadwheel_plumbing::Tx;
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{GetForecastRequest, GetForecastResponse, Period, PeriodKind};
use tonic::transport::{Channel, Endpoint};

use super::Ops;
use super::timers::{TimerAction, arm, disarm, rule_key};
use crate::forecast::{Shortfall, is_alert_about, next_check, recovered, shortfalls};
use crate::rules::FORECAST_BELOW_QUOTA;
use crate::store::timers::{self, Timer};
use crate::store::{NewAlert, StoreError, alerts, directory, rules as rule_store};

/// The longest wait between attempts while reporting is unreachable.
const MAX_BACKOFF_MS: i64 = 300_000;
/// How long one `GetForecast` may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How far ahead a check in flight moves its timer: well past the longest
/// call (3 s to connect, then [`CALL_TIMEOUT`]), so only a dead process's
/// check is started again.
pub const LEASE_MS: i64 = 60_000;

/// A forecast check leased to this process (see [`Ops::fire_timer`]).
#[derive(Clone, Debug)]
pub struct ForecastCheck {
    /// The timer as leased (its due time is the lease's end).
    pub timer: Timer,
    /// The team.
    pub team_id: String,
    /// "month", "quarter" or "year".
    pub period: String,
    /// The checked period's first day.
    pub period_from: String,
    /// Failed attempts to reach reporting so far.
    pub attempt: u32,
}

/// Reporting's API, called as an admin with tokens alerting mints.
#[derive(Clone, Debug)]
pub struct Reporting {
    channel: Channel,
    auth: Authenticator,
}

impl Reporting {
    /// A channel to `url`, connected on first use (start order is free).
    pub fn new(url: &str, auth: Authenticator) -> anyhow::Result<Self> {
        // Over TLS for an https:// URL (LEADWHEEL_TLS_CA_FILE and friends).
        let channel = leadwheel_plumbing::tls::connect_lazy(
            Endpoint::from_shared(url.to_string())
                .map_err(|e| anyhow::anyhow!("invalid reporting URL {url:?}: {e}"))?
                .connect_timeout(Duration::from_secs(3))
                .timeout(CALL_TIMEOUT),
        )?;
        Ok(Self { channel, auth })
    }

    /// `team_id`'s forecast (with its reps') for the `kind` period holding
    /// `date`.
    pub async fn forecast(
        &self,
        team_id: &str,
        kind: &str,
        date: &str,
    ) -> Result<GetForecastResponse, tonic::Status> {
        let token = self.auth.mint("alerting", Role::Admin, None, 300);
        let bearer = BearerToken::new(&token).expect("a minted token is ASCII");
        let mut client = ReportingServiceClient::with_interceptor(self.channel.clone(), bearer);
        let kind = match kind {
            "quarter" => PeriodKind::Quarter,
            "year" => PeriodKind::Year,
            _ => PeriodKind::Month,
        };
        let request = GetForecastRequest {
            team_id: team_id.to_string(),
            rep_id: String::new(),
            period: Some(Period {
                kind: kind as i32,
                date: date.to_string(),
                ..Period::default()
            }),
        };
        Ok(client.get_forecast(request).await?.into_inner())
    }
}

/// The key of `team_id`'s forecast check.
pub fn check_key(team_id: &str) -> String {
    rule_key(FORECAST_BELOW_QUOTA, team_id)
}

fn backoff_ms(attempt: u32) -> i64 {
    1_000i64
        .saturating_mul(1i64 << attempt.min(20))
        .min(MAX_BACKOFF_MS)
}

impl Ops {
    /// Arms `team_id`'s next forecast check from its rule (disarms it when
    /// the rule is off). `replace`: re-arm even if one is armed (the rule
    /// changed, or the check just ran); else keep an armed one as it is.
    pub async fn arm_forecast_check(
        &self,
        tx: &mut Tx,
        team_id: &str,
        replace: bool,
    ) -> Result<(), StoreError> {
        let key = check_key(team_id);
        let rule = rule_store::get(tx, team_id, FORECAST_BELOW_QUOTA).await?;
        if !rule.enabled {
            disarm(tx, &key).await?;
            return Ok(());
        }
        if !replace && timers::get(tx, &key).await?.is_some() {
            return Ok(());
        }
        let now = self.now_ms();
        let Some((period, due)) = next_check(&rule.period, rule.check_at_percent, now, &self.zone)
        else {
            tracing::error!(team_id, period = %rule.period, "forecast rule with an unknown period; not armed");
            return Ok(());
        };
        let action = TimerAction::ForecastCheck {
            team_id: team_id.to_string(),
            period: rule.period.clone(),
            period_from: period.from_str(),
            attempt: 0,
        };
        arm(tx, &key, due, &action, now).await
    }

    /// Arms the forecast check of every known team that has none (teams
    /// seen before this rule existed get theirs at start).
    pub async fn arm_forecast_checks_of_known_teams(&self) -> Result<(), StoreError> {
        for team_id in directory::team_ids(&self.store).await? {
            let mut tx = self.store.begin().await?;
            self.arm_forecast_check(&mut tx, &team_id, false).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Leases forecast check `timer` (moves it [`LEASE_MS`] ahead) if it is
    /// still armed as read; the leased timer, None when another replica
    /// took it.
    pub async fn lease_forecast_check(&self, timer: &Timer) -> Result<Option<Timer>, StoreError> {
        let leased = Timer {
            due_at_ms: self.now_ms() + LEASE_MS,
            ..timer.clone()
        };
        let mut tx = self.store.begin().await?;
        let moved = timers::move_due(&mut tx, timer, leased.due_at_ms).await?;
        tx.commit().await?;
        Ok(moved.then_some(leased))
    }

    /// Runs a leased forecast check: asks reporting (no transaction open),
    /// then applies the answer in one transaction if the lease still holds;
    /// false when it did not (the rule changed meanwhile and re-armed it).
    pub async fn run_forecast_check(&self, check: &ForecastCheck) -> Result<bool, StoreError> {
        let ForecastCheck {
            timer,
            team_id,
            period,
            period_from,
            attempt,
        } = check;
        let (team_id, period, period_from, attempt) = (
            team_id.as_str(),
            period.as_str(),
            period_from.as_str(),
            *attempt,
        );
        let forecast = match &self.reporting {
            Some(reporting) => reporting.forecast(team_id, period, period_from).await,
            None => Err(tonic::Status::unavailable("no reporting URL configured")),
        };
        let mut tx = self.store.begin().await?;
        if !timers::take(&mut tx, timer).await? {
            tx.commit().await?;
            return Ok(false);
        }
        let forecast = match forecast {
            Ok(forecast) => forecast,
            Err(status) => {
                let delay = backoff_ms(attempt);
                tracing::warn!(team_id, period_from, attempt, retry_in_ms = delay, error = %status, "reporting unreachable for the forecast check; retrying");
                let action = TimerAction::ForecastCheck {
                    team_id: team_id.to_string(),
                    period: period.to_string(),
                    period_from: period_from.to_string(),
                    attempt: attempt.saturating_add(1),
                };
                let now = self.now_ms();
                arm(&mut tx, &timer.timer_key, now + delay, &action, now).await?;
                tx.commit().await?;
                return Ok(true);
            }
        };
        let rule = rule_store::get(&mut tx, team_id, FORECAST_BELOW_QUOTA).await?;
        if rule.enabled {
            let manager_id = directory::manager_of(&mut tx, team_id).await?;
            let (from, to) = forecast
                .period
                .as_ref()
                .map(|p| (p.from.clone(), p.to.clone()))
                .unwrap_or_else(|| (period_from.to_string(), String::new()));
            for short in shortfalls(&forecast, rule.threshold_percent) {
                let new = NewAlert {
                    kind: FORECAST_BELOW_QUOTA.to_string(),
                    dedupe_key: short.dedupe_key(team_id, &from),
                    recipients: rule.recipients.resolve(&short.rep_id, &manager_id),
                    team_id: team_id.to_string(),
                    rep_id: short.rep_id.clone(),
                    manager_id: manager_id.clone(),
                    subject_key: if short.rep_id.is_empty() {
                        team_id.to_string()
                    } else {
                        short.rep_id.clone()
                    },
                    message: message(team_id, &short, &from, &to, rule.threshold_percent),
                    escalate_after_ms: rule.escalate_after_ms,
                    second_escalation_to: rule.second_escalation_to.clone(),
                    second_escalate_after_ms: rule.second_escalate_after_ms,
                };
                self.raise(&mut tx, new).await?;
            }
            for line in recovered(&forecast, rule.threshold_percent) {
                let subject_key = if line.rep_id.is_empty() {
                    team_id
                } else {
                    &line.rep_id
                };
                for (alert_id, dedupe_key) in
                    alerts::unresolved_for_subject(&mut tx, FORECAST_BELOW_QUOTA, subject_key)
                        .await?
                {
                    if is_alert_about(&dedupe_key, team_id, &line) {
                        self.resolve(&mut tx, &alert_id, "forecast_recovered")
                            .await?;
                    }
                }
            }
        }
        self.arm_forecast_check(&mut tx, team_id, true).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

fn message(team_id: &str, s: &Shortfall, from: &str, to: &str, threshold: i64) -> String {
    let who = if s.rep_id.is_empty() {
        format!("Team {team_id}'s")
    } else {
        format!("{}'s", s.rep_id)
    };
    format!(
        "{who} forecast for {from} to {to} is {} ({}.{:02} % of the {} quota), below {threshold} %. Review the pipeline.",
        money(s.forecast_minor, &s.currency),
        s.forecast_bp / 100,
        s.forecast_bp % 100,
        money(s.quota_minor, &s.currency),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1_000);
        assert_eq!(backoff_ms(3), 8_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
    }

    #[test]
    fn money_reads_well() {
        assert_eq!(money(123_456, "EUR"), "1234.56 EUR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
    }
}

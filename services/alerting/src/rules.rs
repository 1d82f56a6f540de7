//! The per-team rules that raise timed alerts, their documented defaults
//! and their validation. Pure: no I/O; the store keeps what a manager set.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Longest threshold or escalation delay accepted: a year.
pub const MAX_DELAY_MS: i64 = 366 * DAY_MS;

/// A claimed lead with no activity N hours after the claim.
pub const NO_FIRST_TOUCH: &str = "no_first_touch";
/// An opportunity in the same stage longer than its stage's threshold.
pub const STUCK_IN_STAGE: &str = "stuck_in_stage";
/// A lead or opportunity past its next follow-up date with no activity since.
pub const FOLLOW_UP_OVERDUE: &str = "follow_up_overdue";

/// An account (a customer, open or won) with no touch for its tier's N days.
pub const SILENT_CUSTOMER: &str = "silent_customer";
/// A rep passing or letting expire more than a share of their offers.
pub const REP_SATURATED: &str = "rep_saturated";

/// A handover task past its due date (end of day UTC) plus N.
pub const HANDOVER_TASK_OVERDUE: &str = "handover_task_overdue";

/// A team's or rep's forecast (reporting's) below a share of quota at a
/// point of each period.
pub const FORECAST_BELOW_QUOTA: &str = "forecast_below_quota";

/// Every configurable rule, in the order they are listed.
pub const RULES: [&str; 7] = [
    NO_FIRST_TOUCH,
    STUCK_IN_STAGE,
    FOLLOW_UP_OVERDUE,
    SILENT_CUSTOMER,
    REP_SATURATED,
    HANDOVER_TASK_OVERDUE,
    FORECAST_BELOW_QUOTA,
];

/// The open stages opportunity starts with (its migration seeds them);
/// others become known from `opps.pipeline.stage_changed`.
pub const DEFAULT_STAGES: [&str; 3] = ["needs_identified", "trial", "commercial"];

/// Who a rule's alert goes to first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipients {
    /// The rep owning the subject.
    Rep,
    /// The team's manager.
    Manager,
    /// Both at once.
    Both,
}

impl Recipients {
    /// The wire and store name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rep => "rep",
            Self::Manager => "manager",
            Self::Both => "both",
        }
    }

    /// Parses a wire or store name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rep" => Some(Self::Rep),
            "manager" => Some(Self::Manager),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    /// The first recipients for an alert about something `rep_id` owns in a
    /// team managed by `manager_id` (empty ids are left out).
    pub fn resolve(self, rep_id: &str, manager_id: &str) -> Vec<String> {
        let ids: Vec<&str> = match self {
            Self::Rep => vec![rep_id],
            Self::Manager => vec![manager_id],
            Self::Both => vec![rep_id, manager_id],
        };
        let mut out: Vec<String> = Vec::new();
        for id in ids {
            if !id.is_empty() && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        }
        out
    }
}

/// One rule of one team, as set or defaulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleConfig {
    /// The team.
    pub team_id: String,
    /// The rule, one of [`RULES`].
    pub rule: String,
    /// Whether it raises alerts.
    pub enabled: bool,
    /// How long the condition must hold (the default for unnamed stages).
    pub threshold_ms: i64,
    /// Per key thresholds: per stage (stuck_in_stage), per account tier
    /// (silent_customer).
    pub stage_thresholds_ms: BTreeMap<String, i64>,
    /// rep_saturated: the share of passes and expiries (percent) that alerts.
    pub share_percent: i64,
    /// rep_saturated: the fewest offers in the window before it may alert.
    pub min_count: i64,
    /// Who is told when an alert escalated to the manager is still not
    /// acknowledged after `second_escalate_after_ms` (empty: nobody).
    pub second_escalation_to: String,
    /// The delay of that second escalation (0: none).
    pub second_escalate_after_ms: i64,
    /// forecast_below_quota: "month", "quarter" or "year".
    pub period: String,
    /// forecast_below_quota: how far into the period the check is (percent).
    pub check_at_percent: i64,
    /// forecast_below_quota: forecasts below this share of quota alert.
    pub threshold_percent: i64,
    /// Who is told first.
    pub recipients: Recipients,
    /// Escalate to the manager when not acknowledged within this (0: never).
    pub escalate_after_ms: i64,
    /// True when nobody set it.
    pub is_default: bool,
    /// Who set it last.
    pub updated_by: String,
    /// When.
    pub updated_at_ms: i64,
}

impl RuleConfig {
    /// The documented default of `rule` for `team_id` (None: unknown rule).
    pub fn default_for(team_id: &str, rule: &str) -> Option<Self> {
        let (threshold_ms, stages, recipients, escalate_after_ms): (i64, &[(&str, i64)], _, _) =
            match rule {
                NO_FIRST_TOUCH => (4 * HOUR_MS, &[], Recipients::Rep, 4 * HOUR_MS),
                STUCK_IN_STAGE => (
                    14 * DAY_MS,
                    &[
                        ("needs_identified", 14 * DAY_MS),
                        ("trial", 21 * DAY_MS),
                        ("commercial", 10 * DAY_MS),
                    ],
                    Recipients::Both,
                    0,
                ),
                FOLLOW_UP_OVERDUE => (0, &[], Recipients::Rep, 2 * DAY_MS),
                SILENT_CUSTOMER => (
                    30 * DAY_MS,
                    &[("A", 14 * DAY_MS), ("B", 30 * DAY_MS), ("C", 60 * DAY_MS)],
                    Recipients::Rep,
                    0,
                ),
                // The threshold is the sliding window.
                REP_SATURATED => (DAY_MS, &[], Recipients::Manager, 0),
                HANDOVER_TASK_OVERDUE => (0, &[], Recipients::Both, 0),
                // Checked at a point of the period, not after a delay.
                FORECAST_BELOW_QUOTA => (0, &[], Recipients::Manager, 0),
                _ => return None,
            };
        let (share_percent, min_count) = if rule == REP_SATURATED {
            (50, 10)
        } else {
            (0, 0)
        };
        let (period, check_at_percent, threshold_percent) = if rule == FORECAST_BELOW_QUOTA {
            ("month".to_string(), 50, 80)
        } else {
            (String::new(), 0, 0)
        };
        Some(Self {
            period,
            check_at_percent,
            threshold_percent,
            team_id: team_id.to_string(),
            rule: rule.to_string(),
            enabled: true,
            threshold_ms,
            stage_thresholds_ms: stages.iter().map(|(s, ms)| (s.to_string(), *ms)).collect(),
            recipients,
            escalate_after_ms,
            share_percent,
            min_count,
            second_escalation_to: String::new(),
            second_escalate_after_ms: 0,
            is_default: true,
            updated_by: String::new(),
            updated_at_ms: 0,
        })
    }

    /// The threshold for an opportunity in `stage` (stuck_in_stage).
    pub fn threshold_for_stage(&self, stage: &str) -> i64 {
        self.stage_thresholds_ms
            .get(stage)
            .copied()
            .unwrap_or(self.threshold_ms)
    }

    /// Checks a rule a manager wants to set; the error names the field.
    /// `known_stages` are the open stages opportunity has.
    pub fn validate(&self, known_stages: &BTreeSet<String>) -> Result<(), Error> {
        if self.team_id.is_empty() || self.team_id.len() > 128 {
            return Err(Error::invalid(
                "rule.team_id",
                "must be 1 to 128 bytes long",
            ));
        }
        if !RULES.contains(&self.rule.as_str()) {
            return Err(Error::invalid(
                "rule.rule",
                format!("unknown rule {:?} (one of {})", self.rule, RULES.join(", ")),
            ));
        }
        // A follow-up or a task is due at the end of its date: a grace of 0 is
        // sensible. The others alert after the condition held for a while.
        let min = if matches!(
            self.rule.as_str(),
            FOLLOW_UP_OVERDUE | HANDOVER_TASK_OVERDUE | FORECAST_BELOW_QUOTA
        ) {
            0
        } else {
            1_000
        };
        check_delay("rule.threshold_seconds", self.threshold_ms, min)?;
        check_delay("rule.escalate_after_seconds", self.escalate_after_ms, 0)?;
        check_delay(
            "rule.second_escalate_after_seconds",
            self.second_escalate_after_ms,
            0,
        )?;
        if self.second_escalation_to.len() > 128 {
            return Err(Error::invalid(
                "rule.second_escalation_to",
                "is longer than 128 bytes",
            ));
        }
        match (
            self.second_escalation_to.is_empty(),
            self.second_escalate_after_ms == 0,
        ) {
            (true, false) => {
                return Err(Error::invalid(
                    "rule.second_escalation_to",
                    "is required with second_escalate_after_seconds",
                ));
            }
            (false, true) => {
                return Err(Error::invalid(
                    "rule.second_escalate_after_seconds",
                    "is required with second_escalation_to",
                ));
            }
            (false, false) if self.escalate_after_ms == 0 => {
                return Err(Error::invalid(
                    "rule.second_escalation_to",
                    "needs a first escalation (escalate_after_seconds)",
                ));
            }
            _ => {}
        }
        let keyed = self.keyed_field();
        if !self.stage_thresholds_ms.is_empty() && keyed.is_none() {
            return Err(Error::invalid(
                "rule.stage_threshold_seconds",
                format!(
                    "only {STUCK_IN_STAGE} (per stage) and {SILENT_CUSTOMER} (per tier) have keyed thresholds"
                ),
            ));
        }
        for (key, ms) in &self.stage_thresholds_ms {
            let field = keyed.unwrap_or("rule.stage_threshold_seconds");
            if self.rule == STUCK_IN_STAGE && !known_stages.contains(key) {
                return Err(Error::invalid(field, format!("unknown stage {key:?}")));
            }
            if key.is_empty() || key.len() > 32 {
                return Err(Error::invalid(
                    field,
                    format!("{key:?} is not 1 to 32 bytes"),
                ));
            }
            check_delay(field, *ms, 1_000)?;
        }
        if self.rule == REP_SATURATED {
            if !(1..=100).contains(&self.share_percent) {
                return Err(Error::invalid(
                    "rule.share_percent",
                    format!("{} is not between 1 and 100", self.share_percent),
                ));
            }
            if !(1..=10_000).contains(&self.min_count) {
                return Err(Error::invalid(
                    "rule.min_count",
                    format!("{} is not between 1 and 10000", self.min_count),
                ));
            }
        } else if self.share_percent != 0 || self.min_count != 0 {
            let field = if self.share_percent != 0 {
                "rule.share_percent"
            } else {
                "rule.min_count"
            };
            return Err(Error::invalid(
                field,
                format!("only {REP_SATURATED} takes it"),
            ));
        }
        self.validate_forecast()
    }

    fn validate_forecast(&self) -> Result<(), Error> {
        if self.rule != FORECAST_BELOW_QUOTA {
            for (field, set) in [
                ("rule.period", !self.period.is_empty()),
                ("rule.check_at_percent", self.check_at_percent != 0),
                ("rule.threshold_percent", self.threshold_percent != 0),
            ] {
                if set {
                    return Err(Error::invalid(
                        field,
                        format!("only {FORECAST_BELOW_QUOTA} takes it"),
                    ));
                }
            }
            return Ok(());
        }
        if !crate::forecast::PERIODS.contains(&self.period.as_str()) {
            return Err(Error::invalid(
                "rule.period",
                format!("{:?} is not month, quarter or year", self.period),
            ));
        }
        for (field, value) in [
            ("rule.check_at_percent", self.check_at_percent),
            ("rule.threshold_percent", self.threshold_percent),
        ] {
            if !(1..=100).contains(&value) {
                return Err(Error::invalid(
                    field,
                    format!("{value} is not between 1 and 100"),
                ));
            }
        }
        if self.threshold_ms != 0 {
            return Err(Error::invalid(
                "rule.threshold_seconds",
                format!(
                    "{FORECAST_BELOW_QUOTA} is checked at check_at_percent of the period; leave it 0"
                ),
            ));
        }
        Ok(())
    }

    /// The request field of this rule's keyed thresholds, if it has any.
    pub fn keyed_field(&self) -> Option<&'static str> {
        match self.rule.as_str() {
            STUCK_IN_STAGE => Some("rule.stage_threshold_seconds"),
            SILENT_CUSTOMER => Some("rule.tier_threshold_seconds"),
            _ => None,
        }
    }
}

fn check_delay(field: &'static str, ms: i64, min_ms: i64) -> Result<(), Error> {
    if ms < min_ms || ms > MAX_DELAY_MS {
        return Err(Error::invalid(
            field,
            format!(
                "{} s is not between {} s and {} s (a year)",
                ms / 1_000,
                min_ms / 1_000,
                MAX_DELAY_MS / 1_000
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages() -> BTreeSet<String> {
        DEFAULT_STAGES.iter().map(|s| s.to_string()).collect()
    }

    fn field_of(err: Error) -> &'static str {
        match err {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("not an invalid argument: {other}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        for rule in RULES {
            RuleConfig::default_for("north", rule)
                .unwrap()
                .validate(&stages())
                .unwrap();
        }
        assert!(RuleConfig::default_for("north", "bogus").is_none());
    }

    #[test]
    fn bad_rules_name_the_field() {
        let base = RuleConfig::default_for("north", STUCK_IN_STAGE).unwrap();
        let mut r = base.clone();
        r.threshold_ms = -1_000;
        assert_eq!(
            field_of(r.validate(&stages()).unwrap_err()),
            "rule.threshold_seconds"
        );
        let mut r = base.clone();
        r.threshold_ms = MAX_DELAY_MS + 1;
        assert_eq!(
            field_of(r.validate(&stages()).unwrap_err()),
            "rule.threshold_seconds"
        );
        let mut r = base.clone();
        r.stage_thresholds_ms.insert("nirvana".into(), 1_000);
        assert_eq!(
            field_of(r.validate(&stages()).unwrap_err()),
            "rule.stage_threshold_seconds"
        );
        let mut r = base.clone();
        r.escalate_after_ms = -5;
        assert_eq!(
            field_of(r.validate(&stages()).unwrap_err()),
            "rule.escalate_after_seconds"
        );
        let mut r = base.clone();
        r.period = "month".into();
        assert_eq!(field_of(r.validate(&stages()).unwrap_err()), "rule.period");
        let mut r = base;
        r.rule = "bogus".into();
        assert_eq!(field_of(r.validate(&stages()).unwrap_err()), "rule.rule");
    }

    #[test]
    fn bad_forecast_rules_name_the_field() {
        let base = RuleConfig::default_for("north", FORECAST_BELOW_QUOTA).unwrap();
        type Spoil = fn(&mut RuleConfig);
        let cases: [(&str, Spoil); 6] = [
            ("rule.period", |r| r.period = "week".into()),
            ("rule.period", |r| r.period = String::new()),
            ("rule.check_at_percent", |r| r.check_at_percent = 0),
            ("rule.check_at_percent", |r| r.check_at_percent = 101),
            ("rule.threshold_percent", |r| r.threshold_percent = -5),
            ("rule.threshold_seconds", |r| r.threshold_ms = 60_000),
        ];
        for (field, spoil) in cases {
            let mut r = base.clone();
            spoil(&mut r);
            assert_eq!(field_of(r.validate(&stages()).unwrap_err()), field);
        }
    }

    #[test]
    fn recipients_skip_missing_and_repeated_people() {
        assert_eq!(Recipients::Both.resolve("ana", "maya"), ["ana", "maya"]);
        assert_eq!(Recipients::Both.resolve("ana", ""), ["ana"]);
        assert_eq!(Recipients::Both.resolve("maya", "maya"), ["maya"]);
        assert!(Recipients::Manager.resolve("ana", "").is_empty());
    }
}

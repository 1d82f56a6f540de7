//! Conversions between stored rows and the API's messages, and validation
//! of the policy a manager sends.

use leadwheel_proto::wheel::v1 as api;
use leadwheel_wheel_core::{AssignedVia, NoEligible, Rotation};

use crate::error::WheelError;
use crate::live;
use crate::store::{self, LeadRow, LedgerRow, OfferRow, PooledLead, RepRow, TeamRow};
use crate::validate;

mod routing;
pub use routing::*;

/// Longest tier label and most tiers in a policy.
const MAX_TIERS: usize = 20;

pub fn team_proto(team: &TeamRow) -> api::Team {
    let policy = &team.policy;
    api::Team {
        team_id: team.team_id.clone(),
        name: team.name.clone(),
        manager_id: team.manager_id.clone(),
        window_ms: team.window_ms,
        rep_ids: team.ring.to_vec(),
        policy: Some(api::TeamPolicy {
            tier_windows_ms: policy.tier_windows.clone().into_iter().collect(),
            rotation: match policy.rotation {
                Rotation::RoundRobin => api::RotationPolicy::RoundRobin,
                Rotation::AbilityOrder => api::RotationPolicy::AbilityOrder,
            } as i32,
            ability_order_tiers: policy.ability_order_tiers.clone(),
            pool_timeout_ms: policy.pool_timeout_ms.unwrap_or_default(),
            chain_budget_ms: policy.chain_budget_ms.unwrap_or_default(),
            window_floor_ms: policy
                .window_floor_ms
                .unwrap_or(leadwheel_wheel_core::DEFAULT_WINDOW_FLOOR_MS),
            no_eligible: match policy.no_eligible {
                NoEligible::Wait => api::NoEligiblePolicy::Wait,
                NoEligible::Pool => api::NoEligiblePolicy::Pool,
            } as i32,
            // "Never" is stored as 0 and sent as -1, so a policy read and sent
            // back unchanged keeps its meaning (0 on the wire is "default").
            breaker_expiries: match policy.breaker_expiries() {
                0 => -1,
                n => n as i32,
            },
            pass_reasons: policy.pass_reasons.clone(),
        }),
    }
}

/// A rep, with whether they are on shift at `now`.
pub fn rep_proto(rep: RepRow, now: i64) -> api::Rep {
    let on_shift = rep
        .schedule
        .compile()
        .is_ok_and(|shift| shift.on_shift(now));
    api::Rep {
        on_shift,
        schedule: Some(api::RepSchedule {
            time_zone: rep.schedule.time_zone.clone(),
            hours: rep
                .schedule
                .hours
                .iter()
                .map(|(day, from, to)| api::WorkingHours {
                    day: day.clone(),
                    from: from.clone(),
                    to: to.clone(),
                })
                .collect(),
            days_off: rep.schedule.days_off.clone(),
        }),
        tiers: rep.skills.tiers.clone(),
        regions: rep.skills.regions.clone(),
        rep_id: rep.rep_id,
        name: rep.name,
        team_id: rep.team_id.unwrap_or_default(),
        open_offers: rep.open_offers as i32,
        assigned_leads: rep.assigned_leads as i32,
        availability: rep.availability,
        rank: rep.rank as i32,
        capacity: rep.capacity as i32,
        consecutive_expiries: rep.consecutive_expiries as i32,
    }
}

/// A routing-ledger line.
pub fn ledger_entry(e: &LedgerRow) -> api::LedgerEntry {
    api::LedgerEntry {
        at_ms: e.at_ms,
        kind: e.kind.clone(),
        rep_id: e.rep_id.clone().unwrap_or_default(),
        offer_no: e.offer_no.unwrap_or_default() as i32,
        detail: e.detail.clone(),
    }
}

/// A lead's ledger, as `explain` answers it.
pub fn explain_proto(lead: &LeadRow, entries: &[LedgerRow]) -> api::ExplainLeadResponse {
    api::ExplainLeadResponse {
        lead_id: lead.details.lead_id.clone(),
        team_id: lead.team_id.clone(),
        state: lead_state(&lead.state) as i32,
        owner_rep_id: lead.owner_rep_id.clone().unwrap_or_default(),
        entries: entries.iter().map(ledger_entry).collect(),
        routed_by: lead.routed_by.as_ref().map(routed_by_proto),
    }
}

/// How a claim got the lead, on the wire.
pub fn claimed_via(via: Option<AssignedVia>) -> api::ClaimedVia {
    match via {
        Some(AssignedVia::Offer) => api::ClaimedVia::Offer,
        Some(AssignedVia::Pool) => api::ClaimedVia::Pool,
        _ => api::ClaimedVia::Unspecified,
    }
}

/// A pooled lead.
pub fn pool_lead(lead: &PooledLead) -> api::PoolLead {
    api::PoolLead {
        lead: Some(live::summary(&lead.details)),
        team_id: lead.team_id.clone(),
        pooled_at_ms: lead.pooled_at_ms.unwrap_or_default(),
    }
}

pub fn lead_state(state: &str) -> api::LeadState {
    match state {
        "offered" => api::LeadState::Offered,
        "assigned" => api::LeadState::Assigned,
        "pooled" => api::LeadState::Pooled,
        "waiting" => api::LeadState::Waiting,
        "escalated" => api::LeadState::Escalated,
        "withdrawn" => api::LeadState::Withdrawn,
        _ => api::LeadState::Unspecified,
    }
}

pub fn routing_proto(lead: &LeadRow, offers: &[OfferRow]) -> api::GetLeadRoutingResponse {
    api::GetLeadRoutingResponse {
        lead_id: lead.details.lead_id.clone(),
        team_id: lead.team_id.clone(),
        state: lead_state(&lead.state) as i32,
        owner_rep_id: lead.owner_rep_id.clone().unwrap_or_default(),
        offers: offers
            .iter()
            .map(|offer| live::offer_proto(offer, None, None))
            .collect(),
        lead: Some(live::summary(&lead.details)),
    }
}

/// Validates a policy sent by a manager; absent means the defaults.
pub fn policy_from_proto(
    policy: Option<&api::TeamPolicy>,
) -> Result<store::TeamPolicy, WheelError> {
    let Some(policy) = policy else {
        return Ok(store::TeamPolicy::default());
    };
    if policy.tier_windows_ms.len() > MAX_TIERS {
        return Err(WheelError::invalid(
            "team.policy.tier_windows_ms",
            format!("more than {MAX_TIERS} tiers"),
        ));
    }
    let mut tier_windows = std::collections::BTreeMap::new();
    for (tier, window) in &policy.tier_windows_ms {
        validate::id("team.policy.tier_windows_ms", tier)?;
        if !(validate::MIN_WINDOW_MS..=validate::MAX_WINDOW_MS).contains(window) {
            return Err(WheelError::invalid(
                "team.policy.tier_windows_ms",
                format!(
                    "window {window} for tier {tier} is out of range ({}..={})",
                    validate::MIN_WINDOW_MS,
                    validate::MAX_WINDOW_MS
                ),
            ));
        }
        tier_windows.insert(tier.clone(), *window);
    }
    let rotation = match api::RotationPolicy::try_from(policy.rotation) {
        Ok(api::RotationPolicy::Unspecified | api::RotationPolicy::RoundRobin) => {
            Rotation::RoundRobin
        }
        Ok(api::RotationPolicy::AbilityOrder) => Rotation::AbilityOrder,
        Err(_) => {
            return Err(WheelError::invalid(
                "team.policy.rotation",
                format!("unknown value {}", policy.rotation),
            ));
        }
    };
    if policy.ability_order_tiers.len() > MAX_TIERS {
        return Err(WheelError::invalid(
            "team.policy.ability_order_tiers",
            format!("more than {MAX_TIERS} tiers"),
        ));
    }
    for tier in &policy.ability_order_tiers {
        validate::id("team.policy.ability_order_tiers", tier)?;
    }
    let optional_ms =
        |field: &'static str, value: i64, max: i64| -> Result<Option<i64>, WheelError> {
            match value {
                0 => Ok(None),
                v if (1_000..=max).contains(&v) => Ok(Some(v)),
                v => Err(WheelError::invalid(
                    field,
                    format!("{v} is out of range (0 for none, or 1000..={max})"),
                )),
            }
        };
    const WEEK_MS: i64 = 7 * 24 * 3_600_000;
    let pool_timeout_ms = optional_ms(
        "team.policy.pool_timeout_ms",
        policy.pool_timeout_ms,
        WEEK_MS,
    )?;
    let chain_budget_ms = optional_ms(
        "team.policy.chain_budget_ms",
        policy.chain_budget_ms,
        24 * 3_600_000,
    )?;
    let window_floor_ms = optional_ms(
        "team.policy.window_floor_ms",
        policy.window_floor_ms,
        validate::MAX_WINDOW_MS,
    )?;
    let no_eligible = match api::NoEligiblePolicy::try_from(policy.no_eligible) {
        Ok(api::NoEligiblePolicy::Unspecified | api::NoEligiblePolicy::Wait) => NoEligible::Wait,
        Ok(api::NoEligiblePolicy::Pool) => NoEligible::Pool,
        Err(_) => {
            return Err(WheelError::invalid(
                "team.policy.no_eligible",
                format!("unknown value {}", policy.no_eligible),
            ));
        }
    };
    let breaker_expiries = match policy.breaker_expiries {
        0 => None,
        -1 => Some(0),
        n if (1..=100).contains(&n) => Some(n as i64),
        n => {
            return Err(WheelError::invalid(
                "team.policy.breaker_expiries",
                format!("{n} is out of range (-1 for never, 0 for the default, 1..=100)"),
            ));
        }
    };
    if policy.pass_reasons.len() > MAX_TIERS {
        return Err(WheelError::invalid(
            "team.policy.pass_reasons",
            format!("more than {MAX_TIERS} reasons"),
        ));
    }
    let mut pass_reasons = Vec::with_capacity(policy.pass_reasons.len());
    for reason in &policy.pass_reasons {
        let reason = validate::text(
            "team.policy.pass_reasons",
            reason,
            validate::MAX_REASON_LEN,
            true,
        )?;
        pass_reasons.push(reason.to_string());
    }
    Ok(store::TeamPolicy {
        pass_reasons,
        tier_windows,
        rotation,
        ability_order_tiers: policy.ability_order_tiers.clone(),
        pool_timeout_ms,
        chain_budget_ms,
        window_floor_ms,
        no_eligible,
        breaker_expiries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(policy: store::TeamPolicy) -> TeamRow {
        TeamRow {
            team_id: "t".into(),
            name: "t".into(),
            manager_id: "m".into(),
            window_ms: 60_000,
            policy,
            rotation: Default::default(),
            rotation_version: 0,
            roster_version: 0,
            ring: std::sync::Arc::default(),
            ranks: Default::default(),
        }
    }

    #[test]
    fn a_policy_read_and_sent_back_keeps_its_meaning() {
        for breaker in [None, Some(0), Some(5)] {
            let stored = store::TeamPolicy {
                breaker_expiries: breaker,
                pool_timeout_ms: Some(60_000),
                pass_reasons: vec!["on a call".into()],
                ..Default::default()
            };
            let sent = team_proto(&team(stored.clone())).policy;
            let back = policy_from_proto(sent.as_ref()).unwrap();
            assert_eq!(
                back.breaker_expiries(),
                stored.breaker_expiries(),
                "breaker {breaker:?}"
            );
            assert_eq!(back.pool_timeout_ms, stored.pool_timeout_ms);
            assert_eq!(back.pass_reasons, stored.pass_reasons);
        }
    }
}

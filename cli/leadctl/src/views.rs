//! What leadctl prints: plain structs with stable field names (the JSON
//! output is these, serialised), built from the protobuf messages.

use leadwheel_proto::intake::v1 as intake;
use leadwheel_proto::opportunity::v1 as opportunity;
use leadwheel_proto::reporting::v1 as reporting;
use leadwheel_proto::wheel::v1 as wheel;
use serde::Serialize;

/// `OFFER_STATE_OPEN` → `open`: a protobuf enum name without its prefix.
pub fn enum_word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

pub fn offer_state(value: i32) -> String {
    wheel::OfferState::try_from(value)
        .map(|s| enum_word(s.as_str_name(), "OFFER_STATE_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

pub fn lead_state(value: i32) -> String {
    wheel::LeadState::try_from(value)
        .map(|s| enum_word(s.as_str_name(), "LEAD_STATE_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

pub fn claimed_via(value: i32) -> String {
    wheel::ClaimedVia::try_from(value)
        .map(|s| enum_word(s.as_str_name(), "CLAIMED_VIA_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TeamView {
    pub team_id: String,
    pub name: String,
    pub manager_id: String,
    pub window_ms: i64,
    pub rep_ids: Vec<String>,
    pub policy: Option<crate::policy::PolicyView>,
}

impl From<wheel::Team> for TeamView {
    fn from(t: wheel::Team) -> Self {
        Self {
            team_id: t.team_id,
            name: t.name,
            manager_id: t.manager_id,
            window_ms: t.window_ms,
            rep_ids: t.rep_ids,
            policy: t.policy.map(Into::into),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepView {
    pub rep_id: String,
    pub name: String,
    pub team_id: String,
    pub open_offers: i32,
    pub assigned_leads: i32,
    /// `available` or `away`.
    pub availability: String,
    pub rank: i32,
    /// 0: no cap.
    pub capacity: i32,
    pub consecutive_expiries: i32,
    /// Within working hours now.
    pub on_shift: bool,
    /// Lead tiers the rep takes (empty: all).
    pub tiers: Vec<String>,
    /// Lead countries the rep takes (empty: all).
    pub regions: Vec<String>,
}

impl From<wheel::Rep> for RepView {
    fn from(r: wheel::Rep) -> Self {
        Self {
            rep_id: r.rep_id,
            name: r.name,
            team_id: r.team_id,
            open_offers: r.open_offers,
            assigned_leads: r.assigned_leads,
            availability: r.availability,
            rank: r.rank,
            capacity: r.capacity,
            consecutive_expiries: r.consecutive_expiries,
            on_shift: r.on_shift,
            tiers: r.tiers,
            regions: r.regions,
        }
    }
}

/// What the wheel shows of a lead (only to whoever may see it).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LeadSummaryView {
    pub lead_id: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub domain: String,
    pub tier: String,
    pub score: i32,
    pub source: String,
    pub created_at_ms: i64,
}

impl From<wheel::LeadSummary> for LeadSummaryView {
    fn from(l: wheel::LeadSummary) -> Self {
        Self {
            lead_id: l.lead_id,
            name: l.name,
            company: l.company,
            email: l.email,
            domain: l.domain,
            tier: l.tier,
            score: l.score,
            source: l.source,
            created_at_ms: l.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OfferView {
    pub offer_id: String,
    pub lead_id: String,
    pub team_id: String,
    pub rep_id: String,
    pub state: String,
    pub step: i32,
    pub opened_at_ms: i64,
    pub deadline_ms: i64,
    pub closed_at_ms: i64,
    pub reason: String,
    pub lead: Option<LeadSummaryView>,
}

impl From<wheel::Offer> for OfferView {
    fn from(o: wheel::Offer) -> Self {
        Self {
            offer_id: o.offer_id,
            lead_id: o.lead_id,
            team_id: o.team_id,
            rep_id: o.rep_id,
            state: offer_state(o.state),
            step: o.step,
            opened_at_ms: o.opened_at_ms,
            deadline_ms: o.deadline_ms,
            closed_at_ms: o.closed_at_ms,
            reason: o.reason,
            lead: o.lead.map(Into::into),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolLeadView {
    pub lead_id: String,
    pub team_id: String,
    pub pooled_at_ms: i64,
    pub lead: Option<LeadSummaryView>,
}

impl From<wheel::PoolLead> for PoolLeadView {
    fn from(p: wheel::PoolLead) -> Self {
        let lead: Option<LeadSummaryView> = p.lead.map(Into::into);
        Self {
            lead_id: lead.as_ref().map(|l| l.lead_id.clone()).unwrap_or_default(),
            team_id: p.team_id,
            pooled_at_ms: p.pooled_at_ms,
            lead,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoutingView {
    pub lead_id: String,
    pub team_id: String,
    pub state: String,
    pub owner_rep_id: String,
    pub offers: Vec<OfferView>,
}

impl From<wheel::GetLeadRoutingResponse> for RoutingView {
    fn from(r: wheel::GetLeadRoutingResponse) -> Self {
        Self {
            lead_id: r.lead_id,
            team_id: r.team_id,
            state: lead_state(r.state),
            owner_rep_id: r.owner_rep_id,
            offers: r.offers.into_iter().map(Into::into).collect(),
        }
    }
}

/// Intake's record of a lead.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeadView {
    pub lead_id: String,
    pub email: String,
    pub name: String,
    pub company: String,
    pub domain: String,
    pub phone: String,
    pub country: String,
    pub source: String,
    pub tier: String,
    pub score: i32,
    pub message: String,
    pub created_at_ms: i64,
}

impl From<intake::Lead> for LeadView {
    fn from(l: intake::Lead) -> Self {
        Self {
            lead_id: l.lead_id,
            email: l.email,
            name: l.name,
            company: l.company,
            domain: l.domain,
            phone: l.phone,
            country: l.country,
            source: l.source,
            tier: l.tier,
            score: l.score,
            message: l.message,
            created_at_ms: l.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InWorkView {
    pub lead_id: String,
    pub rep_id: String,
    pub team_id: String,
    pub status: String,
    pub claimed_at_ms: i64,
    pub opened_at_ms: i64,
}

impl From<opportunity::LeadInWork> for InWorkView {
    fn from(l: opportunity::LeadInWork) -> Self {
        Self {
            lead_id: l.lead_id,
            rep_id: l.rep_id,
            team_id: l.team_id,
            status: l.status,
            claimed_at_ms: l.claimed_at_ms,
            opened_at_ms: l.opened_at_ms,
        }
    }
}

/// `leads show`: the three services' views of one lead; absent parts are null.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeadDetail {
    pub lead_id: String,
    pub lead: Option<LeadView>,
    pub routing: Option<RoutingView>,
    pub in_work: Option<InWorkView>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub created: i64,
    pub offered: i64,
    pub claimed: i64,
    pub passed: i64,
    pub expired: i64,
    pub pooled: i64,
    pub in_work: i64,
}

impl From<Option<reporting::FunnelCounts>> for Counts {
    fn from(c: Option<reporting::FunnelCounts>) -> Self {
        let c = c.unwrap_or_default();
        Self {
            created: c.created,
            offered: c.offered,
            claimed: c.claimed,
            passed: c.passed,
            expired: c.expired,
            pooled: c.pooled,
            in_work: c.in_work,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TeamCounts {
    pub team_id: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepCounts {
    pub rep_id: String,
    pub team_id: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunnelView {
    /// Across all teams; left out when the report is one team's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Counts>,
    pub teams: Vec<TeamCounts>,
    pub reps: Vec<RepCounts>,
}

impl From<reporting::GetFunnelResponse> for FunnelView {
    fn from(f: reporting::GetFunnelResponse) -> Self {
        Self {
            total: Some(f.total.into()),
            teams: f
                .teams
                .into_iter()
                .map(|t| TeamCounts {
                    team_id: t.team_id,
                    counts: t.counts.into(),
                })
                .collect(),
            reps: f
                .reps
                .into_iter()
                .map(|r| RepCounts {
                    rep_id: r.rep_id,
                    team_id: r.team_id,
                    counts: r.counts.into(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_words() {
        assert_eq!(offer_state(wheel::OfferState::Expired as i32), "expired");
        assert_eq!(lead_state(wheel::LeadState::Pooled as i32), "pooled");
        assert_eq!(claimed_via(wheel::ClaimedVia::Pool as i32), "pool");
        assert_eq!(offer_state(99), "unknown(99)");
    }

    #[test]
    fn json_field_names_are_stable() {
        let rep = RepView::from(wheel::Rep {
            rep_id: "ana".into(),
            name: "Ana Lima".into(),
            team_id: "demo".into(),
            open_offers: 1,
            assigned_leads: 2,
            availability: "away".into(),
            rank: 3,
            capacity: 5,
            consecutive_expiries: 1,
            on_shift: true,
            tiers: vec!["A".into()],
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(&rep).unwrap(),
            serde_json::json!({"rep_id":"ana","name":"Ana Lima","team_id":"demo","open_offers":1,"assigned_leads":2,
                "availability":"away","rank":3,"capacity":5,"consecutive_expiries":1,
                "on_shift":true,"tiers":["A"],"regions":[]})
        );
        let offer = OfferView::from(wheel::Offer {
            lead_id: "L1".into(),
            state: wheel::OfferState::Open as i32,
            deadline_ms: 42,
            ..Default::default()
        });
        let json = serde_json::to_value(&offer).unwrap();
        assert_eq!(json["state"], "open");
        assert_eq!(json["deadline_ms"], 42);
        assert!(json["lead"].is_null());
    }
}

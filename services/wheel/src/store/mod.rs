//! The wheel's store: every query lives here, so handlers never see SQL.
//! Functions taking `&mut AnyConnection` run inside the caller's
//! transaction (`&mut *tx`) or on a pooled connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use leadwheel_wheel_core::{
    Eligibility, LeadFacts, LeadRouting, Member, Millis, NoEligible, Phase, Rotation,
    RotationState, Schedule, Skills, SkipReason, TeamChoice, TeamConfig, phase_name,
};
use serde::{Deserialize, Serialize};

use crate::error::WheelError;

pub mod batch;
mod erasure;
mod leads;
pub mod lease;
mod ledger;
mod offers;
mod reps;
mod routing;
mod teams;

pub use erasure::*;
pub use leads::*;
pub use ledger::*;
pub use offers::*;
pub use reps::*;
pub use routing::*;
pub use teams::*;

/// Marks a point inside the caller's transaction that
/// [`rollback_to_savepoint`] returns to (one transition of a chunk).
pub async fn savepoint(conn: &mut sqlx::AnyConnection) -> Result<(), WheelError> {
    sqlx::query("SAVEPOINT lw_transition")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Undoes what the transaction did since [`savepoint`].
pub async fn rollback_to_savepoint(conn: &mut sqlx::AnyConnection) -> Result<(), WheelError> {
    sqlx::query("ROLLBACK TO SAVEPOINT lw_transition")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Keeps what the transaction did since [`savepoint`].
pub async fn release_savepoint(conn: &mut sqlx::AnyConnection) -> Result<(), WheelError> {
    sqlx::query("RELEASE SAVEPOINT lw_transition")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The stored name of a phase.
pub fn state_name(phase: &Phase) -> &'static str {
    phase_name(phase)
}

/// Circuit breaker default: consecutive expiries before a rep is set away.
pub const DEFAULT_BREAKER_EXPIRIES: i64 = 3;

/// A team's routing policy, stored as JSON. Missing fields are defaults,
/// so policies written by older versions still load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPolicy {
    #[serde(default)]
    pub tier_windows: BTreeMap<String, Millis>,
    #[serde(default)]
    pub rotation: Rotation,
    #[serde(default)]
    pub ability_order_tiers: Vec<String>,
    #[serde(default)]
    pub pool_timeout_ms: Option<Millis>,
    #[serde(default)]
    pub chain_budget_ms: Option<Millis>,
    #[serde(default)]
    pub window_floor_ms: Option<Millis>,
    #[serde(default)]
    pub no_eligible: NoEligible,
    /// Consecutive expiries before the circuit breaker sets a rep away;
    /// None means the default, 0 means never.
    #[serde(default)]
    pub breaker_expiries: Option<i64>,
    /// Reasons a rep may give for a pass; empty means any text.
    #[serde(default)]
    pub pass_reasons: Vec<String>,
}

impl TeamPolicy {
    pub fn breaker_expiries(&self) -> i64 {
        self.breaker_expiries.unwrap_or(DEFAULT_BREAKER_EXPIRIES)
    }
}

/// A team and its ring.
#[derive(Clone, Debug)]
pub struct TeamRow {
    pub team_id: String,
    pub name: String,
    pub manager_id: String,
    pub window_ms: i64,
    pub policy: TeamPolicy,
    /// The round-robin standing, owned by the pure core.
    pub rotation: RotationState,
    /// Bumped on every rotation change, for conditional updates.
    pub rotation_version: i64,
    /// Bumped on every roster change (see [`crate::engine::RosterCache`]).
    pub roster_version: i64,
    /// Member rep ids in ring order (shared with the roster they were
    /// read from, so a transition copies no team-sized data).
    pub ring: Arc<[String]>,
    /// Ranks of the members (for ability order).
    pub ranks: Arc<BTreeMap<String, i32>>,
}

impl TeamRow {
    /// What the pure core needs.
    pub fn config(&self) -> TeamConfig {
        let mut config = TeamConfig::new(self.team_id.clone(), Vec::new(), self.window_ms);
        config.ring = self.ring.clone();
        config.tier_windows = self.policy.tier_windows.clone();
        config.rotation = self.policy.rotation;
        config.ability_order_tiers = self.policy.ability_order_tiers.clone();
        config.ranks = self.ranks.clone();
        config.pool_timeout_ms = self.policy.pool_timeout_ms;
        config.chain_budget_ms = self.policy.chain_budget_ms;
        if let Some(floor) = self.policy.window_floor_ms {
            config.window_floor_ms = floor;
        }
        config.no_eligible = self.policy.no_eligible;
        config
    }
}

/// A rep with their live load.
#[derive(Clone, Debug)]
pub struct RepRow {
    pub rep_id: String,
    pub name: String,
    pub team_id: Option<String>,
    pub open_offers: i64,
    pub assigned_leads: i64,
    pub availability: String,
    pub rank: i64,
    pub capacity: i64,
    pub consecutive_expiries: i64,
    pub schedule: Schedule,
    pub skills: Skills,
}

/// A team's members as routing judges them: each rep as the core's
/// [`Member`] (availability, compiled working hours, skills, capacity),
/// with the ring order. Built once per roster version and shared by every
/// decision until the roster changes.
#[derive(Debug, Default)]
pub struct Roster {
    /// Member rep ids in ring order.
    pub ring: Arc<[String]>,
    /// The members' ranks (for ability order).
    pub ranks: Arc<BTreeMap<String, i32>>,
    members: HashMap<String, Member>,
}

impl Roster {
    pub fn new(reps: Vec<RepRow>) -> Self {
        let ring = reps.iter().map(|rep| rep.rep_id.clone()).collect();
        let ranks = reps
            .iter()
            .map(|rep| (rep.rep_id.clone(), rep.rank as i32))
            .collect();
        let members = reps
            .into_iter()
            .map(|rep| {
                let member = Member {
                    away: rep.availability == "away",
                    // A schedule that no longer compiles (e.g. a time zone
                    // removed from the database) counts as off shift.
                    shift: rep.schedule.compile().ok(),
                    skills: rep.skills,
                    capacity: rep.capacity,
                };
                (rep.rep_id, member)
            })
            .collect();
        Self {
            ring,
            ranks: Arc::new(ranks),
            members,
        }
    }

    /// Puts this roster's ring and ranks on `team` (read without them).
    pub fn fill(&self, team: &mut TeamRow) {
        team.ring = self.ring.clone();
        team.ranks = self.ranks.clone();
    }

    /// The members with a capacity cap, whose load must be read fresh.
    pub fn capped(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|(_, member)| member.capacity > 0)
            .map(|(rep_id, _)| rep_id.as_str())
    }
}

/// Whether each rep of a team may be offered a given lead now, judged by
/// the core ([`Member::check`]) on the roster and the loads (assigned
/// leads plus offers in flight) read at the start of the transaction.
#[derive(Clone, Debug, Default)]
pub struct TeamEligibility {
    roster: Arc<Roster>,
    /// Open offers plus leads in work, of the capped reps only.
    loads: HashMap<String, i64>,
    /// The lead's country, for region matching.
    country: String,
}

impl TeamEligibility {
    pub fn new(roster: Arc<Roster>, loads: HashMap<String, i64>, country: &str) -> Self {
        Self {
            roster,
            loads,
            country: country.to_string(),
        }
    }
}

impl Eligibility for TeamEligibility {
    fn check(&self, rep: &str, tier: &str, now: Millis) -> Result<(), SkipReason> {
        let Some(member) = self.roster.members.get(rep) else {
            return Err(SkipReason::Left);
        };
        let lead = LeadFacts {
            tier,
            country: &self.country,
        };
        member.check(lead, self.loads.get(rep).copied().unwrap_or(0), now)
    }
}

/// The lead details a rep sees.
#[derive(Clone, Debug, Default)]
pub struct LeadDetails {
    pub lead_id: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub domain: String,
    pub tier: String,
    pub score: i64,
    pub source: String,
    pub lead_created_at_ms: i64,
}

/// A lead being routed.
#[derive(Clone, Debug)]
pub struct LeadRow {
    pub team_id: String,
    pub state: String,
    pub owner_rep_id: Option<String>,
    pub routing: LeadRouting,
    pub version: i64,
    pub details: LeadDetails,
    pub traceparent: Option<String>,
    pub pooled_at_ms: Option<i64>,
    /// The lead's country (ISO code, may be empty), for region matching.
    pub country: String,
    /// How the lead's team was chosen (None for leads routed before rules).
    pub routed_by: Option<TeamChoice>,
}

impl LeadRow {
    /// What the pure core needs to route this lead in `team`: the team's
    /// policy with the override of the rule that chose the team, if any
    /// (and only while the lead is still in that team).
    pub fn config_in(&self, team: &TeamRow) -> TeamConfig {
        let mut config = team.config();
        if let Some(TeamChoice::Rule {
            team_id,
            policy_override,
            ..
        }) = &self.routed_by
            && *team_id == team.team_id
        {
            policy_override.apply(&mut config);
        }
        config
    }
}

/// An offer.
#[derive(Clone, Debug)]
pub struct OfferRow {
    pub offer_id: String,
    pub lead_id: String,
    pub offer_no: i64,
    pub team_id: String,
    pub rep_id: String,
    pub state: String,
    pub opened_at_ms: i64,
    pub deadline_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub reason: Option<String>,
}

/// A routing-ledger entry.
#[derive(Clone, Debug)]
pub struct LedgerEntry<'a> {
    pub lead_id: &'a str,
    pub kind: &'a str,
    pub rep_id: Option<&'a str>,
    pub offer_no: Option<i64>,
    pub detail: String,
    pub at_ms: i64,
}

//! The wheel's state, inputs, effects and errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Epoch milliseconds.
pub type Millis = i64;

/// How a team picks the first rep for a lead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// Plain round robin of first looks: the rep who had a first look
    /// longest ago (or never) goes first, so first looks spread evenly.
    #[default]
    RoundRobin,
    /// Strongest rank first (e.g. for top-tier leads).
    AbilityOrder,
}

/// What happens to a new lead when no rep may be offered it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEligible {
    /// Wait, and offer it as soon as someone becomes eligible.
    #[default]
    Wait,
    /// Put it in the open pool at once.
    Pool,
}

/// Shortest window a chain budget may shrink an offer to, by default.
pub const DEFAULT_WINDOW_FLOOR_MS: Millis = 10_000;

/// What the core needs of a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamConfig {
    /// Team id.
    pub team_id: String,
    /// Member reps in ring order (shared: a team's ring is read by every
    /// transition and changes only with its roster).
    pub ring: Arc<[String]>,
    /// How long each offer stays exclusive.
    pub window_ms: Millis,
    /// Windows for particular lead tiers, overriding `window_ms`.
    pub tier_windows: BTreeMap<String, Millis>,
    /// How first looks are given.
    pub rotation: Rotation,
    /// Lead tiers routed strongest-first whatever `rotation` says.
    pub ability_order_tiers: Vec<String>,
    /// Rep ranks for ability order (higher is stronger; missing is 0).
    pub ranks: Arc<BTreeMap<String, i32>>,
    /// How long a lead may sit in the pool before it escalates to the manager.
    pub pool_timeout_ms: Option<Millis>,
    /// Total time from first offer to claim; later windows shrink to fit.
    pub chain_budget_ms: Option<Millis>,
    /// No window shrinks below this.
    pub window_floor_ms: Millis,
    /// What a new lead does when nobody is eligible.
    pub no_eligible: NoEligible,
}

impl TeamConfig {
    /// A team with default policies.
    pub fn new(team_id: impl Into<String>, ring: Vec<String>, window_ms: Millis) -> Self {
        Self {
            team_id: team_id.into(),
            ring: ring.into(),
            window_ms,
            tier_windows: BTreeMap::new(),
            rotation: Rotation::RoundRobin,
            ability_order_tiers: Vec::new(),
            ranks: Arc::default(),
            pool_timeout_ms: None,
            chain_budget_ms: None,
            window_floor_ms: DEFAULT_WINDOW_FLOOR_MS,
            no_eligible: NoEligible::Wait,
        }
    }

    /// The window for a lead of `tier`.
    pub fn window_for(&self, tier: &str) -> Millis {
        self.tier_windows
            .get(tier)
            .copied()
            .unwrap_or(self.window_ms)
    }

    /// The rotation used for a lead of `tier`.
    pub fn rotation_for(&self, tier: &str) -> Rotation {
        if self.ability_order_tiers.iter().any(|t| t == tier) {
            Rotation::AbilityOrder
        } else {
            self.rotation
        }
    }
}

/// A team's standing in the round robin of first looks. It is keyed by rep,
/// not by ring position, so reps joining or leaving do not reset anyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    /// Counts first looks given by round robin.
    #[serde(default)]
    pub seq: u64,
    /// For each rep, the `seq` of their last first look (or of the turn
    /// they lost by being away). A rep with no entry never had one and
    /// goes first.
    #[serde(default)]
    pub last_turn: BTreeMap<String, u64>,
}

impl RotationState {
    /// Ordering key: who had their turn longest ago goes first.
    pub fn standing(&self, rep: &str) -> i128 {
        self.last_turn.get(rep).map(|&s| s as i128).unwrap_or(-1)
    }
}

/// A new lead, as the core sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLead {
    /// Lead id.
    pub lead_id: String,
    /// Tier label ("" when unscored).
    pub tier: String,
    /// The account owner to route straight to, when the service found an
    /// active one.
    pub owner_hint: Option<String>,
}

/// Where a lead is in its routing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// No rep could be offered the lead yet (nobody eligible, or no ring).
    Waiting {
        /// Since when.
        #[serde(default)]
        since: Millis,
    },
    /// Exclusively offered to `rep` until `deadline`.
    Offered {
        /// The rep who alone may claim it.
        rep: String,
        /// Sequence number of this offer for the lead (1-based).
        offer_no: u32,
        /// When the offer lapses.
        deadline: Millis,
    },
    /// Claimed: `rep` owns the lead.
    Assigned {
        /// The owner.
        rep: String,
    },
    /// In the team's open pool since `since`.
    Pooled {
        /// When it was pooled.
        since: Millis,
        /// When it escalates to the manager, if the team has a pool timeout.
        #[serde(default)]
        escalate_at: Option<Millis>,
    },
    /// Left in the pool past the timeout: the manager was alerted. Team
    /// members may still claim it; the manager may assign it.
    Escalated {
        /// When it was pooled.
        since: Millis,
    },
    /// Taken out of routing by a manager.
    Withdrawn,
}

/// A lead's routing state: everything [`crate::step`] needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadRouting {
    /// Lead id.
    pub lead_id: String,
    /// The team routing it.
    pub team_id: String,
    /// Where it is.
    pub phase: Phase,
    /// The order of this lap (the ring rotated to the first look).
    pub lap_order: Vec<String>,
    /// Index in `lap_order` of the current or last offered rep.
    pub position: usize,
    /// Reps offered this lead in this lap, in order.
    pub offered: Vec<String>,
    /// Offers made so far.
    pub offers_made: u32,
    /// When the first offer opened.
    pub first_offer_at: Option<Millis>,
    /// The lead's tier.
    #[serde(default)]
    pub tier: String,
    /// Which walk round the ring this is (1-based; a requeue starts another).
    #[serde(default = "one")]
    pub lap: u32,
}

fn one() -> u32 {
    1
}

impl LeadRouting {
    /// True once the lead has an owner, sits in the pool, was escalated or
    /// withdrawn: nothing more happens to it without a person acting.
    pub fn is_settled(&self) -> bool {
        matches!(
            self.phase,
            Phase::Assigned { .. }
                | Phase::Pooled { .. }
                | Phase::Escalated { .. }
                | Phase::Withdrawn
        )
    }
}

/// Something that happened to a lead. Serialisable: a replica forwards
/// a rep's or manager's input to the holder of the writer's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// A rep claims the lead (their offer, or from the pool).
    Claim {
        /// Who claims.
        rep: String,
    },
    /// The offered rep passes.
    Pass {
        /// Who passes.
        rep: String,
        /// Why.
        reason: String,
    },
    /// The timer for offer `offer_no` fired.
    Expire {
        /// Which offer the timer was for.
        offer_no: u32,
    },
    /// Someone may have become eligible: a waiting lead tries again.
    Retry,
    /// The pool timeout may have passed.
    EscalationDue,
    /// A manager gives the lead to `rep` (withdrawing any open offer).
    AssignDirect {
        /// The new owner.
        rep: String,
    },
    /// A manager puts the lead round the wheel again, in a new lap.
    Requeue,
    /// A manager takes the lead out of routing.
    Withdraw,
    /// The owner's work was handed back (a leaving rep's handover): the
    /// lead goes round the wheel again in a new lap that skips the
    /// previous owner.
    Return,
    /// The owner disqualified the lead back into the team's open pool,
    /// for another member to try.
    ReturnToPool,
}

/// How an offer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    /// The rep claimed it.
    Claimed,
    /// The rep passed.
    Passed,
    /// The window lapsed.
    Expired,
    /// A manager withdrew it.
    Withdrawn,
}

impl OfferOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Passed => "passed",
            Self::Expired => "expired",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// Why a rep was passed over without an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Already offered this lead in this lap.
    AlreadyOffered,
    /// Set away.
    Away,
    /// Outside working hours.
    OffShift,
    /// Open leads plus offers in flight at the cap.
    AtCapacity,
    /// Tier or skill does not match.
    Mismatch,
    /// No longer on the team.
    Left,
}

impl SkipReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyOffered => "already_offered",
            Self::Away => "away",
            Self::OffShift => "off_shift",
            Self::AtCapacity => "at_capacity",
            Self::Mismatch => "mismatch",
            Self::Left => "left",
        }
    }
}

/// How a lead got its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignedVia {
    /// Claimed during the rep's exclusive offer.
    Offer,
    /// Claimed from the open pool.
    Pool,
    /// Given by a manager.
    Direct,
    /// Routed straight to the account's owner.
    AccountOwner,
}

/// What the service must do to carry out a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Record that `rep` was passed over.
    Skip {
        /// Who.
        rep: String,
        /// Why.
        reason: SkipReason,
    },
    /// Open an exclusive offer.
    OpenOffer {
        /// To whom.
        rep: String,
        /// The lead's offer sequence number.
        offer_no: u32,
        /// When it lapses.
        deadline: Millis,
        /// True for the lead's first offer.
        first_look: bool,
    },
    /// Close the open offer.
    CloseOffer {
        /// Whose offer.
        rep: String,
        /// Which offer.
        offer_no: u32,
        /// How it ended.
        outcome: OfferOutcome,
        /// The pass reason, if any.
        reason: Option<String>,
    },
    /// The lead has an owner.
    Assign {
        /// The owner.
        rep: String,
        /// How.
        via: AssignedVia,
        /// The claimed offer, when via an offer.
        offer_no: Option<u32>,
    },
    /// The lead goes to the open pool.
    Pool {
        /// Why: every eligible rep had their turn, nobody was eligible, or
        /// the chain budget was spent.
        reason: PoolReason,
    },
    /// The lead waits for a rep to become eligible.
    Wait,
    /// The lead sat in the pool past the timeout: alert the manager.
    Escalate,
    /// The lead's owner changed from `from` to `to` (a manager's reassignment).
    Reassign {
        /// The previous owner.
        from: String,
        /// The new owner.
        to: String,
    },
    /// The lead left routing (a manager withdrew it).
    Withdraw,
    /// The lead starts a new lap.
    Requeue {
        /// The new lap number.
        lap: u32,
    },
}

/// Why a lead went to the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolReason {
    /// Every eligible rep passed or let the window lapse.
    LapDone,
    /// Nobody was eligible and the team pools rather than waits.
    NoneEligible,
    /// The chain budget was spent.
    BudgetSpent,
    /// The owner handed it back to the pool (a disqualification).
    Returned,
}

impl PoolReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LapDone => "lap_done",
            Self::NoneEligible => "none_eligible",
            Self::BudgetSpent => "budget_spent",
            Self::Returned => "returned",
        }
    }
}

/// The new state of a lead and what to do about it. Serialisable: the
/// holder of the writer's lease sends it back for a forwarded input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The lead's state after the input.
    pub lead: LeadRouting,
    /// Effects in the order they happened.
    pub effects: Vec<Effect>,
    /// The team's new rotation standing, when this decision changed it.
    pub rotation: Option<RotationState>,
}

/// Why an input was refused. A refused input changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The lead is offered exclusively to someone else.
    #[error("lead {lead_id} is offered to another rep until its deadline")]
    NotYourOffer {
        /// The lead.
        lead_id: String,
    },
    /// The rep's own offer of this lead already ended (it lapsed, or they
    /// passed) and the lead has moved on to someone else.
    #[error("the offer of lead {lead_id} to {rep} has already ended")]
    OfferEnded {
        /// The lead.
        lead_id: String,
        /// The rep.
        rep: String,
    },
    /// The offer's deadline has passed.
    #[error("the offer of lead {lead_id} to {rep} expired at {deadline}")]
    OfferExpired {
        /// The lead.
        lead_id: String,
        /// The rep.
        rep: String,
        /// When it expired.
        deadline: Millis,
    },
    /// The lead already has an owner.
    #[error("lead {lead_id} is already assigned")]
    AlreadyAssigned {
        /// The lead.
        lead_id: String,
        /// Its owner.
        owner: String,
    },
    /// The rep is not a member of the team whose pool holds the lead.
    #[error("rep {rep} is not on team {team_id}")]
    NotTeamMember {
        /// The rep.
        rep: String,
        /// The team.
        team_id: String,
    },
    /// Pass is only for the rep holding the open offer.
    #[error("lead {lead_id} has no open offer for {rep}")]
    NoOpenOffer {
        /// The lead.
        lead_id: String,
        /// The rep.
        rep: String,
    },
    /// An expiry for an offer that is no longer the open one.
    #[error("offer {offer_no} of lead {lead_id} is no longer open")]
    StaleTimer {
        /// The lead.
        lead_id: String,
        /// The offer the timer was for.
        offer_no: u32,
    },
    /// The input does not apply in the lead's current phase.
    #[error("lead {lead_id} is {phase}: cannot {action}")]
    WrongPhase {
        /// The lead.
        lead_id: String,
        /// Its phase.
        phase: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// An expiry before the deadline.
    #[error("offer {offer_no} of lead {lead_id} is not due until {deadline}")]
    NotDue {
        /// The lead.
        lead_id: String,
        /// The offer.
        offer_no: u32,
        /// Its deadline.
        deadline: Millis,
    },
}

//! The wheel's state, inputs, effects and errors.

use serde::{Deserialize, Serialize};

/// Epoch milliseconds.
pub type Millis = i64;

/// What the core needs of a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamConfig {
    /// Team id.
    pub team_id: String,
    /// Member reps in ring order.
    pub ring: Vec<String>,
    /// How long each offer stays exclusive.
    pub window_ms: Millis,
}

/// Where a lead is in its routing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// No rep could be offered the lead yet (e.g. an empty ring).
    Waiting,
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
    },
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
}

impl LeadRouting {
    /// True once the lead has an owner or sits in the pool.
    pub fn is_settled(&self) -> bool {
        matches!(self.phase, Phase::Assigned { .. } | Phase::Pooled { .. })
    }
}

/// Something that happened to a lead.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl OfferOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Passed => "passed",
            Self::Expired => "expired",
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
}

/// What the service must do to carry out a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    Pool,
}

/// The new state of a lead and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The lead's state after the input.
    pub lead: LeadRouting,
    /// Effects in the order they happened.
    pub effects: Vec<Effect>,
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

//! A scenario to simulate and the raw facts a run leaves.

use std::collections::BTreeMap;

use leadwheel_wheel_core::{Millis, TeamConfig};

use super::model::{Dist, RepModel};
use super::signups::Signup;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub team: TeamConfig,
    pub reps: Vec<RepModel>,
    pub signups: Vec<Signup>,
    /// Time from pooling until an on-shift rep claims from the pool.
    pub pool_claim: Dist,
    pub seed: u64,
}

/// What happened to one lead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFacts {
    pub signup_at: Millis,
    pub first_offer_at: Option<Millis>,
    pub offers: u32,
    pub assigned_at: Option<Millis>,
    pub owner: Option<String>,
    /// The offer that was claimed; None when claimed from the pool.
    pub claimed_offer_no: Option<u32>,
    pub pooled_at: Option<Millis>,
    pub pool_reason: Option<&'static str>,
    pub escalated: bool,
}

/// What happened to one rep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepFacts {
    pub offers: u64,
    pub first_looks: u64,
    pub claims: u64,
    pub pool_claims: u64,
    pub passes: u64,
    pub expiries: u64,
    pub skips: BTreeMap<String, u64>,
}

/// The raw result of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub leads: Vec<LeadFacts>,
    pub reps: Vec<(String, RepFacts)>,
}

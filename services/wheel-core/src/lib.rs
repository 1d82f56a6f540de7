//! The pure routing core of the claim wheel.
//!
//! Everything here is a function of its arguments: no I/O, no clock (the
//! caller passes `now`), no randomness. Besides the transitions it holds
//! eligibility ([`Member::check`]: availability, working hours as a
//! [`Shift`], [`Skills`], capacity), so the service and the simulator skip
//! reps for the same reasons. The wheel service wraps it with the
//! store, the timers and the bus; property tests and the simulator drive it
//! directly. The shape is `(state, input, now) -> (state, effects)`:
//! [`start`] routes a new lead, [`step`] applies a claim, a pass or an
//! expiry to a lead's [`LeadRouting`] and returns a [`Decision`].
//!
//! A lead's lap is fixed when it starts: the team's ring rotated so the rep
//! under the rotation cursor comes first. The wheel offers the lead to one
//! eligible rep at a time along that order; a pass or an expiry moves to the
//! next; after the last, the lead goes to the team's open pool, where any
//! member may claim it.

mod eligibility;
mod routing;
mod schedule;
mod team_rules;
mod types;

pub use eligibility::{LeadFacts, Member};
pub use jiff::tz::TimeZone;
pub use routing::{Eligibility, EveryoneEligible, phase_name, start, step};
pub use schedule::{Schedule, Shift, Skills, fixed_zone, parse_timestamp};
pub use team_rules::{
    LeadAttributes, MAX_RULE_WINDOW_MS, MAX_RULES, MIN_RULE_WINDOW_MS, PolicyOverride, RuleError,
    RuleMatch, RuleVerdict, TeamChoice, TeamRule, TeamRules, check_rules, choose_team, judge_rules,
};
pub use types::*;

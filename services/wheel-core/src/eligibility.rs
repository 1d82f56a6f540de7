//! Who may be offered a lead now: availability, working hours, tiers and
//! regions, and capacity. The wheel service judges its stored reps with
//! [`Member::check`] and `leadctl simulate` its modelled ones, so both skip
//! a rep for the same reasons; each answers the core's [`crate::Eligibility`]
//! by looking the rep up and calling it.

use crate::schedule::{Shift, Skills};
use crate::types::{Millis, SkipReason};

/// What routing needs to know about one member of a team.
#[derive(Clone, Debug)]
pub struct Member {
    /// Set away (by themselves, a manager or the circuit breaker).
    pub away: bool,
    /// Working hours; None when the rep has none that can be judged (a
    /// stored schedule that no longer compiles), which counts as off shift.
    pub shift: Option<Shift>,
    /// Tiers and regions taken.
    pub skills: Skills,
    /// Open offers plus leads in work at which the rep is skipped; 0 for no cap.
    pub capacity: i64,
}

/// The lead being routed, as eligibility sees it.
#[derive(Clone, Copy, Debug)]
pub struct LeadFacts<'a> {
    /// Its tier.
    pub tier: &'a str,
    /// Its country (ISO code, may be empty).
    pub country: &'a str,
}

impl Member {
    /// Ok when the member may be offered `lead` at `now` carrying `load`
    /// (open offers plus leads in work), else the first reason they may
    /// not, checked in this order: away, off shift, tier or region,
    /// capacity.
    pub fn check(&self, lead: LeadFacts<'_>, load: i64, now: Millis) -> Result<(), SkipReason> {
        if self.away {
            return Err(SkipReason::Away);
        }
        if !self.shift.as_ref().is_some_and(|shift| shift.on_shift(now)) {
            return Err(SkipReason::OffShift);
        }
        if !self.skills.takes(lead.tier, lead.country) {
            return Err(SkipReason::Mismatch);
        }
        if self.capacity > 0 && load >= self.capacity {
            return Err(SkipReason::AtCapacity);
        }
        Ok(())
    }
}

//! Who may be offered a lead in the simulation: the core's own eligibility
//! ([`Member::check`], which the wheel service also uses), answered from
//! the modelled reps and their simulated load.

use std::collections::BTreeMap;

use leadwheel_wheel_core::{Eligibility, LeadFacts, Member, Millis, Shift, Skills, SkipReason};

use super::model::RepModel;

/// What changes about a rep as the simulation runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepLoad {
    /// Claimed leads still in work.
    pub in_work: u32,
    /// Offers open to them now.
    pub open_offers: u32,
}

/// A modelled rep as the core judges them. Simulated reps are never set
/// away and take leads from any country (signups carry none).
pub fn member(model: &RepModel) -> Member {
    Member {
        away: false,
        shift: Some(model.shift.clone().unwrap_or_else(Shift::always)),
        skills: Skills {
            tiers: model.tiers.clone(),
            regions: Vec::new(),
        },
        capacity: i64::from(model.capacity),
    }
}

/// The reps, as the core asks about them.
pub struct Roster<'a> {
    pub members: &'a [Member],
    pub load: &'a [RepLoad],
    pub index: &'a BTreeMap<String, usize>,
}

impl Eligibility for Roster<'_> {
    fn check(&self, rep: &str, tier: &str, now: Millis) -> Result<(), SkipReason> {
        let Some(&i) = self.index.get(rep) else {
            return Err(SkipReason::Left);
        };
        let load = self.load[i];
        let lead = LeadFacts { tier, country: "" };
        self.members[i].check(lead, i64::from(load.in_work + load.open_offers), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::model::Dist;
    use leadwheel_wheel_core::TimeZone;

    #[test]
    fn shift_tier_and_capacity() {
        let rep = |id: &str| RepModel {
            id: id.into(),
            claim_prob: 1.0,
            response: Dist::Never,
            shift: None,
            capacity: 0,
            work_ms: 1,
            rank: 0,
            tiers: Vec::new(),
        };
        let mut ana = rep("ana");
        ana.shift = Some(Shift::daily("09:00-17:00", "daily", TimeZone::UTC).unwrap());
        let mut ben = rep("ben");
        ben.tiers = vec!["A".into()];
        ben.capacity = 2;
        let members: Vec<Member> = [ana, ben].iter().map(member).collect();
        let load = vec![
            RepLoad::default(),
            RepLoad {
                in_work: 1,
                open_offers: 1,
            },
        ];
        let index = BTreeMap::from([("ana".to_string(), 0), ("ben".to_string(), 1)]);
        let roster = Roster {
            members: &members,
            load: &load,
            index: &index,
        };
        let nine = 9 * 3_600_000;
        assert_eq!(roster.check("ana", "A", nine), Ok(()));
        assert_eq!(roster.check("ana", "A", 0), Err(SkipReason::OffShift));
        assert_eq!(roster.check("ben", "B", nine), Err(SkipReason::Mismatch));
        assert_eq!(roster.check("ben", "A", nine), Err(SkipReason::AtCapacity));
        assert_eq!(roster.check("zed", "A", nine), Err(SkipReason::Left));
    }
}

//! Who may be offered a lead in the simulation: the same [`Eligibility`]
//! the wheel service gives the core, answered from the modelled reps.

use std::collections::BTreeMap;

use leadwheel_wheel_core::{Eligibility, Millis, SkipReason};

use super::model::RepModel;

/// What changes about a rep as the simulation runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepLoad {
    /// Claimed leads still in work.
    pub in_work: u32,
    /// Offers open to them now.
    pub open_offers: u32,
}

/// The reps, as the core asks about them.
pub struct Roster<'a> {
    pub models: &'a [RepModel],
    pub load: &'a [RepLoad],
    pub index: &'a BTreeMap<String, usize>,
}

impl Eligibility for Roster<'_> {
    fn check(&self, rep: &str, tier: &str, now: Millis) -> Result<(), SkipReason> {
        let Some(&i) = self.index.get(rep) else {
            return Err(SkipReason::Left);
        };
        let model = &self.models[i];
        if model.shift.as_ref().is_some_and(|s| !s.is_on(now)) {
            return Err(SkipReason::OffShift);
        }
        if !model.tiers.is_empty() && !model.tiers.iter().any(|t| t == tier) {
            return Err(SkipReason::Mismatch);
        }
        let load = self.load[i];
        if model.capacity > 0 && load.in_work + load.open_offers >= model.capacity {
            return Err(SkipReason::AtCapacity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::model::Dist;
    use crate::simulate::time::Shift;

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
        ana.shift = Some(Shift::parse("09:00-17:00", "daily", 0).unwrap());
        let mut ben = rep("ben");
        ben.tiers = vec!["A".into()];
        ben.capacity = 2;
        let models = vec![ana, ben];
        let load = vec![
            RepLoad::default(),
            RepLoad {
                in_work: 1,
                open_offers: 1,
            },
        ];
        let index = BTreeMap::from([("ana".to_string(), 0), ("ben".to_string(), 1)]);
        let roster = Roster {
            models: &models,
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

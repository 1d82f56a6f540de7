//! Working hours and skills: when a rep is on shift (in their own time
//! zone, daylight saving included) and which leads they take.

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Weekly hours as stored (JSON). No hours means always on shift.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default)]
    pub time_zone: String,
    /// (day, from, to) with day `mon`..`sun` and times `HH:MM`.
    #[serde(default)]
    pub hours: Vec<(String, String, String)>,
    #[serde(default)]
    pub days_off: Vec<String>,
}

/// Which leads a rep takes, as stored (JSON). Empty lists mean all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skills {
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Skills {
    /// True when the rep takes a lead of `tier` from `country`.
    pub fn takes(&self, tier: &str, country: &str) -> bool {
        let tier_ok =
            self.tiers.is_empty() || self.tiers.iter().any(|t| t.eq_ignore_ascii_case(tier));
        let region_ok =
            self.regions.is_empty() || self.regions.iter().any(|r| r.eq_ignore_ascii_case(country));
        tier_ok && region_ok
    }
}

/// A schedule checked and ready to answer "on shift at this instant?".
#[derive(Clone, Debug)]
pub struct Shift {
    zone: TimeZone,
    /// Minutes-of-day ranges per weekday, Monday first.
    weekly: [Vec<(i32, i32)>; 7],
    days_off: HashSet<Date>,
    always: bool,
}

fn weekday_index(day: &str) -> Option<usize> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| d.eq_ignore_ascii_case(day))
}

fn minutes(text: &str) -> Result<i32, String> {
    if text == "24:00" {
        return Ok(24 * 60);
    }
    let time: Time = text
        .parse()
        .map_err(|_| format!("{text:?} is not a time (HH:MM)"))?;
    Ok(time.hour() as i32 * 60 + time.minute() as i32)
}

impl Schedule {
    /// Checks the schedule; the error names what is wrong.
    pub fn compile(&self) -> Result<Shift, String> {
        if self.hours.is_empty() && self.days_off.is_empty() {
            return Ok(Shift {
                zone: TimeZone::UTC,
                weekly: Default::default(),
                days_off: HashSet::new(),
                always: true,
            });
        }
        if self.hours.len() > 50 || self.days_off.len() > 400 {
            return Err(
                "too many entries (at most 50 working-hour ranges and 400 days off)".into(),
            );
        }
        let zone = TimeZone::get(&self.time_zone)
            .map_err(|_| format!("unknown time zone {:?}", self.time_zone))?;
        let mut weekly: [Vec<(i32, i32)>; 7] = Default::default();
        for (day, from, to) in &self.hours {
            let index =
                weekday_index(day).ok_or_else(|| format!("{day:?} is not a day (mon..sun)"))?;
            let (from_min, to_min) = (minutes(from)?, minutes(to)?);
            if to_min <= from_min {
                return Err(format!(
                    "{day} {from}-{to}: the end must be after the start"
                ));
            }
            weekly[index].push((from_min, to_min));
        }
        let mut days_off = HashSet::new();
        for day in &self.days_off {
            days_off.insert(
                day.parse::<Date>()
                    .map_err(|_| format!("{day:?} is not a date (YYYY-MM-DD)"))?,
            );
        }
        Ok(Shift {
            zone,
            weekly,
            days_off,
            always: false,
        })
    }
}

impl Shift {
    /// True when `at_ms` (UTC epoch ms) falls in working hours.
    pub fn on_shift(&self, at_ms: i64) -> bool {
        if self.always {
            return true;
        }
        let Ok(instant) = Timestamp::from_millisecond(at_ms) else {
            return false;
        };
        let local = instant.to_zoned(self.zone.clone());
        if self.days_off.contains(&local.date()) {
            return false;
        }
        let index = match local.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        let minute = local.hour() as i32 * 60 + local.minute() as i32;
        self.weekly[index]
            .iter()
            .any(|&(from, to)| minute >= from && minute < to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris_weekdays() -> Schedule {
        Schedule {
            time_zone: "Europe/Paris".into(),
            hours: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| (d.to_string(), "09:00".to_string(), "17:00".to_string()))
                .collect(),
            days_off: vec!["2026-12-25".into()],
        }
    }

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn hours_follow_the_reps_time_zone_and_daylight_saving() {
        let shift = paris_weekdays().compile().unwrap();
        // Monday 2026-11-23, 08:30 UTC = 09:30 in Paris (winter, UTC+1).
        assert!(shift.on_shift(ms("2026-11-23T08:30:00Z")));
        assert!(!shift.on_shift(ms("2026-11-23T07:30:00Z")));
        // In summer Paris is UTC+2: 07:30 UTC is 09:30 there.
        assert!(shift.on_shift(ms("2026-06-15T07:30:00Z")));
        // Saturday, and a day off.
        assert!(!shift.on_shift(ms("2026-11-28T10:00:00Z")));
        assert!(!shift.on_shift(ms("2026-12-25T10:00:00Z")));
    }

    #[test]
    fn no_hours_means_always_and_bad_input_is_named() {
        assert!(Schedule::default().compile().unwrap().on_shift(0));
        let mut bad = paris_weekdays();
        bad.time_zone = "Mars/Olympus".into();
        assert!(bad.compile().unwrap_err().contains("time zone"));
        let mut bad = paris_weekdays();
        bad.hours[0].2 = "08:00".into();
        assert!(bad.compile().unwrap_err().contains("end must be after"));
        let mut bad = paris_weekdays();
        bad.hours[0].0 = "funday".into();
        assert!(bad.compile().unwrap_err().contains("not a day"));
    }

    #[test]
    fn skills_match_tiers_and_regions() {
        let skills = Skills {
            tiers: vec!["A".into()],
            regions: vec!["FR".into(), "BE".into()],
        };
        assert!(skills.takes("A", "fr"));
        assert!(!skills.takes("B", "FR"));
        assert!(!skills.takes("A", "DE"));
        assert!(Skills::default().takes("C", ""));
    }
}

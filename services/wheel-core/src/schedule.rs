//! Working hours and skills: when a rep is on shift (in their own time
//! zone, daylight saving included) and which leads they take. The wheel
//! service stores these per rep; `leadctl simulate` builds them from its
//! flags. Both judge with the same [`Shift`].

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{Offset, TimeZone};
use serde::{Deserialize, Serialize};

use crate::types::Millis;

const MINUTES_PER_DAY: i32 = 24 * 60;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Weekly hours as stored (JSON). No hours means always on shift.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// IANA time zone of the hours.
    #[serde(default)]
    pub time_zone: String,
    /// (day, from, to) with day `mon`..`sun` and times `HH:MM`.
    #[serde(default)]
    pub hours: Vec<(String, String, String)>,
    /// Dates (`YYYY-MM-DD`, in the time zone) with no hours at all.
    #[serde(default)]
    pub days_off: Vec<String>,
}

/// Which leads a rep takes, as stored (JSON). Empty lists mean all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skills {
    /// Lead tiers taken.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Lead countries taken (two-letter codes).
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    zone: TimeZone,
    /// Minutes-of-day ranges per weekday, Monday first.
    weekly: [Vec<(i32, i32)>; 7],
    days_off: HashSet<Date>,
    always: bool,
}

fn weekday_index(day: &str) -> Option<usize> {
    WEEKDAYS.iter().position(|d| d.eq_ignore_ascii_case(day))
}

fn weekday_number(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn minutes(text: &str) -> Result<i32, String> {
    if text == "24:00" {
        return Ok(MINUTES_PER_DAY);
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
            return Ok(Shift::always());
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

/// `09:00` or `9:00` (and `24:00`) → minutes of the day.
fn clock_minutes(raw: &str) -> Result<i32, String> {
    let bad = || format!("{raw:?} is not a time of day (HH:MM)");
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=24).contains(&h) || !(0..=59).contains(&m) || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `mon-fri`, `sat,sun`, `mon-sun`, `daily` → which weekdays, Monday first.
fn parse_days(raw: &str) -> Result<[bool; 7], String> {
    let text = raw.trim().to_ascii_lowercase();
    if matches!(text.as_str(), "daily" | "all" | "" | "*") {
        return Ok([true; 7]);
    }
    let index = |day: &str| {
        WEEKDAYS
            .iter()
            .position(|d| day.trim().starts_with(d))
            .ok_or_else(|| format!("{day:?} is not a weekday (mon..sun)"))
    };
    let mut days = [false; 7];
    for part in text.split([',', '+']) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from)?, index(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[index(part)?] = true,
        }
    }
    Ok(days)
}

impl Shift {
    /// Always on shift (a rep with no hours).
    pub fn always() -> Self {
        Self {
            zone: TimeZone::UTC,
            weekly: Default::default(),
            days_off: HashSet::new(),
            always: true,
        }
    }

    /// The same window (`09:00-17:00`) on `days` (`mon-fri`, `daily`) in
    /// `zone`. An end before the start runs past midnight (`22:00-06:00`):
    /// the hours after midnight belong to the day the shift began.
    pub fn daily(window: &str, days: &str, zone: TimeZone) -> Result<Self, String> {
        let (start, end) = window
            .split_once('-')
            .ok_or_else(|| format!("{window:?} is not a shift (e.g. 09:00-17:00)"))?;
        let (start, end) = (clock_minutes(start)?, clock_minutes(end)?);
        if start == end {
            return Err(format!("{window:?} is an empty shift"));
        }
        let days = parse_days(days)?;
        let mut weekly: [Vec<(i32, i32)>; 7] = Default::default();
        for (day, on) in days.iter().enumerate() {
            if !on {
                continue;
            }
            if start < end {
                weekly[day].push((start, end));
            } else {
                if start < MINUTES_PER_DAY {
                    weekly[day].push((start, MINUTES_PER_DAY));
                }
                if end > 0 {
                    weekly[(day + 1) % 7].push((0, end));
                }
            }
        }
        Ok(Self {
            zone,
            weekly,
            days_off: HashSet::new(),
            always: false,
        })
    }

    /// True when `at_ms` (UTC epoch ms) falls in working hours.
    pub fn on_shift(&self, at_ms: Millis) -> bool {
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
        let minute = local.hour() as i32 * 60 + local.minute() as i32;
        self.weekly[weekday_number(local.weekday())]
            .iter()
            .any(|&(from, to)| minute >= from && minute < to)
    }

    /// The first instant strictly after `after` at which the rep comes on
    /// shift (was off the millisecond before), looking a week and a day
    /// ahead; None when always on or never on in that span.
    pub fn next_start(&self, after: Millis) -> Option<Millis> {
        if self.always {
            return None;
        }
        let instant = Timestamp::from_millisecond(after).ok()?;
        let today = instant.to_zoned(self.zone.clone()).date();
        let mut starts = Vec::new();
        for k in -1..=8 {
            let Ok(date) = today.checked_add(jiff::Span::new().days(k)) else {
                continue;
            };
            for &(from, _) in &self.weekly[weekday_number(date.weekday())] {
                let Ok(zoned) = date
                    .at((from / 60) as i8, (from % 60) as i8, 0, 0)
                    .to_zoned(self.zone.clone())
                else {
                    continue;
                };
                let at = zoned.timestamp().as_millisecond();
                if at > after && self.on_shift(at) && !self.on_shift(at - 1) {
                    starts.push(at);
                }
            }
        }
        starts.into_iter().min()
    }
}

/// A time zone given as a fixed offset: `Z`, `UTC`, `+01:00`, `-0530`.
pub fn fixed_zone(raw: &str) -> Result<TimeZone, String> {
    let text = raw.trim();
    if matches!(text, "Z" | "z" | "UTC" | "utc" | "0") {
        return Ok(TimeZone::UTC);
    }
    let bad = || format!("{raw:?} is not a time zone offset (e.g. Z, +01:00, -05:00)");
    let (sign, rest) = match text.chars().next() {
        Some('+') => (1, &text[1..]),
        Some('-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if hours > 18 || minutes > 59 {
        return Err(bad());
    }
    let offset = Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| bad())?;
    Ok(TimeZone::fixed(offset))
}

/// Epoch milliseconds (all digits) or RFC 3339 (`2025-01-06T09:00:00Z`,
/// `2025-01-06 09:00:00.250+01:00`).
pub fn parse_timestamp(raw: &str) -> Result<Millis, String> {
    let text = raw.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{raw:?} is too large for epoch milliseconds"));
    }
    text.parse::<Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| format!("{raw:?} is neither RFC 3339 (2025-01-06T09:00:00Z) nor epoch ms"))
}

#[cfg(test)]
mod tests;

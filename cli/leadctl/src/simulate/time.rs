//! Simulated time: timestamps (RFC 3339 or epoch ms), time zone offsets and
//! daily shifts, with no date library.

use leadwheel_wheel_core::Millis;

const MINUTE: Millis = 60_000;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 for Monday .. 6 for Sunday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}

/// `Z`, `UTC`, `+01:00`, `-0530` → milliseconds east of UTC.
pub fn parse_offset(raw: &str) -> Result<Millis, String> {
    let text = raw.trim();
    if matches!(text, "Z" | "z" | "UTC" | "utc" | "0") {
        return Ok(0);
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
    let hours: i64 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if hours > 18 || minutes > 59 {
        return Err(bad());
    }
    Ok(sign * (hours * HOUR + minutes * MINUTE))
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
    let bad = || format!("{raw:?} is neither RFC 3339 (2025-01-06T09:00:00Z) nor epoch ms");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &text[range];
        if part.chars().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(bad());
    }
    if second > 60 {
        return Err(bad());
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if digits == 0 {
            return Err(bad());
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse().map_err(|_| bad())?;
        rest = &fraction[digits..];
    }
    let offset = parse_offset(rest).map_err(|_| bad())?;
    let days = days_from_civil(year, month, day);
    Ok(days * DAY + hour * HOUR + minute * MINUTE + second * 1000 + millis - offset)
}

/// A daily working window on some weekdays, in one time zone offset. An
/// end before the start runs past midnight (`22:00-06:00`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    start: Millis,
    end: Millis,
    days: [bool; 7],
    offset: Millis,
}

fn parse_clock(raw: &str) -> Result<Millis, String> {
    let bad = || format!("{raw:?} is not a time of day (HH:MM)");
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * HOUR + m * MINUTE)
}

/// `mon-fri`, `sat,sun`, `mon-sun`, `daily`.
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
    /// `09:00-17:00` on `days` (`mon-fri`), in the zone `offset` ms east of UTC.
    pub fn parse(window: &str, days: &str, offset: Millis) -> Result<Self, String> {
        let (start, end) = window
            .split_once('-')
            .ok_or_else(|| format!("{window:?} is not a shift (e.g. 09:00-17:00)"))?;
        let (start, end) = (parse_clock(start)?, parse_clock(end)?);
        if start == end {
            return Err(format!("{window:?} is an empty shift"));
        }
        Ok(Self {
            start,
            end,
            days: parse_days(days)?,
            offset,
        })
    }

    /// Whether `now` falls in a shift.
    pub fn is_on(&self, now: Millis) -> bool {
        let local = now + self.offset;
        let day = local.div_euclid(DAY);
        let t = local.rem_euclid(DAY);
        if self.start < self.end {
            self.days[weekday(day)] && (self.start..self.end).contains(&t)
        } else {
            (self.days[weekday(day)] && t >= self.start)
                || (self.days[weekday(day - 1)] && t < self.end)
        }
    }

    /// The first shift start strictly after `after`, if the shift has any day.
    pub fn next_start(&self, after: Millis) -> Option<Millis> {
        let local_day = (after + self.offset).div_euclid(DAY);
        (0..=7)
            .map(|k| local_day + k)
            .filter(|day| self.days[weekday(*day)])
            .map(|day| day * DAY + self.start - self.offset)
            .find(|start| *start > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1709210096000"), Ok(1_709_210_096_000));
        assert_eq!(
            parse_timestamp("2024-02-29T12:34:56Z"),
            Ok(1_709_210_096_000)
        );
        assert_eq!(
            parse_timestamp("2024-02-29 13:34:56.5+01:00"),
            Ok(1_709_210_096_500)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert!(parse_timestamp("2024-02-29").is_err());
        assert!(parse_timestamp("2024-13-01T00:00:00Z").is_err());
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("Z"), Ok(0));
        assert_eq!(parse_offset("+01:00"), Ok(HOUR));
        assert_eq!(parse_offset("-0530"), Ok(-(5 * HOUR + 30 * MINUTE)));
        assert!(parse_offset("CET").is_err());
    }

    #[test]
    fn shifts() {
        // 2025-01-06 is a Monday.
        let monday = parse_timestamp("2025-01-06T00:00:00Z").unwrap();
        let shift = Shift::parse("09:00-17:00", "mon-fri", HOUR).unwrap();
        // 09:00 at +01:00 is 08:00 UTC.
        assert!(!shift.is_on(monday + 8 * HOUR - 1));
        assert!(shift.is_on(monday + 8 * HOUR));
        assert!(!shift.is_on(monday + 16 * HOUR));
        assert_eq!(shift.next_start(monday), Some(monday + 8 * HOUR));
        // Friday evening → Monday morning.
        let friday_night = monday + 4 * DAY + 20 * HOUR;
        assert!(!shift.is_on(friday_night + DAY));
        assert_eq!(
            shift.next_start(friday_night),
            Some(monday + 7 * DAY + 8 * HOUR)
        );
        let night = Shift::parse("22:00-06:00", "daily", 0).unwrap();
        assert!(night.is_on(monday + 23 * HOUR) && night.is_on(monday + DAY + 5 * HOUR));
        assert!(!night.is_on(monday + 12 * HOUR));
        assert_eq!(
            parse_days("sat,sun").unwrap(),
            [false, false, false, false, false, true, true]
        );
        assert!(Shift::parse("9-5", "mon", 0).is_err());
        assert!(Shift::parse("09:00-17:00", "funday", 0).is_err());
    }
}

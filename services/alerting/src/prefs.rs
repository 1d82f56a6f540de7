//! Per-recipient preferences: which channels tell them, and quiet hours in
//! their time zone during which email waits. Pure: parsing, checking and
//! the "when may we email" computation; the store keeps them.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::Error;

/// One person's preferences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefs {
    /// Where email goes (empty: none).
    pub email: String,
    /// Told live.
    pub live: bool,
    /// Told by email (when an address is set).
    pub by_email: bool,
    /// IANA time zone of the quiet hours.
    pub time_zone: String,
    /// Quiet hours, minutes after local midnight, `[start, end)`; may wrap
    /// midnight (22:00–07:00). None: never quiet.
    pub quiet: Option<(i64, i64)>,
    /// Minutes between digest emails; 0: one email per alert.
    pub digest_minutes: i64,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            email: String::new(),
            live: true,
            by_email: true,
            time_zone: "UTC".into(),
            quiet: None,
            digest_minutes: 0,
        }
    }
}

/// Parses `HH:MM` into minutes after midnight.
fn minutes(field: &'static str, text: &str) -> Result<i64, Error> {
    let bad = || Error::invalid(field, format!("{text:?} is not HH:MM (00:00 to 23:59)"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) || text.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Checks and builds preferences from the wire; the error names the field.
pub fn parse(
    email: &str,
    channels: &[String],
    time_zone: &str,
    quiet_start: &str,
    quiet_end: &str,
    digest_minutes: i64,
) -> Result<Prefs, Error> {
    if !(0..=1_440).contains(&digest_minutes) {
        return Err(Error::invalid(
            "digest_minutes",
            format!("{digest_minutes} is not between 0 and 1440 (a day)"),
        ));
    }
    crate::ops::channels::check_email(email)?;
    let mut prefs = Prefs {
        email: email.to_string(),
        live: channels.is_empty(),
        by_email: channels.is_empty(),
        digest_minutes,
        ..Prefs::default()
    };
    for channel in channels {
        match channel.as_str() {
            "live" => prefs.live = true,
            "email" => prefs.by_email = true,
            other => {
                return Err(Error::invalid(
                    "channels",
                    format!("unknown channel {other:?} (live, email)"),
                ));
            }
        }
    }
    if !time_zone.is_empty() {
        TimeZone::get(time_zone).map_err(|_| {
            Error::invalid(
                "time_zone",
                format!("{time_zone:?} is not an IANA time zone"),
            )
        })?;
        prefs.time_zone = time_zone.to_string();
    }
    prefs.quiet = match (quiet_start.is_empty(), quiet_end.is_empty()) {
        (true, true) => None,
        (false, false) => {
            let (start, end) = (
                minutes("quiet_start", quiet_start)?,
                minutes("quiet_end", quiet_end)?,
            );
            if start == end {
                return Err(Error::invalid("quiet_end", "equals quiet_start"));
            }
            Some((start, end))
        }
        (true, false) => return Err(Error::invalid("quiet_start", "is required with quiet_end")),
        (false, true) => return Err(Error::invalid("quiet_end", "is required with quiet_start")),
    };
    Ok(prefs)
}

impl Prefs {
    /// The channels as stored ("live,email").
    pub fn channels(&self) -> String {
        let mut out = Vec::new();
        if self.live {
            out.push("live");
        }
        if self.by_email {
            out.push("email");
        }
        out.join(",")
    }

    /// When an email written at `now_ms` goes: after the quiet hours, at
    /// the next digest boundary (multiples of the interval since the epoch,
    /// so every alert of one interval shares one email).
    pub fn email_due(&self, now_ms: i64) -> i64 {
        let at = self.email_at(now_ms);
        if self.digest_minutes <= 0 {
            return at;
        }
        let interval = self.digest_minutes * 60_000;
        (at + interval - 1).div_euclid(interval) * interval
    }

    /// When email may go at `now_ms`: now, or the end of the quiet hours
    /// the person is in.
    pub fn email_at(&self, now_ms: i64) -> i64 {
        let Some((start, end)) = self.quiet else {
            return now_ms;
        };
        let (Ok(tz), Ok(now)) = (
            TimeZone::get(&self.time_zone),
            Timestamp::from_millisecond(now_ms),
        ) else {
            return now_ms;
        };
        let local = now.to_zoned(tz.clone());
        let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
        let quiet = if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        };
        if !quiet {
            return now_ms;
        }
        let at = |date: jiff::civil::Date| {
            date.at((end / 60) as i8, (end % 60) as i8, 0, 0)
                .to_zoned(tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(now_ms)
        };
        let today = at(local.date());
        if today > now_ms {
            today
        } else {
            local.date().tomorrow().map(at).unwrap_or(now_ms)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: Error) -> &'static str {
        match err {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn quiet_hours_hold_email_until_they_end_in_the_persons_zone() {
        let prefs = parse("ana@example.com", &[], "Europe/Lisbon", "22:00", "07:00", 0).unwrap();
        // 2026-03-01 23:30 UTC = 23:30 in Lisbon (winter): quiet until 07:00 next day.
        let late = Timestamp::from_second(1_772_407_800)
            .unwrap()
            .as_millisecond();
        assert_eq!(prefs.email_at(late), 1_772_434_800_000);
        // 03:00 the next day: still quiet, same end.
        assert_eq!(prefs.email_at(1_772_420_400_000), 1_772_434_800_000);
        // 12:00: not quiet.
        assert_eq!(prefs.email_at(1_772_452_800_000), 1_772_452_800_000);
        let ny = parse("", &[], "America/New_York", "09:00", "17:00", 0).unwrap();
        // 2026-03-02 15:00 UTC = 10:00 in New York: quiet until 17:00 local = 22:00 UTC.
        assert_eq!(ny.email_at(1_772_463_600_000), 1_772_488_800_000);
    }

    #[test]
    fn digests_gather_an_interval_after_the_quiet_hours() {
        let mut prefs = parse("a@b.example", &[], "", "", "", 60).unwrap();
        assert_eq!(prefs.email_due(3_600_000), 3_600_000);
        assert_eq!(prefs.email_due(3_600_001), 7_200_000);
        assert_eq!(prefs.email_due(7_199_999), 7_200_000);
        prefs.quiet = Some((0, 120));
        // 00:30 UTC is quiet until 02:00, itself a boundary.
        assert_eq!(prefs.email_due(1_800_000), 7_200_000);
    }

    #[test]
    fn bad_preferences_name_the_field() {
        assert_eq!(field(parse("x", &[], "", "", "", 0).unwrap_err()), "email");
        assert_eq!(
            field(parse("", &[], "", "", "", -1).unwrap_err()),
            "digest_minutes"
        );
        assert_eq!(
            field(parse("", &["sms".into()], "", "", "", 0).unwrap_err()),
            "channels"
        );
        assert_eq!(
            field(parse("", &[], "Mars/Olympus", "", "", 0).unwrap_err()),
            "time_zone"
        );
        assert_eq!(
            field(parse("", &[], "", "25:00", "07:00", 0).unwrap_err()),
            "quiet_start"
        );
        assert_eq!(
            field(parse("", &[], "", "22:00", "", 0).unwrap_err()),
            "quiet_end"
        );
        let only_live = parse("", &["live".into()], "", "", "", 0).unwrap();
        assert_eq!(only_live.channels(), "live");
        assert!(!only_live.by_email);
    }
}

//! Weekly snapshots of the forecast: when they are due, and what one
//! holds. Pure (the time is passed in), so the schedule and the sums are
//! tested here; `models::snapshots` stores them and `snapshot_job` takes
//! them.
//!
//! A snapshot stands for a moment: the configured weekday and hour in the
//! business time zone. It holds each deal as it stood then (from the
//! deals' version history, so a snapshot taken late, after downtime, is
//! still the forecast of that moment) and the sums of the forecast per
//! rep, period (the month, quarter and year a deal closes or was won in),
//! currency and forecast category.

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use leadwheel_proto::reporting::v1::PeriodKind;

use crate::period;

/// At most this many missed weeks are taken after downtime (the newest).
pub const MAX_CATCH_UP: usize = 8;

/// When the weekly snapshot is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The day of the week.
    pub weekday: Weekday,
    /// The hour (0–23) in the business time zone.
    pub hour: i8,
}

/// One scheduled snapshot: its day and the moment it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The day (in the business time zone).
    pub day: Date,
    /// Its weekday and hour there, as epoch milliseconds.
    pub at_ms: i64,
}

impl Schedule {
    /// Parses the settings' weekday (`monday` … `sunday`) and hour.
    pub fn parse(weekday: &str, hour: &str) -> Option<Self> {
        let weekday = match weekday.trim().to_ascii_lowercase().as_str() {
            "monday" => Weekday::Monday,
            "tuesday" => Weekday::Tuesday,
            "wednesday" => Weekday::Wednesday,
            "thursday" => Weekday::Thursday,
            "friday" => Weekday::Friday,
            "saturday" => Weekday::Saturday,
            "sunday" => Weekday::Sunday,
            _ => return None,
        };
        let hour: i8 = hour.trim().parse().ok().filter(|h| (0..=23).contains(h))?;
        Some(Self { weekday, hour })
    }

    fn moment(&self, day: Date, zone: &TimeZone) -> Due {
        let at_ms = day
            .at(self.hour, 0, 0, 0)
            .to_zoned(zone.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MAX);
        Due { day, at_ms }
    }

    /// The latest scheduled moment at or before `now_ms`.
    pub fn latest(&self, now_ms: i64, zone: &TimeZone) -> Due {
        let today = period::day_of(now_ms, zone);
        (0..=7)
            .filter_map(|back| today.checked_sub(Span::new().days(back)).ok())
            .filter(|day| day.weekday() == self.weekday)
            .map(|day| self.moment(day, zone))
            .find(|due| due.at_ms <= now_ms)
            .unwrap_or_else(|| self.moment(today, zone))
    }

    /// The first scheduled moment after `now_ms`.
    pub fn next(&self, now_ms: i64, zone: &TimeZone) -> Due {
        let latest = self.latest(now_ms, zone);
        let day = latest
            .day
            .checked_add(Span::new().days(7))
            .unwrap_or(latest.day);
        self.moment(day, zone)
    }

    /// The snapshots due at `now_ms` when the newest taken is `last`
    /// (None: none yet), oldest first: every scheduled moment after `last`
    /// up to now (at most [`MAX_CATCH_UP`], the newest), or only the latest
    /// when none was ever taken.
    pub fn due(&self, last: Option<Date>, now_ms: i64, zone: &TimeZone) -> Vec<Due> {
        let latest = self.latest(now_ms, zone);
        let Some(last) = last else {
            return vec![latest];
        };
        let mut due = Vec::new();
        let mut day = latest.day;
        while day > last && due.len() < MAX_CATCH_UP {
            due.push(self.moment(day, zone));
            match day.checked_sub(Span::new().days(7)) {
                Ok(before) => day = before,
                Err(_) => break,
            }
        }
        due.reverse();
        due
    }
}

/// A deal as it stood at a snapshot's moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotDeal {
    pub opportunity_id: String,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    /// `open` or `won`.
    pub status: String,
    pub currency: String,
    /// `pipeline`, `best_case`, `commit` for open deals; `closed` for won.
    pub category: String,
    /// Expected close day, or "".
    pub close_date: String,
    /// The day it was won (business time zone), or "".
    pub won_day: String,
    pub amount_minor: i64,
    pub weighted_minor: i64,
}

impl SnapshotDeal {
    /// The day that places it in a period: the day it was won, else its
    /// expected close day ("" for an open deal without one: in no period).
    pub fn day(&self) -> &str {
        if self.status == "won" {
            &self.won_day
        } else {
            &self.close_date
        }
    }

    /// What it adds to the forecast of a period it falls in: its amount
    /// when won, its weighted value when open.
    pub fn value(&self) -> i64 {
        if self.status == "won" {
            self.amount_minor
        } else {
            self.weighted_minor
        }
    }
}

/// A deal's category in a snapshot: `closed` when won, else its own
/// (`pipeline` when it had none yet).
pub fn category_of(status: &str, category: &str) -> String {
    match (status, category) {
        ("won", _) => "closed".into(),
        (_, "") => "pipeline".into(),
        (_, category) => category.into(),
    }
}

/// The periods a snapshot's sums are kept for.
pub const KINDS: [(PeriodKind, &str); 3] = [
    (PeriodKind::Month, "month"),
    (PeriodKind::Quarter, "quarter"),
    (PeriodKind::Year, "year"),
];

/// The forecast of one rep, period, currency and category in a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotLine {
    pub team_id: String,
    pub rep_id: String,
    /// `month`, `quarter` or `year`.
    pub period_kind: &'static str,
    /// The period's first day.
    pub period_start: String,
    pub currency: String,
    pub category: String,
    pub deals: i64,
    pub amount_minor: i64,
    /// Won amount (category `closed`) or weighted open value.
    pub value_minor: i64,
}

/// The sums of `deals` per rep, period, currency and category: each deal
/// counts in the month, quarter and year of its day ([`SnapshotDeal::day`]).
pub fn lines(deals: &[SnapshotDeal]) -> Vec<SnapshotLine> {
    let mut per: BTreeMap<(String, String, &'static str, String, String, String), SnapshotLine> =
        BTreeMap::new();
    for deal in deals {
        let Ok(day) = deal.day().parse::<Date>() else {
            continue;
        };
        for (kind, name) in KINDS {
            let start = period::of_kind(kind, day).from_key();
            let key = (
                deal.team_id.clone(),
                deal.rep_id.clone(),
                name,
                start.clone(),
                deal.currency.clone(),
                deal.category.clone(),
            );
            let line = per.entry(key).or_insert_with(|| SnapshotLine {
                team_id: deal.team_id.clone(),
                rep_id: deal.rep_id.clone(),
                period_kind: name,
                period_start: start,
                currency: deal.currency.clone(),
                category: deal.category.clone(),
                ..Default::default()
            });
            line.deals += 1;
            line.amount_minor += deal.amount_minor;
            line.value_minor += deal.value();
        }
    }
    per.into_values().collect()
}

/// The day of `at_ms` in `zone`, as stored.
pub fn day_key(at_ms: i64, zone: &TimeZone) -> String {
    period::day_of(at_ms, zone).to_string()
}

/// `at_ms` as an RFC 3339 instant, for logs.
pub fn instant(at_ms: i64) -> String {
    Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// Monday 2026-11-02T00:00:00Z.
    const MON_NOV_2: i64 = 1_793_577_600_000;

    fn monday_six() -> Schedule {
        Schedule::parse("Monday", "6").unwrap()
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn the_latest_moment_is_this_week_s_once_passed() {
        let utc = TimeZone::UTC;
        let s = monday_six();
        // Monday 05:59: last week's; 06:00: this week's.
        assert_eq!(
            s.latest(MON_NOV_2 + 6 * HOUR - 1, &utc).day,
            day("2026-10-26")
        );
        let now = s.latest(MON_NOV_2 + 6 * HOUR, &utc);
        assert_eq!(
            now,
            Due {
                day: day("2026-11-02"),
                at_ms: MON_NOV_2 + 6 * HOUR
            }
        );
        // Sunday night: still this Monday's.
        assert_eq!(
            s.latest(MON_NOV_2 + 6 * DAY + 23 * HOUR, &utc).day,
            day("2026-11-02")
        );
        assert_eq!(s.next(MON_NOV_2 + 6 * HOUR, &utc).day, day("2026-11-09"));
    }

    #[test]
    fn the_hour_is_taken_in_the_business_time_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        // 06:00 in Paris (UTC+1 in November) is 05:00 UTC.
        let due = monday_six().latest(MON_NOV_2 + 5 * HOUR, &paris);
        assert_eq!(
            due,
            Due {
                day: day("2026-11-02"),
                at_ms: MON_NOV_2 + 5 * HOUR
            }
        );
    }

    #[test]
    fn downtime_is_caught_up_oldest_first_and_bounded() {
        let utc = TimeZone::UTC;
        let s = monday_six();
        let now = MON_NOV_2 + 7 * HOUR;
        assert_eq!(s.due(None, now, &utc).len(), 1);
        let days: Vec<Date> = s
            .due(Some(day("2026-10-19")), now, &utc)
            .iter()
            .map(|d| d.day)
            .collect();
        assert_eq!(days, vec![day("2026-10-26"), day("2026-11-02")]);
        // Taken already: nothing due.
        assert!(s.due(Some(day("2026-11-02")), now, &utc).is_empty());
        // A year down: the newest eight weeks.
        let due = s.due(Some(day("2025-11-03")), now, &utc);
        assert_eq!(due.len(), MAX_CATCH_UP);
        assert_eq!(due.last().unwrap().day, day("2026-11-02"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(Schedule::parse("someday", "6"), None);
        assert_eq!(Schedule::parse("friday", "24"), None);
        assert!(Schedule::parse("FRIDAY", " 17 ").is_some());
    }

    #[test]
    fn a_deal_counts_in_its_month_quarter_and_year() {
        let deal = |id: &str, status: &str, close: &str, won: &str, category: &str| SnapshotDeal {
            opportunity_id: id.into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            stage: "trial".into(),
            status: status.into(),
            currency: "EUR".into(),
            category: category.into(),
            close_date: close.into(),
            won_day: won.into(),
            amount_minor: 1_000,
            weighted_minor: 300,
        };
        let deals = [
            deal("a", "open", "2026-11-20", "", "commit"),
            deal("b", "won", "2026-12-31", "2026-11-03", "closed"),
            deal("c", "open", "", "", "pipeline"),
        ];
        let lines = lines(&deals);
        let find = |kind: &str, category: &str| {
            lines
                .iter()
                .find(|l| l.period_kind == kind && l.category == category)
                .map(|l| (l.period_start.as_str(), l.deals, l.value_minor))
        };
        assert_eq!(find("month", "commit"), Some(("2026-11-01", 1, 300)));
        assert_eq!(find("quarter", "closed"), Some(("2026-10-01", 1, 1_000)));
        assert_eq!(find("year", "commit"), Some(("2026-01-01", 1, 300)));
        // No close day: in no period.
        assert_eq!(find("month", "pipeline"), None);
        assert_eq!(lines.len(), 6);
    }
}

//! Periods of whole days in the business time zone: resolving a request's
//! period to its first and last day, the period before it, and the day an
//! instant falls on. Pure (today is passed in), so every rule is tested
//! here.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use leadwheel_proto::reporting::v1::{Period, PeriodKind, ResolvedPeriod};

use crate::error::Error;

/// Longest custom period accepted, in days: a year (a leap one included).
pub const MAX_CUSTOM_DAYS: i32 = 366;

/// A resolved period: its kind and its first and last day, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days {
    /// The kind it was asked as.
    pub kind: PeriodKind,
    /// First day.
    pub from: Date,
    /// Last day (included).
    pub to: Date,
}

impl Days {
    /// The period just before this one, of the same kind and length.
    pub fn previous(&self) -> Days {
        let day_before = self.from.yesterday().unwrap_or(self.from);
        match self.kind {
            PeriodKind::Custom | PeriodKind::Unspecified => {
                let length = self.length_days();
                Days {
                    kind: self.kind,
                    from: add_days(self.from, -length),
                    to: day_before,
                }
            }
            kind => of_kind(kind, day_before),
        }
    }

    /// How many days it spans.
    pub fn length_days(&self) -> i32 {
        self.from
            .until(self.to)
            .map(|span| span.get_days() + 1)
            .unwrap_or(1)
    }

    /// The first day as stored (`YYYY-MM-DD`, which sorts like the date).
    pub fn from_key(&self) -> String {
        self.from.to_string()
    }

    /// The last day as stored.
    pub fn to_key(&self) -> String {
        self.to.to_string()
    }

    /// As the API reports it.
    pub fn to_proto(self) -> ResolvedPeriod {
        ResolvedPeriod {
            kind: self.kind as i32,
            from: self.from_key(),
            to: self.to_key(),
        }
    }
}

/// A period cut into the whole months it spans (`YYYY-MM`, first and
/// last) and the days before and after them (`YYYY-MM-DD`, first and last
/// of each run), for tables kept per day and per month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthsAndDays {
    pub months: Option<(String, String)>,
    pub days: Vec<(String, String)>,
}

impl Days {
    /// This period as whole months and the days around them.
    pub fn months_and_days(&self) -> MonthsAndDays {
        let month_key = |d: Date| format!("{:04}-{:02}", d.year(), d.month());
        let first_whole = if self.from.day() == 1 {
            self.from
        } else {
            self.from.last_of_month().tomorrow().unwrap_or(self.to)
        };
        let last_whole = if self.to == self.to.last_of_month() {
            self.to
        } else {
            self.to.first_of_month().yesterday().unwrap_or(self.from)
        };
        if first_whole > last_whole {
            return MonthsAndDays {
                months: None,
                days: vec![(self.from_key(), self.to_key())],
            };
        }
        let mut days = Vec::new();
        if self.from < first_whole {
            let before = first_whole.yesterday().unwrap_or(self.from);
            days.push((self.from_key(), before.to_string()));
        }
        if last_whole < self.to {
            let after = last_whole.tomorrow().unwrap_or(self.to);
            days.push((after.to_string(), self.to_key()));
        }
        MonthsAndDays {
            months: Some((month_key(first_whole), month_key(last_whole))),
            days,
        }
    }
}

fn add_days(date: Date, days: i32) -> Date {
    date.checked_add(Span::new().days(days)).unwrap_or(date)
}

/// The period of `kind` that contains `date`.
pub fn of_kind(kind: PeriodKind, date: Date) -> Days {
    let (from, to) = match kind {
        PeriodKind::Week => {
            let monday = add_days(date, -i32::from(date.weekday().to_monday_zero_offset()));
            (monday, add_days(monday, 6))
        }
        PeriodKind::Month => (date.first_of_month(), date.last_of_month()),
        PeriodKind::Quarter => {
            let first_month = (date.month() - 1) / 3 * 3 + 1;
            let from = Date::new(date.year(), first_month, 1).unwrap_or(date);
            let last = Date::new(date.year(), first_month + 2, 1).unwrap_or(date);
            (from, last.last_of_month())
        }
        PeriodKind::Year => (date.first_of_year(), date.last_of_year()),
        PeriodKind::Day | PeriodKind::Custom | PeriodKind::Unspecified => (date, date),
    };
    Days { kind, from, to }
}

/// Parses a `YYYY-MM-DD` request field.
pub fn parse_date(field: &'static str, text: &str) -> Result<Date, Error> {
    text.parse::<Date>()
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| Error::invalid(field, format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// Resolves a request's `period` (None or unspecified: `default` around
/// `today`). `field` names the request field in errors.
pub fn resolve(
    field: &'static str,
    period: Option<&Period>,
    default: PeriodKind,
    today: Date,
) -> Result<Days, Error> {
    let Some(period) = period else {
        return Ok(of_kind(default, today));
    };
    let kind = PeriodKind::try_from(period.kind)
        .map_err(|_| Error::invalid(field, format!("unknown period kind {}", period.kind)))?;
    match kind {
        PeriodKind::Custom => {
            let from = parse_date("period.from", &period.from)?;
            let to = parse_date("period.to", &period.to)?;
            if from > to {
                return Err(Error::invalid(
                    "period.from",
                    format!("{from} is after period.to {to}"),
                ));
            }
            let days = Days { kind, from, to };
            if days.length_days() > MAX_CUSTOM_DAYS {
                return Err(Error::invalid(
                    "period.to",
                    format!(
                        "the period spans {} days; the limit is {MAX_CUSTOM_DAYS}",
                        days.length_days()
                    ),
                ));
            }
            Ok(days)
        }
        kind => {
            let date = if period.date.is_empty() {
                today
            } else {
                parse_date("period.date", &period.date)?
            };
            // Unspecified with a date: the report's default kind around it.
            let kind = if kind == PeriodKind::Unspecified {
                default
            } else {
                kind
            };
            Ok(of_kind(kind, date))
        }
    }
}

/// The business day `at_ms` falls on, in `zone`.
pub fn day_of(at_ms: i64, zone: &TimeZone) -> Date {
    Timestamp::from_millisecond(at_ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(zone.clone())
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn a_period_is_cut_into_whole_months_and_the_days_around_them() {
        let cut = |from: &str, to: &str| {
            Days {
                kind: PeriodKind::Custom,
                from: date(from),
                to: date(to),
            }
            .months_and_days()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            cut("2026-06-01", "2026-06-30"),
            MonthsAndDays {
                months: Some(pair("2026-06", "2026-06")),
                days: vec![]
            }
        );
        assert_eq!(
            cut("2026-06-08", "2026-06-14"),
            MonthsAndDays {
                months: None,
                days: vec![pair("2026-06-08", "2026-06-14")]
            }
        );
        assert_eq!(
            cut("2026-01-15", "2026-04-10"),
            MonthsAndDays {
                months: Some(pair("2026-02", "2026-03")),
                days: vec![
                    pair("2026-01-15", "2026-01-31"),
                    pair("2026-04-01", "2026-04-10")
                ]
            }
        );
        // A week across a month's end, and a year.
        assert_eq!(
            cut("2026-06-29", "2026-07-05"),
            MonthsAndDays {
                months: None,
                days: vec![pair("2026-06-29", "2026-07-05")]
            }
        );
        assert_eq!(
            cut("2026-01-01", "2026-12-31").months,
            Some(pair("2026-01", "2026-12"))
        );
        assert_eq!(
            cut("2024-02-01", "2024-02-29"),
            MonthsAndDays {
                months: Some(pair("2024-02", "2024-02")),
                days: vec![]
            }
        );
    }

    fn keys(days: Days) -> (String, String) {
        (days.from_key(), days.to_key())
    }

    fn period(kind: PeriodKind, date: &str) -> Period {
        Period {
            kind: kind as i32,
            date: date.into(),
            ..Default::default()
        }
    }

    #[test]
    fn kinds_resolve_to_their_calendar_days() {
        let today = date("2026-11-29"); // a Sunday
        let cases = [
            (PeriodKind::Day, "2026-11-29", "2026-11-29"),
            (PeriodKind::Week, "2026-11-23", "2026-11-29"),
            (PeriodKind::Month, "2026-11-01", "2026-11-30"),
            (PeriodKind::Quarter, "2026-10-01", "2026-12-31"),
            (PeriodKind::Year, "2026-01-01", "2026-12-31"),
        ];
        for (kind, from, to) in cases {
            let days = resolve("period", Some(&period(kind, "")), PeriodKind::Week, today).unwrap();
            assert_eq!(keys(days), (from.into(), to.into()), "{kind:?}");
        }
        let feb = resolve(
            "period",
            Some(&period(PeriodKind::Quarter, "2028-02-10")),
            PeriodKind::Week,
            today,
        )
        .unwrap();
        assert_eq!(keys(feb), ("2028-01-01".into(), "2028-03-31".into()));
        assert_eq!(
            keys(resolve("period", None, PeriodKind::Month, today).unwrap()),
            ("2026-11-01".into(), "2026-11-30".into())
        );
    }

    #[test]
    fn previous_periods_have_the_same_kind_and_length() {
        let march = of_kind(PeriodKind::Month, date("2026-03-15"));
        assert_eq!(
            keys(march.previous()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        let q1 = of_kind(PeriodKind::Quarter, date("2026-01-15"));
        assert_eq!(
            keys(q1.previous()),
            ("2025-10-01".into(), "2025-12-31".into())
        );
        let week = of_kind(PeriodKind::Week, date("2026-11-25"));
        assert_eq!(
            keys(week.previous()),
            ("2026-11-16".into(), "2026-11-22".into())
        );
        let custom = Days {
            kind: PeriodKind::Custom,
            from: date("2026-11-10"),
            to: date("2026-11-19"),
        };
        assert_eq!(
            keys(custom.previous()),
            ("2026-10-31".into(), "2026-11-09".into())
        );
    }

    #[test]
    fn bad_periods_name_their_field() {
        let today = date("2026-11-29");
        let custom = |from: &str, to: &str| Period {
            kind: PeriodKind::Custom as i32,
            from: from.into(),
            to: to.into(),
            ..Default::default()
        };
        let field = |p: Period| match resolve("period", Some(&p), PeriodKind::Week, today) {
            Err(Error::InvalidArgument { field, .. }) => field.into_owned(),
            other => panic!("expected an invalid argument, got {other:?}"),
        };
        assert_eq!(field(custom("2026-11-10", "2026-11-01")), "period.from");
        assert_eq!(field(custom("2025-01-01", "2026-11-01")), "period.to");
        assert_eq!(field(custom("2026-13-01", "2026-11-01")), "period.from");
        assert_eq!(field(period(PeriodKind::Month, "yesterday")), "period.date");
        let unknown = Period {
            kind: 99,
            ..Default::default()
        };
        assert_eq!(field(unknown), "period");
    }

    #[test]
    fn days_follow_the_business_time_zone() {
        // 23:30 UTC on the 30th is already the 1st in Paris.
        let at = date("2026-11-30")
            .at(23, 30, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond();
        assert_eq!(day_of(at, &TimeZone::UTC), date("2026-11-30"));
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(day_of(at, &paris), date("2026-12-01"));
    }
}

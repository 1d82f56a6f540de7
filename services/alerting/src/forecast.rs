//! Forecast below quota (rule 7), the pure part: the periods a team's check
//! falls in, when the check is due, and which forecast lines alert.
//!
//! Periods are calendar months, quarters and years in the business time
//! zone (`LEADWHEEL_ALERTING_TIME_ZONE`, default UTC; set it to reporting's
//! `LEADWHEEL_REPORTING_TIME_ZONE`, which resolves them the same way). The check of a period is due at `check_at_percent` of its
//! length (50: half-way). A line alerts when it has a quota and its
//! forecast (won + weighted open, reporting's `forecast_bp`) is below
//! `threshold_percent` of it.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_proto::reporting::v1::{ForecastLine, GetForecastResponse};

/// The period kinds the rule accepts.
pub const PERIODS: [&str; 3] = ["month", "quarter", "year"];

/// One period: its first day and the day after its last, in the business
/// time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: Date,
    /// The first day of the next period.
    pub next: Date,
}

fn months_of(kind: &str) -> Option<i8> {
    match kind {
        "month" => Some(1),
        "quarter" => Some(3),
        "year" => Some(12),
        _ => None,
    }
}

fn midnight_ms(date: Date, zone: &TimeZone) -> i64 {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(i64::MAX)
}

impl Period {
    /// The `kind` period holding the instant `at_ms` in `zone` (None:
    /// unknown kind).
    pub fn containing(kind: &str, at_ms: i64, zone: &TimeZone) -> Option<Self> {
        let months = months_of(kind)?;
        let day = Timestamp::from_millisecond(at_ms)
            .ok()?
            .to_zoned(zone.clone())
            .date();
        let month = (day.month() - 1) / months * months + 1;
        let from = Date::new(day.year(), month, 1).ok()?;
        let next = from.checked_add(jiff::Span::new().months(months)).ok()?;
        Some(Self { from, next })
    }

    /// When this period's check is due: `percent` of the way through it.
    pub fn check_at_ms(&self, percent: i64, zone: &TimeZone) -> i64 {
        let (start, end) = (midnight_ms(self.from, zone), midnight_ms(self.next, zone));
        start + (end - start) * percent / 100
    }

    /// The period after this one.
    pub fn following(&self, kind: &str, zone: &TimeZone) -> Option<Self> {
        Self::containing(kind, midnight_ms(self.next, zone), zone)
    }

    /// "YYYY-MM-DD" of its first day (what reporting is asked about, and
    /// what dedupe keys name).
    pub fn from_str(&self) -> String {
        self.from.to_string()
    }
}

/// The next check strictly after `now_ms`: this period's if its check point
/// is still ahead, else the next period's.
pub fn next_check(kind: &str, percent: i64, now_ms: i64, zone: &TimeZone) -> Option<(Period, i64)> {
    let period = Period::containing(kind, now_ms, zone)?;
    let at = period.check_at_ms(percent, zone);
    if at > now_ms {
        return Some((period, at));
    }
    let next = period.following(kind, zone)?;
    Some((next, next.check_at_ms(percent, zone)))
}

/// One forecast line below the threshold: one alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The rep whose forecast it is; empty for the team's own line.
    pub rep_id: String,
    /// The line's currency.
    pub currency: String,
    /// Forecast and quota in minor units, forecast / quota in basis points.
    pub forecast_minor: i64,
    /// The quota.
    pub quota_minor: i64,
    /// forecast / quota (10000 = 100 %).
    pub forecast_bp: i64,
}

impl Shortfall {
    /// The alert's dedupe key: one per team, subject (the team or a rep),
    /// period and currency:
    /// `forecast_below_quota:<team>:team:<from>:<currency>` or
    /// `forecast_below_quota:<team>:rep:<rep>:<from>:<currency>`.
    pub fn dedupe_key(&self, team_id: &str, period_from: &str) -> String {
        let subject = self.subject();
        format!(
            "{}:{team_id}:{subject}:{period_from}:{}",
            crate::rules::FORECAST_BELOW_QUOTA,
            self.currency
        )
    }

    /// `team` or `rep:<rep>`.
    pub fn subject(&self) -> String {
        if self.rep_id.is_empty() {
            "team".to_string()
        } else {
            format!("rep:{}", self.rep_id)
        }
    }
}

fn below(rep_id: &str, lines: &[ForecastLine], threshold_percent: i64) -> Vec<Shortfall> {
    lines
        .iter()
        .filter(|l| l.has_quota && l.quota_minor > 0 && l.forecast_bp < threshold_percent * 100)
        .map(|l| Shortfall {
            rep_id: rep_id.to_string(),
            currency: l.currency.clone(),
            forecast_minor: l.forecast_minor,
            quota_minor: l.quota_minor,
            forecast_bp: l.forecast_bp,
        })
        .collect()
}

/// The team's and each rep's lines below `threshold_percent` of quota;
/// lines without a quota never alert.
pub fn shortfalls(forecast: &GetForecastResponse, threshold_percent: i64) -> Vec<Shortfall> {
    let mut out = below("", &forecast.lines, threshold_percent);
    for rep in &forecast.reps {
        out.extend(below(&rep.rep_id, &rep.lines, threshold_percent));
    }
    out
}

/// A line with a quota at or above the threshold: its earlier alerts (of
/// any period) resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The rep; empty for the team's own line.
    pub rep_id: String,
    /// The line's currency.
    pub currency: String,
}

impl Recovered {
    fn subject(&self) -> String {
        if self.rep_id.is_empty() {
            "team".to_string()
        } else {
            format!("rep:{}", self.rep_id)
        }
    }
}

/// The team's and each rep's lines with a quota at or above
/// `threshold_percent` of it.
pub fn recovered(forecast: &GetForecastResponse, threshold_percent: i64) -> Vec<Recovered> {
    let at_or_above = |rep_id: &str, lines: &[ForecastLine]| -> Vec<Recovered> {
        lines
            .iter()
            .filter(|l| {
                l.has_quota && l.quota_minor > 0 && l.forecast_bp >= threshold_percent * 100
            })
            .map(|l| Recovered {
                rep_id: rep_id.to_string(),
                currency: l.currency.clone(),
            })
            .collect()
    };
    let mut out = at_or_above("", &forecast.lines);
    for rep in &forecast.reps {
        out.extend(at_or_above(&rep.rep_id, &rep.lines));
    }
    out
}

/// Whether `dedupe_key` is a forecast alert of `team_id` about `line`'s
/// subject and currency, in any period (see [`Shortfall::dedupe_key`]).
pub fn is_alert_about(dedupe_key: &str, team_id: &str, line: &Recovered) -> bool {
    let prefix = format!(
        "{}:{team_id}:{}:",
        crate::rules::FORECAST_BELOW_QUOTA,
        line.subject()
    );
    // The rest is "<period from>:<currency>"; the date holds no colon.
    dedupe_key
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(_, currency)| currency == line.currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadwheel_proto::reporting::v1::RepForecast;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn periods_are_calendar_months_quarters_and_years() {
        let at = ms("2026-05-20T10:00:00Z");
        let m = Period::containing("month", at, &TimeZone::UTC).unwrap();
        assert_eq!(
            (m.from.to_string(), m.next.to_string()),
            ("2026-05-01".into(), "2026-06-01".into())
        );
        let q = Period::containing("quarter", at, &TimeZone::UTC).unwrap();
        assert_eq!(
            (q.from.to_string(), q.next.to_string()),
            ("2026-04-01".into(), "2026-07-01".into())
        );
        let y = Period::containing("year", at, &TimeZone::UTC).unwrap();
        assert_eq!(
            (y.from.to_string(), y.next.to_string()),
            ("2026-01-01".into(), "2027-01-01".into())
        );
        let dec =
            Period::containing("quarter", ms("2026-12-31T23:59:59Z"), &TimeZone::UTC).unwrap();
        assert_eq!(dec.next.to_string(), "2027-01-01");
        assert!(Period::containing("week", at, &TimeZone::UTC).is_none());
    }

    #[test]
    fn the_check_is_due_part_way_and_moves_to_the_next_period_once_passed() {
        // April has 30 days: half-way is the 16th at 00:00.
        let (p, at) = next_check("month", 50, ms("2026-04-02T00:00:00Z"), &TimeZone::UTC).unwrap();
        assert_eq!(p.from_str(), "2026-04-01");
        assert_eq!(at, ms("2026-04-16T00:00:00Z"));
        // At the check point itself, the next one is May's.
        let (p, at) = next_check("month", 50, at, &TimeZone::UTC).unwrap();
        assert_eq!(p.from_str(), "2026-05-01");
        assert_eq!(at, ms("2026-05-16T12:00:00Z"));
    }

    #[test]
    fn periods_and_check_points_are_in_the_business_time_zone() {
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        // 30 April 20:00 UTC is 1 May 04:00 in Shanghai: May's period.
        let (p, at) = next_check("month", 50, ms("2026-04-30T20:00:00Z"), &shanghai).unwrap();
        assert_eq!(p.from_str(), "2026-05-01");
        // Half-way through May there: the 16th at 12:00 local, 04:00 UTC.
        assert_eq!(at, ms("2026-05-16T04:00:00Z"));
        // In UTC the same instant is still in April.
        let april = Period::containing("month", ms("2026-04-30T20:00:00Z"), &TimeZone::UTC);
        assert_eq!(april.unwrap().from_str(), "2026-04-01");
        let may = Period::containing("month", ms("2026-04-30T20:00:00Z"), &shanghai);
        assert_eq!(may.unwrap().from_str(), "2026-05-01");
    }

    fn line(currency: &str, quota: i64, forecast: i64) -> ForecastLine {
        ForecastLine {
            currency: currency.into(),
            quota_minor: quota,
            has_quota: quota > 0,
            forecast_minor: forecast,
            forecast_bp: if quota > 0 {
                forecast * 10_000 / quota
            } else {
                0
            },
            ..ForecastLine::default()
        }
    }

    #[test]
    fn lines_below_the_threshold_alert_and_the_rest_do_not() {
        let forecast = GetForecastResponse {
            lines: vec![line("EUR", 100_000, 79_999), line("USD", 0, 0)],
            reps: vec![
                RepForecast {
                    rep_id: "ana".into(),
                    lines: vec![line("EUR", 50_000, 20_000)],
                },
                RepForecast {
                    rep_id: "bo".into(),
                    lines: vec![line("EUR", 50_000, 40_000)],
                },
            ],
            ..Default::default()
        };
        let found = shortfalls(&forecast, 80);
        let subjects: Vec<_> = found
            .iter()
            .map(|s| (s.subject(), s.currency.clone()))
            .collect();
        assert_eq!(
            subjects,
            [
                ("team".to_string(), "EUR".to_string()),
                ("rep:ana".into(), "EUR".into())
            ]
        );
        assert_eq!(
            found[1].dedupe_key("north", "2026-04-01"),
            "forecast_below_quota:north:rep:ana:2026-04-01:EUR"
        );
        assert_eq!(
            found[0].dedupe_key("north", "2026-04-01"),
            "forecast_below_quota:north:team:2026-04-01:EUR"
        );
    }

    #[test]
    fn lines_back_above_the_threshold_match_their_earlier_alerts_only() {
        let forecast = GetForecastResponse {
            lines: vec![line("EUR", 100_000, 80_000), line("USD", 0, 0)],
            reps: vec![RepForecast {
                rep_id: "ana".into(),
                lines: vec![line("EUR", 50_000, 39_999), line("USD", 10_000, 9_000)],
            }],
            ..Default::default()
        };
        let back = recovered(&forecast, 80);
        assert_eq!(
            back,
            [
                Recovered {
                    rep_id: String::new(),
                    currency: "EUR".into()
                },
                Recovered {
                    rep_id: "ana".into(),
                    currency: "USD".into()
                },
            ]
        );
        let (team, ana_usd) = (&back[0], &back[1]);
        assert!(is_alert_about(
            "forecast_below_quota:north:team:2026-03-01:EUR",
            "north",
            team
        ));
        assert!(is_alert_about(
            "forecast_below_quota:north:rep:ana:2026-02-01:USD",
            "north",
            ana_usd
        ));
        // Another currency, subject or team is not this line's.
        assert!(!is_alert_about(
            "forecast_below_quota:north:rep:ana:2026-03-01:EUR",
            "north",
            ana_usd
        ));
        assert!(!is_alert_about(
            "forecast_below_quota:north:team:2026-03-01:EUR",
            "north",
            ana_usd
        ));
        assert!(!is_alert_about(
            "forecast_below_quota:south:team:2026-03-01:EUR",
            "north",
            team
        ));
    }
}

//! Working hours, skills, time zones and timestamps (moved here from the
//! wheel service and the simulator, which now both call this code), with
//! property tests tying `next_start` to `on_shift`.

use proptest::prelude::*;

use super::*;
use crate::eligibility::{LeadFacts, Member};
use crate::types::SkipReason;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;

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

fn ms(text: &str) -> Millis {
    parse_timestamp(text).unwrap()
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

#[test]
fn next_start_skips_days_off_and_follows_daylight_saving() {
    let shift = paris_weekdays().compile().unwrap();
    // Thursday 2026-12-24 after hours: Friday the 25th is off, so Monday.
    assert_eq!(
        shift.next_start(ms("2026-12-24T18:00:00Z")),
        Some(ms("2026-12-28T08:00:00Z"))
    );
    // Across the spring change (2026-03-29): 09:00 Paris is 07:00 UTC after.
    assert_eq!(
        shift.next_start(ms("2026-03-27T17:00:00Z")),
        Some(ms("2026-03-30T07:00:00Z"))
    );
    assert_eq!(Shift::always().next_start(0), None);
}

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
    let at_noon = |zone: TimeZone| {
        Timestamp::from_millisecond(ms("2025-01-06T12:00:00Z"))
            .unwrap()
            .to_zoned(zone)
            .hour()
    };
    assert_eq!(at_noon(fixed_zone("Z").unwrap()), 12);
    assert_eq!(at_noon(fixed_zone("+01:00").unwrap()), 13);
    assert_eq!(at_noon(fixed_zone("-0530").unwrap()), 6);
    assert!(fixed_zone("CET").is_err());
    assert!(fixed_zone("+19:00").is_err());
}

#[test]
fn daily_shifts() {
    // 2025-01-06 is a Monday.
    let monday = ms("2025-01-06T00:00:00Z");
    let shift = Shift::daily("09:00-17:00", "mon-fri", fixed_zone("+01:00").unwrap()).unwrap();
    // 09:00 at +01:00 is 08:00 UTC.
    assert!(!shift.on_shift(monday + 8 * HOUR - 1));
    assert!(shift.on_shift(monday + 8 * HOUR));
    assert!(!shift.on_shift(monday + 16 * HOUR));
    assert_eq!(shift.next_start(monday), Some(monday + 8 * HOUR));
    // Friday evening → Monday morning.
    let friday_night = monday + 4 * DAY + 20 * HOUR;
    assert!(!shift.on_shift(friday_night + DAY));
    assert_eq!(
        shift.next_start(friday_night),
        Some(monday + 7 * DAY + 8 * HOUR)
    );
    let night = Shift::daily("22:00-06:00", "daily", TimeZone::UTC).unwrap();
    assert!(night.on_shift(monday + 23 * HOUR) && night.on_shift(monday + DAY + 5 * HOUR));
    assert!(!night.on_shift(monday + 12 * HOUR));
    // Midnight inside a night shift is not a start.
    assert_eq!(
        night.next_start(monday + 12 * HOUR),
        Some(monday + 22 * HOUR)
    );
    assert_eq!(
        night.next_start(monday + 22 * HOUR),
        Some(monday + DAY + 22 * HOUR)
    );
    // Friday's night shift runs into Saturday; Saturday has none of its own.
    let weeknights = Shift::daily("22:00-06:00", "mon-fri", TimeZone::UTC).unwrap();
    assert!(weeknights.on_shift(monday + 5 * DAY + 5 * HOUR));
    assert!(!weeknights.on_shift(monday + 5 * DAY + 23 * HOUR));
    assert_eq!(
        parse_days("sat,sun").unwrap(),
        [false, false, false, false, false, true, true]
    );
    assert!(Shift::daily("9-5", "mon", TimeZone::UTC).is_err());
    assert!(Shift::daily("09:00-17:00", "funday", TimeZone::UTC).is_err());
    assert!(Shift::daily("09:00-09:00", "mon", TimeZone::UTC).is_err());
}

#[test]
fn members_are_skipped_for_the_first_reason_that_applies() {
    let lead = LeadFacts {
        tier: "A",
        country: "FR",
    };
    let nine = ms("2025-01-06T09:00:00Z");
    let member = Member {
        away: false,
        shift: Some(Shift::daily("09:00-17:00", "daily", TimeZone::UTC).unwrap()),
        skills: Skills {
            tiers: vec!["A".into()],
            regions: vec!["FR".into()],
        },
        capacity: 2,
    };
    assert_eq!(member.check(lead, 1, nine), Ok(()));
    assert_eq!(member.check(lead, 2, nine), Err(SkipReason::AtCapacity));
    assert_eq!(member.check(lead, 0, nine - 1), Err(SkipReason::OffShift));
    let b = LeadFacts { tier: "B", ..lead };
    assert_eq!(member.check(b, 0, nine), Err(SkipReason::Mismatch));
    let de = LeadFacts {
        country: "DE",
        ..lead
    };
    assert_eq!(member.check(de, 0, nine), Err(SkipReason::Mismatch));
    let away = Member {
        away: true,
        ..member.clone()
    };
    // Away comes first, even off shift and at capacity.
    assert_eq!(away.check(b, 5, nine - 1), Err(SkipReason::Away));
    let unjudged = Member {
        shift: None,
        ..member.clone()
    };
    assert_eq!(unjudged.check(lead, 0, nine), Err(SkipReason::OffShift));
    let uncapped = Member {
        capacity: 0,
        ..member
    };
    assert_eq!(uncapped.check(lead, 1_000, nine), Ok(()));
}

fn window() -> impl Strategy<Value = (i32, i32)> {
    (0..24 * 4, 0..24 * 4).prop_filter("not empty", |(a, b)| a != b)
}

fn clock(quarter: i32) -> String {
    format!("{:02}:{:02}", quarter / 4, quarter % 4 * 15)
}

proptest! {
    /// `next_start` is the first moment after `after` that is on shift with
    /// the minute before it off, and nothing between is a start: checked
    /// minute by minute against `on_shift`.
    #[test]
    fn next_start_agrees_with_on_shift(
        (from, to) in window(),
        days in proptest::collection::vec(any::<bool>(), 7),
        offset_quarters in -48i32..=56,
        after in 0i64..(14 * DAY),
    ) {
        let names: Vec<&str> = WEEKDAYS
            .iter()
            .zip(&days)
            .filter(|(_, on)| **on)
            .map(|(d, _)| *d)
            .collect();
        prop_assume!(!names.is_empty());
        let zone = TimeZone::fixed(Offset::from_seconds(offset_quarters * 900).unwrap());
        let shift = Shift::daily(
            &format!("{}-{}", clock(from), clock(to)),
            &names.join(","),
            zone,
        )
        .unwrap();
        let base = ms("2025-01-06T00:00:00Z");
        let after = base + after / MINUTE * MINUTE;
        let next = shift.next_start(after).expect("a shift on some day starts within a week");
        prop_assert!(next > after);
        prop_assert!(shift.on_shift(next) && !shift.on_shift(next - 1));
        let mut t = after + MINUTE;
        while t < next {
            prop_assert!(shift.on_shift(t) == shift.on_shift(t - MINUTE) || !shift.on_shift(t),
                "a start at {t} before next_start {next}");
            t += MINUTE;
        }
    }

    /// A weekday-window schedule stored by the service and the same hours
    /// built as a daily shift agree at every instant.
    #[test]
    fn stored_hours_and_daily_windows_agree(
        (from, to) in window().prop_filter("day shift", |(a, b)| a < b),
        at in 0i64..(21 * DAY),
    ) {
        let stored = Schedule {
            time_zone: "UTC".into(),
            hours: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| (d.to_string(), clock(from), clock(to)))
                .collect(),
            days_off: Vec::new(),
        }
        .compile()
        .unwrap();
        let daily = Shift::daily(&format!("{}-{}", clock(from), clock(to)), "mon-fri", TimeZone::UTC)
            .unwrap();
        let at = ms("2025-01-06T00:00:00Z") + at;
        prop_assert_eq!(stored.on_shift(at), daily.on_shift(at));
    }
}

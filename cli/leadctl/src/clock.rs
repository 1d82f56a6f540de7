//! Times and countdowns: UTC formatting without a date library, and the
//! server-corrected countdown of an offer.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now on this machine, epoch milliseconds.
pub fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `(year, month, day)` of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-22 07:55:11` (UTC); `-` for zero (unset).
pub fn datetime(ms: i64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let secs = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02} {}", time_of_day(ms))
}

/// `07:55:11` (UTC).
pub fn time_of_day(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Time left as `m:ss` (or `h:mm:ss`), rounded up so `0:00` means it is over.
pub fn countdown(remaining_ms: i64) -> String {
    if remaining_ms <= 0 {
        return "0:00".into();
    }
    let secs = (remaining_ms + 999) / 1000;
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// A bar of `width` cells, full when all the window is left.
pub fn bar(remaining_ms: i64, window_ms: i64, width: usize) -> String {
    let filled = if window_ms <= 0 {
        0
    } else {
        let fraction = (remaining_ms.max(0) as f64 / window_ms as f64).min(1.0);
        (fraction * width as f64).ceil() as usize
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// The difference between the server's clock and ours, learnt from the
/// server time each update carries; deadlines are the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skew {
    /// Server minus local, milliseconds.
    pub offset_ms: i64,
}

impl Skew {
    /// From a server timestamp received at local time `local_ms`.
    pub fn observe(server_ms: i64, local_ms: i64) -> Self {
        if server_ms == 0 {
            return Self::default();
        }
        Self {
            offset_ms: server_ms - local_ms,
        }
    }

    /// The server's "now" when ours is `local_ms`.
    pub fn server_now(self, local_ms: i64) -> i64 {
        local_ms + self.offset_ms
    }

    /// Time left until the server deadline `deadline_ms`.
    pub fn remaining(self, deadline_ms: i64, local_ms: i64) -> i64 {
        deadline_ms - self.server_now(local_ms)
    }

    /// A server time on our clock, for showing a deadline people can check
    /// against their own watch.
    pub fn to_local(self, server_ms: i64) -> i64 {
        server_ms - self.offset_ms
    }

    /// `+0.3 s` / `-1.2 s`.
    pub fn describe(self) -> String {
        let tenths = (self.offset_ms as f64 / 100.0).round() as i64;
        let sign = if tenths < 0 { '-' } else { '+' };
        format!("{sign}{}.{} s", tenths.abs() / 10, tenths.abs() % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(datetime(0), "-");
        assert_eq!(datetime(1), "1970-01-01 00:00:00");
        // 2024-02-29T12:34:56Z, a leap day.
        assert_eq!(datetime(1_709_210_096_000), "2024-02-29 12:34:56");
        // 2000-03-01T00:00:00Z.
        assert_eq!(datetime(951_868_800_000), "2000-03-01 00:00:00");
        assert_eq!(time_of_day(1_709_210_096_999), "12:34:56");
    }

    #[test]
    fn countdown_rounds_up() {
        assert_eq!(countdown(30_000), "0:30");
        assert_eq!(countdown(29_001), "0:30");
        assert_eq!(countdown(29_000), "0:29");
        assert_eq!(countdown(1), "0:01");
        assert_eq!(countdown(0), "0:00");
        assert_eq!(countdown(-5_000), "0:00");
        assert_eq!(countdown(61_000), "1:01");
        assert_eq!(countdown(3_600_000), "1:00:00");
    }

    #[test]
    fn bars() {
        assert_eq!(bar(30_000, 30_000, 5), "█████");
        assert_eq!(bar(15_000, 30_000, 4), "██░░");
        assert_eq!(bar(1, 30_000, 4), "█░░░");
        assert_eq!(bar(0, 30_000, 4), "░░░░");
        assert_eq!(bar(10, 0, 3), "░░░");
    }

    #[test]
    fn corrects_for_a_server_clock_ahead() {
        // The server is 2 s ahead: at our 10.000 s it says 12.000 s.
        let skew = Skew::observe(12_000, 10_000);
        assert_eq!(skew.offset_ms, 2_000);
        // A deadline at server 40.000 s is 28 s away, not 30.
        assert_eq!(skew.remaining(40_000, 10_000), 28_000);
        assert_eq!(skew.to_local(40_000), 38_000);
        assert_eq!(skew.describe(), "+2.0 s");
        assert_eq!(Skew { offset_ms: -30 }.describe(), "+0.0 s");
        assert_eq!(Skew { offset_ms: -1_250 }.describe(), "-1.3 s");
        assert_eq!(Skew::observe(0, 10_000), Skew::default());
    }
}

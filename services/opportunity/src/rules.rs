//! Pure checks and arithmetic: field limits, dates, currencies, links,
//! domains and the forecast. No I/O, so every rule is unit-tested here.

use crate::error::Error;

/// Longest id accepted in a request.
pub const MAX_ID_LEN: usize = 128;
/// Longest name (account, opportunity, tier, outcome, subject).
pub const MAX_NAME_LEN: usize = 200;
/// Longest reason for a change.
pub const MAX_REASON_LEN: usize = 500;
/// Longest free text (an email body, a note).
pub const MAX_BODY_LEN: usize = 10_000;
/// Longest note anchored in a call.
pub const MAX_CALL_NOTE_LEN: usize = 2_000;
/// Most notes on one call.
pub const MAX_CALL_NOTES: usize = 100;
/// Longest recording link.
pub const MAX_URL_LEN: usize = 2_048;
/// Most domains on one account.
pub const MAX_DOMAINS: usize = 20;
/// Longest call: a day.
pub const MAX_CALL_SECONDS: i64 = 24 * 3600;
/// Largest amount in minor units (10^15: a trillion and more in any currency).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// ISO 4217 codes in use for sales; an amount in anything else is refused.
pub const CURRENCIES: &[&str] = &[
    "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EGP",
    "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KRW", "MXN", "MYR", "NOK",
    "NZD", "PEN", "PHP", "PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD",
    "VND", "ZAR",
];

/// Refuses an empty (unless allowed) or oversized id.
pub fn id(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), Error> {
    if value.is_empty() && !may_be_empty {
        return Err(Error::invalid(field, "is required"));
    }
    text(field, value, MAX_ID_LEN)?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(field, format!("{value:?} contains spaces")));
    }
    Ok(())
}

/// Refuses text longer than `max` bytes or holding control characters
/// other than line breaks and tabs.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Refuses empty or oversized required text.
pub fn required(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    text(field, value, max)
}

/// A calendar date "YYYY-MM-DD"; `may_be_empty` lets "" through (unset).
pub fn date(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), Error> {
    if value.is_empty() {
        return if may_be_empty {
            Ok(())
        } else {
            Err(Error::invalid(field, "is required (YYYY-MM-DD)"))
        };
    }
    parse_date(value)
        .map(|_| ())
        .ok_or_else(|| Error::invalid(field, format!("{value:?} is not a date (YYYY-MM-DD)")))
}

/// (year, month, day) of a valid "YYYY-MM-DD".
pub fn parse_date(value: &str) -> Option<(i64, u32, u32)> {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &value[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days)
        .contains(&day)
        .then_some((i64::from(year), month, day))
}

/// The UTC date of `ms` since the epoch, plus `add_days`, as "YYYY-MM-DD".
pub fn date_after(ms: i64, add_days: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let days = ms.div_euclid(86_400_000) + add_days + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// An ISO 4217 code from [`CURRENCIES`].
pub fn currency(field: &'static str, value: &str) -> Result<(), Error> {
    if CURRENCIES.contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{value:?} is not an ISO 4217 currency code (e.g. \"EUR\", \"USD\")"),
        ))
    }
}

/// An amount in minor units: zero or more, at most [`MAX_AMOUNT_MINOR`].
pub fn amount(field: &'static str, value: i64) -> Result<(), Error> {
    if value < 0 {
        return Err(Error::invalid(field, format!("{value} is negative")));
    }
    if value > MAX_AMOUNT_MINOR {
        return Err(Error::invalid(
            field,
            format!("{value} is above the limit of {MAX_AMOUNT_MINOR}"),
        ));
    }
    Ok(())
}

/// A win probability in percent.
pub fn probability(field: &'static str, value: i32) -> Result<(), Error> {
    if (0..=100).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{value} is not between 0 and 100"),
        ))
    }
}

/// An absolute http(s) link with a host: what a recording player can open.
pub fn url(field: &'static str, value: &str) -> Result<(), Error> {
    text(field, value, MAX_URL_LEN)?;
    let bad = || Error::invalid(field, format!("{value:?} is not an http(s) URL"));
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    let hostname = host.split(':').next().unwrap_or_default();
    let port_ok = host
        .split_once(':')
        .is_none_or(|(_, port)| !port.is_empty() && port.parse::<u16>().is_ok());
    let host_ok = !hostname.is_empty()
        && hostname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !hostname.starts_with('.')
        && !hostname.ends_with('.');
    if !host_ok || !port_ok || value.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(())
}

/// Lower-cases and checks account domains; refuses duplicates, a scheme or
/// a path, and more than [`MAX_DOMAINS`].
pub fn domains(field: &'static str, values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > MAX_DOMAINS {
        return Err(Error::invalid(
            field,
            format!("has {} entries; the limit is {MAX_DOMAINS}", values.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let domain = value.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if domain.len() > 253 || !labels_ok {
            return Err(Error::invalid(
                field,
                format!("{value:?} is not a domain like \"acme.com\""),
            ));
        }
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out)
}

/// amount × probability / 100, rounded down, without overflow.
pub fn weighted(amount_minor: i64, probability_percent: i32) -> i64 {
    (i128::from(amount_minor) * i128::from(probability_percent) / 100) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(date("d", "2026-02-28", false).is_ok());
        assert!(date("d", "2028-02-29", false).is_ok());
        assert!(date("d", "2026-02-29", false).is_err());
        assert!(date("d", "2026-13-01", false).is_err());
        assert!(date("d", "2026-1-01", false).is_err());
        assert!(date("d", "26-01-01xx", false).is_err());
        assert!(date("d", "", true).is_ok());
        assert!(date("d", "", false).is_err());
        assert_eq!(date_after(0, 0), "1970-01-01");
        assert_eq!(date_after(1_767_225_600_000, 3), "2026-01-04");
        assert_eq!(date_after(951_782_400_000, 0), "2000-02-29");
    }

    #[test]
    fn urls() {
        for ok in [
            "https://calls.example.com/r/1",
            "http://10.0.0.1:8080/x?y#z",
            "https://a.b",
        ] {
            assert!(url("u", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x.com/a",
            "https://",
            "https:///path",
            "javascript:alert(1)",
            "https://exa mple.com",
            "https://x.com:99999/",
            "calls.example.com/r/1",
        ] {
            assert!(url("u", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_normalised() {
        let out = domains(
            "d",
            &["ACME.com".into(), "acme.com.".into(), "acme.de".into()],
        )
        .unwrap();
        assert_eq!(out, ["acme.com", "acme.de"]);
        assert!(domains("d", &["https://acme.com".into()]).is_err());
        assert!(domains("d", &["acme".into()]).is_err());
        assert!(domains("d", &["a..com".into()]).is_err());
        let many: Vec<String> = (0..21).map(|n| format!("d{n}.com")).collect();
        assert!(domains("d", &many).is_err());
    }

    #[test]
    fn money() {
        assert!(amount("a", -1).is_err());
        assert!(amount("a", 0).is_ok());
        assert!(amount("a", MAX_AMOUNT_MINOR + 1).is_err());
        assert!(currency("c", "EUR").is_ok());
        assert!(currency("c", "eur").is_err());
        assert!(currency("c", "XYZ").is_err());
        assert_eq!(weighted(10_000, 30), 3_000);
        assert_eq!(weighted(999, 33), 329);
        assert_eq!(weighted(MAX_AMOUNT_MINOR, 100), MAX_AMOUNT_MINOR);
        assert!(probability("p", 101).is_err());
        assert!(probability("p", -1).is_err());
    }

    #[test]
    fn ids_and_text() {
        assert!(id("i", "", true).is_ok());
        assert!(id("i", "", false).is_err());
        assert!(id("i", &"x".repeat(129), false).is_err());
        assert!(id("i", "a b", false).is_err());
        assert!(text("t", "line\nbreak", 20).is_ok());
        assert!(text("t", "bell\u{7}", 20).is_err());
        assert!(required("t", "  ", 20).is_err());
    }
}

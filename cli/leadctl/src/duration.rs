//! Durations as people write them (`30s`, `2m`, `1h30m`, `250ms`) and as
//! leadctl prints them.

/// Milliseconds in one of each unit leadctl accepts.
const UNITS: [(&str, i64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Parses `30s`, `2m`, `1h`, `250ms`, `1.5h`, `1h30m` or `2d` into
/// milliseconds. A bare number is refused: `60` could mean seconds or
/// milliseconds, and a window off by a factor of a thousand is a bad surprise.
pub fn parse_ms(raw: &str) -> Result<i64, String> {
    let text = raw.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err("empty duration (try 30s, 2m or 1h)".into());
    }
    if text == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{raw:?} is not a duration (try 30s, 2m or 1h)"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{raw:?} is not a duration (try 30s, 2m or 1h)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("{raw:?} needs a unit: ms, s, m, h or d (e.g. 30s)")
            } else {
                format!("{raw:?} has an unknown unit {unit:?} (use ms, s, m, h or d)")
            });
        };
        total += number * *scale as f64;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 365.0 * 86_400_000.0 {
        return Err(format!("{raw:?} is too long"));
    }
    Ok(total.round() as i64)
}

/// `90s` → `1m30s`, `1500` ms → `1.5s`, `0` → `0s`: short, exact where it matters.
pub fn human(ms: i64) -> String {
    if ms < 0 {
        return format!("-{}", human(-ms));
    }
    if ms < 1_000 {
        return if ms == 0 {
            "0s".into()
        } else {
            format!("{ms}ms")
        };
    }
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = (ms + 500) / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s")];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    // Two units are plenty for a person: `2h5m`, not `2h5m13s`.
    parts[first..(first + 2).min(4)]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        assert_eq!(parse_ms("30s"), Ok(30_000));
        assert_eq!(parse_ms("2m"), Ok(120_000));
        assert_eq!(parse_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_ms("250ms"), Ok(250));
        assert_eq!(parse_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_ms(" 10M "), Ok(600_000));
        assert_eq!(parse_ms("2d"), Ok(172_800_000));
        assert_eq!(parse_ms("0"), Ok(0));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert!(parse_ms("60").unwrap_err().contains("needs a unit"));
        assert!(parse_ms("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_ms("").is_err());
        assert!(parse_ms("s").is_err());
        assert!(parse_ms("-5s").is_err());
        assert!(parse_ms("1.2.3s").is_err());
        assert!(parse_ms("9999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn prints_short_durations() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(250), "250ms");
        assert_eq!(human(1_500), "1.5s");
        assert_eq!(human(30_000), "30s");
        assert_eq!(human(90_000), "1m30s");
        assert_eq!(human(120_000), "2m");
        assert_eq!(human(3_600_000 + 5 * 60_000 + 13_000), "1h5m");
        assert_eq!(human(2 * 86_400_000 + 3_600_000), "2d1h");
        assert_eq!(human(-2_000), "-2s");
    }
}

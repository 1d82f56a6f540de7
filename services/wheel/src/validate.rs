//! Request validation: every check names the field at fault.

use crate::error::WheelError;

/// Longest id accepted for teams, reps and leads.
pub const MAX_ID_LEN: usize = 64;
/// Shortest and longest offer windows.
pub const MIN_WINDOW_MS: i64 = 1_000;
pub const MAX_WINDOW_MS: i64 = 3_600_000;
/// Default offer window when a team sets none.
pub const DEFAULT_WINDOW_MS: i64 = 60_000;
/// Largest ring.
pub const MAX_RING: usize = 500;
/// Longest display name and pass reason.
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_REASON_LEN: usize = 200;

/// An id: 1..=64 characters of letters, digits, `_`, `-`, `.`.
pub fn id<'a>(field: &'static str, value: &'a str) -> Result<&'a str, WheelError> {
    if value.is_empty() {
        return Err(WheelError::invalid(field, "is required"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(WheelError::invalid(
            field,
            format!("is longer than {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(WheelError::invalid(
            field,
            format!("{value:?} contains {bad:?}; use letters, digits, '_', '-' or '.'"),
        ));
    }
    Ok(value)
}

/// Free text of at most `max` characters, without control characters.
pub fn text<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    required: bool,
) -> Result<&'a str, WheelError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(WheelError::invalid(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(WheelError::invalid(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(WheelError::invalid(field, "contains control characters"));
    }
    Ok(value)
}

/// An offer window in milliseconds; 0 means the default.
pub fn window_ms(value: i64) -> Result<i64, WheelError> {
    match value {
        0 => Ok(DEFAULT_WINDOW_MS),
        v if (MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&v) => Ok(v),
        v => Err(WheelError::invalid(
            "team.window_ms",
            format!("{v} is out of range ({MIN_WINDOW_MS}..={MAX_WINDOW_MS})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(id("rep_id", "ana-1.b_c").is_ok());
        assert!(id("rep_id", "").is_err());
        assert!(id("rep_id", "a b").is_err());
        assert!(id("rep_id", &"x".repeat(65)).is_err());
    }

    #[test]
    fn windows() {
        assert_eq!(window_ms(0).unwrap(), DEFAULT_WINDOW_MS);
        assert!(window_ms(999).is_err());
        assert!(window_ms(3_600_001).is_err());
        assert_eq!(window_ms(30_000).unwrap(), 30_000);
    }
}

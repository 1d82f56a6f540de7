//! The fields with more shape than bounded text: phone, company size,
//! consent and custom attributes.

use std::collections::BTreeMap;

use super::{MAX_PHONE, text};
use crate::error::IntakeError;

/// Most custom attributes on one lead.
pub const MAX_ATTRIBUTES: usize = 20;
/// Longest attribute name.
pub const MAX_ATTRIBUTE_KEY: usize = 40;
/// Longest attribute value.
pub const MAX_ATTRIBUTE_VALUE: usize = 500;
/// Largest company size taken seriously (the biggest employers are ~2M).
const MAX_COMPANY_SIZE: i64 = 10_000_000;

/// Normalises a phone number to E.164-ish: punctuation and spaces go, a
/// leading `00` becomes `+`; with `+` there must be 7 to 15 digits (E.164),
/// without (a national number, country unknown) 5 to 15.
pub(super) fn phone(raw: Option<&str>) -> Result<String, IntakeError> {
    let value = text("phone", raw, MAX_PHONE, false)?;
    if value.is_empty() {
        return Ok(value);
    }
    let invalid = |why: &str| {
        IntakeError::field(
            "phone",
            "invalid_format",
            format!("{value:?} is not a phone number: {why}"),
        )
    };
    if !value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(invalid("use digits with + - ( ) . or spaces"));
    }
    let plus = value.starts_with('+');
    if value[1..].contains('+') {
        return Err(invalid("+ may only come first"));
    }
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let (international, digits) = match digits.strip_prefix("00") {
        Some(rest) if !plus => (true, rest.to_string()),
        _ => (plus, digits),
    };
    let range = if international { 7..=15 } else { 5..=15 };
    if !range.contains(&digits.len()) {
        return Err(invalid(&format!(
            "{} digits; expected {} to {}",
            digits.len(),
            range.start(),
            range.end()
        )));
    }
    if international && digits.starts_with('0') {
        return Err(invalid("a country code never starts with 0"));
    }
    Ok(if international {
        format!("+{digits}")
    } else {
        digits
    })
}

/// Employees: `250`, `51-200` (its lower bound) or `1000+`; empty is unknown (0).
pub(super) fn company_size(raw: Option<&str>) -> Result<i64, IntakeError> {
    let value = text("company_size", raw, 32, false)?;
    if value.is_empty() {
        return Ok(0);
    }
    let size = leadwheel_intake_rules::parse_company_size(&value).map_err(|why| {
        IntakeError::field(
            "company_size",
            "invalid_format",
            format!("{value:?} is not a company size: {why}"),
        )
    })?;
    if !(1..=MAX_COMPANY_SIZE).contains(&size) {
        return Err(IntakeError::field(
            "company_size",
            "out_of_range",
            format!("{size} employees is outside 1..{MAX_COMPANY_SIZE}"),
        ));
    }
    Ok(size)
}

/// `true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0` (HTML checkboxes
/// send `on`); absent is false: consent is never assumed.
pub(super) fn consent(raw: Option<&str>) -> Result<bool, IntakeError> {
    let value = text("consent", raw, 8, false)?.to_ascii_lowercase();
    match value.as_str() {
        "" | "false" | "no" | "off" | "0" => Ok(false),
        "true" | "yes" | "on" | "1" => Ok(true),
        _ => Err(IntakeError::field(
            "consent",
            "invalid_format",
            format!("{value:?} is not true or false"),
        )),
    }
}

/// Custom attributes: at most [`MAX_ATTRIBUTES`], names of letters, digits,
/// `_`, `-` and `.` (lowercased, each once), single-line values.
pub(super) fn attributes(
    raw: &[(String, String)],
) -> Result<BTreeMap<String, String>, IntakeError> {
    let refuse =
        |code: &'static str, message: String| IntakeError::field("attributes", code, message);
    if raw.len() > MAX_ATTRIBUTES {
        return Err(refuse(
            "too_many",
            format!(
                "{} attributes; at most {MAX_ATTRIBUTES} are accepted",
                raw.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let name = key.trim().to_ascii_lowercase();
        let key_ok = (1..=MAX_ATTRIBUTE_KEY).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !key_ok {
            return Err(refuse(
                "invalid_key",
                format!(
                    "attribute name {:?} must be 1 to {MAX_ATTRIBUTE_KEY} letters, digits, _ - or .",
                    key.chars().take(60).collect::<String>()
                ),
            ));
        }
        let value = text("attributes", Some(value), MAX_ATTRIBUTE_VALUE, false).map_err(|err| {
            refuse(
                err.code(),
                format!("attribute {name:?}: {}", err_message(&err)),
            )
        })?;
        if out.insert(name.clone(), value).is_some() {
            return Err(refuse(
                "duplicate",
                format!("attribute {name:?} is given more than once"),
            ));
        }
    }
    Ok(out)
}

fn err_message(err: &IntakeError) -> String {
    match err {
        IntakeError::InvalidField { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

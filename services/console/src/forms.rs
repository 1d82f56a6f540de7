//! What the rep's forms share: reading durations, call notes, amounts and
//! dates as people type them (each refusal names its field), idempotency
//! keys, the values a refused form is shown again with, and answering a
//! form the way it was sent (htmx: a fragment; a plain form: a redirect on
//! success, the page again on failure).

use std::collections::HashMap;

use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use leadwheel_proto::opportunity::v1::CallNote;
use rand::Rng;

use crate::error::ConsoleError;

/// Whether htmx sent the request (it answers with a fragment).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A new idempotency key for a form (the service returns the first result
/// for a repeated key, so a double submit does one thing).
pub fn request_id() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("console-{hex}")
}

fn bad(field: &'static str, message: String) -> ConsoleError {
    ConsoleError::BadRequest { field, message }
}

/// A length of time as typed: `90` or `90s` (seconds), `12m`, `1h`,
/// `1:30` (m:ss) or `1:02:03` (h:mm:ss). Empty is zero.
pub fn parse_duration(field: &'static str, raw: &str) -> Result<i64, ConsoleError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(0);
    }
    let wrong = || {
        bad(
            field,
            format!("{text:?} is not a time (e.g. 90, 90s, 12m, 1h, 1:30)"),
        )
    };
    let number = |s: &str| -> Result<i64, ConsoleError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9 {
            return Err(wrong());
        }
        s.parse().map_err(|_| wrong())
    };
    if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        let values = parts
            .iter()
            .map(|p| number(p))
            .collect::<Result<Vec<_>, _>>()?;
        return match values.as_slice() {
            [m, s] if *s < 60 => Ok(m * 60 + s),
            [h, m, s] if *m < 60 && *s < 60 => Ok(h * 3600 + m * 60 + s),
            _ => Err(wrong()),
        };
    }
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let value = number(digits.trim())?;
    match unit {
        's' => Ok(value),
        'm' => Ok(value * 60),
        'h' => Ok(value * 3600),
        _ => Err(wrong()),
    }
}

/// Call notes, one a line: a time in the recording, then the note
/// (`1:30 pricing`, `90=pricing`, `2m next steps`). Blank lines are skipped.
pub fn parse_notes(raw: &str) -> Result<Vec<CallNote>, ConsoleError> {
    let mut notes = Vec::new();
    for (number, line) in raw.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let split = line
            .find(|c: char| c == '=' || c.is_whitespace())
            .ok_or_else(|| {
                bad(
                    "notes",
                    format!(
                        "line {}: {line:?} needs a time and a note, e.g. \"1:30 pricing\"",
                        number + 1
                    ),
                )
            })?;
        let offset = parse_duration("notes", &line[..split]).map_err(|_| {
            bad(
                "notes",
                format!(
                    "line {}: {:?} is not a time in the recording (e.g. 90, 2m, 1:30)",
                    number + 1,
                    &line[..split]
                ),
            )
        })?;
        let text = line[split..]
            .trim_start_matches(|c: char| c == '=' || c.is_whitespace())
            .trim();
        if text.is_empty() {
            return Err(bad(
                "notes",
                format!("line {}: the note after the time is empty", number + 1),
            ));
        }
        notes.push(CallNote {
            offset_seconds: offset,
            text: text.to_string(),
        });
    }
    Ok(notes)
}

/// `12000.50` in `currency` as minor units (`1200050`); empty is zero.
/// (Currencies without minor units, like JPY, take none.)
pub fn parse_amount(field: &'static str, raw: &str, currency: &str) -> Result<i64, ConsoleError> {
    let text = raw.trim().replace(['_', ',', ' '], "");
    if text.is_empty() {
        return Ok(0);
    }
    let wrong = || {
        bad(
            field,
            format!("{raw:?} is not an amount (e.g. 12000 or 12000.50)"),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let places = leadwheel_report_sheets::decimals(currency) as usize;
    if whole.is_empty()
        || whole.len() > 15
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(wrong());
    }
    if fraction.len() > places {
        return Err(bad(
            field,
            format!("{raw:?} has more than {places} decimals for {currency}"),
        ));
    }
    format!("{whole}{fraction:0<places$}")
        .parse()
        .map_err(|_| wrong())
}

/// Minor units as the amount field shows them (`1200050` EUR: `12000.50`).
pub fn amount_field(amount_minor: i64, currency: &str) -> String {
    match leadwheel_report_sheets::decimals(currency) {
        0 => amount_minor.to_string(),
        _ => {
            let sign = if amount_minor < 0 { "-" } else { "" };
            let magnitude = amount_minor.unsigned_abs();
            format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
        }
    }
}

/// A date field: empty, or `YYYY-MM-DD` (the services check the calendar).
pub fn parse_date(field: &'static str, raw: &str) -> Result<String, ConsoleError> {
    let text = raw.trim();
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if text.is_empty() || shape {
        Ok(text.to_string())
    } else {
        Err(bad(field, format!("{text:?} is not a date (YYYY-MM-DD)")))
    }
}

/// `2026-11-30T09:30` (a `datetime-local` field) at `offset_min` minutes
/// behind UTC (JavaScript's `getTimezoneOffset`; 0 without it) as epoch ms.
pub fn parse_local_time(
    field: &'static str,
    raw: &str,
    offset_min: i64,
) -> Result<i64, ConsoleError> {
    let text = raw.trim();
    let wrong = || {
        bad(
            field,
            format!("{text:?} is not a date and time (YYYY-MM-DDTHH:MM)"),
        )
    };
    let (date, time) = text.split_once('T').ok_or_else(wrong)?;
    if parse_date(field, date).map_err(|_| wrong())?.is_empty() {
        return Err(wrong());
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| wrong());
    let (y, m, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..10])?);
    let mut hm = time.split(':');
    let (h, min) = (
        num(hm.next().ok_or_else(wrong)?)?,
        num(hm.next().ok_or_else(wrong)?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 {
        return Err(wrong());
    }
    let days = days_from_civil(y, m, d);
    Ok(((days * 86_400 + h * 3600 + min * 60) + offset_min * 60) * 1000)
}

// Howard Hinnant's days-from-civil.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The values a refused form is shown again with, and which form it was.
#[derive(Clone, Debug, Default)]
pub struct Refused {
    /// The form's name (`activity`, `convert`, …).
    pub form: &'static str,
    /// The HTTP status and what to say.
    pub status: u16,
    /// The message, naming the field.
    pub message: String,
    /// What was typed.
    pub values: HashMap<String, String>,
}

impl Refused {
    /// A refusal of `form` with what was typed.
    pub fn new(
        form: &'static str,
        error: ConsoleError,
        values: HashMap<String, String>,
        lang: crate::i18n::Lang,
    ) -> Self {
        let (status, message) = error.status_and_text(lang);
        Self {
            form,
            status: status.as_u16(),
            message,
            values,
        }
    }

    /// The error shown beside `form`, when it is the refused one.
    pub fn of(this: Option<&Self>, form: &str) -> Option<Self> {
        this.filter(|r| r.form == form).cloned()
    }

    /// What was typed in `field` of the refused form, else `default`.
    pub fn value(this: Option<&Self>, field: &str, default: &str) -> String {
        this.and_then(|r| r.values.get(field))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

/// A form's fields as sent (for showing a refused form again).
pub fn values(body: &[(String, String)]) -> HashMap<String, String> {
    body.iter()
        .filter(|(k, _)| k != crate::csrf::FIELD)
        .cloned()
        .collect()
}

/// Answers a successful plain form with a redirect to `back` (so a reload
/// does not post again); htmx gets `fragment`.
pub fn done(headers: &HeaderMap, back: &str, fragment: impl FnOnce() -> String) -> Response {
    if is_htmx(headers) {
        Html(fragment()).into_response()
    } else {
        Redirect::to(back).into_response()
    }
}

/// The answer when the page cannot be read back after a form: the form's
/// own refusal comes first (its status and message), else why the page
/// could not be read.
pub fn unloaded(
    signed: &crate::state::Signed,
    headers: &HeaderMap,
    refused: Option<Refused>,
    status: tonic::Status,
    nav: crate::views::Nav,
) -> Response {
    let lang = signed.user().lang;
    let (code, text) = match refused {
        Some(r) => (r.status_code(), r.message),
        None => ConsoleError::from(status).status_and_text(lang),
    };
    if is_htmx(headers) {
        let body = maud::html! { p.error role="alert" data-status=(code.as_u16()) { (text) } };
        (code, Html(body.into_string())).into_response()
    } else {
        let body = maud::html! {
            h1 { (crate::i18n::ERROR.get(lang)) }
            p.error role="alert" data-status=(code.as_u16()) { (text) }
        };
        let page = crate::views::page(
            Some(&signed.session),
            lang,
            crate::i18n::ERROR.get(lang),
            nav,
            body,
        );
        (code, Html(page.into_string())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_type_them() {
        for (raw, want) in [
            ("", 0),
            ("90", 90),
            ("90s", 90),
            ("12m", 720),
            ("1h", 3600),
            ("1:30", 90),
            ("1:02:03", 3723),
        ] {
            assert_eq!(parse_duration("duration", raw).unwrap(), want, "{raw}");
        }
        for raw in ["x", "1:75", "12 parsecs", "-5", "5d"] {
            let err = parse_duration("duration", raw).unwrap_err();
            assert!(err.to_string().starts_with("duration:"), "{err}");
        }
    }

    #[test]
    fn notes_are_anchored_at_times() {
        let notes = parse_notes("1:30 pricing\n\n90=budget ok\n2m  next steps").unwrap();
        let got: Vec<(i64, &str)> = notes
            .iter()
            .map(|n| (n.offset_seconds, n.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [(90, "pricing"), (90, "budget ok"), (120, "next steps")]
        );
        let err = parse_notes("pricing").unwrap_err().to_string();
        assert!(err.starts_with("notes: line 1"), "{err}");
        let err = parse_notes("1:30 a\nsoon b").unwrap_err().to_string();
        assert!(err.starts_with("notes: line 2"), "{err}");
    }

    #[test]
    fn amounts_are_minor_units() {
        assert_eq!(parse_amount("amount", "12000.5", "EUR").unwrap(), 1_200_050);
        assert_eq!(parse_amount("amount", "12,000", "EUR").unwrap(), 1_200_000);
        assert_eq!(parse_amount("amount", "500", "JPY").unwrap(), 500);
        assert_eq!(parse_amount("amount", "", "EUR").unwrap(), 0);
        assert!(parse_amount("amount", "1.234", "EUR").is_err());
        assert!(parse_amount("amount", "1.5", "JPY").is_err());
        assert!(
            parse_amount("amount", "ten", "EUR")
                .unwrap_err()
                .to_string()
                .starts_with("amount:")
        );
        assert_eq!(amount_field(1_200_050, "EUR"), "12000.50");
        assert_eq!(amount_field(500, "JPY"), "500");
    }

    #[test]
    fn dates_and_local_times() {
        assert_eq!(parse_date("date", "2026-12-01").unwrap(), "2026-12-01");
        assert_eq!(parse_date("date", " ").unwrap(), "");
        assert!(parse_date("date", "1/12/2026").is_err());
        // 2026-11-30 00:53:20 UTC is 1_796_000_000_000 ms.
        assert_eq!(
            parse_local_time("until", "2026-11-30T00:53", 0).unwrap(),
            1_796_000_000_000 - 20_000
        );
        // UTC+8 (offset -480): 08:53 there is 00:53 UTC.
        assert_eq!(
            parse_local_time("until", "2026-11-30T08:53", -480).unwrap(),
            1_796_000_000_000 - 20_000
        );
        assert!(parse_local_time("until", "tomorrow", 0).is_err());
    }
}

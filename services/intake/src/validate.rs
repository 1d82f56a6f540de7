//! Validation and normalisation of a lead, shared by the HTTP and gRPC doors.
//!
//! Pure functions over strings: no I/O, so they are unit- and property-tested
//! directly. Every rejection is an [`IntakeError::InvalidField`] naming the
//! field, which both doors turn into a 4xx / `INVALID_ARGUMENT`.

use std::collections::BTreeMap;

use crate::error::IntakeError;

mod fields;

pub use fields::{MAX_ATTRIBUTE_KEY, MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTES};

/// Longest accepted email (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest local part of an email (RFC 5321).
const MAX_LOCAL: usize = 64;
/// Longest name or company.
pub const MAX_NAME: usize = 200;
/// Longest phone number as typed (with spaces and punctuation).
pub const MAX_PHONE: usize = 40;
/// Longest website URL.
pub const MAX_WEBSITE: usize = 2048;
/// Longest source tag (`website`, `google-ads`, ...).
pub const MAX_SOURCE: usize = 64;
/// Longest free-text message.
pub const MAX_MESSAGE: usize = 4000;
/// Longest idempotency key.
pub const MAX_REQUEST_ID: usize = 128;
/// Longest `utm_*` value (campaign names can be long, not unbounded).
pub const MAX_UTM: usize = 200;
/// Longest product or plan name.
pub const MAX_PRODUCT: usize = 64;

/// A lead as submitted: every field optional and untrusted, as text (the
/// JSON door turns numbers and booleans into text first, the form door has
/// nothing else).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadInput {
    /// Required.
    pub email: Option<String>,
    /// Person's name.
    pub name: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Phone number as typed.
    pub phone: Option<String>,
    /// Company website, e.g. `https://www.acme.io/pricing`.
    pub website: Option<String>,
    /// A bare company domain, used when there is no website.
    pub domain: Option<String>,
    /// Employees: `250`, `51-200` or `1000+`.
    pub company_size: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Where the lead came from.
    pub source: Option<String>,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`.
    pub utm: [Option<String>; 5],
    /// Product signed up for.
    pub product: Option<String>,
    /// Plan chosen.
    pub plan: Option<String>,
    /// Marketing consent: `true`/`false` (also `yes`, `on`, `1`, ...).
    pub consent: Option<String>,
    /// Free text from the signup form.
    pub message: Option<String>,
    /// Custom attributes, in the order sent (so duplicates can be refused).
    pub attributes: Vec<(String, String)>,
}

/// The `utm_*` field names, in [`LeadInput::utm`] order.
pub const UTM_FIELDS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// A validated, normalised lead, ready to store. Absent optional fields are
/// empty strings (0, false), as in the proto.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLead {
    /// Trimmed, domain lowercased; the local part keeps its case because
    /// RFC 5321 says it may matter to the receiving server.
    pub email: String,
    /// The whole email lowercased: the dedupe key. Real providers treat the
    /// local part case-insensitively, so `Ana@x.io` and `ana@x.io` are one person.
    pub email_key: String,
    /// The email's domain.
    pub email_domain: String,
    /// Name.
    pub name: String,
    /// Company.
    pub company: String,
    /// Company domain: the website's host without `www.`, else the domain
    /// field, else the email's domain.
    pub domain: String,
    /// Phone, E.164-ish: `+` and digits when an international prefix was
    /// given, else the digits alone.
    pub phone: String,
    /// Website as given (trimmed).
    pub website: String,
    /// Employees (0 = unknown); a range counts as its lower bound.
    pub company_size: i64,
    /// Country, uppercased.
    pub country: String,
    /// Source, lowercased.
    pub source: String,
    /// The `utm_*` values, in [`UTM_FIELDS`] order.
    pub utm: [String; 5],
    /// Product.
    pub product: String,
    /// Plan.
    pub plan: String,
    /// Marketing consent.
    pub consent: bool,
    /// Message.
    pub message: String,
    /// Custom attributes (keys lowercased).
    pub attributes: BTreeMap<String, String>,
}

/// Validates and normalises `input`; the first problem found is returned.
pub fn validate(input: &LeadInput) -> Result<NewLead, IntakeError> {
    let (email, email_key, email_domain) = email(input.email.as_deref())?;
    let name = text("name", input.name.as_deref(), MAX_NAME, false)?;
    let company = text("company", input.company.as_deref(), MAX_NAME, false)?;
    let phone = fields::phone(input.phone.as_deref())?;
    let website = text("website", input.website.as_deref(), MAX_WEBSITE, false)?;
    let domain_field = text("domain", input.domain.as_deref(), 253, false)?;
    let domain = if !website.is_empty() {
        website_domain("website", &website)?
    } else if !domain_field.is_empty() {
        website_domain("domain", &domain_field)?
    } else {
        email_domain.clone()
    };
    let company_size = fields::company_size(input.company_size.as_deref())?;
    let country = country(input.country.as_deref())?;
    let source = text("source", input.source.as_deref(), MAX_SOURCE, false)?.to_lowercase();
    let mut utm: [String; 5] = Default::default();
    for ((slot, field), raw) in utm.iter_mut().zip(UTM_FIELDS).zip(&input.utm) {
        *slot = text(field, raw.as_deref(), MAX_UTM, false)?;
    }
    let product = text("product", input.product.as_deref(), MAX_PRODUCT, false)?;
    let plan = text("plan", input.plan.as_deref(), MAX_PRODUCT, false)?;
    let consent = fields::consent(input.consent.as_deref())?;
    let message = text("message", input.message.as_deref(), MAX_MESSAGE, true)?;
    let attributes = fields::attributes(&input.attributes)?;
    Ok(NewLead {
        email,
        email_key,
        email_domain,
        name,
        company,
        domain,
        phone,
        website,
        company_size,
        country,
        source,
        utm,
        product,
        plan,
        consent,
        message,
        attributes,
    })
}

/// Validates an idempotency key sent as `field`; empty means none was given.
pub fn request_id(field: &'static str, raw: &str) -> Result<Option<String>, IntakeError> {
    let value = text(field, Some(raw), MAX_REQUEST_ID, false)?;
    Ok((!value.is_empty()).then_some(value))
}

/// Characters refused in any field: control characters (except line breaks
/// and tabs in multi-line text) and the bidirectional overrides that can make
/// a name display as something else in a rep's screen.
pub(crate) fn forbidden(c: char, multiline: bool) -> bool {
    if multiline && matches!(c, '\n' | '\r' | '\t') {
        return false;
    }
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Trims an optional text field and checks its length (in characters) and
/// characters; absent becomes empty.
pub(crate) fn text(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<String, IntakeError> {
    let value = raw.unwrap_or_default().trim();
    let chars = value.chars().count();
    if chars > max {
        return Err(IntakeError::field(
            field,
            "too_long",
            format!("is {chars} characters long; at most {max} are accepted"),
        ));
    }
    if let Some(c) = value.chars().find(|c| forbidden(*c, multiline)) {
        return Err(IntakeError::field(
            field,
            "control_character",
            format!("contains the control character U+{:04X}", c as u32),
        ));
    }
    Ok(value.to_string())
}

/// Returns (normalised email, dedupe key, domain).
fn email(raw: Option<&str>) -> Result<(String, String, String), IntakeError> {
    let value = text("email", raw, MAX_EMAIL, false)?;
    if value.is_empty() {
        return Err(IntakeError::field("email", "required", "is required"));
    }
    let invalid = |why: &str| {
        IntakeError::field(
            "email",
            "invalid_format",
            format!("{value:?} is not an email address: {why}"),
        )
    };
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err(invalid("no @"));
    };
    if local.is_empty() || local.chars().count() > MAX_LOCAL {
        return Err(invalid("the part before @ must be 1 to 64 characters"));
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid(
            "the part before @ has characters email does not allow",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let domain = domain.strip_suffix('.').unwrap_or(&domain);
    if !is_domain(domain) {
        return Err(invalid("the domain is not a valid host name"));
    }
    let email = format!("{local}@{domain}");
    let key = email.to_lowercase();
    Ok((email, key, domain.to_string()))
}

/// A public DNS name: at least two labels of letters, digits and inner
/// hyphens (punycode for international names), not an IP address.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()))
}

/// The company domain named by a website URL (scheme optional).
fn website_domain(field: &'static str, website: &str) -> Result<String, IntakeError> {
    let invalid = |why: &str| {
        IntakeError::field(
            field,
            "invalid_format",
            format!("{website:?} is not a website address or domain: {why}"),
        )
    };
    let lower = website.to_ascii_lowercase();
    let rest = match lower.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some(_) => return Err(invalid("only http and https are accepted")),
        None => lower.as_str(),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid("credentials in the address are not accepted"));
    }
    let host = authority.split(':').next().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host);
    let host = host.strip_prefix("www.").unwrap_or(host);
    if !is_domain(host) {
        return Err(invalid("the host is not a valid domain name"));
    }
    Ok(host.to_string())
}

fn country(raw: Option<&str>) -> Result<String, IntakeError> {
    let value = text("country", raw, 64, false)?;
    if value.is_empty() {
        return Ok(value);
    }
    if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(IntakeError::field(
            "country",
            "invalid_format",
            format!("{value:?} is not an ISO 3166-1 alpha-2 code such as \"DE\""),
        ));
    }
    Ok(value.to_ascii_uppercase())
}

#[cfg(test)]
mod tests;

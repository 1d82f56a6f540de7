//! Lead scoring rules: a TOML file mapping the signals of a signup (company
//! size, free-mail address, country, source, plan, product, custom
//! attributes) to a score 0–100 and a tier.
//!
//! Pure: parsing takes the file's text and scoring takes the signals, no
//! I/O, so the intake service (which reloads the file) and `leadctl intake
//! score` (which only explains) share exactly this code. The format is
//! documented in `docs/intake.md`; `config/scoring.toml` is the example.
//!
//! A bad file is refused whole with the line at fault ([`RulesError`]):
//! half-loaded rules would score some leads by rules nobody wrote.

mod freemail;
mod parse;

pub use freemail::builtin_count as builtin_freemail_count;

use std::collections::{BTreeMap, HashSet};

pub use freemail::{BUILTIN_FREEMAIL, is_builtin_freemail};
pub use parse::RulesError;

/// Reads a company size as people type it: `250`, `51-200` (its lower
/// bound), `1000+`, with `,` or `_` as thousands separators. Shared by
/// intake's validation and `leadctl intake score`, so both read a signup
/// the same way. Returns the employees (≥ 1), or why not.
pub fn parse_company_size(text: &str) -> Result<i64, &'static str> {
    const INVALID: &str = "send employees as 250, 51-200 or 1000+";
    let number = |s: &str| -> Result<i64, &'static str> {
        let s = s.trim().replace([',', '_'], "");
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(INVALID);
        }
        s.parse::<i64>().map_err(|_| INVALID)
    };
    let text = text.trim();
    let size = if let Some(lower) = text.strip_suffix('+') {
        number(lower)?
    } else if let Some((low, high)) = text.split_once('-') {
        let (low, high) = (number(low)?, number(high)?);
        if high < low {
            return Err(INVALID);
        }
        low
    } else {
        number(text)?
    };
    if size < 1 {
        return Err("a company has at least 1 employee");
    }
    Ok(size)
}

/// Lowest and highest score.
pub const SCORE_RANGE: std::ops::RangeInclusive<i32> = 0..=100;

/// One company size band: employees in `min..=max` earn `points`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeBand {
    /// Inclusive lower bound.
    pub min: i64,
    /// Inclusive upper bound; `None` is unbounded.
    pub max: Option<i64>,
    /// Points added.
    pub points: i32,
}

/// One custom attribute rule: the attribute `key` present (or equal to
/// `equals`, case-insensitively) earns `points`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeRule {
    /// Attribute name.
    pub key: String,
    /// The value to match; `None` matches any value.
    pub equals: Option<String>,
    /// Points added.
    pub points: i32,
}

/// A loaded, checked rules file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Points every lead starts with.
    pub base: i32,
    /// Tiers by threshold, highest first; the last has threshold 0.
    pub tiers: Vec<(String, i32)>,
    /// Points for a free-mail address (usually negative).
    pub freemail_points: i32,
    /// Free-mail domains beyond the built-in list.
    pub extra_freemail: HashSet<String>,
    /// Company size bands, in file order; the first match fires.
    pub company_size: Vec<SizeBand>,
    /// Points by upper-case country code.
    pub country: BTreeMap<String, i32>,
    /// Points by lower-case source.
    pub source: BTreeMap<String, i32>,
    /// Points by lower-case plan.
    pub plan: BTreeMap<String, i32>,
    /// Points by lower-case product.
    pub product: BTreeMap<String, i32>,
    /// Custom attribute rules; every match fires.
    pub attributes: Vec<AttributeRule>,
}

/// What scoring looks at, borrowed from a validated signup.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signals<'a> {
    /// The domain of the email address (lowercase).
    pub email_domain: &'a str,
    /// Employees (0 = unknown).
    pub company_size: i64,
    /// Upper-case country code, or empty.
    pub country: &'a str,
    /// Lower-case source, or empty.
    pub source: &'a str,
    /// Plan, or empty.
    pub plan: &'a str,
    /// Product, or empty.
    pub product: &'a str,
    /// Custom attributes.
    pub attributes: Option<&'a BTreeMap<String, String>>,
}

/// One rule that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    /// Which rule, e.g. `country:US` or `company_size:200..999`.
    pub rule: String,
    /// Points it added (negative to subtract).
    pub points: i32,
}

impl std::fmt::Display for Fired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{:+}", self.rule, self.points)
    }
}

/// A score with its reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scored {
    /// 0..=100.
    pub score: i32,
    /// The tier the score falls in.
    pub tier: String,
    /// Every rule that fired, in evaluation order (base first).
    pub fired: Vec<Fired>,
}

impl Rules {
    /// Parses and checks a rules file's text.
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        parse::parse(text)
    }

    /// True when `domain` is a free-mail domain (built in or added by this file).
    pub fn is_freemail(&self, domain: &str) -> bool {
        is_builtin_freemail(domain) || self.extra_freemail.contains(domain)
    }

    /// Scores `signals`.
    pub fn score(&self, signals: &Signals<'_>) -> Scored {
        let mut fired = vec![Fired {
            rule: "base".into(),
            points: self.base,
        }];
        if !signals.email_domain.is_empty() && self.is_freemail(signals.email_domain) {
            fired.push(Fired {
                rule: format!("freemail:{}", signals.email_domain),
                points: self.freemail_points,
            });
        }
        if signals.company_size > 0 {
            let size = signals.company_size;
            if let Some(band) = self
                .company_size
                .iter()
                .find(|band| size >= band.min && band.max.is_none_or(|max| size <= max))
            {
                let range = match band.max {
                    Some(max) => format!("{}..{max}", band.min),
                    None => format!("{}+", band.min),
                };
                fired.push(Fired {
                    rule: format!("company_size:{range}"),
                    points: band.points,
                });
            }
        }
        let lookups = [
            (
                "country",
                &self.country,
                signals.country.to_ascii_uppercase(),
            ),
            ("source", &self.source, signals.source.to_lowercase()),
            ("plan", &self.plan, signals.plan.to_lowercase()),
            ("product", &self.product, signals.product.to_lowercase()),
        ];
        for (name, table, value) in lookups {
            if let Some(points) = table.get(&value) {
                fired.push(Fired {
                    rule: format!("{name}:{value}"),
                    points: *points,
                });
            }
        }
        if let Some(attributes) = signals.attributes {
            for rule in &self.attributes {
                let Some(value) = attributes.get(&rule.key) else {
                    continue;
                };
                let matched = match &rule.equals {
                    Some(wanted) => value.trim().eq_ignore_ascii_case(wanted),
                    None => true,
                };
                if matched {
                    let rule_name = match &rule.equals {
                        Some(wanted) => format!("attribute:{}={wanted}", rule.key),
                        None => format!("attribute:{}", rule.key),
                    };
                    fired.push(Fired {
                        rule: rule_name,
                        points: rule.points,
                    });
                }
            }
        }
        let total: i32 = fired.iter().map(|f| f.points).sum();
        let score = total.clamp(*SCORE_RANGE.start(), *SCORE_RANGE.end());
        let tier = self
            .tiers
            .iter()
            .find(|(_, threshold)| score >= *threshold)
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        Scored { score, tier, fired }
    }
}

#[cfg(test)]
mod tests;

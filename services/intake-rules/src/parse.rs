//! Reading a rules file: TOML syntax and shape through serde (toml reports
//! the span at fault), then the checks serde cannot express, each located
//! on the line that holds the offending key.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::{AttributeRule, Rules, SizeBand};

/// Largest number of points one rule may add or remove.
const MAX_POINTS: i64 = 100;
/// Most entries in one table, so a generated file cannot balloon memory.
const MAX_ENTRIES: usize = 1000;

/// A rules file that was refused, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesError {
    /// 1-based line at fault.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RulesError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    base: i64,
    tiers: BTreeMap<String, i64>,
    #[serde(default)]
    freemail: Freemail,
    #[serde(default)]
    company_size: Vec<Band>,
    #[serde(default)]
    country: BTreeMap<String, i64>,
    #[serde(default)]
    source: BTreeMap<String, i64>,
    #[serde(default)]
    plan: BTreeMap<String, i64>,
    #[serde(default)]
    product: BTreeMap<String, i64>,
    #[serde(default)]
    attribute: Vec<Attribute>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Freemail {
    #[serde(default)]
    points: i64,
    #[serde(default)]
    extra_domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Band {
    #[serde(default)]
    min: i64,
    max: Option<i64>,
    points: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attribute {
    key: String,
    equals: Option<String>,
    points: i64,
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Locates semantic errors: the first line at or after `after` that
/// starts with `key` (a TOML key, maybe quoted) or, for a table, `[key`.
struct Locator<'a> {
    text: &'a str,
}

impl Locator<'_> {
    /// The line assigning `key` inside `[section]` (top level when `None`),
    /// or the section's header, or line 1.
    fn find_in(&self, section: Option<&str>, key: &str) -> usize {
        let mut current: Option<String> = None;
        let mut header_line = None;
        for (n, line) in self.text.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with('[') {
                let name = line.trim_matches(|c| c == '[' || c == ']' || c == ' ');
                current = Some(name.to_string());
                if section == Some(name) && header_line.is_none() {
                    header_line = Some(n + 1);
                }
                continue;
            }
            if current.as_deref() != section {
                continue;
            }
            let bare = line.strip_prefix('"').unwrap_or(line);
            if let Some(rest) = bare.strip_prefix(key) {
                let rest = rest.strip_prefix('"').unwrap_or(rest);
                if rest.trim_start().starts_with('=') {
                    return n + 1;
                }
            }
        }
        header_line.unwrap_or(1)
    }

    /// The line of the `index`-th `[[table]]` header.
    fn nth_array_table(&self, table: &str, index: usize) -> usize {
        let header = format!("[[{table}]]");
        self.text
            .lines()
            .enumerate()
            .filter(|(_, line)| line.trim() == header)
            .nth(index)
            .map(|(n, _)| n + 1)
            .unwrap_or(1)
    }

    fn error(&self, line: usize, message: impl Into<String>) -> RulesError {
        RulesError {
            line,
            message: message.into(),
        }
    }
}

fn points(locator: &Locator<'_>, line: usize, what: &str, value: i64) -> Result<i32, RulesError> {
    if (-MAX_POINTS..=MAX_POINTS).contains(&value) {
        Ok(value as i32)
    } else {
        Err(locator.error(
            line,
            format!("{what} = {value}: points must be between -{MAX_POINTS} and {MAX_POINTS}"),
        ))
    }
}

fn table(
    locator: &Locator<'_>,
    name: &str,
    raw: BTreeMap<String, i64>,
    upper: bool,
) -> Result<BTreeMap<String, i32>, RulesError> {
    if raw.len() > MAX_ENTRIES {
        return Err(locator.error(
            locator.find_in(Some(name), ""),
            format!("[{name}] has {} entries; at most {MAX_ENTRIES}", raw.len()),
        ));
    }
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let line = locator.find_in(Some(name), &key);
        let normal = if upper {
            key.trim().to_ascii_uppercase()
        } else {
            key.trim().to_lowercase()
        };
        if upper && (normal.len() != 2 || !normal.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(locator.error(
                line,
                format!("[{name}] key {key:?} is not an ISO 3166-1 alpha-2 code such as \"DE\""),
            ));
        }
        if normal.is_empty() || normal.len() > 64 {
            return Err(locator.error(
                line,
                format!("[{name}] key {key:?} must be 1 to 64 characters"),
            ));
        }
        let points = points(locator, line, &format!("{name}.{key}"), value)?;
        if out.insert(normal.clone(), points).is_some() {
            return Err(locator.error(
                line,
                format!("[{name}] has {normal:?} twice (keys are compared ignoring case)"),
            ));
        }
    }
    Ok(out)
}

pub(crate) fn parse(text: &str) -> Result<Rules, RulesError> {
    let file: File = toml::from_str(text).map_err(|err| RulesError {
        line: err
            .span()
            .map(|span| line_at(text, span.start))
            .unwrap_or(1),
        message: err.message().trim().to_string(),
    })?;
    let locator = Locator { text };

    let base = points(&locator, locator.find_in(None, "base"), "base", file.base)?;

    let tiers_line = locator.find_in(Some("tiers"), "");
    let mut tiers = Vec::new();
    for (name, threshold) in file.tiers {
        let line = locator.find_in(Some("tiers"), &name);
        let name_ok = (1..=16).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(locator.error(
                line,
                format!("tier name {name:?}: use 1 to 16 letters, digits, - or _"),
            ));
        }
        if !(0..=100).contains(&threshold) {
            return Err(locator.error(
                line,
                format!("tier {name} = {threshold}: a threshold is a score 0..100"),
            ));
        }
        if let Some((other, _)) = tiers.iter().find(|(_, t)| *t == threshold as i32) {
            return Err(locator.error(
                line,
                format!("tiers {other} and {name} have the same threshold {threshold}"),
            ));
        }
        tiers.push((name, threshold as i32));
    }
    tiers.sort_by_key(|tier| std::cmp::Reverse(tier.1));
    if tiers.last().is_none_or(|(_, threshold)| *threshold != 0) {
        return Err(locator.error(
            tiers_line,
            "[tiers] needs a tier with threshold 0, so every score has a tier",
        ));
    }

    let freemail_points = points(
        &locator,
        locator.find_in(Some("freemail"), "points"),
        "freemail.points",
        file.freemail.points,
    )?;
    let mut extra_freemail = HashSet::new();
    for domain in file.freemail.extra_domains {
        let normal = domain.trim().to_ascii_lowercase();
        let valid = normal.contains('.')
            && normal.len() <= 253
            && normal
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !valid {
            return Err(locator.error(
                locator.find_in(Some("freemail"), "extra_domains"),
                format!("freemail.extra_domains: {domain:?} is not a domain name"),
            ));
        }
        extra_freemail.insert(normal);
    }

    let mut company_size = Vec::new();
    for (index, band) in file.company_size.into_iter().enumerate() {
        let line = locator.nth_array_table("company_size", index);
        if band.min < 0 || band.max.is_some_and(|max| max < band.min) {
            return Err(locator.error(
                line,
                format!(
                    "company_size band {}..{:?}: need 0 <= min <= max",
                    band.min, band.max
                ),
            ));
        }
        company_size.push(SizeBand {
            min: band.min,
            max: band.max,
            points: points(&locator, line, "company_size.points", band.points)?,
        });
    }

    let mut attributes = Vec::new();
    for (index, rule) in file.attribute.into_iter().enumerate() {
        let line = locator.nth_array_table("attribute", index);
        let key = rule.key.trim().to_string();
        if key.is_empty() || key.len() > 40 {
            return Err(locator.error(line, "attribute.key must be 1 to 40 characters"));
        }
        attributes.push(AttributeRule {
            key,
            equals: rule.equals.map(|v| v.trim().to_string()),
            points: points(&locator, line, "attribute.points", rule.points)?,
        });
    }

    Ok(Rules {
        base,
        tiers,
        freemail_points,
        extra_freemail,
        company_size,
        country: table(&locator, "country", file.country, true)?,
        source: table(&locator, "source", file.source, false)?,
        plan: table(&locator, "plan", file.plan, false)?,
        product: table(&locator, "product", file.product, false)?,
        attributes,
    })
}

//! `leadctl intake score`: the scoring intake would do, explained, offline.
//!
//! The rules are parsed and applied by `leadwheel-intake-rules`, the code
//! intake itself runs; the signup's signals are read as intake reads them
//! (email domain, company size through the same parser, country upper-case,
//! source lower-case).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use leadwheel_intake_rules::{Rules, Signals, parse_company_size};
use serde::Serialize;
use serde_json::Value;

use crate::conn::Ctx;
use crate::output::emit;

#[derive(Serialize)]
pub(crate) struct Report {
    pub score: i32,
    pub tier: String,
    pub fired: Vec<FiredRule>,
}

#[derive(Serialize)]
pub(crate) struct FiredRule {
    pub rule: String,
    pub points: i32,
}

/// A signup's signals, read as intake reads them.
pub(crate) struct Signup {
    pub email: String,
    pub email_domain: String,
    pub company_size: i64,
    pub country: String,
    pub source: String,
    pub plan: String,
    pub product: String,
    pub attributes: BTreeMap<String, String>,
}

pub fn run(ctx: &Ctx, rules_path: &Path, signup_path: &Path) -> Result<()> {
    let rules = read_rules(rules_path)?;
    let signup = read_signup(signup_path)?;
    let report = score(&rules, &signup)?;
    emit(ctx.output(), &report, |report| {
        let mut text = format!("score {}  tier {}\n", report.score, report.tier);
        let width = report.fired.iter().map(|f| f.rule.len()).max().unwrap_or(0);
        for fired in &report.fired {
            text.push_str(&format!("  {:<width$}  {:+}\n", fired.rule, fired.points));
        }
        text
    })
}

/// Intake's scoring rules from a TOML file.
pub(crate) fn read_rules(rules_path: &Path) -> Result<Rules> {
    let text = std::fs::read_to_string(rules_path)
        .with_context(|| format!("reading {}", rules_path.display()))?;
    Rules::parse(&text).map_err(|err| anyhow::anyhow!("{}: {err}", rules_path.display()))
}

/// The signup's text from a file, or stdin for `-`.
pub(crate) fn read_signup(signup_path: &Path) -> Result<String> {
    Ok(if signup_path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the signup from stdin")?;
        text
    } else {
        std::fs::read_to_string(signup_path)
            .with_context(|| format!("reading {}", signup_path.display()))?
    })
}

fn text<'a>(object: &'a serde_json::Map<String, Value>, field: &str) -> Result<&'a str> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.trim()),
        Some(_) => bail!("{field}: must be a string"),
    }
}

fn score(rules: &Rules, signup: &str) -> Result<Report> {
    Ok(score_signup(rules, &parse_signup(signup)?))
}

/// Reads a signup's JSON as intake does.
pub(crate) fn parse_signup(signup: &str) -> Result<Signup> {
    let value: Value = serde_json::from_str(signup).context("the signup is not JSON")?;
    let Value::Object(object) = value else {
        bail!("the signup must be a JSON object, as POST /v1/signups takes");
    };
    let email = text(&object, "email")?;
    let email_domain = email
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    let company_size = match object.get("company_size") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => parse_company_size(&n.to_string())
            .map_err(|why| anyhow::anyhow!("company_size: {why}"))?,
        Some(Value::String(s)) if s.trim().is_empty() => 0,
        Some(Value::String(s)) => {
            parse_company_size(s).map_err(|why| anyhow::anyhow!("company_size: {why}"))?
        }
        Some(_) => bail!("company_size: must be a number or a string such as \"51-200\""),
    };
    let mut attributes = BTreeMap::new();
    if let Some(Value::Object(map)) = object.get("attributes") {
        for (key, value) in map {
            let value = match value {
                Value::String(s) => s.trim().to_string(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => bail!("attributes.{key}: must be a string, number or boolean"),
            };
            attributes.insert(key.trim().to_ascii_lowercase(), value);
        }
    }
    Ok(Signup {
        email: email.to_string(),
        email_domain,
        company_size,
        country: text(&object, "country")?.to_ascii_uppercase(),
        source: text(&object, "source")?.to_lowercase(),
        plan: text(&object, "plan")?.to_string(),
        product: text(&object, "product")?.to_string(),
        attributes,
    })
}

/// The score, tier and fired rules intake would give `signup`.
pub(crate) fn score_signup(rules: &Rules, signup: &Signup) -> Report {
    let scored = rules.score(&Signals {
        email_domain: &signup.email_domain,
        company_size: signup.company_size,
        country: &signup.country,
        source: &signup.source,
        plan: &signup.plan,
        product: &signup.product,
        attributes: Some(&signup.attributes),
    });
    Report {
        score: scored.score,
        tier: scored.tier,
        fired: scored
            .fired
            .into_iter()
            .map(|f| FiredRule {
                rule: f.rule,
                points: f.points,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = include_str!("../../../../../config/scoring.toml");

    #[test]
    fn explains_the_example_rules() {
        let rules = Rules::parse(RULES).unwrap();
        let report = score(
            &rules,
            r#"{"email":"cto@bigco.com","company_size":"1,000+","country":"us","source":"Partner",
                "plan":"enterprise","attributes":{"use_case":"Round-Robin"}}"#,
        )
        .unwrap();
        assert_eq!((report.score, report.tier.as_str()), (100, "A"));
        let rules_fired: Vec<&str> = report.fired.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules_fired,
            [
                "base",
                "company_size:1000+",
                "country:US",
                "source:partner",
                "plan:enterprise",
                "attribute:use_case=round-robin"
            ]
        );
        let weak = score(&rules, r#"{"email":"me@gmail.com","company_size":2}"#).unwrap();
        assert_eq!((weak.score, weak.tier.as_str()), (0, "C"));
        assert!(score(&rules, r#"{"company_size":"lots"}"#).is_err());
        assert!(score(&rules, "[1]").is_err());
    }
}

//! `leadctl routing …`: the routing rules across teams, read, set (the
//! whole ordered list, at a version), their history, and a signup tested
//! against them.

mod file;

use std::path::Path;

use anyhow::{Context, Result};
use leadwheel_proto::wheel::v1 as wheel;
use serde::Serialize;

use crate::cli::{RoutingCommand, RoutingRulesCommand};
use crate::clock;
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::{Table, emit};

use super::intake::score::{self, Report};
use file::RulesFile;

pub async fn run(ctx: &Ctx, command: RoutingCommand) -> Result<()> {
    match command {
        RoutingCommand::Rules(RoutingRulesCommand::List) => list(ctx).await,
        RoutingCommand::Rules(RoutingRulesCommand::Set {
            file,
            expected_version,
        }) => set(ctx, &file, expected_version).await,
        RoutingCommand::Rules(RoutingRulesCommand::History { limit }) => history(ctx, limit).await,
        RoutingCommand::Test { signup, rules } => test(ctx, &signup, rules.as_deref()).await,
    }
}

async fn current(ctx: &Ctx) -> Result<wheel::RoutingRuleSet> {
    Ok(ctx
        .wheel()
        .await?
        .list_routing_rules(wheel::ListRoutingRulesRequest {})
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .rule_set
        .unwrap_or_default())
}

async fn list(ctx: &Ctx) -> Result<()> {
    let view = RulesFile::from_proto(current(ctx).await?);
    emit(ctx.output(), &view, rules_text)
}

async fn set(ctx: &Ctx, path: &Path, expected_version: Option<i64>) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let rules = RulesFile::parse(&text, is_json)
        .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    let expected_version = match expected_version.or(rules.version) {
        Some(version) => version,
        None => current(ctx).await?.version,
    };
    let request = rules
        .to_request(expected_version)
        .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    let saved = ctx
        .wheel()
        .await?
        .set_routing_rules(request)
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .rule_set
        .unwrap_or_default();
    let view = RulesFile::from_proto(saved);
    emit(ctx.output(), &view, |v| {
        format!(
            "routing rules version {} set ({} rule{})\n",
            v.version.unwrap_or_default(),
            v.rules.len(),
            if v.rules.len() == 1 { "" } else { "s" }
        )
    })
}

async fn history(ctx: &Ctx, limit: i32) -> Result<()> {
    let versions: Vec<RulesFile> = ctx
        .wheel()
        .await?
        .list_routing_rule_history(wheel::ListRoutingRuleHistoryRequest { page_size: limit })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .versions
        .into_iter()
        .map(RulesFile::from_proto)
        .collect();
    emit(ctx.output(), &versions, |versions| {
        if versions.is_empty() {
            return "no routing rules were ever set\n".into();
        }
        let mut table = Table::new(&["version", "set at (UTC)", "by", "rules", "default team"]);
        for v in versions {
            table.row(vec![
                v.version.unwrap_or_default().to_string(),
                clock::datetime(v.set_at_ms.unwrap_or_default()),
                v.set_by.clone().unwrap_or_default(),
                v.rules
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                default_team(&v.default_team),
            ]);
        }
        table.render()
    })
}

fn default_team(team: &str) -> String {
    if team.is_empty() {
        "(the oldest team)".into()
    } else {
        team.to_string()
    }
}

fn rules_text(v: &RulesFile) -> String {
    let mut out = match (v.version, &v.set_by, v.set_at_ms) {
        (Some(0) | None, _, _) => {
            "no routing rules set: every lead goes to the oldest team\n".into()
        }
        (Some(version), by, at) => format!(
            "routing rules version {version}, set by {} at {} UTC; default team {}\n\n",
            by.clone().unwrap_or_default(),
            clock::datetime(at.unwrap_or_default()),
            default_team(&v.default_team),
        ),
    };
    if v.rules.is_empty() {
        return out;
    }
    let mut table = Table::new(&["#", "rule", "team", "when", "override"]);
    for (i, rule) in v.rules.iter().enumerate() {
        table.row(vec![
            (i + 1).to_string(),
            rule.id.clone(),
            rule.team.clone(),
            rule.conditions().join("; "),
            rule.overrides().join(", "),
        ]);
    }
    out.push_str(&table.render());
    out
}

#[derive(Serialize)]
struct TestView {
    /// Intake's scoring of the signup, with --rules.
    scoring: Option<Report>,
    /// how: rule, default, fallback, team_hint or no_team.
    how: String,
    team_id: String,
    rule_id: String,
    rules_version: i64,
    reasons: Vec<String>,
    verdicts: Vec<Verdict>,
}

#[derive(Serialize)]
struct Verdict {
    rule_id: String,
    matched: bool,
    reasons: Vec<String>,
}

async fn test(ctx: &Ctx, signup_path: &Path, rules: Option<&Path>) -> Result<()> {
    let signup = score::parse_signup(&score::read_signup(signup_path)?)?;
    let scoring = match rules {
        Some(path) => Some(score::score_signup(&score::read_rules(path)?, &signup)),
        None => None,
    };
    let lead = wheel::RoutingLead {
        tier: scoring.as_ref().map(|s| s.tier.clone()).unwrap_or_default(),
        score: scoring.as_ref().map_or(0, |s| s.score),
        country: signup.country,
        source: signup.source,
        company_size: signup.company_size,
        product: signup.product,
        plan: signup.plan,
        email: signup.email,
        attributes: signup.attributes.into_iter().collect(),
        team_hint: String::new(),
    };
    let answer = ctx
        .wheel()
        .await?
        .test_routing(wheel::TestRoutingRequest { lead: Some(lead) })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    let routed = answer.routed_by.unwrap_or_default();
    let how = match wheel::RoutedHow::try_from(routed.how) {
        Ok(wheel::RoutedHow::Rule) => "rule",
        Ok(wheel::RoutedHow::Default) => "default",
        Ok(wheel::RoutedHow::Fallback) => "fallback",
        Ok(wheel::RoutedHow::TeamHint) => "team_hint",
        Ok(wheel::RoutedHow::NoTeam) => "no_team",
        _ => "unknown",
    };
    let view = TestView {
        scoring,
        how: how.into(),
        team_id: routed.team_id,
        rule_id: routed.rule_id,
        rules_version: routed.rules_version,
        reasons: routed.reasons,
        verdicts: answer
            .verdicts
            .into_iter()
            .map(|v| Verdict {
                rule_id: v.rule_id,
                matched: v.matched,
                reasons: v.reasons,
            })
            .collect(),
    };
    emit(ctx.output(), &view, test_text)
}

fn test_text(v: &TestView) -> String {
    let mut out = match &v.scoring {
        Some(s) => {
            let fired: Vec<String> = s
                .fired
                .iter()
                .map(|f| format!("{} {:+}", f.rule, f.points))
                .collect();
            format!(
                "intake scores it {} (tier {}): {}\n",
                s.score,
                s.tier,
                fired.join(", ")
            )
        }
        None => "not scored (no --rules): tier and score are empty\n".into(),
    };
    out.push_str(&match v.how.as_str() {
        "rule" => format!(
            "team {} by rule {} (rules v{}): {}\n",
            v.team_id,
            v.rule_id,
            v.rules_version,
            v.reasons.join("; ")
        ),
        "default" => format!(
            "team {}: no rule matched, the default team (rules v{})\n",
            v.team_id, v.rules_version
        ),
        "fallback" => format!(
            "team {}: no rule matched and no default team, the oldest team\n",
            v.team_id
        ),
        "no_team" => "no team exists yet: the lead would wait for one\n".into(),
        other => format!("team {} ({other})\n", v.team_id),
    });
    if !v.verdicts.is_empty() {
        out.push('\n');
        let mut table = Table::new(&["#", "rule", "matches", "why"]);
        for (i, verdict) in v.verdicts.iter().enumerate() {
            table.row(vec![
                (i + 1).to_string(),
                verdict.rule_id.clone(),
                if verdict.matched { "yes" } else { "no" }.into(),
                verdict.reasons.join("; "),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}

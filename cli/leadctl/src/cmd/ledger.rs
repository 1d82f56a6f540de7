//! The routing ledger, read: `wheel explain`, `wheel why-not`, `wheel stats`.

use std::collections::BTreeMap;

use anyhow::Result;
use leadwheel_proto::wheel::v1 as wheel;
use serde::Serialize;

use crate::clock;
use crate::conn::Ctx;
use crate::duration::human;
use crate::error::Target;
use crate::output::{Table, emit};
use crate::views::lead_state;

/// One ledger entry, with how long its step took.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntryView {
    pub at_ms: i64,
    pub kind: String,
    pub rep_id: String,
    pub offer_no: i32,
    pub detail: String,
    /// For a claim, pass, expiry or withdrawal: since its offer opened;
    /// otherwise since the entry before. Null for the first entry.
    pub took_ms: Option<i64>,
}

const CLOSINGS: [&str; 4] = ["claimed", "passed", "expired", "withdrawn"];

/// Entries in ledger order with their step times.
pub fn entries(raw: Vec<wheel::LedgerEntry>) -> Vec<EntryView> {
    let mut opened: BTreeMap<i32, i64> = BTreeMap::new();
    let mut previous: Option<i64> = None;
    raw.into_iter()
        .map(|e| {
            let took = match opened.get(&e.offer_no) {
                Some(at) if e.offer_no > 0 && CLOSINGS.contains(&e.kind.as_str()) => {
                    Some(e.at_ms - at)
                }
                _ => previous.map(|p| e.at_ms - p),
            };
            if e.kind == "offered" {
                opened.insert(e.offer_no, e.at_ms);
            }
            previous = Some(e.at_ms);
            EntryView {
                at_ms: e.at_ms,
                kind: e.kind,
                rep_id: e.rep_id,
                offer_no: e.offer_no,
                detail: e.detail,
                took_ms: took,
            }
        })
        .collect()
}

/// `window_ms=30000 first_look=true lap=1` → `window 30s, first look, lap 1`.
pub fn pretty_detail(kind: &str, detail: &str) -> String {
    if kind == "skipped" {
        return crate::words::skip_reason(detail);
    }
    // Already words (the rule that chose the team and why).
    if kind == "routed" {
        return detail.to_string();
    }
    if !detail.contains('=') {
        return detail.to_string();
    }
    let words: Vec<String> = detail
        .split_whitespace()
        .map(|pair| {
            let Some((key, value)) = pair.split_once('=') else {
                return pair.to_string();
            };
            let value = value.trim_matches('"');
            match (key, value) {
                ("first_look", "true") => "first look".into(),
                ("first_look", _) => String::new(),
                ("reason", reason) if kind == "pooled" => crate::words::pool_reason(reason),
                ("via", via) => format!("via {}", via.replace('_', " ")),
                (key, ms) if key.ends_with("_ms") => match ms.parse::<i64>() {
                    Ok(ms) => format!("{} {}", key.trim_end_matches("_ms"), human(ms)),
                    Err(_) => format!("{key} {ms}"),
                },
                (_, "") => String::new(),
                (key, value) => format!("{} {value}", key.replace('_', " ")),
            }
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.join(", ")
}

fn entries_table(entries: &[EntryView]) -> String {
    let mut table = Table::new(&["TIME (UTC)", "WHAT", "WHO", "OFFER", "TOOK", "DETAIL"]);
    for e in entries {
        let closing = e.offer_no > 0 && CLOSINGS.contains(&e.kind.as_str());
        let took = match e.took_ms {
            Some(ms) if ms > 0 || closing => human(ms),
            _ => String::new(),
        };
        table.row(vec![
            format!(
                "{}.{:03}",
                clock::datetime(e.at_ms),
                e.at_ms.rem_euclid(1000)
            ),
            e.kind.clone(),
            e.rep_id.clone(),
            if e.offer_no > 0 {
                format!("#{}", e.offer_no)
            } else {
                String::new()
            },
            took,
            pretty_detail(&e.kind, &e.detail),
        ]);
    }
    table.render()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExplainView {
    pub lead_id: String,
    pub team_id: String,
    pub state: String,
    pub owner_rep_id: String,
    pub entries: Vec<EntryView>,
}

pub fn explain_text(v: &ExplainView) -> String {
    let owner = if v.owner_rep_id.is_empty() {
        String::new()
    } else {
        format!(" to {}", v.owner_rep_id)
    };
    let mut out = format!(
        "lead {}  ·  team {}  ·  {}{owner}\n\n",
        v.lead_id, v.team_id, v.state
    );
    if v.entries.is_empty() {
        out.push_str("no routing decisions yet\n");
        return out;
    }
    out.push_str(&entries_table(&v.entries));
    let first = v.entries.first().map_or(0, |e| e.at_ms);
    let offers = v.entries.iter().filter(|e| e.kind == "offered").count();
    let last = v.entries.last().map_or(0, |e| e.at_ms);
    out.push_str(&format!(
        "\n{offers} offer{} over {}\n",
        if offers == 1 { "" } else { "s" },
        human(last - first)
    ));
    out
}

pub async fn explain(ctx: &Ctx, lead: String) -> Result<()> {
    let r = ctx
        .wheel()
        .await?
        .explain_lead(wheel::ExplainLeadRequest {
            lead_id: lead.trim().to_string(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    let view = ExplainView {
        lead_id: r.lead_id,
        team_id: r.team_id,
        state: lead_state(r.state),
        owner_rep_id: r.owner_rep_id,
        entries: entries(r.entries),
    };
    emit(ctx.output(), &view, explain_text)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WhyNotView {
    pub lead_id: String,
    pub rep_id: String,
    pub summary: String,
    pub position_in_lap: i32,
    pub owner_rep_id: String,
    pub entries: Vec<EntryView>,
}

pub fn why_not_text(v: &WhyNotView) -> String {
    let mut out = format!("{}\n", v.summary.trim());
    let mut facts = Vec::new();
    if v.position_in_lap > 0 {
        facts.push(format!(
            "{} was #{} in the lap",
            v.rep_id, v.position_in_lap
        ));
    }
    if !v.owner_rep_id.is_empty() {
        facts.push(format!("{} owns it now", v.owner_rep_id));
    }
    if !facts.is_empty() {
        out.push_str(&format!("({})\n", facts.join("; ")));
    }
    if !v.entries.is_empty() {
        out.push('\n');
        out.push_str(&entries_table(&v.entries));
    }
    out
}

pub async fn why_not(ctx: &Ctx, lead: String, rep: Option<String>) -> Result<()> {
    let rep = match rep {
        Some(rep) => rep.trim().to_string(),
        None => ctx.identity.rep("wheel why-not")?,
    };
    let r = ctx
        .wheel()
        .await?
        .why_not(wheel::WhyNotRequest {
            lead_id: lead.trim().to_string(),
            rep_id: rep,
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    let view = WhyNotView {
        lead_id: r.lead_id,
        rep_id: r.rep_id,
        summary: r.summary,
        position_in_lap: r.position_in_lap,
        owner_rep_id: r.owner_rep_id,
        entries: entries(r.entries),
    };
    emit(ctx.output(), &view, why_not_text)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepStatsView {
    pub rep_id: String,
    pub team_id: String,
    pub availability: String,
    pub offers: i64,
    pub first_looks: i64,
    /// Claims of offers and from the pool.
    pub claims: i64,
    /// Of the claims, those from the open pool.
    pub pool_claims: i64,
    pub passes: i64,
    pub expiries: i64,
    pub withdrawn: i64,
    pub open_now: i64,
    /// Offer to claim, over claims of offers.
    pub median_time_to_claim_ms: i64,
    /// Passes plus expiries over closed offers (0 with none closed).
    pub miss_rate: f64,
    pub skips: BTreeMap<String, i64>,
}

impl From<wheel::RepStats> for RepStatsView {
    fn from(s: wheel::RepStats) -> Self {
        // A pool claim closes no offer: it is not in the miss rate.
        let closed = (s.claims - s.pool_claims) + s.passes + s.expiries;
        Self {
            miss_rate: if closed == 0 {
                0.0
            } else {
                (s.passes + s.expiries) as f64 / closed as f64
            },
            rep_id: s.rep_id,
            team_id: s.team_id,
            availability: s.availability,
            offers: s.offers,
            first_looks: s.first_looks,
            claims: s.claims,
            pool_claims: s.pool_claims,
            passes: s.passes,
            expiries: s.expiries,
            withdrawn: s.withdrawn,
            open_now: s.open_now,
            median_time_to_claim_ms: s.median_time_to_claim_ms,
            skips: s.skips.into_iter().collect(),
        }
    }
}

pub fn stats_table(stats: &[RepStatsView]) -> String {
    if stats.is_empty() {
        return "no reps\n".into();
    }
    let mut table = Table::new(&[
        "REP",
        "TEAM",
        "AVAILABILITY",
        "OFFERS",
        "FIRST LOOKS",
        "CLAIMS",
        "FROM POOL",
        "PASSES",
        "EXPIRIES",
        "MISSED",
        "OPEN",
        "MEDIAN TO CLAIM",
        "SKIPS",
    ]);
    for s in stats {
        let skips: Vec<String> = s
            .skips
            .iter()
            .map(|(k, n)| format!("{} {n}", crate::words::skip_reason(k)))
            .collect();
        table.row(vec![
            s.rep_id.clone(),
            s.team_id.clone(),
            s.availability.clone(),
            s.offers.to_string(),
            s.first_looks.to_string(),
            s.claims.to_string(),
            s.pool_claims.to_string(),
            s.passes.to_string(),
            s.expiries.to_string(),
            format!("{:.0}%", s.miss_rate * 100.0),
            s.open_now.to_string(),
            if s.claims == s.pool_claims {
                String::new()
            } else {
                human(s.median_time_to_claim_ms)
            },
            skips.join(", "),
        ]);
    }
    let mut text = table.render();
    text.push_str("\nCLAIMS: of offers and from the open pool (FROM POOL of them); MEDIAN TO CLAIM: offer to claim\nMISSED: passes and expiries over closed offers; a high share means the rep is saturated\n");
    text
}

pub async fn stats(ctx: &Ctx, team: Option<String>, since: Option<i64>) -> Result<()> {
    let since_ms = since.map_or(0, |d| (clock::local_now_ms() - d).max(1));
    let r = ctx
        .wheel()
        .await?
        .wheel_stats(wheel::WheelStatsRequest {
            team_id: team.unwrap_or_default(),
            since_ms,
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    let stats: Vec<RepStatsView> = r.reps.into_iter().map(Into::into).collect();
    emit(ctx.output(), &stats, |s| stats_table(s))
}

#[cfg(test)]
mod tests;

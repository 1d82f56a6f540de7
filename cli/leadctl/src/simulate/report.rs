//! What a manager reads from a run: speed to claim, first-offer claims,
//! the pool, escalations, and each rep's share of first looks and claims.

use std::collections::BTreeMap;

use leadwheel_wheel_core::Millis;
use serde::Serialize;

use super::engine::Outcome;
use crate::duration::human;
use crate::output::Table;

/// p50/p90/p99 by nearest rank; zeros when there is nothing to rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: Millis,
    pub p90_ms: Millis,
    pub p99_ms: Millis,
    pub max_ms: Millis,
}

impl Percentiles {
    pub fn of(mut values: Vec<Millis>) -> Self {
        values.sort_unstable();
        let rank = |p: f64| {
            let n = values.len();
            if n == 0 {
                0
            } else {
                values[((p * n as f64).ceil() as usize).clamp(1, n) - 1]
            }
        };
        Self {
            count: values.len() as u64,
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: values.last().copied().unwrap_or(0),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepReport {
    pub rep_id: String,
    pub offers: u64,
    pub first_looks: u64,
    /// Of all first looks given.
    pub first_look_share: f64,
    /// Claims during the rep's offer.
    pub claims: u64,
    /// Claims from the pool.
    pub pool_claims: u64,
    /// Of all claimed leads (offer and pool).
    pub claim_share: f64,
    pub passes: u64,
    pub expiries: u64,
    pub skips: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub seed: u64,
    /// The policy, in words.
    pub policy: String,
    pub leads: u64,
    pub claimed: u64,
    /// Signup → claim, over claimed leads (offer or pool).
    pub speed_to_claim: Percentiles,
    /// Signup → first offer (system time, including waiting for a shift).
    pub time_to_first_offer: Percentiles,
    pub claimed_on_first_offer: u64,
    pub first_offer_claim_rate: f64,
    pub pooled: u64,
    pub pool_rate: f64,
    /// First offer → pool, over pooled leads that had an offer.
    pub time_to_pool: Percentiles,
    pub pooled_by_reason: BTreeMap<String, u64>,
    pub claimed_from_pool: u64,
    pub escalations: u64,
    /// Left in the pool, unclaimed, when the run ended.
    pub unclaimed_in_pool: u64,
    /// Never offered: nobody was ever eligible.
    pub still_waiting: u64,
    pub offers_per_lead: f64,
    pub reps: Vec<RepReport>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub fn summarize(outcome: &Outcome, seed: u64, policy: String) -> Report {
    let leads = &outcome.leads;
    let claimed: Vec<_> = leads.iter().filter(|l| l.assigned_at.is_some()).collect();
    let pooled: Vec<_> = leads.iter().filter(|l| l.pooled_at.is_some()).collect();
    let mut pooled_by_reason = BTreeMap::new();
    for lead in &pooled {
        *pooled_by_reason
            .entry(lead.pool_reason.unwrap_or("unknown").to_string())
            .or_insert(0) += 1;
    }
    let claimed_on_first_offer = leads
        .iter()
        .filter(|l| l.claimed_offer_no == Some(1))
        .count() as u64;
    let first_looks: u64 = outcome.reps.iter().map(|(_, r)| r.first_looks).sum();
    let total_claims: u64 = outcome
        .reps
        .iter()
        .map(|(_, r)| r.claims + r.pool_claims)
        .sum();
    let n = leads.len() as u64;
    Report {
        seed,
        policy,
        leads: n,
        claimed: claimed.len() as u64,
        speed_to_claim: Percentiles::of(
            claimed
                .iter()
                .filter_map(|l| Some(l.assigned_at? - l.signup_at))
                .collect(),
        ),
        time_to_first_offer: Percentiles::of(
            leads
                .iter()
                .filter_map(|l| Some(l.first_offer_at? - l.signup_at))
                .collect(),
        ),
        claimed_on_first_offer,
        first_offer_claim_rate: share(claimed_on_first_offer, n),
        pooled: pooled.len() as u64,
        pool_rate: share(pooled.len() as u64, n),
        time_to_pool: Percentiles::of(
            pooled
                .iter()
                .filter_map(|l| Some(l.pooled_at? - l.first_offer_at?))
                .collect(),
        ),
        pooled_by_reason,
        claimed_from_pool: pooled.iter().filter(|l| l.assigned_at.is_some()).count() as u64,
        escalations: leads.iter().filter(|l| l.escalated).count() as u64,
        unclaimed_in_pool: pooled.iter().filter(|l| l.assigned_at.is_none()).count() as u64,
        still_waiting: leads
            .iter()
            .filter(|l| l.assigned_at.is_none() && l.pooled_at.is_none())
            .count() as u64,
        offers_per_lead: share(leads.iter().map(|l| u64::from(l.offers)).sum(), n),
        reps: outcome
            .reps
            .iter()
            .map(|(id, r)| RepReport {
                rep_id: id.clone(),
                offers: r.offers,
                first_looks: r.first_looks,
                first_look_share: share(r.first_looks, first_looks),
                claims: r.claims,
                pool_claims: r.pool_claims,
                claim_share: share(r.claims + r.pool_claims, total_claims),
                passes: r.passes,
                expiries: r.expiries,
                skips: r.skips.clone(),
            })
            .collect(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn spread(p: &Percentiles) -> String {
    if p.count == 0 {
        return "-".into();
    }
    format!(
        "p50 {} · p90 {} · p99 {} · max {}",
        human(p.p50_ms),
        human(p.p90_ms),
        human(p.p99_ms),
        human(p.max_ms)
    )
}

/// The report for people.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "simulated {} leads (seed {}): {}\n\n",
        r.leads, r.seed, r.policy
    );
    let mut summary = Table::new(&["", ""]);
    let mut line = |k: &str, v: String| summary.row(vec![k.to_string(), v]);
    line("speed to claim", spread(&r.speed_to_claim));
    line("signup to first offer", spread(&r.time_to_first_offer));
    line(
        "claimed",
        format!("{} ({})", r.claimed, pct(share(r.claimed, r.leads))),
    );
    line(
        "claimed on the first offer",
        format!(
            "{} ({})",
            r.claimed_on_first_offer,
            pct(r.first_offer_claim_rate)
        ),
    );
    let reasons: Vec<String> = r
        .pooled_by_reason
        .iter()
        .map(|(k, v)| format!("{} {v}", crate::words::pool_reason(k)))
        .collect();
    line(
        "pooled",
        format!(
            "{} ({}){}",
            r.pooled,
            pct(r.pool_rate),
            if reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", reasons.join(", "))
            }
        ),
    );
    line("first offer to pool", spread(&r.time_to_pool));
    line("claimed from the pool", r.claimed_from_pool.to_string());
    line("escalations", r.escalations.to_string());
    line(
        "left unclaimed in the pool",
        r.unclaimed_in_pool.to_string(),
    );
    line("never offered (waiting)", r.still_waiting.to_string());
    line("offers per lead", format!("{:.2}", r.offers_per_lead));
    // The summary's header row is blank: drop it.
    let rendered = summary.render();
    out.push_str(rendered.split_once('\n').map_or("", |(_, rest)| rest));
    out.push('\n');
    let mut reps = Table::new(&[
        "REP",
        "OFFERS",
        "FIRST LOOKS",
        "FIRST-LOOK SHARE",
        "CLAIMS",
        "POOL CLAIMS",
        "CLAIM SHARE",
        "PASSES",
        "EXPIRIES",
        "SKIPS",
    ]);
    for rep in &r.reps {
        let skips: Vec<String> = rep
            .skips
            .iter()
            .map(|(k, v)| format!("{} {v}", crate::words::skip_reason(k)))
            .collect();
        reps.row(vec![
            rep.rep_id.clone(),
            rep.offers.to_string(),
            rep.first_looks.to_string(),
            pct(rep.first_look_share),
            rep.claims.to_string(),
            rep.pool_claims.to_string(),
            pct(rep.claim_share),
            rep.passes.to_string(),
            rep.expiries.to_string(),
            skips.join(", "),
        ]);
    }
    out.push_str(&reps.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=100).rev().collect());
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.count),
            (50, 90, 99, 100, 100)
        );
        assert_eq!(Percentiles::of(vec![7]).p99_ms, 7);
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
    }
}

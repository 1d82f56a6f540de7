//! Wheel fairness and speed to lead, per team, rep and period (default
//! this week).
//!
//! First-look evenness is min / max of the first looks a team's reps got
//! in the period (among reps who had any offer), in basis points: 10000
//! when every rep got the same number, 0 when one got none while another
//! got some. It is shown beside the counts, which carry the detail.

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    GetFairnessRequest, GetFairnessResponse, GetSpeedToLeadRequest, GetSpeedToLeadResponse,
    PeriodKind, ReasonCount, RepFairness, RepSpeed, Speed, TeamEvenness, TeamSpeed,
};

use super::Reports;
use crate::error::Error;
use crate::histogram::Histogram;
use crate::period;

const FAIRNESS_METRICS: [&str; 7] = [
    "skipped",
    "offered",
    "first_look",
    "offer_claimed",
    "passed",
    "expired",
    "pool_claimed",
];

const SPEED_METRICS: [&str; 3] = ["system", "offer_to_claim", "claim_to_touch"];

fn evenness(team_id: &str, first_looks: &[i64]) -> TeamEvenness {
    let min = first_looks.iter().copied().min().unwrap_or(0);
    let max = first_looks.iter().copied().max().unwrap_or(0);
    TeamEvenness {
        team_id: team_id.to_string(),
        first_looks: first_looks.iter().sum(),
        min_first_looks: min,
        max_first_looks: max,
        evenness_bp: if max > 0 { min * 10_000 / max } else { 0 },
    }
}

impl Reports {
    /// Offers, first looks, claims, passes, expiries and pool claims per
    /// rep; evenness of first looks per team.
    pub async fn fairness(
        &self,
        caller: &Caller,
        request: &GetFairnessRequest,
        today: Date,
    ) -> Result<GetFairnessResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Week, today)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let (from, to) = (days.from_key(), days.to_key());
        let mut reps: BTreeMap<(String, String), RepFairness> = BTreeMap::new();
        let entry = |reps: &mut BTreeMap<(String, String), RepFairness>, team: &str, rep: &str| {
            reps.entry((team.to_string(), rep.to_string()))
                .or_insert_with(|| RepFairness {
                    team_id: team.to_string(),
                    rep_id: rep.to_string(),
                    ..Default::default()
                })
                .clone()
        };
        for row in self
            .reader
            .daily(&filter, &from, &to, &FAIRNESS_METRICS)
            .await?
        {
            let mut rep = entry(&mut reps, &row.team_id, &row.rep_id);
            match row.metric.as_str() {
                "offered" => rep.offers += row.events,
                "first_look" => rep.first_looks += row.events,
                "offer_claimed" => rep.claims += row.events,
                "passed" => rep.passes.push(ReasonCount {
                    reason: row.dim.clone(),
                    count: row.events,
                }),
                "expired" => rep.expiries += row.events,
                "pool_claimed" => rep.pool_claims += row.events,
                "skipped" => rep.skips.push(ReasonCount {
                    reason: row.dim.clone(),
                    count: row.events,
                }),
                _ => {}
            }
            reps.insert((row.team_id, row.rep_id), rep);
        }
        let mut waits: BTreeMap<(String, String), Histogram> = BTreeMap::new();
        for row in self
            .reader
            .duration_histograms(&filter, &days, &["time_to_claim"])
            .await?
        {
            waits
                .entry((row.team_id, row.rep_id))
                .or_default()
                .merge(&row.histogram);
        }
        let leavers = self.reader.leavers().await?;
        let mut looks: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let reps: Vec<RepFairness> = reps
            .into_iter()
            .map(|(key, mut rep)| {
                // A rep who left keeps their numbers but is no longer one
                // of the team's reps whose first looks should be even.
                rep.left = leavers.contains(&key);
                rep.claim_rate_bp = if rep.offers > 0 {
                    rep.claims * 10_000 / rep.offers
                } else {
                    0
                };
                rep.time_to_claim = Some(waits.remove(&key).unwrap_or_default().percentiles());
                rep.passes.sort_by(|a, b| a.reason.cmp(&b.reason));
                rep.skips.sort_by(|a, b| a.reason.cmp(&b.reason));
                if rep.offers > 0 && !rep.left {
                    looks
                        .entry(rep.team_id.clone())
                        .or_default()
                        .push(rep.first_looks);
                }
                rep
            })
            .collect();
        Ok(GetFairnessResponse {
            period: Some(days.to_proto()),
            reps,
            teams: looks
                .iter()
                .map(|(team, counts)| evenness(team, counts))
                .collect(),
        })
    }

    /// System and human time to lead, in total, per team and per rep.
    pub async fn speed(
        &self,
        caller: &Caller,
        request: &GetSpeedToLeadRequest,
        today: Date,
    ) -> Result<GetSpeedToLeadResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Week, today)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        // Per group (the whole scope, a team, a rep), one histogram per metric.
        type PerMetric = [Histogram; 3];
        let mut all = PerMetric::default();
        let mut teams: BTreeMap<String, PerMetric> = BTreeMap::new();
        let mut reps: BTreeMap<(String, String), PerMetric> = BTreeMap::new();
        for row in self
            .reader
            .duration_histograms(&filter, &days, &SPEED_METRICS)
            .await?
        {
            let Some(index) = SPEED_METRICS.iter().position(|m| *m == row.metric) else {
                continue;
            };
            all[index].merge(&row.histogram);
            teams.entry(row.team_id.clone()).or_default()[index].merge(&row.histogram);
            reps.entry((row.team_id, row.rep_id)).or_default()[index].merge(&row.histogram);
        }
        let speed = |metrics: &PerMetric| Speed {
            system: Some(metrics[0].percentiles()),
            offer_to_claim: Some(metrics[1].percentiles()),
            claim_to_touch: Some(metrics[2].percentiles()),
        };
        Ok(GetSpeedToLeadResponse {
            period: Some(days.to_proto()),
            total: Some(speed(&all)),
            teams: teams
                .iter()
                .map(|(team, metrics)| TeamSpeed {
                    team_id: team.clone(),
                    speed: Some(speed(metrics)),
                })
                .collect(),
            reps: reps
                .iter()
                .map(|((team, rep), metrics)| RepSpeed {
                    team_id: team.clone(),
                    rep_id: rep.clone(),
                    speed: Some(speed(metrics)),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenness_is_min_over_max() {
        assert_eq!(evenness("t", &[4, 4, 4]).evenness_bp, 10_000);
        let uneven = evenness("t", &[2, 4, 0]);
        assert_eq!((uneven.first_looks, uneven.evenness_bp), (6, 0));
        assert_eq!(evenness("t", &[3, 4]).evenness_bp, 7_500);
    }
}

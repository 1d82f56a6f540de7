//! Conversion and time in stage (default this month): per stage, the
//! deals that entered it, the moves out of it (on, back, lost) and the
//! conversion on; time in stage per stage and per rep; win rate; and the
//! open deals sitting in their stage past its threshold now.

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    GetStagesRequest, GetStagesResponse, PeriodKind, RepStageTime, StageFlow, StuckDeal,
};

use super::Reports;
use crate::error::Error;
use crate::histogram::Histogram;
use crate::period;

/// Most stuck deals listed.
const MAX_STUCK: i64 = 200;

const DAY_MS: i64 = 86_400_000;

impl Reports {
    /// The stage report for the caller's scope.
    pub async fn stages(
        &self,
        caller: &Caller,
        request: &GetStagesRequest,
        today: Date,
        now_ms: i64,
    ) -> Result<GetStagesResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Month, today)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let (from, to) = (days.from_key(), days.to_key());
        let stages = self.reader.stage_thresholds().await?;
        let position: BTreeMap<&str, usize> = stages
            .iter()
            .enumerate()
            .map(|(i, (stage, _))| (stage.as_str(), i))
            .collect();
        let mut flows: BTreeMap<String, StageFlow> = stages
            .iter()
            .filter(|(stage, _)| stage != "won" && stage != "lost")
            .map(|(stage, stale_days)| {
                let flow = StageFlow {
                    stage: stage.clone(),
                    stale_days: *stale_days,
                    ..Default::default()
                };
                (stage.clone(), flow)
            })
            .collect();
        let (mut won, mut lost) = (0, 0);
        let rows = self
            .reader
            .daily(&filter, &from, &to, &["entered", "moved", "won", "lost"])
            .await?;
        for row in rows {
            match row.metric.as_str() {
                "won" => won += row.events,
                "lost" => lost += row.events,
                "entered" => {
                    if let Some(flow) = flows.get_mut(&row.dim) {
                        flow.entered += row.events;
                    }
                }
                _ => {
                    let Some((from_stage, to_stage)) = row.dim.split_once('>') else {
                        continue;
                    };
                    let Some(flow) = flows.get_mut(from_stage) else {
                        continue;
                    };
                    let before = |s: &str| position.get(s).copied().unwrap_or(usize::MAX);
                    if to_stage == "lost" {
                        flow.lost += row.events;
                    } else if to_stage == "won" || before(to_stage) > before(from_stage) {
                        flow.moved_on += row.events;
                    } else {
                        flow.moved_back += row.events;
                    }
                }
            }
        }
        let mut per_stage: BTreeMap<String, Histogram> = BTreeMap::new();
        let mut per_rep: BTreeMap<(String, String, String), Histogram> = BTreeMap::new();
        for row in self
            .reader
            .duration_histograms(&filter, &days, &["stage_time"])
            .await?
        {
            per_stage
                .entry(row.dim.clone())
                .or_default()
                .merge(&row.histogram);
            per_rep
                .entry((row.team_id, row.rep_id, row.dim))
                .or_default()
                .merge(&row.histogram);
        }
        let mut ordered: Vec<StageFlow> = flows.into_values().collect();
        ordered.sort_by_key(|f| position.get(f.stage.as_str()).copied());
        for flow in &mut ordered {
            let out = flow.moved_on + flow.lost;
            flow.conversion_bp = if out > 0 {
                flow.moved_on * 10_000 / out
            } else {
                0
            };
            flow.time_in_stage = Some(
                per_stage
                    .remove(&flow.stage)
                    .unwrap_or_default()
                    .percentiles(),
            );
        }
        let stuck = self
            .reader
            .stuck(&filter, now_ms, MAX_STUCK)
            .await?
            .into_iter()
            .map(|row| StuckDeal {
                opportunity_id: row.opportunity_id,
                team_id: row.team_id,
                rep_id: row.rep_id,
                stage: row.stage,
                days_in_stage: (now_ms - row.stage_entered_at_ms) / DAY_MS,
                stale_days: row.stale_days,
                currency: row.currency,
                amount_minor: row.amount_minor,
            })
            .collect();
        Ok(GetStagesResponse {
            period: Some(days.to_proto()),
            stages: ordered,
            reps: per_rep
                .into_iter()
                .map(|((team_id, rep_id, stage), histogram)| RepStageTime {
                    team_id,
                    rep_id,
                    stage,
                    time_in_stage: Some(histogram.percentiles()),
                })
                .collect(),
            won,
            lost,
            win_rate_bp: if won + lost > 0 {
                won * 10_000 / (won + lost)
            } else {
                0
            },
            stuck,
        })
    }
}

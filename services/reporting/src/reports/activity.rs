//! Activities per rep per day or ISO week (default this week, by day): by
//! kind, calls recorded and call time; per rep by the stage the lead or
//! deal was in when the activity was logged; and per rep the touches
//! before conversion and the follow-ups due (see `activity_extras`).

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    ActivityRow, ActivityStageRow, GetActivityRequest, GetActivityResponse, PeriodKind,
};

use super::{Reports, activity_extras};
use crate::error::Error;
use crate::period;

impl Reports {
    /// The activity report for the caller's scope.
    pub async fn activity(
        &self,
        caller: &Caller,
        request: &GetActivityRequest,
        today: Date,
    ) -> Result<GetActivityResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Week, today)?;
        let bucket = match PeriodKind::try_from(request.bucket) {
            Ok(PeriodKind::Unspecified | PeriodKind::Day) => PeriodKind::Day,
            Ok(PeriodKind::Week) => PeriodKind::Week,
            _ => return Err(Error::invalid("bucket", "DAY or WEEK")),
        };
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let (from, to) = (days.from_key(), days.to_key());
        let days_of_reps = self.reader.activity_days(&filter, &from, &to).await?;
        // By stage over the whole period: summed in the store, not per day.
        let mut stages: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        for row in self
            .reader
            .daily(&filter, &from, &to, &["touch_stage"])
            .await?
        {
            *stages
                .entry((row.team_id, row.rep_id, row.dim))
                .or_default() += row.events;
        }
        let mut buckets: BTreeMap<(String, String, String), ActivityRow> = BTreeMap::new();
        for day in days_of_reps {
            let from = match day.day.parse::<Date>() {
                Ok(date) => period::of_kind(bucket, date).from_key(),
                Err(_) => day.day.clone(),
            };
            let entry = buckets
                .entry((day.team_id.clone(), day.rep_id.clone(), from.clone()))
                .or_insert_with(|| ActivityRow {
                    team_id: day.team_id,
                    rep_id: day.rep_id,
                    from,
                    ..Default::default()
                });
            entry.calls += day.calls;
            entry.call_seconds += day.call_seconds;
            entry.calls_recorded += day.calls_recorded;
            entry.emails += day.emails;
            entry.visits += day.visits;
            entry.meetings += day.meetings;
            entry.notes += day.notes;
        }
        let converted = self.reader.converted_leads(&filter, &from, &to).await?;
        let follow_ups = self
            .reader
            .follow_ups(&filter, &from, &to, &today.to_string())
            .await?;
        Ok(GetActivityResponse {
            conversions: activity_extras::conversions(converted),
            follow_ups: activity_extras::follow_ups(&follow_ups),
            period: Some(days.to_proto()),
            rows: buckets.into_values().collect(),
            by_stage: stages
                .into_iter()
                .map(|((team_id, rep_id, stage), count)| ActivityStageRow {
                    team_id,
                    rep_id,
                    stage,
                    count,
                })
                .collect(),
        })
    }
}

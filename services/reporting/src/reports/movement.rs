//! History: the open pipeline as it stood at the end of a past day, and how
//! a period's forecast moved since a past day with the deals that moved it
//! (since the latest weekly snapshot by default: `since_snapshot.rs`).
//! Both read each deal's version in force at the moment asked
//! (`reporting_opportunity_history`), so a probability changed later does
//! not rewrite what was forecast before.

use std::collections::BTreeMap;

use jiff::Zoned;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    DealMove, ForecastAt, GetForecastMovementRequest, GetForecastMovementResponse, PeriodKind,
    PipelineOpenRow,
};

use super::Reports;
use super::forecast::quota_kind;
use crate::error::Error;
use crate::models::per_deal::DealAsOf;
use crate::models::queries::Filter;
use crate::period::{self, Days};

/// The last millisecond of `date` in `zone`.
pub fn end_of_day(date: Date, zone: &TimeZone) -> i64 {
    let next = date.tomorrow().unwrap_or(date);
    next.to_zoned(zone.clone())
        .map(|z: Zoned| z.timestamp().as_millisecond() - 1)
        .unwrap_or(i64::MAX)
}

/// What `deal` adds to the forecast of `days`: its amount when won in the
/// period, its weighted value when open and expected to close in it.
pub(super) fn contribution(deal: &DealAsOf, days: &Days, zone: &TimeZone) -> i64 {
    let (from, to) = (days.from_key(), days.to_key());
    match deal.status.as_str() {
        "won" => {
            let day = period::day_of(deal.at_ms, zone).to_string();
            if day >= from && day <= to {
                deal.amount_minor
            } else {
                0
            }
        }
        "open" if deal.close_date >= from && deal.close_date <= to => deal.weighted_minor,
        _ => 0,
    }
}

pub(super) fn totals(deals: &[DealAsOf], days: &Days, zone: &TimeZone) -> Vec<ForecastAt> {
    let mut per: BTreeMap<&str, ForecastAt> = BTreeMap::new();
    for deal in deals {
        let value = contribution(deal, days, zone);
        if value == 0 {
            continue;
        }
        let line = per.entry(&deal.currency).or_insert_with(|| ForecastAt {
            currency: deal.currency.clone(),
            ..Default::default()
        });
        if deal.status == "won" {
            line.won_minor += value;
        } else {
            line.weighted_open_minor += value;
        }
        line.forecast_minor += value;
    }
    per.into_values().collect()
}

impl Reports {
    /// Open deals per team, rep, stage and currency as they stood at the end
    /// of `date`.
    pub async fn open_as_of(
        &self,
        filter: &Filter,
        date: Date,
    ) -> Result<Vec<PipelineOpenRow>, Error> {
        let at = end_of_day(date, &self.settings.zone);
        let mut rows: BTreeMap<(String, String, String, String), PipelineOpenRow> = BTreeMap::new();
        for deal in self.reader.deals_as_of(filter, at).await? {
            if deal.status != "open" {
                continue;
            }
            let key = (
                deal.team_id.clone(),
                deal.rep_id.clone(),
                deal.stage.clone(),
                deal.currency.clone(),
            );
            let row = rows.entry(key).or_insert_with(|| PipelineOpenRow {
                team_id: deal.team_id.clone(),
                rep_id: deal.rep_id.clone(),
                stage: deal.stage.clone(),
                currency: deal.currency.clone(),
                ..Default::default()
            });
            row.count += 1;
            row.amount_minor += deal.amount_minor;
            row.weighted_minor += deal.weighted_minor;
        }
        Ok(rows.into_values().collect())
    }

    /// The period's forecast at the end of `since` (else at the latest
    /// weekly snapshot) and now, and the deals whose contribution changed,
    /// largest change first.
    pub async fn movement(
        &self,
        caller: &Caller,
        request: &GetForecastMovementRequest,
        today: Date,
        now_ms: i64,
    ) -> Result<GetForecastMovementResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Month, today)?;
        if quota_kind(days.kind).is_none() {
            return Err(Error::invalid(
                "period.kind",
                "a forecast is for a month, a quarter or a year",
            ));
        }
        if request.since.is_empty() {
            return self
                .movement_since_snapshot(caller, request, days, now_ms)
                .await;
        }
        let since = period::parse_date("since", &request.since)?;
        if since >= today {
            return Err(Error::invalid(
                "since",
                format!("{since} is not before today"),
            ));
        }
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let zone = &self.settings.zone;
        let before = self
            .reader
            .deals_as_of(&filter, end_of_day(since, zone))
            .await?;
        let now = self.reader.deals_as_of(&filter, now_ms).await?;
        let then: BTreeMap<&str, &DealAsOf> = before
            .iter()
            .map(|d| (d.opportunity_id.as_str(), d))
            .collect();
        let mut deals: Vec<DealMove> = now
            .iter()
            .filter_map(|deal| {
                let old = then.get(deal.opportunity_id.as_str());
                let before_minor = old.map(|d| contribution(d, &days, zone)).unwrap_or(0);
                let after_minor = contribution(deal, &days, zone);
                (before_minor != after_minor).then(|| DealMove {
                    opportunity_id: deal.opportunity_id.clone(),
                    team_id: deal.team_id.clone(),
                    rep_id: deal.rep_id.clone(),
                    currency: deal.currency.clone(),
                    before_minor,
                    after_minor,
                    before_stage: old.map(|d| d.stage.clone()).unwrap_or_default(),
                    after_stage: deal.stage.clone(),
                    before_close_date: old.map(|d| d.close_date.clone()).unwrap_or_default(),
                    after_close_date: deal.close_date.clone(),
                })
            })
            .collect();
        deals.sort_by(|a, b| {
            (b.after_minor - b.before_minor)
                .abs()
                .cmp(&(a.after_minor - a.before_minor).abs())
                .then_with(|| a.opportunity_id.cmp(&b.opportunity_id))
        });
        Ok(GetForecastMovementResponse {
            period: Some(days.to_proto()),
            since: since.to_string(),
            before: totals(&before, &days, zone),
            now: totals(&now, &days, zone),
            deals,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_at_midnight_in_the_business_time_zone() {
        let date: Date = "2026-11-30".parse().unwrap();
        let utc = end_of_day(date, &TimeZone::UTC);
        assert_eq!(utc, 1_796_083_200_000 - 1);
        let paris = end_of_day(date, &TimeZone::get("Europe/Paris").unwrap());
        assert_eq!(utc - paris, 3_600_000);
    }
}

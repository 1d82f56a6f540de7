//! History: the open pipeline as it stood at the end of a past day, and how
//! a period's forecast moved since a past day with the deals that moved it
//! (since the latest weekly snapshot by default: `since_snapshot.rs`).
//!
//! The pipeline as of a day sums the day and month changes of
//! `models/open_days.rs`. The movement since a day is computed in the store
//! over the deals that could add to the period and have a version after
//! that day (each one's version in force then and now from
//! `reporting_opportunity_history`, so a probability changed later does not
//! rewrite what was forecast before: `Reader::forecast_moves`); "now" is
//! the forecast report's sums, and "before" is now plus what those deals
//! added then minus what they add now (every other deal adds the same then
//! and now).

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
use crate::models::forecast_changes::Moved;
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

impl Reports {
    /// Open deals per team, rep, stage and currency as they stood at the end
    /// of `date` (the day sums of `models/open_days.rs`).
    pub async fn open_as_of(
        &self,
        filter: &Filter,
        date: Date,
    ) -> Result<Vec<PipelineOpenRow>, Error> {
        Ok(self
            .reader
            .open_as_of(filter, date)
            .await?
            .into_iter()
            .map(PipelineOpenRow::from)
            .collect())
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
        let limit = deals_limit(request.limit)?;
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
        let (from_month, to_month) = (days.from_key(), days.to_key());
        let (since_day, today_day) = (since.to_string(), today.to_string());
        let moves = self
            .reader
            .forecast_moves(
                &filter,
                &Moved {
                    months: (&from_month[..7], &to_month[..7]),
                    days: (&since_day, &today_day),
                    moments_ms: (end_of_day(since, zone), now_ms),
                },
                limit,
            )
            .await?;
        let now = self.forecast_now(&filter, &days).await?;
        let mut before = now.clone();
        for (currency, (won_minor, weighted_minor)) in moves.then_minus_now {
            let line = before.entry(currency).or_default();
            line.0 += won_minor;
            line.1 += weighted_minor;
        }
        let mut deals: Vec<DealMove> = moves
            .largest
            .iter()
            .map(|deal| {
                let (old, new) = (deal.then.as_ref(), deal.now.as_ref());
                deal_move(
                    &deal.opportunity_id,
                    (
                        old.map_or(0, |d| contribution(d, &days, zone)),
                        new.map_or(0, |d| contribution(d, &days, zone)),
                    ),
                    old.map(Side::from),
                    new.map(Side::from),
                )
            })
            .collect();
        // Largest first, as the store chose them (a union's rows come in
        // the order the store likes).
        keep_largest(&mut deals, limit);
        let deals_moved = moves.deals_moved;
        Ok(GetForecastMovementResponse {
            period: Some(days.to_proto()),
            since: since.to_string(),
            before: forecast_lines(before),
            now: forecast_lines(now),
            deals,
            deals_moved,
            ..Default::default()
        })
    }

    /// The forecast of `days` within `filter` now, per currency: won and
    /// weighted open, the forecast report's sums (pre-aggregated).
    pub(super) async fn forecast_now(
        &self,
        filter: &Filter,
        days: &Days,
    ) -> Result<PerCurrency, Error> {
        let mut per = PerCurrency::new();
        for sums in self.sums(filter, days).await?.into_values() {
            for (currency, sums) in sums {
                let line = per.entry(currency).or_default();
                line.0 += sums.won_minor;
                line.1 += sums.weighted_minor;
            }
        }
        Ok(per)
    }
}

/// Per currency: won and weighted open value.
pub(super) type PerCurrency = BTreeMap<String, (i64, i64)>;

/// The forecast lines of `per`, the currencies with nothing left out.
pub(super) fn forecast_lines(per: PerCurrency) -> Vec<ForecastAt> {
    per.into_iter()
        .filter(|(_, (won, open))| *won != 0 || *open != 0)
        .map(|(currency, (won_minor, weighted_open_minor))| ForecastAt {
            currency,
            won_minor,
            weighted_open_minor,
            forecast_minor: won_minor + weighted_open_minor,
        })
        .collect()
}

/// What a move shows of a deal at one moment.
pub(super) struct Side<'a> {
    pub team_id: &'a str,
    pub rep_id: &'a str,
    pub currency: &'a str,
    pub stage: &'a str,
    pub close_date: &'a str,
}

impl<'a> From<&'a DealAsOf> for Side<'a> {
    fn from(deal: &'a DealAsOf) -> Self {
        Side {
            team_id: &deal.team_id,
            rep_id: &deal.rep_id,
            currency: &deal.currency,
            stage: &deal.stage,
            close_date: &deal.close_date,
        }
    }
}

/// A deal's move from `old` to `new` (its team, rep and currency as now,
/// else as then), with its contributions (before, after).
pub(super) fn deal_move(
    opportunity_id: &str,
    (before_minor, after_minor): (i64, i64),
    old: Option<Side>,
    new: Option<Side>,
) -> DealMove {
    let latest = new.as_ref().or(old.as_ref());
    let text = |value: Option<&str>| value.unwrap_or_default().to_string();
    DealMove {
        opportunity_id: opportunity_id.to_string(),
        team_id: text(latest.map(|s| s.team_id)),
        rep_id: text(latest.map(|s| s.rep_id)),
        currency: text(latest.map(|s| s.currency)),
        before_minor,
        after_minor,
        before_stage: text(old.as_ref().map(|s| s.stage)),
        after_stage: text(new.as_ref().map(|s| s.stage)),
        before_close_date: text(old.as_ref().map(|s| s.close_date)),
        after_close_date: text(new.as_ref().map(|s| s.close_date)),
    }
}

/// Deals a movement lists when the request does not say.
pub const DEFAULT_DEALS_LISTED: usize = 100;
/// The most deals a movement lists.
pub const MAX_DEALS_LISTED: usize = 1_000;

/// The request's `limit` on the deals listed (0: the default).
pub(super) fn deals_limit(limit: i32) -> Result<usize, Error> {
    match usize::try_from(limit) {
        Ok(0) => Ok(DEFAULT_DEALS_LISTED),
        Ok(limit) if limit <= MAX_DEALS_LISTED => Ok(limit),
        _ => Err(Error::invalid(
            "limit",
            format!("between 1 and {MAX_DEALS_LISTED}, or 0 for {DEFAULT_DEALS_LISTED}"),
        )),
    }
}

/// Keeps the `limit` largest moves of `deals`, largest change first, then
/// by deal; returns how many there were in all.
pub(super) fn keep_largest(deals: &mut Vec<DealMove>, limit: usize) -> i64 {
    let moved = deals.len() as i64;
    let order = |a: &DealMove, b: &DealMove| {
        (b.after_minor - b.before_minor)
            .abs()
            .cmp(&(a.after_minor - a.before_minor).abs())
            .then_with(|| a.opportunity_id.cmp(&b.opportunity_id))
    };
    if deals.len() > limit && limit > 0 {
        // Only the kept ones need sorting.
        deals.select_nth_unstable_by(limit - 1, order);
    }
    deals.truncate(limit);
    deals.sort_by(order);
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(id: &str, before_minor: i64, after_minor: i64) -> DealMove {
        DealMove {
            opportunity_id: id.into(),
            before_minor,
            after_minor,
            ..Default::default()
        }
    }

    #[test]
    fn the_largest_moves_are_kept_in_order() {
        let all = vec![
            moved("a", 0, 5),
            moved("b", 100, 0),
            moved("c", 10, 30),
            moved("d", 0, 100),
            moved("e", 7, 8),
        ];
        let mut deals = all.clone();
        assert_eq!(keep_largest(&mut deals, 3), 5);
        let ids: Vec<&str> = deals.iter().map(|d| d.opportunity_id.as_str()).collect();
        // Ties by size are ordered by deal.
        assert_eq!(ids, ["b", "d", "c"]);
        let mut deals = all.clone();
        assert_eq!(keep_largest(&mut deals, 10), 5);
        let ids: Vec<&str> = deals.iter().map(|d| d.opportunity_id.as_str()).collect();
        assert_eq!(ids, ["b", "d", "c", "a", "e"]);
    }

    #[test]
    fn the_limit_is_checked() {
        assert_eq!(deals_limit(0).unwrap(), DEFAULT_DEALS_LISTED);
        assert_eq!(deals_limit(1).unwrap(), 1);
        assert_eq!(deals_limit(1000).unwrap(), 1000);
        for bad in [-1, 1001] {
            let err = deals_limit(bad).unwrap_err().to_string();
            assert!(err.contains("limit"), "{err}");
        }
    }

    #[test]
    fn a_day_ends_at_midnight_in_the_business_time_zone() {
        let date: Date = "2026-11-30".parse().unwrap();
        let utc = end_of_day(date, &TimeZone::UTC);
        assert_eq!(utc, 1_796_083_200_000 - 1);
        let paris = end_of_day(date, &TimeZone::get("Europe/Paris").unwrap());
        assert_eq!(utc - paris, 3_600_000);
    }
}

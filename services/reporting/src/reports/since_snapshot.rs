//! The forecast's movement since the latest weekly snapshot (the default of
//! `GetForecastMovement`): "before" is read from the stored snapshot (its
//! sums per rep, period, currency and category, and the rows of the deals
//! changed since its moment), "now" from the forecast report's sums and the
//! changed deals as they stand.

use std::collections::BTreeMap;

use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    DealMove, ForecastAt, GetForecastMovementRequest, GetForecastMovementResponse,
};

use super::Reports;
use super::forecast::quota_kind;
use super::movement::{Side, contribution, deal_move, deals_limit, forecast_lines, keep_largest};
use crate::error::Error;
use crate::models::per_deal::ChangedDeal;
use crate::models::snapshots::SnapshotTotal;
use crate::period::Days;
use crate::snapshot::SnapshotDeal;

/// The snapshot's forecast per currency from its stored sums.
fn totals_then(totals: &[SnapshotTotal]) -> Vec<ForecastAt> {
    let mut per: BTreeMap<&str, ForecastAt> = BTreeMap::new();
    for total in totals {
        let line = per.entry(&total.currency).or_insert_with(|| ForecastAt {
            currency: total.currency.clone(),
            ..Default::default()
        });
        if total.category == "closed" {
            line.won_minor += total.value_minor;
        } else {
            line.weighted_open_minor += total.value_minor;
        }
        line.forecast_minor += total.value_minor;
    }
    per.into_values()
        .filter(|line| line.forecast_minor != 0 || line.won_minor != 0)
        .collect()
}

/// What a snapshot's deal added to the forecast of `days`.
fn then_value(deal: &SnapshotDeal, days: &Days) -> i64 {
    let day = deal.day();
    if !day.is_empty() && day >= days.from_key().as_str() && day <= days.to_key().as_str() {
        deal.value()
    } else {
        0
    }
}

/// Every changed deal whose contribution differs between the snapshot
/// (`then`: the snapshot's rows of the changed deals) and now.
fn moves(
    then: &[SnapshotDeal],
    changed: &[ChangedDeal],
    days: &Days,
    zone: &jiff::tz::TimeZone,
) -> Vec<DealMove> {
    let then: BTreeMap<&str, &SnapshotDeal> = then
        .iter()
        .map(|d| (d.opportunity_id.as_str(), d))
        .collect();
    changed
        .iter()
        .filter_map(|deal| {
            let id = deal.opportunity_id.as_str();
            let old = then.get(id);
            let new = deal.now.as_ref();
            let before_minor = old.map(|d| then_value(d, days)).unwrap_or(0);
            let after_minor = new.map(|d| contribution(d, days, zone)).unwrap_or(0);
            if before_minor == after_minor {
                return None;
            }
            let old = old.map(|d| Side {
                team_id: &d.team_id,
                rep_id: &d.rep_id,
                currency: &d.currency,
                stage: &d.stage,
                close_date: &d.close_date,
            });
            Some(deal_move(
                id,
                (before_minor, after_minor),
                old,
                new.map(Side::from),
            ))
        })
        .collect()
}

impl Reports {
    /// The movement of `days`' forecast since the latest weekly snapshot.
    pub(super) async fn movement_since_snapshot(
        &self,
        caller: &Caller,
        request: &GetForecastMovementRequest,
        days: Days,
        now_ms: i64,
    ) -> Result<GetForecastMovementResponse, Error> {
        let kind = quota_kind(days.kind).ok_or_else(|| {
            Error::invalid(
                "period.kind",
                "a forecast is for a month, a quarter or a year",
            )
        })?;
        let limit = deals_limit(request.limit)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let Some(snapshot) = self.reader.latest_snapshot().await? else {
            return Err(Error::precondition(
                "no weekly forecast snapshot has been taken yet; give since (YYYY-MM-DD) \
                 to compare with a past day",
            ));
        };
        let zone = &self.settings.zone;
        let totals = self
            .reader
            .snapshot_totals(&snapshot.day, &filter, kind, &days.from_key())
            .await?;
        // Only the deals with a version after the snapshot's moment can
        // differ from it.
        let changed = self
            .reader
            .changed_deals(&filter, snapshot.at_ms, now_ms)
            .await?;
        let then = self
            .reader
            .snapshot_deals_changed(&snapshot.day, &filter, snapshot.at_ms, now_ms)
            .await?;
        let mut deals = moves(&then, &changed, &days, zone);
        let deals_moved = keep_largest(&mut deals, limit);
        let now = self.forecast_now(&filter, &days).await?;
        Ok(GetForecastMovementResponse {
            period: Some(days.to_proto()),
            since: snapshot.day,
            before: totals_then(&totals),
            now: forecast_lines(now),
            deals,
            from_snapshot: true,
            snapshot_at_ms: snapshot.at_ms,
            snapshot_taken_at_ms: snapshot.taken_at_ms,
            deals_moved,
        })
    }
}

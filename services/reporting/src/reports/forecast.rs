//! Forecast against quota: for a rep or a team and a month, quarter or
//! year, per currency: the quota, what was won in the period, the weighted
//! open pipeline expected to close in it, forecast = won + weighted,
//! attainment and the gap to quota.

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::reporting::v1::{
    CategoryValue, ForecastLine, GetForecastRequest, GetForecastResponse, PeriodKind, RepForecast,
};

use super::{Reports, non_empty};
use crate::error::Error;
use crate::models::queries::Filter;
use crate::models::quotas;
use crate::period::{self, Days};

/// Sums of one subject in one currency.
#[derive(Clone, Debug, Default)]
pub(super) struct Sums {
    pub(super) won_minor: i64,
    won_count: i64,
    pub(super) weighted_minor: i64,
    open_minor: i64,
    open_count: i64,
    /// Open deals per forecast category: (deals, amount, weighted).
    categories: BTreeMap<String, (i64, i64, i64)>,
}

/// The stored name of a quota period kind; None for kinds quotas lack.
pub(crate) fn quota_kind(kind: PeriodKind) -> Option<&'static str> {
    match kind {
        PeriodKind::Month => Some("month"),
        PeriodKind::Quarter => Some("quarter"),
        PeriodKind::Year => Some("year"),
        _ => None,
    }
}

/// One currency's line from its sums and the quota when in that currency.
fn line(currency: &str, sums: &Sums, quota: Option<i64>) -> ForecastLine {
    let forecast = sums.won_minor + sums.weighted_minor;
    let quota_minor = quota.unwrap_or(0);
    let basis_points = |value: i64| {
        if quota_minor > 0 {
            // i128: minor units × 10,000 can pass i64 for large sums.
            (i128::from(value) * 10_000 / i128::from(quota_minor)) as i64
        } else {
            0
        }
    };
    ForecastLine {
        currency: currency.to_string(),
        quota_minor,
        has_quota: quota.is_some(),
        won_minor: sums.won_minor,
        won_count: sums.won_count,
        weighted_open_minor: sums.weighted_minor,
        open_amount_minor: sums.open_minor,
        open_count: sums.open_count,
        forecast_minor: forecast,
        attainment_bp: basis_points(sums.won_minor),
        forecast_bp: basis_points(forecast),
        gap_minor: if quota.is_some() {
            quota_minor - forecast
        } else {
            0
        },
        categories: categories(sums),
        ..Default::default()
    }
}

/// Open deals by category in a fixed order, then `closed` (won).
fn categories(sums: &Sums) -> Vec<CategoryValue> {
    const ORDER: [&str; 3] = ["pipeline", "best_case", "commit"];
    let rank = |c: &str| ORDER.iter().position(|o| *o == c).unwrap_or(ORDER.len());
    let mut open: Vec<CategoryValue> = sums
        .categories
        .iter()
        .map(|(category, (deals, amount, weighted))| CategoryValue {
            category: category.clone(),
            deals: *deals,
            amount_minor: *amount,
            weighted_minor: *weighted,
        })
        .collect();
    open.sort_by(|a, b| (rank(&a.category), &a.category).cmp(&(rank(&b.category), &b.category)));
    if sums.won_count > 0 {
        open.push(CategoryValue {
            category: "closed".into(),
            deals: sums.won_count,
            amount_minor: sums.won_minor,
            weighted_minor: sums.won_minor,
        });
    }
    open
}

/// Lines for every currency with sums, the quota or the adjustment, in
/// currency order.
fn lines(
    sums: &BTreeMap<String, Sums>,
    quota: Option<&quotas::QuotaRow>,
    adjustment: Option<&quotas::Adjustment>,
) -> Vec<ForecastLine> {
    let mut currencies: Vec<&str> = sums.keys().map(String::as_str).collect();
    currencies.extend(quota.map(|q| q.currency.as_str()));
    currencies.extend(adjustment.map(|a| a.currency.as_str()));
    currencies.sort();
    currencies.dedup();
    let empty = Sums::default();
    currencies
        .into_iter()
        .map(|currency| {
            let in_currency = quota
                .filter(|q| q.currency == currency)
                .map(|q| q.amount_minor);
            let mut line = line(currency, sums.get(currency).unwrap_or(&empty), in_currency);
            if let Some(adjustment) = adjustment.filter(|a| a.currency == currency) {
                line.has_adjustment = true;
                line.adjusted_forecast_minor = adjustment.amount_minor;
                line.adjustment_note = adjustment.note.clone();
                line.adjusted_by = adjustment.set_by.clone();
            }
            line
        })
        .collect()
}

impl Reports {
    /// The forecast of a team (with each of its reps) or of one rep.
    pub async fn forecast(
        &self,
        caller: &Caller,
        request: &GetForecastRequest,
        today: Date,
    ) -> Result<GetForecastResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Month, today)?;
        let Some(kind) = quota_kind(days.kind) else {
            return Err(Error::invalid(
                "period.kind",
                "a forecast is for a month, a quarter or a year",
            ));
        };
        let mut rep_id = request.rep_id.clone();
        if caller.role == Role::Rep && rep_id.is_empty() && !request.team_id.is_empty() {
            // The team's figures and quota are the manager's to read.
            return Err(Error::denied(format!(
                "rep {} may read their own forecast, not team {}'s",
                caller.subject, request.team_id
            )));
        }
        if request.team_id.is_empty() && rep_id.is_empty() {
            if caller.role == Role::Rep {
                // A rep asking for nothing in particular means themselves.
                rep_id = caller.subject.clone();
            } else {
                return Err(Error::invalid(
                    "team_id",
                    "name a team (or a rep with rep_id)",
                ));
            }
        }
        let filter = self.filter(caller, &request.team_id, &rep_id).await?;
        let per_rep = self.sums(&filter, &days).await?;
        let unscheduled = self.reader.unscheduled(&filter).await?;
        let start = days.from_key();
        if let Some(rep) = non_empty(&rep_id) {
            let quota = quotas::find(&self.store, "rep", rep, kind, &start).await?;
            let adjusted = quotas::adjustment(&self.store, "rep", rep, kind, &start).await?;
            let total = merge(per_rep.values());
            return Ok(GetForecastResponse {
                period: Some(days.to_proto()),
                lines: lines(&total, quota.as_ref(), adjusted.as_ref()),
                reps: Vec::new(),
                unscheduled_open_count: unscheduled,
            });
        }
        let team_quota = quotas::find(&self.store, "team", &request.team_id, kind, &start).await?;
        let team_adjusted =
            quotas::adjustment(&self.store, "team", &request.team_id, kind, &start).await?;
        let total = merge(per_rep.values());
        let mut reps = Vec::new();
        for (rep, sums) in &per_rep {
            let quota = quotas::find(&self.store, "rep", rep, kind, &start).await?;
            let adjusted = quotas::adjustment(&self.store, "rep", rep, kind, &start).await?;
            reps.push(RepForecast {
                rep_id: rep.clone(),
                lines: lines(sums, quota.as_ref(), adjusted.as_ref()),
            });
        }
        Ok(GetForecastResponse {
            period: Some(days.to_proto()),
            lines: lines(&total, team_quota.as_ref(), team_adjusted.as_ref()),
            reps,
            unscheduled_open_count: unscheduled,
        })
    }

    /// Won and weighted open closing in `days`, per rep and currency.
    pub(super) async fn sums(
        &self,
        filter: &Filter,
        days: &Days,
    ) -> Result<BTreeMap<String, BTreeMap<String, Sums>>, Error> {
        let (from, to) = (days.from_key(), days.to_key());
        let mut per_rep: BTreeMap<String, BTreeMap<String, Sums>> = BTreeMap::new();
        for row in self.reader.daily(filter, &from, &to, &["won"]).await? {
            let sums = per_rep
                .entry(row.rep_id)
                .or_default()
                .entry(row.currency)
                .or_default();
            sums.won_minor += row.amount_minor;
            sums.won_count += row.events;
        }
        for row in self.reader.open_categories(filter, &from, &to).await? {
            let sums = per_rep
                .entry(row.rep_id)
                .or_default()
                .entry(row.currency)
                .or_default();
            sums.weighted_minor += row.weighted_minor;
            sums.open_minor += row.amount_minor;
            sums.open_count += row.deals;
            let category = sums.categories.entry(row.category).or_default();
            category.0 += row.deals;
            category.1 += row.amount_minor;
            category.2 += row.weighted_minor;
        }
        Ok(per_rep)
    }
}

fn merge<'a>(reps: impl Iterator<Item = &'a BTreeMap<String, Sums>>) -> BTreeMap<String, Sums> {
    let mut total: BTreeMap<String, Sums> = BTreeMap::new();
    for rep in reps {
        for (currency, sums) in rep {
            let into = total.entry(currency.clone()).or_default();
            into.won_minor += sums.won_minor;
            into.won_count += sums.won_count;
            into.weighted_minor += sums.weighted_minor;
            into.open_minor += sums.open_minor;
            into.open_count += sums.open_count;
            for (category, (deals, amount, weighted)) in &sums.categories {
                let c = into.categories.entry(category.clone()).or_default();
                c.0 += deals;
                c.1 += amount;
                c.2 += weighted;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_compares_won_and_forecast_with_the_quota() {
        let sums = Sums {
            won_minor: 30_000,
            won_count: 2,
            weighted_minor: 45_000,
            open_minor: 60_000,
            open_count: 1,
            categories: [("commit".to_string(), (1, 60_000, 45_000))].into(),
        };
        let with = line("EUR", &sums, Some(100_000));
        let categories: Vec<(&str, i64, i64)> = with
            .categories
            .iter()
            .map(|c| (c.category.as_str(), c.deals, c.weighted_minor))
            .collect();
        assert_eq!(
            categories,
            vec![("commit", 1, 45_000), ("closed", 2, 30_000)]
        );
        assert_eq!(
            (
                with.forecast_minor,
                with.attainment_bp,
                with.forecast_bp,
                with.gap_minor
            ),
            (75_000, 3_000, 7_500, 25_000)
        );
        let without = line("USD", &sums, None);
        assert_eq!(
            (without.has_quota, without.attainment_bp, without.gap_minor),
            (false, 0, 0)
        );
    }

    #[test]
    fn a_quota_in_another_currency_gets_its_own_line() {
        let mut sums = BTreeMap::new();
        sums.insert(
            "USD".to_string(),
            Sums {
                won_minor: 5,
                ..Default::default()
            },
        );
        let quota = quotas::QuotaRow {
            scope: "team".into(),
            subject_id: "north".into(),
            period_kind: "month".into(),
            period_start: "2026-11-01".into(),
            period_end: "2026-11-30".into(),
            currency: "EUR".into(),
            amount_minor: 100,
            team_id: "north".into(),
            set_by: "maya".into(),
            set_at_ms: 1,
        };
        let adjustment = quotas::Adjustment {
            currency: "USD".into(),
            amount_minor: 9,
            note: "big deal coming".into(),
            set_by: "maya".into(),
        };
        let lines = lines(&sums, Some(&quota), Some(&adjustment));
        assert!(!lines[0].has_adjustment);
        assert_eq!(
            (
                lines[1].has_adjustment,
                lines[1].adjusted_forecast_minor,
                lines[1].forecast_minor
            ),
            (true, 9, 5)
        );
        let shown: Vec<(&str, bool, i64, i64)> = lines
            .iter()
            .map(|l| (l.currency.as_str(), l.has_quota, l.won_minor, l.gap_minor))
            .collect();
        // Never added together: EUR has the quota and nothing won, USD the win.
        assert_eq!(shown, vec![("EUR", true, 0, 100), ("USD", false, 5, 0)]);
    }
}

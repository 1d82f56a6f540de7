//! The forecast's changes per deal and day, so that how a period's
//! forecast moved since a past day is a sum over the changes after that
//! day instead of each changed deal's versions then and now
//! (`reporting_forecast_changes`, read by `Reader::forecast_moves`).
//!
//! A deal version adds to the forecast of one month: its amount to the
//! month it was won in (the day of its moment in the business time zone),
//! its weighted value to the month of its expected close date when open,
//! nothing when lost or with no close date. Version v changes, on its day,
//! what the deal adds by what v adds minus what the version before it
//! added, each under its own team, rep, currency and month. Summed over a
//! team's (or rep's) changes after a day, per deal, that is what the deal
//! adds now minus what it added then, within the team (a deal that moved
//! to another team counts as leaving this one); summed per currency, how
//! the forecast moved. Arrival order and repeats do not matter
//! (`open_days::insertion_of`, the same arithmetic as the open pipeline's
//! day sums; property test below).
//!
//! Pure: the store side is `models/forecast_changes.rs`.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::open_days::{self, Version};
use crate::period;

/// Where a change counts: the deal's team and the month it adds to, the
/// day of the change, the deal, its rep and its currency.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeKey {
    pub team_id: String,
    pub month: String,
    pub day: String,
    pub opportunity_id: String,
    pub rep_id: String,
    pub currency: String,
}

/// Per key: won and weighted open value added (negative: taken away).
pub type Changes = BTreeMap<ChangeKey, [i64; 2]>;

/// What `version` of `opportunity_id` adds to the forecast, under its key
/// on `day`.
fn adds(
    opportunity_id: &str,
    zone: &TimeZone,
) -> impl Fn(&Version, &str) -> Option<(ChangeKey, [i64; 2])> {
    move |version, day| {
        let (month, values) = match version.status.as_str() {
            "won" => {
                let won_day = period::day_of(version.at_ms, zone).to_string();
                (won_day.get(..7)?.to_string(), [version.amount_minor, 0])
            }
            "open" => (
                version.close_date.get(..7)?.to_string(),
                [0, version.weighted_minor],
            ),
            _ => return None,
        };
        Some((
            ChangeKey {
                team_id: version.team_id.clone(),
                month,
                day: day.to_string(),
                opportunity_id: opportunity_id.to_string(),
                rep_id: version.rep_id.clone(),
                currency: version.currency.clone(),
            },
            values,
        ))
    }
}

/// What inserting `new` between the deal's versions `before` and `after`
/// (if any) changes.
pub fn insertion(
    opportunity_id: &str,
    (before, new, after): (Option<&Version>, &Version, Option<&Version>),
    zone: &TimeZone,
) -> Changes {
    open_days::insertion_of(adds(opportunity_id, zone), (before, new, after), zone)
}

/// The changes of one deal's whole history, `versions` in version order,
/// added to `into`.
pub fn of_history(opportunity_id: &str, versions: &[Version], zone: &TimeZone, into: &mut Changes) {
    open_days::history_of(adds(opportunity_id, zone), versions, zone, into);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY_MS: i64 = 86_400_000;
    /// 2026-01-01T00:00:00Z.
    const JAN_1: i64 = 1_767_225_600_000;

    fn version(version: i64, day: i64, status: &str, (rep, close): (&str, &str)) -> Version {
        Version {
            version,
            at_ms: JAN_1 + day * DAY_MS,
            team_id: "t1".into(),
            rep_id: rep.into(),
            stage: status.into(),
            status: status.into(),
            currency: "CNY".into(),
            amount_minor: 900 + version,
            weighted_minor: 300 + version,
            close_date: close.into(),
        }
    }

    /// What the deal adds to `month` as it stood at the end of `day`
    /// (the forecast report's rule), within rep `rep`.
    fn adds_then(versions: &[Version], day: i64, month: &str, rep: &str) -> i64 {
        let at = JAN_1 + (day + 1) * DAY_MS - 1;
        let Some(v) = versions.iter().rev().find(|v| v.at_ms <= at) else {
            return 0;
        };
        if v.rep_id != rep {
            return 0;
        }
        let won_month = period::day_of(v.at_ms, &TimeZone::UTC).to_string()[..7].to_string();
        match v.status.as_str() {
            "won" if won_month == month => v.amount_minor,
            "open" if v.close_date.starts_with(month) => v.weighted_minor,
            _ => 0,
        }
    }

    /// The deal's changes to `month` within `rep` on days after `since`.
    fn moved_since(changes: &Changes, since: i64, month: &str, rep: &str) -> i64 {
        let since = period::day_of(JAN_1 + since * DAY_MS, &TimeZone::UTC).to_string();
        changes
            .iter()
            .filter(|(k, _)| k.day > since && k.month == month && k.rep_id == rep)
            .map(|(_, [won, open])| won + open)
            .sum()
    }

    #[test]
    fn a_deal_moved_out_of_a_month_then_won_in_it() {
        let versions = [
            version(1, 0, "open", ("ana", "2026-02-10")),
            version(2, 5, "open", ("ana", "2026-03-01")),
            version(3, 40, "won", ("ana", "2026-03-01")),
        ];
        let mut changes = Changes::new();
        of_history("d1", &versions, &TimeZone::UTC, &mut changes);
        let changes = open_days::without_zeros_of(changes);
        let key = |month: &str, day: &str| ChangeKey {
            team_id: "t1".into(),
            month: month.into(),
            day: day.into(),
            opportunity_id: "d1".into(),
            rep_id: "ana".into(),
            currency: "CNY".into(),
        };
        let expected: Changes = [
            (key("2026-02", "2026-01-01"), [0, 301]),
            (key("2026-02", "2026-01-06"), [0, -301]),
            (key("2026-03", "2026-01-06"), [0, 302]),
            (key("2026-03", "2026-02-10"), [0, -302]),
            (key("2026-02", "2026-02-10"), [903, 0]),
        ]
        .into_iter()
        .collect();
        assert_eq!(changes, expected);
    }

    proptest! {
        /// Whatever the order of arrival, with repeats, the changes after
        /// any day sum, for any month and rep, to what the deal adds at the
        /// end minus what it added at the end of that day.
        #[test]
        fn changes_after_a_day_are_the_move_since_then(
            steps in prop::collection::vec((0i64..40, 0usize..3, 0usize..2, 0usize..3), 1..10),
            shuffle in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
            since in 0i64..200,
        ) {
            let statuses = ["open", "won", "lost"];
            let reps = ["ana", "bo"];
            let closes = ["2026-01-20", "2026-02-15", ""];
            let mut day = 0;
            let versions: Vec<Version> = steps
                .iter()
                .enumerate()
                .map(|(i, (gap, status, rep, close))| {
                    day += gap;
                    version(i as i64 + 1, day, statuses[*status], (reps[*rep], closes[*close]))
                })
                .collect();
            let order = open_days::arrivals::order(versions.len(), &shuffle);
            let sums = open_days::arrivals::incrementally(&versions, &order, |before, new, after| {
                insertion("d1", (before, new, after), &TimeZone::UTC)
            });
            let mut folded = Changes::new();
            of_history("d1", &versions, &TimeZone::UTC, &mut folded);
            prop_assert_eq!(&sums, &open_days::without_zeros_of(folded));
            for month in ["2026-01", "2026-02"] {
                for rep in reps {
                    let now = adds_then(&versions, 10_000, month, rep);
                    let then = adds_then(&versions, since, month, rep);
                    prop_assert_eq!(moved_since(&sums, since, month, rep), now - then);
                }
            }
        }
    }
}

//! The open pipeline as it stood at the end of any past day, kept as
//! changes per business day (and per month): the pipeline "as of" a day is
//! the sum of every change up to that day, so the report reads a month's
//! worth of day rows and one row per earlier month instead of one row per
//! deal version (`reporting_open_daily`, `reporting_open_monthly`).
//!
//! A deal's versions v1 < v2 < … each hold the deal as it stood from their
//! moment on. Version v changes the open pipeline on its day by what it
//! adds (when open: one deal, its amount and weighted value under its team,
//! rep, stage and currency) minus what the version before it added. Versions
//! may arrive in any order and more than once: inserting v between p and n
//! moves n's change from "n − p" to "n − v" ([`insertion`]), so the sums
//! equal those of the whole history folded in order ([`of_history`]),
//! whatever the order (property test below). This assumes a later version
//! never has an earlier moment than the one before it (the opportunity
//! service stamps versions in order).
//!
//! The same arithmetic keeps the forecast's changes per deal
//! (`crate::forecast_changes`): [`insertion_of`] and [`history_of`] take
//! what a version adds as a function.
//!
//! Pure: the store side is `models/open_days.rs`.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::period;

/// One version of a deal, as the open pipeline sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub version: i64,
    pub at_ms: i64,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub status: String,
    pub currency: String,
    pub amount_minor: i64,
    pub weighted_minor: i64,
    /// The expected close date, `YYYY-MM-DD` ("" when none).
    pub close_date: String,
}

/// Where a change counts: its day (`YYYY-MM-DD`, or `YYYY-MM` for a month),
/// team, rep, stage and currency.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayKey {
    pub day: String,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub currency: String,
}

/// Per key: open deals, amount and weighted value added (negative: taken
/// away).
pub type Changes = BTreeMap<DayKey, [i64; 3]>;

/// What `version` adds to the open pipeline, under its key on `day`.
fn adds(version: &Version, day: &str) -> Option<(DayKey, [i64; 3])> {
    (version.status == "open").then(|| {
        (
            DayKey {
                day: day.to_string(),
                team_id: version.team_id.clone(),
                rep_id: version.rep_id.clone(),
                stage: version.stage.clone(),
                currency: version.currency.clone(),
            },
            [1, version.amount_minor, version.weighted_minor],
        )
    })
}

/// Adds `sign` × what `version` adds (by `adds`), counted on the day of
/// `at_ms`.
fn add_to<K: Ord, const N: usize>(
    changes: &mut BTreeMap<K, [i64; N]>,
    adds: &impl Fn(&Version, &str) -> Option<(K, [i64; N])>,
    (version, at_ms, sign): (Option<&Version>, i64, i64),
    zone: &TimeZone,
) {
    let Some(version) = version else {
        return;
    };
    let day = period::day_of(at_ms, zone).to_string();
    if let Some((key, values)) = adds(version, &day) {
        let sums = changes.entry(key).or_insert([0; N]);
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += sign * value;
        }
    }
}

/// What inserting `new` changes, when `before` and `after` are the deal's
/// versions just below and just above it (if any): on `new`'s day, `new`
/// replaces `before`; on `after`'s day, `after` now replaces `new` instead
/// of `before`. What a version adds is `adds`' answer.
pub fn insertion_of<K: Ord, const N: usize>(
    adds: impl Fn(&Version, &str) -> Option<(K, [i64; N])>,
    (before, new, after): (Option<&Version>, &Version, Option<&Version>),
    zone: &TimeZone,
) -> BTreeMap<K, [i64; N]> {
    let mut changes = BTreeMap::new();
    add_to(&mut changes, &adds, (Some(new), new.at_ms, 1), zone);
    add_to(&mut changes, &adds, (before, new.at_ms, -1), zone);
    if let Some(after) = after {
        add_to(&mut changes, &adds, (before, after.at_ms, 1), zone);
        add_to(&mut changes, &adds, (Some(new), after.at_ms, -1), zone);
    }
    without_zeros_of(changes)
}

/// The changes of one deal's whole history, `versions` in version order,
/// added to `into`, what a version adds being `adds`' answer.
pub fn history_of<K: Ord, const N: usize>(
    adds: impl Fn(&Version, &str) -> Option<(K, [i64; N])>,
    versions: &[Version],
    zone: &TimeZone,
    into: &mut BTreeMap<K, [i64; N]>,
) {
    let mut before: Option<&Version> = None;
    for version in versions {
        add_to(into, &adds, (Some(version), version.at_ms, 1), zone);
        add_to(into, &adds, (before, version.at_ms, -1), zone);
        before = Some(version);
    }
}

/// `changes` without the keys whose changes cancelled out.
pub fn without_zeros_of<K: Ord, const N: usize>(
    mut changes: BTreeMap<K, [i64; N]>,
) -> BTreeMap<K, [i64; N]> {
    changes.retain(|_, values| values.iter().any(|v| *v != 0));
    changes
}

/// What inserting `new` between `before` and `after` changes in the open
/// pipeline ([`insertion_of`]).
pub fn insertion(
    before: Option<&Version>,
    new: &Version,
    after: Option<&Version>,
    zone: &TimeZone,
) -> Changes {
    insertion_of(adds, (before, new, after), zone)
}

/// The open pipeline's changes of one deal's whole history, `versions` in
/// version order, added to `into`.
pub fn of_history(versions: &[Version], zone: &TimeZone, into: &mut Changes) {
    history_of(adds, versions, zone, into);
}

/// The same changes summed per month (`YYYY-MM`).
pub fn per_month(changes: &Changes) -> Changes {
    let mut months = Changes::new();
    for (key, values) in changes {
        let month = DayKey {
            day: key.day.get(..7).unwrap_or(&key.day).to_string(),
            ..key.clone()
        };
        let sums = months.entry(month).or_insert([0; 3]);
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += value;
        }
    }
    without_zeros(months)
}

/// `changes` without the keys whose changes cancelled out.
pub fn without_zeros(changes: Changes) -> Changes {
    without_zeros_of(changes)
}

/// What the property tests of the day sums and the forecast's changes
/// share: versions arriving in any order, with repeats.
#[cfg(test)]
pub(crate) mod arrivals {
    use std::collections::BTreeMap;

    use super::Version;

    /// The order versions `0..len` arrive in: every one once, shuffled by
    /// `shuffle`, and every third pick sent again.
    pub fn order(len: usize, shuffle: &[proptest::sample::Index]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        for (i, pick) in shuffle.iter().enumerate() {
            let j = pick.index(len);
            if i % 3 == 0 {
                order.push(j);
            } else {
                order.swap(i % len, j);
            }
        }
        order
    }

    /// Inserts `versions` in `order` the way the consumer does: each new
    /// version between the ones stored below and above it (`insertion`'s
    /// changes summed), repeats skipped.
    pub fn incrementally<K: Ord, const N: usize>(
        versions: &[Version],
        order: &[usize],
        insertion: impl Fn(Option<&Version>, &Version, Option<&Version>) -> BTreeMap<K, [i64; N]>,
    ) -> BTreeMap<K, [i64; N]> {
        let mut stored: BTreeMap<i64, &Version> = BTreeMap::new();
        let mut sums = BTreeMap::new();
        for &i in order {
            let new = &versions[i];
            if stored.contains_key(&new.version) {
                continue;
            }
            let before = stored.range(..new.version).next_back().map(|(_, v)| *v);
            let after = stored.range(new.version + 1..).next().map(|(_, v)| *v);
            for (key, values) in insertion(before, new, after) {
                let into: &mut [i64; N] = sums.entry(key).or_insert([0; N]);
                for (sum, value) in into.iter_mut().zip(values) {
                    *sum += value;
                }
            }
            stored.insert(new.version, new);
        }
        super::without_zeros_of(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY_MS: i64 = 86_400_000;

    fn version(version: i64, day: i64, stage: &str, status: &str, amount: i64) -> Version {
        Version {
            version,
            at_ms: 1_767_225_600_000 + day * DAY_MS,
            team_id: "t1".into(),
            rep_id: format!("r{}", version % 2),
            stage: stage.into(),
            status: status.into(),
            currency: "CNY".into(),
            amount_minor: amount,
            weighted_minor: amount / 3,
            close_date: "2026-03-01".into(),
        }
    }

    #[test]
    fn a_deal_moving_on_counts_on_the_day_it_moved() {
        let versions = [
            version(1, 0, "discovery", "open", 300),
            version(2, 3, "commercial", "open", 600),
            version(3, 9, "won", "won", 600),
        ];
        let mut changes = Changes::new();
        of_history(&versions, &TimeZone::UTC, &mut changes);
        let changes = without_zeros(changes);
        let key = |day: &str, rep: &str, stage: &str| DayKey {
            day: day.into(),
            team_id: "t1".into(),
            rep_id: rep.into(),
            stage: stage.into(),
            currency: "CNY".into(),
        };
        let expected: Changes = [
            (key("2026-01-01", "r1", "discovery"), [1, 300, 100]),
            (key("2026-01-04", "r1", "discovery"), [-1, -300, -100]),
            (key("2026-01-04", "r0", "commercial"), [1, 600, 200]),
            (key("2026-01-10", "r0", "commercial"), [-1, -600, -200]),
        ]
        .into_iter()
        .collect();
        assert_eq!(changes, expected);
        assert_eq!(
            per_month(&changes),
            Changes::new(),
            "a deal opened and won within one month changes nothing from month to month"
        );
    }

    proptest! {
        /// Any order of arrival, with repeats, gives the changes of the
        /// history folded in order.
        #[test]
        fn order_and_repeats_do_not_change_the_sums(
            steps in prop::collection::vec((0i64..40, 0usize..4, 0usize..3, 1i64..1000), 1..12),
            shuffle in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let stages = ["discovery", "demo", "commercial", "won"];
            let statuses = ["open", "won", "lost"];
            let mut day = 0;
            let versions: Vec<Version> = steps
                .iter()
                .enumerate()
                .map(|(i, (gap, stage, status, amount))| {
                    day += gap;
                    version(i as i64 + 1, day, stages[*stage], statuses[*status], *amount)
                })
                .collect();
            let mut expected = Changes::new();
            of_history(&versions, &TimeZone::UTC, &mut expected);
            let expected = without_zeros(expected);
            let order = arrivals::order(versions.len(), &shuffle);
            let sums = arrivals::incrementally(&versions, &order, |before, new, after| {
                insertion(before, new, after, &TimeZone::UTC)
            });
            prop_assert_eq!(sums, expected);
        }
    }
}

//! Durations kept as histograms, so a percentile over any period reads a
//! number of rows that grows with reps × days (or months), not with the
//! facts in the period.
//!
//! Every duration falls in a bucket: below 16 ms one bucket per
//! millisecond, above it sixteen buckets per power of two, so a bucket's
//! values lie within 1/16 (6.25 %) of each other. A histogram keeps, per
//! non-empty bucket, how many facts fell in it and the smallest and largest
//! of them. A percentile (nearest rank) finds the bucket holding the fact
//! at its rank and answers with that bucket's smallest value when the rank
//! is the bucket's first fact, its largest when it is the last, and a
//! linear step between them otherwise: exact when the bucket holds one
//! value, or two facts, and never further from the true value than the
//! bucket's smallest-to-largest span (under 6.25 % of it) otherwise.
//!
//! Pure: the store side is `models/duration_histograms.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use leadwheel_proto::reporting::v1::Percentiles;

/// Sub-buckets per power of two (as a power of two: 2^4 = 16).
const SUB_BITS: u32 = 4;
const SUBS: i64 = 1 << SUB_BITS;

/// The bucket of a duration of `ms` milliseconds (negative counts as 0).
pub fn bucket_of(ms: i64) -> i64 {
    let ms = ms.max(0);
    if ms < SUBS {
        return ms;
    }
    let exponent = 63 - ms.leading_zeros(); // ≥ SUB_BITS
    let shift = exponent - SUB_BITS;
    let sub = (ms >> shift) - SUBS; // 0..SUBS
    SUBS + i64::from(shift) * SUBS + sub
}

/// One bucket's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub facts: i64,
    pub min_ms: i64,
    pub max_ms: i64,
}

/// A bucket whose range must be read from the facts after a removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub bucket: i64,
    /// The range before the removal: the facts left lie within it.
    pub min_ms: i64,
    pub max_ms: i64,
}

/// A histogram of durations: per bucket, its facts and their range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    cells: BTreeMap<i64, Cell>,
}

/// A stored histogram that could not be read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt(pub String);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unreadable duration histogram {:?}", self.0)
    }
}

impl std::error::Error for Corrupt {}

impl Histogram {
    /// Counts one fact of `ms`.
    pub fn add(&mut self, ms: i64) {
        let ms = ms.max(0);
        self.merge_cell(Cell {
            facts: 1,
            min_ms: ms,
            max_ms: ms,
        });
    }

    fn merge_cell(&mut self, cell: Cell) {
        self.cells
            .entry(bucket_of(cell.min_ms))
            .and_modify(|c| {
                c.facts += cell.facts;
                c.min_ms = c.min_ms.min(cell.min_ms);
                c.max_ms = c.max_ms.max(cell.max_ms);
            })
            .or_insert(cell);
    }

    /// Adds every fact of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for cell in other.cells.values() {
            self.merge_cell(*cell);
        }
    }

    /// Takes away one fact of `ms`. When others stay in its bucket and `ms`
    /// was the bucket's smallest or largest, their range is no longer known
    /// here: the answer is the bucket and its range before (the facts left
    /// lie within it), and the caller sets the range with
    /// [`Histogram::set_range`] from the facts themselves.
    pub fn remove(&mut self, ms: i64) -> Option<Unknown> {
        let ms = ms.max(0);
        let bucket = bucket_of(ms);
        let cell = self.cells.get_mut(&bucket)?;
        cell.facts -= 1;
        if cell.facts <= 0 {
            self.cells.remove(&bucket);
            return None;
        }
        if cell.min_ms == cell.max_ms || (ms != cell.min_ms && ms != cell.max_ms) {
            return None;
        }
        Some(Unknown {
            bucket,
            min_ms: cell.min_ms,
            max_ms: cell.max_ms,
        })
    }

    /// Sets the range of the facts in `bucket` (after [`Histogram::remove`]).
    pub fn set_range(&mut self, bucket: i64, min_ms: i64, max_ms: i64) {
        if let Some(cell) = self.cells.get_mut(&bucket) {
            cell.min_ms = min_ms;
            cell.max_ms = max_ms;
        }
    }

    /// Facts counted.
    pub fn facts(&self) -> i64 {
        self.cells.values().map(|c| c.facts).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The median, p90 and p99 (nearest rank: the smallest value with at
    /// least p % of the facts at or below it), found as the module says.
    pub fn percentiles(&self) -> Percentiles {
        let count = self.facts();
        if count == 0 {
            return Percentiles::default();
        }
        let at_rank = |p: i64| {
            let rank = ((p * count + 99) / 100).max(1);
            let mut below = 0;
            for cell in self.cells.values() {
                if below + cell.facts >= rank {
                    let k = rank - below; // 1..=facts
                    if k == 1 || cell.facts == 1 {
                        return cell.min_ms;
                    }
                    if k == cell.facts {
                        return cell.max_ms;
                    }
                    let span = i128::from(cell.max_ms - cell.min_ms);
                    let step = span * i128::from(k - 1) / i128::from(cell.facts - 1);
                    return cell.min_ms + step as i64;
                }
                below += cell.facts;
            }
            self.cells.values().last().map_or(0, |c| c.max_ms)
        };
        Percentiles {
            count,
            median_ms: at_rank(50),
            p90_ms: at_rank(90),
            p99_ms: at_rank(99),
        }
    }

    /// The stored text: `facts:min:max` per bucket (`facts:min` when one
    /// value), in bucket order, separated by spaces.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for cell in self.cells.values() {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = if cell.min_ms == cell.max_ms {
                write!(out, "{}:{}", cell.facts, cell.min_ms)
            } else {
                write!(out, "{}:{}:{}", cell.facts, cell.min_ms, cell.max_ms)
            };
        }
        out
    }

    /// Reads back what [`Histogram::encode`] wrote.
    pub fn decode(text: &str) -> Result<Self, Corrupt> {
        let mut histogram = Histogram::default();
        for part in text.split_ascii_whitespace() {
            let corrupt = || Corrupt(text.chars().take(80).collect());
            let mut numbers = part.split(':').map(|n| n.parse::<i64>());
            let facts = numbers.next().and_then(Result::ok).ok_or_else(corrupt)?;
            let min_ms = numbers.next().and_then(Result::ok).ok_or_else(corrupt)?;
            let max_ms = match numbers.next() {
                Some(n) => n.map_err(|_| corrupt())?,
                None => min_ms,
            };
            if numbers.next().is_some()
                || facts <= 0
                || min_ms < 0
                || max_ms < min_ms
                || bucket_of(min_ms) != bucket_of(max_ms)
            {
                return Err(corrupt());
            }
            histogram.merge_cell(Cell {
                facts,
                min_ms,
                max_ms,
            });
        }
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Nearest-rank percentiles of the values themselves.
    fn exact(mut values: Vec<i64>) -> [i64; 3] {
        values.sort_unstable();
        let n = values.len();
        [50, 90, 99].map(|p: usize| values[(p * n).div_ceil(100).max(1) - 1])
    }

    fn of(values: &[i64]) -> Histogram {
        let mut h = Histogram::default();
        for v in values {
            h.add(*v);
        }
        h
    }

    #[test]
    fn buckets_are_exact_below_sixteen_then_sixteen_per_power_of_two() {
        assert_eq!(
            (0..16).map(bucket_of).collect::<Vec<_>>(),
            (0..16).collect::<Vec<_>>()
        );
        assert_eq!(bucket_of(16), 16);
        assert_eq!(bucket_of(31), 31);
        assert_eq!(bucket_of(32), 32);
        assert_eq!(bucket_of(33), 32);
        assert_eq!(bucket_of(34), 33);
        assert_eq!(bucket_of(-5), 0);
        // A bucket's values lie within 1/16 of its smallest.
        for ms in [1_000, 30_000, 86_400_000, 31_536_000_000] {
            let lowest = (0..=ms)
                .rev()
                .take_while(|v| bucket_of(*v) == bucket_of(ms))
                .last();
            let lowest = lowest.unwrap_or(ms);
            assert!((ms - lowest) * 16 <= lowest, "{ms} {lowest}");
        }
    }

    #[test]
    fn small_samples_come_out_exact() {
        let p = of(&(1..=10).map(|v| v * 1_000).collect::<Vec<_>>()).percentiles();
        assert_eq!(
            (p.count, p.median_ms, p.p90_ms, p.p99_ms),
            (10, 5_000, 9_000, 10_000)
        );
        let one = of(&[7]).percentiles();
        assert_eq!((one.median_ms, one.p90_ms, one.p99_ms), (7, 7, 7));
        assert_eq!(Histogram::default().percentiles(), Percentiles::default());
        // Two facts in one bucket: its ends.
        let two = of(&[30_000, 30_500]).percentiles();
        assert_eq!((two.median_ms, two.p99_ms), (30_000, 30_500));
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let h = of(&[5, 5, 30_000, 30_500, 86_400_000]);
        assert_eq!(h.encode(), "2:5 2:30000:30500 1:86400000");
        assert_eq!(Histogram::decode(&h.encode()).unwrap(), h);
        assert_eq!(Histogram::decode("").unwrap(), Histogram::default());
        for bad in ["x", "1", "0:5", "1:5:4", "1:5:900", "1:2:3:4", "-1:5"] {
            assert!(Histogram::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn removing_an_end_asks_for_the_range() {
        let mut h = of(&[30_000, 30_200, 30_500]);
        assert_eq!(h.remove(30_200), None);
        let unknown = Unknown {
            bucket: bucket_of(30_000),
            min_ms: 30_000,
            max_ms: 30_500,
        };
        assert_eq!(h.remove(30_500), Some(unknown));
        h.set_range(bucket_of(30_000), 30_000, 30_000);
        assert_eq!(h, of(&[30_000]));
        assert_eq!(h.remove(30_000), None);
        assert!(h.is_empty());
        assert_eq!(h.remove(1), None);
    }

    proptest! {
        /// Merged or whole, a histogram's percentiles lie in the true
        /// value's bucket span, and are exact with distinct buckets.
        #[test]
        fn percentiles_stay_within_the_true_value_s_bucket(
            values in prop::collection::vec(0i64..100_000_000, 1..300),
            split in 0usize..300,
        ) {
            let whole = of(&values);
            let split = split.min(values.len());
            let mut merged = of(&values[..split]);
            merged.merge(&of(&values[split..]));
            prop_assert_eq!(&merged, &whole);
            let p = whole.percentiles();
            let truth = exact(values.clone());
            for (got, want) in [p.median_ms, p.p90_ms, p.p99_ms].into_iter().zip(truth) {
                let same_bucket: Vec<i64> =
                    values.iter().copied().filter(|v| bucket_of(*v) == bucket_of(want)).collect();
                let (lo, hi) = (same_bucket.iter().min().unwrap(), same_bucket.iter().max().unwrap());
                prop_assert!(*lo <= got && got <= *hi, "{} not in [{}, {}]", got, lo, hi);
                if same_bucket.len() <= 2 || lo == hi {
                    prop_assert_eq!(got, want);
                }
            }
        }

        /// Taking facts away (and setting ranges when asked, from the
        /// facts left) leaves the histogram of the facts left.
        #[test]
        fn removal_leaves_the_histogram_of_what_is_left(
            values in prop::collection::vec(0i64..10_000, 1..100),
            take in prop::collection::vec(any::<prop::sample::Index>(), 0..50),
        ) {
            let mut left = values.clone();
            let mut h = of(&values);
            for index in take {
                if left.is_empty() {
                    break;
                }
                let gone = left.remove(index.index(left.len()));
                if let Some(unknown) = h.remove(gone) {
                    let bucket = unknown.bucket;
                    let in_bucket = left.iter().copied().filter(|v| bucket_of(*v) == bucket);
                    let (lo, hi) = in_bucket.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                    h.set_range(bucket, lo, hi);
                }
                prop_assert_eq!(&h, &of(&left));
            }
        }
    }
}

//! Latency samples and their percentiles.

use std::time::Duration;

use serde_json::{Value, json};

/// A set of latency samples, in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    micros: Vec<u64>,
    sorted: bool,
}

impl Samples {
    /// An empty set with room for `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            micros: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Adds one sample.
    pub fn push(&mut self, latency: Duration) {
        self.push_micros(latency.as_micros().min(u64::MAX as u128) as u64);
    }

    /// Adds one sample given in microseconds.
    pub fn push_micros(&mut self, micros: u64) {
        self.micros.push(micros);
        self.sorted = false;
    }

    /// Adds one sample given in (possibly negative) milliseconds; negative
    /// values (clock granularity) count as zero.
    pub fn push_millis(&mut self, millis: i64) {
        self.push_micros(millis.max(0) as u64 * 1000);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.sorted = false;
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
    }

    /// The `q` quantile (0.0..=1.0) in milliseconds, nearest rank; 0 when empty.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.len() == 0 {
            return 0.0;
        }
        self.sort();
        let n = self.micros.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.micros[rank - 1] as f64 / 1000.0
    }

    /// The largest sample in milliseconds.
    pub fn max_ms(&mut self) -> f64 {
        self.quantile_ms(1.0)
    }

    /// p50/p90/p99/max as a summary.
    pub fn summary(&mut self) -> Summary {
        Summary {
            count: self.len(),
            p50: self.quantile_ms(0.50),
            p90: self.quantile_ms(0.90),
            p99: self.quantile_ms(0.99),
            max: self.max_ms(),
        }
    }
}

/// Percentiles of a sample set, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// As JSON.
    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "p50_ms": round(self.p50),
            "p90_ms": round(self.p90),
            "p99_ms": round(self.p99),
            "max_ms": round(self.max),
        })
    }

    /// `p50 / p90 / p99 / max` for a table cell.
    pub fn cell(&self) -> String {
        format!(
            "{} / {} / {} / {} ms",
            fmt_ms(self.p50),
            fmt_ms(self.p90),
            fmt_ms(self.p99),
            fmt_ms(self.max)
        )
    }
}

/// Three significant-ish digits for milliseconds.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// Rounds to 3 decimals for JSON.
pub fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples = Samples::with_capacity(100);
        for ms in 1..=100 {
            samples.push(Duration::from_millis(ms));
        }
        let summary = samples.summary();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, 50.0);
        assert_eq!(summary.p90, 90.0);
        assert_eq!(summary.p99, 99.0);
        assert_eq!(summary.max, 100.0);
    }

    #[test]
    fn empty_and_negative() {
        let mut samples = Samples::default();
        assert_eq!(samples.summary().p99, 0.0);
        samples.push_millis(-3);
        samples.push_millis(7);
        assert_eq!(samples.quantile_ms(0.0), 0.0);
        assert_eq!(samples.max_ms(), 7.0);
    }
}

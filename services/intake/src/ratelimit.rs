//! Token buckets per key (a source address, an integration).
//!
//! Each key's bucket holds up to `burst` tokens and refills at `per_second`;
//! a request takes one or is answered 429 with the seconds until one will be
//! there. Buckets live in memory per instance (a limit of N/s on each of K
//! replicas admits up to K·N/s): good enough to stop a runaway form or a
//! looping integration, which is what they are for.
//!
//! The map is bounded: when it reaches [`MAX_KEYS`], buckets that have
//! refilled completely (so are indistinguishable from new ones) are dropped;
//! if none has, the least recently seen half go.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Most keys tracked at once per limiter.
pub const MAX_KEYS: usize = 100_000;

/// A limit: `per_second` refill, `burst` capacity. A rate of 0 disables it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Limit {
    /// No limit.
    pub const OFF: Limit = Limit {
        per_second: 0.0,
        burst: 0.0,
    };

    /// True when this limit admits everything.
    pub fn is_off(&self) -> bool {
        self.per_second <= 0.0
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets under one [`Limit`].
#[derive(Debug)]
pub struct Limiter {
    limit: Limit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key` at `now`: Ok, or Err(seconds to wait, ≥ 1).
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.limit.is_off() {
            return Ok(());
        }
        let Limit { per_second, burst } = self.limit;
        let burst = burst.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            prune(&mut buckets, per_second, burst, now);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

fn prune(buckets: &mut HashMap<String, Bucket>, per_second: f64, burst: f64, now: Instant) {
    buckets.retain(|_, b| {
        b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst
    });
    if buckets.len() >= MAX_KEYS {
        let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
        ages.sort_unstable();
        let cutoff = ages[ages.len() / 2];
        buckets.retain(|_, b| b.at > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = Limiter::new(Limit {
            per_second: 2.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", t0).is_ok());
        }
        assert_eq!(limiter.take("a", t0), Err(1));
        assert!(limiter.take("b", t0).is_ok(), "keys are independent");
        // Half a second refills one token at 2/s.
        assert!(limiter.take("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let limiter = Limiter::new(Limit {
            per_second: 0.1,
            burst: 1.0,
        });
        let t0 = Instant::now();
        assert!(limiter.take("a", t0).is_ok());
        assert_eq!(limiter.take("a", t0), Err(10));
    }

    #[test]
    fn off_admits_everything() {
        let limiter = Limiter::new(Limit::OFF);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.take("a", t0).is_ok()));
    }

    #[test]
    fn the_map_stays_bounded() {
        let limiter = Limiter::new(Limit {
            per_second: 1.0,
            burst: 2.0,
        });
        let t0 = Instant::now();
        for n in 0..(MAX_KEYS + 10) {
            let _ = limiter.take(&n.to_string(), t0);
        }
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_KEYS);
    }
}

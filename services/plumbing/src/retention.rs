//! How long the event trail is kept: each stream's max age (JetStream
//! drops older messages by itself), and how long sent outbox rows and
//! inbox rows stay in a service's store before [`crate::prune`] deletes
//! them. Together they bound how long an erased person's data can outlive
//! the erasure in copies of old events. Also how many copies of its stream
//! a publishing service asks a JetStream cluster to keep (its replicas).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::bus::{ALL_STREAMS, StreamSpec};

/// Sent outbox rows are kept this long by default (for inspection).
pub const DEFAULT_OUTBOX_KEEP_SENT: Duration = Duration::from_secs(10 * 60);
/// Inbox rows are kept this long by default.
pub const DEFAULT_INBOX_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the prune runs by default.
pub const DEFAULT_PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The shortest stream max age: below it JetStream's duplicate window (which
/// may not exceed the max age) would be too short to catch a relay's resend.
pub const MIN_STREAM_MAX_AGE: Duration = Duration::from_secs(1);
/// The shortest inbox keep: an inbox row must outlive every redelivery of
/// its event that is still possible (an unacked event comes back after the
/// consumers' 30 s ack wait, or after nak delays), or it would be applied
/// twice.
pub const MIN_INBOX_KEEP: Duration = Duration::from_secs(10 * 60);
/// The shortest prune interval.
pub const MIN_PRUNE_EVERY: Duration = Duration::from_secs(1);
/// Most stream replicas JetStream allows.
pub const MAX_STREAM_REPLICAS: usize = 5;

/// Retention of streams, sent outbox rows and inbox rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Max age per stream name; a stream not listed keeps messages without
    /// an age limit (read it with [`Retention::stream_max_age`]).
    pub stream_max_age: Vec<(&'static str, Duration)>,
    /// Replicas of the stream a service publishes to (1..=5): how many
    /// JetStream servers keep a copy. Its owner creates and updates the
    /// stream with it; on a single server it must be 1.
    pub stream_replicas: usize,
    /// Sent outbox rows older than this are deleted; None keeps them.
    pub outbox_keep_sent: Option<Duration>,
    /// Inbox rows older than this are deleted; None keeps them.
    pub inbox_keep: Option<Duration>,
    /// Time between two prunes.
    pub prune_every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            stream_max_age: Vec::new(),
            stream_replicas: 1,
            outbox_keep_sent: Some(DEFAULT_OUTBOX_KEEP_SENT),
            inbox_keep: Some(DEFAULT_INBOX_KEEP),
            prune_every: DEFAULT_PRUNE_EVERY,
        }
    }
}

/// The variable holding `stream`'s max age: `LEADWHEEL_STREAM_INTAKE_MAX_AGE_MS`
/// for `LEADWHEEL_INTAKE`.
pub fn stream_max_age_var(stream: &StreamSpec) -> String {
    let short = stream
        .name
        .strip_prefix("LEADWHEEL_")
        .unwrap_or(stream.name);
    format!("LEADWHEEL_STREAM_{short}_MAX_AGE_MS")
}

/// The variable holding the max age of every stream without its own.
pub const STREAM_MAX_AGE_VAR: &str = "LEADWHEEL_STREAM_MAX_AGE_MS";
/// The replicas of the streams the services own (1..=5, default 1).
pub const STREAM_REPLICAS_VAR: &str = "LEADWHEEL_STREAM_REPLICAS";
/// Sent outbox rows' keep, in ms (0: keep them).
pub const OUTBOX_KEEP_SENT_VAR: &str = "LEADWHEEL_OUTBOX_KEEP_SENT_MS";
/// Inbox rows' keep, in ms (0: keep them).
pub const INBOX_KEEP_VAR: &str = "LEADWHEEL_INBOX_KEEP_MS";
/// Time between prunes, in ms.
pub const PRUNE_EVERY_VAR: &str = "LEADWHEEL_PRUNE_EVERY_MS";

impl Retention {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let ms = |name: &str| -> Result<Option<u64>> {
            match lookup(name) {
                Some(value) if !value.trim().is_empty() => match value.trim().parse::<u64>() {
                    Ok(ms) => Ok(Some(ms)),
                    Err(err) => bail!("invalid {name}={value:?}: {err} (milliseconds)"),
                },
                _ => Ok(None),
            }
        };
        let default_age = ms(STREAM_MAX_AGE_VAR)?;
        let mut stream_max_age = Vec::new();
        for stream in ALL_STREAMS {
            let var = stream_max_age_var(stream);
            let (name, age) = match ms(&var)? {
                Some(age) => (var, age),
                None => (STREAM_MAX_AGE_VAR.to_string(), default_age.unwrap_or(0)),
            };
            if age == 0 {
                continue;
            }
            let age = Duration::from_millis(age);
            if age < MIN_STREAM_MAX_AGE {
                bail!(
                    "invalid {name}={}: a stream's max age is 0 (no limit) or at least {} ms",
                    age.as_millis(),
                    MIN_STREAM_MAX_AGE.as_millis()
                );
            }
            stream_max_age.push((stream.name, age));
        }
        let stream_replicas = match lookup(STREAM_REPLICAS_VAR) {
            Some(value) if !value.trim().is_empty() => match value.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_STREAM_REPLICAS).contains(&n) => n,
                _ => bail!(
                    "invalid {STREAM_REPLICAS_VAR}={value:?}: a whole number from 1 to {MAX_STREAM_REPLICAS} (3 for a 3-node JetStream cluster)"
                ),
            },
            _ => 1,
        };
        let keep = |name: &str, default: Duration, min: Duration| -> Result<Option<Duration>> {
            match ms(name)? {
                None => Ok(Some(default)),
                Some(0) => Ok(None),
                Some(ms) if Duration::from_millis(ms) < min => bail!(
                    "invalid {name}={ms}: 0 (keep) or at least {} ms",
                    min.as_millis()
                ),
                Some(ms) => Ok(Some(Duration::from_millis(ms))),
            }
        };
        let outbox_keep_sent = keep(
            OUTBOX_KEEP_SENT_VAR,
            DEFAULT_OUTBOX_KEEP_SENT,
            Duration::ZERO,
        )?;
        let inbox_keep = keep(INBOX_KEEP_VAR, DEFAULT_INBOX_KEEP, MIN_INBOX_KEEP)?;
        let prune_every = match ms(PRUNE_EVERY_VAR)? {
            None => DEFAULT_PRUNE_EVERY,
            Some(ms) if Duration::from_millis(ms) < MIN_PRUNE_EVERY => bail!(
                "invalid {PRUNE_EVERY_VAR}={ms}: at least {} ms",
                MIN_PRUNE_EVERY.as_millis()
            ),
            Some(ms) => Duration::from_millis(ms),
        };
        Ok(Self {
            stream_max_age,
            stream_replicas,
            outbox_keep_sent,
            inbox_keep,
            prune_every,
        })
    }

    /// `stream`'s max age; None: no age limit.
    pub fn stream_max_age(&self, stream: &StreamSpec) -> Option<Duration> {
        self.stream_max_age
            .iter()
            .find(|(name, _)| *name == stream.name)
            .map(|(_, age)| *age)
    }

    /// The same settings with `stream`'s max age set to `max_age`.
    pub fn with_stream_max_age(mut self, stream: &StreamSpec, max_age: Duration) -> Self {
        self.stream_max_age.retain(|(name, _)| *name != stream.name);
        self.stream_max_age.push((stream.name, max_age));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};

    fn from(vars: &[(&str, &str)]) -> Result<Retention> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Retention::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_keep_streams_without_limit_and_prune_the_tables() {
        let retention = from(&[]).unwrap();
        assert_eq!(retention, Retention::default());
        assert_eq!(retention.stream_max_age(&INTAKE_STREAM), None);
        assert_eq!(retention.outbox_keep_sent, Some(DEFAULT_OUTBOX_KEEP_SENT));
        assert_eq!(retention.inbox_keep, Some(DEFAULT_INBOX_KEEP));
        assert_eq!(retention.stream_replicas, 1);
    }

    #[test]
    fn stream_replicas_are_one_to_five() {
        for (value, replicas) in [("1", 1), ("3", 3), (" 5 ", 5), ("", 1)] {
            let retention = from(&[("LEADWHEEL_STREAM_REPLICAS", value)]).unwrap();
            assert_eq!(retention.stream_replicas, replicas, "{value:?}");
        }
        for value in ["0", "6", "-1", "three", "2.5"] {
            let err = from(&[("LEADWHEEL_STREAM_REPLICAS", value)])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("LEADWHEEL_STREAM_REPLICAS") && err.contains(value),
                "{value}: {err}"
            );
        }
    }

    #[test]
    fn a_stream_setting_wins_over_the_shared_one() {
        let retention = from(&[
            ("LEADWHEEL_STREAM_MAX_AGE_MS", "86400000"),
            ("LEADWHEEL_STREAM_INTAKE_MAX_AGE_MS", "3600000"),
            ("LEADWHEEL_STREAM_OPPS_MAX_AGE_MS", "0"),
        ])
        .unwrap();
        assert_eq!(
            retention.stream_max_age(&INTAKE_STREAM),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            retention.stream_max_age(&WHEEL_STREAM),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(retention.stream_max_age(&OPPS_STREAM), None);
    }

    #[test]
    fn zero_keeps_the_rows() {
        let retention = from(&[
            ("LEADWHEEL_OUTBOX_KEEP_SENT_MS", "0"),
            ("LEADWHEEL_INBOX_KEEP_MS", "0"),
        ])
        .unwrap();
        assert_eq!(retention.outbox_keep_sent, None);
        assert_eq!(retention.inbox_keep, None);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("LEADWHEEL_STREAM_INTAKE_MAX_AGE_MS", "500"),
            ("LEADWHEEL_STREAM_MAX_AGE_MS", "a day"),
            ("LEADWHEEL_INBOX_KEEP_MS", "1000"),
            ("LEADWHEEL_OUTBOX_KEEP_SENT_MS", "-1"),
            ("LEADWHEEL_PRUNE_EVERY_MS", "10"),
        ] {
            let err = from(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
    }
}

//! Prometheus metrics: one process-wide registry rendered at `/metrics`.
//!
//! Services register their own metrics with [`register`]; the plumbing's
//! own (bus, outbox, inbox, gRPC) live in [`PLUMBING`].

use std::sync::{LazyLock, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// Label set: a list of name/value pairs.
pub type Labels = Vec<(String, String)>;

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("leadwheel")));

/// Registers `metric` under `leadwheel_<name>`.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    REGISTRY
        .lock()
        .expect("metrics registry poisoned")
        .register(name, help, metric);
}

/// The text exposition of every registered metric.
pub fn render() -> String {
    // Touch the plumbing metrics so they appear even before first use.
    LazyLock::force(&PLUMBING);
    let mut out = String::new();
    let registry = REGISTRY.lock().expect("metrics registry poisoned");
    encode(&mut out, &registry).expect("encoding metrics into a String cannot fail");
    out
}

/// Builds a label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Histogram buckets for latencies in seconds: 0.5 ms .. ~16 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Metrics of the shared plumbing.
pub struct PlumbingMetrics {
    /// Events published from the outbox, by subject.
    pub events_published: Family<Labels, Counter>,
    /// Events handled by inbox consumers, by consumer and result.
    pub events_consumed: Family<Labels, Counter>,
    /// Batches of events an inbox consumer applied, by consumer and how:
    /// `at_once` (the handler's `handle_all`), `one_at_a_time` (the
    /// handler takes events one by one, or a batch of one), `redone` (at
    /// once failed; applied again one event at a time).
    pub inbox_batches: Family<Labels, Counter>,
    /// Outbox rows not yet published (as of the last relay pass).
    pub outbox_pending: Gauge,
    /// Time from commit to JetStream ack for outbox rows.
    pub outbox_publish_lag: Histogram,
    /// gRPC requests by path and status code.
    pub grpc_requests: Family<Labels, Counter>,
}

/// The plumbing's metrics, registered on first use.
pub static PLUMBING: LazyLock<PlumbingMetrics> = LazyLock::new(|| {
    let metrics = PlumbingMetrics {
        events_published: Family::default(),
        events_consumed: Family::default(),
        inbox_batches: Family::default(),
        outbox_pending: Gauge::default(),
        outbox_publish_lag: latency_histogram(),
        grpc_requests: Family::default(),
    };
    register(
        "events_published",
        "Events published from the outbox to JetStream",
        metrics.events_published.clone(),
    );
    register(
        "events_consumed",
        "Events handled by inbox consumers",
        metrics.events_consumed.clone(),
    );
    register(
        "inbox_batches",
        "Batches of events applied by inbox consumers, by how (at_once, one_at_a_time, redone)",
        metrics.inbox_batches.clone(),
    );
    register(
        "outbox_pending",
        "Outbox rows waiting to be published",
        metrics.outbox_pending.clone(),
    );
    register(
        "outbox_publish_lag_seconds",
        "Time from commit to JetStream acknowledgement",
        metrics.outbox_publish_lag.clone(),
    );
    register(
        "grpc_requests",
        "gRPC requests served, by path and code",
        metrics.grpc_requests.clone(),
    );
    metrics
});

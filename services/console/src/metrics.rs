//! The console's metrics, in the process-wide registry `/metrics` renders.

use std::sync::LazyLock;

use leadwheel_plumbing::metrics::{Labels, labels, register};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

static REQUESTS: LazyLock<Family<Labels, Counter>> = LazyLock::new(|| {
    let family = Family::default();
    register(
        "console_http_requests",
        "Console HTTP requests by method, route and status",
        family.clone(),
    );
    family
});

/// Registers the metrics, so they show before the first request.
pub fn init() {
    LazyLock::force(&REQUESTS);
}

/// Counts one request.
pub fn request(method: &str, route: &str, status: u16) {
    REQUESTS
        .get_or_create(&labels(&[
            ("method", method),
            ("route", route),
            ("status", &status.to_string()),
        ]))
        .inc();
}

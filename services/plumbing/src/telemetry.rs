//! Logs, traces and trace-context propagation.
//!
//! Every service logs through `tracing` (human lines by default, JSON on
//! request) and always builds OpenTelemetry span contexts, so a W3C
//! `traceparent` can be carried in gRPC metadata, HTTP headers and NATS
//! headers even when no collector is configured. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are exported over OTLP/gRPC.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// The W3C trace-context header name, used in HTTP, gRPC metadata and NATS headers.
pub const TRACEPARENT: &str = "traceparent";

/// Keeps the tracer provider alive; call [`TelemetryGuard::shutdown`] last
/// at exit so buffered spans are flushed.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes and stops span export.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {err}");
        }
    }
}

/// Installs the global subscriber and propagator for `service`.
///
/// The filter comes from `RUST_LOG` (default `info`).
pub fn init(
    service: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<TelemetryGuard> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(format!("leadwheel-{service}"))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint_compat(endpoint)
            .build()
            .context("building the OTLP span exporter")?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(format!("leadwheel-{service}"));
    global::set_tracer_provider(provider.clone());

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt_layer = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .context("installing the tracing subscriber")?;
    Ok(TelemetryGuard { provider })
}

/// Extension so the endpoint can be passed as configured.
trait WithEndpointCompat {
    fn with_endpoint_compat(self, endpoint: &str) -> Self;
}

impl<T: opentelemetry_otlp::WithExportConfig> WithEndpointCompat for T {
    fn with_endpoint_compat(self, endpoint: &str) -> Self {
        self.with_endpoint(endpoint)
    }
}

/// The `traceparent` of the current span, when it has a valid context.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&Span::current())
}

/// The `traceparent` of `span`, when it has a valid context.
pub fn traceparent_of(span: &Span) -> Option<String> {
    let cx = span.context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&cx, &mut carrier));
    carrier.remove(TRACEPARENT)
}

/// Parses a `traceparent` value into a context (empty when invalid).
pub fn context_from_traceparent(traceparent: &str) -> Context {
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.insert(TRACEPARENT.to_string(), traceparent.to_string());
    global::get_text_map_propagator(|propagator| propagator.extract(&carrier))
}

/// Makes `span` a child of the trace named by `traceparent`, when given.
pub fn set_parent(span: &Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent.filter(|t| !t.is_empty()) {
        let _ = span.set_parent(context_from_traceparent(traceparent));
    }
}

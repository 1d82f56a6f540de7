//! The `reporting` scenario: a year of sales events published to the
//! streams, the raw JetStream consume rate of those same messages, the
//! real reporting binary building its read models from them (its durable
//! consumers), a rebuild (replay into fresh tables and switch) measured
//! against the raw consume rate, and every report RPC timed at the gRPC
//! API.

mod events;
mod queries;
mod service;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
use leadwheel_plumbing::ids;
use leadwheel_proto::events::v1::Envelope;
use leadwheel_proto::reporting::v1::{GetRebuildProgressRequest, RebuildRequest};
use prost::Message;
use serde_json::json;

use crate::harness;

/// A publish's acknowledgement, awaited later.
type PublishAck =
    <async_nats::jetstream::context::PublishAckFuture as std::future::IntoFuture>::IntoFuture;
use crate::report::{Check, Section};
use crate::scenarios::Ctx;
use crate::stats::round;

pub use events::Sizes;

/// What the scenario runs.
pub struct Plan {
    pub sizes: Sizes,
    /// Calls of each report.
    pub calls: usize,
    pub reporting_bin: PathBuf,
    /// Build the read models by a rebuild only (`--seed-by-rebuild`).
    pub seed_by_rebuild: bool,
}

const STREAMS: [&leadwheel_plumbing::bus::StreamSpec; 3] =
    [&INTAKE_STREAM, &WHEEL_STREAM, &OPPS_STREAM];

fn progress(message: impl AsRef<str>) {
    eprintln!("  .. {}", message.as_ref());
}

/// Runs the scenario.
pub async fn reporting(ctx: &Ctx, plan: &Plan) -> Result<Section> {
    for stream in STREAMS {
        let _ = ctx.bus.jetstream.delete_stream(stream.name).await;
        ctx.bus.ensure_stream(stream).await?;
    }
    let planned = events::year(&plan.sizes);
    let total = planned.len();
    progress(format!(
        "reporting: publishing {total} events ({} opportunities, {} activities, {} teams × {} reps)",
        plan.sizes.opportunities, plan.sizes.activities, plan.sizes.teams, plan.sizes.reps_per_team
    ));
    let publish_started = Instant::now();
    publish(ctx, planned).await?;
    let publish_rate = total as f64 / publish_started.elapsed().as_secs_f64();

    progress("reporting: raw JetStream consume of the same messages");
    let raw_rate = raw_consume(ctx, total).await?;

    progress("reporting: starting the reporting binary; its consumers build the read models");
    let service = service::Reporting::start(
        &plan.reporting_bin,
        &ctx.nats_url,
        &ctx.backend,
        &ctx.rust_log,
    )
    .await?;
    let mut client = service.client().await?;
    let incremental_started = Instant::now();
    let incremental_rate = if plan.seed_by_rebuild {
        None
    } else {
        wait_consumed(&mut client, total)
            .await
            .with_context(|| service.log_tail(30))?;
        Some(total as f64 / incremental_started.elapsed().as_secs_f64())
    };
    let before = match incremental_rate {
        Some(_) => Some(queries::answers(&mut client).await?),
        None => None,
    };

    progress("reporting: rebuild (replay into fresh tables, then switch)");
    let rebuild_started = Instant::now();
    client.rebuild(RebuildRequest {}).await.context("Rebuild")?;
    let (replayed, service_ms) = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = client
            .get_rebuild_progress(GetRebuildProgressRequest {})
            .await
            .context("GetRebuildProgress")?
            .into_inner();
        match status.state.as_str() {
            "done" => break (status.events as u64, status.elapsed_ms as u64),
            "failed" => bail!(
                "the rebuild failed: {}\n{}",
                status.error,
                service.log_tail(30)
            ),
            _ => {}
        }
    };
    let rebuild_wall = rebuild_started.elapsed().as_secs_f64();
    // The process's peak resident memory so far: the rebuild's fold holds
    // the read models in memory, so this is what a rebuild needs.
    let peak_mib = service.memory().map(|m| m.hwm_mib).unwrap_or(0.0);
    let rebuild_rate = replayed as f64 / (service_ms.max(1) as f64 / 1000.0);
    // The durable consumers ran during the rebuild and now skip what it
    // applied; reports are timed once they are idle (asked of JetStream:
    // after a rebuild the service's progress is the rebuild's own).
    progress("reporting: the durable consumers skip what the rebuild applied");
    let waiting = Instant::now();
    wait_durables_idle(ctx)
        .await
        .with_context(|| service.log_tail(30))?;
    let durables_idle_after = waiting.elapsed();
    let after = queries::answers(&mut client).await?;
    // Without an incremental build there is nothing to compare with.
    let same = before.is_none_or(|before| before == after);

    progress(format!("reporting: {} calls of each report", plan.calls));
    let timings = queries::time_all(&mut client, plan.calls).await?;
    let phases = rebuild_phases(&service.log_tail(2_000));
    service.stop().await;

    let mut rows = vec![
        (
            "events".into(),
            format!(
                "{total} ({} opportunities, {} activities)",
                plan.sizes.opportunities, plan.sizes.activities
            ),
        ),
        ("publish rate".into(), format!("{publish_rate:.0} events/s")),
        (
            "raw JetStream consume".into(),
            format!(
                "{raw_rate:.0} msg/s (ephemeral pull consumer, 10k per fetch, envelopes decoded)"
            ),
        ),
        (
            "incremental build (durable consumers)".into(),
            match incremental_rate {
                Some(rate) => format!("{rate:.0} events/s"),
                None => {
                    "not timed (--seed-by-rebuild: the consumers ran during the rebuild)".into()
                }
            },
        ),
        (
            "rebuild".into(),
            format!(
                "{replayed} events in {:.1} s: {rebuild_rate:.0} events/s = {:.3} × raw consume (wall, switch included: {rebuild_wall:.1} s)",
                service_ms as f64 / 1000.0,
                rebuild_rate / raw_rate
            ),
        ),
        (
            "reporting peak resident memory (VmHWM after the rebuild)".into(),
            format!("{peak_mib:.0} MiB"),
        ),
        (
            "rebuild phases (service log)".into(),
            phases
                .iter()
                .map(|(name, ms)| format!("{name} {ms} ms"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "durable consumers idle after the rebuild".into(),
            format!(
                "{:.1} s after it finished",
                durables_idle_after.as_secs_f64()
            ),
        ),
        (
            "rebuilt answers equal the built ones".into(),
            if plan.seed_by_rebuild {
                "not compared (--seed-by-rebuild)".into()
            } else {
                same.to_string()
            },
        ),
    ];
    let mut checks = vec![Check::at_least(
        "rebuild ≥ 100000 events/s from JetStream",
        rebuild_rate,
        100_000.0,
        "events/s",
    )];
    let mut report_json = Vec::new();
    for (name, mut samples) in timings {
        let summary = samples.summary();
        rows.push((format!("{name} p50/p90/p99/max"), summary.cell()));
        checks.push(Check::at_most(
            &format!("{name} p99 ≤ 50 ms"),
            summary.p99,
            50.0,
            "ms",
        ));
        report_json.push(json!({ "report": name, "latency": summary.json() }));
    }
    if !same {
        checks.push(Check {
            target: "rebuilt answers equal the incrementally built ones".into(),
            measured: "different".into(),
            met: false,
            note: "see the service's log".into(),
        });
    }
    Ok(Section {
        name: "reporting",
        rows,
        json: json!({
            "events": total,
            "opportunities": plan.sizes.opportunities,
            "activities": plan.sizes.activities,
            "publish_rate_per_s": round(publish_rate),
            "raw_consume_rate_per_s": round(raw_rate),
            "incremental_rate_per_s": incremental_rate.map(round),
            "seed_by_rebuild": plan.seed_by_rebuild,
            "rebuild_events": replayed,
            "rebuild_ms": service_ms,
            "rebuild_rate_per_s": round(rebuild_rate),
            "rebuild_ratio_to_raw": round(rebuild_rate / raw_rate),
            "rebuild_peak_resident_mib": round(peak_mib),
            "rebuild_phases_ms": phases.iter().cloned().collect::<serde_json::Map<_, _>>(),
            "rebuilt_equal": same,
            "reports": report_json,
        }),
        checks,
    })
}

/// The rebuild's phases as the service logs them: waiting for the
/// streams' reads, folding, the bulk write, deriving, committing and (Postgres) analysing, the
/// catch-up and switch (each `name=ms` or `"name":ms` in a log line).
fn rebuild_phases(log: &str) -> Vec<(String, serde_json::Value)> {
    const PHASES: [&str; 5] = [
        "read_wait_ms",
        "fold_ms",
        "write_ms",
        "derive_commit_and_analyze_ms",
        "catch_up_and_switch_ms",
    ];
    let mut found = Vec::new();
    for phase in PHASES {
        let value = log.lines().rev().find_map(|line| {
            let at = line
                .find(&format!("{phase}="))
                .map(|at| at + phase.len() + 1)
                .or_else(|| {
                    line.find(&format!("\"{phase}\":"))
                        .map(|at| at + phase.len() + 3)
                })?;
            let digits: String = line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        });
        if let Some(ms) = value {
            found.push((phase.trim_end_matches("_ms").to_string(), ms.into()));
        }
    }
    found
}

/// Publishes every planned event as the outbox relays do (envelope,
/// `Nats-Msg-Id`), with up to 512 acks in flight.
async fn publish(ctx: &Ctx, planned: Vec<events::Planned>) -> Result<()> {
    let mut in_flight: FuturesUnordered<PublishAck> = FuturesUnordered::new();
    let mut failed = 0usize;
    for event in planned {
        if in_flight.len() >= 512
            && let Some(result) = in_flight.next().await
        {
            failed += usize::from(result.is_err());
        }
        let envelope = Envelope {
            id: ids::new_id(),
            r#type: event.subject.to_string(),
            source: "bench".into(),
            time_ms: leadwheel_plumbing::now_ms(),
            key: event.key,
            payload: event.payload,
        };
        let ack = harness::publish_envelope(&ctx.bus, event.subject, &envelope).await?;
        in_flight.push(std::future::IntoFuture::into_future(ack));
    }
    while let Some(result) = in_flight.next().await {
        failed += usize::from(result.is_err());
    }
    if failed > 0 {
        bail!("{failed} publishes failed");
    }
    Ok(())
}

/// Reads every message of the three streams through ephemeral pull
/// consumers (no acks, 10,000 per fetch, each envelope decoded): the rate
/// a replay could at best read at.
async fn raw_consume(ctx: &Ctx, expected: usize) -> Result<f64> {
    let started = Instant::now();
    let mut read = 0usize;
    for spec in STREAMS {
        let stream = ctx.bus.jetstream.get_stream(spec.name).await?;
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await?;
        loop {
            let mut messages = consumer.fetch().max_messages(10_000).messages().await?;
            let mut got = 0;
            while let Some(message) = messages.next().await {
                let message = message.map_err(|err| anyhow::anyhow!("{err}"))?;
                Envelope::decode(message.payload.as_ref())?;
                got += 1;
            }
            read += got;
            if got == 0 {
                let mut consumer = consumer.clone();
                if consumer.info().await?.num_pending == 0 {
                    break;
                }
            }
        }
    }
    if read != expected {
        bail!("read {read} messages back, published {expected}");
    }
    Ok(read as f64 / started.elapsed().as_secs_f64())
}

/// Waits until the service's durable consumers have applied `total`
/// events (nothing pending on any of them).
async fn wait_consumed(client: &mut service::Client, total: usize) -> Result<()> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let progress_now = client
            .get_rebuild_progress(GetRebuildProgressRequest {})
            .await
            .context("GetRebuildProgress")?
            .into_inner();
        let pending: i64 = progress_now.consumers.iter().map(|c| c.pending).sum();
        let delivered: i64 = progress_now.consumers.iter().map(|c| c.delivered).sum();
        if pending == 0 && delivered as usize >= total {
            return Ok(());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            progress(format!(
                "reporting: {delivered} of {total} delivered, {pending} pending"
            ));
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the consumers did not catch up in an hour");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The reporting service's durable consumers and their streams.
const DURABLES: [(&str, &leadwheel_plumbing::bus::StreamSpec); 3] = [
    ("reporting-intake", &INTAKE_STREAM),
    ("reporting-wheel", &WHEEL_STREAM),
    ("reporting-opps", &OPPS_STREAM),
];

/// Waits until every durable consumer has nothing left to deliver or to
/// acknowledge.
async fn wait_durables_idle(ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let mut left = 0;
        for (durable, stream) in DURABLES {
            let info = ctx
                .bus
                .jetstream
                .get_stream(stream.name)
                .await
                .with_context(|| format!("stream {}", stream.name))?
                .consumer_info(durable)
                .await
                .with_context(|| format!("consumer {durable}"))?;
            left += info.num_pending + info.num_ack_pending as u64;
        }
        if left == 0 {
            return Ok(());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            progress(format!(
                "reporting: {left} events left to the durable consumers"
            ));
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(4 * 3600) {
            bail!("the durable consumers did not finish in four hours");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rebuild_phases_are_read_from_text_and_json_logs() {
        let text = "INFO replayed events written to the fresh tables events=9 rows=20 \
                    read_wait_ms=12 fold_ms=345 write_ms=6 derive_commit_and_analyze_ms=7\n\
                    INFO the rebuilt tables are live catch_up_and_switch_ms=8";
        let json = r#"{"fields":{"read_wait_ms":12,"fold_ms":345,"write_ms":6}}"#;
        let names = |found: Vec<(String, serde_json::Value)>| {
            found
                .into_iter()
                .map(|(name, ms)| format!("{name}={ms}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            names(rebuild_phases(text)),
            "read_wait=12 fold=345 write=6 derive_commit_and_analyze=7 catch_up_and_switch=8"
        );
        assert_eq!(names(rebuild_phases(json)), "read_wait=12 fold=345 write=6");
    }
}

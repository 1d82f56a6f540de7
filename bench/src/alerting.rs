//! The alerting scenario (issue 12): the real `leadwheel-alerting` binary
//! holding many armed timers while opportunity's events arrive at a steady
//! rate and seeded timers fall due at a steady rate.
//!
//! 1. Alerting starts on a fresh store and migrates it; the team is
//!    announced as the wheel does (`wheel.team.upserted`).
//! 2. `--timers` armed `no_first_touch` timers are written straight into
//!    `alerting_timers` (the bulk path: multi-row inserts of the row that
//!    `opps.lead.opened` arms, its payload built by alerting's own
//!    [`TimerAction`]), all but the due ones a month ahead. Arming a
//!    million through events would take the event path's rate (measured in
//!    step 3) times a million.
//! 3. Open loop for `--duration`: `--rate` events/s published on
//!    opportunity's stream as opportunity's outbox publishes them (typed
//!    contracts, `Nats-Msg-Id`): half `opps.lead.opened` (arms a timer), half
//!    `opps.activity.logged` touching a lead opened earlier (disarms it). In
//!    the same window `--due-rate` seeded timers per second fall due.
//! 4. Measured: the durable consumer's lag (pending + unacked, from
//!    JetStream every 250 ms) and the rate it applied events at; each due
//!    timer's lateness (`raised_at_ms` of its `alerts.raised` − its due
//!    time, and the time the bench received the event − its due time); the
//!    alerting process's RSS from `/proc/<pid>/status` and its CPU.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;
use leadwheel_alerting::ops::timers::{TimerAction, rule_key};
use leadwheel_alerting::rules::NO_FIRST_TOUCH;
use leadwheel_plumbing::bus::{ALERTS_STREAM, Bus, OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::{EventDraft, ids, now_ms};
use leadwheel_proto::events::v1::{
    ActivityLogged, AlertRaised, Envelope, LeadOpened, TeamUpserted,
};
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;

use crate::harness::{self, Backend, Memory};
use crate::report::{Check, Section};
use crate::scenarios::{Baseline, Ctx};
use crate::stats::{Samples, round};

/// The team every bench lead belongs to.
const TEAM: &str = "bench";
/// Reps the leads are spread over.
const REPS: usize = 50;
/// Seeded timer rows per INSERT statement (4 binds each).
const ROWS_PER_INSERT: usize = 500;
/// Seeded rows per transaction.
const ROWS_PER_TX: usize = 20_000;

/// The sizes of one alerting run.
pub struct AlertingSizes {
    /// Timers armed before the run (the due ones included).
    pub timers: usize,
    /// Events per second during the run.
    pub rate: u32,
    /// How long events are published.
    pub duration: Duration,
    /// Seeded timers falling due per second during the run.
    pub due_rate: u32,
}

/// Alerting as a child process.
struct Alerting {
    process: harness::ServiceProcess,
}

impl std::ops::Deref for Alerting {
    type Target = harness::ServiceProcess;
    fn deref(&self) -> &harness::ServiceProcess {
        &self.process
    }
}

impl Alerting {
    async fn start(
        binary: &Path,
        nats_url: &str,
        backend: &Backend,
        rust_log: &str,
    ) -> Result<Self> {
        let launch = harness::Launch {
            service: "alerting",
            binary,
            build_hint: ("-p leadwheel-alerting", "--alerting-bin"),
            serves_grpc: true,
            env: &[
                // No reporting in the bench: forecast checks (due
                // mid-period) would retry; none falls in a run.
                ("LEADWHEEL_ALERTING_REPORTING_URL", "http://127.0.0.1:9"),
                // No email: the bench measures raising, not SMTP.
                ("LEADWHEEL_ALERTING_SMTP_HOST", ""),
            ],
        };
        Ok(Self {
            process: harness::ServiceProcess::start(&launch, nats_url, backend, rust_log).await?,
        })
    }

    async fn stop(self) {
        self.process.stop().await
    }
}

fn progress(message: impl AsRef<str>) {
    eprintln!("  .. {}", message.as_ref());
}

fn rep_of(n: usize) -> String {
    format!("{TEAM}-rep-{:03}", n % REPS)
}

/// The timer row `opps.lead.opened` for `lead_id` at `opened_at_ms` arms,
/// due at `due_at_ms`: (key, payload).
fn first_touch_timer(lead_id: &str, rep_id: &str, opened_at_ms: i64) -> (String, String) {
    let action = TimerAction::Raise {
        rule: NO_FIRST_TOUCH.into(),
        team_id: TEAM.into(),
        rep_id: rep_id.into(),
        subject_key: lead_id.into(),
        dedupe_key: format!("{lead_id}@{opened_at_ms}"),
        detail: String::new(),
        since_ms: opened_at_ms,
    };
    (
        rule_key(NO_FIRST_TOUCH, lead_id),
        serde_json::to_string(&action).expect("a timer action serializes"),
    )
}

/// Writes `timers` (lead id, due time) into `alerting_timers`, as armed.
async fn seed_timers(store: &leadwheel_plumbing::Store, timers: &[(String, i64)]) -> Result<()> {
    let now = now_ms();
    for (tx_chunk_at, tx_chunk) in timers.chunks(ROWS_PER_TX).enumerate() {
        let mut tx = store.begin().await?;
        for (chunk_at, chunk) in tx_chunk.chunks(ROWS_PER_INSERT).enumerate() {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(${}, ${}, ${}, ${})",
                        4 * i + 1,
                        4 * i + 2,
                        4 * i + 3,
                        4 * i + 4
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO alerting_timers (timer_key, due_at_ms, payload, armed_at_ms) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, (lead_id, due)) in chunk.iter().enumerate() {
                let n = tx_chunk_at * ROWS_PER_TX + chunk_at * ROWS_PER_INSERT + i;
                // Opened (and so timed from) the rule's 4 h before its due time.
                let (key, payload) = first_touch_timer(lead_id, &rep_of(n), due - 4 * 3_600_000);
                query = query.bind(key).bind(*due).bind(payload).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Publishes `draft` as opportunity's outbox relay does.
async fn publish(
    bus: &Bus,
    draft: EventDraft,
) -> Result<async_nats::jetstream::context::PublishAckFuture> {
    let envelope = Envelope {
        id: ids::new_id(),
        r#type: draft.subject.clone(),
        source: "opportunity".into(),
        time_ms: now_ms(),
        key: draft.key,
        payload: draft.payload,
    };
    harness::publish_envelope(bus, &draft.subject, &envelope).await
}

/// The `n`th event of the run: even, a lead opened; odd, a touch on the
/// lead opened `spacing` events earlier (or on the previous one early on).
fn live_event(n: usize, spacing: usize) -> EventDraft {
    let at = now_ms();
    if n.is_multiple_of(2) {
        let lead_id = format!("lead-live-{n:08}");
        let opened = LeadOpened {
            lead_id: lead_id.clone(),
            rep_id: rep_of(n),
            team_id: TEAM.into(),
            opened_at_ms: at,
        };
        EventDraft::of(lead_id, &opened)
    } else {
        let back = if n > spacing { spacing | 1 } else { 1 };
        let lead_n = n - back;
        let lead_id = format!("lead-live-{lead_n:08}");
        let touch = ActivityLogged {
            activity_id: ids::prefixed("act"),
            kind: "call".into(),
            lead_id: lead_id.clone(),
            by: rep_of(lead_n),
            owner_rep_id: rep_of(lead_n),
            team_id: TEAM.into(),
            at_ms: at,
            duration_seconds: 120,
            outcome: "connected".into(),
            touch_count: 1,
            stage: "lead".into(),
            ..Default::default()
        };
        EventDraft::of(lead_id, &touch)
    }
}

/// The durable consumer's events not yet applied (pending + unacked), and
/// how many it has acked.
async fn consumer_lag(bus: &Bus) -> Result<(u64, u64)> {
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = bus
        .jetstream
        .get_consumer_from_stream(leadwheel_alerting::OPPS_CONSUMER, OPPS_STREAM.name)
        .await?;
    let info = consumer.info().await?;
    Ok((
        info.num_pending + info.num_ack_pending as u64,
        info.ack_floor.consumer_sequence,
    ))
}

fn memory_of(pid: u32) -> Memory {
    harness::process_memory(pid).unwrap_or_default()
}

/// A raised alert as the bench received it.
struct Raised {
    subject_key: String,
    raised_at_ms: i64,
    received_ms: i64,
}

/// Subscribes (core NATS) to `alerts.raised`.
async fn listen_raised(bus: &Bus) -> Result<mpsc::UnboundedReceiver<Raised>> {
    let mut subscriber = bus.client.subscribe(subjects::ALERT_RAISED).await?;
    bus.client.flush().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let received_ms = now_ms();
            let Ok(envelope) = Envelope::decode(message.payload.as_ref()) else {
                continue;
            };
            let Ok(raised) = AlertRaised::decode(envelope.payload.as_slice()) else {
                continue;
            };
            let sent = tx.send(Raised {
                subject_key: raised.subject_key,
                raised_at_ms: raised.raised_at_ms,
                received_ms,
            });
            if sent.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

pub async fn alerting(
    ctx: &Ctx,
    base: &Baseline,
    binary: &Path,
    sizes: &AlertingSizes,
) -> Result<Section> {
    for stream in [OPPS_STREAM.name, WHEEL_STREAM.name, ALERTS_STREAM.name] {
        let _ = ctx.bus.jetstream.delete_stream(stream).await;
    }
    ctx.bus.ensure_stream(&OPPS_STREAM).await?;
    ctx.bus.ensure_stream(&WHEEL_STREAM).await?;
    let service = Alerting::start(binary, &ctx.nats_url, &ctx.backend, &ctx.rust_log).await?;
    let idle = memory_of(service.pid());
    let pid = service.pid();

    // The team, as the wheel announces it: alerts find their manager.
    let team = TeamUpserted {
        team_id: TEAM.into(),
        name: "bench team".into(),
        manager_id: format!("{TEAM}-manager"),
        window_ms: 600_000,
        rep_ids: (0..REPS).map(rep_of).collect(),
        at_ms: now_ms(),
    };
    publish(&ctx.bus, EventDraft::of(TEAM, &team))
        .await?
        .await?;

    // Seed: all but the due ones a month and more ahead.
    let due_count = (f64::from(sizes.due_rate) * sizes.duration.as_secs_f64()) as usize;
    let far_count = sizes.timers.saturating_sub(due_count);
    progress(format!(
        "alerting: seeding {far_count} timers due in a month, then {due_count} due during the run"
    ));
    let store =
        leadwheel_plumbing::Store::connect(&service.database_url, &leadwheel_alerting::MIGRATOR)
            .await
            .context("opening alerting's store")?;
    let month_ms = 30 * 86_400_000;
    let seed_started = Instant::now();
    let base_ms = now_ms() + month_ms;
    let far: Vec<(String, i64)> = (0..far_count)
        .map(|n| (format!("lead-seed-{n:08}"), base_ms + n as i64))
        .collect();
    seed_timers(&store, &far).await?;
    drop(far);
    let seed_s = seed_started.elapsed().as_secs_f64();
    progress(format!(
        "alerting: seeded {far_count} in {seed_s:.1} s ({:.0} rows/s)",
        far_count as f64 / seed_s.max(1e-3)
    ));
    // The due ones: starting 3 s from now, one every 1/due_rate s.
    let run_start_ms = now_ms() + 3_000;
    let step_ms = 1000.0 / f64::from(sizes.due_rate.max(1));
    let due: Vec<(String, i64)> = (0..due_count)
        .map(|n| {
            (
                format!("lead-due-{n:08}"),
                run_start_ms + (n as f64 * step_ms) as i64,
            )
        })
        .collect();
    seed_timers(&store, &due).await?;
    let due_at: HashMap<String, i64> = due.into_iter().collect();
    let armed_before = leadwheel_alerting::store::timers::count(&store).await?;
    let mut raised_rx = listen_raised(&ctx.bus).await?;

    // Wait for the due ones' start, then publish at a steady pace.
    let wait_ms = (run_start_ms - now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    progress(format!(
        "alerting: {} events/s for {:?} with {armed_before} timers armed, {} falling due per second",
        sizes.rate, sizes.duration, sizes.due_rate
    ));
    let total = (sizes.duration.as_secs_f64() * f64::from(sizes.rate)) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(sizes.rate.max(1)));
    // A touch arrives about 2 s after its lead was opened.
    let spacing = (sizes.rate as usize * 2).max(2);
    let bus = ctx.bus.clone();
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        let mut acks = harness::Acks::new();
        let mut behind = Duration::ZERO;
        for n in 0..total {
            let due = start + interval.mul_f64(n as f64);
            let now = Instant::now();
            if due > now {
                tokio::time::sleep_until(due.into()).await;
            } else {
                behind = behind.max(now - due);
            }
            acks.push(publish(&bus, live_event(n, spacing)).await?)
                .await;
        }
        let published_in = start.elapsed();
        anyhow::Ok((acks.finish().await, published_in, behind))
    });

    let mut lateness_fired = Samples::with_capacity(due_count);
    let mut lateness_received = Samples::with_capacity(due_count);
    let mut seen = 0usize;
    let mut other_alerts = 0usize;
    let mut max_lag = 0u64;
    let mut lag_samples: Vec<u64> = Vec::new();
    let mut max_rss = 0.0f64;
    let cpu_before = harness::cpu_seconds(pid);
    let acked_before = consumer_lag(&ctx.bus).await.map(|(_, a)| a).unwrap_or(0);
    let mut sampler = tokio::time::interval(Duration::from_millis(250));
    let mut publisher = Some(publisher);
    let mut published: Option<(usize, Duration, Duration)> = None;
    let mut drained_after: Option<Duration> = None;
    let mut last_report = Instant::now();
    let deadline = sizes.duration + Duration::from_secs(60);
    loop {
        tokio::select! {
            raised = raised_rx.recv() => {
                let Some(raised) = raised else { break };
                match due_at.get(&raised.subject_key) {
                    Some(due) => {
                        seen += 1;
                        lateness_fired.push_millis(raised.raised_at_ms - due);
                        lateness_received.push_millis(raised.received_ms - due);
                    }
                    None => other_alerts += 1,
                }
            }
            _ = sampler.tick() => {
                max_rss = max_rss.max(memory_of(pid).rss_mib);
                if let Ok((lag, _)) = consumer_lag(&ctx.bus).await {
                    max_lag = max_lag.max(lag);
                    lag_samples.push(lag);
                    if published.is_some() && lag == 0 && drained_after.is_none() {
                        drained_after = Some(start.elapsed());
                    }
                }
                if let Some(handle) = publisher.as_ref()
                    && handle.is_finished()
                {
                    published = Some(publisher.take().expect("checked").await??);
                }
            }
        }
        if published.is_some() && drained_after.is_some() && seen == due_count {
            break;
        }
        if start.elapsed() > deadline {
            progress("alerting: not done 60 s after the run; stopping");
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "{:.0} s: consumer lag {} events (max {max_lag}), {seen} of {due_count} due timers fired, RSS {max_rss:.1} MiB max",
                start.elapsed().as_secs_f64(),
                lag_samples.last().copied().unwrap_or(0),
            ));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = harness::cpu_seconds(pid) - cpu_before;
    let acked = consumer_lag(&ctx.bus)
        .await
        .map(|(_, a)| a)
        .unwrap_or(0)
        .saturating_sub(acked_before);
    let memory = memory_of(pid);
    let armed_after = leadwheel_alerting::store::timers::count(&store).await?;
    store.close().await;
    if seen < due_count {
        progress(format!("alerting's log ends:\n{}", service.log_tail(20)));
    }
    service.stop().await;
    let (failed, published_in, behind) = match published {
        Some(p) => p,
        None => (0, Duration::ZERO, Duration::ZERO),
    };

    let publish_rate = total as f64 / published_in.as_secs_f64().max(1e-3);
    // Applied while publishing and until drained: events / time to drain.
    let applied_in = drained_after.map(|d| d.as_secs_f64()).unwrap_or(elapsed);
    let applied_rate = acked as f64 / applied_in.max(1e-3);
    let fired = lateness_fired.summary();
    let received = lateness_received.summary();
    lag_samples.sort_unstable();
    let lag_p99 = lag_samples
        .get(((lag_samples.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    let drain_after_publish =
        drained_after.map(|d| (d.as_secs_f64() - published_in.as_secs_f64()).max(0.0));
    let rss_mb = max_rss.max(memory.hwm_mib) * 1.048_576;
    // Keeping up: the consumer is never more than a second of events
    // behind (p99 of the 250 ms samples), and it drains once publishing stops.
    let rate = f64::from(sizes.rate.max(1));
    let mut keep_up = Check::at_most(
        &format!(
            "keeps up with {} events/s with {armed_before} timers armed (consumer lag p99 ≤ 1 s of events)",
            sizes.rate
        ),
        lag_p99 as f64 / rate,
        1.0,
        "s",
    );
    keep_up.note = format!(
        "{}; lag p99 {lag_p99}, max {max_lag} events; applied {applied_rate:.0}/s; drained {}",
        keep_up.note,
        match drain_after_publish {
            Some(s) => format!("{s:.1} s after the last publish"),
            None => "never".into(),
        }
    );
    if drained_after.is_none() {
        keep_up.met = false;
    }
    let mut lateness = Check::at_most(
        &format!("timer lateness p99 ≤ 1 s ({} due/s)", sizes.due_rate),
        fired.p99,
        1000.0,
        "ms",
    );
    if seen < due_count {
        lateness = lateness.missed_because(format!("{} due timers never fired", due_count - seen));
    }
    let rows = vec![
        (
            "timers armed".into(),
            format!(
                "{armed_before} before the run ({far_count} a month ahead seeded in {seed_s:.1} s, {:.0} rows/s; {due_count} due during it); {armed_after} after",
                far_count as f64 / seed_s.max(1e-3)
            ),
        ),
        (
            "events published".into(),
            format!(
                "{total} in {:.1} s ({publish_rate:.0}/s, target {}/s; publisher at most {:.0} ms behind; {failed} failed)",
                published_in.as_secs_f64(),
                sizes.rate,
                behind.as_secs_f64() * 1000.0
            ),
        ),
        (
            "events applied".into(),
            format!(
                "{acked} acked by {} ({applied_rate:.0}/s until drained)",
                leadwheel_alerting::OPPS_CONSUMER
            ),
        ),
        (
            "consumer lag (pending + unacked)".into(),
            format!(
                "p99 {lag_p99}, max {max_lag} events; drained {}",
                match drain_after_publish {
                    Some(s) => format!("{s:.1} s after the last publish"),
                    None => "never".into(),
                }
            ),
        ),
        (
            "due timers fired".into(),
            format!("{seen} of {due_count} ({other_alerts} other alerts raised)"),
        ),
        ("due → alert raised (alerting's clock)".into(), fired.cell()),
        ("due → alerts.raised received".into(), received.cell()),
        (
            "alerting CPU".into(),
            format!("{:.2} cores busy", cpu / elapsed.max(1e-3)),
        ),
        (
            "alerting RSS".into(),
            format!(
                "idle {:.1} MiB; max {max_rss:.1} MiB during the run; VmHWM {:.1} MiB",
                idle.rss_mib, memory.hwm_mib
            ),
        ),
        (
            "vs baseline".into(),
            format!(
                "applied rate = {:.3}x JetStream pipelined publish rate; lateness p99 = {:.1}x JetStream sequential publish→ack p99",
                applied_rate / base.pipelined_rate.max(1e-3),
                fired.p99 / base.sequential_ack.p99.max(1e-3)
            ),
        ),
    ];
    let json = json!({
        "timers_armed_before": armed_before,
        "timers_armed_after": armed_after,
        "seeded_far": far_count,
        "seed_seconds": round(seed_s),
        "due_timers": due_count,
        "due_rate": sizes.due_rate,
        "rate": sizes.rate,
        "duration_s": sizes.duration.as_secs_f64(),
        "published": total,
        "publish_failures": failed,
        "publish_rate_per_s": round(publish_rate),
        "applied": acked,
        "applied_per_s": round(applied_rate),
        "lag_p99_events": lag_p99,
        "lag_max_events": max_lag,
        "drained_after_last_publish_s": drain_after_publish.map(round),
        "fired": seen,
        "lateness_fired": fired.json(),
        "lateness_received": received.json(),
        "alerting_cpu_cores": round(cpu / elapsed.max(1e-3)),
        "rss_idle_mib": round(idle.rss_mib),
        "rss_max_mib": round(max_rss),
        "vm_hwm_mib": round(memory.hwm_mib),
        "ratio_applied_to_baseline_pipelined_rate": round(applied_rate / base.pipelined_rate.max(1e-3)),
        "ratio_lateness_p99_to_baseline_sequential_ack_p99": round(fired.p99 / base.sequential_ack.p99.max(1e-3)),
    });
    Ok(Section {
        name: "alerting (events and timers)",
        rows,
        json,
        checks: vec![
            keep_up,
            lateness,
            Check::at_most(
                &format!("alerting RSS ≤ 200 MB with {armed_before} timers armed"),
                rss_mb,
                200.0,
                "MB",
            ),
        ],
    })
}

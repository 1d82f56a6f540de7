//! The four scenarios: raw JetStream baseline, lead event → offer opened,
//! claim RPCs, and expiry lateness with many offers open (plus memory).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::jetstream::stream;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::bus::{Bus, INTAKE_STREAM, subjects};
use leadwheel_plumbing::ids;
use leadwheel_proto::events::v1::OfferOutcome;
use leadwheel_proto::wheel::v1::ClaimRequest;
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;

use crate::harness::{self, Backend, OfferEvent, Received, Wheel};
use crate::report::{Check, Section};
use crate::stats::{Samples, Summary, round};

/// Shared by every scenario of one run.
pub struct Ctx {
    pub nats_url: String,
    pub bus: Bus,
    pub wheel_bin: PathBuf,
    pub backend: Backend,
    pub rust_log: String,
}

impl Ctx {
    /// A fresh wheel (fresh store, fresh intake and wheel streams).
    pub(crate) async fn fresh_wheel(&self) -> Result<Wheel> {
        harness::reset_streams(&self.bus).await;
        let wheel = Wheel::start(
            &self.wheel_bin,
            &self.nats_url,
            &self.backend,
            &self.rust_log,
        )
        .await?;
        self.bus.ensure_stream(&INTAKE_STREAM).await?;
        Ok(wheel)
    }
}

pub(crate) fn progress(message: impl AsRef<str>) {
    eprintln!("  .. {}", message.as_ref());
}

// ---------------------------------------------------------------- baseline

/// Raw JetStream figures on the same nats-server.
#[derive(Clone, Copy, Debug, Default)]
pub struct Baseline {
    /// Bytes per message (a `LeadCreated` envelope).
    pub payload_bytes: usize,
    /// Messages/s with up to `window` publishes awaiting their acks.
    pub pipelined_rate: f64,
    pub window: usize,
    /// Publish → ack, pipelined (includes queueing behind the window).
    pub pipelined_ack: Summary,
    /// Publish → ack, one at a time: the floor of any event round trip.
    pub sequential_ack: Summary,
}

const BASELINE_STREAM: &str = "LEADWHEEL_BENCH_BASELINE";
const BASELINE_SUBJECT: &str = "bench.baseline.lead";

/// Publishes LeadCreated-sized envelopes (with `Nats-Msg-Id`) to a file
/// stream configured like the services' streams: `sequential` one at a time,
/// then for `duration` with `window` acks in flight.
pub async fn baseline(
    ctx: &Ctx,
    sequential: usize,
    duration: Duration,
    window: usize,
) -> Result<(Baseline, Section)> {
    let js = &ctx.bus.jetstream;
    let _ = js.delete_stream(BASELINE_STREAM).await;
    js.create_stream(stream::Config {
        name: BASELINE_STREAM.into(),
        subjects: vec!["bench.baseline.>".into()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .context("creating the baseline stream")?;
    let make = |n: usize| {
        let lead_id = ids::prefixed("lead");
        let created = harness::lead_created(&lead_id, n, "bench");
        harness::envelope(subjects::LEAD_CREATED, &lead_id, &created)
    };
    let payload_bytes = make(0).encode_to_vec().len();

    // Warm up the connection and the stream.
    let mut warm = Vec::new();
    for n in 0..200 {
        warm.push(harness::publish_envelope(&ctx.bus, BASELINE_SUBJECT, &make(n)).await?);
    }
    harness::await_acks(warm).await;

    progress(format!("baseline: {sequential} sequential publishes"));
    let mut seq = Samples::with_capacity(sequential);
    for n in 0..sequential {
        let envelope = make(n);
        let start = Instant::now();
        harness::publish_envelope(&ctx.bus, BASELINE_SUBJECT, &envelope)
            .await?
            .await?;
        seq.push(start.elapsed());
    }

    progress(format!(
        "baseline: pipelined publishes for {duration:?}, {window} acks in flight"
    ));
    let mut pipelined = Samples::with_capacity(100_000);
    let mut in_flight = FuturesUnordered::new();
    let mut ok = 0usize;
    let mut failed = 0usize;
    let start = Instant::now();
    let mut n = 0;
    let mut record = |result: (Result<_, _>, Instant), pipelined: &mut Samples| match result {
        (Ok(_), sent) => {
            ok += 1;
            pipelined.push(sent.elapsed());
        }
        (Err(_), _) => failed += 1,
    };
    while start.elapsed() < duration {
        if in_flight.len() >= window
            && let Some(result) = in_flight.next().await
        {
            record(result, &mut pipelined);
        }
        let envelope = make(n);
        n += 1;
        let sent = Instant::now();
        let ack = harness::publish_envelope(&ctx.bus, BASELINE_SUBJECT, &envelope).await?;
        in_flight.push(async move { (ack.await, sent) });
    }
    while let Some(result) = in_flight.next().await {
        record(result, &mut pipelined);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = js.delete_stream(BASELINE_STREAM).await;

    let result = Baseline {
        payload_bytes,
        pipelined_rate: ok as f64 / elapsed,
        window,
        pipelined_ack: pipelined.summary(),
        sequential_ack: seq.summary(),
    };
    let section = Section {
        name: "baseline (raw JetStream, same nats-server)",
        rows: vec![
            (
                "payload".into(),
                format!(
                    "{} B (LeadCreated envelope) + Nats-Msg-Id, file stream",
                    result.payload_bytes
                ),
            ),
            (
                "publish rate, pipelined".into(),
                format!(
                    "{:.0} msg/s ({} acks in flight, {ok} ok, {failed} failed)",
                    result.pipelined_rate, result.window
                ),
            ),
            (
                "publish→ack pipelined p50/p90/p99/max".into(),
                result.pipelined_ack.cell(),
            ),
            (
                "publish→ack sequential p50/p90/p99/max".into(),
                result.sequential_ack.cell(),
            ),
        ],
        json: json!({
            "payload_bytes": payload_bytes,
            "pipelined_rate_per_s": round(result.pipelined_rate),
            "window": window,
            "pipelined_ack": result.pipelined_ack.json(),
            "sequential_ack": result.sequential_ack.json(),
            "failed": failed,
        }),
        checks: Vec::new(),
    };
    Ok((result, section))
}

// ----------------------------------------------------------- offer latency

/// Steady `rate` of lead events for `duration`; lead event publish → the
/// first `wheel.offer.opened` received, per lead.
pub async fn offer_latency(
    ctx: &Ctx,
    base: &Baseline,
    rate: u32,
    duration: Duration,
    reps: usize,
) -> Result<Section> {
    let wheel = ctx.fresh_wheel().await?;
    wheel.seed_team("bench", reps, 600_000).await?;
    let mut rx = harness::listen_offers(&ctx.bus).await?;
    let live = harness::listen_live_first_offers(&ctx.bus).await?;

    // Warm-up: 100 leads, excluded from the figures.
    let mut acks = harness::Acks::new();
    for n in 0..100 {
        acks.push(harness::publish_lead(&ctx.bus, &ids::prefixed("lead"), n, "bench").await?)
            .await;
    }
    acks.finish().await;
    let mut warm = 0;
    while warm < 100 {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Received {
                event: OfferEvent::Opened(_),
                ..
            })) => warm += 1,
            Ok(Some(_)) => {}
            _ => anyhow::bail!(
                "the wheel opened only {warm} of 100 warm-up offers in 30 s; see {}",
                wheel.log.display()
            ),
        }
    }

    let total = (rate as f64 * duration.as_secs_f64()).round() as usize;
    let lead_ids: Vec<String> = (0..total).map(|_| ids::prefixed("lead")).collect();
    let index: HashMap<String, usize> = lead_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    progress(format!(
        "offer-latency: {total} leads at {rate}/s over {duration:?}"
    ));

    let cpu_before = wheel.cpu_seconds();
    // Latency counts from each lead's scheduled send.
    let generator = harness::publish_leads_at(&ctx.bus, lead_ids, rate, "bench");

    // (receive instant, receive ms, opened_at_ms)
    let mut received: Vec<Option<(Instant, i64, i64)>> = vec![None; total];
    let mut got = 0;
    let hard_stop = Instant::now() + duration + Duration::from_secs(120);
    let mut last_event = Instant::now();
    while got < total && Instant::now() < hard_stop {
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Some(Received {
                at,
                at_ms,
                event: OfferEvent::Opened(opened),
            })) => {
                last_event = at;
                if opened.step == 1
                    && let Some(&i) = index.get(&opened.lead_id)
                    && received[i].is_none()
                {
                    received[i] = Some((at, at_ms, opened.opened_at_ms));
                    got += 1;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                if generator.is_finished() && last_event.elapsed() > Duration::from_secs(15) {
                    break;
                }
            }
        }
    }
    let cpu = wheel.cpu_seconds() - cpu_before;
    let harness::Published {
        sent,
        elapsed: publish_elapsed,
        failures: ack_failures,
    } = generator.await??;
    let memory = wheel.memory().unwrap_or_default();
    wheel.stop().await;

    // The live pushes, as the rep's screen gets them (sent by the wheel
    // right after commit, not through the outbox relay).
    let mut pushed = Samples::with_capacity(total);
    for (lead_id, at) in live.lock().expect("live pushes").iter() {
        if let Some(&i) = index.get(lead_id) {
            pushed.push(at.saturating_duration_since(sent[i].0));
        }
    }
    let pushed_count = pushed.len();
    let pushed_summary = pushed.summary();
    let mut e2e = Samples::with_capacity(total);
    let mut to_commit = Samples::with_capacity(total);
    let mut relay = Samples::with_capacity(total);
    let mut last_recv = sent.first().map(|s| s.0).unwrap_or_else(Instant::now);
    for (i, got) in received.iter().enumerate() {
        if let Some((at, at_ms, opened_at_ms)) = got {
            let (sent_at, sent_ms) = sent[i];
            e2e.push(at.saturating_duration_since(sent_at));
            to_commit.push_millis(opened_at_ms - sent_ms);
            relay.push_millis(at_ms - opened_at_ms);
            last_recv = last_recv.max(*at);
        }
    }
    let first_sent = sent.first().map(|s| s.0).unwrap_or_else(Instant::now);
    let span = last_recv
        .saturating_duration_since(first_sent)
        .as_secs_f64()
        .max(1e-3);
    let achieved_publish = total as f64 / publish_elapsed.as_secs_f64().max(1e-3);
    let achieved_offers = got as f64 / span;
    let e2e_summary = e2e.summary();
    let commit_summary = to_commit.summary();
    let relay_summary = relay.summary();
    let lost = total - got;

    // Issue 16's target (issue 2 asked for 10 ms).
    // Issue 16's targets: 5 ms on SQLite, 20 ms on Postgres.
    let limit_ms = match ctx.backend {
        Backend::Sqlite => 5.0,
        Backend::Postgres(_) => 20.0,
    };
    let mut latency_check = Check::at_most(
        &format!("lead event → offer opened p99 ≤ {limit_ms} ms at {rate} leads/s"),
        e2e_summary.p99,
        limit_ms,
        "ms",
    );
    if achieved_offers < 0.95 * rate as f64 || lost > 0 {
        latency_check = latency_check.missed_because(format!(
            "the wheel kept up with only {achieved_offers:.0} offers/s of {rate}/s, {lost} offers missing"
        ));
    }
    Ok(Section {
        name: "offer-latency (lead event → wheel.offer.opened)",
        rows: vec![
            (
                "leads".into(),
                format!(
                    "{total} at {rate}/s target, {achieved_publish:.0}/s published ({ack_failures} publish failures)"
                ),
            ),
            (
                "offers opened".into(),
                format!("{got} ({lost} missing), {achieved_offers:.0} offers/s sustained"),
            ),
            (
                "event → offer received p50/p90/p99/max".into(),
                e2e_summary.cell(),
            ),
            (
                "  of which event → offer committed".into(),
                commit_summary.cell(),
            ),
            (
                "  of which committed → received (outbox relay)".into(),
                relay_summary.cell(),
            ),
            (
                "event → live push to the rep received".into(),
                format!("{} ({pushed_count} pushes)", pushed_summary.cell()),
            ),
            (
                "wheel CPU".into(),
                format!("{:.2} cores busy ({cpu:.1} s over {span:.1} s)", cpu / span),
            ),
            (
                "wheel RSS after".into(),
                format!("{:.1} MiB (peak {:.1} MiB)", memory.rss_mib, memory.hwm_mib),
            ),
            (
                "vs baseline".into(),
                format!(
                    "p99 = {:.1}x JetStream sequential publish→ack p99 ({:.2} ms); rate = {:.3}x JetStream pipelined publish rate",
                    e2e_summary.p99 / base.sequential_ack.p99.max(1e-3),
                    base.sequential_ack.p99,
                    achieved_offers / base.pipelined_rate.max(1e-3)
                ),
            ),
        ],
        json: json!({
            "rate_target_per_s": rate,
            "leads": total,
            "published_per_s": round(achieved_publish),
            "offers_opened": got,
            "missing": lost,
            "offers_per_s": round(achieved_offers),
            "event_to_offer_received": e2e_summary.json(),
            "event_to_offer_committed": commit_summary.json(),
            "committed_to_received": relay_summary.json(),
            "event_to_live_push_received": pushed_summary.json(),
            "wheel_cpu_cores": round(cpu / span),
            "wheel_rss_mib": round(memory.rss_mib),
            "ratio_p99_to_baseline_sequential_ack_p99": round(e2e_summary.p99 / base.sequential_ack.p99.max(1e-3)),
            "ratio_rate_to_baseline_pipelined_rate": round(achieved_offers / base.pipelined_rate.max(1e-3)),
        }),
        checks: vec![latency_check],
    })
}

// ------------------------------------------------------------------ claims

/// Publishes `count` leads as fast as the wheel takes them and waits for
/// each lead's first offer; returns (lead, rep) pairs and the time taken.
pub(crate) async fn open_offers(
    ctx: &Ctx,
    rx: &mut mpsc::UnboundedReceiver<Received>,
    count: usize,
    team: &str,
) -> Result<(Vec<(String, String)>, Duration)> {
    let start = Instant::now();
    let bus = ctx.bus.clone();
    let team_id = team.to_string();
    let publisher = tokio::spawn(async move {
        let mut acks = harness::Acks::new();
        for n in 0..count {
            acks.push(harness::publish_lead(&bus, &ids::prefixed("lead"), n, &team_id).await?)
                .await;
        }
        anyhow::Ok(acks.finish().await)
    });
    let mut offers = Vec::with_capacity(count);
    // A core subscription sees every publish of an event, and with several
    // replicas two outbox relays may both publish one (JetStream keeps
    // one copy; its consumers never see the second).
    let mut seen = std::collections::HashSet::with_capacity(count);
    let mut last_report = Instant::now();
    while offers.len() < count {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Received {
                event: OfferEvent::Opened(opened),
                ..
            })) => {
                if opened.step == 1 && seen.insert(opened.lead_id.clone()) {
                    offers.push((opened.lead_id, opened.rep_id));
                }
            }
            Ok(Some(_)) => {}
            _ => anyhow::bail!("no offer opened for 30 s; {} of {count} open", offers.len()),
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "{} of {count} offers open ({:.0}/s)",
                offers.len(),
                offers.len() as f64 / start.elapsed().as_secs_f64()
            ));
        }
    }
    let failed = publisher.await??;
    if failed > 0 {
        anyhow::bail!("{failed} lead events were not acked by JetStream");
    }
    Ok((offers, start.elapsed()))
}

/// `count` open offers (1 h window), then `concurrency` clients claim them
/// over gRPC, each claim as the offered rep with the rep's own token.
pub async fn claims(
    ctx: &Ctx,
    base: &Baseline,
    count: usize,
    concurrency: usize,
    reps: usize,
) -> Result<Section> {
    let wheel = ctx.fresh_wheel().await?;
    wheel.seed_team("bench", reps, 3_600_000).await?;
    let mut rx = harness::listen_offers(&ctx.bus).await?;
    progress(format!("claims: opening {count} offers"));
    let (offers, open_time) = open_offers(ctx, &mut rx, count, "bench").await?;
    let absorb_rate = count as f64 / open_time.as_secs_f64();

    let tokens: HashMap<String, String> = offers
        .iter()
        .map(|(_, rep)| (rep.clone(), harness::token(rep, Role::Rep)))
        .collect();
    let work: Arc<Vec<(String, String, String)>> = Arc::new(
        offers
            .into_iter()
            .map(|(lead, rep)| {
                let token = tokens[&rep].clone();
                (lead, rep, token)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        clients.push(wheel.client().await?);
    }
    progress(format!(
        "claims: {count} claims by {concurrency} concurrent clients"
    ));
    let cpu_before = wheel.cpu_seconds();
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for mut client in clients {
        let work = work.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Samples::with_capacity(work.len() / concurrency + 1);
            let mut errors: HashMap<String, usize> = HashMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((lead_id, rep_id, token)) = work.get(i) else {
                    break;
                };
                let request = harness::authed(
                    ClaimRequest {
                        lead_id: lead_id.clone(),
                        rep_id: rep_id.clone(),
                    },
                    token,
                )?;
                let sent = Instant::now();
                match client.claim(request).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(status) => {
                        *errors.entry(format!("{:?}", status.code())).or_default() += 1;
                    }
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Samples::with_capacity(count);
    let mut errors: HashMap<String, usize> = HashMap::new();
    for worker in workers {
        let (samples, errs) = worker.await??;
        latencies.extend(samples);
        for (code, n) in errs {
            *errors.entry(code).or_default() += n;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = wheel.cpu_seconds() - cpu_before;
    wheel.stop().await;

    let ok = latencies.len();
    let rate = ok as f64 / elapsed;
    let summary = latencies.summary();
    Ok(Section {
        name: "claims (Claim RPC, offered rep, own token)",
        rows: vec![
            (
                "offers opened first".into(),
                format!(
                    "{count} in {:.1} s ({absorb_rate:.0} leads/s absorbed, publishing as fast as JetStream takes them)",
                    open_time.as_secs_f64()
                ),
            ),
            (
                "claims".into(),
                format!("{ok} ok, errors: {}", crate::report::error_counts(&errors)),
            ),
            (
                "throughput".into(),
                format!("{rate:.0} claims/s with {concurrency} concurrent clients"),
            ),
            ("claim latency p50/p90/p99/max".into(), summary.cell()),
            (
                "wheel CPU".into(),
                format!("{:.2} cores busy", cpu / elapsed),
            ),
            (
                "vs baseline".into(),
                format!(
                    "rate = {:.3}x JetStream pipelined publish rate; p99 = {:.1}x JetStream sequential publish→ack p99",
                    rate / base.pipelined_rate.max(1e-3),
                    summary.p99 / base.sequential_ack.p99.max(1e-3)
                ),
            ),
        ],
        json: json!({
            "offers": count,
            "open_seconds": round(open_time.as_secs_f64()),
            "absorb_leads_per_s": round(absorb_rate),
            "concurrency": concurrency,
            "claims_ok": ok,
            "errors": errors,
            "claims_per_s": round(rate),
            "latency": summary.json(),
            "wheel_cpu_cores": round(cpu / elapsed),
            "ratio_rate_to_baseline_pipelined_rate": round(rate / base.pipelined_rate.max(1e-3)),
            "ratio_p99_to_baseline_sequential_ack_p99": round(summary.p99 / base.sequential_ack.p99.max(1e-3)),
        }),
        checks: vec![
            Check::at_least("claim RPC ≥ 2,000 claims/s", rate, 2000.0, "claims/s"),
            Check::at_most("claim RPC p99 ≤ 5 ms", summary.p99, 5.0, "ms"),
        ],
    })
}

// ------------------------------------------------------------------ expiry

struct FirstOffer {
    offer_id: String,
    deadline_ms: i64,
    expired_seen_ms: Option<i64>,
    expired_commit_ms: Option<i64>,
    next_seen_ms: Option<i64>,
}

/// Opens `open` offers, their leads published as fast as JetStream takes
/// them or, with `rate`, at that constant rate (so their deadlines fall
/// at that rate too), then waits for every first offer's deadline:
/// lateness of the EXPIRED close and of the next rep's offer; RSS sampled
/// throughout.
pub async fn expiry(
    ctx: &Ctx,
    base: &Baseline,
    open: usize,
    rate: Option<u32>,
    window: Duration,
    reps: usize,
) -> Result<Section> {
    let wheel = ctx.fresh_wheel().await?;
    let idle = wheel.memory().unwrap_or_default();
    let window_ms = window.as_millis() as i64;
    wheel.seed_team("bench", reps.max(2), window_ms).await?;
    let mut rx = harness::listen_offers(&ctx.bus).await?;
    let pace = match rate {
        Some(rate) => format!("{rate} leads/s"),
        None => "as fast as JetStream takes them".into(),
    };
    progress(format!(
        "expiry: opening {open} offers at {pace} ({} s window), then waiting for their deadlines",
        window.as_secs()
    ));

    let start = Instant::now();
    let bus = ctx.bus.clone();
    let publisher = tokio::spawn(async move {
        if let Some(rate) = rate {
            let lead_ids = (0..open).map(|_| ids::prefixed("lead")).collect();
            let published = harness::publish_leads_at(&bus, lead_ids, rate, "bench").await??;
            return anyhow::Ok(published.failures);
        }
        let mut acks = harness::Acks::new();
        for n in 0..open {
            acks.push(harness::publish_lead(&bus, &ids::prefixed("lead"), n, "bench").await?)
                .await;
        }
        anyhow::Ok(acks.finish().await)
    });

    let mut first: HashMap<String, FirstOffer> = HashMap::with_capacity(open);
    let mut offer_lead: HashMap<String, String> = HashMap::with_capacity(open);
    let mut open_now: i64 = 0;
    let mut peak_open: i64 = 0;
    let mut rss_at_peak = 0.0f64;
    let mut max_rss = 0.0f64;
    let mut all_open_after: Option<Duration> = None;
    let mut done = 0usize;
    let mut sampler = tokio::time::interval(Duration::from_millis(250));
    let mut last_report = Instant::now();
    let mut last_event = Instant::now();
    let mut cpu_mark = (Instant::now(), wheel.cpu_seconds());
    let mut expiry_cpu = 0.0;
    loop {
        tokio::select! {
            received = rx.recv() => {
                let Some(Received { at, at_ms, event }) = received else { break };
                last_event = at;
                match event {
                    OfferEvent::Opened(opened) => {
                        open_now += 1;
                        if opened.step == 1 {
                            offer_lead.insert(opened.offer_id.clone(), opened.lead_id.clone());
                            first.insert(opened.lead_id.clone(), FirstOffer {
                                offer_id: opened.offer_id,
                                deadline_ms: opened.deadline_ms,
                                expired_seen_ms: None,
                                expired_commit_ms: None,
                                next_seen_ms: None,
                            });
                            if first.len() == open {
                                all_open_after = Some(start.elapsed());
                                progress(format!("all {open} first offers open after {:.1} s", start.elapsed().as_secs_f64()));
                            }
                        } else if opened.step == 2
                            && let Some(offer) = first.get_mut(&opened.lead_id)
                            && offer.next_seen_ms.is_none()
                        {
                            offer.next_seen_ms = Some(at_ms);
                            done += 1;
                        }
                    }
                    OfferEvent::Closed(closed) => {
                        open_now -= 1;
                        if closed.outcome == OfferOutcome::Expired as i32
                            && let Some(lead) = offer_lead.get(&closed.offer_id)
                            && let Some(offer) = first.get_mut(lead)
                            && offer.offer_id == closed.offer_id
                        {
                            offer.expired_seen_ms = Some(at_ms);
                            offer.expired_commit_ms = Some(closed.closed_at_ms);
                        }
                    }
                }
                if open_now > peak_open {
                    peak_open = open_now;
                }
            }
            _ = sampler.tick() => {
                let memory = wheel.memory().unwrap_or_default();
                max_rss = max_rss.max(memory.rss_mib);
                if open_now >= peak_open {
                    rss_at_peak = rss_at_peak.max(memory.rss_mib);
                }
                if first.len() < open {
                    cpu_mark = (Instant::now(), wheel.cpu_seconds());
                }
            }
        }
        if done == open {
            expiry_cpu =
                (wheel.cpu_seconds() - cpu_mark.1) / cpu_mark.0.elapsed().as_secs_f64().max(1e-3);
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "{:.0} s: {} first offers open, {open_now} open now, {done} expired and re-offered, RSS {max_rss:.1} MiB max",
                start.elapsed().as_secs_f64(),
                first.len()
            ));
        }
        if last_event.elapsed() > Duration::from_secs(20) + window {
            progress("no offer events for a whole window; stopping");
            break;
        }
    }
    let memory = wheel.memory().unwrap_or_default();
    let failed = publisher.await??;
    wheel.stop().await;

    let mut seen_expired = Samples::with_capacity(open);
    let mut seen_next = Samples::with_capacity(open);
    let mut committed = Samples::with_capacity(open);
    for offer in first.values() {
        if let Some(ms) = offer.expired_seen_ms {
            seen_expired.push_millis(ms - offer.deadline_ms);
        }
        if let Some(ms) = offer.expired_commit_ms {
            committed.push_millis(ms - offer.deadline_ms);
        }
        if let Some(ms) = offer.next_seen_ms {
            seen_next.push_millis(ms - offer.deadline_ms);
        }
    }
    let next_summary = seen_next.summary();
    let expired_summary = seen_expired.summary();
    let committed_summary = committed.summary();
    let open_time = all_open_after.map(|d| d.as_secs_f64());
    let absorb = open_time.map(|t| open as f64 / t);
    // Issue 16's target (issue 2 asked for 50 ms).
    let mut lateness = Check::at_most(
        &format!("expiry lateness p99 ≤ 20 ms with {open} offers open"),
        next_summary.p99,
        20.0,
        "ms",
    );
    if (peak_open as usize) < open {
        lateness.note = format!(
            "{}; only {peak_open} were open at once: the window ended before all {open} had opened",
            lateness.note
        );
    }
    if done < open {
        lateness.met = false;
        lateness.note = format!("{}; {} offers never re-offered", lateness.note, open - done);
    }
    let memory_mb = rss_at_peak * 1.048_576;
    Ok(Section {
        name: "expiry (deadline → next offer opened) and memory",
        rows: vec![
            (
                "offers".into(),
                format!(
                    "{open} leads at {pace}, {} s window, ring of {} reps ({failed} publish failures)",
                    window.as_secs(),
                    reps.max(2)
                ),
            ),
            (
                "opened".into(),
                match (open_time, absorb) {
                    (Some(t), Some(r)) => format!(
                        "all first offers open after {t:.1} s ({r:.0} leads/s absorbed); peak {peak_open} open at once"
                    ),
                    _ => format!(
                        "only {} of {open} first offers opened; peak {peak_open} open at once",
                        first.len()
                    ),
                },
            ),
            ("expired and re-offered".into(), format!("{done} of {open}")),
            (
                "deadline → next offer received p50/p90/p99/max".into(),
                next_summary.cell(),
            ),
            ("deadline → EXPIRED received".into(), expired_summary.cell()),
            (
                "deadline → expiry committed (wheel clock)".into(),
                committed_summary.cell(),
            ),
            (
                "wheel CPU while expiring".into(),
                format!("{expiry_cpu:.2} cores busy"),
            ),
            (
                "wheel RSS".into(),
                format!(
                    "idle {:.1} MiB; {rss_at_peak:.1} MiB ({memory_mb:.1} MB) at peak open; max {max_rss:.1} MiB; VmHWM {:.1} MiB",
                    idle.rss_mib, memory.hwm_mib
                ),
            ),
            (
                "vs baseline".into(),
                format!(
                    "lateness p99 = {:.1}x JetStream sequential publish→ack p99; absorb rate = {:.3}x JetStream pipelined publish rate",
                    next_summary.p99 / base.sequential_ack.p99.max(1e-3),
                    absorb.unwrap_or(0.0) / base.pipelined_rate.max(1e-3)
                ),
            ),
        ],
        json: json!({
            "open": open,
            "rate": rate,
            "window_ms": window_ms,
            "reps": reps.max(2),
            "all_open_after_s": open_time.map(round),
            "absorb_leads_per_s": absorb.map(round),
            "peak_open": peak_open,
            "reoffered": done,
            "deadline_to_next_offer_received": next_summary.json(),
            "deadline_to_expired_received": expired_summary.json(),
            "deadline_to_expiry_committed": committed_summary.json(),
            "wheel_cpu_cores_expiring": round(expiry_cpu),
            "rss_idle_mib": round(idle.rss_mib),
            "rss_at_peak_open_mib": round(rss_at_peak),
            "rss_max_mib": round(max_rss),
            "vm_hwm_mib": round(memory.hwm_mib),
            "ratio_p99_to_baseline_sequential_ack_p99": round(next_summary.p99 / base.sequential_ack.p99.max(1e-3)),
            "ratio_absorb_to_baseline_pipelined_rate": absorb.map(|a| round(a / base.pipelined_rate.max(1e-3))),
        }),
        checks: vec![
            lateness,
            // Issue 16's target, for 1,000,000 open (issue 2 asked for
            // 100 MB with 100,000 open).
            Check::at_most(
                &format!("wheel RSS ≤ 150 MB with {peak_open} offers open"),
                memory_mb,
                150.0,
                "MB",
            ),
        ],
    })
}

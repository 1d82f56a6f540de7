//! Claims in open loop: each step sends Claim RPCs at a constant rate and
//! times each one from the moment it was *scheduled*, not from when the
//! client got round to sending it, so a wheel that falls behind shows its
//! queue in the latency instead of slowing the generator down (the closed
//! loop of `claims` hides that). Steps run at rising rates (1,000, 2,000,
//! 4,000, 8,000/s by default) on one wheel; the offers of each step are
//! opened before it starts, and the sweep stops after the first step the
//! wheel could not sustain.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use leadwheel_plumbing::auth::Role;
use leadwheel_proto::wheel::v1::ClaimRequest;
use serde_json::json;
use tokio::sync::Mutex;

use crate::harness::{self, Backend};
use crate::report::{Check, Section, error_counts};
use crate::scenarios::{Baseline, Ctx, open_offers, progress};
use crate::stats::{Samples, Summary, round};

/// gRPC connections the requests are spread over (HTTP/2 streams share them).
const CONNECTIONS: usize = 8;
/// Requests in flight at most: beyond it the generator waits, and the wait
/// counts in the latency of every late request (it is measured from the
/// scheduled moment).
const MAX_IN_FLIGHT: usize = 4_096;
/// A step is sustained when it completes at ≥ 95% of its rate with no
/// error and a p99 under this.
const SATURATED_P99_MS: f64 = 1_000.0;

/// One step's figures.
struct Step {
    rate: u32,
    sent: usize,
    ok: usize,
    errors: HashMap<String, usize>,
    achieved: f64,
    latency: Summary,
    open_rate: f64,
    cpu_cores: f64,
}

impl Step {
    fn sustained(&self) -> bool {
        self.errors.is_empty()
            && self.achieved >= 0.95 * self.rate as f64
            && self.latency.p99 <= SATURATED_P99_MS
    }
}

/// The sweep: for each of `rates`, `rate × duration` offers opened, then
/// claimed at `rate` per second.
pub async fn claim_sweep(
    ctx: &Ctx,
    base: &Baseline,
    rates: &[u32],
    duration: Duration,
    reps: usize,
    replicas: usize,
) -> Result<Section> {
    let wheel = ctx.fresh_wheel().await?;
    wheel.seed_team("bench", reps, 3_600_000).await?;
    // Further replicas (Postgres) start once the first holds the writer's
    // lease; the connections are spread over all of them, so most claims
    // reach a replica without the lease.
    let mut others = Vec::new();
    for _ in 1..replicas.max(1) {
        others.push(
            wheel
                .replica(&ctx.wheel_bin, &ctx.nats_url, &ctx.rust_log)
                .await?,
        );
    }
    let replicas: Vec<&harness::Wheel> = std::iter::once(&wheel).chain(others.iter()).collect();
    let cpu_seconds = || replicas.iter().map(|r| r.cpu_seconds()).sum::<f64>();
    let mut rx = harness::listen_offers(&ctx.bus).await?;
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for n in 0..CONNECTIONS {
        clients.push(replicas[n % replicas.len()].client().await?);
    }
    let mut steps: Vec<Step> = Vec::new();
    for &rate in rates {
        let count = (rate as f64 * duration.as_secs_f64()).round() as usize;
        progress(format!("claim sweep: opening {count} offers for {rate}/s"));
        let (offers, open_time) = open_offers(ctx, &mut rx, count, "bench").await?;
        let open_rate = count as f64 / open_time.as_secs_f64().max(1e-3);
        let tokens: HashMap<String, String> = offers
            .iter()
            .map(|(_, rep)| (rep.clone(), harness::token(rep, Role::Rep)))
            .collect();
        progress(format!(
            "claim sweep: {count} claims at {rate}/s, open loop"
        ));
        let cpu_before = cpu_seconds();
        let results = Arc::new(Mutex::new((Samples::with_capacity(count), HashMap::new())));
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(count);
        for (n, (lead_id, rep_id)) in offers.into_iter().enumerate() {
            let scheduled = start + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(scheduled).await;
            let permit = in_flight.clone().acquire_owned().await?;
            let mut client = clients[n % CONNECTIONS].clone();
            let request = harness::authed(
                ClaimRequest {
                    lead_id,
                    rep_id: rep_id.clone(),
                },
                &tokens[&rep_id],
            )?;
            let results = results.clone();
            let scheduled = scheduled.into_std();
            tasks.push(tokio::spawn(async move {
                let outcome = client.claim(request).await;
                let latency = scheduled.elapsed();
                drop(permit);
                let mut results = results.lock().await;
                match outcome {
                    Ok(_) => results.0.push(latency),
                    Err(status) => {
                        let count = results
                            .1
                            .entry(format!("{:?}", status.code()))
                            .or_insert(0usize);
                        *count += 1;
                        if *count == 1 {
                            progress(format!(
                                "claim sweep: first {:?}: {}",
                                status.code(),
                                status.message()
                            ));
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await?;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let (mut samples, errors) = std::mem::take(&mut *results.lock().await);
        let ok = samples.len();
        let step = Step {
            rate,
            sent: count,
            ok,
            errors,
            achieved: ok as f64 / elapsed.max(1e-3),
            latency: samples.summary(),
            open_rate,
            cpu_cores: cpu / elapsed.max(1e-3),
        };
        progress(format!(
            "claim sweep: {rate}/s → {:.0}/s, p99 {:.1} ms",
            step.achieved, step.latency.p99
        ));
        let sustained = step.sustained();
        steps.push(step);
        if !sustained {
            progress("claim sweep: not sustained; higher rates skipped");
            break;
        }
    }
    let replica_count = replicas.len();
    drop(replicas);
    for other in others {
        other.stop().await;
    }
    wheel.stop().await;
    Ok(section(
        &ctx.backend,
        base,
        rates,
        duration,
        replica_count,
        &steps,
    ))
}

fn section(
    backend: &Backend,
    base: &Baseline,
    rates: &[u32],
    duration: Duration,
    replicas: usize,
    steps: &[Step],
) -> Section {
    let spread = if replicas > 1 {
        format!(" spread over {replicas} wheel replicas (the first holds the writer's lease)")
    } else {
        String::new()
    };
    let mut rows = vec![(
        "each step".into(),
        format!(
            "{:.0} s of claims at a constant rate, latency from the scheduled send, {CONNECTIONS} connections{spread}, ≤ {MAX_IN_FLIGHT} in flight",
            duration.as_secs_f64()
        ),
    )];
    for step in steps {
        let errors = error_counts(&step.errors);
        rows.push((
            format!("{}/s", step.rate),
            format!(
                "{:.0}/s achieved ({} of {} ok, errors: {errors}); p50/p90/p99/max {}; wheel{} {:.2} cores; offers opened at {:.0}/s before{}",
                step.achieved,
                step.ok,
                step.sent,
                step.latency.cell(),
                if replicas > 1 { "s" } else { "" },
                step.cpu_cores,
                step.open_rate,
                if step.sustained() { "" } else { "; NOT sustained" }
            ),
        ));
    }
    for rate in rates.iter().skip(steps.len()) {
        rows.push((
            format!("{rate}/s"),
            "not run (a lower rate was not sustained)".into(),
        ));
    }
    let best = steps
        .iter()
        .filter(|s| s.sustained())
        .map(|s| s.achieved)
        .fold(0.0, f64::max);
    rows.push((
        "vs baseline".into(),
        format!(
            "highest sustained rate {best:.0}/s = {:.3}x JetStream pipelined publish rate",
            best / base.pipelined_rate.max(1e-3)
        ),
    ));
    // Issue 16's floors: 5,000/s on SQLite, 3,000/s on Postgres.
    let floor = match backend {
        Backend::Sqlite => 5_000.0,
        Backend::Postgres(_) => 3_000.0,
    };
    let mut checks = vec![Check::at_least(
        &format!("claims ≥ {floor:.0}/s sustained (open loop)"),
        best,
        floor,
        "claims/s",
    )];
    match steps.iter().find(|s| s.rate == 2000) {
        Some(step) => checks.push(Check::at_most(
            "claim p99 ≤ 5 ms at 2,000/s open loop",
            step.latency.p99,
            5.0,
            "ms",
        )),
        None => checks.push(Check {
            target: "claim p99 ≤ 5 ms at 2,000/s open loop".into(),
            measured: "not run".into(),
            met: false,
            note: "the 2,000/s step did not run".into(),
        }),
    }
    Section {
        name: "claim sweep (Claim RPC, open loop)",
        rows,
        json: json!({
            "step_seconds": duration.as_secs_f64(),
            "replicas": replicas,
            "highest_sustained_per_s": round(best),
            "ratio_highest_sustained_to_baseline_pipelined_rate": round(best / base.pipelined_rate.max(1e-3)),
            "steps": steps.iter().map(|s| json!({
                "rate_per_s": s.rate,
                "sent": s.sent,
                "ok": s.ok,
                "errors": s.errors,
                "achieved_per_s": round(s.achieved),
                "latency_from_schedule": s.latency.json(),
                "sustained": s.sustained(),
                "wheel_cpu_cores": round(s.cpu_cores),
                "offers_opened_per_s_before": round(s.open_rate),
            })).collect::<Vec<_>>(),
        }),
        checks,
    }
}

//! A mixed run, as a sales floor loads the wheel: new leads at a constant
//! rate while simulated reps answer each offer they are shown: 40% claim
//! it, 20% pass, 40% let it expire (so deadlines fall at a steady rate
//! too), each answer sent at its scheduled moment (open loop) after a
//! delay of up to a second. Every rep has a capacity cap (high enough
//! never to bind, so the capped path runs without refusing anyone) and a
//! working schedule (every day 00:00–23:59 UTC), so the eligibility work
//! of a real team is done on every decision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::{ids, now_ms};
use leadwheel_proto::events::v1::OfferOutcome;
use leadwheel_proto::wheel::v1::{
    ClaimRequest, PassRequest, RepSchedule, SetRepScheduleRequest, UpdateRepRequest, WorkingHours,
};
use serde_json::json;

use crate::harness::{self, OfferEvent, Received};
use crate::report::{Check, Section, error_counts};
use crate::scenarios::{Baseline, Ctx, progress};
use crate::stats::{Samples, round};

/// gRPC connections the reps' answers are spread over.
const CONNECTIONS: usize = 8;
/// Each rep's capacity cap: the largest the wheel takes, above any load a
/// run reaches (a 60 s run at 200 leads/s leaves ~100 leads per rep).
const CAPACITY: i32 = 10_000;
/// Longest delay before a simulated rep answers an offer.
const MAX_ANSWER_DELAY_MS: u64 = 1_000;

/// What a simulated rep does with an offer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Claim,
    Pass,
    Ignore,
}

/// A deterministic answer and delay per offer (FNV-1a of its id).
fn answer_for(offer_id: &str) -> (Answer, Duration) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in offer_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let answer = match hash % 10 {
        0..=3 => Answer::Claim,
        4 | 5 => Answer::Pass,
        _ => Answer::Ignore,
    };
    let delay = Duration::from_millis((hash >> 8) % MAX_ANSWER_DELAY_MS);
    (answer, delay)
}

/// Latencies and error codes of one kind of answer.
#[derive(Default)]
struct Answers {
    latency: Samples,
    errors: HashMap<String, usize>,
}

/// Runs the mixed load for `duration` at `rate` leads/s with offer
/// windows of `window`.
pub async fn mixed(
    ctx: &Ctx,
    base: &Baseline,
    rate: u32,
    duration: Duration,
    window: Duration,
    reps: usize,
) -> Result<Section> {
    let wheel = ctx.fresh_wheel().await?;
    let rep_ids = wheel
        .seed_team("bench", reps, window.as_millis() as i64)
        .await?;
    let mut admin = wheel.client().await?;
    let admin_token = harness::token("bench-admin", Role::Admin);
    let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| WorkingHours {
            day: day.to_string(),
            from: "00:00".into(),
            to: "23:59".into(),
        })
        .collect::<Vec<_>>();
    for rep_id in &rep_ids {
        let cap = UpdateRepRequest {
            rep_id: rep_id.clone(),
            rank: 0,
            capacity: CAPACITY,
        };
        admin
            .update_rep(harness::authed(cap, &admin_token)?)
            .await
            .context("UpdateRep (capacity) for a bench rep")?;
        let schedule = SetRepScheduleRequest {
            rep_id: rep_id.clone(),
            schedule: Some(RepSchedule {
                time_zone: "UTC".into(),
                hours: every_day.clone(),
                days_off: Vec::new(),
            }),
            tiers: Vec::new(),
            regions: Vec::new(),
        };
        admin
            .set_rep_schedule(harness::authed(schedule, &admin_token)?)
            .await
            .context("SetRepSchedule for a bench rep")?;
    }
    let tokens: Arc<HashMap<String, String>> = Arc::new(
        rep_ids
            .iter()
            .map(|rep| (rep.clone(), harness::token(rep, Role::Rep)))
            .collect(),
    );
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(wheel.client().await?);
    }
    let mut rx = harness::listen_offers(&ctx.bus).await?;
    let live = harness::listen_live_first_offers(&ctx.bus).await?;

    let total = (rate as f64 * duration.as_secs_f64()).round() as usize;
    let lead_ids: Vec<String> = (0..total).map(|_| ids::prefixed("lead")).collect();
    let index: HashMap<String, usize> = lead_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    progress(format!(
        "mixed: {total} leads at {rate}/s over {duration:?}, {reps} capped and scheduled reps, {window:?} windows"
    ));
    let cpu_before = wheel.cpu_seconds();
    let generator = harness::publish_leads_at(&ctx.bus, lead_ids, rate, "bench");

    let claims = Arc::new(Mutex::new(Answers::default()));
    let passes = Arc::new(Mutex::new(Answers::default()));
    let mut first_offer: Vec<Option<Instant>> = vec![None; total];
    let mut deadlines: HashMap<String, i64> = HashMap::new();
    let mut expiry_lateness = Samples::with_capacity(total);
    let mut offers_opened = 0usize;
    let mut answer_tasks = Vec::new();
    // Until the last leads' offers have had a window to expire.
    let end = Instant::now() + duration + window + Duration::from_secs(3);
    while Instant::now() < end {
        let Ok(Some(Received { at, at_ms, event })) =
            tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
        else {
            continue;
        };
        match event {
            OfferEvent::Opened(opened) => {
                offers_opened += 1;
                if opened.step == 1
                    && let Some(&i) = index.get(&opened.lead_id)
                {
                    first_offer[i].get_or_insert(at);
                }
                deadlines.insert(opened.offer_id.clone(), opened.deadline_ms);
                let (answer, delay) = answer_for(&opened.offer_id);
                if answer == Answer::Ignore {
                    continue;
                }
                let mut client = clients[offers_opened % CONNECTIONS].clone();
                let tokens = tokens.clone();
                let (claims, passes) = (claims.clone(), passes.clone());
                answer_tasks.push(tokio::spawn(async move {
                    let scheduled = at + delay;
                    tokio::time::sleep_until(scheduled.into()).await;
                    let token = &tokens[&opened.rep_id];
                    let (outcome, into) = match answer {
                        Answer::Claim => {
                            let request = ClaimRequest {
                                lead_id: opened.lead_id.clone(),
                                rep_id: opened.rep_id.clone(),
                            };
                            let Ok(request) = harness::authed(request, token) else {
                                return;
                            };
                            (client.claim(request).await.map(|_| ()), claims)
                        }
                        _ => {
                            let request = PassRequest {
                                lead_id: opened.lead_id.clone(),
                                rep_id: opened.rep_id.clone(),
                                reason: "busy".into(),
                            };
                            let Ok(request) = harness::authed(request, token) else {
                                return;
                            };
                            (client.pass(request).await.map(|_| ()), passes)
                        }
                    };
                    let latency = scheduled.elapsed();
                    let mut into = into.lock().expect("answers");
                    match outcome {
                        Ok(()) => into.latency.push(latency),
                        Err(status) => {
                            *into
                                .errors
                                .entry(format!("{:?}", status.code()))
                                .or_default() += 1
                        }
                    }
                }));
            }
            OfferEvent::Closed(closed) => {
                if closed.outcome == OfferOutcome::Expired as i32
                    && let Some(deadline) = deadlines.get(&closed.offer_id)
                {
                    expiry_lateness.push_millis(at_ms - deadline);
                }
            }
        }
    }
    for task in answer_tasks {
        let _ = task.await;
    }
    let cpu = wheel.cpu_seconds() - cpu_before;
    let memory = wheel.memory().unwrap_or_default();
    let harness::Published {
        sent,
        failures: publish_failures,
        ..
    } = generator.await??;
    wheel.stop().await;
    let elapsed = duration + window;

    let mut to_offer = Samples::with_capacity(total);
    for (i, got) in first_offer.iter().enumerate() {
        if let Some(at) = got {
            to_offer.push(at.saturating_duration_since(sent[i].0));
        }
    }
    let mut pushed = Samples::with_capacity(total);
    for (lead_id, at) in live.lock().expect("live pushes").iter() {
        if let Some(&i) = index.get(lead_id) {
            pushed.push(at.saturating_duration_since(sent[i].0));
        }
    }
    let offered = to_offer.len();
    let to_offer = to_offer.summary();
    let pushed = pushed.summary();
    let expiries = expiry_lateness.summary();
    let (mut claims, mut passes) = (
        std::mem::take(&mut *claims.lock().expect("answers")),
        std::mem::take(&mut *passes.lock().expect("answers")),
    );
    let claim_summary = claims.latency.summary();
    let pass_summary = passes.latency.summary();
    let mut offer_check = Check::at_most(
        &format!("lead → offer p99 ≤ 5 ms at {rate} leads/s (mixed load)"),
        to_offer.p99,
        5.0,
        "ms",
    );
    if offered < total {
        offer_check = offer_check.missed_because(format!(
            "{} of {total} leads never got a first offer",
            total - offered
        ));
    }
    Ok(Section {
        name: "mixed (leads, claims, passes and expiries at once; caps and schedules on)",
        rows: vec![
            (
                "leads".into(),
                format!(
                    "{total} at {rate}/s over {:.0} s ({publish_failures} publish failures), {offered} got a first offer; {offers_opened} offers opened in all",
                    duration.as_secs_f64()
                ),
            ),
            (
                "lead event → first offer event p50/p90/p99/max".into(),
                to_offer.cell(),
            ),
            ("lead event → live push to the rep".into(), pushed.cell()),
            (
                "claims (40% of offers, open loop)".into(),
                format!(
                    "{} ok, errors: {}; from scheduled send {}",
                    claim_summary.count,
                    error_counts(&claims.errors),
                    claim_summary.cell()
                ),
            ),
            (
                "passes (20% of offers)".into(),
                format!(
                    "{} ok, errors: {}; from scheduled send {}",
                    pass_summary.count,
                    error_counts(&passes.errors),
                    pass_summary.cell()
                ),
            ),
            (
                "expiries (40% of offers): deadline → EXPIRED received".into(),
                format!("{} expired; {}", expiries.count, expiries.cell()),
            ),
            (
                "wheel CPU, RSS at the end".into(),
                format!(
                    "{:.2} cores busy; {:.1} MiB (peak {:.1} MiB)",
                    cpu / elapsed.as_secs_f64(),
                    memory.rss_mib,
                    memory.hwm_mib
                ),
            ),
            (
                "vs baseline".into(),
                format!(
                    "offer p99 = {:.1}x JetStream sequential publish→ack p99 ({:.2} ms)",
                    to_offer.p99 / base.sequential_ack.p99.max(1e-3),
                    base.sequential_ack.p99
                ),
            ),
        ],
        json: json!({
            "rate_per_s": rate,
            "seconds": duration.as_secs_f64(),
            "window_ms": window.as_millis() as u64,
            "leads": total,
            "leads_offered": offered,
            "offers_opened": offers_opened,
            "lead_to_first_offer": to_offer.json(),
            "lead_to_live_push": pushed.json(),
            "claims": claim_summary.json(),
            "claim_errors": claims.errors,
            "passes": pass_summary.json(),
            "pass_errors": passes.errors,
            "expiry_lateness": expiries.json(),
            "wheel_cpu_cores": round(cpu / elapsed.as_secs_f64()),
            "wheel_rss_mib": round(memory.rss_mib),
            "ratio_offer_p99_to_baseline_sequential_ack_p99": round(to_offer.p99 / base.sequential_ack.p99.max(1e-3)),
            "at_ms": now_ms(),
        }),
        checks: vec![
            offer_check,
            Check::at_most(
                "claim p99 ≤ 5 ms (mixed load)",
                claim_summary.p99,
                5.0,
                "ms",
            ),
            Check::at_most(
                "expiry lateness p99 ≤ 20 ms (mixed load)",
                expiries.p99,
                20.0,
                "ms",
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_in_the_stated_shares() {
        let mut counts = HashMap::new();
        for n in 0..10_000 {
            let (answer, delay) = answer_for(&format!("offer-{n}"));
            assert!(delay < Duration::from_millis(MAX_ANSWER_DELAY_MS));
            *counts
                .entry(match answer {
                    Answer::Claim => "claim",
                    Answer::Pass => "pass",
                    Answer::Ignore => "ignore",
                })
                .or_insert(0) += 1;
        }
        let share = |k: &str| counts[k] as f64 / 10_000.0;
        assert!((share("claim") - 0.4).abs() < 0.03, "{counts:?}");
        assert!((share("pass") - 0.2).abs() < 0.03, "{counts:?}");
        assert!((share("ignore") - 0.4).abs() < 0.03, "{counts:?}");
    }
}

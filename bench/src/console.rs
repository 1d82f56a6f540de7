//! The console scenario (issue 14): the web console in front of the real
//! services, with 1,000 reps signed in and one live-offer stream each.
//!
//! Starts intake, the wheel, opportunity, reporting, alerting and
//! `leadwheel-console` as release binaries on fresh stores, seeds two teams
//! of 500 reps (a team's ring holds at most 500) with a routing rule that
//! splits the signups between them, signs every rep in with a signed
//! one-time link (as `leadctl console link` makes) and opens their
//! `/offers/stream` over plain HTTP/1.1. Then two phases:
//!
//! 1. Offer shown: signed signups into intake at a constant rate (open
//!    loop); each is timed from its scheduled send to the offer card
//!    arriving on the stream of the rep the wheel offered it to (the
//!    `wheel.offer.opened` event names the rep). A card on any other rep's
//!    stream is counted as misdelivered. Baselines of the same leads, in the
//!    same run: the `wheel.offer.opened` event on NATS, and the wheel's own
//!    `WatchOffers` gRPC stream at a client for a tenth of the reps.
//! 2. Time to first byte of the pages a rep and a manager load, each page
//!    on its own at a constant rate (open loop, from the scheduled send),
//!    with the reps still connected; the baseline is a static asset of the
//!    same server, measured the same way just before.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::config::Secret;
use leadwheel_proto::wheel::v1::{
    OfferState, RoutingMatch, RoutingRule, SetRoutingRulesRequest, WatchOffersRequest,
};
use reqwest::redirect::Policy;
use serde_json::json;
use tokio::sync::mpsc;

use crate::harness::{self, JWT_SECRET, Launch, OfferEvent, ServiceProcess, Wheel};
use crate::intake::{Conn, Intake, WEBHOOK_SECRET};
use crate::report::{Check, Section};
use crate::scenarios::{Baseline, Ctx};
use crate::stats::{Samples, Summary, fmt_ms};

/// The two teams; signups from the US and GB go to the first, the rest
/// (DE, BR) to the second.
const TEAMS: [&str; 2] = ["console-a", "console-b"];
/// A team's ring holds at most this many reps (the wheel's limit).
const RING: usize = 500;
/// Offers stay open for the whole run: an expiry would re-offer the lead
/// to another rep, which is not what this measures.
const WINDOW_MS: i64 = 1_800_000;
/// Every how many reps one is also watched over gRPC (the baseline).
const GRPC_EVERY: usize = 10;

/// The binaries the scenario runs.
pub struct ConsoleBins {
    pub intake: PathBuf,
    pub opportunity: PathBuf,
    pub alerting: PathBuf,
    pub reporting: PathBuf,
    pub console: PathBuf,
}

/// The sizes of one run.
pub struct ConsoleSizes {
    /// Reps signed in, each holding one offer stream (at most 1,000).
    pub reps: usize,
    /// Signups per second in the offer phase.
    pub rate: u32,
    /// How long the signups run.
    pub duration: Duration,
    /// Page requests per second, each page on its own.
    pub page_rate: u32,
    /// How long each page is requested.
    pub page_each: Duration,
}

fn progress(message: impl AsRef<str>) {
    eprintln!("  .. {}", message.as_ref());
}

/// Every process of the run; stopped (killed) when dropped.
struct System {
    wheel: Wheel,
    intake: Intake,
    console: ServiceProcess,
    /// Opportunity, reporting, alerting: only kept running.
    _others: Vec<ServiceProcess>,
    url: String,
}

impl System {
    async fn start(ctx: &Ctx, bins: &ConsoleBins) -> Result<Self> {
        harness::reset_streams(&ctx.bus).await;
        let log = ctx.rust_log.as_str();
        let wheel = Wheel::start(&ctx.wheel_bin, &ctx.nats_url, &ctx.backend, log).await?;
        let intake = Intake::start(&bins.intake, &ctx.nats_url).await?;
        let start = |service: &'static str, binary: PathBuf, env: Vec<(&'static str, String)>| {
            let nats_url = ctx.nats_url.clone();
            let backend = ctx.backend.clone();
            async move {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let hint = (
                    format!("-p leadwheel-{service}"),
                    format!("--{service}-bin"),
                );
                let launch = Launch {
                    service,
                    binary: &binary,
                    build_hint: (&hint.0, &hint.1),
                    env: &env,
                    serves_grpc: service != "console",
                };
                ServiceProcess::start(&launch, &nats_url, &backend, log).await
            }
        };
        let opportunity = start("opportunity", bins.opportunity.clone(), vec![]).await?;
        let reporting = start("reporting", bins.reporting.clone(), vec![]).await?;
        let alerting = start(
            "alerting",
            bins.alerting.clone(),
            vec![
                (
                    "LEADWHEEL_ALERTING_REPORTING_URL",
                    format!("http://{}", reporting.grpc),
                ),
                // No email: nothing here measures it.
                ("LEADWHEEL_ALERTING_SMTP_HOST", String::new()),
            ],
        )
        .await?;
        let console = start(
            "console",
            bins.console.clone(),
            vec![
                (
                    "LEADWHEEL_CONSOLE_WHEEL_URL",
                    format!("http://{}", wheel.grpc),
                ),
                (
                    "LEADWHEEL_CONSOLE_OPPORTUNITY_URL",
                    format!("http://{}", opportunity.grpc),
                ),
                (
                    "LEADWHEEL_CONSOLE_ALERTING_URL",
                    format!("http://{}", alerting.grpc),
                ),
                (
                    "LEADWHEEL_CONSOLE_REPORTING_URL",
                    format!("http://{}", reporting.grpc),
                ),
            ],
        )
        .await?;
        let url = format!(
            "http://{}",
            console
                .http
                .context("the console announced no http address")?
        );
        Ok(Self {
            wheel,
            intake,
            console,
            _others: vec![opportunity, reporting, alerting],
            url,
        })
    }
}

/// Seeds the two teams (reps split between them) and the routing rule;
/// returns every rep id and the managers' ids.
async fn seed(wheel: &Wheel, reps: usize) -> Result<(Vec<String>, Vec<String>)> {
    let mut all = Vec::with_capacity(reps);
    let mut managers = Vec::new();
    for (i, team) in TEAMS.iter().enumerate() {
        let size = reps / 2 + if i == 0 { reps % 2 } else { 0 };
        all.extend(wheel.seed_team(team, size, WINDOW_MS).await?);
        managers.push(format!("{team}-manager"));
    }
    let mut client = wheel.client().await?;
    let rules = SetRoutingRulesRequest {
        rules: vec![RoutingRule {
            rule_id: "us-gb".into(),
            team_id: TEAMS[0].into(),
            r#match: Some(RoutingMatch {
                countries: vec!["US".into(), "GB".into()],
                ..Default::default()
            }),
            description: "half the bench's signups".into(),
            ..Default::default()
        }],
        default_team_id: TEAMS[1].into(),
        expected_version: 0,
    };
    client
        .set_routing_rules(harness::authed(
            rules,
            &harness::token("bench-admin", Role::Admin),
        )?)
        .await
        .context("setting the bench's routing rules")?;
    Ok((all, managers))
}

fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(Policy::none())
        .tcp_nodelay(true)
        .build()?)
}

/// Signs `user` in with a one-time link; returns the session cookie.
async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    user: &str,
    role: Role,
    team: &str,
) -> Result<String> {
    let key = Secret::new(JWT_SECRET);
    let now = jiff::Timestamp::now().as_second();
    let token = leadwheel_client::link::issue(&key, user, role, Some(team), now, 600);
    // The link's page (it uses nothing), then its Continue button.
    let page = client
        .get(format!("{url}/signin/link?token={token}"))
        .send()
        .await?
        .text()
        .await?;
    let answer = client
        .post(format!("{url}/signin/link"))
        .header("origin", url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(leadwheel_plumbing::testing::link_continue_body(&page))
        .send()
        .await?;
    if answer.status() != 303 {
        bail!(
            "signing {user} in: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
    }
    let cookie = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .context("no session cookie")?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// The team of `rep` (`<team>-rep-NNN`).
fn team_of(rep: &str) -> &str {
    rep.rsplit_once("-rep-").map_or(rep, |(team, _)| team)
}

/// An offer card's lead and state, as it arrived on one rep's stream.
struct Card {
    lead: String,
    open: bool,
    /// Index of the stream's rep.
    rep: usize,
    at: Instant,
}

/// The `data-lead` and whether `data-state` is `open`, from one
/// server-sent `fragment` event.
fn parse_card(event: &str) -> Option<(String, bool)> {
    if !event.contains("event: fragment") {
        return None;
    }
    let attr = |name: &str| {
        let start = event.find(name)? + name.len();
        event[start..].split('"').next().map(str::to_string)
    };
    let lead = attr("data-lead=\"")?;
    let state = attr("data-state=\"")?;
    Some((lead, state == "open"))
}

/// Opens `rep`'s offer stream; waits for its `hello`, then forwards every
/// card to `cards` until the stream ends.
async fn open_stream(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    rep: usize,
    cards: mpsc::UnboundedSender<Card>,
    live: Arc<AtomicUsize>,
) -> Result<()> {
    let mut response = client
        .get(format!("{url}/offers/stream"))
        .header("cookie", cookie)
        .send()
        .await?;
    if response.status() != 200 {
        bail!("the offer stream answered {}", response.status());
    }
    let mut buffer = String::new();
    while !buffer.contains("event: hello") {
        match response.chunk().await? {
            Some(chunk) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            None => bail!("the offer stream ended before its hello"),
        }
    }
    if buffer.contains("event: unavailable") {
        bail!("the offer stream said the wheel is unavailable: {buffer}");
    }
    live.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        // Counts this stream as open until the task ends, however it ends.
        struct Open(Arc<AtomicUsize>);
        impl Drop for Open {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _open = Open(live);
        loop {
            // Events end with a blank line; keep any partial one.
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some((lead, open)) = parse_card(&event) {
                    let at = Instant::now();
                    if cards
                        .send(Card {
                            lead,
                            open,
                            rep,
                            at,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
            match response.chunk().await {
                Ok(Some(chunk)) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return,
            }
        }
    });
    Ok(())
}

/// Watches `rep`'s offers on the wheel's gRPC `WatchOffers` (the baseline)
/// and forwards each offer opened as (lead, time).
async fn watch_grpc(
    wheel: &Wheel,
    rep: String,
    opened: mpsc::UnboundedSender<(String, Instant)>,
) -> Result<()> {
    let mut client = wheel.client().await?;
    let request = harness::authed(
        WatchOffersRequest {
            rep_id: rep.clone(),
        },
        &harness::token(&rep, Role::Rep),
    )?;
    let mut stream = client.watch_offers(request).await?.into_inner();
    tokio::spawn(async move {
        while let Ok(Some(update)) = stream.message().await {
            let at = Instant::now();
            if let Some(offer) = update.offer
                && offer.state() == OfferState::Open
                && opened.send((offer.lead_id, at)).is_err()
            {
                return;
            }
        }
    });
    Ok(())
}

/// What the offer phase measured.
struct OfferPhase {
    sent: usize,
    accepted: usize,
    refused: usize,
    achieved_rate: f64,
    shown: Summary,
    lost: usize,
    misdelivered: usize,
    on_bus: Summary,
    grpc: Summary,
    same_leads: Summary,
    added: Summary,
    console_cpu_per_offer_ms: f64,
}

/// Phase 1: signups at `rate` for `duration`; see the module's doc.
#[allow(clippy::too_many_arguments)]
async fn offer_phase(
    ctx: &Ctx,
    system: &System,
    reps: &[String],
    cards: &mut mpsc::UnboundedReceiver<Card>,
    grpc_opened: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    rate: u32,
    duration: Duration,
) -> Result<OfferPhase> {
    let rep_index: HashMap<&str, usize> = reps
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_str(), i))
        .collect();
    let mut bus_opened = harness::listen_offers(&ctx.bus).await?;
    let secret = Arc::new(Secret::new(WEBHOOK_SECRET));

    // Warm-up: a few signups end to end (connections, caches), excluded.
    let mut warm = Conn::open(system.intake.http).await?;
    for n in 0..20 {
        let (status, _) = warm.signup_answer(30_000_000 + n, &secret).await?;
        if status != 201 {
            bail!("a warm-up signup was answered {status}");
        }
    }
    let warm_until = Instant::now() + Duration::from_secs(30);
    let mut warm_shown = 0;
    while warm_shown < 20 && Instant::now() < warm_until {
        if let Ok(Some(card)) = tokio::time::timeout(Duration::from_millis(200), cards.recv()).await
            && card.open
        {
            warm_shown += 1;
        }
    }
    if warm_shown < 20 {
        bail!(
            "only {warm_shown} of 20 warm-up offers reached a rep's stream in 30 s; the console's log ends:\n{}",
            system.console.log_tail(20)
        );
    }
    // Drop what the warm-up left in the channels.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while cards.try_recv().is_ok() {}
    while grpc_opened.try_recv().is_ok() {}
    while bus_opened.try_recv().is_ok() {}

    let total = (duration.as_secs_f64() * f64::from(rate)).round() as usize;
    progress(format!(
        "console: {total} signups at {rate}/s, offers to {} connected reps",
        reps.len()
    ));
    let (pool_tx, pool_rx) = mpsc::channel(64);
    for _ in 0..64 {
        pool_tx
            .send(Conn::open(system.intake.http).await?)
            .await
            .ok();
    }
    let pool_rx = Arc::new(tokio::sync::Mutex::new(pool_rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let cpu_before = system.console.cpu_seconds();
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let pool_rx = pool_rx.clone();
        let pool_tx = pool_tx.clone();
        let done_tx = done_tx.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let conn = pool_rx.lock().await.recv().await;
            let answer = match conn {
                Some(mut conn) => {
                    let answer = conn.signup_answer(40_000_000 + i, &secret).await;
                    if answer.is_ok() {
                        let _ = pool_tx.send(conn).await;
                    }
                    answer.ok()
                }
                None => None,
            };
            let lead = answer.and_then(|(status, body)| {
                (status == 201)
                    .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                    .flatten()
                    .and_then(|v| v["lead_id"].as_str().map(str::to_string))
            });
            let _ = done_tx.send((lead, due));
        });
    }
    drop(done_tx);
    let mut due: HashMap<String, Instant> = HashMap::with_capacity(total);
    let mut refused = 0;
    while let Some((lead, at)) = done_rx.recv().await {
        match lead {
            Some(lead) => {
                due.insert(lead, at);
            }
            None => refused += 1,
        }
    }
    let achieved_rate = due.len() as f64 / start.elapsed().as_secs_f64();

    // Collect until every accepted lead was shown to its rep, or 15 s of quiet.
    let mut offered: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut shown: HashMap<String, Instant> = HashMap::new();
    let mut elsewhere: HashSet<String> = HashSet::new();
    let mut grpc_at: HashMap<String, Instant> = HashMap::new();
    let mut early: Vec<Card> = Vec::new();
    let mut quiet_since = Instant::now();
    loop {
        let mut got = false;
        while let Ok(received) = bus_opened.try_recv() {
            if let OfferEvent::Opened(opened) = received.event
                && let Some(&rep) = rep_index.get(opened.rep_id.as_str())
            {
                offered.entry(opened.lead_id).or_insert((rep, received.at));
            }
            got = true;
        }
        while let Ok((lead, at)) = grpc_opened.try_recv() {
            grpc_at.entry(lead).or_insert(at);
            got = true;
        }
        while let Ok(card) = cards.try_recv() {
            early.push(card);
            got = true;
        }
        // A card may arrive before the bus event naming its rep.
        early.retain(|card| {
            if !card.open {
                return false;
            }
            match offered.get(&card.lead) {
                Some(&(rep, _)) if rep == card.rep => {
                    shown.entry(card.lead.clone()).or_insert(card.at);
                    false
                }
                Some(_) => {
                    elsewhere.insert(card.lead.clone());
                    false
                }
                None => true,
            }
        });
        if got {
            quiet_since = Instant::now();
        }
        let all_shown = due.keys().all(|lead| shown.contains_key(lead));
        if all_shown || quiet_since.elapsed() > Duration::from_secs(15) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Cards of leads the bus never named: shown, but to nobody known.
    elsewhere.extend(early.into_iter().map(|card| card.lead));
    let console_cpu = system.console.cpu_seconds() - cpu_before;

    let mut shown_ms = Samples::with_capacity(due.len());
    let mut bus_ms = Samples::with_capacity(due.len());
    let mut grpc_ms = Samples::with_capacity(due.len() / GRPC_EVERY + 1);
    let mut same_ms = Samples::with_capacity(due.len() / GRPC_EVERY + 1);
    let mut added_ms = Samples::with_capacity(due.len() / GRPC_EVERY + 1);
    let mut lost = 0;
    for (lead, &sent_at) in &due {
        if let Some((_, at)) = offered.get(lead) {
            bus_ms.push(at.saturating_duration_since(sent_at));
        }
        let Some(&at) = shown.get(lead) else {
            lost += 1;
            continue;
        };
        shown_ms.push(at.saturating_duration_since(sent_at));
        if let Some(&grpc) = grpc_at.get(lead) {
            grpc_ms.push(grpc.saturating_duration_since(sent_at));
            same_ms.push(at.saturating_duration_since(sent_at));
            added_ms.push(at.saturating_duration_since(grpc));
        }
    }
    let misdelivered = elsewhere.iter().filter(|l| due.contains_key(*l)).count();
    Ok(OfferPhase {
        sent: total,
        accepted: due.len(),
        refused,
        achieved_rate,
        shown: shown_ms.summary(),
        lost,
        misdelivered,
        on_bus: bus_ms.summary(),
        grpc: grpc_ms.summary(),
        same_leads: same_ms.summary(),
        added: added_ms.summary(),
        console_cpu_per_offer_ms: 1000.0 * console_cpu / shown_ms.len().max(1) as f64,
    })
}

/// A page and who loads it.
struct Page {
    path: String,
    who: Who,
}

#[derive(Clone, Copy)]
enum Who {
    /// Any rep (the requests rotate over them).
    Rep,
    /// The first team's manager.
    Manager,
}

/// What the page phase measured, per page in the order of the rotation.
struct PagePhase {
    /// (page, TTFB, requests not answered 200, requests answered per second).
    pages: Vec<(String, Summary, usize, f64)>,
    all: Summary,
    baseline: Summary,
}

/// Phase 2: each page on its own, `rate` requests/s for `each` (open
/// loop), the static asset first (the baseline). One page at a time, so a
/// slow page's backlog does not show up in the next page's figures; every
/// answer of a page is in before the next page starts.
async fn page_phase(
    url: &str,
    rep_cookies: &[String],
    manager_cookie: &str,
    rate: u32,
    each: Duration,
) -> Result<PagePhase> {
    let asset = format!("/assets/{}/console.css", env!("CARGO_PKG_VERSION"));
    let rep_pages = [
        "/",
        "/leads",
        "/pool",
        "/opportunities",
        "/numbers",
        "/alerts",
    ];
    let manager_pages = [
        "/board",
        "/charts",
        "/team",
        "/numbers",
        "/opportunities",
        "/alerts",
    ];
    let mut pages: Vec<Page> = vec![Page {
        path: asset,
        who: Who::Rep,
    }];
    pages.extend(rep_pages.iter().map(|p| Page {
        path: p.to_string(),
        who: Who::Rep,
    }));
    pages.extend(manager_pages.iter().map(|p| Page {
        path: p.to_string(),
        who: Who::Manager,
    }));
    let label = |page: &Page| match page.who {
        Who::Rep if page.path.starts_with("/assets/") => "static asset (baseline)".to_string(),
        Who::Rep => format!("rep {}", page.path),
        Who::Manager => format!("manager {}", page.path),
    };
    let client = http_client()?;
    // Every page answers 200 before the clock starts (sessions, channels).
    for page in &pages {
        let cookie = match page.who {
            Who::Rep => &rep_cookies[0],
            Who::Manager => manager_cookie,
        };
        let answer = client
            .get(format!("{url}{}", page.path))
            .header("cookie", cookie)
            .send()
            .await?;
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        if status != 200 {
            bail!("{} answered {status}: {body}", label(page));
        }
    }
    let per_page = (each.as_secs_f64() * f64::from(rate)).round().max(1.0) as usize;
    progress(format!(
        "console: {} pages one after another, {per_page} requests each at {rate}/s",
        pages.len()
    ));
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut rows = Vec::with_capacity(pages.len());
    let mut all = Samples::default();
    for (which, page) in pages.iter().enumerate() {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        for i in 0..per_page {
            let due = start + interval.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let cookie = match page.who {
                Who::Rep => rep_cookies[i % rep_cookies.len()].clone(),
                Who::Manager => manager_cookie.to_string(),
            };
            let request = client
                .get(format!("{url}{}", page.path))
                .header("cookie", cookie);
            let done_tx = done_tx.clone();
            tokio::spawn(async move {
                // reqwest answers once the status line and headers are in:
                // the first byte (the console writes a page's head and body
                // together).
                let answer = request.send().await;
                let ttfb = due.elapsed();
                let ok = match answer {
                    Ok(answer) => answer.status() == 200 && answer.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let _ = done_tx.send((ttfb, ok));
            });
        }
        drop(done_tx);
        let mut samples = Samples::with_capacity(per_page);
        let mut failed = 0usize;
        while let Some((ttfb, ok)) = done_rx.recv().await {
            if ok {
                samples.push(ttfb);
            } else {
                failed += 1;
            }
        }
        let answered_per_s = samples.len() as f64 / start.elapsed().as_secs_f64();
        if which != 0 {
            all.extend(samples.clone());
        }
        rows.push((label(page), samples.summary(), failed, answered_per_s));
    }
    let (_, baseline, _, _) = rows.remove(0);
    Ok(PagePhase {
        pages: rows,
        all: all.summary(),
        baseline,
    })
}

fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.1}x", value / base)
    } else {
        "n/a".into()
    }
}

pub async fn console(
    ctx: &Ctx,
    base: &Baseline,
    bins: &ConsoleBins,
    sizes: &ConsoleSizes,
) -> Result<Section> {
    if sizes.reps < 2 || sizes.reps > 2 * RING {
        bail!(
            "--reps must be 2..={} for the console (two teams of at most {RING})",
            2 * RING
        );
    }
    progress("console: starting intake, wheel, opportunity, reporting, alerting and the console");
    let system = System::start(ctx, bins).await?;
    let (reps, managers) = seed(&system.wheel, sizes.reps).await?;

    progress(format!("console: signing in {} reps", reps.len()));
    let client = http_client()?;
    let signed = Instant::now();
    let cookies: Vec<String> = futures::stream::iter(reps.iter())
        .map(|rep| sign_in(&client, &system.url, rep, Role::Rep, team_of(rep)))
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let manager_cookie =
        sign_in(&client, &system.url, &managers[0], Role::Manager, TEAMS[0]).await?;
    let sign_in_s = signed.elapsed().as_secs_f64();

    progress("console: opening one offer stream per rep");
    let (cards_tx, mut cards) = mpsc::unbounded_channel();
    let stream_client = reqwest::Client::builder()
        .redirect(Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(0)
        .build()?;
    let live = Arc::new(AtomicUsize::new(0));
    let connected = Instant::now();
    futures::stream::iter(cookies.iter().enumerate())
        .map(|(i, cookie)| {
            open_stream(
                &stream_client,
                &system.url,
                cookie,
                i,
                cards_tx.clone(),
                live.clone(),
            )
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>>>()
        .context("opening the reps' offer streams")?;
    let connect_s = connected.elapsed().as_secs_f64();
    drop(cards_tx);
    let (grpc_tx, mut grpc_opened) = mpsc::unbounded_channel();
    for rep in reps.iter().step_by(GRPC_EVERY) {
        watch_grpc(&system.wheel, rep.clone(), grpc_tx.clone()).await?;
    }
    drop(grpc_tx);
    let console_rss = system.console.memory()?.rss_mib;

    let offers = offer_phase(
        ctx,
        &system,
        &reps,
        &mut cards,
        &mut grpc_opened,
        sizes.rate,
        sizes.duration,
    )
    .await?;
    let pages = page_phase(
        &system.url,
        &cookies,
        &manager_cookie,
        sizes.page_rate,
        sizes.page_each,
    )
    .await?;
    let console_after = system.console.memory()?;
    let still_open = live.load(Ordering::SeqCst);

    let mut rows = vec![
        (
            "reps signed in (one-time links) / streams open".to_string(),
            format!(
                "{} in {sign_in_s:.1} s / {} in {connect_s:.1} s; console RSS {console_rss:.0} MiB",
                reps.len(),
                reps.len()
            ),
        ),
        (
            format!("signups at {}/s: accepted / refused", sizes.rate),
            format!(
                "{} of {} ({:.0}/s achieved) / {}",
                offers.accepted, offers.sent, offers.achieved_rate, offers.refused
            ),
        ),
        (
            "signup → offer card on the rep's stream".into(),
            offers.shown.cell(),
        ),
        (
            "  lost / shown on another rep's stream".into(),
            format!("{} / {}", offers.lost, offers.misdelivered),
        ),
        (
            "baseline: signup → wheel.offer.opened on NATS".into(),
            format!(
                "{} (card p99 {} of it)",
                offers.on_bus.cell(),
                ratio(offers.shown.p99, offers.on_bus.p99)
            ),
        ),
        (
            format!(
                "baseline: signup → wheel WatchOffers at a gRPC client (1 rep in {GRPC_EVERY})"
            ),
            offers.grpc.cell(),
        ),
        (
            "  the same leads' cards on the console stream".into(),
            format!(
                "{} (p99 {} of gRPC's)",
                offers.same_leads.cell(),
                ratio(offers.same_leads.p99, offers.grpc.p99)
            ),
        ),
        (
            "  console's own part (card − gRPC, same lead)".into(),
            offers.added.cell(),
        ),
        (
            "raw JetStream publish→ack, one at a time (run baseline)".into(),
            format!(
                "p50 {} / p99 {} ms (card p99 {} of it)",
                fmt_ms(base.sequential_ack.p50),
                fmt_ms(base.sequential_ack.p99),
                ratio(offers.shown.p99, base.sequential_ack.p99)
            ),
        ),
        (
            "console CPU per offer shown".into(),
            format!("{:.2} ms", offers.console_cpu_per_offer_ms),
        ),
        (
            "console RSS after the pages".to_string(),
            format!(
                "{:.0} MiB (peak {:.0})",
                console_after.rss_mib, console_after.hwm_mib
            ),
        ),
        ("TTFB static asset (baseline)".into(), pages.baseline.cell()),
    ];
    let mut worst: Option<(String, f64)> = None;
    let mut page_json = Vec::new();
    for (label, summary, failed, answered_per_s) in &pages.pages {
        rows.push((
            format!("TTFB {label}"),
            format!(
                "{} (p99 {} of the asset's; {answered_per_s:.0}/s answered){}",
                summary.cell(),
                ratio(summary.p99, pages.baseline.p99),
                if *failed > 0 {
                    format!("; {failed} not 200")
                } else {
                    String::new()
                }
            ),
        ));
        if worst.as_ref().is_none_or(|(_, p99)| summary.p99 > *p99) {
            worst = Some((label.clone(), summary.p99));
        }
        page_json.push(json!({ "page": label, "ttfb": summary.json(), "failed": failed, "answered_per_s": answered_per_s,
                               "p99_vs_asset": summary.p99 / pages.baseline.p99.max(1e-9) }));
    }
    rows.push(("TTFB every page together".into(), pages.all.cell()));
    let failed_pages: usize = pages.pages.iter().map(|(_, _, f, _)| f).sum();
    let page_requests: usize = failed_pages
        + pages
            .pages
            .iter()
            .map(|(_, s, _, _)| s.count)
            .sum::<usize>();
    rows.push((
        "offer streams still open at the end".into(),
        format!("{still_open} of {}", reps.len()),
    ));
    let (worst_page, worst_p99) = worst.unwrap_or_default();
    let json = json!({
        "reps": reps.len(), "sign_in_s": sign_in_s, "connect_s": connect_s,
        "offers": {
            "rate": sizes.rate, "duration_s": sizes.duration.as_secs_f64(),
            "sent": offers.sent, "accepted": offers.accepted, "refused": offers.refused,
            "achieved_per_s": offers.achieved_rate,
            "shown": offers.shown.json(), "lost": offers.lost, "misdelivered": offers.misdelivered,
            "on_bus": offers.on_bus.json(), "grpc_watch": offers.grpc.json(),
            "same_leads_shown": offers.same_leads.json(), "console_added": offers.added.json(),
            "p99_vs_grpc_watch": offers.same_leads.p99 / offers.grpc.p99.max(1e-9),
            "p99_vs_bus": offers.shown.p99 / offers.on_bus.p99.max(1e-9),
            "console_cpu_per_offer_ms": offers.console_cpu_per_offer_ms,
        },
        "pages": {
            "rate_per_page": sizes.page_rate, "each_s": sizes.page_each.as_secs_f64(),
            "asset": pages.baseline.json(), "all": pages.all.json(), "each": page_json,
        },
        "streams_open_at_end": still_open,
        "console_rss_mib": { "streams_open": console_rss, "after": console_after.rss_mib, "peak": console_after.hwm_mib },
    });
    let checks = vec![
        Check::at_most(
            &format!("page TTFB p99 ≤ 50 ms (worst: {worst_page})"),
            worst_p99,
            50.0,
            "ms",
        ),
        Check::at_most(
            &format!(
                "signup → offer shown p99 ≤ 100 ms with {} reps connected",
                reps.len()
            ),
            offers.shown.p99,
            100.0,
            "ms",
        ),
        Check::at_least(
            "every offer shown to its rep and no other",
            offers
                .accepted
                .saturating_sub(offers.lost + offers.misdelivered) as f64,
            offers.accepted as f64,
            "offers",
        ),
        Check::at_least(
            "every page request answered 200",
            (page_requests - failed_pages) as f64,
            page_requests as f64,
            "requests",
        ),
        Check::at_least(
            "every offer stream still open at the end",
            still_open as f64,
            reps.len() as f64,
            "streams",
        ),
    ];
    drop(system);
    Ok(Section {
        name: "console",
        rows,
        json,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_card_of_a_fragment() {
        let event = "event: fragment\ndata: <article class=\"card state-open\" id=\"offer-lead_1\" data-item data-state=\"open\" data-lead=\"lead_1\" data-deadline=\"9\">\n\n";
        assert_eq!(parse_card(event), Some(("lead_1".into(), true)));
        let closed = event.replace("data-state=\"open\"", "data-state=\"missed\"");
        assert_eq!(parse_card(&closed), Some(("lead_1".into(), false)));
        assert_eq!(parse_card("event: hello\ndata: 123\n\n"), None);
        assert_eq!(team_of("console-a-rep-007"), "console-a");
    }
}

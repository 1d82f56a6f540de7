//! `offers watch`: a rep's offers, live. On a terminal the screen is redrawn
//! every second with a countdown per offer; piped, one line per event; with
//! `--output json`, one JSON object per update. The stream is reopened with
//! a backoff when it drops.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{OfferUpdate, WatchOffersRequest};
use serde::Serialize;
use tonic::Streaming;

use crate::cli::Output;
use crate::clock::{self, Skew};
use crate::conn::Ctx;
use crate::error::{Target, describe_status, is_permanent};
use crate::output::{Table, print_out};
use crate::term;
use crate::views::OfferView;

/// Events kept on screen.
const RECENT: usize = 8;
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the watcher knows: the open offers, recent events, the clock skew.
#[derive(Debug)]
pub struct Watch {
    rep: String,
    /// Open offers by offer id.
    open: BTreeMap<String, OfferView>,
    /// Offers already announced, so a reconnect does not announce them again.
    seen: HashSet<String>,
    recent: VecDeque<EventLine>,
    pub skew: Skew,
    status: String,
    /// Columns to fit lines to (None: never cut).
    pub width: Option<usize>,
}

/// One event: what identifies it (time, what, lead id), the lead's name
/// and company (which give way first on a narrow terminal), what it says.
#[derive(Debug, Clone)]
struct EventLine {
    head: String,
    who: String,
    tail: String,
}

impl EventLine {
    fn render(&self, width: Option<usize>) -> String {
        term::fit_parts(&self.head, &self.who, &self.tail, width)
    }
}

impl Watch {
    pub fn new(rep: &str) -> Self {
        Self {
            rep: rep.to_string(),
            open: BTreeMap::new(),
            seen: HashSet::new(),
            recent: VecDeque::new(),
            skew: Skew::default(),
            status: "connecting".into(),
            width: None,
        }
    }

    /// A new stream starts with the open offers: forget what we had, since
    /// offers may have closed while we were away.
    pub fn connected(&mut self) {
        self.open.clear();
        self.status = "connected".into();
    }

    pub fn disconnected(&mut self, reason: &str, retry_in: Duration) {
        self.status = format!(
            "disconnected ({reason}); reconnecting in {} s",
            retry_in.as_secs()
        );
        self.note(EventLine {
            head: format!(
                "{}  stream lost: {reason}",
                clock::time_of_day(clock::local_now_ms())
            ),
            who: String::new(),
            tail: String::new(),
        });
    }

    fn note(&mut self, line: EventLine) {
        if self.recent.len() == RECENT {
            self.recent.pop_back();
        }
        self.recent.push_front(line);
    }

    /// Applies one update received at local time `local_now`; returns the
    /// event line when there is news.
    pub fn apply(&mut self, update: OfferUpdate, local_now: i64) -> Option<String> {
        if update.server_time_ms != 0 {
            self.skew = Skew::observe(update.server_time_ms, local_now);
        }
        let mut offer = OfferView::from(update.offer?);
        let key = if offer.offer_id.is_empty() {
            format!("{}/{}", offer.lead_id, offer.step)
        } else {
            offer.offer_id.clone()
        };
        // A closing update may leave the lead out; we saw it when it opened.
        if offer.lead.is_none() {
            offer.lead = self.open.get(&key).and_then(|o| o.lead.clone());
        }
        let who = describe_lead(&offer);
        let at = clock::time_of_day(local_now);
        let line = if offer.state == "open" {
            let fresh = self.seen.insert(key.clone());
            let left = clock::countdown(self.skew.remaining(offer.deadline_ms, local_now));
            let line = EventLine {
                head: format!("{at}  offered  {}  ", offer.lead_id),
                who,
                tail: format!(
                    " · {left} to claim, until {} UTC",
                    clock::time_of_day(self.skew.to_local(offer.deadline_ms))
                ),
            };
            self.open.insert(key, offer);
            fresh.then_some(line)
        } else {
            self.open.remove(&key);
            let reason = if offer.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", offer.reason)
            };
            Some(EventLine {
                head: format!("{at}  {:<7}  {}  ", offer.state, offer.lead_id),
                who,
                tail: reason,
            })
        };
        let line = line?;
        let text = line.render(self.width);
        self.note(line);
        Some(text)
    }

    /// The whole screen at local time `local_now`.
    pub fn screen(&self, local_now: i64) -> String {
        let fit = |line: String| match self.width {
            Some(width) => term::cut(&line, width) + "\n",
            None => line + "\n",
        };
        let mut out = fit(format!(
            "offers for {} · {} UTC · server clock {} · {}",
            self.rep,
            clock::time_of_day(local_now),
            self.skew.describe(),
            self.status
        ));
        out.push_str(&fit(format!(
            "claim: leadctl claim LEAD --as {rep} · pass: leadctl pass LEAD --as {rep} --reason TEXT · Ctrl-C quits",
            rep = self.rep
        )));
        out.push('\n');
        if self.open.is_empty() {
            out.push_str(&fit(format!(
                "no open offers: waiting for the wheel to offer {} a lead…",
                self.rep
            )));
        } else {
            let mut offers: Vec<&OfferView> = self.open.values().collect();
            offers.sort_by_key(|o| o.deadline_ms);
            let mut table = Table::new(&[
                "LEAD",
                "NAME",
                "COMPANY",
                "TIER",
                "DEADLINE (UTC)",
                "LEFT",
                "",
            ])
            // The lead id is what a rep types to claim: names give way.
            .flexible(&[1, 2]);
            for o in offers {
                let lead = o.lead.clone().unwrap_or_default();
                let remaining = self.skew.remaining(o.deadline_ms, local_now);
                table.row(vec![
                    o.lead_id.clone(),
                    lead.name,
                    lead.company,
                    lead.tier,
                    clock::time_of_day(self.skew.to_local(o.deadline_ms)),
                    clock::countdown(remaining),
                    clock::bar(remaining, o.deadline_ms - o.opened_at_ms, 10),
                ]);
            }
            out.push_str(&table.render_within(self.width));
        }
        if !self.recent.is_empty() {
            out.push_str("\nrecent\n");
            let indented = self.width.map(|w| w.saturating_sub(2));
            for line in &self.recent {
                out.push_str("  ");
                out.push_str(&line.render(indented));
                out.push('\n');
            }
        }
        out
    }
}

fn describe_lead(offer: &OfferView) -> String {
    match &offer.lead {
        Some(l) if !l.company.is_empty() => format!("{} ({})", l.name, l.company),
        Some(l) => l.name.clone(),
        None => String::new(),
    }
}

/// One JSON line per update.
#[derive(Serialize)]
struct UpdateLine<'a> {
    server_time_ms: i64,
    offer: &'a OfferView,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Redraw the screen every second.
    Screen,
    /// Print event lines.
    Lines,
    /// Print JSON lines.
    Json,
}

/// Hides the cursor while the screen is redrawn; shows it again on the way out.
struct CursorGuard(bool);

impl CursorGuard {
    fn new(active: bool) -> Self {
        if active {
            print_out("\x1b[?25l");
        }
        Self(active)
    }
}

impl Drop for CursorGuard {
    fn drop(&mut self) {
        if self.0 {
            print_out("\x1b[?25h");
        }
    }
}

enum OpenError {
    Fatal(anyhow::Error),
    Transient(String),
}

async fn open(ctx: &Ctx, rep: &str) -> Result<Streaming<OfferUpdate>, OpenError> {
    let channel = ctx
        .channel(Target::Wheel, None)
        .await
        .map_err(|err| OpenError::Transient(err.to_string()))?;
    let mut client = WheelServiceClient::new(channel);
    match client
        .watch_offers(WatchOffersRequest {
            rep_id: rep.to_string(),
        })
        .await
    {
        Ok(response) => Ok(response.into_inner()),
        Err(status) if is_permanent(status.code()) => {
            Err(OpenError::Fatal(ctx.fail(Target::Wheel, status)))
        }
        Err(status) => Err(OpenError::Transient(describe_status(
            Target::Wheel,
            ctx.url(Target::Wheel),
            &status,
        ))),
    }
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let rep = ctx.identity.rep("offers watch")?;
    let mode = match ctx.output() {
        Output::Json => Mode::Json,
        Output::Table if std::io::stdout().is_terminal() => Mode::Screen,
        Output::Table => Mode::Lines,
        Output::Csv => anyhow::bail!("offers watch has no CSV output; use --output json"),
    };
    let mut watch = Watch::new(&rep);
    watch.width = term::width();
    let _cursor = CursorGuard::new(mode == Mode::Screen);
    let redraw = |watch: &mut Watch| {
        if mode == Mode::Screen {
            // Read again each time: the terminal may have been resized.
            watch.width = term::width();
            print_out(&format!(
                "\x1b[H\x1b[2J{}",
                watch.screen(clock::local_now_ms())
            ));
        }
    };
    // Ctrl-C or SIGTERM: leave cleanly, so the cursor comes back.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ever_connected = false;
    let mut backoff = Duration::from_secs(1);

    loop {
        let reason = match open(ctx, &rep).await {
            Ok(mut stream) => {
                if mode == Mode::Lines {
                    let now = clock::time_of_day(clock::local_now_ms());
                    if ever_connected {
                        print_out(&format!("{now}  reconnected\n"));
                    } else {
                        print_out(&format!(
                            "{now}  watching offers for {rep} (Ctrl-C quits)\n"
                        ));
                    }
                }
                ever_connected = true;
                backoff = Duration::from_secs(1);
                watch.connected();
                redraw(&mut watch);
                loop {
                    tokio::select! {
                        _ = &mut ctrl_c => return Ok(()),
                        message = stream.message() => match message {
                            Ok(Some(update)) => {
                                let server_time_ms = update.server_time_ms;
                                let offer = update.offer.clone().map(OfferView::from);
                                let line = watch.apply(update, clock::local_now_ms());
                                match mode {
                                    Mode::Screen => redraw(&mut watch),
                                    Mode::Lines => if let Some(line) = line {
                                        print_out(&format!("{line}\n"));
                                    },
                                    Mode::Json => if let Some(offer) = &offer {
                                        print_out(&format!(
                                            "{}\n",
                                            serde_json::to_string(&UpdateLine { server_time_ms, offer })?
                                        ));
                                    },
                                }
                            }
                            Ok(None) => break "the wheel ended the stream".to_string(),
                            Err(status) if is_permanent(status.code()) => {
                                return Err(ctx.fail(Target::Wheel, status));
                            }
                            Err(status) => break describe_status(Target::Wheel, ctx.url(Target::Wheel), &status),
                        },
                        _ = tick.tick() => redraw(&mut watch),
                    }
                }
            }
            // The first connection failing is a plain error: most likely
            // `leadwheel dev` is not running at all.
            Err(OpenError::Transient(reason)) if !ever_connected => {
                return Err(anyhow::anyhow!(reason));
            }
            Err(OpenError::Transient(reason)) => reason,
            Err(OpenError::Fatal(err)) => return Err(err),
        };
        watch.disconnected(&reason, backoff);
        match mode {
            Mode::Screen => redraw(&mut watch),
            Mode::Lines => print_out(&format!(
                "{}  stream lost: {reason}; reconnecting in {} s\n",
                clock::time_of_day(clock::local_now_ms()),
                backoff.as_secs()
            )),
            Mode::Json => {}
        }
        let retry_at = tokio::time::Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                _ = tokio::time::sleep_until(retry_at) => break,
                _ = tick.tick() => redraw(&mut watch),
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadwheel_proto::wheel::v1::{LeadSummary, Offer, OfferState};

    fn update(state: OfferState, server_time_ms: i64) -> OfferUpdate {
        OfferUpdate {
            offer: Some(Offer {
                offer_id: "o1".into(),
                lead_id: "01LEAD".into(),
                team_id: "demo".into(),
                rep_id: "ana".into(),
                state: state as i32,
                opened_at_ms: 100_000,
                deadline_ms: 130_000,
                reason: if state == OfferState::Passed {
                    "on a call".into()
                } else {
                    String::new()
                },
                lead: Some(LeadSummary {
                    lead_id: "01LEAD".into(),
                    name: "Jane Doe".into(),
                    company: "Acme".into(),
                    tier: "A".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            server_time_ms,
        }
    }

    #[test]
    fn an_offer_counts_down_then_closes() {
        let mut watch = Watch::new("ana");
        watch.connected();
        // The server is 1 s ahead of us.
        let line = watch
            .apply(update(OfferState::Open, 101_000), 100_000)
            .unwrap();
        assert!(
            line.contains("offered") && line.contains("Jane Doe (Acme)"),
            "{line}"
        );
        assert!(line.contains("0:29 to claim"), "{line}");

        let screen = watch.screen(110_000);
        assert!(screen.contains("server clock +1.0 s"), "{screen}");
        assert!(
            screen.contains("01LEAD") && screen.contains("0:19"),
            "{screen}"
        );
        // The deadline is shown on our clock: server 130 s is our 129 s.
        assert!(screen.contains(&clock::time_of_day(129_000)), "{screen}");

        let line = watch
            .apply(update(OfferState::Claimed, 112_000), 111_000)
            .unwrap();
        assert!(line.contains("claimed"), "{line}");
        let screen = watch.screen(112_000);
        assert!(screen.contains("no open offers"), "{screen}");
        assert!(screen.contains("recent"), "{screen}");
    }

    #[test]
    fn a_pass_shows_its_reason() {
        let mut watch = Watch::new("ana");
        watch.apply(update(OfferState::Open, 100_000), 100_000);
        let line = watch
            .apply(update(OfferState::Passed, 101_000), 101_000)
            .unwrap();
        assert!(
            line.contains("passed") && line.contains("(on a call)"),
            "{line}"
        );
    }

    #[test]
    fn a_reconnect_does_not_announce_known_offers_again() {
        let mut watch = Watch::new("ana");
        assert!(
            watch
                .apply(update(OfferState::Open, 100_000), 100_000)
                .is_some()
        );
        watch.disconnected("stream reset", Duration::from_secs(2));
        assert!(watch.screen(100_500).contains("reconnecting in 2 s"));
        watch.connected();
        assert!(
            watch
                .apply(update(OfferState::Open, 101_000), 101_000)
                .is_none()
        );
        assert!(watch.screen(101_000).contains("01LEAD"));
    }

    #[test]
    fn lines_fit_the_width_and_keep_the_lead_id() {
        let mut watch = Watch::new("ana");
        watch.width = Some(80);
        let mut long = update(OfferState::Open, 100_000);
        let offer = long.offer.as_mut().unwrap();
        offer.lead_id = "lead_01JD3R2X7Q8M5V6N4K2PQRST".into();
        let lead = offer.lead.as_mut().unwrap();
        lead.name = "Maximiliana Konstantinopoulou-Vandenberghe".into();
        lead.company = "Nordwind Energie und Wasserstoff Beteiligungs GmbH".into();
        let line = watch.apply(long, 100_000).unwrap();
        assert!(line.chars().count() <= 80, "{line}");
        // The name gave way; the id and the countdown stayed.
        assert!(
            line.contains("lead_01JD3R2X7Q8M5V6N4K2PQRST · 0:30 to claim"),
            "{line}"
        );
        let screen = watch.screen(101_000);
        for line in screen.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} > 80: {line}",
                line.chars().count()
            );
        }
        assert!(
            screen.contains("lead_01JD3R2X7Q8M5V6N4K2PQRST  Maxim"),
            "{screen}"
        );
        // Unbounded (piped), nothing is cut.
        watch.width = None;
        let screen = watch.screen(101_000);
        assert!(screen.contains("Beteiligungs GmbH"), "{screen}");
    }
}

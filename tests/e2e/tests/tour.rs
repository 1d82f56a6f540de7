//! End-to-end: the README's five-minute tour, word for word.
//!
//! Every command line in the tour's code blocks (from "A five-minute tour"
//! up to "Talk to it directly") is run here as written, through `bash`,
//! against a real `leadwheel dev`, with the placeholders (`<FIRST_LEAD>`,
//! `<OPP>`…) filled in from what earlier commands printed, as a reader
//! would. Only the addresses differ: the test's `leadwheel dev` listens on
//! ports of its own, so `leadctl` is pointed at them by its environment
//! variables and `127.0.0.1:8080` is rewritten. A command the README gains
//! that this test does not know fails the test, so the two cannot drift
//! apart; what each command must show is checked where the README says
//! what it shows.
//!
//! The alerts part runs against `leadwheel dev`'s own dev inbox: the
//! webhook post and the email must arrive there (as files under the data
//! dir, which `leadwheel inbox` reads), and the snooze and the
//! acknowledgement must show in `leadctl alerts list`.
//!
//! Needs `cargo build --workspace --bins` first, and nats-server (found as
//! `leadwheel dev` finds it). Takes about a minute: the tour waits out one
//! 30 s window.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use leadwheel_e2e::authed_channel;
use leadwheel_e2e::bin_dir;
use leadwheel_e2e::dev::{DevRun, DevSetup};
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::{self, eventually};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{
    GetLeadRoutingRequest, GetLeadRoutingResponse, LeadState, OfferState,
};

const START: Duration = Duration::from_secs(120);
const STOP: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The command lines of the README's tour, in order: lines of its `sh`
/// blocks, continuation lines joined.
fn tour_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let start = readme
        .find("## A five-minute tour")
        .expect("the tour's heading");
    let end = start
        + readme[start..]
            .find("## Talk to it directly")
            .expect("the next heading");
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme[start..end].lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block || line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line.trim_start());
        commands.push(std::mem::take(&mut pending));
        pending.clear();
    }
    commands
}

/// A command without its trailing comment (for matching only; bash runs
/// the whole line).
fn bare(command: &str) -> &str {
    command.split(" #").next().unwrap_or(command).trim()
}

/// Ids with `prefix` (`lead_`, `opp_`…: a prefix and a ULID), in the
/// order they appear, each once.
fn ids(text: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let ulid = word.strip_prefix(prefix).unwrap_or_default();
        if ulid.len() == 26 && !found.iter().any(|id| id == word) {
            found.push(word.to_string());
        }
    }
    found
}

struct Tour {
    setup: DevSetup,
    run: Option<DevRun>,
    vars: HashMap<&'static str, String>,
    watch: Option<Child>,
    watch_out: PathBuf,
    alerts_watch: Option<Child>,
    alerts_watch_out: PathBuf,
}

impl Tour {
    fn env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env = vec![
            ("PATH".to_string(), path),
            (
                "LEADWHEEL_JWT_SECRET".to_string(),
                testing::TEST_JWT_SECRET.to_string(),
            ),
            (
                "LEADWHEEL_INTAKE_HTTP_URL".to_string(),
                format!("http://{}", self.setup.http),
            ),
            // `leadwheel inbox` reads this run's data dir, not the checkout's.
            (
                "LEADWHEEL_DATA_DIR".to_string(),
                self.setup.data_dir().display().to_string(),
            ),
            ("NO_COLOR".to_string(), "1".to_string()),
            ("COLUMNS".to_string(), "200".to_string()),
        ];
        for (service, grpc, _) in &self.setup.services {
            env.push((
                format!("LEADWHEEL_{}_URL", service.to_ascii_uppercase()),
                format!("http://{grpc}"),
            ));
        }
        env
    }

    /// The command as bash will run it: placeholders filled, the signup
    /// address rewritten.
    fn fill(&self, command: &str) -> String {
        let mut line = command.replace("127.0.0.1:8080", &self.setup.http.to_string());
        for (name, value) in &self.vars {
            line = line.replace(&format!("<{name}>"), value);
        }
        let unfilled = line.split('<').skip(1).any(|after| {
            after.split_once('>').is_some_and(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
        });
        assert!(
            !unfilled,
            "a placeholder the tour has not filled yet: {line}"
        );
        line
    }

    fn command(&self, line: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .args(["-c", line])
            .current_dir(repo_root())
            .env_remove("LEADWHEEL_AS")
            .env_remove("LEADWHEEL_TOKEN")
            .env_remove("CARGO_TARGET_DIR")
            .envs(self.env())
            .stdin(Stdio::null());
        command
    }

    fn sh(&self, command: &str) -> Output {
        let line = self.fill(command);
        self.command(&line).output().expect("running bash")
    }

    /// Runs a tour command that must succeed; returns its stdout.
    fn ok(&self, command: &str) -> String {
        let out = self.sh(command);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "`{command}` failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a tour command the README says is refused; returns its stderr.
    fn refused(&self, command: &str) -> String {
        let out = self.sh(command);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(1),
            "`{command}` should be refused:\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Re-runs a command until its output holds `wanted` (what it shows
    /// arrives through events, a moment after the command before it).
    async fn ok_showing(&self, command: &str, wanted: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.ok(command);
            if last.contains(wanted) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("`{command}` never showed {wanted:?}; last output:\n{last}");
    }

    async fn start_dev(&mut self, args: &[&str]) {
        let mut run = self.setup.start(args).expect("starting leadwheel dev");
        run.wait_banner(START).await.expect("the ready banner");
        self.run = Some(run);
    }

    async fn stop_dev(&mut self) {
        if let Some(run) = self.run.take() {
            let status = run.signal_and_wait("INT", STOP).await.expect("stopping");
            assert!(status.success(), "leadwheel dev exited with {status}");
        }
    }

    async fn routing(&self, lead_id: &str) -> Option<GetLeadRoutingResponse> {
        let channel = authed_channel(self.setup.grpc("wheel"), "admin", Role::Admin)
            .await
            .ok()?;
        WheelServiceClient::new(channel)
            .get_lead_routing(GetLeadRoutingRequest {
                lead_id: lead_id.into(),
            })
            .await
            .ok()
            .map(|r| r.into_inner())
    }

    /// Waits until `lead` is offered to `rep` (an open offer).
    async fn offered_to(&self, var: &str, rep: &str) {
        let lead = self.vars[var].clone();
        eventually(
            Duration::from_secs(45),
            &format!("{var} offered to {rep}"),
            || {
                let lead = lead.clone();
                async move {
                    let routing = self.routing(&lead).await?;
                    routing
                        .offers
                        .iter()
                        .any(|o| o.state == OfferState::Open as i32 && o.rep_id == rep)
                        .then_some(())
                }
            },
        )
        .await;
    }

    async fn in_state(&self, var: &str, state: LeadState) {
        let lead = self.vars[var].clone();
        eventually(Duration::from_secs(45), &format!("{var} {state:?}"), || {
            let lead = lead.clone();
            async move { (self.routing(&lead).await?.state == state as i32).then_some(()) }
        })
        .await;
    }

    fn watch_output(&self) -> String {
        std::fs::read_to_string(&self.watch_out).unwrap_or_default()
    }

    fn alerts_watch_output(&self) -> String {
        std::fs::read_to_string(&self.alerts_watch_out).unwrap_or_default()
    }

    /// `leadctl … -o json` (a check of the test's own, not a tour command).
    fn json(&self, command: &str) -> serde_json::Value {
        let out = self.ok(command);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{command}`: JSON ({e}):\n{out}"))
    }

    /// Ana's alert `id` as `leadctl alerts list` shows it.
    fn alert_as_listed(&self, id: &str) -> serde_json::Value {
        let alerts = self.json("leadctl alerts list --as ana -o json");
        alerts
            .as_array()
            .and_then(|alerts| alerts.iter().find(|a| a["alert_id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} in ana's alerts: {alerts}"))
    }

    /// The stored emails of the dev inbox (`<data dir>/inbox/*.eml`).
    fn inbox_emails(&self) -> Vec<String> {
        let dir = self.setup.data_dir().join("inbox");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .filter_map(|path| std::fs::read(path).ok())
            .map(|raw| String::from_utf8_lossy(&raw).into_owned())
            .collect()
    }

    /// Runs one tour command with what the README says of it.
    async fn step(&mut self, command: &str) {
        let bare = bare(command);
        match bare {
            c if c.starts_with("export PATH=") => {
                // The second terminal's PATH: it must find the leadctl this
                // test built, with or without CARGO_TARGET_DIR.
                let target = bin_dir().parent().expect("target folder").to_path_buf();
                let found = self
                    .command(&format!("{c}; command -v leadctl"))
                    .env("CARGO_TARGET_DIR", &target)
                    .output()
                    .expect("bash");
                let found = String::from_utf8_lossy(&found.stdout);
                assert_eq!(
                    Path::new(found.trim()),
                    bin_dir().join("leadctl"),
                    "`{c}` puts this build's leadctl on PATH"
                );
            }
            "leadctl reps list" => {
                let out = self.ok(command);
                for rep in ["ana", "ben", "carla", "dmitri", "elena", "farid"] {
                    assert!(out.contains(rep), "{rep} in:\n{out}");
                }
            }
            "leadctl offers watch --as ana" => {
                let file = std::fs::File::create(&self.watch_out).unwrap();
                let line = self.fill(command);
                let child = self
                    .command(&line)
                    .stdout(file.try_clone().unwrap())
                    .stderr(file)
                    .spawn()
                    .expect("offers watch");
                self.watch = Some(child);
            }
            "leadctl demo signups --rate 1 --count 3" => {
                let out = self.ok(command);
                let ids = ids(&out, "lead_");
                assert_eq!(ids.len(), 3, "each lead id printed:\n{out}");
                self.vars.insert("FIRST_LEAD", ids[0].clone());
                self.vars.insert("SECOND_LEAD", ids[1].clone());
                self.vars.insert("THIRD_LEAD", ids[2].clone());
                // "the first lead goes to ana, the second to ben, the third to carla"
                self.offered_to("FIRST_LEAD", "ana").await;
                self.offered_to("SECOND_LEAD", "ben").await;
                self.offered_to("THIRD_LEAD", "carla").await;
                let first = self.vars["FIRST_LEAD"].clone();
                eventually(
                    Duration::from_secs(10),
                    "ana's watch shows her offer",
                    || {
                        let shown = self.watch_output().contains(&first);
                        async move { shown.then_some(()) }
                    },
                )
                .await;
                assert!(
                    !self.watch_output().contains(&self.vars["SECOND_LEAD"]),
                    "ana never sees ben's offer:\n{}",
                    self.watch_output()
                );
            }
            "leadctl claim <FIRST_LEAD> --as ana" => {
                self.ok(command);
                self.in_state("FIRST_LEAD", LeadState::Assigned).await;
            }
            "leadctl claim <SECOND_LEAD> --as ana" => {
                let err = self.refused(command);
                assert!(err.contains("permission denied"), "{err}");
            }
            "leadctl pass <SECOND_LEAD> --as ben --reason \"on a call\"" => {
                self.ok(command);
                self.offered_to("SECOND_LEAD", "carla").await;
            }
            "leadctl leads show <THIRD_LEAD>" => {
                // "Let the third lead's window lapse (30 s): carla's offer
                // expires and dmitri is offered it."
                self.offered_to("THIRD_LEAD", "dmitri").await;
                let out = self.ok(command);
                assert!(out.contains(&self.vars["THIRD_LEAD"]), "{out}");
                assert!(out.contains("carla") && out.contains("dmitri"), "{out}");
            }
            "leadctl wheel explain <THIRD_LEAD>" => {
                let out = self.ok(command);
                assert!(out.contains("expired"), "{out}");
                assert!(out.contains("dmitri"), "{out}");
            }
            "leadctl wheel why-not --as elena --lead <FIRST_LEAD>" => {
                let out = self.ok(command);
                assert!(out.contains("ana claimed it before your turn"), "{out}");
            }
            "leadctl wheel why-not --rep elena --lead <FIRST_LEAD>" => {
                let out = self.ok(command);
                assert!(out.contains("ana claimed it before elena's turn"), "{out}");
            }
            "make dev DEV_ARGS=\"--window-secs 2\"" => {
                // The first terminal: Ctrl-C, then `leadwheel dev` again
                // with the flag (what `make dev` runs after its build).
                self.stop_dev().await;
                self.start_dev(&["--window-secs", "2"]).await;
            }
            "leadctl demo signups --rate 1 --count 1" => {
                let out = self.ok(command);
                let ids = ids(&out, "lead_");
                assert_eq!(ids.len(), 1, "{out}");
                self.vars.insert("POOLED_LEAD", ids[0].clone());
                // "Some twelve seconds later, every rep has let it lapse."
                self.in_state("POOLED_LEAD", LeadState::Pooled).await;
            }
            "leadctl pool list" => {
                let out = self.ok(command);
                assert!(out.contains(&self.vars["POOLED_LEAD"]), "{out}");
            }
            "leadctl alerts list" => {
                let pooled = self.vars["POOLED_LEAD"].clone();
                let out = self.ok_showing(command, &pooled).await;
                assert!(out.contains("maya"), "the manager's alert:\n{out}");
            }
            "leadctl claim <POOLED_LEAD> --as farid" => {
                self.ok(command);
                self.in_state("POOLED_LEAD", LeadState::Assigned).await;
            }
            "leadctl report funnel --team demo" => {
                let out = self.ok_showing(command, "farid").await;
                assert!(out.contains("demo"), "{out}");
            }
            "leadctl report funnel -o json" => {
                let out = self.ok(command);
                serde_json::from_str::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("JSON ({e}):\n{out}"));
            }
            "leadctl wheel stats" => {
                let out = self.ok(command);
                assert!(out.contains("farid"), "{out}");
            }
            c if c.starts_with("leadctl reps away ben")
                || c.starts_with("leadctl reps update carla")
                || c.starts_with("leadctl reps schedule dmitri")
                || c.starts_with("leadctl teams set demo")
                || c.starts_with("leadctl leads requeue <SECOND_LEAD>") =>
            {
                self.ok(command);
            }
            c if c.starts_with("leadctl leads assign <SECOND_LEAD> --to farid") => {
                self.ok(command);
                let lead = self.vars["SECOND_LEAD"].clone();
                let routing = self.routing(&lead).await.expect("routing");
                assert_eq!(routing.owner_rep_id, "farid");
            }
            c if c.starts_with("leadctl simulate --rate 40/h --hours 8") => {
                let out = self.ok(command);
                assert!(out.contains("p90"), "{out}");
            }
            "leadctl opps leads --as ana" => {
                let first = self.vars["FIRST_LEAD"].clone();
                self.ok_showing(command, &first).await;
            }
            c if c.starts_with("leadctl opps log-call --lead <FIRST_LEAD>") => {
                self.ok(command);
            }
            c if c.starts_with("leadctl opps convert <FIRST_LEAD>") => {
                let out = self.ok(command);
                let opp = ids(&out, "opp_").into_iter().next().unwrap_or_else(|| {
                    panic!("the new opportunity's id, shown by convert:\n{out}")
                });
                self.vars.insert("OPP", opp);
            }
            c if c.starts_with("leadctl opps stage <OPP> commercial") => {
                self.ok(command);
            }
            c if c.starts_with("leadctl opps owner <OPP> ben") => {
                let err = self.refused(command);
                assert!(err.contains("commercial"), "{err}");
            }
            c if c.starts_with("leadctl opps show <OPP>") => {
                let out = self.ok(command);
                assert!(out.contains("commercial") && out.contains("90"), "{out}");
            }
            c if c.starts_with("leadctl opps history --lead <FIRST_LEAD>") => {
                let out = self.ok(command);
                assert!(out.contains("call"), "{out}");
            }
            c if c.starts_with("leadctl opps handover start ben --successor carla") => {
                let out = self.ok(command);
                let id = ids(&out, "ho_")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("the handover's id:\n{out}"));
                self.vars.insert("HANDOVER", id);
            }
            c if c.starts_with("leadctl opps handover apply <HANDOVER>")
                || c.starts_with("leadctl opps tasks --as carla") =>
            {
                self.ok(command);
            }
            c if c.starts_with("leadctl quota set --team demo --period month") => {
                let out = self.ok(command);
                assert!(out.contains("50000"), "{out}");
            }
            c if c.starts_with("leadctl opps stage <OPP> won") => {
                self.ok(command);
            }
            c if c.starts_with("leadctl report forecast --team demo --as maya --role manager") => {
                // The deal won moves into the month's won value against the
                // quota once reporting has the event.
                let json = "leadctl report forecast --team demo --as maya --role manager -o json";
                let mut forecast = self.json(json);
                for _ in 0..100 {
                    if forecast["lines"][0]["won_minor"] == 1_200_050 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    forecast = self.json(json);
                }
                let line = &forecast["lines"][0];
                assert_eq!(line["currency"], "EUR", "{forecast}");
                assert_eq!(line["won_minor"], 1_200_050, "{forecast}");
                assert_eq!(line["quota_minor"], 5_000_000, "{forecast}");
                assert_eq!(line["attainment_bp"], 2_400, "{forecast}");
                let out = self.ok(command);
                assert!(out.contains("12000.50") && out.contains("ana"), "{out}");
            }
            c if c.starts_with("leadctl report pipeline --team demo") => {
                let out = self.ok(command);
                assert!(out.contains("ana") && out.contains("12000.50"), "{out}");
            }
            c if c.starts_with("leadctl report five --team demo") => {
                let five =
                    self.json("leadctl report five --team demo --as maya --role manager -o json");
                let current = &five["current"];
                assert_eq!(current["calls"], 1, "{five}");
                assert_eq!(current["opportunities"], 1, "{five}");
                assert_eq!(current["purchase_intents"], 1, "{five}");
                assert_eq!(current["won"], 1, "{five}");
                self.ok(command);
            }
            c if c.starts_with("leadctl report fairness --team demo")
                || c.starts_with("leadctl report speed --team demo") =>
            {
                let out = self.ok(command);
                assert!(out.contains("ana") && out.contains("farid"), "{out}");
            }
            c if c.starts_with("leadctl report forecast --team demo -o csv") => {
                let out = self.ok(command);
                assert!(out.lines().count() > 1 && out.contains(",EUR,"), "{out}");
            }
            c if c.starts_with("leadctl intake score --rules config/scoring.toml") => {
                let out = self.ok(command);
                assert!(out.contains("tier"), "{out}");
            }
            c if c.starts_with("curl -sS http://127.0.0.1:8080/v1/signups -d") => {
                let out = self.ok(command);
                assert!(out.contains("lead_"), "{out}");
            }
            c if c.starts_with("leadctl import leads config/examples/leads.csv --dry-run") => {
                self.ok(command);
            }
            c if c.starts_with("leadctl intake erase") => {
                self.ok(command);
            }
            c if c.starts_with("leadctl alerts rules set demo no_first_touch --threshold 5s") => {
                let out = self.ok(command);
                assert!(
                    out.contains("no_first_touch") && out.contains("maya"),
                    "the rule, set by maya:\n{out}"
                );
            }
            "leadctl alerts watch --as ana" => {
                // The third terminal: Ctrl-C the offers watch, then this.
                if let Some(mut offers) = self.watch.take() {
                    let _ = offers.kill();
                    let _ = offers.wait();
                }
                let file = std::fs::File::create(&self.alerts_watch_out).unwrap();
                let line = self.fill(command);
                let child = self
                    .command(&line)
                    .stdout(file.try_clone().unwrap())
                    .stderr(file)
                    .spawn()
                    .expect("alerts watch");
                self.alerts_watch = Some(child);
                eventually(Duration::from_secs(20), "the alerts watch is on", || {
                    let on = self.alerts_watch_output().contains("watching alerts");
                    async move { on.then_some(()) }
                })
                .await;
            }
            c if c.starts_with(
                "curl -sS http://127.0.0.1:8080/v1/signups -H 'content-type: application/json'",
            ) && c.contains("@brightline.example") =>
            {
                let out = self.ok(command);
                let id = ids(&out, "lead_")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("the lead id:\n{out}"));
                self.vars.insert("ALERT_LEAD", id.clone());
                // "goes straight to ana, the account's owner"
                self.in_state("ALERT_LEAD", LeadState::Assigned).await;
                let routing = self.routing(&id).await.expect("routing");
                assert_eq!(routing.owner_rep_id, "ana", "{routing:?}");
            }
            "leadctl alerts list --as ana" => {
                let lead = self.vars["ALERT_LEAD"].clone();
                let out = self.ok_showing(command, &lead).await;
                let line = out
                    .lines()
                    .find(|line| line.contains(&lead))
                    .expect("the alert's line");
                assert!(
                    line.contains("no_first_touch") && line.contains("open"),
                    "{out}"
                );
                let alert = ids(line, "alert_")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("the alert's id:\n{out}"));
                self.vars.insert("ALERT", alert.clone());
                // Her watch showed it live.
                eventually(
                    Duration::from_secs(20),
                    "ana's watch shows the alert",
                    || {
                        let shown = self.alerts_watch_output().contains(&alert);
                        async move { shown.then_some(()) }
                    },
                )
                .await;
            }
            "leadwheel inbox" => {
                let lead = self.vars["ALERT_LEAD"].clone();
                let alert = self.vars["ALERT"].clone();
                let mut last = String::new();
                for _ in 0..100 {
                    last = self.ok(command);
                    let webhook = last.lines().any(|line| {
                        line.contains("webhook")
                            && line.contains("/hooks/demo")
                            && line.contains(&lead)
                    });
                    let email = last.lines().any(|line| {
                        line.contains("email")
                            && line.contains("ana@demo.example")
                            && line.contains("no first touch")
                    });
                    // The email is this alert's: its body names it.
                    let this_alert = self.inbox_emails().iter().any(|mail| {
                        mail.contains("Delivered-To: ana@demo.example") && mail.contains(&alert)
                    });
                    if webhook && email && this_alert {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                assert!(
                    self.inbox_emails().iter().any(|mail| mail.contains(&alert)),
                    "the email of {alert} in the inbox; `leadwheel inbox` shows:\n{last}"
                );
                assert!(
                    last.contains("/hooks/demo") && last.contains(&lead),
                    "the webhook post about {lead}:\n{last}"
                );
            }
            c if c.starts_with("leadctl alerts snooze <ALERT> --for 1h --as ana") => {
                let out = self.ok(command);
                assert!(out.contains("snoozed until"), "{out}");
                let alert = self.alert_as_listed(&self.vars["ALERT"]);
                assert_eq!(alert["state"], "snoozed", "{alert}");
            }
            c if c.starts_with("leadctl alerts ack <ALERT> --as ana") => {
                let out = self.ok(command);
                assert!(out.contains("acked by ana"), "{out}");
                let alert = self.alert_as_listed(&self.vars["ALERT"]);
                assert_eq!(
                    (&alert["state"], &alert["acknowledged_by"]),
                    (
                        &serde_json::json!("acknowledged"),
                        &serde_json::json!("ana")
                    ),
                    "{alert}"
                );
            }
            c if c.starts_with("leadctl alerts deliveries --alert <ALERT>") => {
                let out = self.ok(command);
                for channel in ["live", "webhook", "email"] {
                    assert!(out.contains(channel), "{channel}:\n{out}");
                }
                let id = self.vars["ALERT"].clone();
                let rows = self.json(&format!("leadctl alerts deliveries --alert {id} -o json"));
                let mut sent: Vec<String> = rows
                    .as_array()
                    .expect("rows")
                    .iter()
                    .filter(|row| row["state"] == "sent")
                    .map(|row| row["channel"].as_str().unwrap_or_default().to_string())
                    .collect();
                sent.sort();
                assert_eq!(sent, ["email", "live", "webhook"], "{rows}");
            }
            other => panic!(
                "the README's tour has a command this test does not run: `{other}`; \
                 teach tests/e2e/tests/tour.rs what it should show"
            ),
        }
    }
}

impl Drop for Tour {
    fn drop(&mut self) {
        for mut watch in [self.watch.take(), self.alerts_watch.take()]
            .into_iter()
            .flatten()
        {
            let _ = watch.kill();
            let _ = watch.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_tour_works_as_written() {
    let commands = tour_commands();
    assert!(commands.len() > 30, "the tour's commands: {commands:#?}");
    let setup = DevSetup::new().unwrap();
    let watch_out = setup.data_dir().join("offers-watch.out");
    let alerts_watch_out = setup.data_dir().join("alerts-watch.out");
    let mut tour = Tour {
        setup,
        run: None,
        vars: HashMap::new(),
        watch: None,
        watch_out,
        alerts_watch: None,
        alerts_watch_out,
    };
    tour.start_dev(&[]).await;
    for command in &commands {
        tour.step(command).await;
    }
    tour.stop_dev().await;
}

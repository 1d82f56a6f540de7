//! End-to-end: `leadwheel dev` itself, as a newcomer runs it — the banner
//! printed last, alerting wired to the dev inbox, a signup served to a claim, the demo team kept across
//! restarts, a nats-server left by a killed run adopted and stopped, and
//! the demo team's quick lap reaching the pool without its reps set away.
//!
//! Needs `cargo build --workspace --bins` first, and nats-server (found as
//! `leadwheel dev` finds it: `LEADWHEEL_NATS_SERVER`, else `PATH`).

use std::time::Duration;

use leadwheel_e2e::authed_channel;
use leadwheel_e2e::dev::{BANNER_LAST_LINE, DevRun, DevSetup, process_running};
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::opportunity::v1::GetLeadInWorkRequest;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const START: Duration = Duration::from_secs(120);
const STOP: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);

async fn start(setup: &DevSetup, args: &[&str]) -> DevRun {
    let mut run = setup.start(args).expect("starting leadwheel dev");
    run.wait_banner(START).await.expect("the ready banner");
    run
}

/// The banner is the last thing printed, and it carries every URL.
fn assert_banner_last(setup: &DevSetup, run: &DevRun) {
    let out = run.stdout();
    assert_eq!(
        out.last().map(String::as_str),
        Some(BANNER_LAST_LINE),
        "the banner (and how to stop) comes last:\n{}",
        out.join("\n")
    );
    let text = out.join("\n");
    let banner = &text[text.rfind("leadwheel is running").expect("banner")..];
    assert!(
        banner.contains(&format!("http://{}/v1/signups", setup.http)),
        "{banner}"
    );
    for (service, grpc, admin) in &setup.services {
        assert!(
            banner.contains(&format!("http://{grpc}")),
            "{service}: {banner}"
        );
        assert!(
            banner.contains(&format!("http://{admin}/readyz")),
            "{banner}"
        );
    }
    assert!(banner.contains("/logs/<service>.log"), "{banner}");
    let (console, console_admin) = setup.console;
    assert!(
        banner.contains(&format!("console      http://{console}/"))
            && banner.contains(&format!("http://{console_admin}/readyz")),
        "the web console's URL: {banner}"
    );
    let (inbox_smtp, inbox_http) = setup.inbox;
    assert!(
        banner.contains(&format!("inbox        http://{inbox_http}/"))
            && banner.contains(&format!("SMTP {inbox_smtp}")),
        "the dev inbox's page and SMTP port: {banner}"
    );
    assert!(
        run.stderr().is_empty(),
        "nothing on stderr: {:?}",
        run.stderr()
    );
}

/// The environment of `leadwheel dev`'s child running `service`.
fn service_env(run: &DevRun, service: &str) -> Vec<String> {
    let pid = run.service_pid(service).expect("the service's process");
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("its environment");
    raw.split(|&b| b == 0)
        .map(|var| String::from_utf8_lossy(var).into_owned())
        .collect()
}

/// Alerting mails the dev inbox, in clear, and the demo team's webhook
/// and addresses were seeded once (recorded in the data dir).
async fn assert_alerting_wired_to_the_inbox(setup: &DevSetup, run: &DevRun) {
    let env = service_env(run, "alerting");
    let (smtp, http) = setup.inbox;
    for wanted in [
        format!("LEADWHEEL_ALERTING_SMTP_HOST={}", smtp.ip()),
        format!("LEADWHEEL_ALERTING_SMTP_PORT={}", smtp.port()),
        "LEADWHEEL_ALERTING_SMTP_TLS=none".to_string(),
    ] {
        assert!(env.contains(&wanted), "{wanted} in alerting's env: {env:?}");
    }
    let seeded = std::fs::read_to_string(setup.data_dir().join("demo-alerts.seeded"))
        .expect("what was seeded in alerting is recorded");
    assert!(
        seeded.contains(&format!("webhook http://{http}/hooks/demo"))
            && seeded.contains("contacts"),
        "{seeded}"
    );
    // The page answers, and so does the SMTP port (its greeting).
    let page = reqwest::get(format!("http://{http}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("leadwheel dev inbox"));
    let mut greeting = [0u8; 4];
    let mut smtp_conn = tokio::net::TcpStream::connect(smtp).await.unwrap();
    tokio::io::AsyncReadExt::read_exact(&mut smtp_conn, &mut greeting)
        .await
        .unwrap();
    assert_eq!(&greeting, b"220 ");
}

async fn stop(setup: &DevSetup, run: DevRun, signal: &str) {
    let nats = setup.nats_pid().expect("the pid file of the nats-server");
    let status = run.signal_and_wait(signal, STOP).await.expect("stopping");
    assert!(status.success(), "leadwheel dev exited with {status}");
    assert!(
        !process_running(nats),
        "nats-server {nats} still runs after SIG{signal}"
    );
    assert!(!setup.nats_answers(), "something still answers on NATS");
    assert_eq!(setup.nats_pid(), None, "the pid file is removed");
}

type Wheel = WheelServiceClient<InterceptedService<Channel, BearerToken>>;

async fn wheel(setup: &DevSetup, subject: &str, role: Role) -> Wheel {
    let channel = authed_channel(setup.grpc("wheel"), subject, role).await;
    WheelServiceClient::new(channel.expect("a channel to the wheel"))
}

async fn demo_team(setup: &DevSetup) -> Team {
    let mut admin = wheel(setup, "admin", Role::Admin).await;
    let teams = admin.list_teams(ListTeamsRequest {}).await.unwrap();
    let teams = teams.into_inner().teams;
    teams
        .into_iter()
        .find(|team| team.team_id == "demo")
        .expect("the demo team")
}

async fn signup(setup: &DevSetup, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/signups", setup.http))
        .json(&serde_json::json!({"email": email, "name": "Pat Buyer", "company": "Acme"}))
        .send()
        .await
        .expect("posting a signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"].as_str().expect("lead_id").to_string()
}

async fn routing(admin: &mut Wheel, lead_id: &str) -> Option<GetLeadRoutingResponse> {
    let request = GetLeadRoutingRequest {
        lead_id: lead_id.into(),
    };
    admin
        .get_lead_routing(request)
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// A newcomer's first minutes: the URLs last, a signup claimed and in
/// work; then a manager's change to the demo team survives a restart,
/// `--window-secs` sets only the window, and `--reset-demo` restores it.
#[tokio::test]
async fn dev_serves_a_signup_to_a_claim_and_keeps_the_demo_team_across_restarts() {
    let setup = DevSetup::new().unwrap();
    let run = start(&setup, &[]).await;
    assert_banner_last(&setup, &run);
    assert_alerting_wired_to_the_inbox(&setup, &run).await;
    let created = demo_team(&setup).await;
    assert_eq!(
        created.rep_ids,
        ["ana", "ben", "carla", "dmitri", "elena", "farid"]
    );
    assert_eq!(created.window_ms, 30_000);
    // The sixth process: the console's sign-in page lists the demo reps.
    let signin = reqwest::get(format!("http://{}/signin", setup.console.0))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(signin.contains(r#"data-user="ana""#), "{signin}");

    let lead_id = signup(&setup, "pat@acme.example").await;
    let mut admin = wheel(&setup, "admin", Role::Admin).await;
    let rep = eventually(WAIT, "an offer of the signup", || {
        let mut admin = admin.clone();
        let lead_id = lead_id.clone();
        async move {
            let routing = routing(&mut admin, &lead_id).await?;
            let open = routing
                .offers
                .iter()
                .find(|o| o.state == OfferState::Open as i32)?;
            Some(open.rep_id.clone())
        }
    })
    .await;
    let mut as_rep = wheel(&setup, &rep, Role::Rep).await;
    as_rep
        .claim(ClaimRequest {
            lead_id: lead_id.clone(),
            rep_id: rep.clone(),
        })
        .await
        .expect("the offered rep claims the lead");
    let opportunity = authed_channel(setup.grpc("opportunity"), &rep, Role::Rep)
        .await
        .unwrap();
    let opps = OpportunityServiceClient::new(opportunity);
    let in_work = eventually(WAIT, "the claimed lead in work", || {
        let mut opps = opps.clone();
        let lead_id = lead_id.clone();
        async move {
            let request = GetLeadInWorkRequest { lead_id };
            opps.get_lead_in_work(request).await.ok()
        }
    })
    .await;
    assert_eq!(in_work.into_inner().lead.unwrap().rep_id, rep);
    // The services logged the signup and the claim, into their files only.
    assert_banner_last(&setup, &run);
    let wheel_log = std::fs::read_to_string(setup.data_dir().join("logs/wheel.log")).unwrap();
    assert!(!wheel_log.is_empty(), "the wheel's log file is written");

    // A manager's `teams set`: farid handed over, a 45 s window.
    let mut changed = created.clone();
    changed.rep_ids.retain(|rep| rep != "farid");
    changed.window_ms = 45_000;
    admin
        .upsert_team(UpsertTeamRequest {
            team: Some(changed.clone()),
            rep_names: vec![],
        })
        .await
        .expect("changing the demo team");
    stop(&setup, run, "TERM").await;

    let run = start(&setup, &[]).await;
    assert_eq!(
        demo_team(&setup).await,
        changed,
        "a restart keeps the change"
    );
    assert_banner_last(&setup, &run);
    stop(&setup, run, "TERM").await;

    let run = start(&setup, &["--window-secs", "2"]).await;
    let windowed = demo_team(&setup).await;
    assert_eq!(
        windowed.window_ms, 2_000,
        "--window-secs applies to the team"
    );
    assert_eq!(
        windowed.rep_ids, changed.rep_ids,
        "and changes nothing else"
    );
    assert_eq!(windowed.policy, changed.policy);
    stop(&setup, run, "TERM").await;

    let run = start(&setup, &["--reset-demo"]).await;
    assert_eq!(
        demo_team(&setup).await,
        created,
        "--reset-demo restores the team"
    );
    stop(&setup, run, "INT").await;
}

/// A `leadwheel dev` killed with SIGKILL leaves its nats-server running;
/// the next start adopts it (by the data dir's pid file) and its Ctrl-C
/// stops it too.
#[tokio::test]
async fn a_nats_server_left_by_a_killed_dev_is_adopted_and_stopped() {
    let setup = DevSetup::new().unwrap();
    let run = start(&setup, &["--no-seed"]).await;
    let nats = setup.nats_pid().expect("the pid file");
    let status = run.signal_and_wait("KILL", STOP).await.unwrap();
    assert!(!status.success());
    assert!(process_running(nats), "the orphan nats-server runs on");
    assert!(setup.nats_answers());
    // The services notice their parent is gone and stop themselves.
    eventually(WAIT, "the orphaned services to stop", || async {
        setup.ports_free().then_some(())
    })
    .await;

    let run = start(&setup, &["--no-seed"]).await;
    let out = run.stdout().join("\n");
    assert!(
        out.contains(&format!("adopted nats-server (pid {nats})")),
        "{out}"
    );
    assert_banner_last(&setup, &run);
    assert_eq!(setup.nats_pid(), Some(nats), "the pid file still names it");
    stop(&setup, run, "INT").await;
}

/// A service that dies takes everything down, and what it last logged
/// (into its file, not shown while running) is printed with the error.
#[tokio::test]
async fn a_service_that_dies_is_reported_with_the_end_of_its_log() {
    let setup = DevSetup::new().unwrap();
    let mut run = start(&setup, &["--no-seed"]).await;
    let nats = setup.nats_pid().expect("the pid file");
    let wheel = run.service_pid("wheel").expect("the wheel's process");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &wheel.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = run.wait_exit(STOP).await.expect("leadwheel dev exits");
    assert_eq!(status.code(), Some(1), "{status}");
    let stderr = run.stderr().join("\n");
    assert!(stderr.contains("wheel exited unexpectedly"), "{stderr}");
    assert!(stderr.contains("/logs/wheel.log"), "{stderr}");
    assert!(stderr.contains("last lines:"), "{stderr}");
    assert!(
        stderr.contains("listening"),
        "the wheel's own lines: {stderr}"
    );
    assert!(!process_running(nats), "nats-server stopped too");
}

/// The README tour's quick lap: with short windows, signups nobody answers
/// go round all six reps to the pool, and a rep claims one from there. The
/// tour leaves up to three offers in a row lapse at each rep; the demo
/// team's circuit breaker (a lap's worth of expiries, not the default
/// three) must not set them away meanwhile.
#[tokio::test]
async fn the_demo_teams_quick_lap_reaches_the_pool_with_every_rep_still_available() {
    let setup = DevSetup::new().unwrap();
    let run = start(&setup, &["--window-secs", "1"]).await;
    let mut leads = Vec::new();
    for i in 0..3 {
        leads.push(signup(&setup, &format!("lap{i}@acme.example")).await);
    }
    let mut admin = wheel(&setup, "admin", Role::Admin).await;
    eventually(Duration::from_secs(60), "every lead in the pool", || {
        let mut admin = admin.clone();
        let leads = leads.clone();
        async move {
            let request = ListPoolRequest {
                team_id: "demo".into(),
            };
            let pool = admin.list_pool(request).await.ok()?.into_inner().leads;
            let pooled = |id: &String| {
                pool.iter()
                    .any(|p| p.lead.as_ref().is_some_and(|l| &l.lead_id == id))
            };
            leads.iter().all(pooled).then_some(())
        }
    })
    .await;
    for lead_id in &leads {
        let offers = routing(&mut admin, lead_id).await.unwrap().offers;
        assert_eq!(offers.len(), 6, "{lead_id} was offered to all six reps");
    }
    let reps = admin
        .list_reps(ListRepsRequest {
            team_id: "demo".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .reps;
    for rep in &reps {
        assert_eq!(rep.availability, "available", "{} was set away", rep.rep_id);
    }
    let mut farid = wheel(&setup, "farid", Role::Rep).await;
    farid
        .claim(ClaimRequest {
            lead_id: leads[0].clone(),
            rep_id: "farid".into(),
        })
        .await
        .expect("farid claims the pooled lead");
    stop(&setup, run, "TERM").await;
}

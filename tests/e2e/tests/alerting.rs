//! End to end through the real processes, thresholds in seconds: a claimed
//! lead nobody touches raises `no_first_touch`, the alert reaches the
//! team's webhook (a real HTTP server) and the rep's mailbox (a real SMTP
//! server, Python's aiosmtpd), the one-time sign-in link in the email signs
//! the rep in to the real web console on the alert's page (once), and the
//! rep acknowledges it with `leadctl`.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadwheel_e2e::System;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::eventually;
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::alerting::v1::{
    Alert, ListAlertsRequest, Rule, SetContactRequest, SetRuleRequest, SetTeamWebhookRequest,
};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

mod console_support;

const WAIT: Duration = Duration::from_secs(60);

/// A minimal real HTTP server answering 200 to every POST and keeping the
/// bodies.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = bodies.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        keep.lock().unwrap().push(text[end + 4..].to_string());
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

const SMTP_SERVER: &str = r#"
import asyncio, email, itertools, os, socket, sys
from aiosmtpd.smtp import SMTP
out = sys.argv[1]
counter = itertools.count()
class Handler:
    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(out, f"{next(counter)}.eml")
        raw = envelope.original_content or envelope.content
        # The plain text decoded (no quoted-printable soft breaks), beside it.
        parts = email.message_from_bytes(raw).walk()
        text = b"".join(p.get_payload(decode=True) for p in parts if p.get_content_type() == "text/plain")
        with open(path[:-4] + ".txt", "wb") as f:
            f.write(text)
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(raw)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"
async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(Handler()), sock=sock)
    print(sock.getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;

/// Every email received, as stored (`<n>.eml`), in order.
fn mails(dir: &std::path::Path) -> Vec<String> {
    received(dir, "eml")
}

/// The decoded plain text of every email received (`<n>.txt`), in order.
fn mail_texts(dir: &std::path::Path) -> Vec<String> {
    received(dir, "txt")
}

fn received(dir: &std::path::Path, extension: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            String::from_utf8_lossy(&std::fs::read(p.with_extension(extension)).unwrap())
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_untouched_claim_is_alerted_by_webhook_and_email_and_acknowledged_with_leadctl() {
    let mail_dir = tempfile::tempdir().unwrap();
    let mut smtp = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SMTP_SERVER)
        .arg(mail_dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the SMTP server (python3 with aiosmtpd)");
    let mut lines = BufReader::new(smtp.stdout.take().unwrap()).lines();
    let smtp_port = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the SMTP server starts")
        .unwrap()
        .expect("the SMTP server exited: is aiosmtpd installed? (python3 -m pip install aiosmtpd==1.4.6)");
    let (hook_url, hook_bodies) = webhook_receiver().await;

    // The console's address, known before alerting starts (alerting's
    // messages link to it; the console needs alerting's address).
    let console_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let console_url = format!("http://{console_addr}");

    let mut system = System::nats_only().await.expect("nats");
    for service in ["intake", "wheel", "opportunity", "reporting"] {
        system.start_service(service).await.expect(service);
    }
    system
        .start_instance(
            "alerting",
            "alerting",
            &[
                ("LEADWHEEL_ALERTING_SMTP_HOST", "127.0.0.1"),
                ("LEADWHEEL_ALERTING_SMTP_PORT", smtp_port.trim()),
                ("LEADWHEEL_ALERTING_SMTP_TLS", "none"),
                ("LEADWHEEL_ALERTING_SMTP_FROM", "alerts@leadwheel.test"),
                ("LEADWHEEL_ALERTING_WEBHOOK_SECRET", "e2e-webhook-secret"),
                ("LEADWHEEL_ALERTING_DELIVERY_BACKOFF_MS", "200"),
                ("LEADWHEEL_ALERTING_CONSOLE_URL", &console_url),
            ],
        )
        .await
        .expect("alerting");
    // The console as in production: no user picker, links only.
    let upstream = |service: &str| format!("http://{}", system.addr(service, "grpc"));
    let (wheel_url, opps_url, alerting_url, reporting_url) = (
        upstream("wheel"),
        upstream("opportunity"),
        upstream("alerting"),
        upstream("reporting"),
    );
    system
        .start_instance(
            "console",
            "console",
            &[
                ("LEADWHEEL_CONSOLE_HTTP_ADDR", &console_addr.to_string()),
                ("LEADWHEEL_CONSOLE_PUBLIC_URL", &console_url),
                ("LEADWHEEL_CONSOLE_WHEEL_URL", &wheel_url),
                ("LEADWHEEL_CONSOLE_OPPORTUNITY_URL", &opps_url),
                ("LEADWHEEL_CONSOLE_ALERTING_URL", &alerting_url),
                ("LEADWHEEL_CONSOLE_REPORTING_URL", &reporting_url),
            ],
        )
        .await
        .expect("the console");

    let mut wheel = WheelServiceClient::new(system.authed("wheel", "admin", Role::Admin).await);
    wheel
        .upsert_team(UpsertTeamRequest {
            team: Some(Team {
                team_id: "demo".into(),
                name: "Demo".into(),
                manager_id: "maya".into(),
                window_ms: 600_000,
                rep_ids: vec!["ana".into()],
                policy: None,
            }),
            rep_names: vec![],
        })
        .await
        .expect("seeding the team");
    let mut admin =
        AlertingServiceClient::new(system.authed("alerting", "admin", Role::Admin).await);
    admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "demo".into(),
                rule: "no_first_touch".into(),
                enabled: true,
                threshold_seconds: 2,
                recipients: "rep".into(),
                escalate_after_seconds: 0,
                ..Default::default()
            }),
        })
        .await
        .expect("a 2 s first-touch rule");
    admin
        .set_team_webhook(SetTeamWebhookRequest {
            team_id: "demo".into(),
            webhook_url: hook_url.clone(),
        })
        .await
        .expect("the team webhook");
    admin
        .set_contact(SetContactRequest {
            recipient_id: "ana".into(),
            email: "ana@example.com".into(),
            ..Default::default()
        })
        .await
        .expect("ana's address");

    // A signup, offered to ana, claimed, and then left alone.
    let response = reqwest::Client::new()
        .post(system.signup_url())
        .json(&serde_json::json!({"email": "kim@quietco.example", "name": "Kim", "company": "QuietCo"}))
        .send()
        .await
        .expect("posting a signup");
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    let lead_id = body["lead_id"].as_str().expect("lead_id").to_string();
    let mut ana = WheelServiceClient::new(system.authed("wheel", "ana", Role::Rep).await);
    eventually(WAIT, "ana claims the lead", || {
        let mut ana = ana.clone();
        let lead_id = lead_id.clone();
        async move {
            ana.claim(ClaimRequest {
                lead_id,
                rep_id: "ana".into(),
            })
            .await
            .ok()
        }
    })
    .await;
    let _ = &mut ana;

    let mut ana_alerts =
        AlertingServiceClient::new(system.authed("alerting", "ana", Role::Rep).await);
    let alert: Alert = eventually(WAIT, "the no_first_touch alert", || {
        let mut client = ana_alerts.clone();
        let lead_id = lead_id.clone();
        async move {
            client
                .list_alerts(ListAlertsRequest::default())
                .await
                .ok()?
                .into_inner()
                .alerts
                .into_iter()
                .find(|a| a.kind == "no_first_touch" && a.subject_key == lead_id)
        }
    })
    .await;
    assert_eq!(alert.recipient_ids, ["ana"]);

    let hook = eventually(WAIT, "the webhook", || async {
        hook_bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b.contains(&lead_id))
            .cloned()
    })
    .await;
    let hook: serde_json::Value = serde_json::from_str(&hook).unwrap();
    assert!(
        hook["text"].as_str().unwrap().contains("no first touch"),
        "{hook}"
    );
    let mail = eventually(WAIT, "the email", || async {
        mails(mail_dir.path())
            .into_iter()
            .find(|m| m.contains(&lead_id))
    })
    .await;
    assert!(mail.contains("X-Rcpt-To: ana@example.com"), "{mail}");
    assert!(
        !hook.to_string().contains("/signin/"),
        "a team's channel gets no sign-in link: {hook}"
    );

    // The email's sign-in link opens the alert in the real console, once.
    let text = mail_texts(mail_dir.path())
        .into_iter()
        .find(|t| t.contains(&lead_id))
        .expect("the email's decoded text");
    let signin = text
        .lines()
        .find_map(|l| l.strip_prefix("Sign in and open (the link works once): "))
        .unwrap_or_else(|| panic!("a sign-in link in {text}"))
        .to_string();
    assert!(
        signin.starts_with(&format!("{console_url}/signin/link?token=")),
        "{signin}"
    );
    let browser = console_support::client();
    let signed_in = console_support::use_link(&console_url, &signin).await;
    assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
    let alert_path = format!("/alerts/{}", alert.alert_id);
    assert_eq!(signed_in.headers()["location"], alert_path.as_str());
    let cookie = console_support::session_cookie(&signed_in);
    let page = browser
        .get(format!("{console_url}{alert_path}"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the alert's page");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let page = page.text().await.unwrap();
    // Ana's alert, with the acknowledge button she may press.
    assert!(
        page.contains(&format!("data-alert=\"{}\"", alert.alert_id))
            && page.contains(&lead_id)
            && page.contains("data-action=\"ack\""),
        "{page}"
    );
    let again = browser.get(&signin).send().await.unwrap();
    assert_eq!(
        again.status(),
        reqwest::StatusCode::FORBIDDEN,
        "a sign-in link works once"
    );

    // Ana acknowledges it with leadctl, and reads it back by its id.
    let acked = system
        .leadctl_json(
            "alerting",
            &["alerts", "ack", &alert.alert_id, "--as", "ana"],
        )
        .await;
    assert_eq!(acked["state"], "acknowledged");
    let shown = system
        .leadctl_json(
            "alerting",
            &["alerts", "show", &alert.alert_id, "--as", "ana"],
        )
        .await;
    assert_eq!(
        (
            &shown["alert_id"],
            &shown["state"],
            &shown["acknowledged_by"]
        ),
        (
            &serde_json::json!(alert.alert_id),
            &serde_json::json!("acknowledged"),
            &serde_json::json!("ana")
        )
    );
    let listed = ana_alerts
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let now = listed
        .iter()
        .find(|a| a.alert_id == alert.alert_id)
        .unwrap();
    assert_eq!(
        (now.state.as_str(), now.acknowledged_by.as_str()),
        ("acknowledged", "ana")
    );
}

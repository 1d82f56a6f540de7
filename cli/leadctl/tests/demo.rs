//! `leadctl demo signups` against the real intake (in process, on port 0,
//! with a real nats-server and a fresh SQLite database): the tour's
//! "prints each lead id" holds, and the ids are intake's leads.

use leadwheel_intake::IntakeSettings;
use leadwheel_plumbing::auth::{BearerToken, Role};
use leadwheel_plumbing::testing::{NatsServer, ServiceHandle, TestDb, service_config, test_token};
use leadwheel_proto::intake::v1::GetLeadRequest;
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic::transport::Channel;

async fn leadctl(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .args(args)
        .env_remove("LEADWHEEL_INTAKE_WEBHOOK_SECRET")
        .env_remove("LEADWHEEL_INTAKE_WEBHOOK_SECRET_FILE")
        .output()
        .await
        .expect("running leadctl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_signups_prints_each_lead_id_as_intake_accepts_it() {
    let nats = NatsServer::start().expect("starting nats-server");
    let db = TestDb::sqlite();
    let config = service_config("intake", &nats.url(), &db.url);
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the HTTP listener");
    let base = format!("http://{}", http.local_addr().unwrap());
    let intake = ServiceHandle::spawn(config, move |config, listeners, shutdown| {
        leadwheel_intake::run_with(config, IntakeSettings::default(), listeners, http, shutdown)
    })
    .await;

    let out = leadctl(&[
        "demo",
        "signups",
        "--rate",
        "20",
        "--count",
        "3",
        "--intake-http-url",
        &base,
    ])
    .await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // One line per lead, id first, then the summary.
    assert_eq!(lines.len(), 4, "{stdout}");
    let ids: Vec<&str> = lines[..3]
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert!(
        lines[3].starts_with("sent 3: 3 accepted"),
        "the summary comes last: {stdout}"
    );
    let channel = Channel::from_shared(format!("http://{}", intake.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = BearerToken::new(&test_token("root", Role::Admin)).unwrap();
    let mut client = IntakeServiceClient::with_interceptor(channel, token);
    for id in &ids {
        let lead = client
            .get_lead(GetLeadRequest {
                lead_id: id.to_string(),
            })
            .await
            .unwrap_or_else(|status| panic!("{id} is not intake's lead: {status}"))
            .into_inner()
            .lead
            .unwrap();
        // The line names who signed up, after the id.
        let line = lines.iter().find(|l| l.starts_with(id)).unwrap();
        assert!(line.contains(&lead.name), "{line} lacks {}", lead.name);
    }

    // JSON keeps the one summary object, with every id.
    let out = leadctl(&[
        "demo",
        "signups",
        "--rate",
        "20",
        "--count",
        "2",
        "-o",
        "json",
        "--intake-http-url",
        &base,
    ])
    .await;
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["accepted"], 2);
    assert_eq!(summary["lead_ids"].as_array().unwrap().len(), 2);
    intake.stop().await;
}

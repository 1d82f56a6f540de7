//! The CSV download over real HTTPS: with the service's certificate
//! configured the download port speaks TLS (certificate from a CA made by
//! the test), and a plain HTTP request gets no CSV.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::clock;
use leadwheel_plumbing::testing::{TestDb, TestPki, eventually, https_get, test_token};
use leadwheel_reporting::{SERVICE, run_with};

use crate::helpers::{Env, TestApp, WAIT, test_settings};
use crate::script::{self, ANA, Opp, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_download_over_tls() {
    let env = Env::new(TestDb::sqlite());
    let pki = TestPki::new().unwrap();
    let mut tls = pki.server_settings();
    // The test harness waits for /readyz over plain HTTP
    // (LEADWHEEL_ADMIN_TLS=0); the download and gRPC ports speak TLS.
    tls.admin = false;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    let service = env
        .spawn(SERVICE, move |mut config, listeners, shutdown| {
            config.security.server_tls = Some(tls);
            run_with(
                config,
                test_settings(),
                clock::system(),
                listeners,
                http,
                shutdown,
            )
        })
        .await;
    let app = TestApp {
        service,
        nats_url: env.nats.url(),
        http_addr,
    };
    let mut s = Script::default();
    s.team("north", "maya", &["ana"]);
    let mut deal = Opp::new("da", ANA, "trial", (1_000_00, "EUR", 30), "2026-11-30");
    s.opened(&mut deal, script::at("2026-11-02", 9));
    script::publish_all(&app.nats_url, &s.events).await;

    let maya = test_token("maya", Role::Manager);
    let url = format!("https://{http_addr}/v1/reports/pipeline.csv?team=north");
    let ca = pki.ca_file();
    let answer = eventually(WAIT, "the deal in the CSV over https", || {
        let (url, ca, maya) = (url.clone(), ca.clone(), maya.clone());
        async move {
            let answer = https_get(&url, &ca, Some(&maya)).await.unwrap();
            answer.body.contains(",ana,").then_some(answer)
        }
    })
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        answer.body,
        "section,team,rep,stage,currency,deals,amount,weighted\r\n\
         open now,north,ana,trial,EUR,1,1000.00,300.00\r\n"
    );
    // The same port in plain HTTP: the handshake fails, no CSV comes back.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://{http_addr}/v1/reports/pipeline.csv?team=north"
        ))
        .bearer_auth(&maya)
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    // And a client that does not trust the CA is refused.
    let stranger = TestPki::new().unwrap();
    let untrusted = https_get(&url, &stranger.ca_file(), Some(&maya)).await;
    assert!(untrusted.is_err(), "{untrusted:?}");
    app.stop().await;
}

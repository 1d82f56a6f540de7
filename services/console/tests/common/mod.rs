//! What the console's in-process tests share: the console started on free
//! ports over real HTTP, with every service URL pointing at a port nobody
//! answers unless the test gives one, and a client that does not follow
//! redirects.

#![allow(dead_code)]

use std::time::Duration;

use leadwheel_console::config::ConsoleConfig;
use leadwheel_console::{Listeners, run};
use leadwheel_plumbing::config::{LogFormat, Secret, ServerTlsSettings};
use tokio::net::TcpListener;

/// The secret the tests' console signs sessions and links with.
pub const KEY: &str = "console-test-secret-0123456789";

/// A console running in this process.
pub struct Console {
    /// Where browsers connect.
    pub url: String,
    /// Health and metrics.
    pub admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What a test changes from the default start.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `LEADWHEEL_DEV_MODE=1`.
    pub dev_mode: bool,
    /// Reporting's gRPC URL (default: nobody answers).
    pub reporting_url: Option<String>,
    /// Serve TLS with these (the URLs are then `https://`).
    pub tls: Option<ServerTlsSettings>,
}

impl Console {
    /// Starts the console with `options`.
    pub async fn spawn(options: Options) -> Self {
        // A port that was bound and closed: nothing answers there.
        let dead = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let dead = format!("http://{dead}");
        let listeners = Listeners {
            http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            admin: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let admin_scheme = match &options.tls {
            Some(tls) if tls.admin => "https",
            _ => "http",
        };
        let url = format!("{scheme}://{}", listeners.http_addr());
        let admin = format!("{admin_scheme}://{}", listeners.admin_addr());
        let config = ConsoleConfig {
            http_addr: listeners.http_addr(),
            admin_addr: listeners.admin_addr(),
            public_url: None,
            wheel_url: dead.clone(),
            opportunity_url: dead.clone(),
            alerting_url: dead.clone(),
            reporting_url: options.reporting_url.unwrap_or(dead),
            jwt_secret: Secret::new(KEY),
            dev_mode: options.dev_mode,
            session_ttl: Duration::from_secs(600),
            log_format: LogFormat::Human,
            otlp_endpoint: None,
            shutdown_timeout: Duration::from_secs(5),
            tls: options.tls,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(config, listeners, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            admin,
            stop: Some(stop),
            task,
        }
    }

    /// Stops it and checks it stopped cleanly, in time.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops in time")
            .unwrap()
            .unwrap();
    }
}

/// Opens a one-time sign-in `link` to the console at `url` as a person
/// does: the page it opens (which uses nothing), then its Continue button;
/// the answer to that POST (a 303 with the session cookie when accepted).
pub async fn use_link(url: &str, link: &str) -> reqwest::Response {
    let page = client().get(link).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link's page");
    let page = page.text().await.unwrap();
    client()
        .post(format!("{url}/signin/link"))
        .header("origin", url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(leadwheel_plumbing::testing::link_continue_body(&page))
        .send()
        .await
        .unwrap()
}

/// The session cookie (`name=value`) a sign-in answer sets.
pub fn session_cookie(answer: &reqwest::Response) -> String {
    answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

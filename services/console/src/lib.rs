//! leadwheel's web console: a sixth process (`leadwheel serve console`)
//! serving server-rendered pages with htmx and server-sent events. It owns
//! no business data: it calls the services' gRPC APIs as the signed-in user
//! and keeps only sessions, in memory. See `docs/console.md`.

pub mod admin;
pub mod assets;
pub mod config;
pub mod csrf;
pub mod error;
pub mod forms;
pub mod i18n;
pub mod link;
pub mod metrics;
pub mod routes;
pub mod session;
pub mod snapshots;
pub mod state;
pub mod upstream;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use leadwheel_plumbing::auth::Authenticator;
use leadwheel_plumbing::runtime::{announce, bind};
use leadwheel_plumbing::tls::{Incoming, ServerTls};
use leadwheel_plumbing::{shutdown, telemetry};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ConsoleConfig;
use crate::link::UsedLinks;
use crate::session::Sessions;
use crate::state::{AppState, Inner};
use crate::upstream::{Upstream, UpstreamUrls};

/// The service's name (logs, metrics, `leadwheel serve console`).
pub const SERVICE: &str = "console";

/// The console's bound listeners; tests bind port 0 and pass them in.
#[derive(Debug)]
pub struct Listeners {
    /// Browsers.
    pub http: TcpListener,
    /// Health and metrics.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the configured addresses.
    pub async fn bind(config: &ConsoleConfig) -> Result<Self> {
        Ok(Self {
            http: bind(config.http_addr).await?,
            admin: bind(config.admin_addr).await?,
        })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .expect("bound listener has an address")
    }
}

/// The origins a POST may come from: the public URL's, else the bound
/// address as `http://127.0.0.1:PORT` and `http://localhost:PORT`
/// (`https://` when the console serves TLS).
pub fn origins(public_url: Option<&str>, http: SocketAddr, tls: bool) -> Vec<String> {
    let scheme = if tls { "https" } else { "http" };
    match public_url {
        Some(url) => {
            // scheme://host[:port], without any path.
            let after_scheme = url.find("://").map_or(0, |i| i + 3);
            let end = url[after_scheme..]
                .find('/')
                .map_or(url.len(), |i| after_scheme + i);
            vec![url[..end].to_string()]
        }
        None if http.ip().is_loopback() => vec![
            format!("{scheme}://{http}"),
            format!("{scheme}://localhost:{}", http.port()),
        ],
        None => vec![format!("{scheme}://{http}")],
    }
}

/// Serves the console until `shutdown` resolves, then drains: readiness
/// goes false, live streams end, in-flight requests finish (up to the
/// shutdown timeout), the admin port stops last.
pub async fn run(
    config: ConsoleConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    metrics::init();
    let http_addr = listeners.http_addr();
    // The certificate is checked here, before anything is served, and
    // reloaded when its files change.
    let tls = config.tls.as_ref().map(ServerTls::load).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if config.public_url.is_none() && http_addr.ip().is_unspecified() {
        tracing::warn!(
            addr = %http_addr,
            "LEADWHEEL_CONSOLE_PUBLIC_URL is not set: POSTs are accepted only from {scheme}://{http_addr}; \
             set it to the URL browsers use"
        );
    }
    let stop = CancellationToken::new();
    let auth = Authenticator::new(config.jwt_secret.clone());
    let state = AppState::new(Inner {
        sessions: Sessions::new(config.session_ttl),
        used_links: UsedLinks::default(),
        upstream: Upstream::new(
            UpstreamUrls {
                wheel: &config.wheel_url,
                opportunity: &config.opportunity_url,
                alerting: &config.alerting_url,
                reporting: &config.reporting_url,
            },
            auth,
        )?,
        key: config.jwt_secret.clone(),
        dev_mode: config.dev_mode,
        origins: origins(config.public_url.as_deref(), http_addr, tls.is_some()),
        // Browsers reach a console serving TLS over https, whatever the
        // public URL says.
        secure_cookies: tls.is_some()
            || config
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        boards: Default::default(),
        stop: stop.clone(),
    });
    let accepting = Arc::new(AtomicBool::new(false));
    let admin_stop = CancellationToken::new();
    let admin = tokio::spawn(admin::serve(
        Incoming::new(listeners.admin, tls.as_ref().and_then(ServerTls::admin)),
        accepting.clone(),
        admin_stop.clone(),
    ));
    let app = routes::router(state);
    let server_stop = stop.clone();
    let http = Incoming::new(listeners.http, tls.as_ref().map(ServerTls::http));
    let mut server = tokio::spawn(async move {
        axum::serve(http, app)
            .with_graceful_shutdown(server_stop.cancelled_owned())
            .await
    });
    accepting.store(true, Ordering::SeqCst);
    tracing::info!(
        service = SERVICE,
        dev_mode = config.dev_mode,
        "service started"
    );

    let mut failure = None;
    tokio::select! {
        _ = shutdown => {}
        ended = &mut server => {
            failure = Some(match ended {
                Ok(Ok(())) => anyhow::anyhow!("the HTTP server stopped unexpectedly"),
                Ok(Err(err)) => anyhow::anyhow!("serving HTTP: {err}"),
                Err(join) => anyhow::anyhow!("the HTTP server panicked: {join}"),
            });
        }
    }
    tracing::info!(service = SERVICE, "draining");
    accepting.store(false, Ordering::SeqCst);
    // Ends the live streams too (they stop on this token), so the server
    // is not held open by browsers that never hang up.
    stop.cancel();
    if failure.is_none()
        && tokio::time::timeout(config.shutdown_timeout, &mut server)
            .await
            .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time");
        server.abort();
    }
    admin_stop.cancel();
    let _ = admin.await;
    tracing::info!(service = SERVICE, "stopped");
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The binary's body: configuration from the environment, telemetry, the
/// listeners bound and announced, then [`run`] until SIGTERM/SIGINT.
pub async fn main_entry() -> Result<()> {
    let config = ConsoleConfig::from_env()?;
    let telemetry = telemetry::init(SERVICE, config.log_format, config.otlp_endpoint.as_deref())?;
    let result = async {
        let listeners = Listeners::bind(&config).await?;
        announce(
            SERVICE,
            &[
                ("http", listeners.http_addr()),
                ("admin", listeners.admin_addr()),
            ],
        );
        run(config, listeners, shutdown::signal()).await
    }
    .await;
    if let Err(err) = &result {
        tracing::error!(error = %format!("{err:#}"), "stopped with an error");
    }
    telemetry.shutdown();
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_come_from_the_public_url_or_the_bound_address() {
        let addr = "127.0.0.1:8090".parse().unwrap();
        assert_eq!(
            super::origins(Some("https://console.example.com/app"), addr, false),
            ["https://console.example.com"]
        );
        assert_eq!(
            super::origins(None, addr, false),
            ["http://127.0.0.1:8090", "http://localhost:8090"]
        );
        assert_eq!(
            super::origins(None, addr, true),
            ["https://127.0.0.1:8090", "https://localhost:8090"]
        );
    }
}

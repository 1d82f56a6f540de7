//! The common life of a service: connect the store and the bus, run the
//! outbox relay, consumers and background loops, serve gRPC and the admin
//! port, and shut down in order.
//!
//! Shutdown order: mark not ready and stop accepting (gRPC and any extra
//! front doors finish in-flight calls), stop consumers and timers (each
//! finishes the event in hand), flush the outbox, drain NATS, close the
//! store, stop the admin port. Flushing telemetry is left to `main`
//! ([`run_main`] does it last).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::admin::{self, Readiness};
use crate::auth::Authenticator;
use crate::bus::{Bus, StreamSpec};
use crate::config::ServiceConfig;
use crate::inbox::{self, ConsumerSpec, EventHandler};
use crate::jwks::KeySet;
use crate::outbox::{self, Outbox};
use crate::prune;
use crate::store::Store;
use crate::tls::ServerTls;
use crate::{shutdown, telemetry};

/// The bound listeners of a service; tests bind port 0 and pass them in.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC.
    pub grpc: TcpListener,
    /// Admin HTTP.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the configured addresses.
    pub async fn bind(config: &ServiceConfig) -> Result<Self> {
        Ok(Self {
            grpc: bind(config.grpc_addr).await?,
            admin: bind(config.admin_addr).await?,
        })
    }

    /// Binds ephemeral ports on 127.0.0.1 (for tests).
    pub async fn ephemeral() -> Result<Self> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Ok(Self {
            grpc: bind(any).await?,
            admin: bind(any).await?,
        })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
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

/// Binds `addr`, naming it in the error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (is another instance running?)"))
}

/// A started service's shared parts.
pub struct Runtime {
    /// Configuration.
    pub config: ServiceConfig,
    /// The store.
    pub store: Store,
    /// The bus.
    pub bus: Bus,
    /// The outbox handle.
    pub outbox: Outbox,
    /// Verifies bearer tokens.
    pub auth: Authenticator,
    /// The TLS configs of the ports served, when a certificate is set.
    pub tls: Option<ServerTls>,
    /// Cancelled when front doors (gRPC, HTTP, long-lived streams) must stop.
    pub front: CancellationToken,
    /// Cancelled when consumers and background loops must stop.
    pub background: CancellationToken,
    tasks: TaskTracker,
    relay_stop: CancellationToken,
    relay: JoinHandle<()>,
    accepting: Arc<AtomicBool>,
}

impl Runtime {
    /// Connects the store (running migrations) and the bus, creates (or
    /// updates to the retention settings) the stream this service
    /// publishes to, and starts the outbox relay and the prune of old
    /// outbox and inbox rows.
    pub async fn start(
        config: ServiceConfig,
        migrator: &Migrator,
        publishes: Option<&'static StreamSpec>,
    ) -> Result<Self> {
        // A missing or broken certificate stops the start here.
        let tls = config
            .security
            .server_tls
            .as_ref()
            .map(ServerTls::load)
            .transpose()?;
        let store = Store::connect(config.database_url.expose(), migrator).await?;
        let bus = Bus::connect(&config).await?;
        let relay_stop = CancellationToken::new();
        if let Some(spec) = publishes {
            // NATS being down must not stop a service from starting: writes
            // queue in the outbox and the stream is created once NATS is back.
            let max_age = config.retention.stream_max_age(spec);
            let replicas = config.retention.stream_replicas;
            let first = tokio::time::timeout(
                Duration::from_secs(5),
                bus.configure_stream(spec, max_age, replicas),
            )
            .await;
            if !matches!(first, Ok(Ok(()))) {
                // Also a setting the servers refuse (more replicas than
                // servers): say why, so that is not taken for an outage.
                let error = match first {
                    Ok(Err(err)) => format!("{err:#}"),
                    _ => "timed out".to_string(),
                };
                tracing::warn!(
                    stream = spec.name,
                    replicas,
                    error = %error,
                    "stream not ready at start (NATS unavailable, or the stream settings refused); events queue in the outbox until it is"
                );
                tokio::spawn(ensure_stream_until_done(
                    bus.clone(),
                    spec,
                    max_age,
                    replicas,
                    relay_stop.clone(),
                ));
            }
        }
        let outbox = Outbox::new(config.service);
        let relay = tokio::spawn(outbox::run_relay(
            store.clone(),
            bus.jetstream.clone(),
            outbox.clone(),
            relay_stop.clone(),
            config.shutdown_timeout / 2,
        ));
        let mut auth = Authenticator::new(config.jwt_secret.clone());
        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        if let Some(idp) = &config.security.idp {
            let keys = KeySet::new(idp.clone())?;
            // The provider being down must not stop a service from
            // starting: its tokens are refused until the keys arrive (the
            // refresh retries), leadwheel's own keep working.
            match tokio::time::timeout(Duration::from_secs(5), keys.fetch()).await {
                Ok(Ok(count)) => {
                    tracing::info!(keys = count, url = %idp.jwks_url, "identity provider key set loaded")
                }
                Ok(Err(err)) => {
                    tracing::warn!(error = %format!("{err:#}"), "identity provider key set unavailable at start; retrying")
                }
                Err(_) => {
                    tracing::warn!(url = %idp.jwks_url, "identity provider key set timed out at start; retrying")
                }
            }
            tasks.spawn(keys.clone().run_refresh(background.clone()));
            auth = auth.with_key_set(keys);
        }
        tasks.spawn(prune::run(
            store.clone(),
            config.retention.clone(),
            background.clone(),
        ));
        Ok(Self {
            config,
            store,
            bus,
            outbox,
            auth,
            tls,
            front: CancellationToken::new(),
            background,
            tasks,
            relay_stop,
            relay,
            accepting: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs an inbox consumer in the background until shutdown.
    pub fn spawn_consumer<H: EventHandler>(&self, spec: ConsumerSpec, handler: H) {
        self.tasks.spawn(inbox::run_consumer(
            self.bus.clone(),
            self.store.clone(),
            self.outbox.clone(),
            spec,
            handler,
            self.background.clone(),
        ));
    }

    /// Runs a background loop; it must return once `self.background` fires.
    pub fn spawn_background<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Serves `service` over gRPC plus the admin port until `shutdown`
    /// resolves (or a server fails), then shuts down in order. `extra` are
    /// further front doors (e.g. intake's HTTP) that stop on `self.front`.
    pub async fn serve<S>(
        self,
        listeners: Listeners,
        service: S,
        extra: Vec<JoinHandle<Result<()>>>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()>
    where
        S: tower::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        // Any body tonic can send, so a service wrapped in an interceptor
        // (whose responses carry tonic's `ResponseBody`) can be served.
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        let admin_stop = CancellationToken::new();
        let readiness = Readiness {
            accepting: self.accepting.clone(),
            store: self.store.clone(),
            bus: self.bus.clone(),
        };
        let admin_task = tokio::spawn(admin::serve(
            listeners.admin,
            self.tls.as_ref().and_then(ServerTls::admin),
            readiness,
            admin_stop.clone(),
        ));
        let grpc_task = tokio::spawn(crate::grpc::serve(
            listeners.grpc,
            self.tls.as_ref().map(ServerTls::grpc),
            service,
            self.front.clone(),
        ));
        self.accepting.store(true, Ordering::SeqCst);
        tracing::info!(service = self.config.service, "service started");

        let mut front_tasks = vec![grpc_task];
        front_tasks.extend(extra);
        let first_failure = async {
            let (result, _, _) = futures::future::select_all(front_tasks.iter_mut()).await;
            result
        };
        let mut failure = None;
        tokio::select! {
            _ = shutdown => {}
            result = first_failure => {
                failure = Some(match result {
                    Ok(Ok(())) => anyhow::anyhow!("a server stopped unexpectedly"),
                    Ok(Err(err)) => err,
                    Err(join) => anyhow::anyhow!("a server panicked: {join}"),
                });
            }
        }

        let deadline = self.config.shutdown_timeout;
        tracing::info!(service = self.config.service, "draining");
        self.accepting.store(false, Ordering::SeqCst);
        self.front.cancel();
        if tokio::time::timeout(deadline, futures::future::join_all(front_tasks))
            .await
            .is_err()
        {
            tracing::warn!("front doors did not finish in-flight calls in time");
        }
        self.background.cancel();
        self.tasks.close();
        if tokio::time::timeout(deadline, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
        }
        self.relay_stop.cancel();
        let _ = self.relay.await;
        if let Err(err) =
            tokio::time::timeout(Duration::from_secs(5), self.bus.client.drain()).await
        {
            tracing::warn!(error = %err, "NATS drain timed out");
        }
        self.store.close().await;
        admin_stop.cancel();
        let _ = admin_task.await;
        tracing::info!(service = self.config.service, "stopped");
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// Retries creating `spec`'s stream until it succeeds or `stop` fires.
async fn ensure_stream_until_done(
    bus: Bus,
    spec: &'static StreamSpec,
    max_age: Option<Duration>,
    replicas: usize,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => return,
        }
        match bus.configure_stream(spec, max_age, replicas).await {
            Ok(()) => {
                tracing::info!(stream = spec.name, "stream ready");
                return;
            }
            Err(err) => {
                tracing::debug!(stream = spec.name, error = %format!("{err:#}"), "stream not ready yet")
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Logs the addresses a service listens on, in one line of a fixed shape
/// (`addresses="grpc=127.0.0.1:50052 admin=127.0.0.1:51052"`), so operators
/// and the end-to-end tests (which bind port 0) can read them.
pub fn announce(service: &str, addresses: &[(&str, SocketAddr)]) {
    let addresses = addresses
        .iter()
        .map(|(name, addr)| format!("{name}={addr}"))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(service, addresses = %addresses, "listening");
}

/// The future a service's `run` stops on: SIGTERM/SIGINT in the binary,
/// a oneshot in tests.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The body of a service binary with the usual two ports: configuration
/// from the environment (`LEADWHEEL_<SERVICE>_…`), telemetry, the listeners
/// bound and [`announce`]d, then `run(config, listeners, shutdown)` until
/// SIGTERM or SIGINT. A failure is logged before telemetry is flushed (last),
/// and returned.
pub async fn run_main<F, Fut>(service: &'static str, default_grpc_port: u16, run: F) -> Result<()>
where
    F: FnOnce(ServiceConfig, Listeners, Shutdown) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let config = ServiceConfig::from_env(service, default_grpc_port)?;
    let telemetry = telemetry::init(service, config.log_format, config.otlp_endpoint.as_deref())?;
    let result = async {
        let listeners = Listeners::bind(&config).await?;
        announce(
            service,
            &[
                ("grpc", listeners.grpc_addr()),
                ("admin", listeners.admin_addr()),
            ],
        );
        run(config, listeners, Box::pin(shutdown::signal())).await
    }
    .await;
    if let Err(err) = &result {
        tracing::error!(error = %format!("{err:#}"), "stopped with an error");
    }
    telemetry.shutdown();
    result
}

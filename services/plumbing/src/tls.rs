//! TLS (rustls with ring) for the ports a service serves and the
//! connections it makes.
//!
//! Servers: with `LEADWHEEL_TLS_CERT_FILE` and `LEADWHEEL_TLS_KEY_FILE` set,
//! the gRPC port, the admin port (unless `LEADWHEEL_ADMIN_TLS=0`) and any
//! HTTP front door (intake's) speak TLS. The certificate and key are read
//! again every `LEADWHEEL_TLS_RELOAD_MS` (10 s) and swapped in when the files'
//! contents change (new connections get the new certificate; a pair that
//! does not parse or does not match is logged and the old one kept). With
//! `LEADWHEEL_TLS_CLIENT_CA_FILE` the gRPC port asks clients for a
//! certificate signed by that CA: refusing connections without one
//! (`LEADWHEEL_TLS_CLIENT_AUTH=required`, the default) or accepting them
//! (`optional`). The admin and HTTP ports never ask for client
//! certificates (probes, Prometheus and webhook senders do not send one).
//!
//! Clients: an `https://` URL is reached over TLS, trusting the system's
//! roots plus `LEADWHEEL_TLS_CA_FILE`, and presenting
//! `LEADWHEEL_TLS_CLIENT_CERT_FILE`/`LEADWHEEL_TLS_CLIENT_KEY_FILE` when set.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::config::{env_duration_ms, env_or};

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

use leadwheel_client::tls::certs_from_pem;
pub use leadwheel_client::tls::{
    ClientConn, ClientTlsSettings, TlsConnector, channel, connect_lazy, provider, read_certs,
    read_key, root_store,
};

/// Whether the gRPC port requires client certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Connections without a valid client certificate are refused.
    Required,
    /// A client certificate is verified when sent, but not required.
    Optional,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "required" => Ok(Self::Required),
            "optional" => Ok(Self::Optional),
            other => Err(format!(
                "unknown client auth {other:?} (required or optional)"
            )),
        }
    }
}

/// A server's TLS settings (from `LEADWHEEL_TLS_*`).
#[derive(Clone, Debug)]
pub struct ServerTlsSettings {
    /// PEM certificate chain (`LEADWHEEL_TLS_CERT_FILE`).
    pub cert_file: PathBuf,
    /// PEM private key (`LEADWHEEL_TLS_KEY_FILE`).
    pub key_file: PathBuf,
    /// CA verifying client certificates on the gRPC port
    /// (`LEADWHEEL_TLS_CLIENT_CA_FILE`), optional.
    pub client_ca_file: Option<PathBuf>,
    /// Whether a client certificate is required (`LEADWHEEL_TLS_CLIENT_AUTH`).
    pub client_auth: ClientAuth,
    /// TLS on the admin port too (`LEADWHEEL_ADMIN_TLS`, default 1).
    pub admin: bool,
    /// How often the files are checked for a change (`LEADWHEEL_TLS_RELOAD_MS`).
    pub reload_every: Duration,
}

impl ServerTlsSettings {
    /// Reads the settings; `None` when no certificate is configured.
    pub fn from_env() -> Result<Option<Self>> {
        let cert = non_empty_env("LEADWHEEL_TLS_CERT_FILE");
        let key = non_empty_env("LEADWHEEL_TLS_KEY_FILE");
        let (cert_file, key_file) = match (cert, key) {
            (None, None) => {
                if non_empty_env("LEADWHEEL_TLS_CLIENT_CA_FILE").is_some() {
                    bail!(
                        "LEADWHEEL_TLS_CLIENT_CA_FILE needs LEADWHEEL_TLS_CERT_FILE and LEADWHEEL_TLS_KEY_FILE"
                    );
                }
                return Ok(None);
            }
            (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
            (Some(_), None) => {
                bail!("LEADWHEEL_TLS_CERT_FILE is set but LEADWHEEL_TLS_KEY_FILE is not")
            }
            (None, Some(_)) => {
                bail!("LEADWHEEL_TLS_KEY_FILE is set but LEADWHEEL_TLS_CERT_FILE is not")
            }
        };
        let admin = match env_or("LEADWHEEL_ADMIN_TLS", "1").as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            other => bail!("invalid LEADWHEEL_ADMIN_TLS={other:?}: expected 1 or 0"),
        };
        let client_auth = env_or("LEADWHEEL_TLS_CLIENT_AUTH", "required")
            .parse()
            .map_err(|err| anyhow::anyhow!("invalid LEADWHEEL_TLS_CLIENT_AUTH: {err}"))?;
        let reload_every = env_duration_ms("LEADWHEEL_TLS_RELOAD_MS", Duration::from_secs(10))?;
        if reload_every.is_zero() {
            bail!("LEADWHEEL_TLS_RELOAD_MS must be more than 0");
        }
        Ok(Some(Self {
            cert_file,
            key_file,
            client_ca_file: non_empty_env("LEADWHEEL_TLS_CLIENT_CA_FILE").map(PathBuf::from),
            client_auth,
            admin,
            reload_every,
        }))
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The current certificate, swapped when the files change.
#[derive(Debug)]
struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey> {
    let certs = certs_from_pem(cert_pem).context("certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|err| anyhow::anyhow!("no PEM private key ({err})"))?;
    let certified =
        CertifiedKey::from_der(certs, key, &provider()).context("certificate and key")?;
    Ok(certified)
}

/// A server's TLS configs (one for gRPC, one for HTTP), sharing a
/// certificate that is reloaded when its files change.
#[derive(Clone, Debug)]
pub struct ServerTls {
    grpc: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
    admin: bool,
}

impl ServerTls {
    /// Loads the certificate (failing when it cannot) and starts watching
    /// the files; the watch ends once every config built here is dropped.
    pub fn load(settings: &ServerTlsSettings) -> Result<Self> {
        let read = |settings: &ServerTlsSettings| -> Result<(Vec<u8>, Vec<u8>)> {
            Ok((
                std::fs::read(&settings.cert_file)
                    .with_context(|| format!("reading {}", settings.cert_file.display()))?,
                std::fs::read(&settings.key_file)
                    .with_context(|| format!("reading {}", settings.key_file.display()))?,
            ))
        };
        let (cert_pem, key_pem) = read(settings)?;
        let first = certified_key(&cert_pem, &key_pem).with_context(|| {
            format!(
                "TLS certificate {} and key {}",
                settings.cert_file.display(),
                settings.key_file.display()
            )
        })?;
        let resolver = Arc::new(ReloadingCert {
            current: RwLock::new(Arc::new(first)),
        });
        let client_verifier = match &settings.client_ca_file {
            None => None,
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(path)? {
                    roots.add(cert).with_context(|| {
                        format!("client CA file {}: invalid certificate", path.display())
                    })?;
                }
                let builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let builder = match settings.client_auth {
                    ClientAuth::Required => builder,
                    ClientAuth::Optional => builder.allow_unauthenticated(),
                };
                Some(builder.build().context("client certificate verifier")?)
            }
        };
        let base = || {
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .context("TLS protocol versions")
        };
        let mut grpc = match client_verifier {
            Some(verifier) => base()?.with_client_cert_verifier(verifier),
            None => base()?.with_no_client_auth(),
        }
        .with_cert_resolver(resolver.clone());
        grpc.alpn_protocols = vec![b"h2".to_vec()];
        let mut http = base()?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        http.alpn_protocols = vec![b"http/1.1".to_vec()];

        let weak = Arc::downgrade(&resolver);
        let admin = settings.admin;
        let settings = settings.clone();
        tokio::spawn(async move {
            let mut last = (cert_pem, key_pem);
            loop {
                tokio::time::sleep(settings.reload_every).await;
                let Some(resolver) = weak.upgrade() else {
                    return;
                };
                let files = match read(&settings) {
                    Ok(files) => files,
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "TLS files unreadable; keeping the current certificate");
                        continue;
                    }
                };
                if files == last {
                    continue;
                }
                match certified_key(&files.0, &files.1) {
                    Ok(key) => {
                        *resolver.current.write().unwrap_or_else(|e| e.into_inner()) =
                            Arc::new(key);
                        tracing::info!(cert = %settings.cert_file.display(), "TLS certificate reloaded");
                        last = files;
                    }
                    // Mid-update (the certificate written, not yet the key)
                    // or broken: try again next round.
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "new TLS files rejected; keeping the current certificate")
                    }
                }
            }
        });
        Ok(Self {
            grpc: Arc::new(grpc),
            http: Arc::new(http),
            admin,
        })
    }

    /// The gRPC port's config (HTTP/2, client certificates as configured).
    pub fn grpc(&self) -> Arc<ServerConfig> {
        self.grpc.clone()
    }

    /// An HTTP port's config (HTTP/1.1, no client certificates).
    pub fn http(&self) -> Arc<ServerConfig> {
        self.http.clone()
    }

    /// The admin port's config, unless `LEADWHEEL_ADMIN_TLS=0`.
    pub fn admin(&self) -> Option<Arc<ServerConfig>> {
        self.admin.then(|| self.http.clone())
    }
}

/// An accepted connection, plain or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The client certificate chain the peer presented, if any.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match self {
            Conn::Plain(_) => None,
            Conn::Tls(tls) => tls.get_ref().1.peer_certificates(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.tcp().local_addr().ok(),
            remote_addr: self.tcp().peer_addr().ok(),
        }
    }
}

/// The connections accepted on a listener (with `TCP_NODELAY`), through a
/// TLS handshake when `tls` is set. Handshakes run concurrently, so a slow
/// or silent client holds up nobody; failed ones are logged and dropped.
/// Accepting stops once this is dropped.
pub struct Incoming {
    rx: mpsc::Receiver<(Conn, SocketAddr)>,
    local_addr: SocketAddr,
}

impl Incoming {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, tls: Option<Arc<ServerConfig>>) -> Self {
        let local_addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(accept_loop(listener, tls, tx));
        Self { rx, local_addr }
    }

    /// As a stream, for tonic's `serve_with_incoming_shutdown`.
    pub fn into_stream(self) -> impl futures::Stream<Item = io::Result<Conn>> {
        use futures::StreamExt;
        tokio_stream::wrappers::ReceiverStream::new(self.rx).map(|(conn, _)| Ok(conn))
    }
}

impl axum::serve::Listener for Incoming {
    type Io = Conn;
    type Addr = SocketAddr;
    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.rx.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends once this receiver is gone.
            None => std::future::pending().await,
        }
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tx.closed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off a little.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without it a reply written as several HTTP/2 frames waits for
        // the client's delayed ACK (40 ms on Linux) before its last frame
        // leaves.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        match &acceptor {
            None => {
                if tx.send((Conn::Plain(tcp), peer)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((Conn::Tls(Box::new(tls)), peer)).await;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(%peer, error = %err, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// TLS on the NATS connection: a `tls://` URL (`NATS_URL`) requires it;
/// `NATS_CA_FILE` is the CA the server's certificate is checked against
/// (instead of the system roots), `NATS_TLS_CERT_FILE`/`NATS_TLS_KEY_FILE` a
/// client certificate for servers that verify clients.
#[derive(Clone, Debug, Default)]
pub struct NatsTlsSettings {
    /// `NATS_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// `NATS_TLS_CERT_FILE` and `NATS_TLS_KEY_FILE`.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl NatsTlsSettings {
    /// Reads the settings.
    pub fn from_env() -> Result<Self> {
        let identity = match (
            non_empty_env("NATS_TLS_CERT_FILE"),
            non_empty_env("NATS_TLS_KEY_FILE"),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            _ => bail!("set both NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE, or neither"),
        };
        Ok(Self {
            ca_file: non_empty_env("NATS_CA_FILE").map(PathBuf::from),
            identity,
        })
    }

    /// Applies the settings to the NATS client's options.
    pub fn apply(&self, mut options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        if let Some(ca) = &self.ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.identity {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        options
    }
}

/// An HTTP front door's listener (over TLS with `tls`) for `axum::serve`,
/// giving the peer's `SocketAddr` as connect info.
pub fn http_listener(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
) -> axum::serve::TapIo<Incoming, fn(&mut Conn)> {
    use axum::serve::ListenerExt;
    fn untouched(_: &mut Conn) {}
    Incoming::new(listener, tls).tap_io(untouched as fn(&mut Conn))
}

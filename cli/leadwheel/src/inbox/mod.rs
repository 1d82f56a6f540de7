//! The dev inbox: what `leadwheel dev` runs so alerts reach a newcomer
//! with no mail server and no Slack. An SMTP receiver and a webhook
//! receiver, both local, write every arrival as a file under
//! `<data-dir>/inbox/` (`store.rs`), listed by a page and a JSON endpoint
//! on the HTTP port (`http.rs`) and by `leadwheel inbox` (`cli.rs`).

pub mod cli;
mod http;
mod mail;
mod page;
mod session;
mod smtp;
pub mod store;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use store::Store;

/// The hook the demo team's webhook posts to: `/hooks/demo`.
pub fn hook_url(http: SocketAddr, hook: &str) -> String {
    format!("http://{http}/hooks/{hook}")
}

/// `2026-11-29 22:40:01` (UTC) for a Unix time in ms.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A running inbox.
pub struct Inbox {
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Inbox {
    /// Serves on the bound listeners, writing under `<data_dir>/inbox/`.
    pub fn start(data_dir: &Path, smtp: TcpListener, http: TcpListener) -> Result<Self> {
        let dir = store::dir_in(data_dir);
        let store = Arc::new(
            Store::open(dir.clone()).with_context(|| format!("opening {}", dir.display()))?,
        );
        let (stop, stopped) = watch::channel(false);
        let smtp_addr = smtp.local_addr()?;
        let http_addr = http.local_addr()?;
        let smtp_task = tokio::spawn(smtp::serve(smtp, store.clone(), stopped.clone()));
        let mut stopped = stopped;
        let http_task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let served = axum::serve(http, http::router(store))
                .with_graceful_shutdown(shutdown)
                .await;
            if let Err(err) = served {
                eprintln!("leadwheel: the dev inbox's HTTP server failed: {err}");
            }
        });
        Ok(Self {
            smtp: smtp_addr,
            http: http_addr,
            stop,
            tasks: vec![smtp_task, http_task],
        })
    }

    /// Stops accepting and lets what is in flight finish (a few seconds at most).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }
}

/// Binds the inbox's two addresses, naming the one that is taken.
pub async fn bind(smtp: SocketAddr, http: SocketAddr) -> Result<(TcpListener, TcpListener)> {
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr).await.with_context(|| {
            format!(
                "cannot listen on {addr} for the dev inbox's {what} (is another `leadwheel dev` \
                 running? --inbox-smtp-addr and --inbox-http-addr move it)"
            )
        })
    };
    Ok((bind(smtp, "SMTP").await?, bind(http, "HTTP").await?))
}

//! Watching the consumers of a running system: JetStream's advisories of
//! terminated messages, so a test can say "no consumer rejected anything"
//! (a terminated event is acked from the stream's side and would otherwise
//! leave no trace but a log line).

use std::sync::Mutex;

use anyhow::Result;
use futures::{FutureExt, StreamExt};

/// JetStream publishes `<prefix>.<stream>.<consumer>` when a consumer
/// terminates a message.
const TERMINATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED";

/// One terminated message: the stream and durable consumer that dropped it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminated {
    /// The stream, e.g. `LEADWHEEL_WHEEL`.
    pub stream: String,
    /// The durable consumer, e.g. `opportunity-wheel`.
    pub consumer: String,
}

/// Collects every termination advisory from the moment it starts.
pub struct TerminationWatch {
    client: async_nats::Client,
    subscriber: tokio::sync::Mutex<async_nats::Subscriber>,
    seen: Mutex<Vec<Terminated>>,
}

impl TerminationWatch {
    /// Subscribes to the advisories on `nats_url` (before the events under
    /// test flow: advisories are not kept).
    pub async fn start(nats_url: &str) -> Result<Self> {
        let client = leadwheel_plumbing::testing::connect(nats_url).await?;
        let subscriber = client.subscribe(format!("{TERMINATED}.>")).await?;
        client.flush().await?;
        Ok(Self {
            client,
            subscriber: tokio::sync::Mutex::new(subscriber),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// Every termination so far. The flush is a round trip on the
    /// subscription's own connection: advisories the server sent before
    /// answering it are already in the subscription's queue, drained here.
    pub async fn seen(&self) -> Vec<Terminated> {
        let _ = self.client.flush().await;
        let mut subscriber = self.subscriber.lock().await;
        let mut seen = self.seen.lock().expect("watch lock");
        while let Some(Some(message)) = subscriber.next().now_or_never() {
            let rest = message
                .subject
                .as_str()
                .strip_prefix(TERMINATED)
                .unwrap_or_default()
                .trim_start_matches('.');
            let (stream, consumer) = rest.split_once('.').unwrap_or((rest, ""));
            seen.push(Terminated {
                stream: stream.to_string(),
                consumer: consumer.to_string(),
            });
        }
        seen.clone()
    }
}

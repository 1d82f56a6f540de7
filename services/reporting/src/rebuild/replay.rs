//! Reads one stream from its first message through an ephemeral consumer
//! (no acks: nothing is kept on the server once the replay ends): in
//! batches the rebuild folds ([`Replay::read`]), or applied to the fresh
//! store in large transactions with the service's own handler and inbox
//! ([`Replay::catch_up`], for the switch's last events), so the fresh
//! tables get exactly what the durable consumers would have made of the
//! same events.

use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use futures::StreamExt;
use leadwheel_plumbing::Store;
use leadwheel_plumbing::bus::{Bus, Event, StreamSpec};
use leadwheel_plumbing::inbox::{self, EventHandler, HandlerError};
use leadwheel_proto::events::v1::Envelope;
use prost::Message as _;

use crate::consumer::Handler;

/// Messages read from a stream in one fetch.
pub struct Batch {
    /// The decodable ones.
    pub events: Vec<Event>,
    /// Messages read from the stream so far, this batch included.
    pub delivered: u64,
    /// Messages the server had left after this batch.
    pub pending: u64,
}

/// One stream being replayed.
pub struct Replay {
    /// The durable consumer it stands in for (its inbox key).
    durable: &'static str,
    stream: &'static StreamSpec,
    consumer: PullConsumer,
    /// Events read so far (applied or skipped as malformed).
    delivered: u64,
    /// The stream sequence of the last message read.
    last_sequence: u64,
}

impl Replay {
    /// An ephemeral consumer of `stream`'s `filter` subjects (the durable
    /// consumer's, [`crate::filter_subjects`]) from the first
    /// message, standing in for the durable consumer `durable`.
    pub async fn open(
        bus: &Bus,
        durable: &'static str,
        stream: &'static StreamSpec,
        filter: Vec<String>,
    ) -> Result<Self> {
        bus.ensure_stream(stream).await?;
        let handle = bus
            .jetstream
            .get_stream(stream.name)
            .await
            .with_context(|| format!("opening stream {}", stream.name))?;
        let consumer = handle
            .create_consumer(pull::Config {
                durable_name: None,
                filter_subjects: filter,
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                // Removed by the server soon after the replay stops reading.
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating a replay consumer on {}", stream.name))?;
        Ok(Self {
            durable,
            stream,
            consumer,
            delivered: 0,
            last_sequence: 0,
        })
    }

    /// The stream sequence of the last message read.
    pub fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    /// The last sequence of the stream now.
    pub async fn stream_end(&mut self, bus: &Bus) -> Result<u64> {
        let mut handle = bus
            .jetstream
            .get_stream(self.stream.name)
            .await
            .with_context(|| format!("opening stream {}", self.stream.name))?;
        let info = handle
            .info()
            .await
            .with_context(|| format!("reading stream {}", self.stream.name))?;
        Ok(info.state.last_sequence)
    }

    /// Reads the next `batch` messages at most; `None` once the consumer
    /// has nothing left to deliver. Undecodable envelopes are skipped (and
    /// logged); the batch's `pending` is what the server had left after it.
    pub async fn read(&mut self, batch: usize) -> Result<Option<Batch>> {
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(batch)
            .messages()
            .await
            .with_context(|| format!("fetching from {}", self.stream.name))?;
        let mut events = Vec::with_capacity(batch);
        let mut pending = 0;
        let mut read = 0;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|err| anyhow::anyhow!("{err}"))?;
            if let Ok(info) = message.info() {
                self.last_sequence = info.stream_sequence;
                pending = info.pending;
            }
            self.delivered += 1;
            read += 1;
            match Envelope::decode(message.payload.as_ref()) {
                Ok(envelope) => events.push(Event {
                    subject: message.subject.to_string(),
                    envelope,
                    traceparent: None,
                }),
                Err(err) => {
                    tracing::warn!(consumer = self.durable, subject = %message.subject, error = %err, "undecodable envelope skipped");
                }
            }
        }
        if read == 0 && self.delivered_all().await? {
            return Ok(None);
        }
        Ok(Some(Batch {
            events,
            delivered: self.delivered,
            pending,
        }))
    }

    /// Applies every message available now (up to stream sequence `until`
    /// when given), `batch` events per transaction of `store`, with the
    /// service's handler. After each transaction, `progress(applied,
    /// delivered, pending)` is told how many events it applied, how many
    /// were read in all and how many are left.
    pub async fn catch_up(
        &mut self,
        store: &Store,
        handler: &Handler,
        batch: usize,
        until: Option<u64>,
        mut progress: impl FnMut(u64, u64, u64),
    ) -> Result<()> {
        loop {
            if until.is_some_and(|end| self.last_sequence >= end) {
                return Ok(());
            }
            let Some(read) = self.read(batch).await? else {
                return Ok(());
            };
            let applied = self.apply(store, handler, &read.events).await?;
            progress(applied, read.delivered, read.pending);
        }
    }

    /// True when the consumer has nothing left to deliver.
    async fn delivered_all(&mut self) -> Result<bool> {
        let info = self
            .consumer
            .info()
            .await
            .with_context(|| format!("reading the replay consumer of {}", self.stream.name))?;
        Ok(info.num_pending == 0)
    }

    /// Applies `events` in one transaction; returns how many were new.
    async fn apply(&self, store: &Store, handler: &Handler, events: &[Event]) -> Result<u64> {
        let mut tx = store.begin().await.context("beginning a replay batch")?;
        let mut applied = 0;
        for event in events {
            // A malformed event is rejected before anything is written, so
            // the batch needs no savepoint per event (the durable consumer
            // terminates the same events).
            if let Err(err) = Handler::check(event) {
                tracing::warn!(consumer = self.durable, event_id = %event.envelope.id, subject = %event.subject, error = %err, "malformed event skipped");
                continue;
            }
            if !inbox::record(&mut tx, self.durable, &event.envelope.id).await? {
                continue;
            }
            match handler.handle(&mut tx, event).await {
                Ok(()) => applied += 1,
                Err(HandlerError::Transient(err) | HandlerError::Permanent(err)) => {
                    return Err(err.context(format!(
                        "applying event {} ({})",
                        event.envelope.id, event.subject
                    )));
                }
            }
        }
        tx.commit().await.context("committing a replay batch")?;
        Ok(applied)
    }
}

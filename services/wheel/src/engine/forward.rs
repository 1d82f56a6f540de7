//! Commands forwarded to the holder of the writer's lease (Postgres).
//! Only the holder batches (see `lease`); a replica without the lease
//! sends a rep's claim or pass, or a manager's action, to the holder as a
//! NATS request on [`subjects::WHEEL_WRITER_COMMANDS`] and answers its
//! caller with the holder's reply, so every replica's callers share the
//! holder's group commit instead of writing alone, in parallel, against
//! the same team rows.
//!
//! The holder answers only after its batch committed, as it does its own
//! callers. The subscription is a queue group, so at a change of holder,
//! when two replicas are briefly subscribed, one of them gets each
//! command; one that no longer holds the lease answers [`Reply::NotHolder`].
//! A replica applies the command itself, alone, when nobody holds the
//! lease (NATS answers "no responders": nothing was sent to anyone) or
//! the one that got it no longer did; the conditional writes keep that
//! safe beside the holder's batches. When the holder does not answer in
//! [`TIMEOUT`], the command may or may not have been applied, so the
//! caller is told to try again rather than have it applied a second time.
//!
//! Expiries are not forwarded: a replica without the lease leaves due
//! offers to the holder for the timers' grace (see `lease`).

use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use async_nats::{HeaderMap, Message, RequestErrorKind};
use futures::{FutureExt, StreamExt};
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::metrics;
use leadwheel_plumbing::store::Backend;
use leadwheel_plumbing::telemetry::{self, TRACEPARENT};
use leadwheel_wheel_core::{Decision, Input};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Applied, Engine, Outcome};
use crate::error::{RemoteError, WheelError};

/// How long a replica waits for the holder's reply: a batch under load
/// takes milliseconds, so this is a holder that stopped answering.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The queue group of the holder's subscription.
const QUEUE_GROUP: &str = "wheel-writer";
/// How often the holder's subscription checks that it still holds the lease.
const LEASE_CHECK: Duration = Duration::from_millis(250);
/// Commands the holder takes from others at once (its writer's queue).
const IN_FLIGHT: usize = super::writer::QUEUE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ForwardLabels {
    /// `sent` (by a replica without the lease, answered by the holder),
    /// `served` (by the holder), `applied_here` (nobody held the lease),
    /// `timed_out`.
    outcome: &'static str,
}

static FORWARDED: LazyLock<Family<ForwardLabels, Counter>> = LazyLock::new(|| {
    let family = Family::<ForwardLabels, Counter>::default();
    metrics::register(
        "wheel_forwarded_commands",
        "Commands forwarded to the holder of the writer's lease, by outcome",
        family.clone(),
    );
    family
});

fn count(outcome: &'static str) {
    FORWARDED.get_or_create(&ForwardLabels { outcome }).inc();
}

/// A command as a replica sends it to the holder.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forwarded {
    pub lead_id: String,
    pub input: Input,
    pub actor: String,
}

/// The holder's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Committed.
    Applied { decision: Box<Decision> },
    /// Refused or failed; nothing was written.
    Failed { error: RemoteError },
    /// The replica that got it no longer holds the lease; nothing was written.
    NotHolder,
}

impl Reply {
    fn of(applied: Applied) -> Self {
        match applied.and_then(Outcome::into_result) {
            Ok(decision) => Self::Applied {
                decision: Box::new(decision),
            },
            Err(err) => Self::Failed { error: err.into() },
        }
    }
}

impl Engine {
    /// Whether this replica sends its commands to the lease's holder: on
    /// Postgres while another replica holds it.
    pub(super) fn forwards(&self) -> bool {
        self.store.backend() == Backend::Postgres && !self.holds_lease()
    }

    /// Sends a command to the holder of the writer's lease and returns its
    /// outcome; None when no replica holds the lease (the caller applies
    /// it here).
    pub(super) async fn forward(
        &self,
        lead_id: &str,
        input: &Input,
        actor: &str,
    ) -> Option<Applied> {
        let command = Forwarded {
            lead_id: lead_id.to_string(),
            input: input.clone(),
            actor: actor.to_string(),
        };
        let payload = serde_json::to_vec(&command).expect("a command serializes");
        let mut request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(TIMEOUT));
        if let Some(traceparent) = telemetry::current_traceparent() {
            let mut headers = HeaderMap::new();
            headers.insert(TRACEPARENT, traceparent.as_str());
            request = request.headers(headers);
        }
        let reply = match self
            .bus
            .client
            .send_request(subjects::WHEEL_WRITER_COMMANDS, request)
            .await
        {
            Ok(reply) => reply,
            Err(err) if err.kind() == RequestErrorKind::NoResponders => {
                count("applied_here");
                return None;
            }
            Err(err) if err.kind() == RequestErrorKind::TimedOut => {
                count("timed_out");
                tracing::warn!(
                    lead_id,
                    "the writer's lease holder did not answer a forwarded command"
                );
                return Some(Err(WheelError::Unavailable(format!(
                    "the wheel's writer did not answer within {} s; the command may not have \
                     been applied: read the lead, then try again",
                    TIMEOUT.as_secs()
                ))));
            }
            Err(err) => {
                return Some(Err(WheelError::Unavailable(format!(
                    "forwarding to the wheel's writer failed: {err}"
                ))));
            }
        };
        match serde_json::from_slice::<Reply>(&reply.payload) {
            Ok(Reply::Applied { decision }) => {
                count("sent");
                Some(Ok(Outcome::Transition(*decision)))
            }
            Ok(Reply::Failed { error }) => {
                count("sent");
                Some(Err(error.into()))
            }
            Ok(Reply::NotHolder) => {
                count("applied_here");
                None
            }
            Err(err) => Some(Err(WheelError::Corrupt(format!(
                "the writer's reply to a forwarded command: {err}"
            )))),
        }
    }

    /// The holder's side: while this replica holds the writer's lease, it
    /// takes the commands other replicas forward and answers each once
    /// its batch committed. Runs until `cancel` fires; on SQLite returns
    /// at once (one process, nothing to forward).
    pub async fn run_forwarded(self, cancel: CancellationToken) {
        if self.store.backend() != Backend::Postgres {
            return;
        }
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut check = tokio::time::interval(LEASE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            while !self.holds_lease() {
                tokio::select! {
                    _ = check.tick() => {}
                    _ = cancel.cancelled() => return,
                }
            }
            let mut commands = match self
                .bus
                .client
                .queue_subscribe(subjects::WHEEL_WRITER_COMMANDS, QUEUE_GROUP.into())
                .await
            {
                Ok(commands) => commands,
                Err(err) => {
                    tracing::warn!(error = %err, "taking forwarded commands failed; retrying");
                    tokio::select! {
                        _ = check.tick() => continue,
                        _ = cancel.cancelled() => return,
                    }
                }
            };
            tracing::info!("taking the commands other replicas forward to the writer");
            while self.holds_lease() {
                let message = tokio::select! {
                    message = commands.next() => message,
                    _ = check.tick() => continue,
                    _ = cancel.cancelled() => None,
                };
                let Some(message) = message else { break };
                self.spawn_serve(&in_flight, message).await;
            }
            // New commands go elsewhere; those already delivered here are
            // answered (`NotHolder` once the lease is gone), not left to
            // time out.
            let _ = commands.unsubscribe().await;
            while let Some(Some(message)) = commands.next().now_or_never() {
                self.spawn_serve(&in_flight, message).await;
            }
            if cancel.is_cancelled() {
                // Stopping: the writer applies what reached its queue;
                // their callers hear back before this process exits.
                let _ =
                    tokio::time::timeout(TIMEOUT, in_flight.acquire_many(IN_FLIGHT as u32)).await;
                return;
            }
            tracing::info!(
                holds_lease = self.holds_lease(),
                "no longer taking forwarded commands"
            );
        }
    }

    /// Answers `message` in a task of its own, once one of `in_flight`'s
    /// permits is free.
    async fn spawn_serve(&self, in_flight: &Arc<Semaphore>, message: Message) {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let engine = self.clone();
        tokio::spawn(async move {
            engine.serve(message).await;
            drop(permit);
        });
    }

    /// Applies one forwarded command through the writer and answers it.
    async fn serve(&self, message: Message) {
        let Some(reply_to) = message.reply.clone() else {
            return;
        };
        let reply = match serde_json::from_slice::<Forwarded>(&message.payload) {
            Err(err) => Reply::Failed {
                error: RemoteError::InvalidArgument {
                    field: "command".into(),
                    message: format!("not a forwarded command: {err}"),
                },
            },
            Ok(_) if !self.holds_lease() => Reply::NotHolder,
            Ok(command) => {
                let span = tracing::info_span!("forwarded command", lead_id = %command.lead_id);
                let traceparent = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(TRACEPARENT))
                    .map(|value| value.as_str().to_string());
                telemetry::set_parent(&span, traceparent.as_deref());
                count("served");
                Reply::of(
                    self.submit_here(&command.lead_id, command.input, &command.actor)
                        .instrument(span)
                        .await,
                )
            }
        };
        let payload = serde_json::to_vec(&reply).expect("a reply serializes");
        if let Err(err) = self.bus.client.publish(reply_to, payload.into()).await {
            tracing::warn!(error = %err, "answering a forwarded command failed");
        }
    }
}

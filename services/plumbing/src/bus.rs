//! The event bus: NATS JetStream streams, subjects and the event envelope.
//!
//! One stream per publishing service, named here; subjects are
//! `<service>.<entity>.<verb>`. Every event is an [`Envelope`] whose id is
//! also the `Nats-Msg-Id` header, so JetStream drops a republished duplicate,
//! and whose trace context travels in the `traceparent` header.

use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, stream};
use leadwheel_proto::events::v1::Envelope;
use prost::Message;

use crate::config::ServiceConfig;

/// Subject names and builders. Call sites never paste subject strings;
/// which payload travels on which subject is bound in [`crate::contracts`].
pub mod subjects {
    /// A new lead was accepted by intake.
    pub const LEAD_CREATED: &str = "intake.lead.created";
    /// An offer opened.
    pub const OFFER_OPENED: &str = "wheel.offer.opened";
    /// An offer ended (claimed, passed, expired, withdrawn).
    pub const OFFER_CLOSED: &str = "wheel.offer.closed";
    /// A lead has its owner.
    pub const LEAD_ASSIGNED: &str = "wheel.lead.assigned";
    /// A lead went to its team's open pool.
    pub const LEAD_POOLED: &str = "wheel.lead.pooled";
    /// A pooled lead stayed unclaimed past the pool timeout.
    pub const LEAD_ESCALATED: &str = "wheel.lead.escalated";
    /// A manager gave an assigned lead to another rep.
    pub const LEAD_REASSIGNED: &str = "wheel.lead.reassigned";
    /// A manager put a lead round the wheel again.
    pub const LEAD_REQUEUED: &str = "wheel.lead.requeued";
    /// A manager took a lead out of routing.
    pub const LEAD_WITHDRAWN: &str = "wheel.lead.withdrawn";
    /// A rep went away or came back (by themselves, a manager or the circuit breaker).
    pub const REP_AVAILABILITY_CHANGED: &str = "wheel.rep.availability_changed";
    /// A team was created or changed.
    pub const TEAM_UPSERTED: &str = "wheel.team.upserted";
    /// A rep was created or changed.
    pub const REP_UPSERTED: &str = "wheel.rep.upserted";
    /// A rep left their team's ring (handover, or removed from the team).
    pub const REP_LEFT: &str = "wheel.rep.left";
    /// A duplicate signup touched an existing lead.
    pub const LEAD_TOUCHED: &str = "intake.lead.touched";
    /// A person's personal data was erased; every service erases its copy.
    pub const PERSON_ERASED: &str = "intake.person.erased";
    /// A claimed lead is in work.
    pub const OPPS_LEAD_OPENED: &str = "opps.lead.opened";
    /// A lead in work became an account and an opportunity.
    pub const OPPS_LEAD_CONVERTED: &str = "opps.lead.converted";
    /// A lead in work was disqualified (maybe back to the pool).
    pub const OPPS_LEAD_DISQUALIFIED: &str = "opps.lead.disqualified";
    /// A lead in work moved to another rep.
    pub const OPPS_LEAD_OWNER_CHANGED: &str = "opps.lead.owner_changed";
    /// A lead in work was handed back to the wheel.
    pub const OPPS_LEAD_RETURNED: &str = "opps.lead.returned";
    /// An account was created.
    pub const OPPS_ACCOUNT_CREATED: &str = "opps.account.created";
    /// An account changed (name, domains, tier, status).
    pub const OPPS_ACCOUNT_UPDATED: &str = "opps.account.updated";
    /// An account has a new owner.
    pub const OPPS_ACCOUNT_OWNER_CHANGED: &str = "opps.account.owner_changed";
    /// Every `opps.account.*` event, for consumers keeping an account copy.
    pub const OPPS_ACCOUNT_ALL: &str = "opps.account.>";
    /// A leaving rep's handover plan was applied.
    pub const OPPS_HANDOVER_APPLIED: &str = "opps.handover.applied";
    /// A manager started a leaving rep's handover plan.
    pub const OPPS_HANDOVER_STARTED: &str = "opps.handover.started";
    /// A lead's or opportunity's next follow-up date was set or cleared.
    pub const OPPS_FOLLOW_UP_SET: &str = "opps.follow_up.set";
    /// A handover task was created for a new owner.
    pub const OPPS_HANDOVER_TASK_CREATED: &str = "opps.handover.task_created";
    /// One handover task was marked done.
    pub const OPPS_HANDOVER_TASK_COMPLETED: &str = "opps.handover.task_completed";
    /// Every task of an applied handover is done.
    pub const OPPS_HANDOVER_COMPLETED: &str = "opps.handover.completed";
    /// A lead was converted into this opportunity.
    pub const OPPS_OPPORTUNITY_OPENED: &str = "opps.opportunity.opened";
    /// An opportunity moved between open stages.
    pub const OPPS_OPPORTUNITY_STAGE_CHANGED: &str = "opps.opportunity.stage_changed";
    /// An opportunity's amount, currency, close date or probability changed.
    pub const OPPS_OPPORTUNITY_AMOUNT_CHANGED: &str = "opps.opportunity.amount_changed";
    /// An opportunity has a new owner.
    pub const OPPS_OPPORTUNITY_OWNER_CHANGED: &str = "opps.opportunity.owner_changed";
    /// An opportunity was won or lost.
    pub const OPPS_OPPORTUNITY_CLOSED: &str = "opps.opportunity.closed";
    /// A touch (call, email, visit, meeting, note) was logged.
    pub const OPPS_ACTIVITY_LOGGED: &str = "opps.activity.logged";
    /// A pipeline stage was created or changed.
    pub const OPPS_PIPELINE_STAGE_CHANGED: &str = "opps.pipeline.stage_changed";
    /// An alert was raised.
    pub const ALERT_RAISED: &str = "alerts.raised";
    /// An alert was acknowledged.
    pub const ALERT_ACKNOWLEDGED: &str = "alerts.acknowledged";
    /// An alert was snoozed, or its snooze ended.
    pub const ALERT_SNOOZED: &str = "alerts.snoozed";
    /// An alert's condition cleared.
    pub const ALERT_RESOLVED: &str = "alerts.resolved";
    /// An alert was escalated to the manager.
    pub const ALERT_ESCALATED: &str = "alerts.escalated";

    /// Core NATS subject (outside every stream) on which a wheel replica
    /// without the writer's lease forwards a rep's or manager's command
    /// to the replica holding it, as a request whose reply is the outcome.
    pub const WHEEL_WRITER_COMMANDS: &str = "cmd.wheel.writer";

    /// Core NATS subject for live offer pushes to one rep, so a rep connected
    /// to any wheel replica sees offers made by any other.
    pub fn live_rep_offers(rep_id: &str) -> String {
        format!("live.rep.{rep_id}.offers")
    }

    /// Core NATS subject for live alert pushes to one recipient (a rep or
    /// manager id), for `leadctl alerts watch` and the console.
    pub fn live_alerts(recipient_id: &str) -> String {
        format!("live.alerts.{recipient_id}")
    }
}

/// A JetStream stream owned by one publishing service.
#[derive(Debug)]
pub struct StreamSpec {
    /// Stream name.
    pub name: &'static str,
    /// The subjects it captures.
    pub subjects: &'static [&'static str],
}

/// Intake's stream.
pub static INTAKE_STREAM: StreamSpec = StreamSpec {
    name: "LEADWHEEL_INTAKE",
    subjects: &["intake.>"],
};
/// The wheel's stream.
pub static WHEEL_STREAM: StreamSpec = StreamSpec {
    name: "LEADWHEEL_WHEEL",
    subjects: &["wheel.>"],
};
/// Opportunity's stream.
pub static OPPS_STREAM: StreamSpec = StreamSpec {
    name: "LEADWHEEL_OPPS",
    subjects: &["opps.>"],
};
/// Alerting's stream.
pub static ALERTS_STREAM: StreamSpec = StreamSpec {
    name: "LEADWHEEL_ALERTS",
    subjects: &["alerts.>"],
};

/// Every stream, for settings kept per stream.
pub static ALL_STREAMS: [&StreamSpec; 4] =
    [&INTAKE_STREAM, &WHEEL_STREAM, &OPPS_STREAM, &ALERTS_STREAM];

/// How long JetStream drops a republished event id as a duplicate (the
/// outbox relay may resend a row after a crash).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// A stream's configuration: `max_age` None keeps messages without an age
/// limit. The duplicate window may not exceed the max age, so a shorter
/// max age shortens it too. `replicas` copies are kept (1 on a single
/// server).
fn stream_config(spec: &StreamSpec, max_age: Option<Duration>, replicas: usize) -> stream::Config {
    stream::Config {
        name: spec.name.to_string(),
        subjects: spec.subjects.iter().map(|s| s.to_string()).collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: max_age.unwrap_or_default(),
        duplicate_window: max_age.map_or(DUPLICATE_WINDOW, |age| age.min(DUPLICATE_WINDOW)),
        num_replicas: replicas.max(1),
        ..Default::default()
    }
}

/// A connection to NATS with its JetStream context.
#[derive(Clone, Debug)]
pub struct Bus {
    /// The core NATS client (live pushes, drain).
    pub client: async_nats::Client,
    /// The JetStream context.
    pub jetstream: jetstream::Context,
}

impl Bus {
    /// Connects to `config.nats_url` (one URL, or several separated by
    /// commas: the servers of a cluster, any of which will do), retrying in
    /// the background if NATS is not up yet, so a service starts (and
    /// accepts work into its outbox) while NATS is down. Once connected the
    /// client also learns the cluster's other servers, and moves to one of
    /// them when its server goes away.
    pub async fn connect(config: &ServiceConfig) -> Result<Self> {
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("leadwheel-{}", config.service))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)));
        options = config.security.nats_tls.apply(options);
        if let Some(creds) = &config.nats_creds_file {
            options = options
                .credentials_file(creds)
                .await
                .with_context(|| format!("reading NATS credentials {}", creds.display()))?;
        }
        let client = options
            .connect(server_urls(&config.nats_url))
            .await
            .with_context(|| format!("connecting to NATS at {}", config.nats_url))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self { client, jetstream })
    }

    /// True when the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates `spec`'s stream when it does not exist (without an age
    /// limit, one replica), and leaves an existing one as its owner
    /// configured it: consumers and tests call this, so only the publishing
    /// service's settings ([`Bus::configure_stream`]) decide the retention
    /// and the replicas (when the owner starts after a consumer created
    /// the stream, it brings it to its settings; durable consumers, created
    /// without a replica count of their own, follow the stream's).
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<()> {
        if self.jetstream.get_stream(spec.name).await.is_ok() {
            return Ok(());
        }
        self.jetstream
            .get_or_create_stream(stream_config(spec, None, 1))
            .await
            .with_context(|| format!("creating stream {}", spec.name))?;
        Ok(())
    }

    /// Creates `spec`'s stream, or updates it to the current config, with
    /// `max_age` (None: no age limit) and `replicas` copies. The publishing
    /// service calls this at start, with its retention settings
    /// (`LEADWHEEL_STREAM_…_MAX_AGE_MS`, `LEADWHEEL_STREAM_REPLICAS`).
    pub async fn configure_stream(
        &self,
        spec: &StreamSpec,
        max_age: Option<Duration>,
        replicas: usize,
    ) -> Result<()> {
        let config = stream_config(spec, max_age, replicas);
        match self.jetstream.get_stream(spec.name).await {
            Ok(_) => {
                self.jetstream
                    .update_stream(config)
                    .await
                    .with_context(|| format!("updating stream {}", spec.name))?;
            }
            Err(_) => {
                self.jetstream
                    .get_or_create_stream(config)
                    .await
                    .with_context(|| format!("creating stream {}", spec.name))?;
            }
        }
        Ok(())
    }
}

/// The server URLs in `nats_url`: one, or several separated by commas.
pub fn server_urls(nats_url: &str) -> Vec<String> {
    nats_url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .collect()
}

/// An event received from the bus.
#[derive(Clone, Debug)]
pub struct Event {
    /// The subject it arrived on.
    pub subject: String,
    /// The envelope.
    pub envelope: Envelope,
    /// The W3C trace parent from the headers, when present.
    pub traceparent: Option<String>,
}

impl Event {
    /// Decodes the envelope's payload as `M`.
    pub fn decode<M: Message + Default>(&self) -> Result<M, prost::DecodeError> {
        M::decode(self.envelope.payload.as_slice())
    }
}

/// An event to publish, before it gets its id and time.
#[derive(Clone, Debug)]
pub struct EventDraft {
    /// Subject (also the envelope's `type`).
    pub subject: String,
    /// The entity key.
    pub key: String,
    /// The encoded payload.
    pub payload: Vec<u8>,
}

impl EventDraft {
    /// A draft of `payload` for `subject` about entity `key`.
    pub fn new(subject: impl Into<String>, key: impl Into<String>, payload: &impl Message) -> Self {
        Self {
            subject: subject.into(),
            key: key.into(),
            payload: payload.encode_to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_url_may_list_several_servers() {
        assert_eq!(server_urls("nats://a:4222"), vec!["nats://a:4222"]);
        assert_eq!(
            server_urls("nats://a:4222, nats://b:4222,,nats://c:4222 "),
            vec!["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
    }

    #[test]
    fn the_replicas_go_into_the_stream_config() {
        assert_eq!(stream_config(&WHEEL_STREAM, None, 3).num_replicas, 3);
        assert_eq!(stream_config(&WHEEL_STREAM, None, 0).num_replicas, 1);
    }
}

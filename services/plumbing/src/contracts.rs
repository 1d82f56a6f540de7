//! Typed event contracts: every event payload bound to its subject in one
//! place.
//!
//! Publishers build drafts with [`EventDraft::of`] (the subject comes from
//! the payload's type, so a payload cannot go out on the wrong subject);
//! consumers read with [`Event::decode_as`], which refuses an event whose
//! type is not the contract's. [`ALL`] lists every contract, so tests can
//! check each subject has a consumer test.

use prost::Message;

use crate::bus::{
    ALERTS_STREAM, Event, EventDraft, INTAKE_STREAM, OPPS_STREAM, StreamSpec, WHEEL_STREAM,
    subjects,
};
use leadwheel_proto::events::v1 as ev;

/// An event contract: a payload type and the subject it travels on (also
/// the envelope's `type`).
pub trait Contract {
    /// The protobuf payload.
    type Payload: Message + Default;
    /// The subject, equal to the envelope's `type`.
    const SUBJECT: &'static str;
    /// The stream of the service that publishes it.
    const STREAM: &'static StreamSpec;
}

/// One contract as data, for listing and checking.
#[derive(Clone, Copy, Debug)]
pub struct ContractInfo {
    /// The subject (and envelope type).
    pub subject: &'static str,
    /// The payload message's name in `leadwheel.events.v1`.
    pub payload: &'static str,
    /// The publishing service's stream.
    pub stream: &'static StreamSpec,
}

/// Why an event could not be read as a contract's payload.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The envelope's type, or the subject it came on, is another contract's.
    #[error("event of type {found:?} on subject {subject:?} is not {expected}")]
    WrongType {
        /// The contract's subject.
        expected: &'static str,
        /// The envelope's type.
        found: String,
        /// The subject the event came on.
        subject: String,
    },
    /// The payload is not the contract's message.
    #[error("undecodable {subject} payload: {source}")]
    Undecodable {
        /// The contract's subject.
        subject: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
}

impl EventDraft {
    /// A draft of `payload` about entity `key`, on the subject its type is
    /// bound to. For payloads that are their own contract (all but the
    /// account events; see [`EventDraft::contract`]).
    pub fn of<P>(key: impl Into<String>, payload: &P) -> Self
    where
        P: Contract<Payload = P> + Message,
    {
        Self::contract::<P>(key, payload)
    }

    /// A draft of `payload` for contract `C` about entity `key`.
    pub fn contract<C: Contract>(key: impl Into<String>, payload: &C::Payload) -> Self {
        Self::new(C::SUBJECT, key, payload)
    }
}

impl Event {
    /// The payload of contract `C`: refused (permanently: it would never
    /// succeed) when the event's type or subject is not `C`'s, or the
    /// payload does not decode.
    pub fn decode_as<C: Contract>(&self) -> Result<C::Payload, ContractError> {
        if self.envelope.r#type != C::SUBJECT || self.subject != C::SUBJECT {
            return Err(ContractError::WrongType {
                expected: C::SUBJECT,
                found: self.envelope.r#type.clone(),
                subject: self.subject.clone(),
            });
        }
        C::Payload::decode(self.envelope.payload.as_slice()).map_err(|source| {
            ContractError::Undecodable {
                subject: C::SUBJECT,
                source,
            }
        })
    }

    /// True when this event is contract `C`'s.
    pub fn is<C: Contract>(&self) -> bool {
        self.subject == C::SUBJECT
    }
}

/// Declares the events one consumer reads, by contract: an enum with one
/// variant per contract (holding its payload), `SUBJECTS` (the contracts'
/// subjects, for the consumer's filter, so they are not written twice)
/// and `decode`, the one place an event is dispatched by its subject.
///
/// ```ignore
/// leadwheel_plumbing::consumed_events! {
///     /// What the wheel handler reads.
///     pub enum WheelEvent {
///         Pooled(LeadPooled),
///         Created(leadwheel_plumbing::contracts::AccountCreated),
///     }
/// }
/// ```
#[macro_export]
macro_rules! consumed_events {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident($contract:ty) ),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant(<$contract as $crate::Contract>::Payload), )*
        }

        impl $name {
            /// The subjects of the contracts read, in declaration order.
            pub const SUBJECTS: &'static [&'static str] =
                &[ $( <$contract as $crate::Contract>::SUBJECT, )* ];

            /// `event` as its contract's payload; `Ok(None)` when its
            /// subject is none of these contracts'; an error (permanent:
            /// it can never succeed) when the event is not what its
            /// contract says.
            pub fn decode(
                event: &$crate::Event,
            ) -> ::std::result::Result<::std::option::Option<Self>, $crate::contracts::ContractError> {
                $(
                    if event.subject == <$contract as $crate::Contract>::SUBJECT {
                        return event
                            .decode_as::<$contract>()
                            .map(|payload| ::std::option::Option::Some(Self::$variant(payload)));
                    }
                )*
                ::std::result::Result::Ok(::std::option::Option::None)
            }

            /// The subject of this event's contract.
            pub fn subject(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => <$contract as $crate::Contract>::SUBJECT, )*
                }
            }
        }
    };
}

/// Binds payload types to subjects and lists them in [`ALL`].
macro_rules! contracts {
    ($( $stream:ident { $( $name:ident $(($payload:ident))? => $subject:path ),* $(,)? } )*) => {
        $($(
            contracts!(@impl $stream $name $(($payload))? => $subject);
        )*)*
        /// Every contract, by publishing stream.
        pub static ALL: &[ContractInfo] = &[
            $($(
                ContractInfo {
                    subject: $subject,
                    payload: contracts!(@payload $name $(($payload))?),
                    stream: &$stream,
                },
            )*)*
        ];
    };
    (@impl $stream:ident $name:ident => $subject:path) => {
        impl Contract for ev::$name {
            type Payload = ev::$name;
            const SUBJECT: &'static str = $subject;
            const STREAM: &'static StreamSpec = &$stream;
        }
    };
    (@impl $stream:ident $name:ident ($payload:ident) => $subject:path) => {
        #[doc = concat!("The `", stringify!($subject), "` contract (payload `", stringify!($payload), "`).")]
        #[derive(Clone, Copy, Debug)]
        pub struct $name;
        impl Contract for $name {
            type Payload = ev::$payload;
            const SUBJECT: &'static str = $subject;
            const STREAM: &'static StreamSpec = &$stream;
        }
    };
    (@payload $name:ident) => { stringify!($name) };
    (@payload $name:ident ($payload:ident)) => { stringify!($payload) };
}

// One payload type per subject, except the account events, which share
// `AccountChanged` (each carries the whole account) and so are named by a
// contract type of their own.
contracts! {
    INTAKE_STREAM {
        LeadCreated => subjects::LEAD_CREATED,
        LeadTouched => subjects::LEAD_TOUCHED,
        PersonErased => subjects::PERSON_ERASED,
    }
    WHEEL_STREAM {
        OfferOpened => subjects::OFFER_OPENED,
        OfferClosed => subjects::OFFER_CLOSED,
        LeadAssigned => subjects::LEAD_ASSIGNED,
        LeadPooled => subjects::LEAD_POOLED,
        LeadEscalated => subjects::LEAD_ESCALATED,
        LeadReassigned => subjects::LEAD_REASSIGNED,
        LeadRequeued => subjects::LEAD_REQUEUED,
        LeadWithdrawn => subjects::LEAD_WITHDRAWN,
        RepAvailabilityChanged => subjects::REP_AVAILABILITY_CHANGED,
        TeamUpserted => subjects::TEAM_UPSERTED,
        RepUpserted => subjects::REP_UPSERTED,
        RepLeft => subjects::REP_LEFT,
    }
    OPPS_STREAM {
        LeadOpened => subjects::OPPS_LEAD_OPENED,
        LeadConverted => subjects::OPPS_LEAD_CONVERTED,
        LeadDisqualified => subjects::OPPS_LEAD_DISQUALIFIED,
        LeadOwnerChanged => subjects::OPPS_LEAD_OWNER_CHANGED,
        LeadReturned => subjects::OPPS_LEAD_RETURNED,
        AccountCreated(AccountChanged) => subjects::OPPS_ACCOUNT_CREATED,
        AccountUpdated(AccountChanged) => subjects::OPPS_ACCOUNT_UPDATED,
        AccountOwnerChanged(AccountChanged) => subjects::OPPS_ACCOUNT_OWNER_CHANGED,
        HandoverStarted => subjects::OPPS_HANDOVER_STARTED,
        HandoverApplied => subjects::OPPS_HANDOVER_APPLIED,
        HandoverTaskCreated => subjects::OPPS_HANDOVER_TASK_CREATED,
        HandoverTaskCompleted => subjects::OPPS_HANDOVER_TASK_COMPLETED,
        HandoverCompleted => subjects::OPPS_HANDOVER_COMPLETED,
        FollowUpSet => subjects::OPPS_FOLLOW_UP_SET,
        OpportunityOpened => subjects::OPPS_OPPORTUNITY_OPENED,
        OpportunityStageChanged => subjects::OPPS_OPPORTUNITY_STAGE_CHANGED,
        OpportunityAmountChanged => subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED,
        OpportunityOwnerChanged => subjects::OPPS_OPPORTUNITY_OWNER_CHANGED,
        OpportunityClosed => subjects::OPPS_OPPORTUNITY_CLOSED,
        ActivityLogged => subjects::OPPS_ACTIVITY_LOGGED,
        PipelineStageChanged => subjects::OPPS_PIPELINE_STAGE_CHANGED,
    }
    ALERTS_STREAM {
        AlertRaised => subjects::ALERT_RAISED,
        AlertAcknowledged => subjects::ALERT_ACKNOWLEDGED,
        AlertSnoozed => subjects::ALERT_SNOOZED,
        AlertResolved => subjects::ALERT_RESOLVED,
        AlertEscalated => subjects::ALERT_ESCALATED,
    }
}

/// The contracts published on `stream`.
pub fn published_on(stream: &StreamSpec) -> impl Iterator<Item = &'static ContractInfo> + '_ {
    ALL.iter().filter(move |c| c.stream.name == stream.name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use leadwheel_proto::events::v1::Envelope;

    #[test]
    fn every_subject_is_bound_once_and_lives_on_its_stream() {
        let mut seen = HashSet::new();
        for contract in ALL {
            assert!(
                seen.insert(contract.subject),
                "{} bound twice",
                contract.subject
            );
            let prefix = contract.stream.subjects[0].trim_end_matches('>');
            assert!(
                contract.subject.starts_with(prefix),
                "{} is not on {}",
                contract.subject,
                contract.stream.name
            );
        }
    }

    fn event(subject: &str, r#type: &str, payload: Vec<u8>) -> Event {
        Event {
            subject: subject.into(),
            envelope: Envelope {
                id: "e1".into(),
                r#type: r#type.into(),
                payload,
                ..Default::default()
            },
            traceparent: None,
        }
    }

    crate::consumed_events! {
        /// A consumer of two contracts.
        enum Read {
            Left(ev::RepLeft),
            Created(AccountCreated),
        }
    }

    #[test]
    fn consumed_events_dispatch_by_contract() {
        assert_eq!(
            Read::SUBJECTS,
            &[subjects::REP_LEFT, subjects::OPPS_ACCOUNT_CREATED]
        );
        let account = ev::AccountChanged {
            account_id: "acc-1".into(),
            ..Default::default()
        };
        let draft = EventDraft::contract::<AccountCreated>("acc-1", &account);
        let read = Read::decode(&event(&draft.subject, &draft.subject, draft.payload)).unwrap();
        assert_eq!(read, Some(Read::Created(account)));
        assert_eq!(read.unwrap().subject(), subjects::OPPS_ACCOUNT_CREATED);
        let other = event(subjects::REP_UPSERTED, subjects::REP_UPSERTED, Vec::new());
        assert_eq!(Read::decode(&other).unwrap(), None);
        let garbage = event(subjects::REP_LEFT, subjects::REP_LEFT, vec![0xff, 0xff]);
        assert!(Read::decode(&garbage).is_err());
    }

    #[test]
    fn decode_as_checks_the_type() {
        let left = ev::RepLeft {
            rep_id: "ben".into(),
            team_id: "north".into(),
            why: Some(ev::rep_left::Why::HandoverId("ho-1".into())),
            at_ms: 5,
        };
        let draft = EventDraft::of("ben", &left);
        assert_eq!(draft.subject, subjects::REP_LEFT);
        let good = event(&draft.subject, &draft.subject, draft.payload.clone());
        assert_eq!(good.decode_as::<ev::RepLeft>().unwrap(), left);
        let wrong = event(
            subjects::REP_UPSERTED,
            subjects::REP_UPSERTED,
            draft.payload.clone(),
        );
        assert!(matches!(
            wrong.decode_as::<ev::RepLeft>(),
            Err(ContractError::WrongType { .. })
        ));
        let mislabelled = event(subjects::REP_LEFT, subjects::REP_UPSERTED, draft.payload);
        assert!(mislabelled.decode_as::<ev::RepLeft>().is_err());
        let garbage = event(subjects::REP_LEFT, subjects::REP_LEFT, vec![0xff, 0xff]);
        assert!(matches!(
            garbage.decode_as::<ev::RepLeft>(),
            Err(ContractError::Undecodable { .. })
        ));
        let account =
            EventDraft::contract::<AccountCreated>("acc-1", &ev::AccountChanged::default());
        assert_eq!(account.subject, subjects::OPPS_ACCOUNT_CREATED);
    }
}

//! What each event counts for: a pure mapping from an event to the fact it
//! states and the counters that fact bumps. No I/O, so the rules are
//! tested on their own and the consumer only applies them.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::contracts::ContractError;
use leadwheel_proto::events::v1::{AssignedVia, OfferOutcome};

use crate::event_subjects::Incoming;

/// The counters of the funnel, as stored (`metric` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Leads accepted by intake (in the total, from `intake.lead.created`,
    /// which names no team), and per team the leads the wheel routed for
    /// it (from the wheel's first word on the lead there: an offer, the
    /// pool or an assignment).
    Created,
    /// Offers made.
    Offered,
    /// Offers claimed, plus claims from the open pool.
    Claimed,
    /// Offers passed.
    Passed,
    /// Offers that ran out their window.
    Expired,
    /// Leads sent to a team's open pool.
    Pooled,
    /// Leads the opportunity service put in work.
    InWork,
}

impl Metric {
    /// Every metric, in funnel order.
    pub const ALL: [Metric; 7] = [
        Metric::Created,
        Metric::Offered,
        Metric::Claimed,
        Metric::Passed,
        Metric::Expired,
        Metric::Pooled,
        Metric::InWork,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Created => "created",
            Metric::Offered => "offered",
            Metric::Claimed => "claimed",
            Metric::Passed => "passed",
            Metric::Expired => "expired",
            Metric::Pooled => "pooled",
            Metric::InWork => "in_work",
        }
    }

    /// The metric stored as `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// Which counters a fact bumps: always the total, and the team's and the
/// rep's when the event names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// What kind of fact, e.g. `offer_opened`.
    pub kind: &'static str,
    /// Its natural key (an offer id, a lead id...), so the same fact
    /// announced twice under two event ids counts once.
    pub key: String,
    /// The counter bumped.
    pub metric: Metric,
    /// The team, when the fact has one.
    pub team_id: Option<String>,
    /// The rep, when the fact has one (always with a team).
    pub rep_id: Option<String>,
    /// Whether it counts in the all-teams total too: a team's created
    /// leads do not, since the total counts them from intake.
    pub in_total: bool,
}

/// Why an event cannot be counted.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The event is not what its contract says (type or payload).
    #[error("{0}")]
    Contract(#[from] ContractError),
    /// A field the fact's key needs is empty.
    #[error("{subject} without {field}")]
    Missing {
        /// The event's subject.
        subject: &'static str,
        /// The empty field.
        field: &'static str,
    },
}

fn required(value: &str, subject: &'static str, field: &'static str) -> Result<(), Rejected> {
    if value.is_empty() {
        Err(Rejected::Missing { subject, field })
    } else {
        Ok(())
    }
}

fn for_rep(kind: &'static str, key: String, metric: Metric, team: String, rep: String) -> Fact {
    Fact {
        kind,
        key,
        metric,
        team_id: Some(team),
        rep_id: Some(rep),
        in_total: true,
    }
}

/// Every fact `event` states: [`fact_of`]'s, and [`reached_team`]'s.
pub fn facts_of(event: &Incoming) -> Result<Vec<Fact>, Rejected> {
    let mut facts: Vec<Fact> = fact_of(event)?.into_iter().collect();
    facts.extend(reached_team(event));
    Ok(facts)
}

/// That a lead reached its team, from any of the wheel's events that can
/// be its first there (an offer, the pool, an assignment such as to the
/// account's owner): the team's `created`. Counted once per lead and team
/// whichever comes first; a lead still waiting for an eligible rep is
/// counted when it is first offered, pooled or assigned.
pub fn reached_team(event: &Incoming) -> Option<Fact> {
    let (lead_id, team_id) = match event {
        Incoming::OfferOpened(opened) => (&opened.lead_id, &opened.team_id),
        Incoming::LeadPooled(pooled) => (&pooled.lead_id, &pooled.team_id),
        Incoming::LeadAssigned(assigned) => (&assigned.lead_id, &assigned.team_id),
        _ => return None,
    };
    if lead_id.is_empty() || team_id.is_empty() {
        return None;
    }
    Some(Fact {
        kind: "lead_reached_team",
        key: format!("{lead_id}@{team_id}"),
        metric: Metric::Created,
        team_id: Some(team_id.clone()),
        rep_id: None,
        in_total: false,
    })
}

/// The fact `event` states, or None when it counts for nothing (team and
/// rep changes, assignments other than pool claims, withdrawn offers).
pub fn fact_of(event: &Incoming) -> Result<Option<Fact>, Rejected> {
    let fact = match event.clone() {
        Incoming::LeadCreated(created) => {
            required(&created.lead_id, subjects::LEAD_CREATED, "lead_id")?;
            Fact {
                kind: "lead_created",
                key: created.lead_id,
                metric: Metric::Created,
                team_id: None,
                rep_id: None,
                in_total: true,
            }
        }
        Incoming::OfferOpened(opened) => {
            required(&opened.offer_id, subjects::OFFER_OPENED, "offer_id")?;
            for_rep(
                "offer_opened",
                opened.offer_id,
                Metric::Offered,
                opened.team_id,
                opened.rep_id,
            )
        }
        Incoming::OfferClosed(closed) => {
            required(&closed.offer_id, subjects::OFFER_CLOSED, "offer_id")?;
            let metric = match closed.outcome() {
                OfferOutcome::Claimed => Metric::Claimed,
                OfferOutcome::Passed => Metric::Passed,
                OfferOutcome::Expired => Metric::Expired,
                OfferOutcome::Withdrawn | OfferOutcome::Unspecified => return Ok(None),
            };
            for_rep(
                "offer_closed",
                closed.offer_id,
                metric,
                closed.team_id,
                closed.rep_id,
            )
        }
        Incoming::LeadPooled(pooled) => {
            required(&pooled.lead_id, subjects::LEAD_POOLED, "lead_id")?;
            // A lead may be pooled again after going back to the wheel.
            Fact {
                kind: "lead_pooled",
                key: format!("{}@{}", pooled.lead_id, pooled.pooled_at_ms),
                metric: Metric::Pooled,
                team_id: Some(pooled.team_id),
                rep_id: None,
                in_total: true,
            }
        }
        Incoming::LeadAssigned(assigned) => {
            // Offer claims are counted from their offer's close; a pool
            // claim has no offer, so it is counted here.
            if assigned.via() != AssignedVia::Pool {
                return Ok(None);
            }
            required(&assigned.lead_id, subjects::LEAD_ASSIGNED, "lead_id")?;
            let key = format!("{}@{}", assigned.lead_id, assigned.assigned_at_ms);
            for_rep(
                "pool_claimed",
                key,
                Metric::Claimed,
                assigned.team_id,
                assigned.rep_id,
            )
        }
        Incoming::LeadOpened(opened) => {
            required(&opened.lead_id, subjects::OPPS_LEAD_OPENED, "lead_id")?;
            for_rep(
                "lead_opened",
                opened.lead_id,
                Metric::InWork,
                opened.team_id,
                opened.rep_id,
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(fact))
}

#[cfg(test)]
mod tests {
    use leadwheel_plumbing::Event;
    use leadwheel_proto::events::v1::{
        Envelope, LeadAssigned, LeadCreated, LeadPooled, OfferClosed, OfferOpened,
    };
    use prost::Message;

    use super::*;

    fn raw(subject: &str, payload: Vec<u8>) -> Event {
        Event {
            subject: subject.into(),
            envelope: Envelope {
                id: "e1".into(),
                r#type: subject.into(),
                payload,
                ..Default::default()
            },
            traceparent: None,
        }
    }

    /// The event as the consumer decodes it.
    fn event(subject: &str, payload: &impl Message) -> Incoming {
        Incoming::decode(&raw(subject, payload.encode_to_vec()))
            .expect("decodes")
            .expect("read by reporting")
    }

    fn closed(outcome: OfferOutcome) -> Incoming {
        event(
            subjects::OFFER_CLOSED,
            &OfferClosed {
                offer_id: "o1".into(),
                lead_id: "l1".into(),
                team_id: "north".into(),
                rep_id: "ana".into(),
                outcome: outcome as i32,
                ..Default::default()
            },
        )
    }

    #[test]
    fn offer_outcomes_count_as_their_metric() {
        for (outcome, metric) in [
            (OfferOutcome::Claimed, Metric::Claimed),
            (OfferOutcome::Passed, Metric::Passed),
            (OfferOutcome::Expired, Metric::Expired),
        ] {
            let fact = fact_of(&closed(outcome)).unwrap().unwrap();
            assert_eq!(fact.metric, metric);
            assert_eq!((fact.kind, fact.key.as_str()), ("offer_closed", "o1"));
            assert_eq!(fact.rep_id.as_deref(), Some("ana"));
        }
        assert_eq!(fact_of(&closed(OfferOutcome::Withdrawn)).unwrap(), None);
    }

    #[test]
    fn only_pool_claims_count_from_assignments() {
        let mut assigned = LeadAssigned {
            lead_id: "l1".into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            via: AssignedVia::Offer as i32,
            assigned_at_ms: 7,
            ..Default::default()
        };
        assert_eq!(
            fact_of(&event(subjects::LEAD_ASSIGNED, &assigned)).unwrap(),
            None
        );
        assigned.via = AssignedVia::Pool as i32;
        let fact = fact_of(&event(subjects::LEAD_ASSIGNED, &assigned))
            .unwrap()
            .unwrap();
        assert_eq!((fact.metric, fact.key.as_str()), (Metric::Claimed, "l1@7"));
    }

    #[test]
    fn a_lead_reaches_its_team_at_the_wheel_s_first_word() {
        let opened = OfferOpened {
            offer_id: "o1".into(),
            lead_id: "l1".into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            ..Default::default()
        };
        let facts = facts_of(&event(subjects::OFFER_OPENED, &opened)).unwrap();
        assert_eq!(facts.len(), 2);
        assert_eq!(
            (facts[0].metric, facts[0].in_total),
            (Metric::Offered, true)
        );
        let reached = &facts[1];
        assert_eq!(
            (reached.kind, reached.key.as_str(), reached.metric),
            ("lead_reached_team", "l1@north", Metric::Created)
        );
        assert_eq!(reached.team_id.as_deref(), Some("north"));
        assert!(reached.rep_id.is_none() && !reached.in_total);
        // Pooled or assigned without an offer: the same fact, the same key.
        let pooled = LeadPooled {
            lead_id: "l1".into(),
            team_id: "north".into(),
            ..Default::default()
        };
        let pooled = reached_team(&event(subjects::LEAD_POOLED, &pooled));
        assert_eq!(pooled.as_ref(), Some(reached));
        let assigned = LeadAssigned {
            lead_id: "l1".into(),
            team_id: "north".into(),
            via: AssignedVia::AccountOwner as i32,
            ..Default::default()
        };
        let facts = facts_of(&event(subjects::LEAD_ASSIGNED, &assigned)).unwrap();
        assert_eq!(facts, vec![reached.clone()]);
        // Intake's created names no team: the total only.
        let created = LeadCreated {
            lead_id: "l1".into(),
            ..Default::default()
        };
        let facts = facts_of(&event(subjects::LEAD_CREATED, &created)).unwrap();
        assert_eq!(facts.len(), 1);
        assert!(facts[0].in_total && facts[0].team_id.is_none());
    }

    #[test]
    fn facts_without_their_key_are_rejected() {
        let opened = OfferOpened::default();
        assert!(matches!(
            fact_of(&event(subjects::OFFER_OPENED, &opened)),
            Err(Rejected::Missing {
                field: "offer_id",
                ..
            })
        ));
        // Not what its contract says: refused before any mapping.
        let garbage = raw(subjects::LEAD_CREATED, vec![0xff, 0x00]);
        assert!(matches!(
            Incoming::decode(&garbage),
            Err(ContractError::Undecodable { .. })
        ));
    }

    #[test]
    fn metric_names_round_trip() {
        for metric in Metric::ALL {
            assert_eq!(Metric::parse(metric.as_str()), Some(metric));
        }
        assert_eq!(Metric::parse("nope"), None);
    }
}

//! What the wheel's events mean for fairness and speed to lead: a pure
//! mapping to [`Update`]s, like `crate::sales` (which calls it).

use leadwheel_plumbing::bus::subjects;
use leadwheel_proto::events::v1::{AssignedVia, OfferOutcome, SkippedRep};

use crate::event_subjects::Incoming;
use crate::funnel::Rejected;
use crate::sales::{Count, Metric, Update};

fn count(metric: Metric, key: &str, dim: &str, team: &str, rep: &str, at_ms: i64) -> Update {
    Update::Count(Count {
        metric,
        key: key.to_string(),
        dim: dim.to_string(),
        team_id: team.to_string(),
        rep_id: rep.to_string(),
        currency: String::new(),
        amount_minor: 0,
        at_ms,
    })
}

fn duration(metric: &'static str, key: &str, team: &str, rep: &str, at_ms: i64, ms: i64) -> Update {
    Update::Duration {
        metric,
        key: key.to_string(),
        dim: String::new(),
        team_id: team.to_string(),
        rep_id: rep.to_string(),
        at_ms,
        // A clock step between two replicas must not make time negative.
        duration_ms: ms.max(0),
    }
}

fn required(value: &str, subject: &'static str, field: &'static str) -> Result<(), Rejected> {
    if value.is_empty() {
        Err(Rejected::Missing { subject, field })
    } else {
        Ok(())
    }
}

/// The reps passed over on the way to an offer or a pooling, each counted
/// for that rep by reason, on the day of `at_ms`. `key` names the offer or
/// pooling, so a rep skipped twice for one lead counts twice.
fn skips(skipped: &[SkippedRep], key: &str, team: &str, at_ms: i64) -> Vec<Update> {
    skipped
        .iter()
        .filter(|s| !s.rep_id.is_empty())
        .enumerate()
        .map(|(i, s)| {
            let reason = if s.reason.is_empty() {
                "unspecified"
            } else {
                &s.reason
            };
            // The position keeps a rep passed over twice on one walk apart.
            let fact = format!("{key}/{i}:{}", s.rep_id);
            count(Metric::Skipped, &fact, reason, team, &s.rep_id, at_ms)
        })
        .collect()
}

/// The fairness and speed updates of a wheel event (none for others).
pub fn updates_of(event: &Incoming) -> Result<Vec<Update>, Rejected> {
    let updates = match event {
        Incoming::OfferOpened(o) => {
            required(&o.offer_id, subjects::OFFER_OPENED, "offer_id")?;
            let at = o.opened_at_ms;
            let mut updates = vec![count(
                Metric::Offered,
                &o.offer_id,
                "",
                &o.team_id,
                &o.rep_id,
                at,
            )];
            if o.first_look {
                updates.push(count(
                    Metric::FirstLook,
                    &o.offer_id,
                    "",
                    &o.team_id,
                    &o.rep_id,
                    at,
                ));
            }
            updates.extend(skips(&o.skipped, &o.offer_id, &o.team_id, at));
            updates
        }
        Incoming::LeadPooled(p) => {
            required(&p.lead_id, subjects::LEAD_POOLED, "lead_id")?;
            let key = format!("{}@{}", p.lead_id, p.pooled_at_ms);
            skips(&p.skipped, &key, &p.team_id, p.pooled_at_ms)
        }
        Incoming::OfferClosed(c) => {
            required(&c.offer_id, subjects::OFFER_CLOSED, "offer_id")?;
            // Counted on the day the offer opened, like the offer itself,
            // so a claim rate never passes 100% across a midnight.
            let at = c.opened_at_ms;
            let (team, rep, key) = (&c.team_id, &c.rep_id, &c.offer_id);
            match c.outcome() {
                OfferOutcome::Claimed => vec![
                    count(Metric::OfferClaimed, key, "", team, rep, at),
                    duration(
                        "time_to_claim",
                        key,
                        team,
                        rep,
                        at,
                        c.closed_at_ms - c.opened_at_ms,
                    ),
                ],
                OfferOutcome::Passed => {
                    let reason = if c.reason.is_empty() {
                        "unspecified"
                    } else {
                        &c.reason
                    };
                    vec![count(Metric::Passed, key, reason, team, rep, at)]
                }
                OfferOutcome::Expired => vec![count(Metric::Expired, key, "", team, rep, at)],
                OfferOutcome::Withdrawn | OfferOutcome::Unspecified => Vec::new(),
            }
        }
        Incoming::LeadAssigned(a) => {
            required(&a.lead_id, subjects::LEAD_ASSIGNED, "lead_id")?;
            let (team, rep, lead, at) = (&a.team_id, &a.rep_id, &a.lead_id, a.assigned_at_ms);
            let mut updates = Vec::new();
            if a.via() == AssignedVia::Pool {
                let key = format!("{lead}@{at}");
                updates.push(count(Metric::PoolClaimed, &key, "", team, rep, at));
            }
            // Speed to lead: from the lead's first assignment (the earliest
            // wins when a lead is assigned again after a requeue).
            if a.first_offer_at_ms > 0 {
                if a.lead_created_at_ms > 0 {
                    let system = a.first_offer_at_ms - a.lead_created_at_ms;
                    updates.push(duration("system", lead, team, rep, at, system));
                }
                let human = at - a.first_offer_at_ms;
                updates.push(duration("offer_to_claim", lead, team, rep, at, human));
            }
            let via = match a.via() {
                AssignedVia::Offer => "offer",
                AssignedVia::Pool => "pool",
                AssignedVia::Direct => "direct",
                AssignedVia::AccountOwner => "account_owner",
                AssignedVia::Unspecified => "unspecified",
            };
            updates.push(Update::Assigned {
                lead_id: lead.clone(),
                team_id: team.clone(),
                rep_id: rep.clone(),
                via,
                routed_by: a.routed_by.clone(),
                rule_id: a.routing_rule_id.clone(),
                offer_id: a.offer_id.clone(),
                at_ms: at,
            });
            updates
        }
        _ => Vec::new(),
    };
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use leadwheel_plumbing::Event;
    use leadwheel_proto::events::v1::{Envelope, LeadAssigned, OfferClosed, OfferOpened};
    use prost::Message;

    use super::*;

    /// The event as the consumer decodes it.
    fn event(subject: &str, payload: &impl Message) -> Incoming {
        let event = Event {
            subject: subject.into(),
            envelope: Envelope {
                id: "e1".into(),
                r#type: subject.into(),
                payload: payload.encode_to_vec(),
                ..Default::default()
            },
            traceparent: None,
        };
        Incoming::decode(&event)
            .expect("decodes")
            .expect("read by reporting")
    }

    #[test]
    fn a_claimed_offer_counts_and_times_the_claim() {
        let closed = OfferClosed {
            offer_id: "o1".into(),
            lead_id: "l1".into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            outcome: OfferOutcome::Claimed as i32,
            opened_at_ms: 1_000,
            closed_at_ms: 13_000,
            ..Default::default()
        };
        let updates = updates_of(&event(subjects::OFFER_CLOSED, &closed)).unwrap();
        assert!(matches!(&updates[0], Update::Count(c) if c.metric == Metric::OfferClaimed));
        assert!(matches!(
            &updates[1],
            Update::Duration {
                metric: "time_to_claim",
                duration_ms: 12_000,
                ..
            }
        ));
    }

    #[test]
    fn an_assignment_times_the_system_and_the_reps() {
        let assigned = LeadAssigned {
            lead_id: "l1".into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            via: AssignedVia::Offer as i32,
            offer_id: Some("o1".into()),
            lead_created_at_ms: 1_000,
            first_offer_at_ms: 1_500,
            assigned_at_ms: 31_500,
            routed_by: "rule".into(),
            routing_rule_id: "enterprise".into(),
            routing_rules_version: 3,
        };
        let updates = updates_of(&event(subjects::LEAD_ASSIGNED, &assigned)).unwrap();
        let durations: Vec<(&str, i64)> = updates
            .iter()
            .filter_map(|u| match u {
                Update::Duration {
                    metric,
                    duration_ms,
                    ..
                } => Some((*metric, *duration_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(durations, vec![("system", 500), ("offer_to_claim", 30_000)]);
        assert!(matches!(
            updates.last(),
            Some(Update::Assigned { at_ms: 31_500, routed_by, rule_id, .. })
                if routed_by == "rule" && rule_id == "enterprise"
        ));
    }

    #[test]
    fn skips_count_for_the_skipped_reps_by_reason() {
        let skipped = |rep: &str, reason: &str| SkippedRep {
            rep_id: rep.into(),
            reason: reason.into(),
        };
        let opened = OfferOpened {
            offer_id: "o1".into(),
            lead_id: "l1".into(),
            team_id: "north".into(),
            rep_id: "cid".into(),
            opened_at_ms: 7,
            skipped: vec![skipped("ana", "away"), skipped("ben", "off_shift")],
            ..Default::default()
        };
        let updates = updates_of(&event(subjects::OFFER_OPENED, &opened)).unwrap();
        let skips: Vec<(&str, &str, &str)> = updates
            .iter()
            .filter_map(|u| match u {
                Update::Count(c) if c.metric == Metric::Skipped => {
                    Some((c.rep_id.as_str(), c.dim.as_str(), c.key.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            skips,
            vec![
                ("ana", "away", "o1/0:ana"),
                ("ben", "off_shift", "o1/1:ben")
            ]
        );
    }
}

//! Every subject intake, the wheel and opportunity publish, and what
//! reporting does with it; a test keeps the list true against the
//! publishers' subject constants and `docs/reporting.md`.

use leadwheel_plumbing::bus::subjects;

/// Every subject intake, the wheel and opportunity publish, with what
/// reporting does with it: `Some(model)` names the read model that uses
/// it, `None` marks it deliberately ignored (the reason is in
/// `docs/reporting.md`).
pub const SUBJECTS: &[(&str, Option<&str>)] = &[
    (subjects::LEAD_CREATED, Some("funnel")),
    (subjects::LEAD_TOUCHED, None),
    (subjects::PERSON_ERASED, None),
    (subjects::OFFER_OPENED, Some("funnel, fairness (skips too)")),
    (subjects::OFFER_CLOSED, Some("funnel, fairness")),
    (
        subjects::LEAD_ASSIGNED,
        Some("funnel, fairness, speed to lead, routing outcome"),
    ),
    (subjects::LEAD_POOLED, Some("funnel, fairness (skips)")),
    (subjects::LEAD_ESCALATED, None),
    (subjects::LEAD_REASSIGNED, None),
    (subjects::LEAD_REQUEUED, None),
    (subjects::LEAD_WITHDRAWN, None),
    (subjects::REP_AVAILABILITY_CHANGED, None),
    (subjects::TEAM_UPSERTED, Some("access")),
    (subjects::REP_UPSERTED, Some("access")),
    (subjects::REP_LEFT, None),
    (subjects::OPPS_LEAD_OPENED, Some("funnel")),
    (
        subjects::OPPS_LEAD_CONVERTED,
        Some("five questions, activity, routing outcome"),
    ),
    (subjects::OPPS_LEAD_DISQUALIFIED, None),
    (subjects::OPPS_LEAD_OWNER_CHANGED, None),
    (subjects::OPPS_LEAD_RETURNED, None),
    (subjects::OPPS_ACCOUNT_CREATED, Some("team balance")),
    (subjects::OPPS_ACCOUNT_UPDATED, Some("team balance")),
    (subjects::OPPS_ACCOUNT_OWNER_CHANGED, Some("team balance")),
    (subjects::OPPS_HANDOVER_STARTED, None),
    (subjects::OPPS_HANDOVER_APPLIED, None),
    (subjects::OPPS_HANDOVER_TASK_CREATED, None),
    (subjects::OPPS_HANDOVER_TASK_COMPLETED, None),
    (subjects::OPPS_HANDOVER_COMPLETED, None),
    (subjects::OPPS_FOLLOW_UP_SET, Some("activity (follow-ups)")),
    (subjects::OPPS_OPPORTUNITY_OPENED, Some("pipeline")),
    (subjects::OPPS_OPPORTUNITY_STAGE_CHANGED, Some("pipeline")),
    (subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED, Some("pipeline")),
    (subjects::OPPS_OPPORTUNITY_OWNER_CHANGED, Some("pipeline")),
    (subjects::OPPS_OPPORTUNITY_CLOSED, Some("pipeline")),
    (
        subjects::OPPS_ACTIVITY_LOGGED,
        Some("five questions, activity, speed to lead"),
    ),
    (subjects::OPPS_PIPELINE_STAGE_CHANGED, Some("stages")),
];

#[cfg(test)]
mod tests {
    use leadwheel_plumbing::Event;
    use leadwheel_proto::events::v1::{Envelope, OpportunityState};
    use prost::Message;

    use super::*;
    use crate::sales::updates_of;

    fn event(subject: &str, payload: &impl Message) -> Event {
        Event {
            subject: subject.into(),
            envelope: Envelope {
                id: "e1".into(),
                r#type: subject.into(),
                payload: payload.encode_to_vec(),
                ..Default::default()
            },
            traceparent: None,
        }
    }

    /// Every subject constant of the publishers (intake, wheel, opps) in
    /// the plumbing's one list of subjects, read from its source so a new
    /// one cannot be missed.
    fn published_subjects() -> Vec<String> {
        include_str!("../../plumbing/src/bus.rs")
            .lines()
            .filter_map(|line| {
                let (_, value) = line
                    .trim()
                    .strip_prefix("pub const ")?
                    .split_once("&str = \"")?;
                let subject = value.strip_suffix("\";")?;
                (subject.starts_with("intake.")
                    || subject.starts_with("wheel.")
                    || subject.starts_with("opps."))
                .then(|| subject.to_string())
            })
            .filter(|subject| !subject.ends_with('>'))
            .collect()
    }

    #[test]
    fn every_published_subject_is_used_or_ignored() {
        let published = published_subjects();
        assert!(published.len() > 30, "read {published:?}");
        let listed: Vec<&str> = SUBJECTS.iter().map(|(s, _)| *s).collect();
        for subject in &published {
            assert!(
                listed.contains(&subject.as_str()),
                "{subject} is published but neither used nor listed as ignored"
            );
        }
        for subject in &listed {
            assert!(
                published.iter().any(|p| p == subject),
                "{subject} is listed but nobody publishes it"
            );
        }
        // And the docs say what the list says.
        let docs = include_str!("../../../docs/reporting.md");
        for (subject, _) in SUBJECTS {
            let entity_verb = subject
                .split_once('.')
                .map(|(_, rest)| rest)
                .unwrap_or(subject);
            let verb = entity_verb.rsplit('.').next().unwrap_or(entity_verb);
            assert!(
                docs.contains(&format!("`{subject}`")) || docs.contains(&format!("`.{verb}`")),
                "{subject} is missing from docs/reporting.md"
            );
        }
    }

    #[test]
    fn ignored_subjects_make_no_updates() {
        for (subject, model) in SUBJECTS {
            if model.is_none() {
                let updates = updates_of(&event(subject, &OpportunityState::default())).unwrap();
                assert!(updates.is_empty(), "{subject}");
            }
        }
    }
}

//! Every subject intake, the wheel and opportunity publish, and what
//! reporting does with it; a test keeps the list true against the
//! contracts (`leadwheel_plumbing::contracts::ALL`) and
//! `docs/reporting.md`.
//!
//! [`Incoming`] is the one place an event is dispatched by its contract's
//! subject: its subjects are the consumers' filters (see
//! [`crate::consumer_specs`]), so a subject reporting ignores is never
//! delivered to it.

use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::contracts::{AccountCreated, AccountOwnerChanged, AccountUpdated};
use leadwheel_proto::events::v1::{
    ActivityLogged, FollowUpSet, LeadAssigned, LeadConverted, LeadCreated, LeadOpened, LeadPooled,
    OfferClosed, OfferOpened, OpportunityAmountChanged, OpportunityClosed, OpportunityOpened,
    OpportunityOwnerChanged, OpportunityStageChanged, PipelineStageChanged, RepLeft, RepUpserted,
    TeamUpserted,
};

leadwheel_plumbing::consumed_events! {
    /// An event reporting reads, decoded by its contract.
    pub enum Incoming {
        /// `intake.lead.created`.
        LeadCreated(LeadCreated),
        /// `wheel.offer.opened`.
        OfferOpened(OfferOpened),
        /// `wheel.offer.closed`.
        OfferClosed(OfferClosed),
        /// `wheel.lead.assigned`.
        LeadAssigned(LeadAssigned),
        /// `wheel.lead.pooled`.
        LeadPooled(LeadPooled),
        /// `wheel.team.upserted`.
        TeamUpserted(TeamUpserted),
        /// `wheel.rep.upserted`.
        RepUpserted(RepUpserted),
        /// `wheel.rep.left`.
        RepLeft(RepLeft),
        /// `opps.lead.opened`.
        LeadOpened(LeadOpened),
        /// `opps.lead.converted`.
        LeadConverted(LeadConverted),
        /// `opps.account.created`.
        AccountCreated(AccountCreated),
        /// `opps.account.updated`.
        AccountUpdated(AccountUpdated),
        /// `opps.account.owner_changed`.
        AccountOwnerChanged(AccountOwnerChanged),
        /// `opps.follow_up.set`.
        FollowUpSet(FollowUpSet),
        /// `opps.opportunity.opened`.
        OpportunityOpened(OpportunityOpened),
        /// `opps.opportunity.stage_changed`.
        OpportunityStageChanged(OpportunityStageChanged),
        /// `opps.opportunity.amount_changed`.
        OpportunityAmountChanged(OpportunityAmountChanged),
        /// `opps.opportunity.owner_changed`.
        OpportunityOwnerChanged(OpportunityOwnerChanged),
        /// `opps.opportunity.closed`.
        OpportunityClosed(OpportunityClosed),
        /// `opps.activity.logged`.
        ActivityLogged(ActivityLogged),
        /// `opps.pipeline.stage_changed`.
        PipelineStageChanged(PipelineStageChanged),
    }
}

/// True when reporting deliberately ignores `subject` (listed `None` in
/// [`SUBJECTS`]).
pub fn ignored(subject: &str) -> bool {
    SUBJECTS
        .iter()
        .any(|(s, model)| *s == subject && model.is_none())
}

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
    (
        subjects::REP_LEFT,
        Some("access, fairness and balance (marks the rep left)"),
    ),
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
    use std::collections::BTreeSet;

    use leadwheel_plumbing::bus::{INTAKE_STREAM, OPPS_STREAM, WHEEL_STREAM};
    use leadwheel_plumbing::contracts;

    use super::*;

    /// Every subject the publishers (intake, wheel, opps) publish, from the
    /// one list of contracts, so a new one cannot be missed.
    fn published_subjects() -> Vec<&'static str> {
        [&INTAKE_STREAM, &WHEEL_STREAM, &OPPS_STREAM]
            .into_iter()
            .flat_map(contracts::published_on)
            .map(|c| c.subject)
            .collect()
    }

    #[test]
    fn every_published_subject_is_used_or_ignored() {
        let published = published_subjects();
        assert!(published.len() > 30, "read {published:?}");
        let listed: Vec<&str> = SUBJECTS.iter().map(|(s, _)| *s).collect();
        for subject in &published {
            assert!(
                listed.contains(subject),
                "{subject} is published but neither used nor listed as ignored"
            );
        }
        for subject in &listed {
            assert!(
                published.contains(subject),
                "{subject} is listed but nobody publishes it"
            );
        }
        // What is used is exactly what the consumers read.
        let used: BTreeSet<&str> = SUBJECTS
            .iter()
            .filter(|(_, model)| model.is_some())
            .map(|(s, _)| *s)
            .collect();
        let read: BTreeSet<&str> = Incoming::SUBJECTS.iter().copied().collect();
        assert_eq!(used, read, "SUBJECTS and Incoming disagree");
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
    fn the_consumers_read_exactly_the_used_subjects() {
        let mut filtered = BTreeSet::new();
        for spec in crate::consumer_specs() {
            assert!(!spec.filter_subjects.is_empty(), "{}", spec.durable);
            for subject in spec.filter_subjects {
                let contract = contracts::ALL
                    .iter()
                    .find(|c| c.subject == subject)
                    .expect("a contract");
                assert_eq!(contract.stream.name, spec.stream.name, "{subject}");
                assert!(filtered.insert(subject), "read twice");
            }
        }
        let read: BTreeSet<String> = Incoming::SUBJECTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(filtered, read);
        assert!(ignored(subjects::LEAD_TOUCHED));
        assert!(!ignored(subjects::REP_LEFT));
    }
}

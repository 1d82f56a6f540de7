//! Consumes `intake.person.erased`: the wheel forgets the person behind
//! each erased lead (name, company, email, domain, and the reasons its
//! routing rule gave, which can quote the email's domain or a custom
//! attribute from the signup), and keeps the lead itself, its offers and
//! its ledger, so routing history and every count stay as they were.
//!
//! The erasure arrives on its own durable consumer, so nothing orders it
//! after the lead's `intake.lead.created`: the erasure is recorded, and a
//! lead created after it is stored blank ([`for_erased_lead`]).

use leadwheel_plumbing::inbox::{EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx};
use leadwheel_proto::events::v1::PersonErased;
use leadwheel_wheel_core::TeamChoice;

use crate::store::{self, LeadDetails};

/// What an erased lead's routing reasons are replaced with.
pub const ERASED_REASONS: &str = "reasons erased with the person's data";

/// Applies `intake.person.erased`.
#[derive(Clone, Debug, Default)]
pub struct ErasureHandler;

impl EventHandler for ErasureHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let erased = event.decode_as::<PersonErased>()?;
        if erased.lead_ids.is_empty() || erased.lead_ids.iter().any(String::is_empty) {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "person.erased without lead ids (lead_ids={:?})",
                erased.lead_ids
            )));
        }
        let at_ms = if erased.at_ms > 0 {
            erased.at_ms
        } else {
            event.envelope.time_ms
        };
        for lead_id in &erased.lead_ids {
            erase(tx, lead_id, at_ms).await.map_err(|err| {
                HandlerError::Transient(anyhow::anyhow!("erasing lead {lead_id}: {err}"))
            })?;
        }
        Ok(())
    }
}

async fn erase(tx: &mut Tx, lead_id: &str, at_ms: i64) -> Result<(), crate::error::WheelError> {
    store::record_erasure(tx, lead_id, at_ms).await?;
    let routed_by = store::load_lead(tx, lead_id)
        .await?
        .and_then(|lead| lead.routed_by)
        .map(|choice| without_reasons(&choice));
    let known = store::erase_lead(tx, lead_id, routed_by.as_ref()).await?;
    tracing::info!(lead_id, known, "person's data erased from the lead");
    Ok(())
}

/// `choice` without the reasons a rule gave: they quote the lead's
/// attributes (the email's domain, custom attributes). The rule, version,
/// team and policy override stay, so `explain` still says how the team
/// was chosen.
pub fn without_reasons(choice: &TeamChoice) -> TeamChoice {
    match choice {
        TeamChoice::Rule {
            rule_id,
            index,
            version,
            team_id,
            policy_override,
            ..
        } => TeamChoice::Rule {
            rule_id: rule_id.clone(),
            index: *index,
            version: *version,
            team_id: team_id.clone(),
            reasons: vec![ERASED_REASONS.to_string()],
            policy_override: policy_override.clone(),
        },
        other => other.clone(),
    }
}

/// A new lead's details and team choice as the wheel may keep them for a
/// lead whose person was already erased: without the person.
pub fn for_erased_lead(details: LeadDetails, choice: &TeamChoice) -> (LeadDetails, TeamChoice) {
    let details = LeadDetails {
        name: String::new(),
        company: String::new(),
        email: String::new(),
        domain: String::new(),
        ..details
    };
    (details, without_reasons(choice))
}

#[cfg(test)]
mod tests {
    use leadwheel_wheel_core::PolicyOverride;

    use super::*;

    #[test]
    fn a_rule_choice_keeps_everything_but_its_reasons() {
        let choice = TeamChoice::Rule {
            rule_id: "enterprise".into(),
            index: 2,
            version: 7,
            team_id: "east".into(),
            reasons: vec!["email domain ana.example is ana.example".into()],
            policy_override: PolicyOverride {
                window_ms: Some(60_000),
                ..Default::default()
            },
        };
        let TeamChoice::Rule {
            rule_id,
            index,
            version,
            team_id,
            reasons,
            policy_override,
        } = without_reasons(&choice)
        else {
            panic!("still a rule");
        };
        assert_eq!(
            (rule_id.as_str(), index, version, team_id.as_str()),
            ("enterprise", 2, 7, "east")
        );
        assert_eq!(policy_override.window_ms, Some(60_000));
        assert_eq!(reasons, vec![ERASED_REASONS.to_string()]);
        let shown = without_reasons(&choice).to_string();
        assert!(!shown.contains("ana.example"), "{shown}");
    }

    #[test]
    fn other_choices_hold_no_reasons_and_stay() {
        let hint = TeamChoice::TeamHint {
            team_id: "north".into(),
        };
        assert_eq!(without_reasons(&hint), hint);
    }

    #[test]
    fn an_erased_leads_details_keep_only_what_counts() {
        let details = LeadDetails {
            lead_id: "lead-1".into(),
            name: "Ana".into(),
            company: "Acme".into(),
            email: "ana@acme.example".into(),
            domain: "acme.example".into(),
            tier: "A".into(),
            score: 80,
            source: "web".into(),
            lead_created_at_ms: 5,
        };
        let (kept, _) = for_erased_lead(details, &TeamChoice::NoTeam);
        assert_eq!(
            (kept.name, kept.company, kept.email, kept.domain),
            Default::default()
        );
        assert_eq!(
            (kept.lead_id.as_str(), kept.tier.as_str(), kept.score),
            ("lead-1", "A", 80)
        );
        assert_eq!((kept.source.as_str(), kept.lead_created_at_ms), ("web", 5));
    }
}

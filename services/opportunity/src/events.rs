//! Event payloads built from the store's types, so every `opps.*` event
//! carries the same complete picture. Drafts take their subject from the
//! payload's contract (`leadwheel_plumbing::contracts`).

use leadwheel_plumbing::EventDraft;
use leadwheel_plumbing::contracts::Contract;
use leadwheel_proto::events::v1::{AccountChanged, OpportunityState};

use crate::ops::Pipeline;
use crate::rules;
use crate::store::deals::{Account, Opportunity};

/// The whole opportunity as events carry it.
pub fn opportunity_state(opp: &Opportunity, pipeline: &Pipeline) -> OpportunityState {
    let probability = pipeline.probability(opp);
    OpportunityState {
        opportunity_id: opp.opportunity_id.clone(),
        account_id: opp.account_id.clone(),
        lead_id: opp.lead_id.clone(),
        name: opp.name.clone(),
        owner_rep_id: opp.owner_rep_id.clone(),
        team_id: opp.team_id.clone(),
        stage: opp.stage.clone(),
        status: opp.status.clone(),
        amount_minor: opp.amount_minor,
        currency: opp.currency.clone(),
        probability_percent: probability,
        probability_overridden: opp.probability_override >= 0,
        weighted_minor: rules::weighted(opp.amount_minor, probability),
        expected_close_date: opp.expected_close.clone(),
        stage_entered_at_ms: opp.stage_entered_at_ms,
        created_at_ms: opp.created_at_ms,
        version: opp.version,
        forecast_category: pipeline.forecast_category(opp),
    }
}

/// `opps.account.*` (contract `C`: created, updated or owner changed) with
/// the whole account.
pub fn account_changed<C>(account: &Account, at_ms: i64) -> EventDraft
where
    C: Contract<Payload = AccountChanged>,
{
    let payload = AccountChanged {
        account_id: account.account_id.clone(),
        name: account.name.clone(),
        domains: account.domains.clone(),
        tier: account.tier.clone(),
        owner_rep_id: account.owner_rep_id.clone(),
        team_id: account.team_id.clone(),
        status: account.status.clone(),
        version: account.version,
        at_ms,
    };
    EventDraft::contract::<C>(&account.account_id, &payload)
}

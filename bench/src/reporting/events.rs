//! A deterministic sales year as the real publishers would announce it:
//! teams and reps (wheel), leads created (intake), offered, claimed and
//! assigned (wheel), converted into opportunities that move through the
//! stages, change amount and close won or lost, accounts, and activities
//! (opportunity), one in four setting the next follow-up. Same sizes, same events, every run: no randomness beyond
//! a fixed-seed generator.

use leadwheel_plumbing::bus::subjects;
use leadwheel_proto::events::v1::{
    AccountChanged, ActivityLogged, AssignedVia, LeadAssigned, LeadConverted, OfferClosed,
    OfferOpened, OfferOutcome, OpportunityAmountChanged, OpportunityClosed, OpportunityOpened,
    OpportunityStageChanged, OpportunityState, RepUpserted, TeamUpserted,
};
use prost::Message;

/// One event to publish: subject, key, encoded payload.
pub struct Planned {
    pub subject: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
}

/// How much history to make.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub teams: usize,
    pub reps_per_team: usize,
    pub opportunities: usize,
    pub activities: usize,
}

/// The first day of the year of events (UTC): 2026-01-01.
pub const YEAR_START_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;
const STAGES: [(&str, i32); 3] = [("needs_identified", 10), ("trial", 40), ("commercial", 70)];
const KINDS: [&str; 5] = ["call", "email", "visit", "meeting", "note"];
const TIERS: [&str; 3] = ["A", "B", "C"];

/// A fixed-seed xorshift generator: the same events every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The team and rep ids of `sizes`.
pub fn roster(sizes: &Sizes) -> Vec<(String, Vec<String>)> {
    (0..sizes.teams)
        .map(|t| {
            let team = format!("team-{t:03}");
            let reps = (0..sizes.reps_per_team)
                .map(|r| format!("{team}-rep-{r:03}"))
                .collect();
            (team, reps)
        })
        .collect()
}

fn push(out: &mut Vec<Planned>, subject: &'static str, key: &str, payload: &impl Message) {
    out.push(Planned {
        subject,
        key: key.to_string(),
        payload: payload.encode_to_vec(),
    });
}

/// Every event of the year, in publishing order within each stream.
pub fn year(sizes: &Sizes) -> Vec<Planned> {
    let mut dice = Dice(0x5eed_1ead_u64);
    let roster = roster(sizes);
    let mut out = Vec::new();
    for (team, reps) in &roster {
        push(
            &mut out,
            subjects::TEAM_UPSERTED,
            team,
            &TeamUpserted {
                team_id: team.clone(),
                name: format!("Team {team}"),
                manager_id: format!("{team}-manager"),
                window_ms: 60_000,
                rep_ids: reps.clone(),
                at_ms: 1,
            },
        );
        for rep in reps {
            push(
                &mut out,
                subjects::REP_UPSERTED,
                rep,
                &RepUpserted {
                    rep_id: rep.clone(),
                    team_id: team.clone(),
                    at_ms: 1,
                    ..Default::default()
                },
            );
        }
    }
    let mut lead_of_opp = Vec::with_capacity(sizes.opportunities);
    for n in 0..sizes.opportunities {
        let (team, reps) = &roster[n % roster.len()];
        let rep = &reps[dice.below(reps.len() as u64) as usize];
        let lead = format!("lead-{n:08}");
        let opp = format!("opp-{n:08}");
        let account = format!("acc-{n:08}");
        let offer = format!("offer-{n:08}");
        let created =
            YEAR_START_MS + dice.below(330) as i64 * DAY_MS + dice.below(DAY_MS as u64 / 2) as i64;
        let first_offer = created + 2_000 + dice.below(20_000) as i64;
        let claimed = first_offer + 5_000 + dice.below(50_000) as i64;
        push(
            &mut out,
            subjects::LEAD_CREATED,
            &lead,
            &leadwheel_proto::events::v1::LeadCreated {
                lead_id: lead.clone(),
                email: format!("buyer{n}@acme{n}.example"),
                company: format!("Acme {n}"),
                domain: format!("acme{n}.example"),
                tier: TIERS[n % 3].into(),
                created_at_ms: created,
                team_hint: Some(team.clone()),
                ..Default::default()
            },
        );
        push(
            &mut out,
            subjects::OFFER_OPENED,
            &offer,
            &OfferOpened {
                offer_id: offer.clone(),
                lead_id: lead.clone(),
                team_id: team.clone(),
                rep_id: rep.clone(),
                lap: 1,
                step: 1,
                opened_at_ms: first_offer,
                deadline_ms: first_offer + 60_000,
                first_look: true,
                skipped: Vec::new(),
            },
        );
        push(
            &mut out,
            subjects::OFFER_CLOSED,
            &offer,
            &OfferClosed {
                offer_id: offer.clone(),
                lead_id: lead.clone(),
                team_id: team.clone(),
                rep_id: rep.clone(),
                outcome: OfferOutcome::Claimed as i32,
                reason: String::new(),
                opened_at_ms: first_offer,
                closed_at_ms: claimed,
            },
        );
        push(
            &mut out,
            subjects::LEAD_ASSIGNED,
            &lead,
            &LeadAssigned {
                lead_id: lead.clone(),
                team_id: team.clone(),
                rep_id: rep.clone(),
                via: AssignedVia::Offer as i32,
                offer_id: Some(offer.clone()),
                lead_created_at_ms: created,
                first_offer_at_ms: first_offer,
                assigned_at_ms: claimed,
                // No routing rules in the generated year: the oldest team.
                routed_by: "fallback".into(),
                routing_rule_id: String::new(),
                routing_rules_version: 0,
            },
        );
        push(
            &mut out,
            subjects::OPPS_ACCOUNT_CREATED,
            &account,
            &AccountChanged {
                account_id: account.clone(),
                name: format!("Acme {n}"),
                tier: TIERS[n % 3].into(),
                owner_rep_id: rep.clone(),
                team_id: team.clone(),
                status: "active".into(),
                version: 1,
                at_ms: claimed,
                ..Default::default()
            },
        );
        let converted_at = claimed + 3_600_000 + dice.below(3 * DAY_MS as u64) as i64;
        push(
            &mut out,
            subjects::OPPS_LEAD_CONVERTED,
            &lead,
            &LeadConverted {
                lead_id: lead.clone(),
                rep_id: rep.clone(),
                team_id: team.clone(),
                account_id: account.clone(),
                opportunity_id: opp.clone(),
                at_ms: converted_at,
            },
        );
        let amount = (1 + dice.below(500) as i64) * 10_000;
        let currency = if n % 10 == 9 { "USD" } else { "EUR" };
        let close =
            jiff::Timestamp::from_millisecond(converted_at + (20 + dice.below(60) as i64) * DAY_MS)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .unwrap_or_default();
        let mut state = OpportunityState {
            opportunity_id: opp.clone(),
            account_id: account.clone(),
            lead_id: lead.clone(),
            name: format!("Deal {n}"),
            owner_rep_id: rep.clone(),
            team_id: team.clone(),
            stage: STAGES[0].0.into(),
            status: "open".into(),
            amount_minor: amount,
            currency: currency.into(),
            probability_percent: STAGES[0].1,
            expected_close_date: close,
            version: 1,
            created_at_ms: converted_at,
            stage_entered_at_ms: converted_at,
            ..Default::default()
        };
        settle(&mut state);
        push(
            &mut out,
            subjects::OPPS_OPPORTUNITY_OPENED,
            &opp,
            &OpportunityOpened {
                opportunity: Some(state.clone()),
                by: rep.clone(),
                at_ms: converted_at,
            },
        );
        let mut at = converted_at;
        let steps = 1 + dice.below(2) as usize;
        for (to, probability) in STAGES.iter().skip(1).take(steps) {
            at += (1 + dice.below(10) as i64) * DAY_MS;
            let from = std::mem::replace(&mut state.stage, to.to_string());
            let from_entered = state.stage_entered_at_ms;
            state.probability_percent = *probability;
            state.stage_entered_at_ms = at;
            state.version += 1;
            settle(&mut state);
            push(
                &mut out,
                subjects::OPPS_OPPORTUNITY_STAGE_CHANGED,
                &opp,
                &OpportunityStageChanged {
                    opportunity: Some(state.clone()),
                    from_stage: from,
                    to_stage: to.to_string(),
                    from_stage_entered_at_ms: from_entered,
                    by: rep.clone(),
                    reason: String::new(),
                    at_ms: at,
                },
            );
        }
        if n % 4 == 0 {
            at += DAY_MS;
            let previous = state.clone();
            state.amount_minor += 50_000;
            state.version += 1;
            settle(&mut state);
            push(
                &mut out,
                subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED,
                &opp,
                &OpportunityAmountChanged {
                    opportunity: Some(state.clone()),
                    previous_amount_minor: previous.amount_minor,
                    previous_currency: previous.currency,
                    previous_probability_percent: previous.probability_percent,
                    previous_expected_close_date: previous.expected_close_date,
                    by: rep.clone(),
                    reason: "negotiated".into(),
                    at_ms: at,
                },
            );
        }
        if n % 2 == 0 {
            at += (1 + dice.below(20) as i64) * DAY_MS;
            let won = n % 3 != 0;
            let from = state.stage.clone();
            let from_entered = state.stage_entered_at_ms;
            let outcome = if won { "won" } else { "lost" };
            state.stage = outcome.into();
            state.status = outcome.into();
            state.probability_percent = if won { 100 } else { 0 };
            state.stage_entered_at_ms = at;
            state.version += 1;
            settle(&mut state);
            push(
                &mut out,
                subjects::OPPS_OPPORTUNITY_CLOSED,
                &opp,
                &OpportunityClosed {
                    opportunity: Some(state.clone()),
                    won,
                    from_stage: from,
                    from_stage_entered_at_ms: from_entered,
                    by: rep.clone(),
                    reason: "decided".into(),
                    at_ms: at,
                },
            );
        }
        lead_of_opp.push((
            team.clone(),
            rep.clone(),
            lead,
            opp,
            converted_at,
            state.stage.clone(),
        ));
    }
    for n in 0..sizes.activities {
        let (team, rep, lead, opp, converted_at, stage) =
            &lead_of_opp[dice.below(lead_of_opp.len() as u64) as usize];
        let kind = KINDS[dice.below(KINDS.len() as u64) as usize];
        let id = format!("act-{n:09}");
        let at = converted_at - DAY_MS + dice.below(40 * DAY_MS as u64) as i64;
        let on_lead = at < *converted_at;
        // One activity in four sets the next follow-up, one to seven days on.
        let next_follow_up_date = if n % 4 == 0 {
            jiff::Timestamp::from_millisecond(at + (1 + dice.below(7) as i64) * DAY_MS)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        push(
            &mut out,
            subjects::OPPS_ACTIVITY_LOGGED,
            &id,
            &ActivityLogged {
                activity_id: id.clone(),
                kind: kind.into(),
                lead_id: if on_lead { lead.clone() } else { String::new() },
                opportunity_id: if on_lead { String::new() } else { opp.clone() },
                by: rep.clone(),
                owner_rep_id: rep.clone(),
                team_id: team.clone(),
                at_ms: at,
                touch_count: 1,
                duration_seconds: if kind == "call" {
                    60 + dice.below(600) as i64
                } else {
                    0
                },
                has_recording: kind == "call" && n % 3 == 0,
                next_follow_up_date,
                stage: if on_lead {
                    "lead".into()
                } else {
                    stage.clone()
                },
                ..Default::default()
            },
        );
    }
    out
}

/// The weighted value and default forecast category, as opportunity
/// computes them.
fn settle(state: &mut OpportunityState) {
    state.weighted_minor = state.amount_minor * i64::from(state.probability_percent) / 100;
    state.forecast_category = match (state.status.as_str(), state.probability_percent) {
        ("won", _) => "closed",
        ("lost", _) => "omitted",
        (_, 90..) => "commit",
        (_, 50..=89) => "best_case",
        _ => "pipeline",
    }
    .into();
}

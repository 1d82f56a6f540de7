//! What each event means for the sales read models (pipeline, forecast,
//! the five questions): a pure mapping from an event to the updates it
//! makes. No I/O, so the rules are tested on their own; the consumer only
//! applies them (`store::sales`).
//!
//! Order tolerance lives in the updates' shape: an opportunity's state is
//! replaced only by a higher version; a counted fact has a natural key and
//! keeps its earliest occurrence; team and rep records keep the latest
//! `at_ms`. So the same events in any order, repeated or not, leave the
//! same tables.

use leadwheel_plumbing::bus::subjects;
use leadwheel_proto::events::v1::{AccountChanged, OpportunityState};

use crate::event_subjects::Incoming;
use crate::funnel::Rejected;

/// A counter of the daily table (`metric` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// A deal closed won (value: its amount).
    Won,
    /// A deal closed lost (value: its amount).
    Lost,
    /// A lead converted into an opportunity.
    Converted,
    /// An opportunity entered a stage (`dim`: the stage), first time only.
    Entered,
    /// An activity logged (`dim`: its kind).
    Activity,
    /// An offer opened to a rep.
    Offered,
    /// An offer that was the lead's first (the rep got the first look).
    FirstLook,
    /// An offer claimed.
    OfferClaimed,
    /// An offer passed (`dim`: the reason).
    Passed,
    /// An offer left to expire.
    Expired,
    /// A lead claimed from the open pool.
    PoolClaimed,
    /// A deal moved between stages (`dim`: `from>to`; closes included).
    Moved,
    /// An activity by the stage its lead or deal was in (`dim`: the stage,
    /// or `lead` for a lead in work).
    TouchStage,
    /// A call logged with a recording.
    CallRecorded,
    /// A rep passed over by the wheel without an offer (`dim`: the reason).
    Skipped,
}

impl Metric {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Won => "won",
            Metric::Lost => "lost",
            Metric::Converted => "converted",
            Metric::Entered => "entered",
            Metric::Activity => "activity",
            Metric::Offered => "offered",
            Metric::FirstLook => "first_look",
            Metric::OfferClaimed => "offer_claimed",
            Metric::Passed => "passed",
            Metric::Expired => "expired",
            Metric::PoolClaimed => "pool_claimed",
            Metric::Moved => "moved",
            Metric::TouchStage => "touch_stage",
            Metric::CallRecorded => "call_recorded",
            Metric::Skipped => "skipped",
        }
    }
}

/// A fact counted once per natural key, on the business day of `at_ms`.
/// When the same key arrives again with an earlier `at_ms` (a late event),
/// the count moves to the earlier occurrence; a later one is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    /// The counter.
    pub metric: Metric,
    /// The natural key, e.g. an activity id or `opportunity/stage`.
    pub key: String,
    /// A sub-dimension (a stage, an activity kind), or "".
    pub dim: String,
    /// Who it is credited to.
    pub team_id: String,
    /// See `team_id`.
    pub rep_id: String,
    /// The currency of `amount_minor`, or "".
    pub currency: String,
    /// A value in minor units (won and lost deals), else 0.
    pub amount_minor: i64,
    /// When it happened.
    pub at_ms: i64,
}

/// One change to the sales read models.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// An opportunity's whole state, applied when newer than the stored one.
    Opportunity(OpportunityState),
    /// An opportunity's state as of `at_ms` (its version history): for the
    /// pipeline as of a past day and the forecast's movement.
    History {
        /// The whole state after the change.
        state: OpportunityState,
        /// When the change happened.
        at_ms: i64,
    },
    /// A counted fact.
    Count(Count),
    /// A team and its manager (`wheel.team.upserted`).
    Team {
        /// The team.
        team_id: String,
        /// Its manager.
        manager_id: String,
        /// Its reps, whose team this makes it.
        rep_ids: Vec<String>,
        /// When, to keep the latest.
        at_ms: i64,
    },
    /// An account's whole state (`opps.account.*`), applied when newer.
    Account(AccountChanged),
    /// A rep and their team (`wheel.rep.upserted`).
    Rep {
        /// The rep.
        rep_id: String,
        /// Their team.
        team_id: String,
        /// When, to keep the latest.
        at_ms: i64,
    },
    /// A rep left their team (`wheel.rep.left`): kept in the roster,
    /// marked left, so reports show their history but not as a member.
    RepLeft {
        /// The rep.
        rep_id: String,
        /// The team they left.
        team_id: String,
        /// When, to keep the latest.
        at_ms: i64,
    },
    /// A duration of one fact (e.g. an offer's time to claim); the
    /// earliest occurrence (`at_ms`) of a key wins.
    Duration {
        /// `time_to_claim`, `system`, `offer_to_claim` or `claim_to_touch`.
        metric: &'static str,
        /// The fact's natural key (an offer id, a lead id).
        key: String,
        /// A sub-dimension (the stage of a stage time), or "".
        dim: String,
        /// Who it is credited to.
        team_id: String,
        /// See `team_id`.
        rep_id: String,
        /// When it happened (its day is the period it falls in).
        at_ms: i64,
        /// How long it took.
        duration_ms: i64,
    },
    /// A lead assigned to a rep (`wheel.lead.assigned`), to time claim →
    /// first touch.
    Assigned {
        /// The lead.
        lead_id: String,
        /// Its team.
        team_id: String,
        /// Its rep.
        rep_id: String,
        /// How: `offer`, `pool`, `direct` or `account_owner`.
        via: &'static str,
        /// How the wheel chose the team: `rule`, `default`, `team_hint`,
        /// `fallback`, or "" when it kept no choice.
        routed_by: String,
        /// The routing rule, when `routed_by` is `rule`.
        rule_id: String,
        /// The claimed offer, when via an offer.
        offer_id: Option<String>,
        /// When.
        at_ms: i64,
    },
    /// A lead converted into an opportunity (its earliest conversion).
    LeadConverted {
        /// The lead.
        lead_id: String,
        /// When.
        at_ms: i64,
    },
    /// The opportunity converted from a lead was won.
    LeadWon {
        /// The lead.
        lead_id: String,
        /// When.
        at_ms: i64,
        /// The deal's currency.
        currency: String,
        /// Its amount.
        amount_minor: i64,
    },
    /// An activity on a lead, to time claim → first touch.
    Touch {
        /// The lead.
        lead_id: String,
        /// When it happened.
        at_ms: i64,
    },
    /// An activity on a lead or deal (`item`: `lead:<id>` or
    /// `opportunity:<id>`): touches before conversion, follow-ups done.
    ItemTouch {
        /// What it was logged on.
        item: String,
        /// The activity.
        activity_id: String,
        /// When it happened.
        at_ms: i64,
    },
    /// A follow-up set on a lead or deal, due on `due_date` ("" when
    /// cleared), owned then by `rep_id`.
    FollowUp {
        /// `lead:<id>` or `opportunity:<id>`.
        item: String,
        /// When it was set.
        set_at_ms: i64,
        /// The activity that set it (its next follow-up date), or "" when
        /// set on its own: that activity does not count as doing it.
        set_by_activity: String,
        /// `YYYY-MM-DD`, or "" when cleared.
        due_date: String,
        /// The owner's team then.
        team_id: String,
        /// The owner then.
        rep_id: String,
    },
    /// A pipeline stage (`opps.pipeline.stage_changed`): known stages are
    /// what `intent_stage` may name.
    Stage {
        /// The stage.
        stage: String,
        /// Its position in the pipeline.
        position: i32,
        /// Days in it after which an open deal is stuck (0: never).
        stale_days: i32,
    },
}

fn stage_entered(state: &OpportunityState, stage: &str, at_ms: i64) -> Update {
    Update::Count(Count {
        metric: Metric::Entered,
        key: format!("{}/{stage}", state.opportunity_id),
        dim: stage.to_string(),
        team_id: state.team_id.clone(),
        rep_id: state.owner_rep_id.clone(),
        currency: String::new(),
        amount_minor: 0,
        at_ms,
    })
}

/// A move out of `from` (entered at `from_entered`) into `to` at `at_ms`:
/// counted per `from>to`, and the stay in `from` timed.
fn moved(
    state: &OpportunityState,
    from: &str,
    from_entered: i64,
    to: &str,
    at_ms: i64,
) -> [Update; 2] {
    let id = &state.opportunity_id;
    [
        Update::Count(Count {
            metric: Metric::Moved,
            key: format!("{id}/{from}>{to}@{at_ms}"),
            dim: format!("{from}>{to}"),
            team_id: state.team_id.clone(),
            rep_id: state.owner_rep_id.clone(),
            currency: String::new(),
            amount_minor: 0,
            at_ms,
        }),
        Update::Duration {
            metric: "stage_time",
            key: format!("{id}/{from}@{from_entered}"),
            dim: from.to_string(),
            team_id: state.team_id.clone(),
            rep_id: state.owner_rep_id.clone(),
            at_ms,
            duration_ms: (at_ms - from_entered).max(0),
        },
    ]
}

/// What an activity or follow-up is on: the deal when it names one
/// (activities on a deal also carry the lead it came from), else the lead.
pub fn item_of(lead_id: &str, opportunity_id: &str) -> String {
    if opportunity_id.is_empty() {
        format!("lead:{lead_id}")
    } else {
        format!("opportunity:{opportunity_id}")
    }
}

fn state_of(
    state: Option<OpportunityState>,
    subject: &'static str,
) -> Result<OpportunityState, Rejected> {
    match state {
        Some(state) if !state.opportunity_id.is_empty() => Ok(state),
        _ => Err(Rejected::Missing {
            subject,
            field: "opportunity.opportunity_id",
        }),
    }
}

fn required(value: &str, subject: &'static str, field: &'static str) -> Result<(), Rejected> {
    if value.is_empty() {
        Err(Rejected::Missing { subject, field })
    } else {
        Ok(())
    }
}

/// The updates `event` makes; empty when it means nothing to these models
/// (see `docs/reporting.md` for the subjects deliberately ignored).
pub fn updates_of(event: &Incoming) -> Result<Vec<Update>, Rejected> {
    use subjects::*;
    let updates = match event.clone() {
        Incoming::OpportunityOpened(opened) => {
            let state = state_of(opened.opportunity, OPPS_OPPORTUNITY_OPENED)?;
            // Opened straight into a stage counts as entering it.
            let entered = stage_entered(&state, &state.stage, opened.at_ms);
            let history = Update::History {
                state: state.clone(),
                at_ms: opened.at_ms,
            };
            vec![Update::Opportunity(state), entered, history]
        }
        Incoming::OpportunityStageChanged(changed) => {
            let state = state_of(changed.opportunity, OPPS_OPPORTUNITY_STAGE_CHANGED)?;
            let entered = stage_entered(&state, &changed.to_stage, changed.at_ms);
            let [count, stay] = moved(
                &state,
                &changed.from_stage,
                changed.from_stage_entered_at_ms,
                &changed.to_stage,
                changed.at_ms,
            );
            let history = Update::History {
                state: state.clone(),
                at_ms: changed.at_ms,
            };
            vec![Update::Opportunity(state), entered, count, stay, history]
        }
        Incoming::OpportunityAmountChanged(_) | Incoming::OpportunityOwnerChanged(_) => {
            let (state, at_ms) = match event.clone() {
                Incoming::OpportunityAmountChanged(changed) => (
                    state_of(changed.opportunity, OPPS_OPPORTUNITY_AMOUNT_CHANGED)?,
                    changed.at_ms,
                ),
                Incoming::OpportunityOwnerChanged(changed) => (
                    state_of(changed.opportunity, OPPS_OPPORTUNITY_OWNER_CHANGED)?,
                    changed.at_ms,
                ),
                _ => unreachable!("matched above"),
            };
            let history = Update::History {
                state: state.clone(),
                at_ms,
            };
            vec![Update::Opportunity(state), history]
        }
        Incoming::OpportunityClosed(closed) => {
            let state = state_of(closed.opportunity, OPPS_OPPORTUNITY_CLOSED)?;
            // A closed deal never changes again, so its id is the key.
            let count = Count {
                metric: if closed.won {
                    Metric::Won
                } else {
                    Metric::Lost
                },
                key: state.opportunity_id.clone(),
                dim: String::new(),
                team_id: state.team_id.clone(),
                rep_id: state.owner_rep_id.clone(),
                currency: state.currency.clone(),
                amount_minor: state.amount_minor,
                at_ms: closed.at_ms,
            };
            let entered = stage_entered(&state, &state.stage, closed.at_ms);
            let won = (closed.won && !state.lead_id.is_empty()).then(|| Update::LeadWon {
                lead_id: state.lead_id.clone(),
                at_ms: closed.at_ms,
                currency: state.currency.clone(),
                amount_minor: state.amount_minor,
            });
            let [moved_count, stay] = moved(
                &state,
                &closed.from_stage,
                closed.from_stage_entered_at_ms,
                &state.stage,
                closed.at_ms,
            );
            let history = Update::History {
                state: state.clone(),
                at_ms: closed.at_ms,
            };
            let mut updates = vec![
                Update::Opportunity(state),
                Update::Count(count),
                entered,
                moved_count,
                stay,
            ];
            updates.extend(won);
            updates.push(history);
            updates
        }
        Incoming::LeadConverted(converted) => {
            required(&converted.lead_id, OPPS_LEAD_CONVERTED, "lead_id")?;
            let outcome = Update::LeadConverted {
                lead_id: converted.lead_id.clone(),
                at_ms: converted.at_ms,
            };
            vec![
                outcome,
                Update::Count(Count {
                    metric: Metric::Converted,
                    key: converted.lead_id,
                    dim: String::new(),
                    team_id: converted.team_id,
                    rep_id: converted.rep_id,
                    currency: String::new(),
                    amount_minor: 0,
                    at_ms: converted.at_ms,
                }),
            ]
        }
        Incoming::ActivityLogged(activity) => {
            required(&activity.activity_id, OPPS_ACTIVITY_LOGGED, "activity_id")?;
            let touch = (!activity.lead_id.is_empty()).then(|| Update::Touch {
                lead_id: activity.lead_id.clone(),
                at_ms: activity.at_ms,
            });
            // Credited to the owner of the lead or deal: the rep whose
            // numbers it is (a manager logging a call on a rep's deal
            // counts for that deal's rep).
            let is_call = activity.kind == "call";
            let counted = |metric, dim: &str, amount_minor| {
                Update::Count(Count {
                    metric,
                    key: activity.activity_id.clone(),
                    dim: dim.to_string(),
                    team_id: activity.team_id.clone(),
                    rep_id: activity.owner_rep_id.clone(),
                    currency: String::new(),
                    amount_minor,
                    at_ms: activity.at_ms,
                })
            };
            // A call's amount is its length in seconds (for call time).
            let seconds = if is_call {
                activity.duration_seconds
            } else {
                0
            };
            let mut updates = vec![counted(Metric::Activity, &activity.kind, seconds)];
            if !activity.stage.is_empty() {
                updates.push(counted(Metric::TouchStage, &activity.stage, 0));
            }
            if is_call && activity.has_recording {
                updates.push(counted(Metric::CallRecorded, "", 0));
            }
            updates.extend(touch);
            let item = item_of(&activity.lead_id, &activity.opportunity_id);
            if !activity.next_follow_up_date.is_empty() {
                updates.push(Update::FollowUp {
                    item: item.clone(),
                    set_at_ms: activity.at_ms,
                    set_by_activity: activity.activity_id.clone(),
                    due_date: activity.next_follow_up_date.clone(),
                    team_id: activity.team_id.clone(),
                    rep_id: activity.owner_rep_id.clone(),
                });
            }
            updates.push(Update::ItemTouch {
                item,
                activity_id: activity.activity_id,
                at_ms: activity.at_ms,
            });
            updates
        }
        Incoming::FollowUpSet(set) => {
            if set.lead_id.is_empty() && set.opportunity_id.is_empty() {
                return Err(Rejected::Missing {
                    subject: OPPS_FOLLOW_UP_SET,
                    field: "lead_id",
                });
            }
            vec![Update::FollowUp {
                item: item_of(&set.lead_id, &set.opportunity_id),
                set_at_ms: set.at_ms,
                set_by_activity: String::new(),
                due_date: set.date,
                team_id: set.team_id,
                rep_id: set.owner_rep_id,
            }]
        }
        Incoming::AccountCreated(account)
        | Incoming::AccountUpdated(account)
        | Incoming::AccountOwnerChanged(account) => {
            required(&account.account_id, event.subject(), "account_id")?;
            vec![Update::Account(account)]
        }
        Incoming::TeamUpserted(team) => {
            required(&team.team_id, TEAM_UPSERTED, "team_id")?;
            vec![Update::Team {
                team_id: team.team_id,
                manager_id: team.manager_id,
                rep_ids: team.rep_ids,
                at_ms: team.at_ms,
            }]
        }
        Incoming::RepUpserted(rep) => {
            required(&rep.rep_id, REP_UPSERTED, "rep_id")?;
            vec![Update::Rep {
                rep_id: rep.rep_id,
                team_id: rep.team_id,
                at_ms: rep.at_ms,
            }]
        }
        Incoming::RepLeft(left) => {
            required(&left.rep_id, REP_LEFT, "rep_id")?;
            required(&left.team_id, REP_LEFT, "team_id")?;
            vec![Update::RepLeft {
                rep_id: left.rep_id,
                team_id: left.team_id,
                at_ms: left.at_ms,
            }]
        }
        Incoming::PipelineStageChanged(stage) => {
            required(&stage.stage, OPPS_PIPELINE_STAGE_CHANGED, "stage")?;
            vec![Update::Stage {
                stage: stage.stage,
                position: stage.position,
                stale_days: stage.stale_days,
            }]
        }
        _ => crate::routing::updates_of(event)?,
    };
    Ok(updates)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_activity_setting_a_follow_up_records_it_on_its_deal() {
        let activity = ActivityLogged {
            activity_id: "a2".into(),
            lead_id: "l1".into(),
            opportunity_id: "opp1".into(),
            kind: "email".into(),
            owner_rep_id: "ana".into(),
            team_id: "north".into(),
            at_ms: 9,
            next_follow_up_date: "2026-11-20".into(),
            ..Default::default()
        };
        let updates = updates_of(&event(subjects::OPPS_ACTIVITY_LOGGED, &activity)).unwrap();
        let follow_up = updates.iter().find_map(|u| match u {
            Update::FollowUp {
                item,
                set_at_ms,
                set_by_activity,
                due_date,
                rep_id,
                ..
            } => Some((
                item.as_str(),
                *set_at_ms,
                set_by_activity.as_str(),
                due_date.as_str(),
                rep_id.as_str(),
            )),
            _ => None,
        });
        assert_eq!(
            follow_up,
            Some(("opportunity:opp1", 9, "a2", "2026-11-20", "ana"))
        );
        assert!(matches!(
            updates.last(),
            Some(Update::ItemTouch { item, at_ms: 9, .. }) if item == "opportunity:opp1"
        ));
    }

    #[test]
    fn a_follow_up_on_nothing_is_rejected() {
        assert!(matches!(
            updates_of(&event(
                subjects::OPPS_FOLLOW_UP_SET,
                &FollowUpSet::default()
            )),
            Err(Rejected::Missing {
                field: "lead_id",
                ..
            })
        ));
    }

    use leadwheel_plumbing::Event;
    use leadwheel_proto::events::v1::{
        ActivityLogged, Envelope, FollowUpSet, OpportunityClosed, OpportunityStageChanged,
    };
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

    fn state() -> OpportunityState {
        OpportunityState {
            opportunity_id: "opp1".into(),
            owner_rep_id: "ana".into(),
            team_id: "north".into(),
            stage: "won".into(),
            status: "won".into(),
            amount_minor: 50_000,
            currency: "EUR".into(),
            version: 4,
            ..Default::default()
        }
    }

    #[test]
    fn a_won_deal_updates_its_state_counts_its_value_and_enters_won() {
        let closed = OpportunityClosed {
            opportunity: Some(state()),
            won: true,
            from_stage: "commercial".into(),
            at_ms: 77,
            ..Default::default()
        };
        let updates = updates_of(&event(subjects::OPPS_OPPORTUNITY_CLOSED, &closed)).unwrap();
        assert_eq!(updates[0], Update::Opportunity(state()));
        let Update::Count(won) = &updates[1] else {
            panic!("{updates:?}")
        };
        assert_eq!(
            (won.metric, won.key.as_str(), won.amount_minor, won.at_ms),
            (Metric::Won, "opp1", 50_000, 77)
        );
        assert!(matches!(&updates[2], Update::Count(c) if c.key == "opp1/won"));
    }

    #[test]
    fn an_opportunity_event_without_its_state_is_rejected() {
        let changed = OpportunityStageChanged::default();
        assert!(matches!(
            updates_of(&event(subjects::OPPS_OPPORTUNITY_STAGE_CHANGED, &changed)),
            Err(Rejected::Missing {
                field: "opportunity.opportunity_id",
                ..
            })
        ));
    }

    #[test]
    fn activities_count_for_the_owner_by_kind() {
        let activity = ActivityLogged {
            activity_id: "a1".into(),
            lead_id: "l1".into(),
            kind: "call".into(),
            by: "maya".into(),
            owner_rep_id: "ana".into(),
            team_id: "north".into(),
            at_ms: 5,
            duration_seconds: 300,
            stage: "trial".into(),
            has_recording: true,
            ..Default::default()
        };
        let updates = updates_of(&event(subjects::OPPS_ACTIVITY_LOGGED, &activity)).unwrap();
        assert!(matches!(
            &updates[..],
            [Update::Count(c), Update::Count(stage), Update::Count(recorded), Update::Touch { .. },
                Update::ItemTouch { item, .. }]
                if c.rep_id == "ana" && c.dim == "call" && c.metric == Metric::Activity
                    && item == "lead:l1"
                    && c.amount_minor == 300
                    && stage.metric == Metric::TouchStage && stage.dim == "trial"
                    && recorded.metric == Metric::CallRecorded
        ));
    }
}

//! The service side of routing: loads a lead and its team, asks the pure
//! core for a decision, and carries the decision out in one transaction:
//! conditional updates (the lead's version, the offer's `open` state),
//! ledger rows and outbox events. Whoever loses a race sees zero rows,
//! rolls back and retries against the new state.

use std::sync::Arc;

use leadwheel_plumbing::bus::{EventDraft, subjects};
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::store::{Tx, now_ms};
use leadwheel_plumbing::{Bus, Store, ids};
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{
    AssignedVia, Decision, Effect, EveryoneEligible, Input, LeadRouting, OfferOutcome, Phase,
    start, step,
};
use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::error::WheelError;
use crate::live::{self, Push};
use crate::store::{self, LeadDetails, LeadRow, LedgerEntry, OfferRow, TeamRow};

/// Attempts before a contended transition gives up with `ABORTED`.
const MAX_ATTEMPTS: usize = 8;

/// Routes leads: shared by the gRPC API, the event consumer and the timers.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub outbox: Outbox,
    pub bus: Bus,
    /// Wakes the timer loop when a new deadline may be the earliest.
    pub timers: Arc<Notify>,
}

impl Engine {
    /// Work to do once the transaction that produced `pushes` committed.
    pub async fn after_commit(&self, pushes: Vec<Push>) {
        self.outbox.notify();
        self.timers.notify_one();
        live::send(&self.bus, pushes).await;
    }

    /// Routes a newly created lead inside the caller's transaction.
    /// Idempotent: a lead already known is left alone.
    pub async fn route_new(
        &self,
        tx: &mut Tx,
        created: &events::LeadCreated,
        traceparent: Option<String>,
    ) -> Result<Vec<Push>, WheelError> {
        let now = now_ms();
        let conn: &mut AnyConnection = tx;
        let team = match (!created.team_hint.is_empty())
            .then(|| created.team_hint.clone())
            .or(store::default_team_id(conn).await?)
        {
            Some(team_id) => store::load_team(conn, &team_id).await?,
            None => None,
        };
        let details = LeadDetails {
            lead_id: created.lead_id.clone(),
            name: created.name.clone(),
            company: created.company.clone(),
            email: created.email.clone(),
            domain: created.domain.clone(),
            tier: created.tier.clone(),
            score: created.score as i64,
            source: created.source.clone(),
            lead_created_at_ms: created.created_at_ms,
        };
        let waiting = LeadRow {
            team_id: team.as_ref().map(|t| t.team_id.clone()).unwrap_or_default(),
            state: "waiting".into(),
            owner_rep_id: None,
            routing: LeadRouting {
                lead_id: created.lead_id.clone(),
                team_id: team.as_ref().map(|t| t.team_id.clone()).unwrap_or_default(),
                phase: Phase::Waiting,
                lap_order: Vec::new(),
                position: 0,
                offered: Vec::new(),
                offers_made: 0,
                first_offer_at: None,
            },
            version: 0,
            details: details.clone(),
            traceparent,
            pooled_at_ms: None,
        };
        if !store::insert_lead(conn, &details, &waiting, now).await? {
            tracing::debug!(lead_id = %created.lead_id, "lead already routed");
            return Ok(Vec::new());
        }
        let Some(team) = team else {
            store::insert_ledger(
                conn,
                ledger(
                    &created.lead_id,
                    "waiting",
                    None,
                    None,
                    "no team exists yet".into(),
                    now,
                ),
            )
            .await?;
            tracing::warn!(lead_id = %created.lead_id, "no team to route to; the lead waits for one");
            return Ok(Vec::new());
        };
        self.start_routing(conn, &team, waiting, now).await
    }

    /// Starts routing a waiting lead round `team`'s wheel.
    async fn start_routing(
        &self,
        conn: &mut AnyConnection,
        team: &TeamRow,
        lead: LeadRow,
        now: i64,
    ) -> Result<Vec<Push>, WheelError> {
        let (decision, next_cursor) = start(
            &team.config(),
            team.rotation_cursor as u64,
            &lead.details.lead_id,
            now,
            &EveryoneEligible,
        );
        if next_cursor as i64 != team.rotation_cursor
            && !store::move_cursor(
                conn,
                &team.team_id,
                team.rotation_cursor,
                next_cursor as i64,
            )
            .await?
        {
            return Err(WheelError::Conflict(lead.details.lead_id.clone()));
        }
        self.write_decision(conn, team, &lead, decision, now).await
    }

    /// Routes every lead waiting for `team` (and, for the default team,
    /// those that arrived before any team existed).
    pub async fn route_waiting(&self, tx: &mut Tx, team_id: &str) -> Result<Vec<Push>, WheelError> {
        let conn: &mut AnyConnection = tx;
        let mut waiting = store::leads_in_state(conn, team_id, "waiting", 10_000).await?;
        if store::default_team_id(conn).await?.as_deref() == Some(team_id) {
            waiting.extend(
                store::leads_in_state(conn, "", "waiting", 10_000)
                    .await?
                    .into_iter()
                    .filter(|l| l.team_id.is_empty()),
            );
        }
        let mut pushes = Vec::new();
        let now = now_ms();
        for mut lead in waiting {
            let team = store::load_team(conn, team_id)
                .await?
                .ok_or_else(|| WheelError::NotFound(format!("team {team_id} not found")))?;
            if team.ring.is_empty() {
                break;
            }
            lead.team_id = team.team_id.clone();
            lead.routing.team_id = team.team_id.clone();
            pushes.extend(self.start_routing(conn, &team, lead, now).await?);
        }
        Ok(pushes)
    }

    /// Applies `input` to a lead in its own transaction, retrying when
    /// another transition won a race. Route errors change nothing.
    pub async fn apply(&self, lead_id: &str, input: Input) -> Result<Decision, WheelError> {
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.store.begin().await?;
            let conn: &mut AnyConnection = &mut tx;
            let lead = store::load_lead(conn, lead_id)
                .await?
                .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
            let team = store::load_team(conn, &lead.team_id)
                .await?
                .ok_or_else(|| {
                    WheelError::Corrupt(format!("the team of lead {lead_id} is missing"))
                })?;
            let now = now_ms();
            let decision = step(
                &team.config(),
                &lead.routing,
                input.clone(),
                now,
                &EveryoneEligible,
            )?;
            match self
                .write_decision(conn, &team, &lead, decision.clone(), now)
                .await
            {
                Ok(pushes) => {
                    tx.commit().await?;
                    self.after_commit(pushes).await;
                    return Ok(decision);
                }
                Err(WheelError::Conflict(_)) => {
                    drop(tx);
                    tokio::task::yield_now().await;
                }
                Err(err) => return Err(err),
            }
        }
        Err(WheelError::Conflict(lead_id.to_string()))
    }

    /// Carries out `decision` for `lead` (read at `lead.version`).
    async fn write_decision(
        &self,
        conn: &mut AnyConnection,
        team: &TeamRow,
        lead: &LeadRow,
        decision: Decision,
        now: i64,
    ) -> Result<Vec<Push>, WheelError> {
        let lead_id = lead.details.lead_id.as_str();
        let mut pushes = Vec::new();
        let mut claimed_offer_id = String::new();
        for effect in &decision.effects {
            match effect {
                Effect::Skip { rep, reason } => {
                    store::insert_ledger(
                        conn,
                        ledger(
                            lead_id,
                            "skipped",
                            Some(rep),
                            None,
                            reason.as_str().into(),
                            now,
                        ),
                    )
                    .await?;
                }
                Effect::OpenOffer {
                    rep,
                    offer_no,
                    deadline,
                    first_look,
                } => {
                    let offer = OfferRow {
                        offer_id: ids::prefixed("offer"),
                        lead_id: lead_id.to_string(),
                        offer_no: *offer_no as i64,
                        team_id: team.team_id.clone(),
                        rep_id: rep.clone(),
                        state: "open".into(),
                        opened_at_ms: now,
                        deadline_ms: *deadline,
                        closed_at_ms: None,
                        reason: None,
                    };
                    store::insert_offer(conn, &offer).await?;
                    let detail = format!("window_ms={} first_look={first_look}", deadline - now);
                    store::insert_ledger(
                        conn,
                        ledger(lead_id, "offered", Some(rep), Some(*offer_no), detail, now),
                    )
                    .await?;
                    let event = events::OfferOpened {
                        offer_id: offer.offer_id.clone(),
                        lead_id: lead_id.to_string(),
                        team_id: team.team_id.clone(),
                        rep_id: rep.clone(),
                        lap: 1,
                        step: *offer_no as i32,
                        opened_at_ms: now,
                        deadline_ms: *deadline,
                        first_look: *first_look,
                    };
                    self.outbox
                        .enqueue(
                            conn,
                            EventDraft::new(subjects::OFFER_OPENED, &offer.offer_id, &event),
                        )
                        .await?;
                    pushes.push(Push {
                        rep_id: rep.clone(),
                        offer: live::offer_proto(
                            &offer,
                            Some(&lead.details),
                            lead.traceparent.as_deref(),
                        ),
                    });
                }
                Effect::CloseOffer {
                    rep,
                    offer_no,
                    outcome,
                    reason,
                } => {
                    let closed = store::close_offer(
                        conn,
                        lead_id,
                        *offer_no as i64,
                        outcome.as_str(),
                        reason.as_deref(),
                        now,
                    )
                    .await?
                    .ok_or_else(|| WheelError::Conflict(lead_id.to_string()))?;
                    if *outcome == OfferOutcome::Claimed {
                        claimed_offer_id = closed.offer_id.clone();
                    }
                    let detail = reason.clone().unwrap_or_default();
                    store::insert_ledger(
                        conn,
                        ledger(
                            lead_id,
                            outcome.as_str(),
                            Some(rep),
                            Some(*offer_no),
                            detail,
                            now,
                        ),
                    )
                    .await?;
                    let event = events::OfferClosed {
                        offer_id: closed.offer_id.clone(),
                        lead_id: lead_id.to_string(),
                        team_id: team.team_id.clone(),
                        rep_id: rep.clone(),
                        outcome: match outcome {
                            OfferOutcome::Claimed => events::OfferOutcome::Claimed,
                            OfferOutcome::Passed => events::OfferOutcome::Passed,
                            OfferOutcome::Expired => events::OfferOutcome::Expired,
                        } as i32,
                        reason: reason.clone().unwrap_or_default(),
                        opened_at_ms: closed.opened_at_ms,
                        closed_at_ms: now,
                    };
                    self.outbox
                        .enqueue(
                            conn,
                            EventDraft::new(subjects::OFFER_CLOSED, &closed.offer_id, &event),
                        )
                        .await?;
                    pushes.push(Push {
                        rep_id: rep.clone(),
                        offer: live::offer_proto(&closed, None, None),
                    });
                }
                Effect::Assign { rep, via, .. } => {
                    let via_name = match via {
                        AssignedVia::Offer => "offer",
                        AssignedVia::Pool => "pool",
                    };
                    store::insert_ledger(
                        conn,
                        ledger(
                            lead_id,
                            "assigned",
                            Some(rep),
                            None,
                            format!("via={via_name}"),
                            now,
                        ),
                    )
                    .await?;
                    let event = events::LeadAssigned {
                        lead_id: lead_id.to_string(),
                        team_id: team.team_id.clone(),
                        rep_id: rep.clone(),
                        via: match via {
                            AssignedVia::Offer => events::AssignedVia::Offer,
                            AssignedVia::Pool => events::AssignedVia::Pool,
                        } as i32,
                        offer_id: claimed_offer_id.clone(),
                        lead_created_at_ms: lead.details.lead_created_at_ms,
                        first_offer_at_ms: decision.lead.first_offer_at.unwrap_or_default(),
                        assigned_at_ms: now,
                    };
                    self.outbox
                        .enqueue(
                            conn,
                            EventDraft::new(subjects::LEAD_ASSIGNED, lead_id, &event),
                        )
                        .await?;
                }
                Effect::Pool => {
                    let detail = format!("after {} offers", decision.lead.offers_made);
                    store::insert_ledger(conn, ledger(lead_id, "pooled", None, None, detail, now))
                        .await?;
                    let event = events::LeadPooled {
                        lead_id: lead_id.to_string(),
                        team_id: team.team_id.clone(),
                        manager_id: team.manager_id.clone(),
                        pooled_at_ms: now,
                        offers_made: decision.lead.offers_made as i32,
                    };
                    self.outbox
                        .enqueue(
                            conn,
                            EventDraft::new(subjects::LEAD_POOLED, lead_id, &event),
                        )
                        .await?;
                }
            }
        }
        let mut routing = decision.lead;
        routing.team_id = team.team_id.clone();
        let written = store::update_lead(conn, lead.version, &routing, now).await?;
        if !written {
            return Err(WheelError::Conflict(lead_id.to_string()));
        }
        Ok(pushes)
    }
}

fn ledger<'a>(
    lead_id: &'a str,
    kind: &'a str,
    rep_id: Option<&'a str>,
    offer_no: Option<u32>,
    detail: String,
    at_ms: i64,
) -> LedgerEntry<'a> {
    LedgerEntry {
        lead_id,
        kind,
        rep_id,
        offer_no: offer_no.map(i64::from),
        detail,
        at_ms,
    }
}

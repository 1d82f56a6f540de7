//! Carrying out a decision of the pure core in the caller's transaction:
//! conditional updates (the rotation's version, the offer's `open` state,
//! the lead's version), ledger rows, outbox events and the live pushes to
//! send after commit. Any conditional update that finds zero rows means
//! another writer won: the whole transaction is abandoned with `Conflict`.
//!
//! Ledger lines and events are unconditional inserts, so they are gathered
//! in a [`Deferred`] and written together before the commit: one statement
//! each per transition, or per batch when the writer applies many.

use leadwheel_plumbing::Contract;
use leadwheel_plumbing::bus::EventDraft;
use leadwheel_plumbing::outbox::{Outbox, Written};
use leadwheel_plumbing::{ids, telemetry};
use leadwheel_proto::events::v1 as events;
use leadwheel_wheel_core::{
    AssignedVia, Decision, Effect, LeadRouting, OfferOutcome, Phase, RotationState, TeamChoice,
};
use sqlx::AnyConnection;

use crate::error::WheelError;
use crate::live::{self, Push};
use crate::store::{self, LeadRow, OfferRow, PendingLedger, TeamRow};

/// Ledger lines and events of one or more transitions, to be written
/// ([`Deferred::flush`]) in the same transaction before it commits.
#[derive(Debug, Default)]
pub struct Deferred {
    ledger: Vec<(String, i64, PendingLedger)>,
    /// Each event with the trace context of the transition that made it.
    events: Vec<(EventDraft, Option<String>)>,
}

impl Deferred {
    /// A ledger line of `lead_id` with no rep, written at the flush.
    pub fn ledger(&mut self, lead_id: &str, at_ms: i64, kind: &str, detail: String) {
        let line = PendingLedger {
            kind: kind.to_string(),
            rep_id: None,
            offer_no: None,
            detail,
        };
        self.ledger.push((lead_id.to_string(), at_ms, line));
    }

    /// Writes what was gathered: the ledger lines, then the events (the
    /// caller wakes the relay after its commit).
    pub async fn flush(self, outbox: &Outbox, conn: &mut AnyConnection) -> Result<(), WheelError> {
        if !self.ledger.is_empty() {
            store::insert_ledger_lines(conn, self.ledger).await?;
        }
        if !self.events.is_empty() {
            outbox.enqueue_traced(conn, self.events).await?;
        }
        Ok(())
    }

    /// As [`Self::flush`], returning the events for the caller to hand to
    /// the relay once its transaction commits (`Outbox::publish_committed`).
    pub async fn flush_written(
        self,
        outbox: &Outbox,
        conn: &mut AnyConnection,
    ) -> Result<Written, WheelError> {
        if !self.ledger.is_empty() {
            store::insert_ledger_lines(conn, self.ledger).await?;
        }
        Ok(outbox.enqueue_written(conn, self.events).await?)
    }
}

/// Where a decision's writes go: straight into the caller's transaction
/// (`AnyConnection`), or staged in memory for the writer's batch and
/// written in a few statements before its commit (`crate::engine`'s
/// staged batch). Each call is one of the conditional writes a transition
/// makes; a `false` or `None` means another transition won the race.
pub trait Sink: Send {
    fn insert_offer(
        &mut self,
        offer: &OfferRow,
    ) -> impl Future<Output = Result<(), WheelError>> + Send;

    /// Closes the lead's open offer `offer_no`; None when it was not open.
    fn close_offer(
        &mut self,
        lead_id: &str,
        offer_no: i64,
        state: &str,
        reason: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<Option<OfferRow>, WheelError>> + Send;

    /// Counts an expiry against `rep_id` (or resets the count); the new count.
    fn record_response(
        &mut self,
        rep_id: &str,
        expired: bool,
    ) -> impl Future<Output = Result<i64, WheelError>> + Send;

    /// Sets a rep's availability (the circuit breaker); false when unknown.
    fn set_availability(
        &mut self,
        rep_id: &str,
        availability: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, WheelError>> + Send;

    /// The team's new rotation if it is still at `from_version`.
    fn move_rotation(
        &mut self,
        team_id: &str,
        from_version: i64,
        rotation: &RotationState,
    ) -> impl Future<Output = Result<bool, WheelError>> + Send;

    /// The lead's new routing state if it is still at `expected_version`.
    fn update_lead(
        &mut self,
        expected_version: i64,
        routing: &LeadRouting,
        now: i64,
    ) -> impl Future<Output = Result<bool, WheelError>> + Send;
}

impl Sink for AnyConnection {
    async fn insert_offer(&mut self, offer: &OfferRow) -> Result<(), WheelError> {
        store::insert_offer(self, offer).await
    }

    async fn close_offer(
        &mut self,
        lead_id: &str,
        offer_no: i64,
        state: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Option<OfferRow>, WheelError> {
        store::close_offer(self, lead_id, offer_no, state, reason, now).await
    }

    async fn record_response(&mut self, rep_id: &str, expired: bool) -> Result<i64, WheelError> {
        store::record_response(self, rep_id, expired).await
    }

    async fn set_availability(
        &mut self,
        rep_id: &str,
        availability: &str,
        now: i64,
    ) -> Result<bool, WheelError> {
        store::set_availability(self, rep_id, availability, now).await
    }

    async fn move_rotation(
        &mut self,
        team_id: &str,
        from_version: i64,
        rotation: &RotationState,
    ) -> Result<bool, WheelError> {
        store::move_rotation(self, team_id, from_version, rotation).await
    }

    async fn update_lead(
        &mut self,
        expected_version: i64,
        routing: &LeadRouting,
        now: i64,
    ) -> Result<bool, WheelError> {
        store::update_lead(self, expected_version, routing, now).await
    }
}

/// Writes `decision` for `lead` (read at `lead.version`) and `team` (read at
/// `team.rotation_version`), its ledger lines and events gathered in
/// `deferred`; returns the live pushes to send after commit.
pub async fn write_decision<S: Sink>(
    deferred: &mut Deferred,
    conn: &mut S,
    team: &TeamRow,
    lead: &LeadRow,
    decision: Decision,
    now: i64,
    actor: &str,
) -> Result<Vec<Push>, WheelError> {
    let lead_id = lead.details.lead_id.as_str();
    if let Some(rotation) = &decision.rotation
        && !conn
            .move_rotation(&team.team_id, team.rotation_version, rotation)
            .await?
    {
        return Err(WheelError::Conflict(lead_id.to_string()));
    }
    let mut writer = Writer {
        conn,
        team,
        lead,
        now,
        pushes: Vec::new(),
        claimed_offer_id: None,
        skipped: Vec::new(),
        ledger: Vec::new(),
        events: Vec::new(),
    };
    for effect in &decision.effects {
        writer.effect(effect, &decision, actor).await?;
    }
    let Writer {
        conn,
        pushes,
        ledger,
        events,
        ..
    } = writer;
    deferred.ledger.extend(
        ledger
            .into_iter()
            .map(|line| (lead_id.to_string(), now, line)),
    );
    // The transition's own trace (the caller runs it in the lead's span).
    let traceparent = telemetry::current_traceparent();
    deferred
        .events
        .extend(events.into_iter().map(|event| (event, traceparent.clone())));
    let mut routing = decision.lead;
    routing.team_id = team.team_id.clone();
    if !conn.update_lead(lead.version, &routing, now).await? {
        return Err(WheelError::Conflict(lead_id.to_string()));
    }
    Ok(pushes)
}

/// How the lead's team was chosen, as `wheel.lead.assigned` names it:
/// (how, rule id, rules version).
fn routed_by(choice: Option<&TeamChoice>) -> (&'static str, String, i64) {
    match choice {
        Some(TeamChoice::Rule {
            rule_id, version, ..
        }) => ("rule", rule_id.clone(), *version),
        Some(TeamChoice::Default { version, .. }) => ("default", String::new(), *version),
        Some(TeamChoice::TeamHint { .. }) => ("team_hint", String::new(), 0),
        Some(TeamChoice::Fallback { .. }) => ("fallback", String::new(), 0),
        Some(TeamChoice::NoTeam) | None => ("", String::new(), 0),
    }
}

struct Writer<'a, S> {
    conn: &'a mut S,
    team: &'a TeamRow,
    lead: &'a LeadRow,
    now: i64,
    pushes: Vec<Push>,
    claimed_offer_id: Option<String>,
    /// Reps passed over since the last offer or pooling: published on the
    /// next `wheel.offer.opened` or `wheel.lead.pooled` (skips before a
    /// wait publish nothing; the ledger keeps them).
    skipped: Vec<events::SkippedRep>,
    /// Ledger lines and events, written together once every effect ran.
    ledger: Vec<PendingLedger>,
    events: Vec<EventDraft>,
}

impl<S: Sink> Writer<'_, S> {
    fn lead_id(&self) -> &str {
        &self.lead.details.lead_id
    }

    fn ledger(&mut self, kind: &str, rep: Option<&str>, offer_no: Option<u32>, detail: String) {
        self.ledger.push(PendingLedger {
            kind: kind.to_string(),
            rep_id: rep.map(str::to_string),
            offer_no: offer_no.map(i64::from),
            detail,
        });
    }

    /// Queues `payload` on the subject its type is bound to.
    fn publish<P: Contract<Payload = P> + prost::Message>(&mut self, key: &str, payload: &P) {
        self.events.push(EventDraft::of(key, payload));
    }

    async fn effect(
        &mut self,
        effect: &Effect,
        decision: &Decision,
        actor: &str,
    ) -> Result<(), WheelError> {
        let now = self.now;
        let team_id = self.team.team_id.clone();
        let lead_id = self.lead_id().to_string();
        match effect {
            Effect::Skip { rep, reason } => {
                self.ledger("skipped", Some(rep), None, reason.as_str().into());
                self.skipped.push(events::SkippedRep {
                    rep_id: rep.clone(),
                    reason: reason.as_str().into(),
                });
            }
            Effect::Wait => {
                self.ledger("waiting", None, None, "nobody eligible".into());
                self.skipped.clear();
            }
            Effect::OpenOffer {
                rep,
                offer_no,
                deadline,
                first_look,
            } => {
                let offer = OfferRow {
                    offer_id: ids::prefixed("offer"),
                    lead_id: lead_id.clone(),
                    offer_no: *offer_no as i64,
                    team_id: team_id.clone(),
                    rep_id: rep.clone(),
                    state: "open".into(),
                    opened_at_ms: now,
                    deadline_ms: *deadline,
                    closed_at_ms: None,
                    reason: None,
                };
                self.conn.insert_offer(&offer).await?;
                let detail = format!(
                    "window_ms={} first_look={first_look} lap={}",
                    deadline - now,
                    decision.lead.lap
                );
                self.ledger("offered", Some(rep), Some(*offer_no), detail);
                let event = events::OfferOpened {
                    offer_id: offer.offer_id.clone(),
                    lead_id: lead_id.clone(),
                    team_id,
                    rep_id: rep.clone(),
                    lap: decision.lead.lap as i32,
                    step: *offer_no as i32,
                    opened_at_ms: now,
                    deadline_ms: *deadline,
                    first_look: *first_look,
                    skipped: std::mem::take(&mut self.skipped),
                };
                self.publish(&offer.offer_id, &event);
                self.pushes.push(Push {
                    rep_id: rep.clone(),
                    offer: live::offer_proto(
                        &offer,
                        Some(&self.lead.details),
                        self.lead.traceparent.as_deref(),
                    ),
                });
            }
            Effect::CloseOffer {
                rep,
                offer_no,
                outcome,
                reason,
            } => {
                let closed = self
                    .conn
                    .close_offer(
                        &lead_id,
                        *offer_no as i64,
                        outcome.as_str(),
                        reason.as_deref(),
                        now,
                    )
                    .await?
                    .ok_or_else(|| WheelError::Conflict(lead_id.clone()))?;
                if *outcome == OfferOutcome::Claimed {
                    self.claimed_offer_id = Some(closed.offer_id.clone());
                }
                self.ledger(
                    outcome.as_str(),
                    Some(rep),
                    Some(*offer_no),
                    reason.clone().unwrap_or_default(),
                );
                let event = events::OfferClosed {
                    offer_id: closed.offer_id.clone(),
                    lead_id: lead_id.clone(),
                    team_id,
                    rep_id: rep.clone(),
                    outcome: match outcome {
                        OfferOutcome::Claimed => events::OfferOutcome::Claimed,
                        OfferOutcome::Passed => events::OfferOutcome::Passed,
                        OfferOutcome::Expired => events::OfferOutcome::Expired,
                        OfferOutcome::Withdrawn => events::OfferOutcome::Withdrawn,
                    } as i32,
                    reason: reason.clone().unwrap_or_default(),
                    opened_at_ms: closed.opened_at_ms,
                    closed_at_ms: now,
                };
                self.publish(&closed.offer_id, &event);
                self.pushes.push(Push {
                    rep_id: rep.clone(),
                    offer: live::offer_proto(&closed, None, None),
                });
                match outcome {
                    OfferOutcome::Expired => self.count_expiry(rep).await?,
                    OfferOutcome::Claimed | OfferOutcome::Passed => {
                        self.conn.record_response(rep, false).await?;
                    }
                    OfferOutcome::Withdrawn => {}
                }
            }
            Effect::Assign { rep, via, .. } => {
                let (name, via) = match via {
                    AssignedVia::Offer => ("offer", events::AssignedVia::Offer),
                    AssignedVia::Pool => ("pool", events::AssignedVia::Pool),
                    AssignedVia::Direct => ("direct", events::AssignedVia::Direct),
                    AssignedVia::AccountOwner => {
                        ("account_owner", events::AssignedVia::AccountOwner)
                    }
                };
                let detail = if actor == crate::engine::SYSTEM {
                    format!("via={name}")
                } else {
                    format!("via={name} by={actor}")
                };
                self.ledger("assigned", Some(rep), None, detail);
                let (routed_by, rule_id, rules_version) = routed_by(self.lead.routed_by.as_ref());
                let event = events::LeadAssigned {
                    lead_id: lead_id.clone(),
                    team_id,
                    rep_id: rep.clone(),
                    via: via as i32,
                    offer_id: self.claimed_offer_id.clone(),
                    lead_created_at_ms: self.lead.details.lead_created_at_ms,
                    first_offer_at_ms: decision.lead.first_offer_at.unwrap_or_default(),
                    assigned_at_ms: now,
                    routed_by: routed_by.into(),
                    routing_rule_id: rule_id,
                    routing_rules_version: rules_version,
                };
                self.publish(&lead_id, &event);
            }
            Effect::Reassign { from, to } => {
                self.ledger(
                    "reassigned",
                    Some(to),
                    None,
                    format!("from={from} by={actor}"),
                );
                let event = events::LeadReassigned {
                    lead_id: lead_id.clone(),
                    team_id,
                    from_rep_id: from.clone(),
                    to_rep_id: to.clone(),
                    by: actor.to_string(),
                    at_ms: now,
                };
                self.publish(&lead_id, &event);
            }
            Effect::Pool { reason } => {
                let escalate_at = match &decision.lead.phase {
                    Phase::Pooled { escalate_at, .. } => escalate_at.unwrap_or_default(),
                    _ => 0,
                };
                let detail = format!(
                    "reason={} offers={}",
                    reason.as_str(),
                    decision.lead.offers_made
                );
                self.ledger("pooled", None, None, detail);
                let event = events::LeadPooled {
                    lead_id: lead_id.clone(),
                    team_id,
                    manager_id: self.team.manager_id.clone(),
                    pooled_at_ms: now,
                    offers_made: decision.lead.offers_made as i32,
                    reason: reason.as_str().to_string(),
                    escalate_at_ms: escalate_at,
                    skipped: std::mem::take(&mut self.skipped),
                };
                self.publish(&lead_id, &event);
            }
            Effect::Escalate => {
                let pooled_at = self.lead.pooled_at_ms.unwrap_or_default();
                self.ledger(
                    "escalated",
                    None,
                    None,
                    format!("manager={}", self.team.manager_id),
                );
                let event = events::LeadEscalated {
                    lead_id: lead_id.clone(),
                    team_id,
                    manager_id: self.team.manager_id.clone(),
                    pooled_at_ms: pooled_at,
                    escalated_at_ms: now,
                };
                self.publish(&lead_id, &event);
            }
            Effect::Withdraw => {
                self.ledger("withdrawn", None, None, format!("by={actor}"));
                let event = events::LeadWithdrawn {
                    lead_id: lead_id.clone(),
                    team_id,
                    reason: String::new(),
                    by: actor.to_string(),
                    at_ms: now,
                };
                self.publish(&lead_id, &event);
            }
            Effect::Requeue { lap } => {
                let previous = self.lead.owner_rep_id.clone().unwrap_or_default();
                self.ledger("requeued", None, None, format!("lap={lap} by={actor}"));
                let event = events::LeadRequeued {
                    lead_id: lead_id.clone(),
                    team_id,
                    previous_owner_id: previous,
                    lap: *lap as i32,
                    by: actor.to_string(),
                    at_ms: now,
                };
                self.publish(&lead_id, &event);
            }
        }
        Ok(())
    }

    /// The circuit breaker: after the team's number of expiries in a row, a
    /// rep is set away, and they and their manager are told (an event that
    /// alerting turns into notices).
    async fn count_expiry(&mut self, rep: &str) -> Result<(), WheelError> {
        let in_a_row = self.conn.record_response(rep, true).await?;
        let limit = self.team.policy.breaker_expiries();
        if limit <= 0 || in_a_row < limit {
            return Ok(());
        }
        if !self.conn.set_availability(rep, "away", self.now).await? {
            return Ok(());
        }
        let reason = format!("{in_a_row} offers in a row expired");
        self.ledger("rep_set_away", Some(rep), None, reason.clone());
        let event = events::RepAvailabilityChanged {
            rep_id: rep.to_string(),
            team_id: Some(self.team.team_id.clone()),
            availability: "away".into(),
            by: "circuit_breaker".into(),
            reason,
            manager_id: Some(self.team.manager_id.clone()).filter(|m| !m.is_empty()),
            at_ms: self.now,
        };
        self.publish(rep, &event);
        tracing::info!(rep_id = rep, in_a_row, "circuit breaker set the rep away");
        Ok(())
    }
}

//! The writer's batch, staged in memory: the batch's leads and
//! their open offers are read in a few statements at its start, each
//! team once (its row, roster, capped reps' loads and the members' counts
//! of expiries in a row), and every transition is decided on that state
//! as the batch's earlier transitions left it. Its writes are kept in
//! memory ([`Staged`] is a [`Sink`]) and written before the commit in a
//! few statements: the new offers, the closed ones, the reps' counts, the
//! leads, the teams' rotations. Per transition that replaces about seven
//! statements, each a round trip to sqlx's SQLite worker thread, with
//! work in memory.
//!
//! The conditional updates stay: each lead is written only if still at
//! the version read, each offer closed only if still open, each rotation
//! moved only if still at the version read. On SQLite the batch's
//! transaction holds the write lock from its first read (`BEGIN
//! IMMEDIATE`), so none can fail unless the staging itself is wrong. On
//! Postgres (the lease holder's batches) the reads take no locks: a
//! transition another replica commits in between fails a conditional
//! write. Either way the batch is then dropped and the writer redoes it
//! one transition at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use leadwheel_wheel_core::{Input, LeadRouting, Phase, RotationState};
use sqlx::AnyConnection;

use super::{Applied, Engine, Outcome, Refusal};
use crate::effects::{Deferred, Sink};
use crate::error::WheelError;
use crate::store::batch::{self, BatchLead, LeadUpdate};
use crate::store::{self, LeadRow, OfferRow, Roster, TeamEligibility, TeamRow, state_name};

/// A lead of the batch as its transitions so far left it.
struct StagedLead {
    row: LeadRow,
    /// Whether the owner's work on it is open (it counts toward their load).
    work_open: bool,
    /// What to write, once a transition changed it.
    update: Option<LeadUpdate>,
}

/// A team of the batch: its row with the rotation as the batch's
/// transitions left it, and what its decisions are judged on.
struct StagedTeam {
    row: TeamRow,
    roster: Arc<Roster>,
    /// The capped members' loads in the store (unchanged until the flush).
    stored_loads: HashMap<String, i64>,
    /// The rotation version read, which the flush's update checks.
    read_version: i64,
    /// Rotation moves made by the batch.
    moves: i64,
}

/// The batch's reads and staged writes.
pub(super) struct Staged<'c> {
    /// The batch's transaction, for reads the staging does not cover.
    pub(super) conn: &'c mut AnyConnection,
    leads: HashMap<String, StagedLead>,
    /// None: no such team.
    teams: HashMap<String, Option<StagedTeam>>,
    /// Open offers by lead and offer number: those read, plus those opened.
    open: HashMap<(String, i64), OfferRow>,
    opened: Vec<OfferRow>,
    closed: Vec<OfferRow>,
    /// Reps' expiries in a row as the batch leaves them (None: no such rep).
    expiries: HashMap<String, Option<i64>>,
    /// What to write of each rep's count the batch changed: relative to
    /// the stored count unless the batch reset it, so a transition of
    /// another replica (Postgres) in between is not lost.
    expiry_writes: BTreeMap<String, batch::ExpiryCount>,
    /// What the batch changed in each rep's load (open offers plus leads in work).
    load_changes: HashMap<String, i64>,
}

impl<'c> Staged<'c> {
    /// Reads the leads of `lead_ids` and their open offers.
    async fn load(conn: &'c mut AnyConnection, lead_ids: &[&str]) -> Result<Self, WheelError> {
        let mut ids: Vec<&str> = lead_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let leads = batch::load_leads(conn, &ids).await?;
        let open = batch::open_offers_of_leads(conn, &ids).await?;
        let mut staged = Self::empty(conn);
        for BatchLead { row, work_open } in leads {
            staged.leads.insert(
                row.details.lead_id.clone(),
                StagedLead {
                    row,
                    work_open,
                    update: None,
                },
            );
        }
        staged.open = open
            .into_iter()
            .map(|offer| ((offer.lead_id.clone(), offer.offer_no), offer))
            .collect();
        Ok(staged)
    }

    /// Nothing read yet: for new leads, added as they are stored.
    pub(super) fn empty(conn: &'c mut AnyConnection) -> Self {
        Self {
            conn,
            leads: HashMap::new(),
            teams: HashMap::new(),
            open: HashMap::new(),
            opened: Vec::new(),
            closed: Vec::new(),
            expiries: HashMap::new(),
            expiry_writes: BTreeMap::new(),
            load_changes: HashMap::new(),
        }
    }

    /// A lead the batch has just inserted (waiting, version 0, no offers).
    pub(super) fn add_new_lead(&mut self, row: LeadRow) {
        let lead = StagedLead {
            row,
            work_open: true,
            update: None,
        };
        self.leads.insert(lead.row.details.lead_id.clone(), lead);
    }

    /// Whether `team_id` exists (read on first use, as [`Self::team`]).
    pub(super) async fn has_team(
        &mut self,
        engine: &Engine,
        team_id: &str,
    ) -> Result<bool, WheelError> {
        if !self.teams.contains_key(team_id) {
            let team = self.read_team(engine, team_id).await?;
            self.teams.insert(team_id.to_string(), team);
        }
        Ok(matches!(self.teams.get(team_id), Some(Some(_))))
    }

    /// `team_id` as the batch left it, with what to judge `country`'s lead
    /// on; read on first use.
    pub(super) async fn team(
        &mut self,
        engine: &Engine,
        team_id: &str,
        country: &str,
    ) -> Result<Option<(TeamRow, TeamEligibility)>, WheelError> {
        if !self.has_team(engine, team_id).await? {
            return Ok(None);
        }
        let Some(Some(team)) = self.teams.get(team_id) else {
            return Ok(None);
        };
        let loads = team
            .stored_loads
            .iter()
            .map(|(rep, stored)| {
                let change = self.load_changes.get(rep).copied().unwrap_or(0);
                (rep.clone(), stored + change)
            })
            .collect();
        let eligibility = TeamEligibility::new(team.roster.clone(), loads, country);
        Ok(Some((team.row.clone(), eligibility)))
    }

    async fn read_team(
        &mut self,
        engine: &Engine,
        team_id: &str,
    ) -> Result<Option<StagedTeam>, WheelError> {
        let Some(mut row) = store::load_team_row(self.conn, team_id).await? else {
            return Ok(None);
        };
        let roster = engine
            .roster(self.conn, team_id, row.roster_version)
            .await?;
        roster.fill(&mut row);
        let stored_loads = store::count_load(self.conn, roster.capped()).await?;
        for (rep_id, count) in batch::team_expiry_counts(self.conn, team_id).await? {
            self.expiries.entry(rep_id).or_insert(Some(count));
        }
        Ok(Some(StagedTeam {
            read_version: row.rotation_version,
            row,
            roster,
            stored_loads,
            moves: 0,
        }))
    }

    fn change_load(&mut self, rep_id: &str, by: i64) {
        *self.load_changes.entry(rep_id.to_string()).or_default() += by;
    }

    /// Writes what the batch staged; a conditional write that finds the
    /// store other than read fails with `Conflict` (the caller drops the
    /// transaction).
    pub(super) async fn flush(self) -> Result<(), WheelError> {
        let conflict = |what: &str| WheelError::Conflict(format!("the batch's {what} changed"));
        batch::insert_offers(self.conn, &self.opened).await?;
        if batch::close_offers(self.conn, &self.closed).await? != self.closed.len() as u64 {
            return Err(conflict("offers"));
        }
        let counts: Vec<(String, batch::ExpiryCount)> = self.expiry_writes.into_iter().collect();
        batch::set_expiry_counts(self.conn, &counts).await?;
        let updates: Vec<LeadUpdate> = self
            .leads
            .into_values()
            .filter_map(|lead| lead.update)
            .collect();
        if batch::update_leads(self.conn, &updates).await? != updates.len() as u64 {
            return Err(conflict("leads"));
        }
        for team in self.teams.into_values().flatten() {
            if team.moves > 0
                && !batch::move_rotation_by(
                    self.conn,
                    &team.row.team_id,
                    team.read_version,
                    team.moves,
                    &team.row.rotation,
                )
                .await?
            {
                return Err(conflict("rotation"));
            }
        }
        Ok(())
    }
}

impl Sink for Staged<'_> {
    async fn insert_offer(&mut self, offer: &OfferRow) -> Result<(), WheelError> {
        self.change_load(&offer.rep_id, 1);
        self.open
            .insert((offer.lead_id.clone(), offer.offer_no), offer.clone());
        self.opened.push(offer.clone());
        Ok(())
    }

    async fn close_offer(
        &mut self,
        lead_id: &str,
        offer_no: i64,
        state: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Option<OfferRow>, WheelError> {
        let Some(mut offer) = self.open.remove(&(lead_id.to_string(), offer_no)) else {
            return Ok(None);
        };
        offer.state = state.to_string();
        offer.reason = reason.map(str::to_string);
        offer.closed_at_ms = Some(now);
        self.change_load(&offer.rep_id, -1);
        self.closed.push(offer.clone());
        Ok(Some(offer))
    }

    async fn record_response(&mut self, rep_id: &str, expired: bool) -> Result<i64, WheelError> {
        let current = match self.expiries.get(rep_id) {
            Some(current) => *current,
            // A rep outside the batch's teams (one who left).
            None => {
                let read = batch::expiry_count(self.conn, rep_id).await?;
                self.expiries.insert(rep_id.to_string(), read);
                read
            }
        };
        let Some(current) = current else {
            return Ok(0);
        };
        let count = if expired { current + 1 } else { 0 };
        self.expiries.insert(rep_id.to_string(), Some(count));
        let write = self.expiry_writes.entry(rep_id.to_string()).or_default();
        if expired {
            write.by += 1;
        } else {
            *write = batch::ExpiryCount { reset: true, by: 0 };
        }
        Ok(count)
    }

    async fn set_availability(
        &mut self,
        rep_id: &str,
        availability: &str,
        now: i64,
    ) -> Result<bool, WheelError> {
        // Rare (the circuit breaker): written at once, and the rosters of
        // the batch's teams holding the rep read again, so the batch's
        // next decisions see the rep away.
        let known = store::set_availability(self.conn, rep_id, availability, now).await?;
        if self.expiries.get(rep_id).copied().flatten().is_some() {
            self.expiries.insert(rep_id.to_string(), Some(0));
            self.expiry_writes.insert(
                rep_id.to_string(),
                batch::ExpiryCount { reset: true, by: 0 },
            );
        }
        let teams: Vec<String> = self
            .teams
            .iter()
            .filter(|(_, team)| {
                team.as_ref()
                    .is_some_and(|team| team.row.ranks.contains_key(rep_id))
            })
            .map(|(team_id, _)| team_id.clone())
            .collect();
        for team_id in teams {
            let roster = Arc::new(Roster::new(store::team_roster(self.conn, &team_id).await?));
            if let Some(Some(team)) = self.teams.get_mut(&team_id) {
                team.roster = roster;
            }
        }
        Ok(known)
    }

    async fn move_rotation(
        &mut self,
        team_id: &str,
        from_version: i64,
        rotation: &RotationState,
    ) -> Result<bool, WheelError> {
        let Some(Some(team)) = self.teams.get_mut(team_id) else {
            return Ok(false);
        };
        if team.row.rotation_version != from_version {
            return Ok(false);
        }
        team.row.rotation = rotation.clone();
        team.row.rotation_version += 1;
        team.moves += 1;
        Ok(true)
    }

    async fn update_lead(
        &mut self,
        expected_version: i64,
        routing: &LeadRouting,
        now: i64,
    ) -> Result<bool, WheelError> {
        let Some(lead) = self.leads.get_mut(&routing.lead_id) else {
            return Ok(false);
        };
        if lead.row.version != expected_version {
            return Ok(false);
        }
        let was_assigned = lead.row.state == "assigned";
        let before = lead
            .row
            .owner_rep_id
            .clone()
            .filter(|_| was_assigned && lead.work_open);
        let state = state_name(&routing.phase);
        let owner = match &routing.phase {
            Phase::Assigned { rep } => Some(rep.clone()),
            _ => None,
        };
        // As the single update does: the work's end is kept while the lead
        // stays assigned and cleared once it is not.
        if state != "assigned" || !was_assigned {
            lead.work_open = true;
        }
        let after = owner.clone().filter(|_| lead.work_open);
        let update = lead.update.get_or_insert_with(|| LeadUpdate {
            expected_version,
            transitions: 0,
            routing: routing.clone(),
            updated_at_ms: now,
            pooled_at_ms: None,
            assigned_at_ms: None,
            clear_work_closed: false,
        });
        update.transitions += 1;
        update.routing = routing.clone();
        update.updated_at_ms = now;
        match state {
            "pooled" => {
                update.pooled_at_ms = Some(now);
                lead.row.pooled_at_ms = Some(now);
            }
            "assigned" => update.assigned_at_ms = Some(now),
            _ => {}
        }
        if state != "assigned" {
            update.clear_work_closed = true;
        }
        lead.row.team_id = routing.team_id.clone();
        lead.row.state = state.to_string();
        lead.row.owner_rep_id = owner;
        lead.row.routing = routing.clone();
        lead.row.version += 1;
        if before != after {
            if let Some(rep) = before {
                self.change_load(&rep, -1);
            }
            if let Some(rep) = after {
                self.change_load(&rep, 1);
            }
        }
        Ok(true)
    }
}

impl Engine {
    /// The writer's batch staged in memory (see the module's text): one
    /// transaction, a few statements. A refused input writes nothing; if
    /// a transition or the flush fails, nothing is committed and `None`
    /// is returned (the writer then redoes the batch one at a time).
    pub(super) async fn apply_staged(
        &self,
        inputs: &[(String, Input, String)],
    ) -> Result<Option<Vec<Applied>>, WheelError> {
        let mut tx = self.begin().await?;
        self.fence(&mut tx).await?;
        let lead_ids: Vec<&str> = inputs
            .iter()
            .map(|(lead_id, _, _)| lead_id.as_str())
            .collect();
        let mut staged = Staged::load(&mut tx, &lead_ids).await?;
        let mut outcomes = Vec::with_capacity(inputs.len());
        let mut pushes = Vec::new();
        let mut deferred = Deferred::default();
        for (lead_id, input, actor) in inputs {
            let Some(lead) = staged.leads.get(lead_id).map(|lead| lead.row.clone()) else {
                outcomes.push(Ok(Outcome::Refused(Refusal::NoLead(lead_id.clone()))));
                continue;
            };
            let Some((team, eligibility)) = staged.team(self, &lead.team_id, &lead.country).await?
            else {
                outcomes.push(Ok(Outcome::Refused(Refusal::NoTeam(lead_id.clone()))));
                continue;
            };
            match self.plan(lead, team, &eligibility, input.clone()) {
                Outcome::Transition(planned) => {
                    match self
                        .write(&mut staged, &planned, actor, &mut deferred)
                        .await
                    {
                        Ok(more) => pushes.extend(more),
                        Err(_) => return Ok(None),
                    }
                    outcomes.push(Ok(Outcome::Transition(planned.decision)));
                }
                Outcome::Refused(refusal) => outcomes.push(Ok(Outcome::Refused(refusal))),
            }
        }
        if staged.flush().await.is_err() {
            return Ok(None);
        }
        let Ok(written) = deferred.flush_written(&self.outbox, &mut tx).await else {
            return Ok(None);
        };
        self.commit_written(tx, pushes, written).await?;
        Ok(Some(outcomes))
    }
}

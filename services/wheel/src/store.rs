//! The wheel's store: every query lives here, so handlers never see SQL.
//! Functions taking `&mut AnyConnection` run inside the caller's
//! transaction (`&mut *tx`) or on a pooled connection.

use std::collections::{BTreeMap, HashMap};

use leadwheel_wheel_core::{
    Eligibility, LeadRouting, Millis, NoEligible, Phase, Rotation, RotationState, SkipReason,
    TeamConfig, phase_name,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::WheelError;
use crate::schedule::{Schedule, Shift, Skills};

/// The stored name of a phase.
pub fn state_name(phase: &Phase) -> &'static str {
    phase_name(phase)
}

/// Circuit breaker default: consecutive expiries before a rep is set away.
pub const DEFAULT_BREAKER_EXPIRIES: i64 = 3;

/// A team's routing policy, stored as JSON. Missing fields are defaults,
/// so policies written by older versions still load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPolicy {
    #[serde(default)]
    pub tier_windows: BTreeMap<String, Millis>,
    #[serde(default)]
    pub rotation: Rotation,
    #[serde(default)]
    pub ability_order_tiers: Vec<String>,
    #[serde(default)]
    pub pool_timeout_ms: Option<Millis>,
    #[serde(default)]
    pub chain_budget_ms: Option<Millis>,
    #[serde(default)]
    pub window_floor_ms: Option<Millis>,
    #[serde(default)]
    pub no_eligible: NoEligible,
    /// Consecutive expiries before the circuit breaker sets a rep away;
    /// None means the default, 0 means never.
    #[serde(default)]
    pub breaker_expiries: Option<i64>,
    /// Reasons a rep may give for a pass; empty means any text.
    #[serde(default)]
    pub pass_reasons: Vec<String>,
}

impl TeamPolicy {
    pub fn breaker_expiries(&self) -> i64 {
        self.breaker_expiries.unwrap_or(DEFAULT_BREAKER_EXPIRIES)
    }
}

/// A team and its ring.
#[derive(Clone, Debug)]
pub struct TeamRow {
    pub team_id: String,
    pub name: String,
    pub manager_id: String,
    pub window_ms: i64,
    pub policy: TeamPolicy,
    /// The round-robin standing, owned by the pure core.
    pub rotation: RotationState,
    /// Bumped on every rotation change, for conditional updates.
    pub rotation_version: i64,
    /// Member rep ids in ring order.
    pub ring: Vec<String>,
    /// Ranks of the members (for ability order).
    pub ranks: BTreeMap<String, i32>,
}

impl TeamRow {
    /// What the pure core needs.
    pub fn config(&self) -> TeamConfig {
        let mut config = TeamConfig::new(self.team_id.clone(), self.ring.clone(), self.window_ms);
        config.tier_windows = self.policy.tier_windows.clone();
        config.rotation = self.policy.rotation;
        config.ability_order_tiers = self.policy.ability_order_tiers.clone();
        config.ranks = self.ranks.clone();
        config.pool_timeout_ms = self.policy.pool_timeout_ms;
        config.chain_budget_ms = self.policy.chain_budget_ms;
        if let Some(floor) = self.policy.window_floor_ms {
            config.window_floor_ms = floor;
        }
        config.no_eligible = self.policy.no_eligible;
        config
    }
}

/// A rep with their live load.
#[derive(Clone, Debug)]
pub struct RepRow {
    pub rep_id: String,
    pub name: String,
    pub team_id: Option<String>,
    pub open_offers: i64,
    pub assigned_leads: i64,
    pub availability: String,
    pub rank: i64,
    pub capacity: i64,
    pub consecutive_expiries: i64,
    pub schedule: Schedule,
    pub skills: Skills,
}

/// Whether each rep of a team may be offered a given lead now:
/// availability, working hours, tiers and regions, and capacity (assigned
/// leads plus offers in flight), as read at the start of the transaction.
#[derive(Clone, Debug, Default)]
pub struct TeamEligibility {
    reps: HashMap<String, (RepRow, Option<Shift>)>,
    /// The lead's country, for region matching.
    country: String,
}

impl TeamEligibility {
    pub fn new(reps: Vec<RepRow>, country: &str) -> Self {
        let reps = reps
            .into_iter()
            .map(|rep| {
                // A schedule that no longer compiles (e.g. a time zone
                // removed from the database) counts as off shift.
                let shift = rep.schedule.compile().ok();
                (rep.rep_id.clone(), (rep, shift))
            })
            .collect();
        Self {
            reps,
            country: country.to_string(),
        }
    }
}

impl Eligibility for TeamEligibility {
    fn check(&self, rep: &str, tier: &str, now: Millis) -> Result<(), SkipReason> {
        let Some((row, shift)) = self.reps.get(rep) else {
            return Err(SkipReason::Left);
        };
        if row.availability == "away" {
            return Err(SkipReason::Away);
        }
        if !shift.as_ref().is_some_and(|shift| shift.on_shift(now)) {
            return Err(SkipReason::OffShift);
        }
        if !row.skills.takes(tier, &self.country) {
            return Err(SkipReason::Mismatch);
        }
        if row.capacity > 0 && row.open_offers + row.assigned_leads >= row.capacity {
            return Err(SkipReason::AtCapacity);
        }
        Ok(())
    }
}

/// The lead details a rep sees.
#[derive(Clone, Debug, Default)]
pub struct LeadDetails {
    pub lead_id: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub domain: String,
    pub tier: String,
    pub score: i64,
    pub source: String,
    pub lead_created_at_ms: i64,
}

/// A lead being routed.
#[derive(Clone, Debug)]
pub struct LeadRow {
    pub team_id: String,
    pub state: String,
    pub owner_rep_id: Option<String>,
    pub routing: LeadRouting,
    pub version: i64,
    pub details: LeadDetails,
    pub traceparent: Option<String>,
    pub pooled_at_ms: Option<i64>,
    /// The lead's country (ISO code, may be empty), for region matching.
    pub country: String,
}

/// An offer.
#[derive(Clone, Debug)]
pub struct OfferRow {
    pub offer_id: String,
    pub lead_id: String,
    pub offer_no: i64,
    pub team_id: String,
    pub rep_id: String,
    pub state: String,
    pub opened_at_ms: i64,
    pub deadline_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub reason: Option<String>,
}

/// A routing-ledger entry.
#[derive(Clone, Debug)]
pub struct LedgerEntry<'a> {
    pub lead_id: &'a str,
    pub kind: &'a str,
    pub rep_id: Option<&'a str>,
    pub offer_no: Option<i64>,
    pub detail: String,
    pub at_ms: i64,
}

pub async fn load_team(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Option<TeamRow>, WheelError> {
    let Some(row) = sqlx::query(
        "SELECT team_id, name, manager_id, window_ms, policy, rotation, rotation_version \
         FROM wheel_teams WHERE team_id = $1",
    )
    .bind(team_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let members = sqlx::query(
        "SELECT rep_id, rep_rank FROM wheel_reps WHERE team_id = $1 ORDER BY ring_position, rep_id",
    )
    .bind(team_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut ring = Vec::with_capacity(members.len());
    let mut ranks = BTreeMap::new();
    for member in &members {
        let rep_id: String = member.try_get("rep_id")?;
        let rank: i64 = member.try_get("rep_rank")?;
        ranks.insert(rep_id.clone(), rank as i32);
        ring.push(rep_id);
    }
    let policy: String = row.try_get("policy")?;
    let rotation: String = row.try_get("rotation")?;
    Ok(Some(TeamRow {
        team_id: row.try_get("team_id")?,
        name: row.try_get("name")?,
        manager_id: row.try_get("manager_id")?,
        window_ms: row.try_get("window_ms")?,
        policy: serde_json::from_str(&policy)
            .map_err(|err| WheelError::Corrupt(format!("team policy: {err}")))?,
        rotation: serde_json::from_str(&rotation)
            .map_err(|err| WheelError::Corrupt(format!("team rotation: {err}")))?,
        rotation_version: row.try_get("rotation_version")?,
        ring,
        ranks,
    }))
}

/// The team leads go to when intake names none: the oldest team.
pub async fn default_team_id(conn: &mut AnyConnection) -> Result<Option<String>, WheelError> {
    Ok(sqlx::query_scalar(
        "SELECT team_id FROM wheel_teams ORDER BY created_at_ms, team_id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn list_teams(conn: &mut AnyConnection) -> Result<Vec<TeamRow>, WheelError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT team_id FROM wheel_teams ORDER BY team_id")
        .fetch_all(&mut *conn)
        .await?;
    let mut teams = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(team) = load_team(conn, &id).await? {
            teams.push(team);
        }
    }
    Ok(teams)
}

pub async fn load_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Option<RepRow>, WheelError> {
    let row = sqlx::query(
        "SELECT rep_id, name, team_id, availability, rep_rank, capacity, consecutive_expiries, schedule, skills, \
           (SELECT COUNT(*) FROM wheel_offers o WHERE o.rep_id = r.rep_id AND o.state = 'open') AS open_offers, \
           (SELECT COUNT(*) FROM wheel_leads l WHERE l.owner_rep_id = r.rep_id) AS assigned_leads \
         FROM wheel_reps r WHERE rep_id = $1",
    )
    .bind(rep_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| rep_from_row(&row)).transpose()
}

pub async fn list_reps(
    conn: &mut AnyConnection,
    team_id: Option<&str>,
) -> Result<Vec<RepRow>, WheelError> {
    let rows = sqlx::query(
        "SELECT rep_id, name, team_id, availability, rep_rank, capacity, consecutive_expiries, schedule, skills, \
           (SELECT COUNT(*) FROM wheel_offers o WHERE o.rep_id = r.rep_id AND o.state = 'open') AS open_offers, \
           (SELECT COUNT(*) FROM wheel_leads l WHERE l.owner_rep_id = r.rep_id) AS assigned_leads \
         FROM wheel_reps r WHERE ($1 = '' OR team_id = $1) \
         ORDER BY team_id, ring_position, rep_id",
    )
    .bind(team_id.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rep_from_row).collect()
}

fn rep_from_row(row: &AnyRow) -> Result<RepRow, WheelError> {
    Ok(RepRow {
        rep_id: row.try_get("rep_id")?,
        name: row.try_get("name")?,
        team_id: row.try_get("team_id")?,
        open_offers: row.try_get("open_offers")?,
        assigned_leads: row.try_get("assigned_leads")?,
        availability: row.try_get("availability")?,
        rank: row.try_get("rep_rank")?,
        capacity: row.try_get("capacity")?,
        consecutive_expiries: row.try_get("consecutive_expiries")?,
        schedule: serde_json::from_str(&row.try_get::<String, _>("schedule")?)
            .map_err(|err| WheelError::Corrupt(format!("rep schedule: {err}")))?,
        skills: serde_json::from_str(&row.try_get::<String, _>("skills")?)
            .map_err(|err| WheelError::Corrupt(format!("rep skills: {err}")))?,
    })
}

/// Creates or replaces a team; reps in `members` join it in ring order
/// (created when new), reps no longer listed leave it.
pub async fn upsert_team(
    conn: &mut AnyConnection,
    team: &TeamRow,
    names: &[String],
    now: i64,
) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_teams (team_id, name, manager_id, window_ms, rotation_cursor, policy, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, 0, $6, $5, $5) \
         ON CONFLICT (team_id) DO UPDATE SET name = $2, manager_id = $3, window_ms = $4, policy = $6, updated_at_ms = $5",
    )
    .bind(&team.team_id)
    .bind(&team.name)
    .bind(&team.manager_id)
    .bind(team.window_ms)
    .bind(now)
    .bind(serde_json::to_string(&team.policy).expect("policy serializes"))
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE wheel_reps SET team_id = NULL, updated_at_ms = $2 WHERE team_id = $1")
        .bind(&team.team_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    for (position, rep_id) in team.ring.iter().enumerate() {
        let name = names
            .get(position)
            .filter(|n| !n.is_empty())
            .unwrap_or(rep_id);
        sqlx::query(
            "INSERT INTO wheel_reps (rep_id, name, team_id, ring_position, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (rep_id) DO UPDATE SET name = $2, team_id = $3, ring_position = $4, updated_at_ms = $5",
        )
        .bind(rep_id)
        .bind(name)
        .bind(&team.team_id)
        .bind(position as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores the team's new rotation standing if nobody changed it since it
/// was read at `from_version`; false when another writer did.
pub async fn move_rotation(
    conn: &mut AnyConnection,
    team_id: &str,
    from_version: i64,
    rotation: &RotationState,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_teams SET rotation = $1, rotation_version = rotation_version + 1 \
         WHERE team_id = $2 AND rotation_version = $3",
    )
    .bind(serde_json::to_string(rotation).expect("rotation serializes"))
    .bind(team_id)
    .bind(from_version)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Sets a rep away or available; returns false when the rep is unknown.
pub async fn set_availability(
    conn: &mut AnyConnection,
    rep_id: &str,
    availability: &str,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET availability = $1, consecutive_expiries = 0, updated_at_ms = $2 WHERE rep_id = $3",
    )
    .bind(availability)
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Sets a rep's rank and capacity; returns false when the rep is unknown.
pub async fn update_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
    rank: i64,
    capacity: i64,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET rep_rank = $1, capacity = $2, updated_at_ms = $3 WHERE rep_id = $4",
    )
    .bind(rank)
    .bind(capacity)
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts an expiry against a rep (or resets the count after a claim or a
/// pass); returns the new count.
pub async fn record_response(
    conn: &mut AnyConnection,
    rep_id: &str,
    expired: bool,
) -> Result<i64, WheelError> {
    let sql = if expired {
        "UPDATE wheel_reps SET consecutive_expiries = consecutive_expiries + 1 WHERE rep_id = $1 RETURNING consecutive_expiries"
    } else {
        "UPDATE wheel_reps SET consecutive_expiries = 0 WHERE rep_id = $1 RETURNING consecutive_expiries"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(rep_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0))
}

/// Pooled leads whose escalation time has come, oldest first.
pub async fn due_escalations(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, WheelError> {
    Ok(sqlx::query_scalar(
        "SELECT lead_id FROM wheel_leads WHERE state = 'pooled' AND escalate_at_ms IS NOT NULL AND escalate_at_ms <= $1 \
         ORDER BY escalate_at_ms, lead_id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The routing ledger of a lead, oldest first.
pub async fn ledger_of_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Vec<LedgerRow>, WheelError> {
    let rows = sqlx::query(
        "SELECT at_ms, kind, rep_id, offer_no, detail FROM wheel_ledger WHERE lead_id = $1 ORDER BY entry_id",
    )
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LedgerRow {
                at_ms: row.try_get("at_ms")?,
                kind: row.try_get("kind")?,
                rep_id: row.try_get("rep_id")?,
                offer_no: row.try_get("offer_no")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

/// A stored ledger entry.
#[derive(Clone, Debug)]
pub struct LedgerRow {
    pub at_ms: i64,
    pub kind: String,
    pub rep_id: Option<String>,
    pub offer_no: Option<i64>,
    pub detail: String,
}

const LEAD_COLUMNS: &str = "lead_id, team_id, state, owner_rep_id, routing, version, name, company, email, \
     domain, tier, score, source, traceparent, lead_created_at_ms, pooled_at_ms, country";

fn lead_from_row(row: &AnyRow) -> Result<LeadRow, WheelError> {
    let routing: String = row.try_get("routing")?;
    let routing =
        serde_json::from_str(&routing).map_err(|err| WheelError::Corrupt(err.to_string()))?;
    Ok(LeadRow {
        team_id: row.try_get("team_id")?,
        state: row.try_get("state")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        routing,
        version: row.try_get("version")?,
        details: LeadDetails {
            lead_id: row.try_get("lead_id")?,
            name: row.try_get("name")?,
            company: row.try_get("company")?,
            email: row.try_get("email")?,
            domain: row.try_get("domain")?,
            tier: row.try_get("tier")?,
            score: row.try_get("score")?,
            source: row.try_get("source")?,
            lead_created_at_ms: row.try_get("lead_created_at_ms")?,
        },
        traceparent: row.try_get("traceparent")?,
        pooled_at_ms: row.try_get("pooled_at_ms")?,
        country: row.try_get("country")?,
    })
}

pub async fn load_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Option<LeadRow>, WheelError> {
    let sql = format!("SELECT {LEAD_COLUMNS} FROM wheel_leads WHERE lead_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lead_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(lead_from_row).transpose()
}

/// Leads in `state` for `team_id`, oldest first.
pub async fn leads_in_state(
    conn: &mut AnyConnection,
    team_id: &str,
    state: &str,
    limit: i64,
) -> Result<Vec<LeadRow>, WheelError> {
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM wheel_leads WHERE ($1 = '' OR team_id = $1) AND state = $2 \
         ORDER BY routed_at_ms, lead_id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(team_id)
        .bind(state)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(lead_from_row).collect()
}

/// Inserts a new lead; false when it already exists.
pub async fn insert_lead(
    conn: &mut AnyConnection,
    details: &LeadDetails,
    row: &LeadRow,
    now: i64,
) -> Result<bool, WheelError> {
    let routing = serde_json::to_string(&row.routing).expect("routing serializes");
    let result = sqlx::query(
        "INSERT INTO wheel_leads (lead_id, team_id, state, owner_rep_id, routing, version, name, company, email, \
           domain, tier, score, source, traceparent, lead_created_at_ms, routed_at_ms, updated_at_ms, country) \
         VALUES ($1, $2, $3, NULL, $4, 0, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15) \
         ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(&details.lead_id)
    .bind(&row.team_id)
    .bind(&row.state)
    .bind(routing)
    .bind(&details.name)
    .bind(&details.company)
    .bind(&details.email)
    .bind(&details.domain)
    .bind(&details.tier)
    .bind(details.score)
    .bind(&details.source)
    .bind(&row.traceparent)
    .bind(details.lead_created_at_ms)
    .bind(now)
    .bind(&row.country)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Writes a lead's new routing state if its version is still `expected`.
pub async fn update_lead(
    conn: &mut AnyConnection,
    expected_version: i64,
    routing: &LeadRouting,
    now: i64,
) -> Result<bool, WheelError> {
    let lead_id = routing.lead_id.as_str();
    let team_id = routing.team_id.as_str();
    let state = state_name(&routing.phase);
    let owner = match &routing.phase {
        Phase::Assigned { rep } => Some(rep.as_str()),
        _ => None,
    };
    let escalate_at = match &routing.phase {
        Phase::Pooled { escalate_at, .. } => *escalate_at,
        _ => None,
    };
    let routing = serde_json::to_string(routing).expect("routing serializes");
    let result = sqlx::query(
        "UPDATE wheel_leads SET team_id = $1, state = $2, owner_rep_id = $3, routing = $4, version = version + 1, \
           updated_at_ms = $5, \
           pooled_at_ms = CASE WHEN $2 = 'pooled' THEN $5 ELSE pooled_at_ms END, \
           assigned_at_ms = CASE WHEN $2 = 'assigned' THEN $5 ELSE assigned_at_ms END, \
           escalate_at_ms = $8 \
         WHERE lead_id = $6 AND version = $7",
    )
    .bind(team_id)
    .bind(state)
    .bind(owner)
    .bind(routing)
    .bind(now)
    .bind(lead_id)
    .bind(expected_version)
    .bind(escalate_at)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn insert_offer(conn: &mut AnyConnection, offer: &OfferRow) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_offers (offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
    )
    .bind(&offer.offer_id)
    .bind(&offer.lead_id)
    .bind(offer.offer_no)
    .bind(&offer.team_id)
    .bind(&offer.rep_id)
    .bind(offer.opened_at_ms)
    .bind(offer.deadline_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes the lead's open offer `offer_no`; None when it was not open
/// (another transition closed it first).
pub async fn close_offer(
    conn: &mut AnyConnection,
    lead_id: &str,
    offer_no: i64,
    state: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Option<OfferRow>, WheelError> {
    let row = sqlx::query(
        "UPDATE wheel_offers SET state = $1, reason = $2, closed_at_ms = $3 \
         WHERE lead_id = $4 AND offer_no = $5 AND state = 'open' \
         RETURNING offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms, closed_at_ms, reason",
    )
    .bind(state)
    .bind(reason)
    .bind(now)
    .bind(lead_id)
    .bind(offer_no)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(offer_from_row).transpose()
}

fn offer_from_row(row: &AnyRow) -> Result<OfferRow, WheelError> {
    Ok(OfferRow {
        offer_id: row.try_get("offer_id")?,
        lead_id: row.try_get("lead_id")?,
        offer_no: row.try_get("offer_no")?,
        team_id: row.try_get("team_id")?,
        rep_id: row.try_get("rep_id")?,
        state: row.try_get("state")?,
        opened_at_ms: row.try_get("opened_at_ms")?,
        deadline_ms: row.try_get("deadline_ms")?,
        closed_at_ms: row.try_get("closed_at_ms")?,
        reason: row.try_get("reason")?,
    })
}

const OFFER_COLUMNS: &str = "offer_id, lead_id, offer_no, team_id, rep_id, state, opened_at_ms, deadline_ms, closed_at_ms, reason";

pub async fn offers_of_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
) -> Result<Vec<OfferRow>, WheelError> {
    let sql =
        format!("SELECT {OFFER_COLUMNS} FROM wheel_offers WHERE lead_id = $1 ORDER BY offer_no");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lead_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(offer_from_row).collect()
}

pub async fn open_offers_of_rep(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Vec<OfferRow>, WheelError> {
    let sql = format!(
        "SELECT {OFFER_COLUMNS} FROM wheel_offers WHERE rep_id = $1 AND state = 'open' ORDER BY deadline_ms"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rep_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(offer_from_row).collect()
}

/// Open offers whose deadline is at or before `now`, oldest deadline first.
pub async fn due_offers(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, i64, i64)>, WheelError> {
    let rows = sqlx::query(
        "SELECT lead_id, offer_no, deadline_ms FROM wheel_offers WHERE state = 'open' AND deadline_ms <= $1 \
         ORDER BY deadline_ms, offer_id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("lead_id")?,
                row.try_get("offer_no")?,
                row.try_get("deadline_ms")?,
            ))
        })
        .collect()
}

/// The earliest deadline of any open offer.
pub async fn next_deadline(conn: &mut AnyConnection) -> Result<Option<i64>, WheelError> {
    Ok(
        sqlx::query_scalar("SELECT MIN(deadline_ms) FROM wheel_offers WHERE state = 'open'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub async fn insert_ledger(
    conn: &mut AnyConnection,
    entry: LedgerEntry<'_>,
) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_ledger (entry_id, lead_id, at_ms, kind, rep_id, offer_no, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(leadwheel_plumbing::ids::new_id())
    .bind(entry.lead_id)
    .bind(entry.at_ms)
    .bind(entry.kind)
    .bind(entry.rep_id)
    .bind(entry.offer_no)
    .bind(entry.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One offer, for statistics.
#[derive(Clone, Debug)]
pub struct OfferFact {
    pub rep_id: String,
    pub team_id: String,
    pub state: String,
    pub offer_no: i64,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

/// Offers of `team_id` (all teams when empty) opened at or after `since`.
pub async fn offer_facts(
    conn: &mut AnyConnection,
    team_id: &str,
    since: i64,
) -> Result<Vec<OfferFact>, WheelError> {
    let rows = sqlx::query(
        "SELECT rep_id, team_id, state, offer_no, opened_at_ms, closed_at_ms FROM wheel_offers \
         WHERE ($1 = '' OR team_id = $1) AND opened_at_ms >= $2",
    )
    .bind(team_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OfferFact {
                rep_id: row.try_get("rep_id")?,
                team_id: row.try_get("team_id")?,
                state: row.try_get("state")?,
                offer_no: row.try_get("offer_no")?,
                opened_at_ms: row.try_get("opened_at_ms")?,
                closed_at_ms: row.try_get("closed_at_ms")?,
            })
        })
        .collect()
}

/// Skips per rep and reason for `team_id`'s leads since `since`.
pub async fn skip_counts(
    conn: &mut AnyConnection,
    team_id: &str,
    since: i64,
) -> Result<Vec<(String, String, i64)>, WheelError> {
    let rows = sqlx::query(
        "SELECT g.rep_id, g.detail, COUNT(*) AS n FROM wheel_ledger g JOIN wheel_leads l ON l.lead_id = g.lead_id \
         WHERE g.kind = 'skipped' AND ($1 = '' OR l.team_id = $1) AND g.at_ms >= $2 \
         GROUP BY g.rep_id, g.detail",
    )
    .bind(team_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Option<String>, _>("rep_id")?
                    .unwrap_or_default(),
                row.try_get("detail")?,
                row.try_get("n")?,
            ))
        })
        .collect()
}

/// Sets a rep's working hours and skills; false when the rep is unknown.
pub async fn set_schedule(
    conn: &mut AnyConnection,
    rep_id: &str,
    schedule: &Schedule,
    skills: &Skills,
    now: i64,
) -> Result<bool, WheelError> {
    let result = sqlx::query(
        "UPDATE wheel_reps SET schedule = $1, skills = $2, updated_at_ms = $3 WHERE rep_id = $4",
    )
    .bind(serde_json::to_string(schedule).expect("schedule serializes"))
    .bind(serde_json::to_string(skills).expect("skills serialize"))
    .bind(now)
    .bind(rep_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

//! What the API does, one module per area: each operation resolves the
//! caller's scope, validates, reads what it decides on and writes with a
//! conditional update inside one transaction together with its outbox
//! events, then commits and wakes the relay.

use std::sync::Arc;

use anyhow::Result;
use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::config::env_or;
use leadwheel_plumbing::outbox::Outbox;
use leadwheel_plumbing::{EventDraft, ServiceConfig, Store, Tx};
use sqlx::AnyConnection;

use crate::access::Scope;
use crate::error::Error;
use crate::store;
use crate::store::deals::Opportunity;
use crate::store::directory::{self, Membership};
use crate::store::stages::Stage;

pub mod activities;
pub mod deals;
pub mod handover;
pub mod leads;
pub mod pipeline;
pub mod tasks;

/// Disqualification reasons when `LEADWHEEL_OPPORTUNITY_DISQUALIFY_REASONS`
/// is unset.
pub const DEFAULT_DISQUALIFY_REASONS: &str =
    "no_budget,no_need,no_authority,bad_timing,competitor,unreachable,duplicate,spam";

/// Days from conversion to the expected close date when the conversion
/// gives none and `LEADWHEEL_OPPORTUNITY_DEFAULT_CLOSE_DAYS` is unset.
pub const DEFAULT_CLOSE_DAYS: i64 = 30;

/// Settings of the service beyond the shared ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The reasons a lead may be disqualified with.
    pub disqualify_reasons: Vec<String>,
    /// A conversion without an expected close date gets the conversion day
    /// (UTC) plus this many days, so every deal lands in a forecast period.
    pub default_close_days: i64,
}

impl Settings {
    /// Reads `LEADWHEEL_OPPORTUNITY_DISQUALIFY_REASONS` (comma-separated)
    /// and `LEADWHEEL_OPPORTUNITY_DEFAULT_CLOSE_DAYS` (1..3650).
    pub fn from_env(config: &ServiceConfig) -> Result<Self> {
        let raw = env_or(
            &config.service_var("DISQUALIFY_REASONS"),
            DEFAULT_DISQUALIFY_REASONS,
        );
        let disqualify_reasons: Vec<String> = raw
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        anyhow::ensure!(
            !disqualify_reasons.is_empty(),
            "{} names no reason",
            config.service_var("DISQUALIFY_REASONS")
        );
        let close_var = config.service_var("DEFAULT_CLOSE_DAYS");
        let default_close_days = env_or(&close_var, &DEFAULT_CLOSE_DAYS.to_string())
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|days| (1..=3650).contains(days))
            .ok_or_else(|| anyhow::anyhow!("{close_var}: a number of days from 1 to 3650"))?;
        Ok(Self {
            disqualify_reasons,
            default_close_days,
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            disqualify_reasons: DEFAULT_DISQUALIFY_REASONS
                .split(',')
                .map(str::to_string)
                .collect(),
            default_close_days: DEFAULT_CLOSE_DAYS,
        }
    }
}

/// The operations, over the store and the outbox.
#[derive(Clone, Debug)]
pub struct Service {
    store: Store,
    outbox: Outbox,
    settings: Arc<Settings>,
}

impl Service {
    /// Operations on `store`, announcing changes through `outbox`.
    pub fn new(store: Store, outbox: Outbox, settings: Settings) -> Self {
        Self {
            store,
            outbox,
            settings: Arc::new(settings),
        }
    }

    async fn begin(&self) -> Result<Tx, Error> {
        Ok(self.store.begin().await?)
    }

    async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Error> {
        Ok(self.store.pool().acquire().await?)
    }

    /// Commits `tx` and wakes the outbox relay.
    async fn commit(&self, tx: Tx) -> Result<(), Error> {
        tx.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    async fn emit(&self, conn: &mut AnyConnection, draft: EventDraft) -> Result<(), Error> {
        store::enqueue(conn, &self.outbox, draft).await?;
        Ok(())
    }

    /// What `caller` may see.
    async fn scope(&self, conn: &mut AnyConnection, caller: &Caller) -> Result<Scope, Error> {
        let managed = if caller.role == Role::Manager && caller.team.is_none() {
            directory::teams_managed_by(conn, &caller.subject).await?
        } else {
            Vec::new()
        };
        Ok(Scope::of(caller, managed))
    }

    /// The team of `rep_id`, who is to take something over: unknown reps
    /// and reps who left their team are refused, naming `field`.
    async fn team_of(
        &self,
        conn: &mut AnyConnection,
        field: &'static str,
        rep_id: &str,
    ) -> Result<String, Error> {
        match self.membership(conn, field, rep_id).await? {
            Membership::Member(team) => Ok(team),
            Membership::Left(team) => Err(Error::precondition(format!(
                "{field}: rep {rep_id} has left team {team}; name a current member"
            ))),
        }
    }

    /// The team `rep_id` is in, or the one they left (a leaver's book is
    /// still theirs to hand over); unknown reps are refused naming `field`.
    async fn last_team_of(
        &self,
        conn: &mut AnyConnection,
        field: &'static str,
        rep_id: &str,
    ) -> Result<String, Error> {
        match self.membership(conn, field, rep_id).await? {
            Membership::Member(team) | Membership::Left(team) => Ok(team),
        }
    }

    async fn membership(
        &self,
        conn: &mut AnyConnection,
        field: &'static str,
        rep_id: &str,
    ) -> Result<Membership, Error> {
        crate::rules::id(field, rep_id, false)?;
        directory::membership(conn, rep_id)
            .await?
            .ok_or_else(|| Error::not_found("rep", rep_id))
    }
}

/// The pipeline's stages, in order.
#[derive(Clone, Debug)]
pub struct Pipeline(pub Vec<Stage>);

impl Pipeline {
    /// Loads the stages.
    pub async fn load(conn: &mut AnyConnection) -> Result<Self, Error> {
        Ok(Self(store::stages::stages(conn).await?))
    }

    /// The stage named `name`.
    pub fn get(&self, name: &str) -> Option<&Stage> {
        self.0.iter().find(|s| s.name == name)
    }

    /// The stage named `name`, or INVALID_ARGUMENT naming `field` and the stages.
    pub fn require(&self, field: &'static str, name: &str) -> Result<&Stage, Error> {
        self.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.0.iter().map(|s| s.name.as_str()).collect();
            Error::invalid(
                field,
                format!("unknown stage {name:?} (stages: {})", names.join(", ")),
            )
        })
    }

    /// The first open stage, where new deals start.
    pub fn first_open(&self) -> Option<&Stage> {
        self.0.iter().find(|s| s.outcome == "open")
    }

    /// The deal's effective probability: its override, else its stage's.
    pub fn probability(&self, opp: &Opportunity) -> i32 {
        if opp.probability_override >= 0 {
            opp.probability_override as i32
        } else {
            self.get(&opp.stage)
                .map(|s| s.probability as i32)
                .unwrap_or_default()
        }
    }

    /// The deal's forecast category: the one its owner set, else its
    /// stage's default — `closed` for a won deal, `omitted` for a lost one,
    /// and by the stage's probability for an open one: `commit` from 90%,
    /// `best_case` from 50%, `pipeline` below.
    pub fn forecast_category(&self, opp: &Opportunity) -> String {
        match opp.status.as_str() {
            "won" => return "closed".into(),
            "lost" => return "omitted".into(),
            _ => {}
        }
        if !opp.forecast_category.is_empty() {
            return opp.forecast_category.clone();
        }
        let stage = self
            .get(&opp.stage)
            .map(|s| s.probability)
            .unwrap_or_default();
        match stage {
            90.. => "commit",
            50..=89 => "best_case",
            _ => "pipeline",
        }
        .into()
    }

    /// True when an open deal has sat in its stage past the stage's stale days.
    pub fn is_stale(&self, opp: &Opportunity, now_ms: i64) -> bool {
        match self.get(&opp.stage) {
            Some(stage) if opp.status == "open" && stage.stale_days > 0 => {
                now_ms - opp.stage_entered_at_ms > stage.stale_days * 86_400_000
            }
            _ => false,
        }
    }
}

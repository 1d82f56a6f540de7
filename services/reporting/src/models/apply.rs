//! Applies [`Update`]s to the sales tables inside the consumer's
//! transaction (shared with the inbox row), so an event's effects and its
//! "processed" mark commit together. Every statement is order-tolerant:
//! see `crate::sales`.

use jiff::tz::TimeZone;
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::{Backend, StoreError};
use leadwheel_proto::events::v1::OpportunityState;
use sqlx::Row;

use super::{aggregates, timing};
use crate::open_days;
use crate::period;
use crate::sales::{Count, Update};

/// Applies updates with days taken in the business time zone.
#[derive(Clone, Debug)]
pub struct Applier {
    /// The business time zone: a fact's day is its date there.
    pub zone: TimeZone,
    /// Postgres reads the row it replaces `FOR UPDATE`, so two replicas
    /// cannot both take away the same old state. SQLite writes one
    /// transaction at a time already.
    pub backend: Backend,
}

impl Applier {
    fn lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Applies one update in `tx`, and keeps the pre-aggregated read
    /// models in step with the rows it changes (`aggregates.rs`).
    pub async fn apply(&self, tx: &mut Tx, update: &Update) -> Result<(), StoreError> {
        let touched = aggregates::before(tx, self.backend, &self.zone, update).await?;
        self.apply_base(tx, update).await?;
        touched.after(tx, &self.zone).await
    }

    async fn apply_base(&self, tx: &mut Tx, update: &Update) -> Result<(), StoreError> {
        match update {
            Update::Opportunity(state) => self.opportunity(tx, state).await,
            Update::History { state, at_ms } => {
                let inserted = sqlx::query(
                    "INSERT INTO reporting_opportunity_history (opportunity_id, version, at_ms, \
                     team_id, rep_id, stage, status, currency, amount_minor, weighted_minor, \
                     close_date, category) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (opportunity_id, version) DO NOTHING",
                )
                .bind(&state.opportunity_id)
                .bind(state.version)
                .bind(at_ms)
                .bind(&state.team_id)
                .bind(&state.owner_rep_id)
                .bind(&state.stage)
                .bind(&state.status)
                .bind(&state.currency)
                .bind(state.amount_minor)
                .bind(state.weighted_minor)
                .bind(&state.expected_close_date)
                .bind(&state.forecast_category)
                .execute(&mut **tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    let version = open_days::Version {
                        version: state.version,
                        at_ms: *at_ms,
                        team_id: state.team_id.clone(),
                        rep_id: state.owner_rep_id.clone(),
                        stage: state.stage.clone(),
                        status: state.status.clone(),
                        currency: state.currency.clone(),
                        amount_minor: state.amount_minor,
                        weighted_minor: state.weighted_minor,
                        close_date: state.expected_close_date.clone(),
                    };
                    super::open_days::version_added(
                        tx,
                        &self.zone,
                        &state.opportunity_id,
                        &version,
                    )
                    .await?;
                }
                Ok(())
            }
            Update::Count(count) => self.count(tx, count).await,
            Update::Team {
                team_id,
                manager_id,
                rep_ids,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO reporting_teams (team_id, manager_id, at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (team_id) DO UPDATE SET manager_id = excluded.manager_id, \
                     at_ms = excluded.at_ms WHERE reporting_teams.at_ms <= excluded.at_ms",
                )
                .bind(team_id)
                .bind(manager_id)
                .bind(at_ms)
                .execute(&mut **tx)
                .await?;
                for rep_id in rep_ids {
                    rep(tx, rep_id, team_id, *at_ms).await?;
                }
                Ok(())
            }
            Update::Rep {
                rep_id,
                team_id,
                at_ms,
            } => rep(tx, rep_id, team_id, *at_ms).await,
            Update::RepLeft {
                rep_id,
                team_id,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO reporting_reps (rep_id, team_id, at_ms, left_at_ms) \
                     VALUES ($1, $2, $3, $3) ON CONFLICT (rep_id) DO UPDATE SET \
                     team_id = excluded.team_id, at_ms = excluded.at_ms, \
                     left_at_ms = excluded.left_at_ms WHERE reporting_reps.at_ms <= excluded.at_ms",
                )
                .bind(rep_id)
                .bind(team_id)
                .bind(at_ms)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
            Update::Account(account) => {
                sqlx::query(
                    "INSERT INTO reporting_accounts (account_id, version, owner_rep_id, team_id, \
                     tier, status) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (account_id) DO UPDATE SET version = excluded.version, \
                     owner_rep_id = excluded.owner_rep_id, team_id = excluded.team_id, \
                     tier = excluded.tier, status = excluded.status \
                     WHERE reporting_accounts.version < excluded.version",
                )
                .bind(&account.account_id)
                .bind(account.version)
                .bind(&account.owner_rep_id)
                .bind(&account.team_id)
                .bind(&account.tier)
                .bind(&account.status)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
            Update::Duration {
                metric,
                key,
                dim,
                team_id,
                rep_id,
                at_ms,
                duration_ms,
            } => {
                let d = timing::Duration {
                    metric,
                    key,
                    dim,
                    team_id,
                    rep_id,
                    at_ms: *at_ms,
                    duration_ms: *duration_ms,
                };
                timing::duration(tx, &self.zone, &d, false).await
            }
            Update::Assigned {
                lead_id,
                team_id,
                rep_id,
                via,
                routed_by,
                rule_id,
                offer_id,
                at_ms,
            } => {
                let assignment = timing::Assignment {
                    lead_id,
                    team_id,
                    rep_id,
                    via,
                    routed_by,
                    rule_id,
                    offer_id: offer_id.as_deref(),
                    at_ms: *at_ms,
                };
                timing::assigned(tx, &self.zone, &assignment).await
            }
            Update::LeadConverted { lead_id, at_ms } => {
                timing::converted(tx, lead_id, *at_ms).await
            }
            Update::LeadWon {
                lead_id,
                at_ms,
                currency,
                amount_minor,
            } => timing::won(tx, lead_id, *at_ms, currency, *amount_minor).await,
            Update::Touch { lead_id, at_ms } => {
                timing::touch(tx, &self.zone, lead_id, *at_ms).await
            }
            Update::ItemTouch {
                item,
                activity_id,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO reporting_touches (item, activity_id, at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (item, activity_id) DO NOTHING",
                )
                .bind(item)
                .bind(activity_id)
                .bind(at_ms)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
            Update::FollowUp {
                item,
                set_at_ms,
                set_by_activity,
                due_date,
                team_id,
                rep_id,
            } => {
                // Two follow-ups set on one item in the same millisecond:
                // the later date is kept (then the greater setter), whichever
                // arrives first.
                sqlx::query(
                    "INSERT INTO reporting_follow_ups \
                     (item, set_at_ms, due_date, team_id, rep_id, set_by_activity) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (item, set_at_ms) DO UPDATE SET \
                     due_date = excluded.due_date, team_id = excluded.team_id, \
                     rep_id = excluded.rep_id, set_by_activity = excluded.set_by_activity \
                     WHERE reporting_follow_ups.due_date < excluded.due_date \
                     OR (reporting_follow_ups.due_date = excluded.due_date \
                     AND reporting_follow_ups.set_by_activity < excluded.set_by_activity)",
                )
                .bind(item)
                .bind(set_at_ms)
                .bind(due_date)
                .bind(team_id)
                .bind(rep_id)
                .bind(set_by_activity)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
            Update::Stage {
                stage,
                position,
                stale_days,
            } => {
                sqlx::query(
                    "INSERT INTO reporting_stages (stage, position, stale_days) VALUES ($1, $2, $3) \
                     ON CONFLICT (stage) DO UPDATE SET position = excluded.position, \
                     stale_days = excluded.stale_days",
                )
                .bind(stage)
                .bind(i64::from(*position))
                .bind(i64::from(*stale_days))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }
    }

    async fn opportunity(&self, tx: &mut Tx, state: &OpportunityState) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT version, team_id, rep_id, stage, status, currency, amount_minor, \
             weighted_minor, close_date, category FROM reporting_opportunities \
             WHERE opportunity_id = $1{}",
            self.lock()
        );
        // Only the constant lock clause is pasted in.
        let old = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&state.opportunity_id)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(old) = &old {
            let version: i64 = old.try_get("version")?;
            if version >= state.version {
                tracing::debug!(opportunity_id = %state.opportunity_id, version, incoming = state.version, "older or same state ignored");
                return Ok(());
            }
            let status: String = old.try_get("status")?;
            if status == "open" {
                let bucket = Bucket {
                    team_id: old.try_get("team_id")?,
                    rep_id: old.try_get("rep_id")?,
                    stage: old.try_get("stage")?,
                    currency: old.try_get("currency")?,
                    close_date: old.try_get("close_date")?,
                    category: old.try_get("category")?,
                };
                let amount: i64 = old.try_get("amount_minor")?;
                let weighted: i64 = old.try_get("weighted_minor")?;
                add_open(tx, &bucket, -1, -amount, -weighted).await?;
            }
        }
        if state.status == "open" {
            let bucket = Bucket {
                team_id: state.team_id.clone(),
                rep_id: state.owner_rep_id.clone(),
                stage: state.stage.clone(),
                currency: state.currency.clone(),
                close_date: state.expected_close_date.clone(),
                category: state.forecast_category.clone(),
            };
            add_open(tx, &bucket, 1, state.amount_minor, state.weighted_minor).await?;
        }
        sqlx::query(
            "INSERT INTO reporting_opportunities (opportunity_id, version, team_id, rep_id, stage, \
             status, currency, amount_minor, weighted_minor, probability_percent, close_date, \
             stage_entered_at_ms, account_id, category) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (opportunity_id) DO UPDATE SET version = excluded.version, \
             team_id = excluded.team_id, rep_id = excluded.rep_id, stage = excluded.stage, \
             status = excluded.status, currency = excluded.currency, \
             amount_minor = excluded.amount_minor, weighted_minor = excluded.weighted_minor, \
             probability_percent = excluded.probability_percent, close_date = excluded.close_date, \
             stage_entered_at_ms = excluded.stage_entered_at_ms, account_id = excluded.account_id, \
             category = excluded.category",
        )
        .bind(&state.opportunity_id)
        .bind(state.version)
        .bind(&state.team_id)
        .bind(&state.owner_rep_id)
        .bind(&state.stage)
        .bind(&state.status)
        .bind(&state.currency)
        .bind(state.amount_minor)
        .bind(state.weighted_minor)
        .bind(i64::from(state.probability_percent))
        .bind(&state.expected_close_date)
        .bind(state.stage_entered_at_ms)
        .bind(&state.account_id)
        .bind(&state.forecast_category)
        .execute(&mut **tx)
        .await?;
        // A stage seen on a deal is a stage reports may be asked about.
        sqlx::query(
            "INSERT INTO reporting_stages (stage, position, stale_days) VALUES ($1, 1000, 0) \
             ON CONFLICT (stage) DO NOTHING",
        )
        .bind(&state.stage)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn count(&self, tx: &mut Tx, count: &Count) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT at_ms, day, team_id, rep_id, dim, currency, amount_minor \
             FROM reporting_counted WHERE metric = $1 AND fact_key = $2{}",
            self.lock()
        );
        // Only the constant lock clause is pasted in.
        let old = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(count.metric.as_str())
            .bind(&count.key)
            .fetch_optional(&mut **tx)
            .await?;
        let day = period::day_of(count.at_ms, &self.zone).to_string();
        let metric = count.metric.as_str();
        if let Some(old) = &old {
            let at_ms: i64 = old.try_get("at_ms")?;
            if at_ms <= count.at_ms {
                return Ok(());
            }
            // An earlier occurrence arrived late: the count moves to it.
            let cell = Cell {
                day: old.try_get("day")?,
                team_id: old.try_get("team_id")?,
                rep_id: old.try_get("rep_id")?,
                metric,
                dim: old.try_get("dim")?,
                currency: old.try_get("currency")?,
            };
            let amount: i64 = old.try_get("amount_minor")?;
            bump(tx, &cell, -1, -amount).await?;
            sqlx::query(
                "UPDATE reporting_counted SET at_ms = $3, day = $4, team_id = $5, rep_id = $6, \
                 dim = $7, currency = $8, amount_minor = $9 WHERE metric = $1 AND fact_key = $2",
            )
            .bind(metric)
            .bind(&count.key)
            .bind(count.at_ms)
            .bind(&day)
            .bind(&count.team_id)
            .bind(&count.rep_id)
            .bind(&count.dim)
            .bind(&count.currency)
            .bind(count.amount_minor)
            .execute(&mut **tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO reporting_counted (metric, fact_key, at_ms, day, team_id, rep_id, \
                 dim, currency, amount_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(metric)
            .bind(&count.key)
            .bind(count.at_ms)
            .bind(&day)
            .bind(&count.team_id)
            .bind(&count.rep_id)
            .bind(&count.dim)
            .bind(&count.currency)
            .bind(count.amount_minor)
            .execute(&mut **tx)
            .await?;
        }
        let cell = Cell {
            day,
            team_id: count.team_id.clone(),
            rep_id: count.rep_id.clone(),
            metric,
            dim: count.dim.clone(),
            currency: count.currency.clone(),
        };
        bump(tx, &cell, 1, count.amount_minor).await
    }
}

async fn rep(tx: &mut Tx, rep_id: &str, team_id: &str, at_ms: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_reps (rep_id, team_id, at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (rep_id) DO UPDATE SET team_id = excluded.team_id, at_ms = excluded.at_ms, \
         left_at_ms = 0 WHERE reporting_reps.at_ms <= excluded.at_ms",
    )
    .bind(rep_id)
    .bind(team_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

struct Bucket {
    team_id: String,
    rep_id: String,
    stage: String,
    currency: String,
    close_date: String,
    category: String,
}

async fn add_open(
    tx: &mut Tx,
    bucket: &Bucket,
    deals: i64,
    amount: i64,
    weighted: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_open (team_id, rep_id, stage, currency, close_date, category, \
         deals, amount_minor, weighted_minor) VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8) \
         ON CONFLICT (team_id, rep_id, stage, currency, close_date, category) DO UPDATE SET \
         deals = reporting_open.deals + excluded.deals, \
         amount_minor = reporting_open.amount_minor + excluded.amount_minor, \
         weighted_minor = reporting_open.weighted_minor + excluded.weighted_minor",
    )
    .bind(&bucket.team_id)
    .bind(&bucket.rep_id)
    .bind(&bucket.stage)
    .bind(&bucket.currency)
    .bind(&bucket.close_date)
    .bind(deals)
    .bind(amount)
    .bind(weighted)
    .bind(&bucket.category)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

struct Cell {
    day: String,
    team_id: String,
    rep_id: String,
    metric: &'static str,
    dim: String,
    currency: String,
}

async fn bump(tx: &mut Tx, cell: &Cell, events: i64, amount: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_daily (day, team_id, rep_id, metric, dim, currency, events, \
         amount_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (day, team_id, rep_id, metric, dim, currency) DO UPDATE SET \
         events = reporting_daily.events + excluded.events, \
         amount_minor = reporting_daily.amount_minor + excluded.amount_minor",
    )
    .bind(&cell.day)
    .bind(&cell.team_id)
    .bind(&cell.rep_id)
    .bind(cell.metric)
    .bind(&cell.dim)
    .bind(&cell.currency)
    .bind(events)
    .bind(amount)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

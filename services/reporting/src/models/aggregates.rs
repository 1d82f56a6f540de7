//! Pre-aggregated read models kept beside their base tables, so the
//! reports that used to read one row per lead or deal read sums instead.
//!
//! Each base row (a lead, a deal, an account) contributes to one bucket
//! of an aggregate table, a function of the row's stored state alone (and
//! of rows it joins). Before an update is applied its rows' contributions
//! are read ([`before`]); after it they are read again and the difference
//! is added to the buckets ([`Touched::after`]). The base tables are
//! order-tolerant and idempotent (the earliest fact wins, a higher version
//! wins, a repeat changes nothing), so a repeat gives a zero difference and
//! the sums always equal those of the base rows' final state, whatever the
//! order: `derived.rs` recomputes them from the base tables and a test
//! compares the two.
//!
//! On Postgres the rows read before are locked (`FOR UPDATE`), so two
//! consumers or replicas changing the same row take turns and never both
//! take away the same old contribution.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use jiff::tz::TimeZone;

use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::{Backend, StoreError};
use sqlx::Row;

use super::follow_ups::{self, FOLLOW_UP_FACTS};
use super::timing;
use crate::reports::activity_extras::{self, KeptOutcome};
use crate::sales::{Metric, Update};

/// The rows an update may change, with their contributions before it.
#[derive(Debug, Default)]
pub struct Touched {
    routes: Option<(Leads, Sums<RouteKey>)>,
    tiers: Option<(Deals, Sums<TierKey>)>,
    owners: Option<(Vec<String>, Sums<OwnerKey>)>,
    conversions: Option<(String, Sums<ConversionKey>)>,
    follow_ups: Option<(String, Sums<FollowUpKey>)>,
}

/// A bucket of `reporting_follow_up_daily`: a follow-up's due day, owner
/// when set, and kept outcome.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct FollowUpKey {
    due_date: String,
    team_id: String,
    rep_id: String,
    outcome: KeptOutcome,
}

/// The item whose follow-ups' outcomes `update` may change: a touch on it
/// (may do one) or a new follow-up on it (may replace one).
fn follow_up_item(update: &Update) -> Option<&str> {
    match update {
        Update::ItemTouch { item, .. } | Update::FollowUp { item, .. } => Some(item),
        _ => None,
    }
}

/// The buckets of the follow-ups matched by `condition` (on `f`, with
/// `binds`), cleared ones (no due day) left out. Shared with `derived.rs`.
pub(super) async fn follow_up_sums(
    tx: &mut Tx,
    zone: &TimeZone,
    condition: &str,
    binds: &[&str],
) -> Result<Sums<FollowUpKey>, StoreError> {
    // Only constant text is pasted in: FOLLOW_UP_FACTS and the condition.
    let sql = format!("{FOLLOW_UP_FACTS} {condition}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        query = query.bind(*bind);
    }
    let mut sums = Sums::new();
    let mut rows = query.fetch(&mut **tx);
    while let Some(row) = rows.try_next().await? {
        let fact = follow_ups::fact_of(&row)?;
        if fact.due_date.is_empty() {
            continue;
        }
        let outcome = activity_extras::kept_outcome(&fact, zone);
        let key = FollowUpKey {
            due_date: fact.due_date,
            team_id: fact.team_id,
            rep_id: fact.rep_id,
            outcome,
        };
        add(&mut sums, key, vec![1]);
    }
    Ok(sums)
}

/// Adds `delta` to the follow-up buckets.
pub(super) async fn add_follow_ups(
    tx: &mut Tx,
    changes: Vec<(FollowUpKey, Vec<i64>)>,
) -> Result<(), StoreError> {
    for (key, delta) in changes {
        sqlx::query(
            "INSERT INTO reporting_follow_up_daily (due_date, team_id, rep_id, outcome, \
             follow_ups) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (due_date, team_id, rep_id, outcome) DO UPDATE SET \
             follow_ups = reporting_follow_up_daily.follow_ups + excluded.follow_ups",
        )
        .bind(&key.due_date)
        .bind(&key.team_id)
        .bind(&key.rep_id)
        .bind(key.outcome.as_str())
        .bind(delta[0])
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A bucket of `reporting_conversion_touches`: the day, team and rep of a
/// lead's conversion, and the touches logged on the lead up to it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConversionKey {
    day: String,
    team_id: String,
    rep_id: String,
    touches: i64,
}

/// The lead whose touches before conversion `update` may change: its
/// conversion's count, or a touch logged on it.
fn converted_lead(update: &Update) -> Option<&str> {
    match update {
        Update::Count(count) if count.metric == Metric::Converted => Some(&count.key),
        Update::ItemTouch { item, .. } => item.strip_prefix("lead:"),
        _ => None,
    }
}

/// A lead's touches before conversion: one lead in its bucket, none
/// before it is converted. Shared with `derived.rs`.
pub(super) const CONVERSION_TOUCHES: &str = "CAST((SELECT COUNT(*) FROM reporting_touches t \
     WHERE t.item = 'lead:' || c.fact_key AND t.at_ms <= c.at_ms) AS BIGINT)";

async fn conversions(tx: &mut Tx, lead_id: &str) -> Result<Sums<ConversionKey>, StoreError> {
    // Only the constant CONVERSION_TOUCHES is pasted in.
    let sql = format!(
        "SELECT c.day, c.team_id, c.rep_id, {CONVERSION_TOUCHES} AS touches \
         FROM reporting_counted c WHERE c.metric = 'converted' AND c.fact_key = $1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lead_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut sums = Sums::new();
    for row in rows {
        let key = ConversionKey {
            day: row.try_get("day")?,
            team_id: row.try_get("team_id")?,
            rep_id: row.try_get("rep_id")?,
            touches: row.try_get("touches")?,
        };
        add(&mut sums, key, vec![1]);
    }
    Ok(sums)
}

async fn add_conversion(tx: &mut Tx, key: &ConversionKey, delta: &[i64]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_conversion_touches (day, team_id, rep_id, touches, leads) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, team_id, rep_id, touches) DO UPDATE SET \
         leads = reporting_conversion_touches.leads + excluded.leads",
    )
    .bind(&key.day)
    .bind(&key.team_id)
    .bind(&key.rep_id)
    .bind(key.touches)
    .bind(delta[0])
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which leads' routes an update may change.
#[derive(Clone, Debug)]
enum Leads {
    /// One lead (its assignment, conversion or win).
    One(String),
    /// The leads claimed through an offer (its first look counted).
    OfOffer(String),
}

/// A bucket of `reporting_route_daily`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RouteKey {
    day: String,
    team_id: String,
    rep_id: String,
    routed_by: String,
    rule_id: String,
    route: String,
    won_currency: String,
}

/// Per bucket, the counters it holds (in the table's column order).
type Sums<K> = BTreeMap<K, Vec<i64>>;

fn lock(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// On Postgres, serializes the transactions that decide whether a lead
/// claimed through `offer_id` was a first look: the assignment and the
/// first look's count touch different rows.
async fn lock_offer(tx: &mut Tx, backend: Backend, offer_id: &str) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(offer_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Reads the contributions `update` may change, before it is applied.
pub async fn before(
    tx: &mut Tx,
    backend: Backend,
    zone: &TimeZone,
    update: &Update,
) -> Result<Touched, StoreError> {
    let mut touched = Touched::default();
    let leads = match update {
        Update::Assigned {
            lead_id, offer_id, ..
        } => {
            if let Some(offer_id) = offer_id {
                lock_offer(tx, backend, offer_id).await?;
            }
            Some(Leads::One(lead_id.clone()))
        }
        Update::LeadConverted { lead_id, .. } | Update::LeadWon { lead_id, .. } => {
            Some(Leads::One(lead_id.clone()))
        }
        Update::Count(count) if count.metric == Metric::FirstLook => {
            lock_offer(tx, backend, &count.key).await?;
            Some(Leads::OfOffer(count.key.clone()))
        }
        _ => None,
    };
    if let Some(leads) = leads {
        if let Leads::One(lead_id) = &leads {
            // The row exists before it is locked, so a concurrent first
            // fact of the same lead waits for this one.
            timing::lead_row(tx, lead_id).await?;
        }
        let sums = routes(tx, &leads, lock(backend)).await?;
        touched.routes = Some((leads, sums));
    }
    let balance = match update {
        Update::Opportunity(state) => {
            let stored = sqlx::query(
                "SELECT account_id FROM reporting_opportunities WHERE opportunity_id = $1",
            )
            .bind(&state.opportunity_id)
            .fetch_optional(&mut **tx)
            .await?;
            let mut accounts = vec![state.account_id.clone()];
            if let Some(row) = stored {
                let account_id: String = row.try_get("account_id")?;
                if account_id != state.account_id {
                    accounts.push(account_id);
                }
            }
            Some((accounts, Deals::One(state.opportunity_id.clone())))
        }
        Update::Account(account) => Some((
            vec![account.account_id.clone()],
            Deals::OfAccount(account.account_id.clone()),
        )),
        _ => None,
    };
    if let Some(lead_id) = converted_lead(update) {
        // No row lock: on Postgres every consumer batch holds the batch
        // lock (`consumer::lock_batches`), so no two apply at once.
        let sums = conversions(tx, lead_id).await?;
        touched.conversions = Some((lead_id.to_string(), sums));
    }
    if let Some(item) = follow_up_item(update) {
        // No row lock, as for the conversions above.
        let sums = follow_up_sums(tx, zone, "WHERE f.item = $1", &[item]).await?;
        touched.follow_ups = Some((item.to_string(), sums));
    }
    if let Some((accounts, deals)) = balance {
        // Accounts before deals, in every update, so two transactions
        // lock them in the same order.
        let sums = owners(tx, &accounts, lock(backend)).await?;
        touched.owners = Some((accounts, sums));
        let sums = tiers(tx, &deals, lock(backend)).await?;
        touched.tiers = Some((deals, sums));
    }
    Ok(touched)
}

impl Touched {
    /// Reads the contributions again after the update and adds the
    /// difference to the aggregate tables.
    pub async fn after(self, tx: &mut Tx, zone: &TimeZone) -> Result<(), StoreError> {
        if let Some((item, old)) = self.follow_ups {
            let new = follow_up_sums(tx, zone, "WHERE f.item = $1", &[&item]).await?;
            add_follow_ups(tx, difference(old, new)).await?;
        }
        if let Some((leads, old)) = self.routes {
            let new = routes(tx, &leads, "").await?;
            for (key, delta) in difference(old, new) {
                add_route(tx, &key, &delta).await?;
            }
        }
        if let Some((deals, old)) = self.tiers {
            let new = tiers(tx, &deals, "").await?;
            for (key, delta) in difference(old, new) {
                add_tier(tx, &key, &delta).await?;
            }
        }
        if let Some((lead_id, old)) = self.conversions {
            let new = conversions(tx, &lead_id).await?;
            for (key, delta) in difference(old, new) {
                add_conversion(tx, &key, &delta).await?;
            }
        }
        if let Some((accounts, old)) = self.owners {
            let new = owners(tx, &accounts, "").await?;
            for (key, delta) in difference(old, new) {
                add_owner(tx, &key, &delta).await?;
            }
        }
        Ok(())
    }
}

/// `new` minus `old`, per bucket, leaving out the buckets that did not
/// change.
fn difference<K: Ord>(old: Sums<K>, new: Sums<K>) -> Vec<(K, Vec<i64>)> {
    let mut all: Sums<K> = BTreeMap::new();
    for (key, values) in old {
        let entry = all.entry(key).or_insert_with(|| vec![0; values.len()]);
        for (sum, value) in entry.iter_mut().zip(values) {
            *sum -= value;
        }
    }
    for (key, values) in new {
        let entry = all.entry(key).or_insert_with(|| vec![0; values.len()]);
        for (sum, value) in entry.iter_mut().zip(values) {
            *sum += value;
        }
    }
    all.into_iter()
        .filter(|(_, values)| values.iter().any(|v| *v != 0))
        .collect()
}

/// A lead's way of assignment: how it was assigned, and for an offer's
/// claim whether that offer was counted as a first look. Shared with
/// `derived.rs`, so both compute it alike.
pub(super) const ROUTE: &str = "CASE WHEN l.via <> 'offer' THEN l.via \
     WHEN EXISTS (SELECT 1 FROM reporting_counted c WHERE c.metric = 'first_look' \
     AND c.fact_key = l.offer_id) THEN 'first_look' ELSE 'later_in_lap' END";

/// The route buckets of `leads` (assigned ones only) with their counters.
async fn routes(tx: &mut Tx, leads: &Leads, lock: &str) -> Result<Sums<RouteKey>, StoreError> {
    let (column, id) = match leads {
        Leads::One(lead_id) => ("lead_id", lead_id),
        Leads::OfOffer(offer_id) => ("offer_id", offer_id),
    };
    // Only constant text is pasted in: a column name, ROUTE, the lock.
    let sql = format!(
        "SELECT l.assigned_day, l.team_id, l.rep_id, l.routed_by, l.rule_id, l.won_currency, \
         {ROUTE} AS route, \
         CAST(CASE WHEN l.converted_at_ms > 0 THEN 1 ELSE 0 END AS BIGINT) AS converted, \
         CAST(CASE WHEN l.won_at_ms > 0 THEN 1 ELSE 0 END AS BIGINT) AS won, l.won_minor, \
         l.assigned_at_ms FROM reporting_leads l WHERE l.{column} = $1{lock}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    let mut sums = Sums::new();
    for row in rows {
        // Filtered here, not in SQL: the lock must hold the rows that do
        // not count yet too, or a concurrent change of one could make it
        // count twice.
        if row.try_get::<i64, _>("assigned_at_ms")? == 0 {
            continue;
        }
        let key = RouteKey {
            day: row.try_get("assigned_day")?,
            team_id: row.try_get("team_id")?,
            rep_id: row.try_get("rep_id")?,
            routed_by: row.try_get("routed_by")?,
            rule_id: row.try_get("rule_id")?,
            route: row.try_get("route")?,
            won_currency: row.try_get("won_currency")?,
        };
        let values = vec![
            1,
            row.try_get("converted")?,
            row.try_get("won")?,
            row.try_get("won_minor")?,
        ];
        add(&mut sums, key, values);
    }
    Ok(sums)
}

/// Adds `values` to `key`'s counters in `sums`.
fn add<K: Ord>(sums: &mut Sums<K>, key: K, values: Vec<i64>) {
    let entry = sums.entry(key).or_insert_with(|| vec![0; values.len()]);
    for (sum, value) in entry.iter_mut().zip(values) {
        *sum += value;
    }
}

async fn add_route(tx: &mut Tx, key: &RouteKey, delta: &[i64]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_route_daily (day, team_id, rep_id, routed_by, rule_id, route, \
         won_currency, leads, converted, won, won_minor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (day, team_id, rep_id, routed_by, rule_id, route, won_currency) DO UPDATE SET \
         leads = reporting_route_daily.leads + excluded.leads, \
         converted = reporting_route_daily.converted + excluded.converted, \
         won = reporting_route_daily.won + excluded.won, \
         won_minor = reporting_route_daily.won_minor + excluded.won_minor",
    )
    .bind(&key.day)
    .bind(&key.team_id)
    .bind(&key.rep_id)
    .bind(&key.routed_by)
    .bind(&key.rule_id)
    .bind(&key.route)
    .bind(&key.won_currency)
    .bind(delta[0])
    .bind(delta[1])
    .bind(delta[2])
    .bind(delta[3])
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A bucket of `reporting_balance`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TierKey {
    team_id: String,
    rep_id: String,
    tier: String,
    stage: String,
    status: String,
    currency: String,
}

/// A bucket of `reporting_balance_accounts`: an account's team and owner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OwnerKey {
    team_id: String,
    rep_id: String,
}

/// Which deals' tier buckets an update may change.
#[derive(Clone, Debug)]
enum Deals {
    /// One deal (its new state).
    One(String),
    /// Every deal of an account (its tier).
    OfAccount(String),
}

/// The tier buckets of `deals` (open and won ones only).
async fn tiers(tx: &mut Tx, deals: &Deals, lock: &str) -> Result<Sums<TierKey>, StoreError> {
    let (column, id) = match deals {
        Deals::One(id) => ("opportunity_id", id),
        Deals::OfAccount(id) => ("account_id", id),
    };
    // Postgres locks no row of the outer join's nullable side.
    let lock = if lock.is_empty() {
        ""
    } else {
        " FOR UPDATE OF o"
    };
    // Only constant text is pasted in: a column name, the lock.
    let sql = format!(
        "SELECT o.team_id, o.rep_id, COALESCE(a.tier, '') AS tier, o.stage, o.status, \
         o.currency, o.amount_minor FROM reporting_opportunities o \
         LEFT JOIN reporting_accounts a ON a.account_id = o.account_id \
         WHERE o.{column} = $1{lock}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    let mut sums = Sums::new();
    for row in rows {
        // Filtered here, not in SQL: the lock holds lost deals too.
        let status: String = row.try_get("status")?;
        if status != "open" && status != "won" {
            continue;
        }
        let key = TierKey {
            team_id: row.try_get("team_id")?,
            rep_id: row.try_get("rep_id")?,
            tier: row.try_get("tier")?,
            stage: row.try_get("stage")?,
            status,
            currency: row.try_get("currency")?,
        };
        add(&mut sums, key, vec![1, row.try_get("amount_minor")?]);
    }
    Ok(sums)
}

/// An account's contribution to its owner's row: it is counted, whether
/// it is active (a customer), whether it has a won deal. Shared with
/// `derived.rs`.
pub(super) const OWNED: &str = "CAST(1 AS BIGINT) AS accounts, \
     CAST(CASE WHEN a.status = 'active' THEN 1 ELSE 0 END AS BIGINT) AS customers, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM reporting_opportunities w \
     WHERE w.account_id = a.account_id AND w.status = 'won') THEN 1 ELSE 0 END AS BIGINT) \
     AS won_customers";

/// The owner buckets of `accounts`.
async fn owners(
    tx: &mut Tx,
    accounts: &[String],
    lock: &str,
) -> Result<Sums<OwnerKey>, StoreError> {
    let mut sums = Sums::new();
    for account_id in accounts {
        // Only constant text is pasted in: OWNED, the lock.
        let sql = format!(
            "SELECT a.team_id, a.owner_rep_id, {OWNED} FROM reporting_accounts a \
             WHERE a.account_id = $1{lock}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = row {
            let key = OwnerKey {
                team_id: row.try_get("team_id")?,
                rep_id: row.try_get("owner_rep_id")?,
            };
            let values = vec![
                row.try_get("accounts")?,
                row.try_get("customers")?,
                row.try_get("won_customers")?,
            ];
            add(&mut sums, key, values);
        }
    }
    Ok(sums)
}

async fn add_tier(tx: &mut Tx, key: &TierKey, delta: &[i64]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_balance (team_id, rep_id, tier, stage, status, currency, deals, \
         amount_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (team_id, rep_id, tier, stage, status, currency) DO UPDATE SET \
         deals = reporting_balance.deals + excluded.deals, \
         amount_minor = reporting_balance.amount_minor + excluded.amount_minor",
    )
    .bind(&key.team_id)
    .bind(&key.rep_id)
    .bind(&key.tier)
    .bind(&key.stage)
    .bind(&key.status)
    .bind(&key.currency)
    .bind(delta[0])
    .bind(delta[1])
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_owner(tx: &mut Tx, key: &OwnerKey, delta: &[i64]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_balance_accounts (team_id, rep_id, accounts, customers, \
         won_customers) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (team_id, rep_id) DO UPDATE SET \
         accounts = reporting_balance_accounts.accounts + excluded.accounts, \
         customers = reporting_balance_accounts.customers + excluded.customers, \
         won_customers = reporting_balance_accounts.won_customers + excluded.won_customers",
    )
    .bind(&key.team_id)
    .bind(&key.rep_id)
    .bind(delta[0])
    .bind(delta[1])
    .bind(delta[2])
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_keeps_only_the_buckets_that_changed() {
        let old: Sums<&str> = [("a", vec![1, 0]), ("b", vec![1, 1])].into();
        let new: Sums<&str> = [("b", vec![1, 1]), ("c", vec![1, 5])].into();
        assert_eq!(
            difference(old, new),
            vec![("a", vec![-1, 0]), ("c", vec![1, 5])]
        );
    }
}

//! Stages, accounts, opportunities and their histories.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, in_clause};

/// An account: one per company.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub account_id: String,
    /// The company's name.
    pub name: String,
    /// Lower-case domains.
    pub domains: Vec<String>,
    /// Free-form tier, e.g. "enterprise".
    pub tier: String,
    /// The one owner.
    pub owner_rep_id: String,
    /// The owner's team.
    pub team_id: String,
    /// "active".
    pub status: String,
    /// Increases with every change.
    pub version: i64,
    /// When it was created.
    pub created_at_ms: i64,
}

/// An opportunity as stored (the probability override is -1 when unset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opportunity {
    /// Its id.
    pub opportunity_id: String,
    /// Its account.
    pub account_id: String,
    /// The lead it came from.
    pub lead_id: String,
    /// Its name.
    pub name: String,
    /// The owner.
    pub owner_rep_id: String,
    /// The owner's team.
    pub team_id: String,
    /// The current stage.
    pub stage: String,
    /// "open", "won" or "lost".
    pub status: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// "YYYY-MM-DD" or "".
    pub expected_close: String,
    /// Percent, or -1 when the stage's applies.
    pub probability_override: i64,
    /// Why it was overridden.
    pub override_reason: String,
    /// "YYYY-MM-DD" or "".
    pub next_follow_up: String,
    /// Activities logged on it.
    pub touch_count: i64,
    /// Why it was won or lost.
    pub close_reason: String,
    /// When it entered its stage.
    pub stage_entered_at_ms: i64,
    /// When it was created.
    pub created_at_ms: i64,
    /// Increases with every change.
    pub version: i64,
    /// The forecast category its owner set; "" for the stage's default.
    pub forecast_category: String,
}

/// A stage move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageChange {
    /// Where from ("" for the first stage).
    pub from_stage: String,
    /// Where to.
    pub to_stage: String,
    /// Who moved it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at_ms: i64,
}

/// Which existing accounts own any of `domains`.
pub async fn accounts_owning(
    conn: &mut AnyConnection,
    domains: &[String],
) -> Result<Vec<String>, StoreError> {
    let (clause, binds) = in_clause("domain", Some(domains), 1);
    let sql = format!(
        "SELECT DISTINCT account_id FROM opps_account_domains WHERE {clause} ORDER BY account_id"
    );
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    for domain in binds {
        query = query.bind(domain);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// Creates `account` (not its domains).
pub async fn insert_account(conn: &mut AnyConnection, account: &Account) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_accounts (account_id, name, tier, owner_rep_id, team_id, status, version, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&account.account_id)
    .bind(&account.name)
    .bind(&account.tier)
    .bind(&account.owner_rep_id)
    .bind(&account.team_id)
    .bind(&account.status)
    .bind(account.version)
    .bind(account.created_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives `domain` to `account_id`; false when another account has it.
pub async fn claim_domain(
    conn: &mut AnyConnection,
    domain: &str,
    account_id: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO opps_account_domains (domain, account_id) VALUES ($1, $2) \
         ON CONFLICT (domain) DO NOTHING",
    )
    .bind(domain)
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 1 {
        return Ok(true);
    }
    let owner: String =
        sqlx::query_scalar("SELECT account_id FROM opps_account_domains WHERE domain = $1")
            .bind(domain)
            .fetch_one(&mut *conn)
            .await?;
    Ok(owner == account_id)
}

/// Writes the account's owner, team and version if the version is still
/// `expected_version`; false when someone changed it first.
pub async fn update_account(
    conn: &mut AnyConnection,
    account: &Account,
    expected_version: i64,
    at_ms: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE opps_accounts SET name = $1, tier = $2, owner_rep_id = $3, team_id = $4, \
         status = $5, version = $6, updated_at_ms = $7 WHERE account_id = $8 AND version = $9",
    )
    .bind(&account.name)
    .bind(&account.tier)
    .bind(&account.owner_rep_id)
    .bind(&account.team_id)
    .bind(&account.status)
    .bind(account.version)
    .bind(at_ms)
    .bind(&account.account_id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The account with `account_id` and its domains.
pub async fn account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Option<Account>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT account_id, name, tier, owner_rep_id, team_id, status, version, created_at_ms \
         FROM opps_accounts WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let domains = sqlx::query_scalar(
        "SELECT domain FROM opps_account_domains WHERE account_id = $1 ORDER BY domain",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Account {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        domains,
        tier: row.try_get("tier")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        team_id: row.try_get("team_id")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        created_at_ms: row.try_get("created_at_ms")?,
    }))
}

const OPPORTUNITY_COLUMNS: &str = "opportunity_id, account_id, lead_id, name, owner_rep_id, \
     team_id, stage, status, amount_minor, currency, expected_close, probability_override, \
     override_reason, next_follow_up, touch_count, close_reason, stage_entered_at_ms, \
     created_at_ms, version, forecast_category";

/// Creates `opp`, made by ConvertLead request `request_id`.
pub async fn insert_opportunity(
    conn: &mut AnyConnection,
    opp: &Opportunity,
    request_id: &str,
) -> Result<(), StoreError> {
    let query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO opps_opportunities ({OPPORTUNITY_COLUMNS}, request_id) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21)"
    )))
    .bind(&opp.opportunity_id)
    .bind(&opp.account_id)
    .bind(&opp.lead_id)
    .bind(&opp.name);
    bind_deal_state(query, opp)
        .bind(opp.created_at_ms)
        .bind(opp.version)
        .bind(&opp.forecast_category)
        .bind(request_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes `opp`'s mutable fields with version `opp.version + 1` if the
/// stored version is still `opp.version`; false when someone changed it first.
pub async fn update_opportunity(
    conn: &mut AnyConnection,
    opp: &Opportunity,
) -> Result<bool, StoreError> {
    let query = sqlx::query(
        "UPDATE opps_opportunities SET account_id = $1, owner_rep_id = $2, team_id = $3, \
         stage = $4, status = $5, amount_minor = $6, currency = $7, expected_close = $8, \
         probability_override = $9, override_reason = $10, next_follow_up = $11, \
         touch_count = $12, close_reason = $13, stage_entered_at_ms = $14, version = version + 1, \
         forecast_category = $17 WHERE opportunity_id = $15 AND version = $16",
    )
    .bind(&opp.account_id);
    let result = bind_deal_state(query, opp)
        .bind(&opp.opportunity_id)
        .bind(opp.version)
        .bind(&opp.forecast_category)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The opportunity with `opportunity_id`.
pub async fn opportunity(
    conn: &mut AnyConnection,
    opportunity_id: &str,
) -> Result<Option<Opportunity>, StoreError> {
    opportunity_where(conn, "opportunity_id", opportunity_id).await
}

/// The opportunity a ConvertLead request made, if it ran before.
pub async fn opportunity_by_request(
    conn: &mut AnyConnection,
    request_id: &str,
) -> Result<Option<Opportunity>, StoreError> {
    opportunity_where(conn, "request_id", request_id).await
}

/// The opportunity whose `unique_column` (a name from this module, never
/// input) holds `value`.
async fn opportunity_where(
    conn: &mut AnyConnection,
    unique_column: &'static str,
    value: &str,
) -> Result<Option<Opportunity>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opps_opportunities WHERE {unique_column} = $1"
    )))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(opportunity_from_row).transpose()
}

/// Filters of an opportunity list.
#[derive(Clone, Debug, Default)]
pub struct OpportunityFilter {
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only these teams'.
    pub teams: Option<Vec<String>>,
    /// Only this account's.
    pub account_id: String,
    /// Only this stage's.
    pub stage: String,
    /// Only open ones.
    pub open_only: bool,
}

/// Up to `limit` opportunities matching `filter` after `(after_ms,
/// after_id)`, newest first.
pub async fn list_opportunities(
    conn: &mut AnyConnection,
    filter: &OpportunityFilter,
    after: (i64, &str),
    limit: i64,
) -> Result<Vec<Opportunity>, StoreError> {
    let (team_clause, team_binds) = in_clause("team_id", filter.teams.as_deref(), 8);
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opps_opportunities \
         WHERE ($1 = '' OR owner_rep_id = $1) AND ($2 = '' OR account_id = $2) \
         AND ($3 = '' OR stage = $3) AND ($4 = 0 OR status = 'open') AND {team_clause} \
         AND (created_at_ms < $5 OR (created_at_ms = $5 AND opportunity_id < $6)) \
         ORDER BY created_at_ms DESC, opportunity_id DESC LIMIT $7"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(filter.owner.clone().unwrap_or_default())
        .bind(filter.account_id.clone())
        .bind(filter.stage.clone())
        .bind(i64::from(filter.open_only))
        .bind(after.0)
        .bind(after.1.to_string())
        .bind(limit);
    for team in team_binds {
        query = query.bind(team);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(opportunity_from_row).collect()
}

/// Records a stage move.
pub async fn insert_stage_change(
    conn: &mut AnyConnection,
    opportunity_id: &str,
    change: &StageChange,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_stage_history (change_id, opportunity_id, from_stage, to_stage, changed_by, reason, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(leadwheel_plumbing::ids::new_id())
    .bind(opportunity_id)
    .bind(&change.from_stage)
    .bind(&change.to_stage)
    .bind(&change.by)
    .bind(&change.reason)
    .bind(change.at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An opportunity's stage moves, oldest first.
pub async fn stage_history(
    conn: &mut AnyConnection,
    opportunity_id: &str,
) -> Result<Vec<StageChange>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_stage, to_stage, changed_by, reason, at_ms FROM opps_stage_history \
         WHERE opportunity_id = $1 ORDER BY change_id",
    )
    .bind(opportunity_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| -> Result<StageChange, StoreError> {
            Ok(StageChange {
                from_stage: row.try_get("from_stage")?,
                to_stage: row.try_get("to_stage")?,
                by: row.try_get("changed_by")?,
                reason: row.try_get("reason")?,
                at_ms: row.try_get("at_ms")?,
            })
        })
        .collect()
}

/// Who owned what before: one row per owner change.
#[derive(Clone, Debug)]
pub struct OwnerChange<'a> {
    /// "opportunity", "account" or "lead".
    pub entity: &'static str,
    /// Its id.
    pub entity_id: &'a str,
    /// The previous owner.
    pub from_rep_id: &'a str,
    /// The new owner.
    pub to_rep_id: &'a str,
    /// Who did it.
    pub by: &'a str,
    /// Why.
    pub reason: &'a str,
    /// An admin overrode a lock.
    pub forced: bool,
    /// When.
    pub at_ms: i64,
}

/// Records an owner change.
pub async fn insert_owner_change(
    conn: &mut AnyConnection,
    change: &OwnerChange<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_owner_history (change_id, entity, entity_id, from_rep_id, to_rep_id, changed_by, reason, forced, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(leadwheel_plumbing::ids::new_id())
    .bind(change.entity)
    .bind(change.entity_id)
    .bind(change.from_rep_id)
    .bind(change.to_rep_id)
    .bind(change.by)
    .bind(change.reason)
    .bind(i64::from(change.forced))
    .bind(change.at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many owner changes `entity_id` has had (for tests and audits).
pub async fn owner_change_count(
    conn: &mut AnyConnection,
    entity_id: &str,
) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM opps_owner_history WHERE entity_id = $1")
            .bind(entity_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Open opportunities owned by `rep_id`.
pub async fn open_opportunities_of(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Vec<Opportunity>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opps_opportunities \
         WHERE owner_rep_id = $1 AND status = 'open' ORDER BY opportunity_id"
    )))
    .bind(rep_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(opportunity_from_row).collect()
}

/// Accounts owned by `rep_id`.
pub async fn account_ids_of(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT account_id FROM opps_accounts WHERE owner_rep_id = $1 ORDER BY account_id",
    )
    .bind(rep_id)
    .fetch_all(&mut *conn)
    .await?)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::any::Any, sqlx::any::AnyArguments>;

/// Binds the deal's state, `owner_rep_id` through `stage_entered_at_ms` in
/// [`OPPORTUNITY_COLUMNS`] order: the insert and the update write the same
/// columns in that order, and a column added to one belongs in both.
fn bind_deal_state<'q>(query: AnyQuery<'q>, opp: &Opportunity) -> AnyQuery<'q> {
    query
        .bind(&opp.owner_rep_id)
        .bind(&opp.team_id)
        .bind(&opp.stage)
        .bind(&opp.status)
        .bind(opp.amount_minor)
        .bind(&opp.currency)
        .bind(&opp.expected_close)
        .bind(opp.probability_override)
        .bind(&opp.override_reason)
        .bind(&opp.next_follow_up)
        .bind(opp.touch_count)
        .bind(&opp.close_reason)
        .bind(opp.stage_entered_at_ms)
}

fn opportunity_from_row(row: &AnyRow) -> Result<Opportunity, StoreError> {
    Ok(Opportunity {
        opportunity_id: row.try_get("opportunity_id")?,
        account_id: row.try_get("account_id")?,
        lead_id: row.try_get("lead_id")?,
        name: row.try_get("name")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        team_id: row.try_get("team_id")?,
        stage: row.try_get("stage")?,
        status: row.try_get("status")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        expected_close: row.try_get("expected_close")?,
        probability_override: row.try_get("probability_override")?,
        override_reason: row.try_get("override_reason")?,
        next_follow_up: row.try_get("next_follow_up")?,
        touch_count: row.try_get("touch_count")?,
        close_reason: row.try_get("close_reason")?,
        stage_entered_at_ms: row.try_get("stage_entered_at_ms")?,
        created_at_ms: row.try_get("created_at_ms")?,
        version: row.try_get("version")?,
        forecast_category: row.try_get("forecast_category")?,
    })
}

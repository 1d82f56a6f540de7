//! Quotas: set by managers, read by the forecast. A rep's quota records
//! the rep's team when it was set, so a manager's list and their rights
//! follow the team.

use leadwheel_plumbing::Store;
use leadwheel_plumbing::store::StoreError;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::queries::Filter;

/// A quota as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaRow {
    /// `rep` or `team`.
    pub scope: String,
    /// The rep id or team id.
    pub subject_id: String,
    /// `month`, `quarter` or `year`.
    pub period_kind: String,
    /// First day of the period.
    pub period_start: String,
    /// Last day of the period.
    pub period_end: String,
    pub currency: String,
    pub amount_minor: i64,
    /// The team (the subject itself for a team quota).
    pub team_id: String,
    pub set_by: String,
    pub set_at_ms: i64,
}

const COLUMNS: &str = "scope, subject_id, period_kind, period_start, period_end, currency, \
                       amount_minor, team_id, set_by, set_at_ms";

fn row_of(row: &AnyRow) -> Result<QuotaRow, StoreError> {
    Ok(QuotaRow {
        scope: row.try_get("scope")?,
        subject_id: row.try_get("subject_id")?,
        period_kind: row.try_get("period_kind")?,
        period_start: row.try_get("period_start")?,
        period_end: row.try_get("period_end")?,
        currency: row.try_get("currency")?,
        amount_minor: row.try_get("amount_minor")?,
        team_id: row.try_get("team_id")?,
        set_by: row.try_get("set_by")?,
        set_at_ms: row.try_get("set_at_ms")?,
    })
}

/// Sets every quota of `rows` (replacing the same subject and period) in
/// one transaction: all or none.
pub async fn set_all(store: &Store, rows: &[QuotaRow]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for quota in rows {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO reporting_quotas ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (scope, subject_id, period_kind, period_start) DO UPDATE SET \
             period_end = excluded.period_end, currency = excluded.currency, \
             amount_minor = excluded.amount_minor, team_id = excluded.team_id, \
             set_by = excluded.set_by, set_at_ms = excluded.set_at_ms"
        )))
        .bind(&quota.scope)
        .bind(&quota.subject_id)
        .bind(&quota.period_kind)
        .bind(&quota.period_start)
        .bind(&quota.period_end)
        .bind(&quota.currency)
        .bind(quota.amount_minor)
        .bind(&quota.team_id)
        .bind(&quota.set_by)
        .bind(quota.set_at_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The quota of one subject for one period, if set.
pub async fn find(
    store: &Store,
    scope: &str,
    subject_id: &str,
    period_kind: &str,
    period_start: &str,
) -> Result<Option<QuotaRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reporting_quotas WHERE scope = $1 AND subject_id = $2 \
         AND period_kind = $3 AND period_start = $4"
    )))
    .bind(scope)
    .bind(subject_id)
    .bind(period_kind)
    .bind(period_start)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(row_of).transpose()
}

/// Quotas within `filter` (a rep filter keeps that rep's quotas only),
/// of periods overlapping `overlap` when given.
pub async fn list(
    store: &Store,
    filter: &Filter,
    overlap: Option<(&str, &str)>,
) -> Result<Vec<QuotaRow>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM reporting_quotas WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    let mark = |binds: &mut Vec<String>, value: &str| {
        binds.push(value.to_string());
        format!("${}", binds.len())
    };
    if let Some((from, to)) = overlap {
        let (a, b) = (mark(&mut binds, to), mark(&mut binds, from));
        sql.push_str(&format!(" AND period_start <= {a} AND period_end >= {b}"));
    }
    if let Some(teams) = &filter.teams {
        if teams.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            let marks: Vec<String> = teams.iter().map(|t| mark(&mut binds, t)).collect();
            sql.push_str(&format!(" AND team_id IN ({})", marks.join(", ")));
        }
    }
    if let Some(rep) = &filter.rep {
        let m = mark(&mut binds, rep);
        sql.push_str(&format!(" AND scope = 'rep' AND subject_id = {m}"));
    }
    sql.push_str(" ORDER BY period_start, scope DESC, subject_id");
    // Only constant text and `$n` markers are pasted in; values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(store.pool()).await?;
    rows.iter().map(row_of).collect()
}

/// A manager's adjustment of a forecast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjustment {
    pub currency: String,
    pub amount_minor: i64,
    pub note: String,
    pub set_by: String,
}

/// Sets (or with `None` removes) the adjustment of one subject and period.
pub async fn set_adjustment(
    store: &Store,
    quota: &QuotaRow,
    note: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "DELETE FROM reporting_adjustments WHERE scope = $1 AND subject_id = $2 \
         AND period_kind = $3 AND period_start = $4",
    )
    .bind(&quota.scope)
    .bind(&quota.subject_id)
    .bind(&quota.period_kind)
    .bind(&quota.period_start)
    .execute(&mut *tx)
    .await?;
    if let Some(note) = note {
        sqlx::query(
            "INSERT INTO reporting_adjustments (scope, subject_id, period_kind, period_start, \
             currency, amount_minor, note, team_id, set_by, set_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&quota.scope)
        .bind(&quota.subject_id)
        .bind(&quota.period_kind)
        .bind(&quota.period_start)
        .bind(&quota.currency)
        .bind(quota.amount_minor)
        .bind(note)
        .bind(&quota.team_id)
        .bind(&quota.set_by)
        .bind(quota.set_at_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The adjustment of one subject and period, if any.
pub async fn adjustment(
    store: &Store,
    scope: &str,
    subject_id: &str,
    period_kind: &str,
    period_start: &str,
) -> Result<Option<Adjustment>, StoreError> {
    let row = sqlx::query(
        "SELECT currency, amount_minor, note, set_by FROM reporting_adjustments \
         WHERE scope = $1 AND subject_id = $2 AND period_kind = $3 AND period_start = $4",
    )
    .bind(scope)
    .bind(subject_id)
    .bind(period_kind)
    .bind(period_start)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(Adjustment {
            currency: row.try_get("currency")?,
            amount_minor: row.try_get("amount_minor")?,
            note: row.try_get("note")?,
            set_by: row.try_get("set_by")?,
        })
    })
    .transpose()
}

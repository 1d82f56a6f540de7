//! Handover plans, their items and the tasks they create.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreError;

/// A handover plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handover {
    /// Its id.
    pub handover_id: String,
    /// The leaving rep.
    pub rep_id: String,
    /// Their team.
    pub team_id: String,
    /// "draft", "applied" or "completed".
    pub state: String,
    /// Who takes the opportunities by default.
    pub successor_rep_id: String,
    /// Who started it.
    pub created_by: String,
    /// When.
    pub created_at_ms: i64,
    /// When it was applied (0: not yet).
    pub applied_at_ms: i64,
}

/// One thing the leaving rep owns, and what happens to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// "lead" or "opportunity".
    pub kind: String,
    /// The lead or opportunity id.
    pub item_id: String,
    /// The account (opportunities).
    pub account_id: String,
    /// The lead's status or the opportunity's stage.
    pub stage: String,
    /// The stage locks the owner.
    pub owner_locked: bool,
    /// "reassign", "return" or "manager_decides".
    pub action: String,
    /// The new owner for "reassign".
    pub to_rep_id: String,
    /// Opportunities: amount.
    pub amount_minor: i64,
    /// Opportunities: currency.
    pub currency: String,
}

/// A task for a new owner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Task {
    /// Its id.
    pub task_id: String,
    /// The handover that made it.
    pub handover_id: String,
    /// Who must do it.
    pub owner_rep_id: String,
    /// Their team.
    pub team_id: String,
    /// "visit", "call" or "email".
    pub kind: String,
    /// The customer's account, when converted.
    pub account_id: String,
    /// The customer's lead, when not.
    pub lead_id: String,
    /// "YYYY-MM-DD".
    pub due_date: String,
    /// When it was done (0: open).
    pub done_at_ms: i64,
}

/// Records a new draft plan with its items.
pub async fn insert(
    conn: &mut AnyConnection,
    handover: &Handover,
    items: &[Item],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_handovers (handover_id, rep_id, team_id, state, successor_rep_id, \
         created_by, created_at_ms, applied_at_ms, applied_by) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, '')",
    )
    .bind(&handover.handover_id)
    .bind(&handover.rep_id)
    .bind(&handover.team_id)
    .bind(&handover.state)
    .bind(&handover.successor_rep_id)
    .bind(&handover.created_by)
    .bind(handover.created_at_ms)
    .execute(&mut *conn)
    .await?;
    for item in items {
        sqlx::query(
            "INSERT INTO opps_handover_items (handover_id, kind, item_id, account_id, stage, \
             owner_locked, action, to_rep_id, amount_minor, currency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&handover.handover_id)
        .bind(&item.kind)
        .bind(&item.item_id)
        .bind(&item.account_id)
        .bind(&item.stage)
        .bind(i64::from(item.owner_locked))
        .bind(&item.action)
        .bind(&item.to_rep_id)
        .bind(item.amount_minor)
        .bind(&item.currency)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A draft plan for `rep_id`, if one is open.
pub async fn draft_of(
    conn: &mut AnyConnection,
    rep_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT handover_id FROM opps_handovers WHERE rep_id = $1 AND state = 'draft'",
    )
    .bind(rep_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The plan with `handover_id`.
pub async fn get(
    conn: &mut AnyConnection,
    handover_id: &str,
) -> Result<Option<Handover>, StoreError> {
    let row = sqlx::query(
        "SELECT handover_id, rep_id, team_id, state, successor_rep_id, created_by, \
         created_at_ms, applied_at_ms FROM opps_handovers WHERE handover_id = $1",
    )
    .bind(handover_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| -> Result<Handover, StoreError> {
        Ok(Handover {
            handover_id: row.try_get("handover_id")?,
            rep_id: row.try_get("rep_id")?,
            team_id: row.try_get("team_id")?,
            state: row.try_get("state")?,
            successor_rep_id: row.try_get("successor_rep_id")?,
            created_by: row.try_get("created_by")?,
            created_at_ms: row.try_get("created_at_ms")?,
            applied_at_ms: row.try_get("applied_at_ms")?,
        })
    })
    .transpose()
}

/// Moves a plan from `from` to `to`; false when it was not in `from` (so
/// of two racing calls exactly one moves it).
pub async fn transition(
    conn: &mut AnyConnection,
    handover_id: &str,
    from: &str,
    to: &str,
    by: &str,
    at_ms: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE opps_handovers SET state = $1, \
         applied_at_ms = CASE WHEN $1 = 'applied' THEN $2 ELSE applied_at_ms END, \
         applied_by = CASE WHEN $1 = 'applied' THEN $3 ELSE applied_by END \
         WHERE handover_id = $4 AND state = $5",
    )
    .bind(to)
    .bind(at_ms)
    .bind(by)
    .bind(handover_id)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

const ITEM_COLUMNS: &str =
    "kind, item_id, account_id, stage, owner_locked, action, to_rep_id, amount_minor, currency";

/// Every item of a plan, leads first.
pub async fn items(conn: &mut AnyConnection, handover_id: &str) -> Result<Vec<Item>, StoreError> {
    items_after(conn, handover_id, ("", ""), i64::MAX).await
}

/// Up to `limit` items of a plan strictly after `(kind, item_id)`.
pub async fn items_after(
    conn: &mut AnyConnection,
    handover_id: &str,
    after: (&str, &str),
    limit: i64,
) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM opps_handover_items WHERE handover_id = $1 \
         AND (kind > $2 OR (kind = $2 AND item_id > $3)) ORDER BY kind, item_id LIMIT $4"
    )))
    .bind(handover_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(item_from_row).collect()
}

/// One item of a plan.
pub async fn item(
    conn: &mut AnyConnection,
    handover_id: &str,
    kind: &str,
    item_id: &str,
) -> Result<Option<Item>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM opps_handover_items \
         WHERE handover_id = $1 AND kind = $2 AND item_id = $3"
    )))
    .bind(handover_id)
    .bind(kind)
    .bind(item_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(item_from_row).transpose()
}

/// Changes one item's action while its plan is still a draft; false when
/// the plan was applied meanwhile.
pub async fn set_item_action(
    conn: &mut AnyConnection,
    handover_id: &str,
    item: &Item,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE opps_handover_items SET action = $1, to_rep_id = $2 \
         WHERE handover_id = $3 AND kind = $4 AND item_id = $5 AND EXISTS \
         (SELECT 1 FROM opps_handovers h WHERE h.handover_id = $3 AND h.state = 'draft')",
    )
    .bind(&item.action)
    .bind(&item.to_rep_id)
    .bind(handover_id)
    .bind(&item.kind)
    .bind(&item.item_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// (items, undecided items) of a plan.
pub async fn item_counts(
    conn: &mut AnyConnection,
    handover_id: &str,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN action = 'manager_decides' THEN 1 ELSE 0 END), 0) AS undecided \
         FROM opps_handover_items WHERE handover_id = $1",
    )
    .bind(handover_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("total")?, row.try_get("undecided")?))
}

/// Records a task.
pub async fn insert_task(
    conn: &mut AnyConnection,
    task: &Task,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO opps_tasks (task_id, handover_id, owner_rep_id, team_id, kind, account_id, \
         lead_id, due_date, done_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)",
    )
    .bind(&task.task_id)
    .bind(&task.handover_id)
    .bind(&task.owner_rep_id)
    .bind(&task.team_id)
    .bind(&task.kind)
    .bind(&task.account_id)
    .bind(&task.lead_id)
    .bind(&task.due_date)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (tasks, done tasks) of a plan.
pub async fn task_counts(
    conn: &mut AnyConnection,
    handover_id: &str,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN done_at_ms > 0 THEN 1 ELSE 0 END), 0) AS done \
         FROM opps_tasks WHERE handover_id = $1",
    )
    .bind(handover_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("total")?, row.try_get("done")?))
}

const TASK_COLUMNS: &str =
    "task_id, handover_id, owner_rep_id, team_id, kind, account_id, lead_id, due_date, done_at_ms";

/// The task with `task_id`.
pub async fn task(conn: &mut AnyConnection, task_id: &str) -> Result<Option<Task>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TASK_COLUMNS} FROM opps_tasks WHERE task_id = $1"
    )))
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(task_from_row).transpose()
}

/// Marks a task done; false when it already was.
pub async fn complete_task(
    conn: &mut AnyConnection,
    task_id: &str,
    at_ms: i64,
) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE opps_tasks SET done_at_ms = $1 WHERE task_id = $2 AND done_at_ms = 0")
            .bind(at_ms)
            .bind(task_id)
            .execute(&mut *conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// Up to `limit` tasks of `owner` (any when empty) in `teams` (any when
/// None) of `handover_id` (any when empty), by id after `after_id`.
pub async fn list_tasks(
    conn: &mut AnyConnection,
    owner: &str,
    teams: Option<&[String]>,
    handover_id: &str,
    after_id: &str,
    limit: i64,
) -> Result<Vec<Task>, StoreError> {
    let (team_clause, binds) = super::in_clause("team_id", teams, 5);
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM opps_tasks WHERE ($1 = '' OR owner_rep_id = $1) \
         AND ($2 = '' OR handover_id = $2) AND task_id > $3 AND {team_clause} \
         ORDER BY task_id LIMIT $4"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner.to_string())
        .bind(handover_id.to_string())
        .bind(after_id.to_string())
        .bind(limit);
    for team in binds {
        query = query.bind(team);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(task_from_row).collect()
}

fn item_from_row(row: &AnyRow) -> Result<Item, StoreError> {
    Ok(Item {
        kind: row.try_get("kind")?,
        item_id: row.try_get("item_id")?,
        account_id: row.try_get("account_id")?,
        stage: row.try_get("stage")?,
        owner_locked: row.try_get::<i64, _>("owner_locked")? != 0,
        action: row.try_get("action")?,
        to_rep_id: row.try_get("to_rep_id")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
    })
}

fn task_from_row(row: &AnyRow) -> Result<Task, StoreError> {
    Ok(Task {
        task_id: row.try_get("task_id")?,
        handover_id: row.try_get("handover_id")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        team_id: row.try_get("team_id")?,
        kind: row.try_get("kind")?,
        account_id: row.try_get("account_id")?,
        lead_id: row.try_get("lead_id")?,
        due_date: row.try_get("due_date")?,
        done_at_ms: row.try_get("done_at_ms")?,
    })
}

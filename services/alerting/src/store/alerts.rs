//! Alerts and their recipients. Every transition is a conditional update
//! (`... WHERE state IN (...)`), so of two racing writers (a timer and an
//! acknowledgement, two replicas) one changes the row and the other sees
//! zero rows and does nothing.

use leadwheel_plumbing::paging::Cursor;
use leadwheel_plumbing::{Store, Tx};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreError;

/// An alert as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alert {
    /// Its id.
    pub alert_id: String,
    /// The rule that raised it, e.g. `no_first_touch`.
    pub kind: String,
    /// Unique per kind: one alert per rule, subject and occurrence.
    pub dedupe_key: String,
    /// The team concerned.
    pub team_id: String,
    /// Who is told first (empty: nobody could be named; admins see it).
    pub recipient_id: String,
    /// The entity it is about, e.g. a lead id.
    pub subject_key: String,
    /// What a human reads.
    pub message: String,
    /// When it was raised.
    pub raised_at_ms: i64,
    /// `open`, `acknowledged`, `snoozed` or `resolved`.
    pub state: String,
    /// The subject's owner when raised (empty: none).
    pub rep_id: String,
    /// The team's manager when raised (empty: none known).
    pub manager_id: String,
    /// Who acknowledged it.
    pub acknowledged_by: String,
    /// When.
    pub acknowledged_at_ms: i64,
    /// When the snooze ends (0: not snoozed).
    pub snoozed_until_ms: i64,
    /// When its condition cleared.
    pub resolved_at_ms: i64,
    /// Why.
    pub resolved_reason: String,
    /// 0: not escalated; 1: to the manager.
    pub escalation_level: i64,
    /// When.
    pub escalated_at_ms: i64,
    /// The rule's escalation delay when raised (0: never).
    pub escalate_after_ms: i64,
    /// The second escalation's target when raised (empty: none).
    pub second_escalation_to: String,
    /// Its delay after the first escalation.
    pub second_escalate_after_ms: i64,
    /// Everyone told so far, first recipients first.
    pub recipient_ids: Vec<String>,
}

/// An alert to raise.
#[derive(Clone, Debug)]
pub struct NewAlert {
    /// The rule.
    pub kind: String,
    /// Unique per kind (see docs/alerting.md for each rule's).
    pub dedupe_key: String,
    /// The team.
    pub team_id: String,
    /// The subject's owner (empty: none).
    pub rep_id: String,
    /// The team's manager (empty: none known).
    pub manager_id: String,
    /// The first recipients, in order (may be empty: admins only).
    pub recipients: Vec<String>,
    /// The entity.
    pub subject_key: String,
    /// What a human reads.
    pub message: String,
    /// Escalate to the manager when not acknowledged within this (0: never).
    pub escalate_after_ms: i64,
    /// Then to this person (empty: nobody)...
    pub second_escalation_to: String,
    /// ...this long after the first escalation.
    pub second_escalate_after_ms: i64,
}

impl Alert {
    /// The alert [`insert`] just stored from `new` as `alert_id` at
    /// `now_ms`, as [`get`] would read it back.
    pub fn raised(alert_id: String, new: NewAlert, now_ms: i64) -> Self {
        let mut recipient_ids: Vec<String> = Vec::with_capacity(new.recipients.len());
        for recipient in new.recipients {
            if !recipient_ids.contains(&recipient) {
                recipient_ids.push(recipient);
            }
        }
        Self {
            alert_id,
            kind: new.kind,
            dedupe_key: new.dedupe_key,
            team_id: new.team_id,
            recipient_id: recipient_ids.first().cloned().unwrap_or_default(),
            subject_key: new.subject_key,
            message: new.message,
            raised_at_ms: now_ms,
            state: "open".to_string(),
            rep_id: new.rep_id,
            manager_id: new.manager_id,
            escalate_after_ms: new.escalate_after_ms,
            second_escalation_to: new.second_escalation_to,
            second_escalate_after_ms: new.second_escalate_after_ms,
            recipient_ids,
            ..Self::default()
        }
    }
}

const COLUMNS: &str = "alert_id, kind, dedupe_key, team_id, recipient_id, subject_key, message, \
    raised_at_ms, state, rep_id, manager_id, acknowledged_by, acknowledged_at_ms, \
    snoozed_until_ms, resolved_at_ms, resolved_reason, escalation_level, escalated_at_ms, \
    escalate_after_ms, second_escalation_to, second_escalate_after_ms";

/// Stores `new` as `alert_id` unless an alert of the same (kind, dedupe
/// key) exists; true when it was stored.
pub async fn insert(
    tx: &mut Tx,
    alert_id: &str,
    new: &NewAlert,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let recipient = new.recipients.first().cloned().unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO alerting_alerts \
         (alert_id, kind, dedupe_key, team_id, recipient_id, subject_key, message, raised_at_ms, \
          state, rep_id, manager_id, escalate_after_ms, second_escalation_to, \
          second_escalate_after_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $12, $13) \
         ON CONFLICT (kind, dedupe_key) DO NOTHING",
    )
    .bind(alert_id)
    .bind(&new.kind)
    .bind(&new.dedupe_key)
    .bind(&new.team_id)
    .bind(&recipient)
    .bind(&new.subject_key)
    .bind(&new.message)
    .bind(now_ms)
    .bind(&new.rep_id)
    .bind(&new.manager_id)
    .bind(new.escalate_after_ms)
    .bind(&new.second_escalation_to)
    .bind(new.second_escalate_after_ms)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Ok(false);
    }
    if new.recipients.is_empty() {
        return Ok(true);
    }
    // All first recipients in one statement.
    let values: Vec<String> = (0..new.recipients.len())
        .map(|n| format!("($1, ${}, 'raised', $2, {n})", n + 3))
        .collect();
    let sql = format!(
        "INSERT INTO alerting_recipients (alert_id, recipient_id, reason, added_at_ms, position) \
         VALUES {} ON CONFLICT (alert_id, recipient_id) DO NOTHING",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(alert_id)
        .bind(now_ms);
    for recipient in &new.recipients {
        query = query.bind(recipient);
    }
    query.execute(&mut **tx).await?;
    Ok(true)
}

/// Adds `recipient_id` to the people told about `alert_id`; false when
/// they already were.
pub async fn add_recipient(
    tx: &mut Tx,
    alert_id: &str,
    recipient_id: &str,
    reason: &str,
    position: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let added = sqlx::query(
        "INSERT INTO alerting_recipients (alert_id, recipient_id, reason, added_at_ms, position) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id, recipient_id) DO NOTHING",
    )
    .bind(alert_id)
    .bind(recipient_id)
    .bind(reason)
    .bind(now_ms)
    .bind(position)
    .execute(&mut **tx)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Reads one alert in `tx` (None: no such alert).
pub async fn get(tx: &mut Tx, alert_id: &str) -> Result<Option<Alert>, StoreError> {
    fetch_one(tx, alert_id).await
}

async fn fetch_one(conn: &mut AnyConnection, alert_id: &str) -> Result<Option<Alert>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM alerting_alerts WHERE alert_id = $1"
    )))
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut alert = alert_from_row(&row)?;
    alert.recipient_ids = recipients_of(conn, alert_id).await?;
    Ok(Some(alert))
}

async fn recipients_of(
    conn: &mut AnyConnection,
    alert_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT recipient_id FROM alerting_recipients WHERE alert_id = $1 \
         ORDER BY position, recipient_id",
    )
    .bind(alert_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get("recipient_id").map_err(StoreError::from))
        .collect()
}

/// The unresolved alerts of every (kind, subject) of `pairs`, in one
/// statement: (index in `pairs`, alert id), in `pairs`' order.
pub async fn unresolved_for_subjects(
    tx: &mut Tx,
    pairs: &[(&str, &str)],
) -> Result<Vec<(usize, String)>, StoreError> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let conditions: Vec<String> = (0..pairs.len())
        .map(|n| format!("(kind = ${} AND subject_key = ${})", 2 * n + 1, 2 * n + 2))
        .collect();
    let sql = format!(
        "SELECT alert_id, kind, subject_key FROM alerting_alerts \
         WHERE state <> 'resolved' AND ({}) ORDER BY raised_at_ms, alert_id",
        conditions.join(" OR ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (kind, subject) in pairs {
        query = query.bind(*kind).bind(*subject);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let subject: String = row.try_get("subject_key")?;
        if let Some(at) = pairs.iter().position(|(k, s)| *k == kind && *s == subject) {
            found.push((at, row.try_get("alert_id")?));
        }
    }
    // Stable: within a pair, oldest first.
    found.sort_by_key(|(at, _)| *at);
    Ok(found)
}

/// The ids of `kind` alerts about `subject_key` not yet resolved.
pub async fn unresolved_for_subject(
    tx: &mut Tx,
    kind: &str,
    subject_key: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT alert_id, dedupe_key FROM alerting_alerts \
         WHERE kind = $1 AND subject_key = $2 AND state <> 'resolved'",
    )
    .bind(kind)
    .bind(subject_key)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("alert_id")?, r.try_get("dedupe_key")?)))
        .collect()
}

/// open or snoozed → acknowledged; false when it was in neither state.
pub async fn acknowledge(
    tx: &mut Tx,
    alert_id: &str,
    by: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_alerts SET state = 'acknowledged', acknowledged_by = $2, \
         acknowledged_at_ms = $3, snoozed_until_ms = 0 \
         WHERE alert_id = $1 AND state IN ('open', 'snoozed')",
    )
    .bind(alert_id)
    .bind(by)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// open or snoozed → snoozed until `until_ms`.
pub async fn snooze(tx: &mut Tx, alert_id: &str, until_ms: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_alerts SET state = 'snoozed', snoozed_until_ms = $2 \
         WHERE alert_id = $1 AND state IN ('open', 'snoozed')",
    )
    .bind(alert_id)
    .bind(until_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// snoozed (with the snooze over at `now_ms`) → open.
pub async fn end_snooze(tx: &mut Tx, alert_id: &str, now_ms: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_alerts SET state = 'open', snoozed_until_ms = 0 \
         WHERE alert_id = $1 AND state = 'snoozed' AND snoozed_until_ms <= $2",
    )
    .bind(alert_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Anything but resolved → resolved.
pub async fn resolve(
    tx: &mut Tx,
    alert_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_alerts SET state = 'resolved', resolved_at_ms = $2, resolved_reason = $3, \
         snoozed_until_ms = 0 WHERE alert_id = $1 AND state <> 'resolved'",
    )
    .bind(alert_id)
    .bind(now_ms)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An open alert at escalation level `level - 1` → `level`.
pub async fn escalate(
    tx: &mut Tx,
    alert_id: &str,
    level: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alerting_alerts SET escalation_level = $3, escalated_at_ms = $2 \
         WHERE alert_id = $1 AND state = 'open' AND escalation_level = $3 - 1",
    )
    .bind(alert_id)
    .bind(now_ms)
    .bind(level)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whose alerts a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only alerts addressed to this person.
    pub recipient: Option<String>,
    /// Only alerts addressed to this manager or of a team they manage.
    pub manager: Option<String>,
    /// With `manager`: the team named in their token counts as theirs.
    pub token_team: Option<String>,
    /// Only alerts in this state.
    pub state: Option<String>,
}

/// Read access to alerts.
#[derive(Clone, Debug)]
pub struct AlertStore {
    store: Store,
}

impl AlertStore {
    /// Reads from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// One alert (None: no such alert).
    pub async fn get(&self, alert_id: &str) -> Result<Option<Alert>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        fetch_one(&mut conn, alert_id).await
    }

    /// Up to `limit` alerts in `scope` after `cursor`, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        scope: &Scope,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        // One statement for every scope: an empty parameter means "any"
        // (ids are never empty, so no real filter is lost).
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM alerting_alerts a \
             WHERE ($1 = '' OR a.alert_id IN \
                   (SELECT alert_id FROM alerting_recipients WHERE recipient_id = $1)) \
             AND ($2 = '' OR a.alert_id IN \
                   (SELECT alert_id FROM alerting_recipients WHERE recipient_id = $2) \
                  OR a.team_id IN (SELECT team_id FROM alerting_teams WHERE manager_id = $2) \
                  OR ($3 <> '' AND a.team_id = $3)) \
             AND ($4 = '' OR a.state = $4) \
             AND (a.raised_at_ms < $5 OR (a.raised_at_ms = $5 AND a.alert_id < $6)) \
             ORDER BY a.raised_at_ms DESC, a.alert_id DESC LIMIT $7"
        )))
        .bind(scope.recipient.as_deref().unwrap_or_default())
        .bind(scope.manager.as_deref().unwrap_or_default())
        .bind(scope.token_team.as_deref().unwrap_or_default())
        .bind(scope.state.as_deref().unwrap_or_default())
        .bind(cursor.after_ms)
        .bind(&cursor.after_id)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut alerts = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.store.pool().acquire().await?;
        for alert in &mut alerts {
            alert.recipient_ids = recipients_of(&mut conn, &alert.alert_id).await?;
        }
        Ok(alerts)
    }
}

fn alert_from_row(row: &AnyRow) -> Result<Alert, StoreError> {
    Ok(Alert {
        alert_id: row.try_get("alert_id")?,
        kind: row.try_get("kind")?,
        dedupe_key: row.try_get("dedupe_key")?,
        team_id: row.try_get("team_id")?,
        recipient_id: row.try_get("recipient_id")?,
        subject_key: row.try_get("subject_key")?,
        message: row.try_get("message")?,
        raised_at_ms: row.try_get("raised_at_ms")?,
        state: row.try_get("state")?,
        rep_id: row.try_get("rep_id")?,
        manager_id: row.try_get("manager_id")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledged_at_ms: row.try_get("acknowledged_at_ms")?,
        snoozed_until_ms: row.try_get("snoozed_until_ms")?,
        resolved_at_ms: row.try_get("resolved_at_ms")?,
        resolved_reason: row.try_get("resolved_reason")?,
        escalation_level: row.try_get("escalation_level")?,
        escalated_at_ms: row.try_get("escalated_at_ms")?,
        escalate_after_ms: row.try_get("escalate_after_ms")?,
        second_escalation_to: row.try_get("second_escalation_to")?,
        second_escalate_after_ms: row.try_get("second_escalate_after_ms")?,
        recipient_ids: Vec::new(),
    })
}

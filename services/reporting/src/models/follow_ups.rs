//! Reads for the activity report's extras, both pre-aggregated (kept by
//! `aggregates.rs`): touches before conversion (leads per rep, day and
//! number of touches) and follow-ups (per rep, due day and outcome).

use leadwheel_plumbing::store::StoreError;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::queries::{Filter, Reader, fetch};

/// Leads converted in the period by one rep with the same number of
/// touches logged on them up to their conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertedLeads {
    pub team_id: String,
    pub rep_id: String,
    /// Touches before conversion, each of these leads.
    pub touches: i64,
    pub leads: i64,
}

/// Follow-ups of one rep with the same kept outcome (`on_time`, `late`,
/// `replaced`, `open`), due before the day the report is read or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUpCount {
    pub team_id: String,
    pub rep_id: String,
    /// Due before the day read: an open one is overdue.
    pub due_before_today: bool,
    pub outcome: String,
    pub follow_ups: i64,
}

/// A follow-up, with what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUpFact {
    pub team_id: String,
    pub rep_id: String,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    /// The first activity on its item at or after the moment it was set,
    /// other than the activity that set it.
    pub done_at_ms: Option<i64>,
    /// The next follow-up set on its item.
    pub replaced_at_ms: Option<i64>,
}

impl Reader {
    /// Leads converted within `filter` on the days `from` to `to` (by the
    /// converting rep), counted per number of touches logged on the lead
    /// at or before its conversion (`reporting_conversion_touches`, kept
    /// by `aggregates.rs`).
    pub async fn converted_leads(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<ConvertedLeads>, StoreError> {
        let (clause, more) = filter.clause(3);
        let sql = format!(
            "SELECT team_id, rep_id, touches, CAST(SUM(leads) AS BIGINT) AS leads \
             FROM reporting_conversion_touches WHERE day >= $1 AND day <= $2{clause} \
             GROUP BY team_id, rep_id, touches HAVING SUM(leads) <> 0 \
             ORDER BY team_id, rep_id, touches"
        );
        let mut binds = vec![from.to_string(), to.to_string()];
        binds.extend(more);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(ConvertedLeads {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    touches: row.try_get("touches")?,
                    leads: row.try_get("leads")?,
                })
            })
            .collect()
    }

    /// Follow-ups within `filter` due on the days `from` to `to`, counted
    /// per kept outcome and whether they were due before `today`
    /// (`reporting_follow_up_daily`, kept by `aggregates.rs`): summed in
    /// the store, a few rows per rep whatever the period's length.
    pub async fn follow_ups(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
        today: &str,
    ) -> Result<Vec<FollowUpCount>, StoreError> {
        let (clause, more) = filter.clause(4);
        let sql = format!(
            "SELECT team_id, rep_id, outcome, \
             CASE WHEN due_date < $3 THEN 1 ELSE 0 END AS due_before_today, \
             CAST(SUM(follow_ups) AS BIGINT) AS follow_ups FROM reporting_follow_up_daily \
             WHERE due_date >= $1 AND due_date <= $2{clause} \
             GROUP BY team_id, rep_id, outcome, due_before_today \
             HAVING SUM(follow_ups) <> 0 ORDER BY team_id, rep_id, outcome"
        );
        let mut binds = vec![from.to_string(), to.to_string(), today.to_string()];
        binds.extend(more);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(FollowUpCount {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    due_before_today: row.try_get::<i32, _>("due_before_today")? == 1,
                    outcome: row.try_get("outcome")?,
                    follow_ups: row.try_get("follow_ups")?,
                })
            })
            .collect()
    }
}

/// Every follow-up with what became of it: the first activity on its item
/// at or after the moment it was set (other than the one that set it) and
/// the next follow-up set on its item. Followed by a `WHERE` on `f`.
pub(super) const FOLLOW_UP_FACTS: &str = "SELECT f.team_id, f.rep_id, f.due_date, \
     (SELECT MIN(t.at_ms) FROM reporting_touches t \
     WHERE t.item = f.item AND t.at_ms >= f.set_at_ms \
     AND t.activity_id <> f.set_by_activity) AS done_at_ms, \
     (SELECT MIN(n.set_at_ms) FROM reporting_follow_ups n \
     WHERE n.item = f.item AND n.set_at_ms > f.set_at_ms) AS replaced_at_ms \
     FROM reporting_follow_ups f";

/// A row of [`FOLLOW_UP_FACTS`].
pub(super) fn fact_of(row: &AnyRow) -> Result<FollowUpFact, sqlx::Error> {
    Ok(FollowUpFact {
        team_id: row.try_get("team_id")?,
        rep_id: row.try_get("rep_id")?,
        due_date: row.try_get("due_date")?,
        done_at_ms: row.try_get("done_at_ms")?,
        replaced_at_ms: row.try_get("replaced_at_ms")?,
    })
}

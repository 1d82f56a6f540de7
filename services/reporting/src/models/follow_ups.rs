//! Reads for the activity report's extras, one row per converted lead or
//! per follow-up of the period (like `per_deal.rs`, not pre-aggregated
//! sums): touches before conversion, and each follow-up with the first
//! activity after it and the next follow-up set on its lead or deal.

use leadwheel_plumbing::store::StoreError;
use sqlx::Row;

use super::queries::{Filter, Reader, fetch};

/// A lead converted in the period and the touches logged on it up to then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertedLead {
    pub team_id: String,
    pub rep_id: String,
    pub touches: i64,
}

/// A follow-up due in the period, with what became of it.
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
    /// converting rep), each with the activities logged on the lead at or
    /// before its conversion.
    pub async fn converted_leads(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<ConvertedLead>, StoreError> {
        let (clause, more) = filter.clause(3);
        let clause = clause
            .replace("team_id", "c.team_id")
            .replace("rep_id", "c.rep_id");
        let sql = format!(
            "SELECT c.team_id, c.rep_id, CAST((SELECT COUNT(*) FROM reporting_touches t \
             WHERE t.item = 'lead:' || c.fact_key AND t.at_ms <= c.at_ms) AS BIGINT) AS touches \
             FROM reporting_counted c WHERE c.metric = 'converted' \
             AND c.day >= $1 AND c.day <= $2{clause} ORDER BY c.team_id, c.rep_id"
        );
        let mut binds = vec![from.to_string(), to.to_string()];
        binds.extend(more);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(ConvertedLead {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    touches: row.try_get("touches")?,
                })
            })
            .collect()
    }

    /// Follow-ups within `filter` due on the days `from` to `to`.
    pub async fn follow_ups(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<FollowUpFact>, StoreError> {
        let (clause, more) = filter.clause(3);
        let clause = clause
            .replace("team_id", "f.team_id")
            .replace("rep_id", "f.rep_id");
        let sql = format!(
            "SELECT f.team_id, f.rep_id, f.due_date, \
             (SELECT MIN(t.at_ms) FROM reporting_touches t \
             WHERE t.item = f.item AND t.at_ms >= f.set_at_ms \
             AND t.activity_id <> f.set_by_activity) AS done_at_ms, \
             (SELECT MIN(n.set_at_ms) FROM reporting_follow_ups n \
             WHERE n.item = f.item AND n.set_at_ms > f.set_at_ms) AS replaced_at_ms \
             FROM reporting_follow_ups f \
             WHERE f.due_date >= $1 AND f.due_date <= $2{clause} ORDER BY f.team_id, f.rep_id"
        );
        let mut binds = vec![from.to_string(), to.to_string()];
        binds.extend(more);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(FollowUpFact {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    due_date: row.try_get("due_date")?,
                    done_at_ms: row.try_get("done_at_ms")?,
                    replaced_at_ms: row.try_get("replaced_at_ms")?,
                })
            })
            .collect()
    }
}

//! The weekly snapshots' store: reading the deals as they stood at a
//! snapshot's moment, writing a snapshot once (a second writer finds it
//! taken and writes nothing), and reading one back for the movement.

use jiff::tz::TimeZone;
use leadwheel_plumbing::store::StoreError;
use sqlx::Row;

use super::queries::{Filter, Reader, fetch};
use crate::snapshot::{self, Due, SnapshotDeal, SnapshotLine};

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The moment it stands for.
    pub at_ms: i64,
    /// When the job took it.
    pub taken_at_ms: i64,
}

/// One currency and category of a snapshot's forecast for a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotTotal {
    pub currency: String,
    pub category: String,
    pub value_minor: i64,
}

impl Reader {
    /// The newest snapshot taken.
    pub async fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT snapshot_day, at_ms, taken_at_ms FROM reporting_snapshots \
             ORDER BY snapshot_day DESC LIMIT 1",
        )
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                day: row.try_get("snapshot_day")?,
                at_ms: row.try_get("at_ms")?,
                taken_at_ms: row.try_get("taken_at_ms")?,
            })
        })
        .transpose()
    }

    /// Every deal as it stood at `due`'s moment (its latest version
    /// changed at or before then) that was open, or won in the moment's
    /// calendar year or the one before; won days in `zone`.
    pub async fn deals_for_snapshot(
        &self,
        due: &Due,
        zone: &TimeZone,
    ) -> Result<Vec<SnapshotDeal>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.opportunity_id, h.at_ms, h.team_id, h.rep_id, h.stage, h.status, \
             h.currency, h.category, h.close_date, h.amount_minor, h.weighted_minor \
             FROM reporting_opportunity_history h WHERE h.status IN ('open', 'won') \
             AND h.version = (SELECT MAX(h2.version) FROM reporting_opportunity_history h2 \
             WHERE h2.opportunity_id = h.opportunity_id AND h2.at_ms <= $1) \
             ORDER BY h.opportunity_id",
        )
        .bind(due.at_ms)
        .fetch_all(self.store.pool())
        .await?;
        let year = due.day.year();
        let mut deals = Vec::with_capacity(rows.len());
        for row in &rows {
            let status: String = row.try_get("status")?;
            let at_ms: i64 = row.try_get("at_ms")?;
            let won_day = if status == "won" {
                let day = crate::period::day_of(at_ms, zone);
                if day.year() != year && day.year() != year - 1 {
                    continue;
                }
                day.to_string()
            } else {
                String::new()
            };
            let category: String = row.try_get("category")?;
            deals.push(SnapshotDeal {
                opportunity_id: row.try_get("opportunity_id")?,
                team_id: row.try_get("team_id")?,
                rep_id: row.try_get("rep_id")?,
                stage: row.try_get("stage")?,
                category: snapshot::category_of(&status, &category),
                status,
                currency: row.try_get("currency")?,
                close_date: row.try_get("close_date")?,
                won_day,
                amount_minor: row.try_get("amount_minor")?,
                weighted_minor: row.try_get("weighted_minor")?,
            });
        }
        Ok(deals)
    }

    /// Stores the snapshot of `due` with its deals and lines, in one
    /// transaction; false (and nothing written) when it was taken already.
    pub async fn store_snapshot(
        &self,
        due: &Due,
        deals: &[SnapshotDeal],
        lines: &[SnapshotLine],
        taken_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let day = due.day.to_string();
        let mut tx = self.store.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO reporting_snapshots (snapshot_day, at_ms, taken_at_ms, deals) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (snapshot_day) DO NOTHING",
        )
        .bind(&day)
        .bind(due.at_ms)
        .bind(taken_at_ms)
        .bind(deals.len() as i64)
        .execute(&mut *tx)
        .await?;
        if fresh.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for deal in deals {
            sqlx::query(
                "INSERT INTO reporting_snapshot_deals (snapshot_day, opportunity_id, team_id, \
                 rep_id, stage, status, currency, category, close_date, won_day, amount_minor, \
                 weighted_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&day)
            .bind(&deal.opportunity_id)
            .bind(&deal.team_id)
            .bind(&deal.rep_id)
            .bind(&deal.stage)
            .bind(&deal.status)
            .bind(&deal.currency)
            .bind(&deal.category)
            .bind(&deal.close_date)
            .bind(&deal.won_day)
            .bind(deal.amount_minor)
            .bind(deal.weighted_minor)
            .execute(&mut *tx)
            .await?;
        }
        for line in lines {
            sqlx::query(
                "INSERT INTO reporting_snapshot_lines (snapshot_day, team_id, rep_id, \
                 period_kind, period_start, currency, category, deals, amount_minor, value_minor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&day)
            .bind(&line.team_id)
            .bind(&line.rep_id)
            .bind(line.period_kind)
            .bind(&line.period_start)
            .bind(&line.currency)
            .bind(&line.category)
            .bind(line.deals)
            .bind(line.amount_minor)
            .bind(line.value_minor)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Snapshot `day`'s rows within `filter` of the deals with a version
    /// in (`since_ms`, `now_ms`].
    pub async fn snapshot_deals_changed(
        &self,
        day: &str,
        filter: &Filter,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<SnapshotDeal>, StoreError> {
        let (clause, more) = filter.clause(4);
        let clause = clause
            .replace("team_id", "s.team_id")
            .replace("rep_id", "s.rep_id");
        let sql = format!(
            "WITH changed AS (SELECT DISTINCT opportunity_id FROM reporting_opportunity_history \
             WHERE at_ms > $2 AND at_ms <= $3) \
             SELECT s.opportunity_id, s.team_id, s.rep_id, s.stage, s.status, s.currency, \
             s.category, s.close_date, s.won_day, s.amount_minor, s.weighted_minor \
             FROM reporting_snapshot_deals s JOIN changed c ON c.opportunity_id = s.opportunity_id \
             WHERE s.snapshot_day = $1{clause} ORDER BY s.opportunity_id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(day)
            .bind(since_ms)
            .bind(now_ms);
        for value in more {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        rows.iter().map(snapshot_deal).collect()
    }

    /// Snapshot `day`'s forecast of the period (`kind`, first day `start`)
    /// within `filter`, per currency and category.
    pub async fn snapshot_totals(
        &self,
        day: &str,
        filter: &Filter,
        kind: &str,
        start: &str,
    ) -> Result<Vec<SnapshotTotal>, StoreError> {
        let (clause, more) = filter.clause(4);
        let sql = format!(
            "SELECT currency, category, CAST(SUM(value_minor) AS BIGINT) AS value_minor \
             FROM reporting_snapshot_lines WHERE snapshot_day = $1 AND period_kind = $2 \
             AND period_start = $3{clause} GROUP BY currency, category ORDER BY currency, category"
        );
        let mut binds = vec![day.to_string(), kind.to_string(), start.to_string()];
        binds.extend(more);
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(SnapshotTotal {
                    currency: row.try_get("currency")?,
                    category: row.try_get("category")?,
                    value_minor: row.try_get("value_minor")?,
                })
            })
            .collect()
    }
}

fn snapshot_deal(row: &sqlx::any::AnyRow) -> Result<SnapshotDeal, StoreError> {
    Ok(SnapshotDeal {
        opportunity_id: row.try_get("opportunity_id")?,
        team_id: row.try_get("team_id")?,
        rep_id: row.try_get("rep_id")?,
        stage: row.try_get("stage")?,
        status: row.try_get("status")?,
        currency: row.try_get("currency")?,
        category: row.try_get("category")?,
        close_date: row.try_get("close_date")?,
        won_day: row.try_get("won_day")?,
        amount_minor: row.try_get("amount_minor")?,
        weighted_minor: row.try_get("weighted_minor")?,
    })
}

//! Durations for fairness and speed to lead, applied in the consumer's
//! transaction. Each duration is one row per fact; the earliest
//! occurrence wins, so order does not matter. Claim → first touch is
//! derived from a lead's first assignment and first touch, whichever
//! event arrives first.

use jiff::tz::TimeZone;
use leadwheel_plumbing::Tx;
use leadwheel_plumbing::store::StoreError;
use sqlx::Row;

use super::duration_histograms::{self, Fact};
use crate::period;

/// One duration row.
pub struct Duration<'a> {
    pub metric: &'a str,
    pub key: &'a str,
    pub dim: &'a str,
    pub team_id: &'a str,
    pub rep_id: &'a str,
    pub at_ms: i64,
    pub duration_ms: i64,
}

/// Writes `d` unless an earlier occurrence of its fact is stored; with
/// `replace`, writes it whatever is stored (for values derived from
/// order-tolerant rows). The day and month histograms
/// (`duration_histograms.rs`) follow: the old value out, the new one in.
pub async fn duration(
    tx: &mut Tx,
    zone: &TimeZone,
    d: &Duration<'_>,
    replace: bool,
) -> Result<(), StoreError> {
    let day = period::day_of(d.at_ms, zone).to_string();
    let stored = sqlx::query(
        "SELECT dim, at_ms, day, team_id, rep_id, duration_ms FROM reporting_durations \
         WHERE metric = $1 AND fact_key = $2",
    )
    .bind(d.metric)
    .bind(d.key)
    .fetch_optional(&mut **tx)
    .await?;
    let old = match &stored {
        Some(row) => {
            let texts: [String; 4] = [
                row.try_get("dim")?,
                row.try_get("day")?,
                row.try_get("team_id")?,
                row.try_get("rep_id")?,
            ];
            let at_ms: i64 = row.try_get("at_ms")?;
            let duration_ms: i64 = row.try_get("duration_ms")?;
            let same = texts == [d.dim, day.as_str(), d.team_id, d.rep_id]
                && at_ms == d.at_ms
                && duration_ms == d.duration_ms;
            if same || !(replace || at_ms > d.at_ms) {
                return Ok(());
            }
            Some((texts, duration_ms))
        }
        None => None,
    };
    sqlx::query(
        "INSERT INTO reporting_durations (metric, fact_key, dim, at_ms, day, team_id, rep_id, \
         duration_ms) VALUES ($1, $2, $8, $3, $4, $5, $6, $7) \
         ON CONFLICT (metric, fact_key) DO UPDATE SET at_ms = excluded.at_ms, dim = excluded.dim, \
         day = excluded.day, team_id = excluded.team_id, rep_id = excluded.rep_id, \
         duration_ms = excluded.duration_ms",
    )
    .bind(d.metric)
    .bind(d.key)
    .bind(d.at_ms)
    .bind(&day)
    .bind(d.team_id)
    .bind(d.rep_id)
    .bind(d.duration_ms)
    .bind(d.dim)
    .execute(&mut **tx)
    .await?;
    if let Some(([dim, old_day, team_id, rep_id], duration_ms)) = &old {
        let fact = Fact {
            metric: d.metric,
            day: old_day,
            team_id,
            rep_id,
            dim,
            duration_ms: *duration_ms,
        };
        duration_histograms::remove(tx, &fact).await?;
    }
    let fact = Fact {
        metric: d.metric,
        day: &day,
        team_id: d.team_id,
        rep_id: d.rep_id,
        dim: d.dim,
        duration_ms: d.duration_ms,
    };
    duration_histograms::add(tx, &fact).await
}

/// A lead's first assignment.
pub struct Assignment<'a> {
    pub lead_id: &'a str,
    pub team_id: &'a str,
    pub rep_id: &'a str,
    pub via: &'a str,
    pub routed_by: &'a str,
    pub rule_id: &'a str,
    pub offer_id: Option<&'a str>,
    pub at_ms: i64,
}

/// A lead row with nothing known yet, so any of its facts can land first.
pub(crate) async fn lead_row(tx: &mut Tx, lead_id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reporting_leads (lead_id, team_id, rep_id, via, offer_id, assigned_day, \
         assigned_at_ms, first_touch_at_ms, converted_at_ms, won_at_ms, won_currency, won_minor) \
         VALUES ($1, '', '', '', '', '', 0, 0, 0, 0, '', 0) ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(lead_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a lead's assignment (its earliest) and times its first touch.
pub async fn assigned(tx: &mut Tx, zone: &TimeZone, a: &Assignment<'_>) -> Result<(), StoreError> {
    lead_row(tx, a.lead_id).await?;
    sqlx::query(
        "UPDATE reporting_leads SET team_id = $2, rep_id = $3, via = $4, offer_id = $5, \
         assigned_day = $6, assigned_at_ms = $7, routed_by = $8, rule_id = $9 \
         WHERE lead_id = $1 AND (assigned_at_ms = 0 OR assigned_at_ms > $7)",
    )
    .bind(a.lead_id)
    .bind(a.team_id)
    .bind(a.rep_id)
    .bind(a.via)
    // Stored empty when the assignment was not an offer's claim (the
    // route report joins on it).
    .bind(a.offer_id.unwrap_or_default())
    .bind(period::day_of(a.at_ms, zone).to_string())
    .bind(a.at_ms)
    .bind(a.routed_by)
    .bind(a.rule_id)
    .execute(&mut **tx)
    .await?;
    claim_to_touch(tx, zone, a.lead_id).await
}

/// Records a lead's conversion (its earliest).
pub async fn converted(tx: &mut Tx, lead_id: &str, at_ms: i64) -> Result<(), StoreError> {
    lead_row(tx, lead_id).await?;
    sqlx::query(
        "UPDATE reporting_leads SET converted_at_ms = $2 \
         WHERE lead_id = $1 AND (converted_at_ms = 0 OR converted_at_ms > $2)",
    )
    .bind(lead_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the win of a lead's deal (its earliest).
pub async fn won(
    tx: &mut Tx,
    lead_id: &str,
    at_ms: i64,
    currency: &str,
    amount_minor: i64,
) -> Result<(), StoreError> {
    lead_row(tx, lead_id).await?;
    sqlx::query(
        "UPDATE reporting_leads SET won_at_ms = $2, won_currency = $3, won_minor = $4 \
         WHERE lead_id = $1 AND (won_at_ms = 0 OR won_at_ms > $2)",
    )
    .bind(lead_id)
    .bind(at_ms)
    .bind(currency)
    .bind(amount_minor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a touch on a lead (its earliest) and times it from the claim.
pub async fn touch(
    tx: &mut Tx,
    zone: &TimeZone,
    lead_id: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    lead_row(tx, lead_id).await?;
    sqlx::query(
        "UPDATE reporting_leads SET first_touch_at_ms = $2 \
         WHERE lead_id = $1 AND (first_touch_at_ms = 0 OR first_touch_at_ms > $2)",
    )
    .bind(lead_id)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    claim_to_touch(tx, zone, lead_id).await
}

async fn claim_to_touch(tx: &mut Tx, zone: &TimeZone, lead_id: &str) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT team_id, rep_id, assigned_at_ms, first_touch_at_ms FROM reporting_leads \
         WHERE lead_id = $1",
    )
    .bind(lead_id)
    .fetch_one(&mut **tx)
    .await?;
    let assigned: i64 = row.try_get("assigned_at_ms")?;
    let touched: i64 = row.try_get("first_touch_at_ms")?;
    if assigned == 0 || touched == 0 {
        return Ok(());
    }
    let team: String = row.try_get("team_id")?;
    let rep: String = row.try_get("rep_id")?;
    let d = Duration {
        metric: "claim_to_touch",
        key: lead_id,
        dim: "",
        team_id: &team,
        rep_id: &rep,
        at_ms: assigned,
        duration_ms: (touched - assigned).max(0),
    };
    duration(tx, zone, &d, true).await
}

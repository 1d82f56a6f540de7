//! A person's erasure: the personal columns of their leads, and the
//! record that keeps a lead created later blank too.

use leadwheel_wheel_core::TeamChoice;
use sqlx::AnyConnection;

use super::*;

/// Records `lead_id` as erased at `at_ms` (once; a repeat keeps the first).
pub async fn record_erasure(
    conn: &mut AnyConnection,
    lead_id: &str,
    at_ms: i64,
) -> Result<(), WheelError> {
    sqlx::query(
        "INSERT INTO wheel_erased_leads (lead_id, erased_at_ms) VALUES ($1, $2) \
         ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(lead_id)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// True when `lead_id`'s person was erased.
pub async fn is_erased(conn: &mut AnyConnection, lead_id: &str) -> Result<bool, WheelError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT lead_id FROM wheel_erased_leads WHERE lead_id = $1")
            .bind(lead_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// Blanks `lead_id`'s name, company, email and domain, and replaces how
/// its team was chosen, in the lead and in its `routed` ledger line, with
/// `routed_by` (the choice without its reasons). Tier, score, source and
/// country stay, as intake keeps them, so counts do not move. False when
/// the wheel has no such lead (yet).
pub async fn erase_lead(
    conn: &mut AnyConnection,
    lead_id: &str,
    routed_by: Option<&TeamChoice>,
) -> Result<bool, WheelError> {
    let erased = sqlx::query(
        "UPDATE wheel_leads SET name = '', company = '', email = '', domain = '' \
         WHERE lead_id = $1",
    )
    .bind(lead_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if let Some(choice) = routed_by {
        let json = serde_json::to_string(choice).expect("choice serializes");
        sqlx::query("UPDATE wheel_leads SET routed_by = $1 WHERE lead_id = $2")
            .bind(json)
            .bind(lead_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE wheel_ledger SET detail = $1 WHERE lead_id = $2 AND kind = 'routed'")
            .bind(choice.to_string())
            .bind(lead_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(erased)
}

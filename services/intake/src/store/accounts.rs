//! Intake's copy of the account domain map, kept from `opps.account.*`.

use leadwheel_proto::events::v1::AccountChanged;
use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::db_error;
use crate::error::IntakeError;

/// Routing hint from a matched account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountHint {
    /// The owning rep.
    pub owner_rep_id: String,
    /// The account's team.
    pub team_id: String,
}

/// Whether a change was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The copy now holds this version.
    Applied,
    /// The copy already holds this version or a newer one.
    Stale,
}

/// Upserts `account` unless the copy holds a version at least as new.
/// Domains are lowercased; `skip_domain` ones (free-mail) are never mapped.
pub async fn apply_account(
    conn: &mut AnyConnection,
    account: &AccountChanged,
    skip_domain: impl Fn(&str) -> bool,
    now_ms: i64,
) -> Result<Applied, IntakeError> {
    let current: Option<i64> =
        sqlx::query_scalar("SELECT version FROM intake_accounts WHERE account_id = $1")
            .bind(&account.account_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    if current.is_some_and(|version| version >= account.version) {
        return Ok(Applied::Stale);
    }
    sqlx::query(
        "INSERT INTO intake_accounts (account_id, owner_rep_id, team_id, status, version, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO UPDATE SET \
         owner_rep_id = excluded.owner_rep_id, team_id = excluded.team_id, \
         status = excluded.status, version = excluded.version, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(&account.account_id)
    .bind(&account.owner_rep_id)
    .bind(&account.team_id)
    .bind(&account.status)
    .bind(account.version)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query("DELETE FROM intake_account_domains WHERE account_id = $1")
        .bind(&account.account_id)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    for domain in &account.domains {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = domain.strip_prefix("www.").unwrap_or(&domain).to_string();
        if domain.is_empty() || domain.len() > 253 || skip_domain(&domain) {
            continue;
        }
        sqlx::query(
            "INSERT INTO intake_account_domains (domain, account_id) VALUES ($1, $2) \
             ON CONFLICT (domain) DO UPDATE SET account_id = excluded.account_id",
        )
        .bind(&domain)
        .bind(&account.account_id)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(Applied::Applied)
}

/// The domains an account match for `domain` looks at, most specific
/// first: the domain and its parents down to two labels (`eu.acme.com`,
/// then `acme.com`; "co.uk" alone is no company but costs nothing to ask).
pub fn candidates(domain: &str) -> Vec<&str> {
    let mut out = vec![domain];
    let mut rest = domain;
    while let Some((_, parent)) = rest.split_once('.') {
        if !parent.contains('.') {
            break;
        }
        out.push(parent);
        rest = parent;
    }
    out
}

/// Owners of the active, owned accounts holding any of `domains`, by
/// domain: one query for a whole group of signups.
pub async fn account_hints(
    conn: &mut AnyConnection,
    domains: &[&str],
) -> Result<HashMap<String, AccountHint>, IntakeError> {
    let mut hints = HashMap::new();
    // Bounded statements: at most 256 parameters each.
    for chunk in domains.chunks(256) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT d.domain, a.owner_rep_id, a.team_id FROM intake_account_domains d \
             JOIN intake_accounts a ON a.account_id = d.account_id \
             WHERE d.domain IN ({}) AND a.status = 'active' AND a.owner_rep_id <> ''",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for domain in chunk {
            query = query.bind(*domain);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db_error)? {
            let domain: String = row.try_get("domain").map_err(db_error)?;
            hints.insert(
                domain,
                AccountHint {
                    owner_rep_id: row.try_get("owner_rep_id").map_err(db_error)?,
                    team_id: row.try_get("team_id").map_err(db_error)?,
                },
            );
        }
    }
    Ok(hints)
}

#[cfg(test)]
mod tests {
    #[test]
    fn candidates_walk_up_to_two_labels() {
        assert_eq!(
            super::candidates("eu.sales.acme.com"),
            ["eu.sales.acme.com", "sales.acme.com", "acme.com"]
        );
        assert_eq!(super::candidates("acme.com"), ["acme.com"]);
    }
}

//! Setting and listing quotas. A batch is checked whole before anything is
//! written, and written in one transaction: a bad row (named by its index)
//! changes nothing.

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    ListQuotasRequest, ListQuotasResponse, PeriodKind, Quota, QuotaScope,
    SetForecastAdjustmentRequest, SetForecastAdjustmentResponse, SetQuotasRequest,
    SetQuotasResponse,
};

use super::forecast::quota_kind;
use super::{MAX_ID_LEN, Reports};
use crate::error::Error;
use crate::models::quotas::{self, QuotaRow};
use crate::period;

/// Most quotas in one request: a year of months for a large floor.
pub const MAX_QUOTAS: usize = 5_000;

fn kind_of(name: &str) -> PeriodKind {
    match name {
        "month" => PeriodKind::Month,
        "quarter" => PeriodKind::Quarter,
        _ => PeriodKind::Year,
    }
}

fn to_proto(row: QuotaRow) -> Quota {
    Quota {
        scope: if row.scope == "rep" {
            QuotaScope::Rep
        } else {
            QuotaScope::Team
        } as i32,
        subject_id: row.subject_id,
        period_kind: kind_of(&row.period_kind) as i32,
        period_start: row.period_start,
        currency: row.currency,
        amount_minor: row.amount_minor,
        set_by: row.set_by,
        set_at_ms: row.set_at_ms,
        team_id: row.team_id,
    }
}

/// A currency code: three upper-case ASCII letters (ISO 4217's shape).
pub fn valid_currency(currency: &str) -> bool {
    currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
}

impl Reports {
    /// Sets quotas (managers: their teams and those teams' reps; admins: any).
    pub async fn set_quotas(
        &self,
        caller: &Caller,
        request: &SetQuotasRequest,
        now_ms: i64,
    ) -> Result<SetQuotasResponse, Error> {
        if request.quotas.is_empty() {
            return Err(Error::invalid("quotas", "no quota given"));
        }
        if request.quotas.len() > MAX_QUOTAS {
            return Err(Error::invalid(
                "quotas",
                format!(
                    "{} quotas given; the limit is {MAX_QUOTAS}",
                    request.quotas.len()
                ),
            ));
        }
        let scope = self.scope(caller).await?;
        let mut rows = Vec::with_capacity(request.quotas.len());
        for (i, quota) in request.quotas.iter().enumerate() {
            let field = |name: &str| format!("quotas[{i}].{name}");
            rows.push(self.checked(caller, &scope, quota, &field, now_ms).await?);
        }
        quotas::set_all(&self.store, &rows).await?;
        tracing::info!(count = rows.len(), by = %caller.subject, "quotas set");
        Ok(SetQuotasResponse {
            quotas: rows.into_iter().map(to_proto).collect(),
        })
    }

    /// Sets or clears a manager's own forecast for a subject and period.
    pub async fn set_adjustment(
        &self,
        caller: &Caller,
        request: &SetForecastAdjustmentRequest,
        now_ms: i64,
    ) -> Result<SetForecastAdjustmentResponse, Error> {
        if request.note.chars().count() > 500 {
            return Err(Error::invalid("note", "is longer than 500 characters"));
        }
        let scope = self.scope(caller).await?;
        let as_quota = Quota {
            scope: request.scope,
            subject_id: request.subject_id.clone(),
            period_kind: request.period_kind,
            period_start: request.period_start.clone(),
            currency: request.currency.clone(),
            amount_minor: request.amount_minor,
            ..Default::default()
        };
        let field = |name: &str| name.to_string();
        let row = self
            .checked(caller, &scope, &as_quota, &field, now_ms)
            .await?;
        let note = (!request.clear).then_some(request.note.trim());
        quotas::set_adjustment(&self.store, &row, note).await?;
        tracing::info!(subject = %row.subject_id, by = %caller.subject, cleared = request.clear, "forecast adjustment set");
        Ok(SetForecastAdjustmentResponse {})
    }

    /// A quota-shaped request checked field by field (`field` names them)
    /// and against the caller's rights.
    async fn checked(
        &self,
        caller: &Caller,
        scope: &crate::access::Scope,
        quota: &Quota,
        field: &(dyn Fn(&str) -> String + Sync),
        now_ms: i64,
    ) -> Result<QuotaRow, Error> {
        {
            if quota.subject_id.is_empty() || quota.subject_id.len() > MAX_ID_LEN {
                return Err(Error::invalid(
                    field("subject_id"),
                    format!("must be 1..{MAX_ID_LEN} bytes"),
                ));
            }
            let kind = PeriodKind::try_from(quota.period_kind)
                .ok()
                .and_then(quota_kind)
                .ok_or_else(|| Error::invalid(field("period_kind"), "month, quarter or year"))?;
            let start: Date = quota.period_start.parse().map_err(|_| {
                Error::invalid(
                    field("period_start"),
                    format!("{:?} is not a date (YYYY-MM-DD)", quota.period_start),
                )
            })?;
            let days = period::of_kind(
                PeriodKind::try_from(quota.period_kind).unwrap_or_default(),
                start,
            );
            if !valid_currency(&quota.currency) {
                return Err(Error::invalid(
                    field("currency"),
                    format!("{:?} is not a currency code like EUR", quota.currency),
                ));
            }
            if quota.amount_minor < 0 {
                return Err(Error::invalid(
                    field("amount_minor"),
                    format!("{} is negative", quota.amount_minor),
                ));
            }
            let (scope_name, team_id) = match QuotaScope::try_from(quota.scope) {
                Ok(QuotaScope::Team) => {
                    if !self.reader.team_exists(&quota.subject_id).await? {
                        return Err(Error::invalid(
                            field("subject_id"),
                            format!("unknown team {:?}", quota.subject_id),
                        ));
                    }
                    ("team", quota.subject_id.clone())
                }
                Ok(QuotaScope::Rep) => match self.reader.rep_team(&quota.subject_id).await? {
                    Some(team) => ("rep", team),
                    None => {
                        return Err(Error::invalid(
                            field("subject_id"),
                            format!("unknown rep {:?}", quota.subject_id),
                        ));
                    }
                },
                _ => return Err(Error::invalid(field("scope"), "rep or team")),
            };
            if !scope.may_set_quota(&team_id) {
                return Err(Error::denied(format!(
                    "{} may not set quotas for team {team_id}: its manager or an admin only",
                    caller.subject
                )));
            }
            Ok(QuotaRow {
                scope: scope_name.to_string(),
                subject_id: quota.subject_id.clone(),
                period_kind: kind.to_string(),
                period_start: days.from_key(),
                period_end: days.to_key(),
                currency: quota.currency.clone(),
                amount_minor: quota.amount_minor,
                team_id,
                set_by: caller.subject.clone(),
                set_at_ms: now_ms,
            })
        }
    }

    /// Quotas the caller may see, filtered by team, rep and period.
    pub async fn list_quotas(
        &self,
        caller: &Caller,
        request: &ListQuotasRequest,
        today: Date,
    ) -> Result<ListQuotasResponse, Error> {
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let overlap = match request.period.as_ref() {
            Some(p) if p.kind != PeriodKind::Unspecified as i32 => {
                Some(period::resolve("period", Some(p), PeriodKind::Year, today)?)
            }
            _ => None,
        };
        let keys = overlap.map(|d| (d.from_key(), d.to_key()));
        let rows = quotas::list(
            &self.store,
            &filter,
            keys.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        )
        .await?;
        Ok(ListQuotasResponse {
            quotas: rows.into_iter().map(to_proto).collect(),
        })
    }
}

//! Quotas.

use leadwheel_proto::reporting::v1::{ListQuotasResponse, PeriodKind, QuotaScope};

use crate::{Sheet, money};

/// A quota's period kind as written.
pub fn kind_name(kind: i32) -> &'static str {
    match PeriodKind::try_from(kind) {
        Ok(PeriodKind::Month) => "month",
        Ok(PeriodKind::Quarter) => "quarter",
        Ok(PeriodKind::Year) => "year",
        _ => "?",
    }
}

/// A quota's scope as written.
pub fn scope_name(scope: i32) -> &'static str {
    match QuotaScope::try_from(scope) {
        Ok(QuotaScope::Rep) => "rep",
        Ok(QuotaScope::Team) => "team",
        _ => "?",
    }
}

/// One row per quota.
pub fn quota_sheet(list: &ListQuotasResponse) -> Sheet {
    let mut sheet = Sheet::new(&["SCOPE", "WHO", "TEAM", "PERIOD", "FROM", "QUOTA", "SET BY"]);
    for q in &list.quotas {
        sheet.row(vec![
            scope_name(q.scope).into(),
            q.subject_id.clone(),
            q.team_id.clone(),
            kind_name(q.period_kind).into(),
            q.period_start.clone(),
            money(q.amount_minor, &q.currency),
            q.set_by.clone(),
        ]);
    }
    sheet
}

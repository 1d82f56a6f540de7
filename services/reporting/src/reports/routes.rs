//! Routing outcome to revenue: for the leads assigned in a period (default
//! this month), per team, routing rule and way of assignment, how many
//! converted and were won, and the won value per currency, so far.

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    GetRoutingOutcomeRequest, GetRoutingOutcomeResponse, Money, PeriodKind, RouteOutcome,
};

use super::Reports;
use crate::error::Error;
use crate::period;

impl Reports {
    /// The routing outcome report for the caller's scope.
    pub async fn routes(
        &self,
        caller: &Caller,
        request: &GetRoutingOutcomeRequest,
        today: Date,
    ) -> Result<GetRoutingOutcomeResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Month, today)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let rows = self
            .reader
            .routes(&filter, &days.from_key(), &days.to_key())
            .await?;
        let mut routes: BTreeMap<(String, String, String, String), RouteOutcome> = BTreeMap::new();
        for row in rows {
            let key = (
                row.team_id.clone(),
                row.routed_by.clone(),
                row.rule_id.clone(),
                row.route.clone(),
            );
            let outcome = routes.entry(key).or_insert_with(|| RouteOutcome {
                team_id: row.team_id.clone(),
                route: row.route.clone(),
                routed_by: row.routed_by.clone(),
                rule_id: row.rule_id.clone(),
                ..Default::default()
            });
            outcome.leads += row.leads;
            outcome.converted += row.converted;
            outcome.won += row.won;
            if row.won > 0 {
                outcome.won_value.push(Money {
                    currency: row.won_currency,
                    amount_minor: row.won_minor,
                });
            }
        }
        Ok(GetRoutingOutcomeResponse {
            period: Some(days.to_proto()),
            routes: routes.into_values().collect(),
        })
    }
}

//! Team balance: per rep, open and won deals by account tier and stage,
//! customers owned, and each rep's share of the team's won customers,
//! flagged above a threshold so a manager balancing territories sees it.

use std::collections::BTreeMap;

use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    BalanceRow, GetTeamBalanceRequest, GetTeamBalanceResponse, RepBalance,
};

use super::Reports;
use crate::error::Error;
use crate::models::queries::Filter;

impl Reports {
    /// The balance report for the caller's scope.
    pub async fn balance(
        &self,
        caller: &Caller,
        request: &GetTeamBalanceRequest,
    ) -> Result<GetTeamBalanceResponse, Error> {
        if !(0..=10_000).contains(&request.max_share_bp) {
            return Err(Error::invalid(
                "max_share_bp",
                format!("{} is not between 0 and 10000", request.max_share_bp),
            ));
        }
        let max_share_bp = if request.max_share_bp == 0 {
            self.settings.max_won_share_bp
        } else {
            request.max_share_bp
        };
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let rows = self
            .reader
            .by_tier(&filter)
            .await?
            .into_iter()
            .map(|r| BalanceRow {
                team_id: r.team_id,
                rep_id: r.rep_id,
                tier: r.tier,
                stage: r.stage,
                currency: r.currency,
                deals: r.deals,
                amount_minor: r.amount_minor,
            })
            .collect();
        // Shares are of the whole team, so read every rep of the teams in
        // scope and keep the asked-for rep afterwards.
        let teams = Filter {
            teams: filter.teams.clone(),
            rep: None,
        };
        let customers = self.reader.customers(&teams).await?;
        let mut won_per_team: BTreeMap<&str, i64> = BTreeMap::new();
        for (team, _, _, won) in &customers {
            *won_per_team.entry(team.as_str()).or_default() += won;
        }
        let leavers = self.reader.leavers().await?;
        let reps = customers
            .iter()
            .filter(|(_, rep, _, _)| filter.rep.as_ref().is_none_or(|r| r == rep))
            .map(|(team, rep, customers, won)| {
                let total = won_per_team.get(team.as_str()).copied().unwrap_or(0);
                let share = if total > 0 { won * 10_000 / total } else { 0 };
                // A leaver's accounts still count until handed over, but
                // they are not a member whose share a manager balances.
                let left = leavers.contains(&(team.clone(), rep.clone()));
                RepBalance {
                    team_id: team.clone(),
                    rep_id: rep.clone(),
                    customers: *customers,
                    won_customers: *won,
                    won_share_bp: share,
                    over_share: share > max_share_bp && !left,
                    left,
                }
            })
            .collect();
        Ok(GetTeamBalanceResponse {
            rows,
            reps,
            max_share_bp,
        })
    }
}

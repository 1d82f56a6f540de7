//! Opportunities and accounts: reading, stages, amounts, probability
//! overrides, owner changes (with the stage's owner lock) and the
//! pipeline's stage configuration.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::contracts::AccountOwnerChanged;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_proto::opportunity::v1::{
    ChangeOwnerRequest, ListOpportunitiesRequest, MoveStageRequest, OverrideProbabilityRequest,
    SetAmountRequest, SetForecastCategoryRequest,
};
use sqlx::AnyConnection;

use super::leads::{changed, next_token};
use super::{Pipeline, Service};
use crate::access::{self, Scope};
use crate::error::Error;
use crate::events::{self, Stamp};
use crate::rules::{self, MAX_NAME_LEN, MAX_REASON_LEN};
use crate::store::deals::{
    self, Account, Opportunity, OpportunityFilter, OwnerChange, StageChange,
};

impl Service {
    /// An opportunity and its stage history, if `caller` may see it.
    pub async fn get_opportunity(
        &self,
        caller: &Caller,
        opportunity_id: &str,
    ) -> Result<(Opportunity, Vec<StageChange>, Pipeline), Error> {
        rules::id("opportunity_id", opportunity_id, false)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        let opp = load(&mut conn, &scope, caller, opportunity_id).await?;
        let history = deals::stage_history(&mut conn, opportunity_id).await?;
        let pipeline = Pipeline::load(&mut conn).await?;
        Ok((opp, history, pipeline))
    }

    /// A page of the opportunities `caller` may see.
    pub async fn list_opportunities(
        &self,
        caller: &Caller,
        request: &ListOpportunitiesRequest,
    ) -> Result<(Vec<Opportunity>, String, Pipeline), Error> {
        rules::id("owner_rep_id", &request.owner_rep_id, true)?;
        rules::id("account_id", &request.account_id, true)?;
        rules::text("stage", &request.stage, MAX_NAME_LEN)?;
        let limit = paging::page_size(request.page_size)?;
        let mut conn = self.read().await?;
        let pipeline = Pipeline::load(&mut conn).await?;
        if !request.stage.is_empty() {
            pipeline.require("stage", &request.stage)?;
        }
        let scope = self.scope(&mut conn, caller).await?;
        let list = scope.list_filter(caller, &request.owner_rep_id)?;
        let key = format!(
            "{};account={};stage={}",
            list.key("opportunities"),
            request.account_id,
            request.stage
        );
        let cursor = Cursor::decode(&request.page_token, &key)?;
        let filter = OpportunityFilter {
            owner: list.owner,
            teams: list.teams,
            account_id: request.account_id.clone(),
            stage: request.stage.clone(),
            open_only: false,
        };
        let mut opps = deals::list_opportunities(
            &mut conn,
            &filter,
            (cursor.after_ms, &cursor.after_id),
            limit + 1,
        )
        .await?;
        let next = next_token(&mut opps, limit, &key, |opp| {
            (opp.created_at_ms, opp.opportunity_id.clone())
        });
        Ok((opps, next, pipeline))
    }

    /// An account and the opportunities in it `caller` may see.
    pub async fn get_account(
        &self,
        caller: &Caller,
        account_id: &str,
    ) -> Result<(Account, Vec<Opportunity>, Pipeline), Error> {
        rules::id("account_id", account_id, false)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        let account = deals::account(&mut conn, account_id)
            .await?
            .ok_or_else(|| Error::not_found("account", account_id))?;
        scope.check(
            caller,
            &format!("account {account_id}"),
            &account.owner_rep_id,
            &account.team_id,
        )?;
        let filter = OpportunityFilter {
            account_id: account_id.to_string(),
            ..Default::default()
        };
        let mut opps = deals::list_opportunities(&mut conn, &filter, (i64::MAX, ""), 500).await?;
        opps.retain(|o| scope.covers(&o.owner_rep_id, &o.team_id));
        let pipeline = Pipeline::load(&mut conn).await?;
        Ok((account, opps, pipeline))
    }

    /// Moves an opportunity to `stage`; a won or lost stage closes it.
    pub async fn move_stage(
        &self,
        caller: &Caller,
        request: MoveStageRequest,
    ) -> Result<(Opportunity, Pipeline), Error> {
        rules::id("opportunity_id", &request.opportunity_id, false)?;
        rules::text("stage", &request.stage, MAX_NAME_LEN)?;
        rules::text("reason", &request.reason, MAX_REASON_LEN)?;
        let mut tx = self.begin().await?;
        let pipeline = Pipeline::load(&mut tx).await?;
        let target = pipeline.require("stage", &request.stage)?.clone();
        let closing = target.outcome != "open";
        if closing && request.reason.trim().is_empty() {
            return Err(Error::invalid(
                "reason",
                format!("is required to close a deal as {}", target.outcome),
            ));
        }
        let scope = self.scope(&mut tx, caller).await?;
        let opp = load(&mut tx, &scope, caller, &request.opportunity_id).await?;
        check_version(&opp, request.expected_version)?;
        require_open(&opp)?;
        if opp.stage == target.name {
            return Err(Error::precondition(format!(
                "opportunity {} is already in stage {}",
                opp.opportunity_id, target.name
            )));
        }
        let now = now_ms();
        let mut updated = opp.clone();
        updated.stage = target.name.clone();
        updated.stage_entered_at_ms = now;
        if closing {
            updated.status = target.outcome.clone();
            updated.close_reason = request.reason.trim().to_string();
        }
        write(&mut tx, &mut updated).await?;
        let reason = request.reason.trim().to_string();
        deals::insert_stage_change(
            &mut tx,
            &opp.opportunity_id,
            &StageChange {
                from_stage: opp.stage.clone(),
                to_stage: target.name.clone(),
                by: caller.subject.clone(),
                reason: reason.clone(),
                at_ms: now,
            },
        )
        .await?;
        let stamp = Stamp {
            by: &caller.subject,
            reason: &reason,
            at_ms: now,
        };
        let draft = events::stage_moved(&opp, &updated, &pipeline, &target.outcome, stamp);
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        Ok((updated, pipeline))
    }

    /// Changes amount, currency and (when given) the expected close date.
    pub async fn set_amount(
        &self,
        caller: &Caller,
        request: SetAmountRequest,
    ) -> Result<(Opportunity, Pipeline), Error> {
        rules::id("opportunity_id", &request.opportunity_id, false)?;
        rules::amount("amount_minor", request.amount_minor)?;
        rules::currency("currency", &request.currency)?;
        rules::date("expected_close_date", &request.expected_close_date, true)?;
        rules::text("reason", &request.reason, MAX_REASON_LEN)?;
        self.change_forecast(
            caller,
            &request.opportunity_id,
            request.expected_version,
            request.reason.trim(),
            |opp| {
                opp.amount_minor = request.amount_minor;
                opp.currency = request.currency.clone();
                if !request.expected_close_date.is_empty() {
                    opp.expected_close = request.expected_close_date.clone();
                }
            },
        )
        .await
    }

    /// Overrides (or clears the override of) a deal's win probability.
    pub async fn override_probability(
        &self,
        caller: &Caller,
        request: OverrideProbabilityRequest,
    ) -> Result<(Opportunity, Pipeline), Error> {
        rules::id("opportunity_id", &request.opportunity_id, false)?;
        rules::text("reason", &request.reason, MAX_REASON_LEN)?;
        if !request.clear {
            rules::probability("probability_percent", request.probability_percent)?;
            if request.reason.trim().is_empty() {
                return Err(Error::invalid(
                    "reason",
                    "is required to override the stage's probability",
                ));
            }
        }
        self.change_forecast(
            caller,
            &request.opportunity_id,
            request.expected_version,
            request.reason.trim(),
            |opp| {
                if request.clear {
                    opp.probability_override = -1;
                    opp.override_reason.clear();
                } else {
                    opp.probability_override = i64::from(request.probability_percent);
                    opp.override_reason = request.reason.trim().to_string();
                }
            },
        )
        .await
    }

    /// Puts a deal in a forecast category (or back to its stage's default).
    pub async fn set_forecast_category(
        &self,
        caller: &Caller,
        request: SetForecastCategoryRequest,
    ) -> Result<(Opportunity, Pipeline), Error> {
        rules::id("opportunity_id", &request.opportunity_id, false)?;
        let category = request.category.trim();
        if !["", "pipeline", "best_case", "commit"].contains(&category) {
            return Err(Error::invalid(
                "category",
                format!("{category:?} is not pipeline, best_case or commit"),
            ));
        }
        self.change_forecast(
            caller,
            &request.opportunity_id,
            request.expected_version,
            "forecast category",
            |opp| opp.forecast_category = category.to_string(),
        )
        .await
    }

    async fn change_forecast(
        &self,
        caller: &Caller,
        opportunity_id: &str,
        expected_version: i64,
        reason: &str,
        change: impl FnOnce(&mut Opportunity),
    ) -> Result<(Opportunity, Pipeline), Error> {
        let mut tx = self.begin().await?;
        let pipeline = Pipeline::load(&mut tx).await?;
        let scope = self.scope(&mut tx, caller).await?;
        let opp = load(&mut tx, &scope, caller, opportunity_id).await?;
        check_version(&opp, expected_version)?;
        require_open(&opp)?;
        let mut updated = opp.clone();
        change(&mut updated);
        write(&mut tx, &mut updated).await?;
        let now = now_ms();
        let stamp = Stamp {
            by: &caller.subject,
            reason,
            at_ms: now,
        };
        let draft = events::amount_changed(&opp, &updated, &pipeline, stamp);
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        Ok((updated, pipeline))
    }

    /// A manager (or admin) gives an opportunity, and its account, to
    /// another rep. A stage that locks the owner refuses unless an admin
    /// forces it with a reason.
    pub async fn change_owner(
        &self,
        caller: &Caller,
        request: ChangeOwnerRequest,
    ) -> Result<(Opportunity, Pipeline), Error> {
        access::require_manager(caller, "change an owner")?;
        rules::id("opportunity_id", &request.opportunity_id, false)?;
        rules::id("to_rep_id", &request.to_rep_id, false)?;
        rules::text("reason", &request.reason, MAX_REASON_LEN)?;
        if request.force {
            access::require_admin(caller, "force an owner change in a locked stage")?;
            if request.reason.trim().is_empty() {
                return Err(Error::invalid(
                    "reason",
                    "is required to force an owner change",
                ));
            }
        }
        let mut tx = self.begin().await?;
        let pipeline = Pipeline::load(&mut tx).await?;
        let scope = self.scope(&mut tx, caller).await?;
        let opp = load(&mut tx, &scope, caller, &request.opportunity_id).await?;
        let to_team = self
            .team_of(&mut tx, "to_rep_id", &request.to_rep_id)
            .await?;
        scope.check(
            caller,
            &format!("rep {} (team {to_team})", request.to_rep_id),
            &request.to_rep_id,
            &to_team,
        )?;
        check_version(&opp, request.expected_version)?;
        require_open(&opp)?;
        if opp.owner_rep_id == request.to_rep_id {
            return Err(Error::precondition(format!(
                "opportunity {} is already owned by {}",
                opp.opportunity_id, request.to_rep_id
            )));
        }
        let locked = pipeline.get(&opp.stage).is_some_and(|s| s.owner_locked);
        if locked && !request.force {
            return Err(Error::precondition(format!(
                "stage {} locks the owner of opportunity {}; an admin may force the change with a reason",
                opp.stage, opp.opportunity_id
            )));
        }
        let transfer = Transfer {
            to_rep_id: &request.to_rep_id,
            to_team: &to_team,
            by: &caller.subject,
            reason: request.reason.trim(),
            forced: request.force && locked,
        };
        let updated = self
            .transfer_opportunity(&mut tx, &pipeline, &opp, &transfer)
            .await?;
        self.commit(tx).await?;
        Ok((updated, pipeline))
    }

    /// Moves `opp` (and its account, when the same rep owned it) to a new
    /// owner inside `tx`, with history and events.
    pub(crate) async fn transfer_opportunity(
        &self,
        conn: &mut AnyConnection,
        pipeline: &Pipeline,
        opp: &Opportunity,
        transfer: &Transfer<'_>,
    ) -> Result<Opportunity, Error> {
        let now = now_ms();
        let mut updated = opp.clone();
        updated.owner_rep_id = transfer.to_rep_id.to_string();
        updated.team_id = transfer.to_team.to_string();
        write(conn, &mut updated).await?;
        deals::insert_owner_change(
            conn,
            &OwnerChange {
                entity: "opportunity",
                entity_id: &opp.opportunity_id,
                from_rep_id: &opp.owner_rep_id,
                to_rep_id: transfer.to_rep_id,
                by: transfer.by,
                reason: transfer.reason,
                forced: transfer.forced,
                at_ms: now,
            },
        )
        .await?;
        let stamp = Stamp {
            by: transfer.by,
            reason: transfer.reason,
            at_ms: now,
        };
        let draft =
            events::opportunity_owner_changed(opp, &updated, pipeline, transfer.forced, stamp);
        self.emit(conn, draft).await?;
        // One owner per account: the account follows its deal when the
        // previous owner held it.
        if let Some(mut account) = deals::account(conn, &opp.account_id).await?
            && account.owner_rep_id == opp.owner_rep_id
        {
            let seen = account.version;
            account.owner_rep_id = transfer.to_rep_id.to_string();
            account.team_id = transfer.to_team.to_string();
            account.version += 1;
            if !deals::update_account(conn, &account, seen, now).await? {
                return Err(changed("account", &account.account_id));
            }
            deals::insert_owner_change(
                conn,
                &OwnerChange {
                    entity: "account",
                    entity_id: &account.account_id,
                    from_rep_id: &opp.owner_rep_id,
                    to_rep_id: transfer.to_rep_id,
                    by: transfer.by,
                    reason: transfer.reason,
                    forced: transfer.forced,
                    at_ms: now,
                },
            )
            .await?;
            self.emit(
                conn,
                events::account_changed::<AccountOwnerChanged>(&account, now),
            )
            .await?;
        }
        Ok(updated)
    }
}

/// Who takes a deal, and why.
pub(crate) struct Transfer<'a> {
    pub to_rep_id: &'a str,
    pub to_team: &'a str,
    pub by: &'a str,
    pub reason: &'a str,
    pub forced: bool,
}

/// The opportunity, if it exists and `caller` may see it.
async fn load(
    conn: &mut AnyConnection,
    scope: &Scope,
    caller: &Caller,
    opportunity_id: &str,
) -> Result<Opportunity, Error> {
    let opp = deals::opportunity(conn, opportunity_id)
        .await?
        .ok_or_else(|| Error::not_found("opportunity", opportunity_id))?;
    if caller.role == Role::Integration {
        return Err(Error::denied(format!(
            "{} (integration) may not access opportunity {opportunity_id}",
            caller.subject
        )));
    }
    scope.check(
        caller,
        &format!("opportunity {opportunity_id}"),
        &opp.owner_rep_id,
        &opp.team_id,
    )?;
    Ok(opp)
}

/// Writes `opp` conditionally on its version and bumps it.
async fn write(conn: &mut AnyConnection, opp: &mut Opportunity) -> Result<(), Error> {
    if !deals::update_opportunity(conn, opp).await? {
        return Err(changed("opportunity", &opp.opportunity_id));
    }
    opp.version += 1;
    Ok(())
}

fn check_version(opp: &Opportunity, expected: i64) -> Result<(), Error> {
    if expected < 0 {
        return Err(Error::invalid(
            "expected_version",
            format!("{expected} is negative"),
        ));
    }
    if expected != 0 && expected != opp.version {
        return Err(Error::Aborted(format!(
            "opportunity {} is at version {}, not {expected}: it was changed meanwhile; read it again",
            opp.opportunity_id, opp.version
        )));
    }
    Ok(())
}

fn require_open(opp: &Opportunity) -> Result<(), Error> {
    if opp.status == "open" {
        Ok(())
    } else {
        Err(Error::precondition(format!(
            "opportunity {} is {} ({}); closed deals do not change",
            opp.opportunity_id, opp.status, opp.stage
        )))
    }
}

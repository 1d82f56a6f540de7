//! Leads in work: reading them, converting one into an account and an
//! opportunity, disqualifying one, and follow-up dates.

use leadwheel_plumbing::auth::Caller;
use leadwheel_plumbing::contracts::{AccountCreated, AccountUpdated};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_plumbing::{ids, now_ms};
use leadwheel_proto::opportunity::v1::{ConvertLeadRequest, DisqualifyLeadRequest};
use sqlx::AnyConnection;

use super::{Pipeline, Service};
use crate::access::Scope;
use crate::error::Error;
use crate::events;
use crate::rules::{self, MAX_NAME_LEN, MAX_REASON_LEN};
use crate::store::deals::{self, Account, Opportunity, StageChange};
use crate::store::{self, LeadInWork, STATUS_CONVERTED, STATUS_DISQUALIFIED, STATUS_IN_WORK};

/// What a conversion made.
#[derive(Debug)]
pub struct Converted {
    /// The account (new or joined).
    pub account: Account,
    /// The new opportunity.
    pub opportunity: Opportunity,
    /// The stages, for the opportunity's probability.
    pub pipeline: Pipeline,
    /// True when the lead joined an existing account.
    pub joined: bool,
}

impl Service {
    /// The lead in work `lead_id`, if `caller` may see it.
    pub async fn get_lead(&self, caller: &Caller, lead_id: &str) -> Result<LeadInWork, Error> {
        rules::id("lead_id", lead_id, false)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        load_lead(&mut conn, &scope, caller, lead_id).await
    }

    /// A page of the leads `caller` may see (of `rep_id`, or everyone's).
    pub async fn list_leads(
        &self,
        caller: &Caller,
        rep_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<LeadInWork>, String), Error> {
        rules::id("rep_id", rep_id, true)?;
        let limit = paging::page_size(page_size)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        let filter = scope.list_filter(caller, rep_id)?;
        let key = filter.key("leads");
        let cursor = Cursor::decode(page_token, &key)?;
        let mut leads = store::list_leads(
            &mut conn,
            filter.owner.as_deref(),
            filter.teams.as_deref(),
            (cursor.after_ms, &cursor.after_id),
            limit + 1,
        )
        .await?;
        let next = next_token(&mut leads, limit, &key, |lead| {
            (lead.opened_at_ms, lead.lead_id.clone())
        });
        Ok((leads, next))
    }

    /// Converts a lead in work into an account (joining the one that owns
    /// any of its domains) and an opportunity.
    pub async fn convert(
        &self,
        caller: &Caller,
        request: ConvertLeadRequest,
    ) -> Result<Converted, Error> {
        rules::id("request_id", &request.request_id, true)?;
        rules::id("lead_id", &request.lead_id, false)?;
        rules::required("account_name", &request.account_name, MAX_NAME_LEN)?;
        let domains = rules::domains("domains", &request.domains)?;
        rules::text("tier", &request.tier, MAX_NAME_LEN)?;
        rules::text("opportunity_name", &request.opportunity_name, MAX_NAME_LEN)?;
        rules::amount("amount_minor", request.amount_minor)?;
        rules::currency("currency", &request.currency)?;
        rules::date("expected_close_date", &request.expected_close_date, true)?;
        rules::text("stage", &request.stage, MAX_NAME_LEN)?;

        let mut tx = self.begin().await?;
        let pipeline = Pipeline::load(&mut tx).await?;
        let stage = if request.stage.is_empty() {
            pipeline
                .first_open()
                .ok_or_else(|| Error::precondition("the pipeline has no open stage"))?
        } else {
            pipeline.require("stage", &request.stage)?
        };
        if stage.outcome != "open" {
            return Err(Error::invalid(
                "stage",
                format!(
                    "{:?} closes a deal; a new opportunity starts in an open stage",
                    stage.name
                ),
            ));
        }
        let stage = stage.clone();
        let scope = self.scope(&mut tx, caller).await?;
        let lead = load_lead(&mut tx, &scope, caller, &request.lead_id).await?;
        if !request.request_id.is_empty()
            && let Some(opp) = deals::opportunity_by_request(&mut tx, &request.request_id).await?
            && opp.lead_id == lead.lead_id
        {
            // A retry of a conversion that committed: answer as the first time.
            let account = deals::account(&mut tx, &opp.account_id)
                .await?
                .ok_or_else(|| Error::not_found("account", &opp.account_id))?;
            return Ok(Converted {
                account,
                opportunity: opp,
                pipeline,
                joined: false,
            });
        }
        if lead.status != STATUS_IN_WORK {
            return Err(Error::precondition(format!(
                "lead {} is {}, not in work",
                lead.lead_id, lead.status
            )));
        }

        let now = now_ms();
        let by = caller.subject.clone();
        let owners = deals::accounts_owning(&mut tx, &domains).await?;
        if owners.len() > 1 {
            return Err(Error::precondition(format!(
                "the domains belong to different accounts ({}); convert with one company's domains",
                owners.join(", ")
            )));
        }
        let (account, joined) = match owners.first() {
            Some(account_id) => {
                let mut account = deals::account(&mut tx, account_id)
                    .await?
                    .ok_or_else(|| Error::not_found("account", account_id))?;
                let new: Vec<String> = domains
                    .iter()
                    .filter(|d| !account.domains.contains(d))
                    .cloned()
                    .collect();
                if !new.is_empty() {
                    for domain in &new {
                        if !deals::claim_domain(&mut tx, domain, account_id).await? {
                            return Err(domain_taken(domain));
                        }
                    }
                    let seen = account.version;
                    account.domains.extend(new);
                    account.domains.sort();
                    account.version += 1;
                    if !deals::update_account(&mut tx, &account, seen, now).await? {
                        return Err(changed("account", account_id));
                    }
                    self.emit(
                        &mut tx,
                        events::account_changed::<AccountUpdated>(&account, now),
                    )
                    .await?;
                }
                (account, true)
            }
            None => {
                let account = Account {
                    account_id: ids::prefixed("acct"),
                    name: request.account_name.trim().to_string(),
                    domains: domains.clone(),
                    tier: request.tier.trim().to_string(),
                    owner_rep_id: lead.rep_id.clone(),
                    team_id: lead.team_id.clone(),
                    status: "active".into(),
                    version: 1,
                    created_at_ms: now,
                };
                deals::insert_account(&mut tx, &account).await?;
                for domain in &domains {
                    if !deals::claim_domain(&mut tx, domain, &account.account_id).await? {
                        return Err(domain_taken(domain));
                    }
                }
                self.emit(
                    &mut tx,
                    events::account_changed::<AccountCreated>(&account, now),
                )
                .await?;
                (account, false)
            }
        };

        // One owner per account: a deal in a known account is its owner's.
        let name = if request.opportunity_name.trim().is_empty() {
            account.name.clone()
        } else {
            request.opportunity_name.trim().to_string()
        };
        let opportunity = Opportunity {
            opportunity_id: ids::prefixed("opp"),
            account_id: account.account_id.clone(),
            lead_id: lead.lead_id.clone(),
            name,
            owner_rep_id: account.owner_rep_id.clone(),
            team_id: account.team_id.clone(),
            stage: stage.name.clone(),
            status: "open".into(),
            amount_minor: request.amount_minor,
            currency: request.currency.clone(),
            expected_close: if request.expected_close_date.is_empty() {
                rules::date_after(now, self.settings.default_close_days)
            } else {
                request.expected_close_date.clone()
            },
            probability_override: -1,
            forecast_category: String::new(),
            override_reason: String::new(),
            next_follow_up: lead.next_follow_up.clone(),
            touch_count: 0,
            close_reason: String::new(),
            stage_entered_at_ms: now,
            created_at_ms: now,
            version: 1,
        };
        deals::insert_opportunity(&mut tx, &opportunity, &request.request_id).await?;
        deals::insert_stage_change(
            &mut tx,
            &opportunity.opportunity_id,
            &StageChange {
                from_stage: String::new(),
                to_stage: stage.name.clone(),
                by: by.clone(),
                reason: format!("converted from lead {}", lead.lead_id),
                at_ms: now,
            },
        )
        .await?;
        let mut updated = lead.clone();
        updated.status = STATUS_CONVERTED.into();
        updated.account_id = account.account_id.clone();
        updated.opportunity_id = opportunity.opportunity_id.clone();
        if !store::update_lead(&mut tx, &updated).await? {
            return Err(changed("lead", &lead.lead_id));
        }
        store::activities::attach_lead_to_account(&mut tx, &lead.lead_id, &account.account_id)
            .await?;
        let converted = events::lead_converted(&lead, &account, &opportunity, now);
        self.emit(&mut tx, converted).await?;
        let opened = events::opportunity_opened(&opportunity, &pipeline, by, now);
        self.emit(&mut tx, opened).await?;
        self.commit(tx).await?;
        tracing::info!(lead_id = %lead.lead_id, account_id = %account.account_id, opportunity_id = %opportunity.opportunity_id, joined, "lead converted");
        Ok(Converted {
            account,
            opportunity,
            pipeline,
            joined,
        })
    }

    /// Disqualifies a lead in work with one of the configured reasons.
    pub async fn disqualify(
        &self,
        caller: &Caller,
        request: DisqualifyLeadRequest,
    ) -> Result<LeadInWork, Error> {
        rules::id("lead_id", &request.lead_id, false)?;
        if !self.settings.disqualify_reasons.contains(&request.reason) {
            return Err(Error::invalid(
                "reason",
                format!(
                    "{:?} is not a disqualification reason (reasons: {})",
                    request.reason,
                    self.settings.disqualify_reasons.join(", ")
                ),
            ));
        }
        rules::text("note", &request.note, MAX_REASON_LEN)?;
        let mut tx = self.begin().await?;
        let scope = self.scope(&mut tx, caller).await?;
        let lead = load_lead(&mut tx, &scope, caller, &request.lead_id).await?;
        if lead.status != STATUS_IN_WORK {
            return Err(Error::precondition(format!(
                "lead {} is {}, not in work",
                lead.lead_id, lead.status
            )));
        }
        let mut updated = lead.clone();
        updated.status = STATUS_DISQUALIFIED.into();
        updated.disqualify_reason = request.reason.clone();
        if !store::update_lead(&mut tx, &updated).await? {
            return Err(changed("lead", &lead.lead_id));
        }
        store::set_disqualify_note(&mut tx, &lead.lead_id, &request.note).await?;
        let draft =
            events::lead_disqualified(&lead, request.reason, request.back_to_pool, now_ms());
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        updated.version += 1;
        Ok(updated)
    }

    /// Sets (or, with an empty date, clears) the next follow-up of a lead
    /// or an opportunity.
    pub async fn set_follow_up(
        &self,
        caller: &Caller,
        lead_id: &str,
        opportunity_id: &str,
        date: &str,
    ) -> Result<String, Error> {
        rules::id("lead_id", lead_id, true)?;
        rules::id("opportunity_id", opportunity_id, true)?;
        if lead_id.is_empty() == opportunity_id.is_empty() {
            return Err(Error::invalid(
                "lead_id",
                "name exactly one of lead_id and opportunity_id",
            ));
        }
        rules::date("date", date, true)?;
        let mut tx = self.begin().await?;
        let scope = self.scope(&mut tx, caller).await?;
        let (owner, team) = if !lead_id.is_empty() {
            let mut lead = load_lead(&mut tx, &scope, caller, lead_id).await?;
            lead.next_follow_up = date.to_string();
            if !store::update_lead(&mut tx, &lead).await? {
                return Err(changed("lead", lead_id));
            }
            (lead.rep_id, lead.team_id)
        } else {
            let mut opp = deals::opportunity(&mut tx, opportunity_id)
                .await?
                .ok_or_else(|| Error::not_found("opportunity", opportunity_id))?;
            scope.check(
                caller,
                &format!("opportunity {opportunity_id}"),
                &opp.owner_rep_id,
                &opp.team_id,
            )?;
            opp.next_follow_up = date.to_string();
            if !deals::update_opportunity(&mut tx, &opp).await? {
                return Err(changed("opportunity", opportunity_id));
            }
            (opp.owner_rep_id, opp.team_id)
        };
        let stamp = events::Stamp {
            by: &caller.subject,
            reason: "",
            at_ms: now_ms(),
        };
        let draft = events::follow_up_set(lead_id, opportunity_id, (owner, team), date, stamp);
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        Ok(date.to_string())
    }
}

/// Keeps the first `limit` rows and returns the next page's token (empty
/// when this is the last page); `limit + 1` rows were fetched. `position`
/// gives a row's place in the order of `query`: its sort time and its id.
pub(crate) fn next_token<T>(
    rows: &mut Vec<T>,
    limit: i64,
    query: &str,
    position: impl Fn(&T) -> (i64, String),
) -> String {
    if rows.len() as i64 <= limit {
        return String::new();
    }
    rows.truncate(limit as usize);
    rows.last()
        .map(|last| {
            let (after_ms, after_id) = position(last);
            Cursor {
                query: query.to_string(),
                after_ms,
                after_id,
            }
            .encode()
        })
        .unwrap_or_default()
}

/// The lead in work `lead_id`, if it exists and `scope` lets `caller` see it.
pub(crate) async fn load_lead(
    conn: &mut AnyConnection,
    scope: &Scope,
    caller: &Caller,
    lead_id: &str,
) -> Result<LeadInWork, Error> {
    let lead = store::lead(conn, lead_id)
        .await?
        .ok_or_else(|| Error::LeadNotFound(lead_id.to_string()))?;
    scope.check(
        caller,
        &format!("lead {lead_id}"),
        &lead.rep_id,
        &lead.team_id,
    )?;
    Ok(lead)
}

/// Someone changed `what` between our read and our write.
pub(crate) fn changed(what: &str, id: &str) -> Error {
    Error::Aborted(format!(
        "{what} {id} was changed concurrently; read it again and retry"
    ))
}

fn domain_taken(domain: &str) -> Error {
    Error::Aborted(format!(
        "domain {domain} was just claimed by another account; retry to join it"
    ))
}

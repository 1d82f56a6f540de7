//! The handover of a leaving rep: a plan proposing an action for every lead
//! and opportunity they own, edited by a manager, applied exactly once
//! (a conditional update from "draft"), creating tasks per customer for the
//! new owners, and complete when every task is done.

use std::collections::BTreeSet;

use leadwheel_plumbing::auth::Caller;
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_plumbing::{ids, now_ms};
use sqlx::AnyConnection;

use super::deals::Transfer;
use super::leads::{changed, next_token};
use super::{Pipeline, Service};
use crate::access::{self, Scope};
use crate::error::Error;
use crate::events;
use crate::rules;
use crate::store::handover::{self as plans, Handover, Item, Task};
use crate::store::{self, STATUS_IN_WORK, STATUS_RETURNED, deals};

/// Reassign the item to `to_rep_id`.
pub const REASSIGN: &str = "reassign";
/// Hand the lead back to the wheel.
pub const RETURN: &str = "return";
/// Undecided: blocks applying.
pub const MANAGER_DECIDES: &str = "manager_decides";

/// A plan with its progress.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The plan.
    pub handover: Handover,
    /// Its items.
    pub items: i64,
    /// Items still for the manager to decide.
    pub undecided: i64,
    /// Tasks created.
    pub tasks_total: i64,
    /// Tasks done.
    pub tasks_done: i64,
}

impl Service {
    /// Starts the plan for `rep_id`: leads go back to the wheel (or to the
    /// successor), opportunities to the successor; with no successor they
    /// are for the manager to decide.
    pub async fn start_handover(
        &self,
        caller: &Caller,
        rep_id: &str,
        successor_rep_id: &str,
        leads_to_successor: bool,
    ) -> Result<Summary, Error> {
        access::require_manager(caller, "start a handover")?;
        rules::id("rep_id", rep_id, false)?;
        rules::id("successor_rep_id", successor_rep_id, true)?;
        if successor_rep_id == rep_id {
            return Err(Error::invalid(
                "successor_rep_id",
                "is the leaving rep; name someone else",
            ));
        }
        if leads_to_successor && successor_rep_id.is_empty() {
            return Err(Error::invalid(
                "successor_rep_id",
                "is required to give leads to a successor",
            ));
        }
        let mut tx = self.begin().await?;
        let scope = self.scope(&mut tx, caller).await?;
        let team = self.last_team_of(&mut tx, "rep_id", rep_id).await?;
        scope.check(
            caller,
            &format!("rep {rep_id} (team {team})"),
            rep_id,
            &team,
        )?;
        if !successor_rep_id.is_empty() {
            let successor_team = self
                .team_of(&mut tx, "successor_rep_id", successor_rep_id)
                .await?;
            scope.check(
                caller,
                &format!("rep {successor_rep_id} (team {successor_team})"),
                successor_rep_id,
                &successor_team,
            )?;
        }
        if let Some(existing) = plans::draft_of(&mut tx, rep_id).await? {
            return Err(Error::precondition(format!(
                "rep {rep_id} already has a draft handover {existing}; edit or apply it"
            )));
        }
        let pipeline = Pipeline::load(&mut tx).await?;
        let mut items = Vec::new();
        for lead in store::leads_in_work_of(&mut tx, rep_id).await? {
            let (action, to) = if leads_to_successor {
                (REASSIGN, successor_rep_id)
            } else {
                (RETURN, "")
            };
            items.push(Item {
                kind: "lead".into(),
                item_id: lead.lead_id,
                stage: lead.status,
                action: action.into(),
                to_rep_id: to.into(),
                ..Default::default()
            });
        }
        for opp in deals::open_opportunities_of(&mut tx, rep_id).await? {
            let locked = pipeline.get(&opp.stage).is_some_and(|s| s.owner_locked);
            let (action, to) = if successor_rep_id.is_empty() {
                (MANAGER_DECIDES, "")
            } else {
                (REASSIGN, successor_rep_id)
            };
            items.push(Item {
                kind: "opportunity".into(),
                item_id: opp.opportunity_id,
                account_id: opp.account_id,
                stage: opp.stage,
                owner_locked: locked,
                action: action.into(),
                to_rep_id: to.into(),
                amount_minor: opp.amount_minor,
                currency: opp.currency,
            });
        }
        let handover = Handover {
            handover_id: ids::prefixed("ho"),
            rep_id: rep_id.into(),
            team_id: team,
            state: "draft".into(),
            successor_rep_id: successor_rep_id.into(),
            created_by: caller.subject.clone(),
            created_at_ms: now_ms(),
            applied_at_ms: 0,
        };
        plans::insert(&mut tx, &handover, &items).await?;
        let count = |kind: &str| items.iter().filter(|i| i.kind == kind).count() as i32;
        let counts = events::PlanCounts {
            leads: count("lead"),
            opportunities: count("opportunity"),
            undecided: items.iter().filter(|i| i.action == MANAGER_DECIDES).count() as i32,
        };
        let started = events::handover_started(&handover, counts, &caller.subject);
        self.emit(&mut tx, started).await?;
        let summary = summary(&mut tx, handover).await?;
        self.commit(tx).await?;
        Ok(summary)
    }

    /// The plan and its progress.
    pub async fn get_handover(&self, caller: &Caller, handover_id: &str) -> Result<Summary, Error> {
        let mut conn = self.read().await?;
        let handover = self.load_plan(&mut conn, caller, handover_id).await?;
        summary(&mut conn, handover).await
    }

    /// A page of the plan's items.
    pub async fn handover_items(
        &self,
        caller: &Caller,
        handover_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Item>, String), Error> {
        let limit = paging::page_size(page_size)?;
        let mut conn = self.read().await?;
        self.load_plan(&mut conn, caller, handover_id).await?;
        let key = format!("handover-items;{handover_id}");
        let cursor = Cursor::decode(page_token, &key)?;
        let (kind, item) = cursor.after_id.split_once('/').unwrap_or(("", ""));
        let mut items = plans::items_after(&mut conn, handover_id, (kind, item), limit + 1).await?;
        // Items sort by kind and id alone: no time in their position.
        let next = next_token(&mut items, limit, &key, |i| {
            (0, format!("{}/{}", i.kind, i.item_id))
        });
        Ok((items, next))
    }

    /// Changes one item of a draft plan.
    pub async fn edit_handover_item(
        &self,
        caller: &Caller,
        handover_id: &str,
        kind: &str,
        item_id: &str,
        action: &str,
        to_rep_id: &str,
    ) -> Result<Item, Error> {
        access::require_manager(caller, "edit a handover")?;
        rules::id("item_id", item_id, false)?;
        if kind != "lead" && kind != "opportunity" {
            return Err(Error::invalid(
                "kind",
                format!("{kind:?} is not lead or opportunity"),
            ));
        }
        rules::id("to_rep_id", to_rep_id, true)?;
        let mut tx = self.begin().await?;
        let handover = self.load_plan(&mut tx, caller, handover_id).await?;
        if handover.state != "draft" {
            return Err(Error::precondition(format!(
                "handover {handover_id} is {}; only a draft changes",
                handover.state
            )));
        }
        let mut item = plans::item(&mut tx, handover_id, kind, item_id)
            .await?
            .ok_or_else(|| Error::not_found("handover item", format!("{kind}/{item_id}")))?;
        match action {
            REASSIGN => {
                if to_rep_id == handover.rep_id || to_rep_id.is_empty() {
                    return Err(Error::invalid(
                        "to_rep_id",
                        "name the rep taking it over (not the leaving rep)",
                    ));
                }
                let team = self.team_of(&mut tx, "to_rep_id", to_rep_id).await?;
                let scope = self.scope(&mut tx, caller).await?;
                scope.check(
                    caller,
                    &format!("rep {to_rep_id} (team {team})"),
                    to_rep_id,
                    &team,
                )?;
            }
            RETURN if kind == "lead" => {}
            RETURN => {
                return Err(Error::invalid(
                    "action",
                    "only leads go back to the wheel; reassign the opportunity",
                ));
            }
            MANAGER_DECIDES => {}
            _ => return Err(Error::invalid("action", "is required")),
        }
        item.action = action.to_string();
        item.to_rep_id = if action == REASSIGN {
            to_rep_id.to_string()
        } else {
            String::new()
        };
        if !plans::set_item_action(&mut tx, handover_id, &item).await? {
            return Err(changed("handover", handover_id));
        }
        self.commit(tx).await?;
        Ok(item)
    }

    /// Applies a draft plan in one transaction, exactly once.
    pub async fn apply_handover(
        &self,
        caller: &Caller,
        handover_id: &str,
        task_due_days: i32,
    ) -> Result<Summary, Error> {
        access::require_manager(caller, "apply a handover")?;
        let due_days = match task_due_days {
            0 => 3,
            1..=60 => i64::from(task_due_days),
            other => {
                return Err(Error::invalid(
                    "task_due_days",
                    format!("{other} is not between 1 and 60"),
                ));
            }
        };
        let mut tx = self.begin().await?;
        let handover = self.load_plan(&mut tx, caller, handover_id).await?;
        let already = || {
            Error::precondition(format!(
                "handover {handover_id} is already applied; it applies once"
            ))
        };
        if handover.state != "draft" {
            return Err(already());
        }
        let (_, undecided) = plans::item_counts(&mut tx, handover_id).await?;
        if undecided > 0 {
            return Err(Error::precondition(format!(
                "handover {handover_id} has {undecided} items for the manager to decide; edit them first"
            )));
        }
        let now = now_ms();
        // The conditional update is the first write, so a racing apply
        // waits on it and then finds the plan no longer a draft.
        if !plans::transition(
            &mut tx,
            handover_id,
            "draft",
            "applied",
            &caller.subject,
            now,
        )
        .await?
        {
            return Err(already());
        }
        let pipeline = Pipeline::load(&mut tx).await?;
        let due = rules::date_after(now, due_days);
        let reason = format!("handover {handover_id} of rep {}", handover.rep_id);
        let mut moved = Moved::default();
        let mut customers = BTreeSet::new();
        for item in plans::items(&mut tx, handover_id).await? {
            let to_team = if item.action == REASSIGN {
                self.team_of(&mut tx, "to_rep_id", &item.to_rep_id).await?
            } else {
                String::new()
            };
            if item.kind == "lead" {
                let Some(lead) = store::lead(&mut tx, &item.item_id).await? else {
                    continue;
                };
                // Changed since the plan was made (converted, disqualified,
                // reassigned by the wheel): it is no longer the leaver's.
                if lead.status != STATUS_IN_WORK || lead.rep_id != handover.rep_id {
                    continue;
                }
                let mut updated = lead.clone();
                let stamp = events::Stamp {
                    by: &caller.subject,
                    reason: &reason,
                    at_ms: now,
                };
                if item.action == RETURN {
                    updated.status = STATUS_RETURNED.into();
                    self.emit(&mut tx, events::lead_returned(&lead, stamp))
                        .await?;
                    moved.leads_returned += 1;
                } else {
                    updated.rep_id = item.to_rep_id.clone();
                    updated.team_id = to_team.clone();
                    self.emit(&mut tx, events::lead_owner_changed(&lead, &updated, stamp))
                        .await?;
                    if customers.insert((item.to_rep_id.clone(), format!("lead/{}", lead.lead_id)))
                    {
                        moved.tasks.push(task(
                            &handover,
                            &item.to_rep_id,
                            &to_team,
                            "email",
                            "",
                            &lead.lead_id,
                            &due,
                        ));
                    }
                }
                if !store::update_lead(&mut tx, &updated).await? {
                    return Err(changed("lead", &lead.lead_id));
                }
                moved.leads += 1;
            } else {
                let Some(opp) = deals::opportunity(&mut tx, &item.item_id).await? else {
                    continue;
                };
                if opp.status != "open" || opp.owner_rep_id != handover.rep_id {
                    continue;
                }
                let transfer = Transfer {
                    to_rep_id: &item.to_rep_id,
                    to_team: &to_team,
                    by: &caller.subject,
                    reason: &reason,
                    forced: false,
                };
                self.transfer_opportunity(&mut tx, &pipeline, &opp, &transfer)
                    .await?;
                moved.opportunities += 1;
                // One task per customer and new owner: a visit for a deal in
                // a locked (late) stage, a call otherwise.
                let kind = if item.owner_locked { "visit" } else { "call" };
                if customers.insert((
                    item.to_rep_id.clone(),
                    format!("account/{}", opp.account_id),
                )) {
                    moved.tasks.push(task(
                        &handover,
                        &item.to_rep_id,
                        &to_team,
                        kind,
                        &opp.account_id,
                        "",
                        &due,
                    ));
                }
            }
        }
        for task in &moved.tasks {
            plans::insert_task(&mut tx, task, now).await?;
            self.emit(&mut tx, events::handover_task_created(task, now))
                .await?;
        }
        let counts = events::AppliedCounts {
            leads_moved: moved.leads,
            opportunities_moved: moved.opportunities,
            leads_returned: moved.leads_returned,
            tasks_created: moved.tasks.len() as i32,
        };
        let applied = events::handover_applied(&handover, counts, &caller.subject, now);
        self.emit(&mut tx, applied).await?;
        if moved.tasks.is_empty() {
            self.complete_plan(&mut tx, &handover, 0, now).await?;
        }
        let mut handover = handover;
        handover.state = if moved.tasks.is_empty() {
            "completed".into()
        } else {
            "applied".into()
        };
        handover.applied_at_ms = now;
        let summary = summary(&mut tx, handover).await?;
        self.commit(tx).await?;
        tracing::info!(handover_id, rep_id = %summary.handover.rep_id, leads = moved.leads, opportunities = moved.opportunities, tasks = moved.tasks.len(), "handover applied");
        Ok(summary)
    }

    /// The plan, if it exists and `caller` manages the leaving rep.
    async fn load_plan(
        &self,
        conn: &mut AnyConnection,
        caller: &Caller,
        handover_id: &str,
    ) -> Result<Handover, Error> {
        rules::id("handover_id", handover_id, false)?;
        let handover = plans::get(conn, handover_id)
            .await?
            .ok_or_else(|| Error::not_found("handover", handover_id))?;
        let scope = self.scope(conn, caller).await?;
        // The leaving rep may look at their own plan; managers of their
        // team and admins may look at and change it.
        let visible = scope.covers(&handover.rep_id, &handover.team_id)
            || matches!(&scope, Scope::Own(rep) if *rep == handover.rep_id);
        if !visible {
            return Err(Error::denied(format!(
                "{} may not access handover {handover_id}",
                caller.subject
            )));
        }
        Ok(handover)
    }
}

#[derive(Default)]
struct Moved {
    leads: i32,
    leads_returned: i32,
    opportunities: i32,
    tasks: Vec<Task>,
}

fn task(
    handover: &Handover,
    owner: &str,
    team: &str,
    kind: &str,
    account_id: &str,
    lead_id: &str,
    due: &str,
) -> Task {
    Task {
        task_id: ids::prefixed("task"),
        handover_id: handover.handover_id.clone(),
        owner_rep_id: owner.to_string(),
        team_id: team.to_string(),
        kind: kind.to_string(),
        account_id: account_id.to_string(),
        lead_id: lead_id.to_string(),
        due_date: due.to_string(),
        done_at_ms: 0,
    }
}

pub(super) async fn summary(
    conn: &mut AnyConnection,
    handover: Handover,
) -> Result<Summary, Error> {
    let (items, undecided) = plans::item_counts(conn, &handover.handover_id).await?;
    let (tasks_total, tasks_done) = plans::task_counts(conn, &handover.handover_id).await?;
    Ok(Summary {
        handover,
        items,
        undecided,
        tasks_total,
        tasks_done,
    })
}

//! Handover tasks: listing them, completing one (announced as
//! `opps.handover.task_completed`), and completing the handover when its
//! last task is done.

use leadwheel_plumbing::auth::Caller;
use leadwheel_plumbing::now_ms;
use leadwheel_plumbing::paging::{self, Cursor};
use sqlx::AnyConnection;

use super::Service;
use super::handover::{Summary, summary};
use super::leads::{changed, next_token};
use crate::error::Error;
use crate::events;
use crate::rules;
use crate::store::handover::{self as plans, Handover, Task};

impl Service {
    /// A page of tasks `caller` may see.
    pub async fn list_tasks(
        &self,
        caller: &Caller,
        owner_rep_id: &str,
        handover_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Task>, String), Error> {
        rules::id("owner_rep_id", owner_rep_id, true)?;
        rules::id("handover_id", handover_id, true)?;
        let limit = paging::page_size(page_size)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        let filter = scope.list_filter(caller, owner_rep_id)?;
        let key = format!("{};handover={handover_id}", filter.key("tasks"));
        let cursor = Cursor::decode(page_token, &key)?;
        let mut tasks = plans::list_tasks(
            &mut conn,
            filter.owner.as_deref().unwrap_or_default(),
            filter.teams.as_deref(),
            handover_id,
            &cursor.after_id,
            limit + 1,
        )
        .await?;
        // Tasks sort by id alone: no time in their position.
        let next = next_token(&mut tasks, limit, &key, |t| (0, t.task_id.clone()));
        Ok((tasks, next))
    }

    /// Marks a task done; the last one completes its handover.
    pub async fn complete_task(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<(Task, Summary), Error> {
        rules::id("task_id", task_id, false)?;
        let mut tx = self.begin().await?;
        let mut task = plans::task(&mut tx, task_id)
            .await?
            .ok_or_else(|| Error::not_found("task", task_id))?;
        let scope = self.scope(&mut tx, caller).await?;
        scope.check(
            caller,
            &format!("task {task_id}"),
            &task.owner_rep_id,
            &task.team_id,
        )?;
        let now = now_ms();
        if !plans::complete_task(&mut tx, task_id, now).await? {
            return Err(Error::precondition(format!(
                "task {task_id} is already done"
            )));
        }
        task.done_at_ms = now;
        // Alerting stops the task's overdue timer on this; the handover's
        // completion (below, with the last task) follows it.
        let done = events::handover_task_completed(&task, &caller.subject, now);
        self.emit(&mut tx, done).await?;
        let handover = plans::get(&mut tx, &task.handover_id)
            .await?
            .ok_or_else(|| Error::not_found("handover", &task.handover_id))?;
        let (total, done) = plans::task_counts(&mut tx, &task.handover_id).await?;
        let mut handover = handover;
        if total == done && handover.state == "applied" {
            self.complete_plan(&mut tx, &handover, done, now).await?;
            handover.state = "completed".into();
        }
        let summary = summary(&mut tx, handover).await?;
        self.commit(tx).await?;
        Ok((task, summary))
    }

    pub(super) async fn complete_plan(
        &self,
        conn: &mut AnyConnection,
        handover: &Handover,
        tasks_done: i64,
        now: i64,
    ) -> Result<(), Error> {
        if !plans::transition(conn, &handover.handover_id, "applied", "completed", "", now).await? {
            return Err(changed("handover", &handover.handover_id));
        }
        let draft = events::handover_completed(handover, tasks_done as i32, now);
        self.emit(conn, draft).await
    }
}

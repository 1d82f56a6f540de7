//! Activities: calls (with recording links and notes anchored in the
//! recording), emails, visits, meetings and notes; touch counts, follow-up
//! dates and a customer's whole history.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_plumbing::{ids, now_ms};
use leadwheel_proto::opportunity::v1::{ActivityKind, LogActivityRequest};

use super::Service;
use super::leads::{changed, load_lead, next_token};
use crate::error::Error;
use crate::events;
use crate::rules::{
    self, MAX_BODY_LEN, MAX_CALL_NOTE_LEN, MAX_CALL_NOTES, MAX_CALL_SECONDS, MAX_NAME_LEN,
};
use crate::store::activities::{self, Activity};
use crate::store::{self, deals};

/// How far in the future an activity may be dated (clock skew).
const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

/// The stored name of an activity kind.
pub fn kind_name(kind: ActivityKind) -> Option<&'static str> {
    match kind {
        ActivityKind::Call => Some("call"),
        ActivityKind::Email => Some("email"),
        ActivityKind::Visit => Some("visit"),
        ActivityKind::Meeting => Some("meeting"),
        ActivityKind::Note => Some("note"),
        ActivityKind::Unspecified => None,
    }
}

impl Service {
    /// Logs a touch on a lead or an opportunity; returns it and the touch
    /// count. A retried request_id returns the first.
    pub async fn log_activity(
        &self,
        caller: &Caller,
        request: LogActivityRequest,
    ) -> Result<(Activity, i64), Error> {
        rules::id("request_id", &request.request_id, true)?;
        rules::id("lead_id", &request.lead_id, true)?;
        rules::id("opportunity_id", &request.opportunity_id, true)?;
        if request.lead_id.is_empty() == request.opportunity_id.is_empty() {
            return Err(Error::invalid(
                "lead_id",
                "name exactly one of lead_id and opportunity_id",
            ));
        }
        let kind = ActivityKind::try_from(request.kind)
            .ok()
            .and_then(kind_name)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!(
                        "{} is not an activity kind (call, email, visit, meeting, note)",
                        request.kind
                    ),
                )
            })?;
        let now = now_ms();
        let at_ms = match request.at_ms {
            0 => now,
            at if at < 0 => {
                return Err(Error::invalid("at_ms", format!("{at} is negative")));
            }
            at if at > now + MAX_FUTURE_MS => {
                return Err(Error::invalid("at_ms", format!("{at} is in the future")));
            }
            at => at,
        };
        check_call(kind, &request)?;
        rules::text("subject", &request.subject, MAX_NAME_LEN)?;
        rules::text("body", &request.body, MAX_BODY_LEN)?;
        rules::date("next_follow_up_date", &request.next_follow_up_date, true)?;

        let mut tx = self.begin().await?;
        if !request.request_id.is_empty()
            && let Some(first) =
                activities::by_request(&mut tx, &request.request_id, &caller.subject).await?
        {
            let touches = touches_of(&mut tx, &first).await?;
            return Ok((first, touches));
        }
        let scope = self.scope(&mut tx, caller).await?;
        // Integrations (a telephony system, a mail gateway) log touches on
        // anything; they still read nothing.
        let check = |what: String, owner: &str, team: &str| {
            if caller.role == Role::Integration {
                Ok(())
            } else {
                scope.check(caller, &what, owner, team)
            }
        };
        let mut activity = Activity {
            activity_id: ids::prefixed("act"),
            kind: kind.to_string(),
            by: caller.subject.clone(),
            at_ms,
            duration_seconds: request.duration_seconds,
            outcome: request.outcome.trim().to_string(),
            recording_url: request.recording_url.clone(),
            notes: request
                .notes
                .iter()
                .map(|n| (n.offset_seconds, n.text.clone()))
                .collect(),
            subject: request.subject.clone(),
            body: request.body.clone(),
            logged_at_ms: now,
            ..Default::default()
        };
        let (owner, team, touches, stage) = if !request.lead_id.is_empty() {
            let mut lead = store::lead(&mut tx, &request.lead_id)
                .await?
                .ok_or_else(|| Error::LeadNotFound(request.lead_id.clone()))?;
            check(
                format!("lead {}", lead.lead_id),
                &lead.rep_id,
                &lead.team_id,
            )?;
            lead.touch_count += 1;
            if !request.next_follow_up_date.is_empty() {
                lead.next_follow_up = request.next_follow_up_date.clone();
            }
            if !store::update_lead(&mut tx, &lead).await? {
                return Err(changed("lead", &lead.lead_id));
            }
            activity.lead_id = lead.lead_id.clone();
            activity.account_id = lead.account_id.clone();
            (
                lead.rep_id,
                lead.team_id,
                lead.touch_count,
                "lead".to_string(),
            )
        } else {
            let mut opp = deals::opportunity(&mut tx, &request.opportunity_id)
                .await?
                .ok_or_else(|| Error::not_found("opportunity", &request.opportunity_id))?;
            check(
                format!("opportunity {}", opp.opportunity_id),
                &opp.owner_rep_id,
                &opp.team_id,
            )?;
            opp.touch_count += 1;
            if !request.next_follow_up_date.is_empty() {
                opp.next_follow_up = request.next_follow_up_date.clone();
            }
            if !deals::update_opportunity(&mut tx, &opp).await? {
                return Err(changed("opportunity", &opp.opportunity_id));
            }
            activity.lead_id = opp.lead_id.clone();
            activity.opportunity_id = opp.opportunity_id.clone();
            activity.account_id = opp.account_id.clone();
            (opp.owner_rep_id, opp.team_id, opp.touch_count, opp.stage)
        };
        activities::insert(&mut tx, &activity, &request.request_id).await?;
        let touched = events::Touched {
            owner_rep_id: owner,
            team_id: team,
            touch_count: touches,
            stage,
        };
        let draft = events::activity_logged(&activity, touched, &request.next_follow_up_date);
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        Ok((activity, touches))
    }

    /// A page of a customer's history (an account's, or a lead's), newest first.
    pub async fn history(
        &self,
        caller: &Caller,
        account_id: &str,
        lead_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Activity>, String), Error> {
        rules::id("account_id", account_id, true)?;
        rules::id("lead_id", lead_id, true)?;
        if account_id.is_empty() == lead_id.is_empty() {
            return Err(Error::invalid(
                "account_id",
                "name exactly one of account_id and lead_id",
            ));
        }
        let limit = paging::page_size(page_size)?;
        let mut conn = self.read().await?;
        let scope = self.scope(&mut conn, caller).await?;
        if !account_id.is_empty() {
            let account = deals::account(&mut conn, account_id)
                .await?
                .ok_or_else(|| Error::not_found("account", account_id))?;
            scope.check(
                caller,
                &format!("account {account_id}"),
                &account.owner_rep_id,
                &account.team_id,
            )?;
        } else {
            load_lead(&mut conn, &scope, caller, lead_id).await?;
        }
        let key = format!("history;account={account_id};lead={lead_id}");
        let cursor = Cursor::decode(page_token, &key)?;
        let mut rows = activities::history(
            &mut conn,
            account_id,
            lead_id,
            (cursor.after_ms, &cursor.after_id),
            limit + 1,
        )
        .await?;
        let next = next_token(&mut rows, limit, &key, |a| (a.at_ms, a.activity_id.clone()));
        Ok((rows, next))
    }
}

/// Calls carry a length, an outcome, a recording link and notes anchored
/// inside the call; other kinds carry none of the call's fields.
fn check_call(kind: &str, request: &LogActivityRequest) -> Result<(), Error> {
    rules::text("outcome", &request.outcome, MAX_NAME_LEN)?;
    if kind != "call" {
        if !request.recording_url.is_empty() {
            return Err(Error::invalid(
                "recording_url",
                format!("only calls have recordings, not a {kind}"),
            ));
        }
        if !request.notes.is_empty() {
            return Err(Error::invalid(
                "notes",
                format!("only calls have anchored notes, not a {kind}; use body"),
            ));
        }
        if request.duration_seconds < 0 || request.duration_seconds > MAX_CALL_SECONDS {
            return Err(Error::invalid(
                "duration_seconds",
                format!(
                    "{} is not between 0 and {MAX_CALL_SECONDS}",
                    request.duration_seconds
                ),
            ));
        }
        return Ok(());
    }
    if request.duration_seconds <= 0 || request.duration_seconds > MAX_CALL_SECONDS {
        return Err(Error::invalid(
            "duration_seconds",
            format!(
                "{} is not between 1 and {MAX_CALL_SECONDS} for a call",
                request.duration_seconds
            ),
        ));
    }
    if !request.recording_url.is_empty() {
        rules::url("recording_url", &request.recording_url)?;
    }
    if request.notes.len() > MAX_CALL_NOTES {
        return Err(Error::invalid(
            "notes",
            format!(
                "has {} notes; the limit is {MAX_CALL_NOTES}",
                request.notes.len()
            ),
        ));
    }
    for (i, note) in request.notes.iter().enumerate() {
        if note.offset_seconds < 0 || note.offset_seconds > request.duration_seconds {
            return Err(Error::invalid(
                "notes.offset_seconds",
                format!(
                    "note {i} is anchored at {}s, outside the {}s call",
                    note.offset_seconds, request.duration_seconds
                ),
            ));
        }
        rules::required("notes.text", &note.text, MAX_CALL_NOTE_LEN)?;
    }
    Ok(())
}

async fn touches_of(conn: &mut sqlx::AnyConnection, activity: &Activity) -> Result<i64, Error> {
    if activity.opportunity_id.is_empty() {
        Ok(store::lead(conn, &activity.lead_id)
            .await?
            .map(|l| l.touch_count)
            .unwrap_or_default())
    } else {
        Ok(deals::opportunity(conn, &activity.opportunity_id)
            .await?
            .map(|o| o.touch_count)
            .unwrap_or_default())
    }
}

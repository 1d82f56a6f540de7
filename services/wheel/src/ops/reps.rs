//! Reps' own state: availability, rank and capacity, working hours and
//! skills. Each change is one transaction with its event; a change that
//! may make someone eligible offers the waiting leads again.

use leadwheel_plumbing::Tx;
use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::bus::EventDraft;
use leadwheel_proto::events::v1 as events;
use leadwheel_proto::wheel::v1::{SetAvailabilityRequest, SetRepScheduleRequest, UpdateRepRequest};
use leadwheel_wheel_core::{Schedule, Skills};

use super::Wheel;
use super::access::require_manager_of;
use crate::error::WheelError;
use crate::events as rep_events;
use crate::store::{self, RepRow};
use crate::validate;

/// Largest rank magnitude and capacity accepted.
const MAX_RANK: i32 = 1_000;
const MAX_CAPACITY: i32 = 10_000;

impl Wheel {
    /// Opens the transaction of a change to `rep_id` and checks the caller may
    /// make it: the rep themselves (when `self_allowed`), their manager, or an admin.
    async fn begin_rep_change(
        &self,
        caller: &Caller,
        rep_id: &str,
        self_allowed: bool,
    ) -> Result<(Tx, RepRow), WheelError> {
        let mut tx = self.engine.begin().await?;
        let rep = store::load_rep(&mut tx, rep_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("rep {rep_id} not found")))?;
        if caller.role == Role::Rep && self_allowed {
            if caller.subject != rep_id {
                return Err(WheelError::PermissionDenied(format!(
                    "rep {} may not change rep {rep_id}",
                    caller.subject
                )));
            }
        } else {
            require_manager_of(caller, rep.team_id.as_deref().unwrap_or_default())?;
        }
        Ok((tx, rep))
    }

    /// Records the change's event (if it has one), commits, and returns the
    /// rep as changed.
    async fn finish_rep_change(
        &self,
        mut tx: Tx,
        rep_id: &str,
        draft: Option<EventDraft>,
    ) -> Result<RepRow, WheelError> {
        if let Some(draft) = draft {
            self.engine.emit(&mut tx, draft).await?;
        }
        let updated = store::load_rep(&mut tx, rep_id)
            .await?
            .expect("rep exists in this transaction");
        self.engine.commit(tx, Vec::new()).await?;
        Ok(updated)
    }

    /// Sets a rep available or away (themselves, their manager or an
    /// admin); coming back offers the team's waiting leads again.
    pub async fn set_availability(
        &self,
        caller: &Caller,
        request: SetAvailabilityRequest,
    ) -> Result<RepRow, WheelError> {
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        let availability = match request.availability.as_str() {
            "available" | "away" => request.availability.as_str(),
            other => {
                return Err(WheelError::invalid(
                    "availability",
                    format!("{other:?} is not \"available\" or \"away\""),
                ));
            }
        };
        let reason = validate::text("reason", &request.reason, validate::MAX_REASON_LEN, false)?;
        let engine = &self.engine;
        let (mut tx, rep) = self.begin_rep_change(caller, rep_id, true).await?;
        let now = self.engine.now();
        store::set_availability(&mut tx, rep_id, availability, now).await?;
        let manager_id = match rep.team_id.as_deref() {
            Some(team_id) => store::load_team(&mut tx, team_id)
                .await?
                .map(|t| t.manager_id)
                .filter(|m| !m.is_empty()),
            None => None,
        };
        let event = events::RepAvailabilityChanged {
            rep_id: rep_id.to_string(),
            team_id: rep.team_id.clone(),
            availability: availability.to_string(),
            by: caller.subject.clone(),
            reason: reason.to_string(),
            manager_id,
            at_ms: now,
        };
        let draft = EventDraft::of(rep_id, &event);
        let updated = self.finish_rep_change(tx, rep_id, Some(draft)).await?;
        tracing::info!(rep_id, availability, by = %caller.subject, "availability changed");
        if availability == "available" {
            // Leads waiting for someone may now be offered to this rep.
            engine
                .retry_waiting(rep.team_id.as_deref().unwrap_or_default())
                .await?;
        }
        Ok(updated)
    }

    /// Sets a rep's rank and capacity (their manager or an admin).
    pub async fn update_rep(
        &self,
        caller: &Caller,
        request: UpdateRepRequest,
    ) -> Result<RepRow, WheelError> {
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        if !(-MAX_RANK..=MAX_RANK).contains(&request.rank) {
            return Err(WheelError::invalid(
                "rank",
                format!(
                    "{} is out of range (-{MAX_RANK}..={MAX_RANK})",
                    request.rank
                ),
            ));
        }
        if !(0..=MAX_CAPACITY).contains(&request.capacity) {
            return Err(WheelError::invalid(
                "capacity",
                format!(
                    "{} is out of range (0 for no cap, or 1..={MAX_CAPACITY})",
                    request.capacity
                ),
            ));
        }
        let (mut tx, rep) = self.begin_rep_change(caller, rep_id, false).await?;
        let now = self.engine.now();
        store::update_rep(
            &mut tx,
            rep_id,
            request.rank as i64,
            request.capacity as i64,
            now,
        )
        .await?;
        let draft = rep_events::rep_changed(&rep, now);
        let updated = self.finish_rep_change(tx, rep_id, draft).await?;
        Ok(updated)
    }

    /// Sets a rep's working hours and the tiers and regions they take.
    pub async fn set_schedule(
        &self,
        caller: &Caller,
        request: SetRepScheduleRequest,
    ) -> Result<RepRow, WheelError> {
        let rep_id = validate::id("rep_id", &request.rep_id)?;
        let proto = request.schedule.unwrap_or_default();
        let schedule = Schedule {
            time_zone: proto.time_zone.trim().to_string(),
            hours: proto
                .hours
                .into_iter()
                .map(|h| (h.day, h.from, h.to))
                .collect(),
            days_off: proto.days_off,
        };
        schedule
            .compile()
            .map_err(|message| WheelError::invalid("schedule", message))?;
        if request.tiers.len() > 20 || request.regions.len() > 300 {
            return Err(WheelError::invalid(
                "tiers",
                "too many tiers or regions (20 tiers, 300 regions at most)",
            ));
        }
        for tier in &request.tiers {
            validate::id("tiers", tier)?;
        }
        for region in &request.regions {
            if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(WheelError::invalid(
                    "regions",
                    format!("{region:?} is not a two-letter country code"),
                ));
            }
        }
        let skills = Skills {
            tiers: request.tiers.clone(),
            regions: request
                .regions
                .iter()
                .map(|r| r.to_ascii_uppercase())
                .collect(),
        };
        let engine = &self.engine;
        let (mut tx, rep) = self.begin_rep_change(caller, rep_id, true).await?;
        let now = self.engine.now();
        store::set_schedule(&mut tx, rep_id, &schedule, &skills, now).await?;
        let draft = rep_events::rep_changed(&rep, now);
        let updated = self.finish_rep_change(tx, rep_id, draft).await?;
        engine
            .retry_waiting(rep.team_id.as_deref().unwrap_or_default())
            .await?;
        Ok(updated)
    }
}

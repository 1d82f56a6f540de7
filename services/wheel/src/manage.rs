//! Managers' and reps' own-state RPCs: availability, rank and capacity,
//! direct assignment, requeue, withdrawal, and the routing ledger.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::bus::{EventDraft, subjects};
use leadwheel_plumbing::store::{Tx, now_ms};
use leadwheel_proto::events::v1 as events;
use leadwheel_proto::wheel::v1::*;
use leadwheel_wheel_core::Input;

use crate::convert;
use crate::error::WheelError;
use crate::grpc::WheelApi;
use crate::store;
use crate::validate;

/// Largest rank magnitude and capacity accepted.
const MAX_RANK: i32 = 1_000;
const MAX_CAPACITY: i32 = 10_000;

/// Managers act on their own team (when their token names one); admins on all.
fn require_manager_of(caller: &Caller, team_id: &str) -> Result<(), WheelError> {
    match (caller.role, caller.team.as_deref()) {
        (Role::Admin, _) => Ok(()),
        (Role::Manager, None) => Ok(()),
        (Role::Manager, Some(own)) if own == team_id => Ok(()),
        (Role::Manager, Some(own)) => Err(WheelError::PermissionDenied(format!(
            "manager of {own} may not act on team {team_id}"
        ))),
        _ => Err(WheelError::PermissionDenied(
            "only managers and admins may do this".into(),
        )),
    }
}

/// Opens the transaction of a change to `rep_id` and checks the caller may
/// make it: the rep themselves (when `self_allowed`), their manager, or an admin.
async fn begin_rep_change(
    api: &WheelApi,
    caller: &Caller,
    rep_id: &str,
    self_allowed: bool,
) -> Result<(Tx, store::RepRow), WheelError> {
    let mut tx = api.engine.store.begin().await?;
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

/// Records the change's event, commits, and returns the rep as changed.
async fn finish_rep_change(
    api: &WheelApi,
    mut tx: Tx,
    rep_id: &str,
    draft: EventDraft,
) -> Result<store::RepRow, WheelError> {
    api.engine.outbox.enqueue(&mut tx, draft).await?;
    let updated = store::load_rep(&mut tx, rep_id)
        .await?
        .expect("rep exists in this transaction");
    tx.commit().await?;
    api.engine.outbox.notify();
    Ok(updated)
}

pub async fn set_availability(
    api: &WheelApi,
    caller: &Caller,
    request: SetAvailabilityRequest,
) -> Result<SetAvailabilityResponse, WheelError> {
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
    let engine = &api.engine;
    let (mut tx, rep) = begin_rep_change(api, caller, rep_id, true).await?;
    let now = now_ms();
    store::set_availability(&mut tx, rep_id, availability, now).await?;
    let manager_id = match rep.team_id.as_deref() {
        Some(team_id) => store::load_team(&mut tx, team_id)
            .await?
            .map(|t| t.manager_id)
            .unwrap_or_default(),
        None => String::new(),
    };
    let event = events::RepAvailabilityChanged {
        rep_id: rep_id.to_string(),
        team_id: rep.team_id.clone().unwrap_or_default(),
        availability: availability.to_string(),
        by: caller.subject.clone(),
        reason: reason.to_string(),
        manager_id,
        at_ms: now,
    };
    let draft = EventDraft::new(subjects::REP_AVAILABILITY_CHANGED, rep_id, &event);
    let updated = finish_rep_change(api, tx, rep_id, draft).await?;
    tracing::info!(rep_id, availability, by = %caller.subject, "availability changed");
    if availability == "available" {
        // Leads waiting for someone may now be offered to this rep.
        engine
            .retry_waiting(rep.team_id.as_deref().unwrap_or_default())
            .await?;
    }
    Ok(SetAvailabilityResponse {
        rep: Some(convert::rep_proto(updated)),
    })
}

pub async fn update_rep(
    api: &WheelApi,
    caller: &Caller,
    request: UpdateRepRequest,
) -> Result<UpdateRepResponse, WheelError> {
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
    let (mut tx, rep) = begin_rep_change(api, caller, rep_id, false).await?;
    let now = now_ms();
    store::update_rep(
        &mut tx,
        rep_id,
        request.rank as i64,
        request.capacity as i64,
        now,
    )
    .await?;
    let event = events::RepUpserted {
        rep_id: rep_id.to_string(),
        name: rep.name.clone(),
        team_id: rep.team_id.clone().unwrap_or_default(),
        at_ms: now,
    };
    let draft = EventDraft::new(subjects::REP_UPSERTED, rep_id, &event);
    let updated = finish_rep_change(api, tx, rep_id, draft).await?;
    Ok(UpdateRepResponse {
        rep: Some(convert::rep_proto(updated)),
    })
}

/// A manager's action on a lead: assign, requeue or withdraw.
pub async fn lead_action(
    api: &WheelApi,
    caller: &Caller,
    lead_id: &str,
    reason: &str,
    input: Input,
) -> Result<GetLeadRoutingResponse, WheelError> {
    let lead_id = validate::id("lead_id", lead_id)?;
    let reason = validate::text("reason", reason, validate::MAX_REASON_LEN, false)?;
    let engine = &api.engine;
    {
        let mut conn = engine.store.pool().acquire().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        require_manager_of(caller, &lead.team_id)?;
        if let Input::AssignDirect { rep } = &input {
            let known = store::load_rep(&mut conn, rep).await?;
            if known.is_none() {
                return Err(WheelError::NotFound(format!("rep {rep} not found")));
            }
        }
    }
    engine
        .apply(lead_id, input.clone(), &caller.subject)
        .await?;
    tracing::info!(lead_id, action = ?input, by = %caller.subject, reason, "manager acted on a lead");
    let mut conn = engine.store.pool().acquire().await?;
    let lead = store::load_lead(&mut conn, lead_id)
        .await?
        .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
    let offers = store::offers_of_lead(&mut conn, lead_id).await?;
    Ok(convert::routing_proto(&lead, &offers))
}

/// The ledger of a lead. Managers and admins see any; a rep sees the
/// ledgers of leads they were offered or own.
pub async fn explain(
    api: &WheelApi,
    caller: &Caller,
    request: ExplainLeadRequest,
) -> Result<ExplainLeadResponse, WheelError> {
    let lead_id = validate::id("lead_id", &request.lead_id)?;
    let mut conn = api.engine.store.pool().acquire().await?;
    let lead = store::load_lead(&mut conn, lead_id)
        .await?
        .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
    if !caller.is_manager_or_admin() {
        let offered = lead.routing.offered.contains(&caller.subject);
        let owns = lead.owner_rep_id.as_deref() == Some(caller.subject.as_str());
        if caller.role != Role::Rep || !(offered || owns) {
            return Err(WheelError::PermissionDenied(format!(
                "{} may not read the routing of lead {lead_id}",
                caller.subject
            )));
        }
    } else {
        require_manager_of(caller, &lead.team_id)?;
    }
    let entries = store::ledger_of_lead(&mut conn, lead_id).await?;
    Ok(ExplainLeadResponse {
        lead_id: lead_id.to_string(),
        team_id: lead.team_id.clone(),
        state: convert::lead_state(&lead.state) as i32,
        owner_rep_id: lead.owner_rep_id.clone().unwrap_or_default(),
        entries: entries
            .into_iter()
            .map(|e| LedgerEntry {
                at_ms: e.at_ms,
                kind: e.kind,
                rep_id: e.rep_id.unwrap_or_default(),
                offer_no: e.offer_no.unwrap_or_default() as i32,
                detail: e.detail,
            })
            .collect(),
    })
}

/// Sets a rep's working hours and the tiers and regions they take.
pub async fn set_schedule(
    api: &WheelApi,
    caller: &Caller,
    request: SetRepScheduleRequest,
) -> Result<SetRepScheduleResponse, WheelError> {
    let rep_id = validate::id("rep_id", &request.rep_id)?;
    let proto = request.schedule.unwrap_or_default();
    let schedule = leadwheel_wheel_core::Schedule {
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
    let skills = leadwheel_wheel_core::Skills {
        tiers: request.tiers.clone(),
        regions: request
            .regions
            .iter()
            .map(|r| r.to_ascii_uppercase())
            .collect(),
    };
    let engine = &api.engine;
    let (mut tx, rep) = begin_rep_change(api, caller, rep_id, true).await?;
    let now = now_ms();
    store::set_schedule(&mut tx, rep_id, &schedule, &skills, now).await?;
    let event = events::RepUpserted {
        rep_id: rep_id.to_string(),
        name: rep.name.clone(),
        team_id: rep.team_id.clone().unwrap_or_default(),
        at_ms: now,
    };
    let draft = EventDraft::new(subjects::REP_UPSERTED, rep_id, &event);
    let updated = finish_rep_change(api, tx, rep_id, draft).await?;
    engine
        .retry_waiting(rep.team_id.as_deref().unwrap_or_default())
        .await?;
    Ok(SetRepScheduleResponse {
        rep: Some(convert::rep_proto(updated)),
    })
}

//! Who may do what: reps act for themselves, managers for their team (all
//! teams when their token names none), admins for anyone.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_wheel_core::Phase;
use sqlx::AnyConnection;

use crate::engine::Engine;
use crate::error::WheelError;
use crate::store::{self, LeadRow};

/// True when a manager's token scope (if any) covers `team_id`.
pub fn manager_scope_covers(caller: &Caller, team_id: &str) -> bool {
    match (caller.role, caller.team.as_deref()) {
        (Role::Manager, Some(own)) => own == team_id,
        _ => true,
    }
}

/// Managers act on their own team (when their token names one); admins on all.
pub fn require_manager_of(caller: &Caller, team_id: &str) -> Result<(), WheelError> {
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

/// A rep acts only as themselves; a manager for reps of their team (all
/// teams when their token names none); an admin for anyone.
pub async fn for_rep(
    conn: &mut AnyConnection,
    caller: &Caller,
    rep_id: &str,
) -> Result<(), WheelError> {
    caller.require_self_or_manager(rep_id).map_err(denied)?;
    if caller.role == Role::Manager && caller.team.is_some() {
        let team = store::load_rep(conn, rep_id)
            .await?
            .and_then(|rep| rep.team_id)
            .unwrap_or_default();
        if !manager_scope_covers(caller, &team) {
            return Err(WheelError::PermissionDenied(format!(
                "manager {} may not act for rep {rep_id} of another team",
                caller.subject
            )));
        }
    }
    Ok(())
}

/// As [`for_rep`], with the manager's scope checked against the team
/// routing the lead. Only a manager whose token names a team needs the
/// lead read, so only then is a connection taken from `engine`: a rep's
/// claim (the wheel's busiest call) reads nothing before the writer.
pub async fn for_lead(
    engine: &Engine,
    caller: &Caller,
    rep_id: &str,
    lead_id: &str,
) -> Result<(), WheelError> {
    caller.require_self_or_manager(rep_id).map_err(denied)?;
    if caller.role == Role::Manager && caller.team.is_some() {
        let lead = store::load_lead(&mut *engine.read().await?, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        if !manager_scope_covers(caller, &lead.team_id) {
            return Err(WheelError::PermissionDenied(format!(
                "manager {} may not act on lead {lead_id} of team {}",
                caller.subject, lead.team_id
            )));
        }
    }
    Ok(())
}

/// Whether `caller` may see `lead`'s details: managers and admins
/// always; a rep while the lead is offered to them, once they own it,
/// or while it sits in their team's pool.
pub async fn may_see(
    conn: &mut AnyConnection,
    caller: &Caller,
    lead: &LeadRow,
) -> Result<bool, WheelError> {
    if caller.is_manager_or_admin() {
        return Ok(manager_scope_covers(caller, &lead.team_id));
    }
    if caller.role != Role::Rep {
        return Ok(false);
    }
    Ok(match lead.state.as_str() {
        "offered" => matches!(&lead.routing.phase,
            Phase::Offered { rep, .. } if *rep == caller.subject),
        "assigned" => lead.owner_rep_id.as_deref() == Some(caller.subject.as_str()),
        "pooled" | "escalated" => store::load_rep(conn, &caller.subject)
            .await?
            .and_then(|rep| rep.team_id)
            .is_some_and(|team| team == lead.team_id),
        _ => false,
    })
}

/// The plumbing's refusal (a tonic status) as the wheel's error.
pub fn denied(status: tonic::Status) -> WheelError {
    WheelError::PermissionDenied(status.message().to_string())
}

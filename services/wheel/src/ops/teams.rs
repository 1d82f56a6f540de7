//! Teams and their members: creating or replacing a team (which routes the
//! leads waiting for it; members left out of the new ring leave), and
//! listing teams and reps.

use std::collections::HashSet;

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::wheel::v1::UpsertTeamRequest;

use super::Wheel;
use super::access::denied;
use crate::convert;
use crate::error::WheelError;
use crate::events::{self, Leaving};
use crate::store::{self, RepRow, TeamRow};
use crate::validate;

impl Wheel {
    /// Creates or replaces a team and its ring, announces the team and its
    /// members, and routes the leads waiting for it, in one transaction.
    pub async fn upsert_team(
        &self,
        caller: &Caller,
        request: UpsertTeamRequest,
    ) -> Result<TeamRow, WheelError> {
        caller
            .require_role(&[Role::Admin, Role::Manager])
            .map_err(denied)?;
        let (row, names) = parse_team(caller, request)?;
        let engine = &self.engine;
        let now = engine.now();
        let mut tx = engine.begin().await?;
        let before = store::load_team(&mut tx, &row.team_id)
            .await?
            .map(|team| team.ring)
            .unwrap_or_default();
        store::upsert_team(&mut tx, &row, &names, now).await?;
        // Members not in the new ring are on no team now: they left.
        for rep_id in before.iter().filter(|rep| !row.ring.contains(rep)) {
            let why = Leaving::Removed(caller.subject.clone());
            engine
                .emit(&mut tx, events::rep_left(rep_id, &row.team_id, why, now))
                .await?;
        }
        engine
            .emit(&mut tx, events::team_upserted(&row, now))
            .await?;
        for (position, rep_id) in row.ring.iter().enumerate() {
            let name = names
                .get(position)
                .filter(|n| !n.is_empty())
                .map_or(rep_id.as_str(), String::as_str);
            engine
                .emit(
                    &mut tx,
                    events::rep_upserted(rep_id, name, &row.team_id, now),
                )
                .await?;
        }
        let pushes = engine.route_waiting(&mut tx, &row.team_id).await?;
        let saved = store::load_team(&mut tx, &row.team_id)
            .await?
            .ok_or_else(|| WheelError::Corrupt("team vanished".into()))?;
        engine.commit(tx, pushes).await?;
        tracing::info!(team_id = %saved.team_id, reps = saved.ring.len(), "team upserted");
        Ok(saved)
    }

    /// Every team.
    pub async fn list_teams(&self) -> Result<Vec<TeamRow>, WheelError> {
        let mut conn = self.read().await?;
        store::list_teams(&mut conn).await
    }

    /// The reps of `team_id`, or of every team when it is empty.
    pub async fn list_reps(&self, team_id: &str) -> Result<Vec<RepRow>, WheelError> {
        if !team_id.is_empty() {
            validate::id("team_id", team_id)?;
        }
        let mut conn = self.read().await?;
        if !team_id.is_empty() && store::load_team(&mut conn, team_id).await?.is_none() {
            return Err(WheelError::NotFound(format!("team {team_id} not found")));
        }
        store::list_reps(&mut conn, (!team_id.is_empty()).then_some(team_id)).await
    }
}

/// The team row and its members' names from an upsert, checked field by
/// field; a scoped manager may only change their own team.
fn parse_team(
    caller: &Caller,
    request: UpsertTeamRequest,
) -> Result<(TeamRow, Vec<String>), WheelError> {
    let team = request
        .team
        .ok_or_else(|| WheelError::invalid("team", "is required"))?;
    let team_id = validate::id("team.team_id", &team.team_id)?.to_string();
    if let (Role::Manager, Some(own)) = (caller.role, caller.team.as_deref())
        && own != team_id
    {
        return Err(WheelError::PermissionDenied(format!(
            "manager of {own} may not change team {team_id}"
        )));
    }
    let name = validate::text("team.name", &team.name, validate::MAX_NAME_LEN, false)?;
    let manager_id = validate::id("team.manager_id", &team.manager_id)?.to_string();
    let window_ms = validate::window_ms(team.window_ms)?;
    if team.rep_ids.len() > validate::MAX_RING {
        return Err(WheelError::invalid(
            "team.rep_ids",
            format!("more than {} reps", validate::MAX_RING),
        ));
    }
    let mut seen = HashSet::new();
    for rep_id in &team.rep_ids {
        validate::id("team.rep_ids", rep_id)?;
        if !seen.insert(rep_id.as_str()) {
            return Err(WheelError::invalid(
                "team.rep_ids",
                format!("{rep_id} is listed twice"),
            ));
        }
    }
    if request.rep_names.len() > team.rep_ids.len() {
        return Err(WheelError::invalid(
            "rep_names",
            "has more names than team.rep_ids",
        ));
    }
    let mut names = Vec::with_capacity(request.rep_names.len());
    for name in &request.rep_names {
        names.push(validate::text("rep_names", name, validate::MAX_NAME_LEN, false)?.to_string());
    }
    let row = TeamRow {
        team_id: team_id.clone(),
        name: if name.is_empty() {
            team_id.clone()
        } else {
            name.to_string()
        },
        manager_id,
        window_ms,
        policy: convert::policy_from_proto(team.policy.as_ref())?,
        rotation: Default::default(),
        rotation_version: 0,
        roster_version: 0,
        ring: team.rep_ids.clone().into(),
        ranks: Default::default(),
    };
    Ok((row, names))
}

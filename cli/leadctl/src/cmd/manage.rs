//! Managing the wheel: teams and their policy, reps' availability, rank and
//! capacity, and a manager's hand on a lead (assign, requeue, withdraw).

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use leadwheel_proto::wheel::v1::{
    AssignLeadRequest, GetLeadRoutingResponse, ListRepsRequest, ListTeamsRequest, RepSchedule,
    RequeueLeadRequest, SetAvailabilityRequest, SetRepScheduleRequest, UpdateRepRequest,
    WithdrawLeadRequest, WorkingHours,
};
use serde::Serialize;

use crate::cli::{AvailabilityArgs, RepScheduleArgs, RepUpdateArgs, TeamSetArgs, parse_hours};
use crate::cmd::lists::{reps_table, teams_table};
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::emit;
use crate::policy::merge_team;
use crate::views::{RepView, RoutingView, TeamView};

pub async fn teams_set(ctx: &Ctx, args: TeamSetArgs) -> Result<()> {
    let mut wheel = ctx.wheel().await?;
    let teams = wheel
        .list_teams(ListTeamsRequest {})
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .teams;
    let existing = match teams.into_iter().find(|t| t.team_id == args.team) {
        Some(team) => {
            let reps = wheel
                .list_reps(ListRepsRequest {
                    team_id: team.team_id.clone(),
                })
                .await
                .map_err(|s| ctx.fail(Target::Wheel, s))?
                .into_inner()
                .reps;
            let names: HashMap<String, String> =
                reps.into_iter().map(|r| (r.rep_id, r.name)).collect();
            Some((team, names))
        }
        None => None,
    };
    let created = existing.is_none();
    let request = merge_team(existing, &args).map_err(|e| anyhow!(e))?;
    let team = wheel
        .upsert_team(request)
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .team
        .ok_or_else(|| anyhow!("the wheel answered without the team"))?;
    let view = TeamView::from(team);
    emit(ctx.output(), &view, |t| {
        let verb = if created { "created" } else { "updated" };
        format!(
            "{verb} team {}\n\n{}",
            t.team_id,
            teams_table(std::slice::from_ref(t))
        )
    })
}

/// `reps away` / `reps available`: a rep for themselves, or a manager for anyone.
pub async fn availability(ctx: &Ctx, args: AvailabilityArgs, available: bool) -> Result<()> {
    let command = if available {
        "reps available"
    } else {
        "reps away"
    };
    let rep = match args.rep {
        Some(rep) => rep.trim().to_string(),
        None => ctx.identity.rep(command)?,
    };
    let rep = ctx
        .wheel()
        .await?
        .set_availability(SetAvailabilityRequest {
            rep_id: rep,
            availability: if available { "available" } else { "away" }.into(),
            reason: args.reason.unwrap_or_default().trim().to_string(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .rep
        .ok_or_else(|| anyhow!("the wheel answered without the rep"))?;
    let view = RepView::from(rep);
    emit(ctx.output(), &view, |r| {
        let what = if available {
            "available: waiting leads may be offered to them now"
        } else {
            "away: the wheel skips them until they are available"
        };
        format!("{} is {what}\n", r.rep_id)
    })
}

/// `reps update`: flags left out keep the rep's current rank or capacity.
pub async fn rep_update(ctx: &Ctx, args: RepUpdateArgs) -> Result<()> {
    if args.rank.is_none() && args.capacity.is_none() {
        bail!("say what to change: --rank N and/or --capacity N");
    }
    let rep_id = args.rep.trim().to_string();
    let mut wheel = ctx.wheel().await?;
    let current = wheel
        .list_reps(ListRepsRequest::default())
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .reps
        .into_iter()
        .find(|r| r.rep_id == rep_id)
        .ok_or_else(|| anyhow!("not found: no rep {rep_id} on any team"))?;
    let rep = wheel
        .update_rep(UpdateRepRequest {
            rep_id,
            rank: args.rank.unwrap_or(current.rank),
            capacity: args.capacity.unwrap_or(current.capacity),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .rep
        .ok_or_else(|| anyhow!("the wheel answered without the rep"))?;
    let view = RepView::from(rep);
    emit(ctx.output(), &view, |r| reps_table(std::slice::from_ref(r)))
}

/// `reps schedule`: replaces a rep's working hours, days off, tiers and regions.
pub async fn rep_schedule(ctx: &Ctx, args: RepScheduleArgs) -> Result<()> {
    let rep_id = match &args.rep {
        Some(rep) => rep.trim().to_string(),
        None => ctx.identity.rep("reps schedule")?,
    };
    let mut hours = Vec::new();
    for spec in &args.hours {
        for (day, from, to) in parse_hours(spec).map_err(|e| anyhow!("invalid --hours {e}"))? {
            hours.push(WorkingHours { day, from, to });
        }
    }
    let mut wheel = ctx.wheel().await?;
    let rep = wheel
        .set_rep_schedule(SetRepScheduleRequest {
            rep_id,
            schedule: Some(RepSchedule {
                time_zone: args.tz.clone(),
                hours,
                days_off: args.days_off.clone(),
            }),
            tiers: args.tiers.clone(),
            regions: args.regions.clone(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner()
        .rep
        .ok_or_else(|| anyhow!("the wheel answered without the rep"))?;
    let view = RepView::from(rep);
    emit(ctx.output(), &view, |r| reps_table(std::slice::from_ref(r)))
}

/// What a manager's action on a lead left behind.
#[derive(Debug, Serialize)]
struct LeadAction {
    action: &'static str,
    routing: Option<RoutingView>,
}

fn lead_action_text(a: &LeadAction) -> String {
    let Some(r) = &a.routing else {
        return format!("{}: done\n", a.action);
    };
    let now = match (r.state.as_str(), r.owner_rep_id.as_str()) {
        (state, "") => state.to_string(),
        (state, owner) => format!("{state} to {owner}"),
    };
    format!(
        "{} {}: now {now}; see why with: leadctl wheel explain {}\n",
        a.action, r.lead_id, r.lead_id
    )
}

fn emit_action(
    ctx: &Ctx,
    action: &'static str,
    routing: Option<GetLeadRoutingResponse>,
) -> Result<()> {
    let action = LeadAction {
        action,
        routing: routing.map(RoutingView::from),
    };
    emit(ctx.output(), &action, lead_action_text)
}

fn reason(reason: Option<String>) -> String {
    reason.unwrap_or_default().trim().to_string()
}

pub async fn assign(ctx: &Ctx, lead: String, to: String, why: Option<String>) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .assign_lead(AssignLeadRequest {
            lead_id: lead.trim().to_string(),
            rep_id: to.trim().to_string(),
            reason: reason(why),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    emit_action(ctx, "assigned", response.lead)
}

pub async fn requeue(ctx: &Ctx, lead: String, why: Option<String>) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .requeue_lead(RequeueLeadRequest {
            lead_id: lead.trim().to_string(),
            reason: reason(why),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    emit_action(ctx, "requeued", response.lead)
}

pub async fn withdraw(ctx: &Ctx, lead: String, why: Option<String>) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .withdraw_lead(WithdrawLeadRequest {
            lead_id: lead.trim().to_string(),
            reason: reason(why),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    emit_action(ctx, "withdrew", response.lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_actions_say_where_the_lead_is_now() {
        let action = LeadAction {
            action: "assigned",
            routing: Some(RoutingView {
                lead_id: "L1".into(),
                team_id: "demo".into(),
                state: "assigned".into(),
                owner_rep_id: "carla".into(),
                offers: Vec::new(),
            }),
        };
        assert_eq!(
            lead_action_text(&action),
            "assigned L1: now assigned to carla; see why with: leadctl wheel explain L1\n"
        );
    }
}

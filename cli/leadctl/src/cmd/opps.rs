//! `leadctl opps …`: leads in work, conversion, opportunities and their
//! stages, activities, history, and the handover of a leaving rep.

mod handover;
pub(crate) mod views;

use anyhow::{Result, anyhow, bail};
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::opportunity::v1::{
    ActivityKind, CallNote, ChangeOwnerRequest, CompleteTaskRequest, ConvertLeadRequest,
    DisqualifyLeadRequest, GetOpportunityRequest, ListHistoryRequest, ListLeadsInWorkRequest,
    ListOpportunitiesRequest, ListStagesRequest, LogActivityRequest, MoveStageRequest, Opportunity,
    OverrideProbabilityRequest, SetAmountRequest,
};
use serde::Serialize;

use crate::cli::{ActivityTarget, ConvertArgs, LogArgs, LogCallArgs, OppsCommand};
use crate::conn::Ctx;
use crate::duration;
use crate::error::Target;
use crate::output::{Table, emit};
use views::{
    ActivityView, OpportunityDetail, OpportunityView, activities_table, detail_text, money,
    opportunities_table, parse_amount,
};

pub async fn run(ctx: &Ctx, command: OppsCommand) -> Result<()> {
    match command {
        OppsCommand::Leads { rep } => leads(ctx, rep).await,
        OppsCommand::List {
            owner,
            stage,
            account,
        } => list(ctx, owner, stage, account).await,
        OppsCommand::Show { opportunity } => show(ctx, opportunity).await,
        OppsCommand::Stage {
            opportunity,
            stage,
            reason,
        } => {
            let request = MoveStageRequest {
                opportunity_id: opportunity,
                stage,
                reason,
                expected_version: 0,
            };
            let opp = call(ctx, |mut c| async move { c.move_stage(request).await }).await?;
            changed(ctx, opp.opportunity, "moved")
        }
        OppsCommand::Amount {
            opportunity,
            amount,
            currency,
            close_date,
            reason,
        } => {
            let amount_minor = parse_amount(&amount, &currency).map_err(|e| anyhow!(e))?;
            let request = SetAmountRequest {
                opportunity_id: opportunity,
                amount_minor,
                currency,
                expected_close_date: close_date,
                reason,
                expected_version: 0,
            };
            let opp = call(ctx, |mut c| async move { c.set_amount(request).await }).await?;
            changed(ctx, opp.opportunity, "updated")
        }
        OppsCommand::Probability {
            opportunity,
            percent,
            clear,
            reason,
        } => {
            let request = OverrideProbabilityRequest {
                opportunity_id: opportunity,
                probability_percent: percent.unwrap_or_default(),
                clear,
                reason,
                expected_version: 0,
            };
            let opp = call(
                ctx,
                |mut c| async move { c.override_probability(request).await },
            )
            .await?;
            changed(ctx, opp.opportunity, "updated")
        }
        OppsCommand::Owner {
            opportunity,
            rep,
            reason,
            force,
        } => {
            let request = ChangeOwnerRequest {
                opportunity_id: opportunity,
                to_rep_id: rep,
                reason,
                force,
                expected_version: 0,
            };
            let opp = call(ctx, |mut c| async move { c.change_owner(request).await }).await?;
            changed(ctx, opp.opportunity, "reassigned")
        }
        OppsCommand::Convert(args) => convert(ctx, args).await,
        OppsCommand::Disqualify {
            lead,
            reason,
            back_to_pool,
            note,
        } => {
            let request = DisqualifyLeadRequest {
                lead_id: lead,
                reason,
                back_to_pool,
                note,
            };
            let lead = call(ctx, |mut c| async move { c.disqualify_lead(request).await })
                .await?
                .lead
                .ok_or_else(|| anyhow!("the opportunity service answered without the lead"))?;
            let view = serde_json::json!({
                "lead_id": lead.lead_id,
                "status": lead.status,
                "reason": lead.disqualify_reason,
                "back_to_pool": back_to_pool,
            });
            emit(ctx.output(), &view, |_| {
                format!(
                    "disqualified {} ({}){}\n",
                    lead.lead_id,
                    lead.disqualify_reason,
                    if back_to_pool {
                        "; back to the team's pool"
                    } else {
                        ""
                    }
                )
            })
        }
        OppsCommand::LogCall(args) => log_call(ctx, args).await,
        OppsCommand::Log(args) => log_other(ctx, args).await,
        OppsCommand::History {
            account,
            lead,
            limit,
        } => history(ctx, account, lead, limit).await,
        OppsCommand::Stages => stages(ctx).await,
        OppsCommand::Handover(command) => handover::run(ctx, command).await,
        OppsCommand::Tasks { owner, handover } => handover::tasks(ctx, owner, handover).await,
        OppsCommand::Done { task } => {
            let request = CompleteTaskRequest { task_id: task };
            let done = call(ctx, |mut c| async move { c.complete_task(request).await }).await?;
            let task = done.task.unwrap_or_default();
            let plan = done.handover.unwrap_or_default();
            let view = serde_json::json!({
                "task_id": task.task_id,
                "handover_id": plan.handover_id,
                "handover_state": plan.state,
                "tasks_done": plan.tasks_done,
                "tasks_total": plan.tasks_total,
            });
            emit(ctx.output(), &view, |_| {
                format!(
                    "done {}; handover {} {}/{} ({})\n",
                    task.task_id, plan.handover_id, plan.tasks_done, plan.tasks_total, plan.state
                )
            })
        }
    }
}

/// Runs one call on the opportunity service, turning a refusal into one line.
pub(crate) async fn call<T, F, Fut>(ctx: &Ctx, f: F) -> Result<T>
where
    F: FnOnce(OpportunityServiceClient<crate::conn::Authed>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let client = ctx.opportunity().await?;
    f(client)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| ctx.fail(Target::Opportunity, s))
}

fn changed(ctx: &Ctx, opp: Option<Opportunity>, verb: &str) -> Result<()> {
    let view = OpportunityView::from(
        opp.ok_or_else(|| anyhow!("the opportunity service answered without the opportunity"))?,
    );
    emit(ctx.output(), &view, |o| {
        format!(
            "{verb} {}: {} · {} · {}% · weighted {} · owner {}\n",
            o.opportunity_id,
            o.stage,
            money(o.amount_minor, &o.currency),
            o.probability_percent,
            money(o.weighted_minor, &o.currency),
            o.owner_rep_id
        )
    })
}

#[derive(Debug, Serialize)]
struct LeadRow {
    lead_id: String,
    rep_id: String,
    team_id: String,
    status: String,
    touch_count: i64,
    next_follow_up_date: String,
    opportunity_id: String,
}

async fn leads(ctx: &Ctx, rep: Option<String>) -> Result<()> {
    let request = ListLeadsInWorkRequest {
        rep_id: rep.unwrap_or_default(),
        page_size: 100,
        page_token: String::new(),
    };
    let response = call(
        ctx,
        |mut c| async move { c.list_leads_in_work(request).await },
    )
    .await?;
    let leads: Vec<LeadRow> = response
        .leads
        .into_iter()
        .map(|l| LeadRow {
            lead_id: l.lead_id,
            rep_id: l.rep_id,
            team_id: l.team_id,
            status: l.status,
            touch_count: l.touch_count,
            next_follow_up_date: l.next_follow_up_date,
            opportunity_id: l.opportunity_id,
        })
        .collect();
    emit(ctx.output(), &leads, |leads| {
        if leads.is_empty() {
            return "no leads in work (claim one: `leadctl claim LEAD --as REP`)\n".into();
        }
        let mut table = Table::new(&[
            "LEAD",
            "REP",
            "TEAM",
            "STATUS",
            "TOUCHES",
            "FOLLOW-UP",
            "OPPORTUNITY",
        ]);
        for l in leads {
            table.row(vec![
                l.lead_id.clone(),
                l.rep_id.clone(),
                l.team_id.clone(),
                l.status.clone(),
                l.touch_count.to_string(),
                l.next_follow_up_date.clone(),
                l.opportunity_id.clone(),
            ]);
        }
        table.render()
    })
}

async fn list(
    ctx: &Ctx,
    owner: Option<String>,
    stage: Option<String>,
    account: Option<String>,
) -> Result<()> {
    let mut all = Vec::new();
    let mut token = String::new();
    // A few pages at most: this is for a person reading a terminal.
    for _ in 0..10 {
        let request = ListOpportunitiesRequest {
            owner_rep_id: owner.clone().unwrap_or_default(),
            account_id: account.clone().unwrap_or_default(),
            stage: stage.clone().unwrap_or_default(),
            page_size: 500,
            page_token: token,
        };
        let page = call(
            ctx,
            |mut c| async move { c.list_opportunities(request).await },
        )
        .await?;
        all.extend(page.opportunities.into_iter().map(OpportunityView::from));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    emit(ctx.output(), &all, |opps| opportunities_table(opps))
}

async fn show(ctx: &Ctx, opportunity: String) -> Result<()> {
    let request = GetOpportunityRequest {
        opportunity_id: opportunity,
    };
    let response = call(ctx, |mut c| async move { c.get_opportunity(request).await }).await?;
    let detail = OpportunityDetail {
        opportunity: response
            .opportunity
            .map(OpportunityView::from)
            .ok_or_else(|| anyhow!("the opportunity service answered without the opportunity"))?,
        history: response.history.into_iter().map(Into::into).collect(),
    };
    emit(ctx.output(), &detail, detail_text)
}

async fn convert(ctx: &Ctx, args: ConvertArgs) -> Result<()> {
    let amount_minor = parse_amount(&args.amount, &args.currency).map_err(|e| anyhow!(e))?;
    let request = ConvertLeadRequest {
        // A retry of this very command (same lead) is the same conversion.
        request_id: format!("leadctl-convert-{}", args.lead.trim()),
        lead_id: args.lead,
        account_name: args.account,
        domains: args.domains,
        tier: args.tier,
        opportunity_name: args.name,
        amount_minor,
        currency: args.currency,
        expected_close_date: args.close_date,
        stage: args.stage,
    };
    let done = call(ctx, |mut c| async move { c.convert_lead(request).await }).await?;
    let account = done.account.unwrap_or_default();
    let opp = OpportunityView::from(done.opportunity.unwrap_or_default());
    let view = serde_json::json!({
        "account_id": account.account_id,
        "account_owner": account.owner_rep_id,
        "domains": account.domains,
        "joined_existing_account": done.joined_existing_account,
        "opportunity": opp,
    });
    emit(ctx.output(), &view, |_| {
        format!(
            "{} account {} ({}, owner {})\nopened {}: {} · {} · {}%\n",
            if done.joined_existing_account {
                "joined"
            } else {
                "created"
            },
            account.account_id,
            account.domains.join(", "),
            account.owner_rep_id,
            opp.opportunity_id,
            opp.stage,
            money(opp.amount_minor, &opp.currency),
            opp.probability_percent
        )
    })
}

fn target(target: ActivityTarget) -> (String, String) {
    (
        target.lead.unwrap_or_default(),
        target.opportunity.unwrap_or_default(),
    )
}

fn seconds(raw: &str) -> Result<i64> {
    let text = raw.trim();
    // A bare number is seconds, as a recording player shows offsets.
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    Ok(duration::parse_ms(text).map_err(|e| anyhow!(e))? / 1000)
}

async fn log_call(ctx: &Ctx, args: LogCallArgs) -> Result<()> {
    let (lead_id, opportunity_id) = target(args.target);
    let mut notes = Vec::new();
    for note in &args.notes {
        let Some((offset, text)) = note.split_once('=') else {
            bail!("--note {note:?} is not OFFSET=TEXT (e.g. 90=pricing or 2m=next steps)");
        };
        notes.push(CallNote {
            offset_seconds: seconds(offset)?,
            text: text.to_string(),
        });
    }
    let request = LogActivityRequest {
        request_id: String::new(),
        kind: ActivityKind::Call as i32,
        lead_id,
        opportunity_id,
        at_ms: 0,
        duration_seconds: seconds(&args.duration)?,
        outcome: args.outcome,
        recording_url: args.recording,
        notes,
        subject: String::new(),
        body: String::new(),
        next_follow_up_date: args.follow_up,
    };
    logged(ctx, request).await
}

async fn log_other(ctx: &Ctx, args: LogArgs) -> Result<()> {
    let kind = match args.kind.trim() {
        "email" => ActivityKind::Email,
        "visit" => ActivityKind::Visit,
        "meeting" => ActivityKind::Meeting,
        "note" => ActivityKind::Note,
        "call" => bail!("log calls with `leadctl opps log-call`"),
        other => bail!("{other:?} is not email, visit, meeting or note"),
    };
    let (lead_id, opportunity_id) = target(args.target);
    let request = LogActivityRequest {
        kind: kind as i32,
        lead_id,
        opportunity_id,
        duration_seconds: match args.duration {
            Some(raw) => seconds(&raw)?,
            None => 0,
        },
        subject: args.subject,
        body: args.body,
        next_follow_up_date: args.follow_up,
        ..Default::default()
    };
    logged(ctx, request).await
}

async fn logged(ctx: &Ctx, request: LogActivityRequest) -> Result<()> {
    let done = call(ctx, |mut c| async move { c.log_activity(request).await }).await?;
    let activity = ActivityView::from(done.activity.unwrap_or_default());
    let touches = done.touch_count;
    emit(ctx.output(), &activity, |a| {
        format!(
            "logged {} {} on {} (touch {touches})\n",
            a.kind,
            a.activity_id,
            if a.opportunity_id.is_empty() {
                &a.lead_id
            } else {
                &a.opportunity_id
            }
        )
    })
}

async fn history(
    ctx: &Ctx,
    account: Option<String>,
    lead: Option<String>,
    limit: usize,
) -> Result<()> {
    let mut all = Vec::new();
    let mut token = String::new();
    while all.len() < limit {
        let request = ListHistoryRequest {
            account_id: account.clone().unwrap_or_default(),
            lead_id: lead.clone().unwrap_or_default(),
            page_size: (limit - all.len()).min(500) as i32,
            page_token: token,
        };
        let page = call(ctx, |mut c| async move { c.list_history(request).await }).await?;
        all.extend(page.activities.into_iter().map(ActivityView::from));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    emit(ctx.output(), &all, |a| activities_table(a))
}

async fn stages(ctx: &Ctx) -> Result<()> {
    let response = call(ctx, |mut c| async move {
        c.list_stages(ListStagesRequest {}).await
    })
    .await?;
    let stages: Vec<serde_json::Value> = response
        .stages
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "position": s.position,
                "probability_percent": s.probability_percent,
                "owner_locked": s.owner_locked,
                "stale_days": s.stale_days,
                "outcome": s.outcome,
            })
        })
        .collect();
    emit(ctx.output(), &stages, |_| {
        let mut table = Table::new(&[
            "STAGE",
            "PROBABILITY",
            "OWNER LOCKED",
            "STALE AFTER",
            "OUTCOME",
        ]);
        for s in &response.stages {
            table.row(vec![
                s.name.clone(),
                format!("{}%", s.probability_percent),
                if s.owner_locked { "yes" } else { "no" }.into(),
                if s.stale_days > 0 {
                    format!("{}d", s.stale_days)
                } else {
                    String::new()
                },
                s.outcome.clone(),
            ]);
        }
        table.render()
    })
}

//! `leadctl opps …`.

use anyhow::Result;
use leadwheel_proto::opportunity::v1::ListLeadsInWorkRequest;

use crate::cli::OppsCommand;
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::emit;

pub async fn run(ctx: &Ctx, command: OppsCommand) -> Result<()> {
    match command {
        OppsCommand::Leads { rep } => {
            let response = ctx
                .opportunity()
                .await?
                .list_leads_in_work(ListLeadsInWorkRequest {
                    rep_id: rep.unwrap_or_default(),
                    page_size: 100,
                    page_token: String::new(),
                })
                .await
                .map_err(|s| ctx.fail(Target::Opportunity, s))?;
            let leads: Vec<serde_json::Value> = response
                .into_inner()
                .leads
                .into_iter()
                .map(|lead| {
                    serde_json::json!({
                        "lead_id": lead.lead_id,
                        "rep_id": lead.rep_id,
                        "team_id": lead.team_id,
                        "status": lead.status,
                    })
                })
                .collect();
            emit(ctx.output(), &leads, |leads| {
                leads
                    .iter()
                    .map(|lead| format!("{}\n", lead))
                    .collect::<String>()
            })
        }
    }
}

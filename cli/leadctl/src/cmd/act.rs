//! Claim and pass.

use anyhow::{Result, bail};
use leadwheel_proto::wheel::v1::{ClaimRequest, PassRequest};
use serde::Serialize;

use crate::conn::Ctx;
use crate::error::Target;
use crate::output::emit;
use crate::views::claimed_via;

#[derive(Debug, Serialize)]
struct Claimed {
    lead_id: String,
    rep_id: String,
    via: String,
}

pub async fn claim(ctx: &Ctx, lead: String) -> Result<()> {
    let rep = ctx.identity.rep("claim")?;
    let response = ctx
        .wheel()
        .await?
        .claim(ClaimRequest {
            lead_id: lead.trim().to_string(),
            rep_id: rep,
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?
        .into_inner();
    let claimed = Claimed {
        lead_id: response.lead_id,
        rep_id: response.rep_id,
        via: claimed_via(response.via),
    };
    emit(ctx.output(), &claimed, |c| {
        let via = match c.via.as_str() {
            "pool" => " from the pool",
            "offer" => " (the offer was theirs)",
            _ => "",
        };
        format!(
            "{} claimed {}{via}; it is theirs now: leadctl leads show {}\n",
            c.rep_id, c.lead_id, c.lead_id
        )
    })
}

#[derive(Debug, Serialize)]
struct Passed {
    lead_id: String,
    rep_id: String,
    reason: String,
}

pub async fn pass(ctx: &Ctx, lead: String, reason: String) -> Result<()> {
    let rep = ctx.identity.rep("pass")?;
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        bail!("--reason must say why (the manager sees it)");
    }
    ctx.wheel()
        .await?
        .pass(PassRequest {
            lead_id: lead.trim().to_string(),
            rep_id: rep.clone(),
            reason: reason.clone(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?;
    let passed = Passed {
        lead_id: lead.trim().to_string(),
        rep_id: rep,
        reason,
    };
    emit(ctx.output(), &passed, |p| {
        format!(
            "{} passed on {} ({}); the next rep is offered it now\n",
            p.rep_id, p.lead_id, p.reason
        )
    })
}

//! `leadctl intake …` and `leadctl import leads`.

pub(crate) mod csv;
mod import;
pub(crate) mod score;

use anyhow::Result;
use leadwheel_proto::intake::v1::ErasePersonRequest;
use serde::Serialize;

use crate::cli::{ImportCommand, IntakeCommand};
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::emit;

pub async fn run(ctx: &Ctx, command: IntakeCommand) -> Result<()> {
    match command {
        IntakeCommand::Leads { limit } => super::lists::leads(ctx, limit).await,
        IntakeCommand::Score { rules, signup } => score::run(ctx, &rules, &signup),
        IntakeCommand::Erase { email } => erase(ctx, email).await,
    }
}

pub async fn import(ctx: &Ctx, command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Leads(args) => import::run(ctx, args).await,
    }
}

#[derive(Serialize)]
struct Erased {
    email: String,
    lead_ids: Vec<String>,
}

async fn erase(ctx: &Ctx, email: String) -> Result<()> {
    let response = ctx
        .intake()
        .await?
        .erase_person(ErasePersonRequest {
            email: email.clone(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Intake, s))?
        .into_inner();
    let erased = Erased {
        email,
        lead_ids: response.lead_ids,
    };
    emit(ctx.output(), &erased, |erased| {
        if erased.lead_ids.is_empty() {
            format!("no lead at intake has the email {}\n", erased.email)
        } else {
            format!(
                "erased the personal data of {} lead(s): {}\n(intake.person.erased tells every service to erase theirs)\n",
                erased.lead_ids.len(),
                erased.lead_ids.join(", ")
            )
        }
    })
}

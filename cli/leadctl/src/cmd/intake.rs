//! `leadctl intake …`.

use anyhow::Result;

use crate::cli::IntakeCommand;
use crate::conn::Ctx;

pub async fn run(ctx: &Ctx, command: IntakeCommand) -> Result<()> {
    match command {
        IntakeCommand::Leads { limit } => super::lists::leads(ctx, limit).await,
    }
}

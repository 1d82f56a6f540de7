//! One module per group of commands.

mod act;
mod demo;
mod lists;
mod report;
mod show;
mod watch;

use anyhow::Result;

use crate::cli::{
    AlertsCommand, Command, DemoCommand, LeadsCommand, OffersCommand, PoolCommand, ReportCommand,
    RepsCommand, TeamsCommand,
};
use crate::conn::Ctx;

pub async fn run(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Reps(RepsCommand::List { team }) => lists::reps(ctx, team).await,
        Command::Teams(TeamsCommand::List) => lists::teams(ctx).await,
        Command::Offers(OffersCommand::List) => lists::offers(ctx).await,
        Command::Offers(OffersCommand::Watch) => watch::run(ctx).await,
        Command::Claim { lead } => act::claim(ctx, lead).await,
        Command::Pass { lead, reason } => act::pass(ctx, lead, reason).await,
        Command::Pool(PoolCommand::List { team }) => lists::pool(ctx, team).await,
        Command::Leads(LeadsCommand::Show { lead }) => show::lead(ctx, lead).await,
        Command::Leads(LeadsCommand::List { limit }) => lists::leads(ctx, limit).await,
        Command::Alerts(AlertsCommand::List { recipient, limit }) => {
            lists::alerts(ctx, recipient, limit).await
        }
        Command::Report(ReportCommand::Funnel { team }) => report::funnel(ctx, team).await,
        Command::Demo(DemoCommand::Signups(args)) => demo::signups(ctx, args).await,
    }
}

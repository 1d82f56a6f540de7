//! One module per group of commands.

mod act;
mod demo;
mod intake;
mod ledger;
mod lists;
mod manage;
mod opps;
mod report;
mod routing;
mod show;
mod watch;

use anyhow::Result;

use crate::cli::{
    AlertsCommand, Command, DemoCommand, LeadsCommand, OffersCommand, PoolCommand, ReportCommand,
    RepsCommand, TeamsCommand, WheelCommand,
};
use crate::conn::Ctx;
use crate::output::emit;

pub async fn run(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Reps(RepsCommand::List { team }) => lists::reps(ctx, team).await,
        Command::Reps(RepsCommand::Away(args)) => manage::availability(ctx, args, false).await,
        Command::Reps(RepsCommand::Available(args)) => manage::availability(ctx, args, true).await,
        Command::Reps(RepsCommand::Update(args)) => manage::rep_update(ctx, args).await,
        Command::Reps(RepsCommand::Schedule(args)) => manage::rep_schedule(ctx, args).await,
        Command::Teams(TeamsCommand::List) => lists::teams(ctx).await,
        Command::Teams(TeamsCommand::Set(args)) => manage::teams_set(ctx, *args).await,
        Command::Offers(OffersCommand::List) => lists::offers(ctx).await,
        Command::Offers(OffersCommand::Watch) => watch::run(ctx).await,
        Command::Claim { lead } => act::claim(ctx, lead).await,
        Command::Pass { lead, reason } => act::pass(ctx, lead, reason).await,
        Command::Pool(PoolCommand::List { team }) => lists::pool(ctx, team).await,
        Command::Leads(LeadsCommand::Show { lead }) => show::lead(ctx, lead).await,
        Command::Leads(LeadsCommand::List { limit }) => lists::leads(ctx, limit).await,
        Command::Leads(LeadsCommand::Assign { lead, to, reason }) => {
            manage::assign(ctx, lead, to, reason).await
        }
        Command::Leads(LeadsCommand::Requeue { lead, reason }) => {
            manage::requeue(ctx, lead, reason).await
        }
        Command::Leads(LeadsCommand::Withdraw { lead, reason }) => {
            manage::withdraw(ctx, lead, reason).await
        }
        Command::Wheel(WheelCommand::Explain { lead }) => ledger::explain(ctx, lead).await,
        Command::Wheel(WheelCommand::WhyNot { lead, rep }) => ledger::why_not(ctx, lead, rep).await,
        Command::Wheel(WheelCommand::Stats { team, since }) => {
            ledger::stats(ctx, team, since).await
        }
        Command::Routing(command) => routing::run(ctx, command).await,
        Command::Simulate(args) => {
            let report = crate::simulate::simulate(&args)?;
            emit(ctx.output(), &report, crate::simulate::report::text)
        }
        Command::Alerts(AlertsCommand::List { recipient, limit }) => {
            lists::alerts(ctx, recipient, limit).await
        }
        Command::Report(ReportCommand::Funnel { team }) => report::funnel(ctx, team).await,
        Command::Demo(DemoCommand::Signups(args)) => demo::signups(ctx, args).await,
        Command::Opps(command) => opps::run(ctx, command).await,
        Command::Intake(command) => intake::run(ctx, command).await,
        Command::Import(command) => intake::import(ctx, command).await,
    }
}

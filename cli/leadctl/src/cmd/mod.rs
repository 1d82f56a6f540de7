//! One module per group of commands.

mod act;
mod alerts;
pub mod console;
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
    Command, DemoCommand, LeadsCommand, OffersCommand, PoolCommand, QuotaCommand, ReportCommand,
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
        Command::Alerts(command) => alerts::run(ctx, command).await,
        Command::Report(ReportCommand::Funnel { team }) => report::funnel(ctx, team).await,
        Command::Report(ReportCommand::Pipeline(args)) => report::sales::pipeline(ctx, args).await,
        Command::Report(ReportCommand::Forecast(args)) => report::sales::forecast(ctx, args).await,
        Command::Report(ReportCommand::Five(args)) => report::sales::five(ctx, args).await,
        Command::Report(ReportCommand::Fairness(args)) => report::wheel::fairness(ctx, args).await,
        Command::Report(ReportCommand::Speed(args)) => report::wheel::speed(ctx, args).await,
        Command::Report(ReportCommand::Stages(args)) => report::stages::stages(ctx, args).await,
        Command::Report(ReportCommand::Balance(args)) => report::stages::balance(ctx, args).await,
        Command::Report(ReportCommand::Routes(args)) => report::wheel::routes(ctx, args).await,
        Command::Report(ReportCommand::Rebuild) => report::quota::rebuild(ctx).await,
        Command::Report(ReportCommand::Movement {
            report,
            since,
            limit,
        }) => report::sales::movement(ctx, report, since, limit).await,
        Command::Report(ReportCommand::Activity { report, by }) => {
            report::stages::activity(ctx, report, by).await
        }
        Command::Quota(QuotaCommand::Set(args)) => report::quota::set(ctx, args).await,
        Command::Quota(QuotaCommand::List(args)) => report::quota::list(ctx, args).await,
        Command::Quota(QuotaCommand::Adjust {
            target,
            note,
            clear,
        }) => report::quota::adjust(ctx, target, note, clear).await,
        Command::Quota(QuotaCommand::Import { file }) => report::quota::import(ctx, file).await,
        Command::Demo(DemoCommand::Signups(args)) => demo::signups(ctx, args).await,
        Command::Opps(command) => opps::run(ctx, command).await,
        Command::Intake(command) => intake::run(ctx, command).await,
        Command::Import(command) => intake::import(ctx, command).await,
        Command::Console(command) => console::run(ctx, command),
    }
}

//! `leadctl`: the leadwheel command-line client. See `leadctl --help`.

mod cli;
mod clock;
mod cmd;
mod conn;
mod duration;
mod error;
mod output;
mod policy;
mod rate;
mod simulate;
mod term;
mod views;
mod words;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::conn::Ctx;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::anyhow!("starting the async runtime: {err}")),
    };
    let result = runtime.block_on(async move {
        let ctx = Ctx::new(cli.global)?;
        cmd::run(&ctx, cli.command).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// One line on stderr, exit 1.
fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("leadctl: {}", error::one_line(&format!("{err:#}")));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, Output, RepsCommand};
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "leadctl", "reps", "list", "--output", "json", "--team", "demo",
        ])
        .unwrap();
        assert_eq!(cli.global.output, Output::Json);
        assert!(
            matches!(cli.command, Command::Reps(RepsCommand::List { team: Some(ref t) }) if t == "demo")
        );
        let cli =
            Cli::try_parse_from(["leadctl", "-o", "json", "claim", "L1", "--as", "ana"]).unwrap();
        assert_eq!(cli.global.output, Output::Json);
        assert_eq!(cli.global.as_rep.as_deref(), Some("ana"));
    }

    #[test]
    fn pass_needs_a_reason() {
        assert!(Cli::try_parse_from(["leadctl", "pass", "L1", "--as", "ana"]).is_err());
        let cli = Cli::try_parse_from([
            "leadctl",
            "pass",
            "L1",
            "--as",
            "ana",
            "--reason",
            "on a call",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Pass { ref reason, .. } if reason == "on a call"));
    }

    #[test]
    fn rates_are_checked() {
        assert!(Cli::try_parse_from(["leadctl", "demo", "signups", "--rate", "0"]).is_err());
        assert!(Cli::try_parse_from(["leadctl", "demo", "signups", "--rate", "abc"]).is_err());
        assert!(
            Cli::try_parse_from([
                "leadctl", "demo", "signups", "--rate", "0.5", "--count", "3"
            ])
            .is_ok()
        );
    }

    /// Read from clap's own description of the flags, so the check holds
    /// whatever `LEADWHEEL_*_URL` the environment running the tests sets.
    #[test]
    fn default_urls_are_leadwheel_dev() {
        let expected = [
            (
                "intake_http_url",
                "LEADWHEEL_INTAKE_HTTP_URL",
                "http://127.0.0.1:8080",
            ),
            (
                "intake_url",
                "LEADWHEEL_INTAKE_URL",
                "http://127.0.0.1:50051",
            ),
            ("wheel_url", "LEADWHEEL_WHEEL_URL", "http://127.0.0.1:50052"),
            (
                "opportunity_url",
                "LEADWHEEL_OPPORTUNITY_URL",
                "http://127.0.0.1:50053",
            ),
            (
                "alerting_url",
                "LEADWHEEL_ALERTING_URL",
                "http://127.0.0.1:50054",
            ),
            (
                "reporting_url",
                "LEADWHEEL_REPORTING_URL",
                "http://127.0.0.1:50055",
            ),
        ];
        let command = Cli::command();
        for (id, env, default) in expected {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap_or_else(|| panic!("no {id} flag"));
            let defaults: Vec<_> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_str())
                .collect();
            assert_eq!(defaults, [Some(default)], "{id}");
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env), "{id}");
        }
        // A flag wins over the environment.
        let cli =
            Cli::try_parse_from(["leadctl", "teams", "list", "--wheel-url", "http://x:1"]).unwrap();
        assert_eq!(cli.global.urls.wheel_url, "http://x:1");
    }
}

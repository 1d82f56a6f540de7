//! `leadwheel`: the umbrella binary.
//!
//! - `leadwheel serve <service>` runs one service in this process;
//! - `leadwheel dev` runs the whole system on one machine, each service as
//!   its own child process (`leadwheel serve <service>`), with a local
//!   `nats-server` when none answers, a demo team seeded, and a dev inbox
//!   catching alerts' email and webhook posts;
//! - `leadwheel inbox` lists what that inbox caught.

mod dev;
mod inbox;
mod service;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::service::Service;

/// jemalloc serves every allocation of the process, SQLite's included (its
/// symbols replace the C library's `malloc`): under load glibc's
/// allocator took more than half of the SQLite thread's time, consolidating
/// its free lists around the page cache's allocations, and the wheel
/// sustains about a third more claims with jemalloc (docs/benchmarks.md,
/// session 17).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The NATS URL `leadwheel dev` uses by default. Not 4222: a machine may run
/// an old system NATS there (2.9, lacking consumers with several filter
/// subjects), so the dev server gets a port of its own.
pub const DEV_NATS_URL: &str = "nats://127.0.0.1:4244";
/// The dev inbox's SMTP address (alerting's email goes there in dev).
pub const DEV_INBOX_SMTP_ADDR: &str = "127.0.0.1:2525";
/// The dev inbox's HTTP address: its page and the webhook receiver.
pub const DEV_INBOX_HTTP_ADDR: &str = "127.0.0.1:8091";

#[derive(Debug, Parser)]
#[command(
    name = "leadwheel",
    version,
    about = "leadwheel: timed round-robin lead dispatch",
    long_about = "leadwheel dispatches sales leads: trial signups arrive at intake, a timed \
round-robin claim wheel offers each lead to one rep at a time, and the rep who claims it \
works it in the opportunity service.\n\n\
`leadwheel dev` runs everything on this machine; `leadctl` talks to it.",
    after_help = "Examples:\n  \
leadwheel dev                          # the whole system, NATS on 127.0.0.1:4244\n  \
leadwheel dev --data-dir /tmp/lw       # keep the SQLite files and logs elsewhere\n  \
leadwheel dev --logs                   # show the services' logs in this terminal\n  \
leadwheel inbox                        # the alerts' emails and webhook posts `leadwheel dev` caught\n  \
leadwheel serve wheel                  # one service, configured from LEADWHEEL_* env"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one service in this process until SIGTERM/SIGINT (config from env).
    Serve {
        /// Which service.
        #[arg(value_enum)]
        service: Service,
    },
    /// Runs the whole system on this machine, seeded with a demo team.
    #[command(after_help = dev::DEV_HELP)]
    Dev(DevArgs),
    /// Lists the emails and webhook posts `leadwheel dev`'s inbox caught (or prints one).
    #[command(after_help = inbox::cli::INBOX_HELP)]
    Inbox(inbox::cli::InboxArgs),
}

/// Options of `leadwheel dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Folder for the SQLite files, the NATS store, the service logs and the dev inbox.
    #[arg(long, env = "LEADWHEEL_DATA_DIR", default_value = "./.leadwheel")]
    pub data_dir: PathBuf,
    /// NATS server; a local `nats-server -js` is started there when nothing answers.
    #[arg(long, env = "NATS_URL", default_value = DEV_NATS_URL)]
    pub nats_url: String,
    /// Offer window of the demo team, in seconds: used when the team is
    /// created (default 30), and applied to an existing demo team when given.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub window_secs: Option<u32>,
    /// Do not seed the demo team.
    #[arg(long, conflicts_with = "reset_demo")]
    pub no_seed: bool,
    /// Restore the demo team as first seeded (ring, manager, window, policy)
    /// and set its reps available, undoing changes made since.
    #[arg(long)]
    pub reset_demo: bool,
    /// Show the services' and nats-server's logs here, prefixed with their
    /// names (they always go to <data-dir>/logs/<name>.log).
    #[arg(long)]
    pub logs: bool,
    /// How long to wait for every service to answer `/readyz`, in seconds.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout_secs: u64,
    /// Where the dev inbox takes email over SMTP (alerting sends there
    /// unless LEADWHEEL_ALERTING_SMTP_HOST is set).
    #[arg(long, env = "LEADWHEEL_DEV_INBOX_SMTP_ADDR", default_value = DEV_INBOX_SMTP_ADDR)]
    pub inbox_smtp_addr: std::net::SocketAddr,
    /// Where the dev inbox serves its page and takes webhook posts (/hooks/<name>).
    #[arg(long, env = "LEADWHEEL_DEV_INBOX_HTTP_ADDR", default_value = DEV_INBOX_HTTP_ADDR)]
    pub inbox_http_addr: std::net::SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("leadwheel: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { service } => service.run().await,
            Command::Dev(args) => dev::run(args).await,
            Command::Inbox(args) => inbox::cli::run(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leadwheel: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dev_defaults() {
        let cli = Cli::try_parse_from(["leadwheel", "dev"]).unwrap();
        let Command::Dev(args) = cli.command else {
            panic!("expected dev")
        };
        if std::env::var("NATS_URL").is_err() {
            assert_eq!(args.nats_url, DEV_NATS_URL);
        }
        assert_eq!(args.window_secs, None);
        assert!(!args.no_seed && !args.reset_demo && !args.logs);
        assert!(Cli::try_parse_from(["leadwheel", "dev", "--no-seed", "--reset-demo"]).is_err());
        if std::env::var("LEADWHEEL_DEV_INBOX_SMTP_ADDR").is_err() {
            assert_eq!(args.inbox_smtp_addr.to_string(), DEV_INBOX_SMTP_ADDR);
        }
    }

    #[test]
    fn inbox_takes_an_optional_message_number() {
        let cli = Cli::try_parse_from(["leadwheel", "inbox", "7", "--json"]).unwrap();
        let Command::Inbox(args) = cli.command else {
            panic!("expected inbox")
        };
        assert_eq!((args.id, args.json, args.last), (Some(7), true, 20));
        assert!(Cli::try_parse_from(["leadwheel", "inbox", "seven"]).is_err());
    }

    #[test]
    fn serve_takes_a_service() {
        let cli = Cli::try_parse_from(["leadwheel", "serve", "wheel"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Serve {
                service: Service::Wheel
            }
        ));
        assert!(Cli::try_parse_from(["leadwheel", "serve", "nope"]).is_err());
    }
}

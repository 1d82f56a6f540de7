//! `leadctl console link`: a signed one-time sign-in link to the web
//! console, for production where there is no pick-a-user page. Signed with
//! `LEADWHEEL_JWT_SECRET` (the key the console verifies with), as the user
//! named by `--as` in `--role` (rep unless given).

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use leadwheel_client::defaults::DEV_JWT_SECRET;
use leadwheel_client::secret::{Secret, secret_from_env};
use leadwheel_client::token::Role;

use crate::cli::RoleArg;
use crate::conn::Ctx;

/// `leadctl console …`.
#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Prints a one-time sign-in link for the user named by --as.
    #[command(after_help = "Examples:\n  \
leadctl console link --as ana\n  \
leadctl console link --as maya --role manager --ttl 5m --url https://console.example.com\n  \
leadctl console link --as ana --next /leads/lead_01JD3R2X7Q8M5V6N4K2P --lang zh-Hans")]
    Link(LinkArgs),
}

/// Options of `leadctl console link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The console's public URL (as the console's LEADWHEEL_CONSOLE_PUBLIC_URL).
    #[arg(
        long,
        env = "LEADWHEEL_CONSOLE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8090"
    )]
    pub url: String,
    /// How long the link may be used (once), e.g. 15m, 1h.
    #[arg(long, default_value = "15m", value_parser = crate::duration::parse_ms)]
    pub ttl: i64,
    /// The user's team, when the console should not look it up.
    #[arg(long)]
    pub team: Option<String>,
    /// Where the link lands after sign-in: a path on the console (e.g. /leads/ID).
    #[arg(long)]
    pub next: Option<String>,
    /// The user's language: en or zh-Hans.
    #[arg(long, value_parser = ["en", "zh-Hans"])]
    pub lang: Option<String>,
}

/// Runs a `console` command.
pub fn run(ctx: &Ctx, command: ConsoleCommand) -> Result<()> {
    let ConsoleCommand::Link(args) = command;
    let Some(user) = ctx
        .global
        .as_rep
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        bail!("`console link` needs --as USER: whom the link signs in");
    };
    let role = match ctx.global.role.unwrap_or(RoleArg::Rep) {
        RoleArg::Rep => Role::Rep,
        RoleArg::Manager => Role::Manager,
        RoleArg::Admin => Role::Admin,
        RoleArg::Integration => bail!("--role integration cannot sign in to the console"),
    };
    if args.ttl <= 0 {
        bail!("--ttl must be positive");
    }
    if let Some(next) = &args.next
        && (!next.starts_with('/') || next.starts_with("//"))
    {
        bail!("--next must be a path on the console, like /leads/ID (got {next:?})");
    }
    let key =
        secret_from_env("LEADWHEEL_JWT_SECRET")?.unwrap_or_else(|| Secret::new(DEV_JWT_SECRET));
    let now_secs = leadwheel_client::unix_now_secs();
    let token = leadwheel_client::link::issue(
        &key,
        user,
        role,
        args.team.as_deref(),
        now_secs,
        (args.ttl + 999) / 1000,
    );
    let mut url = format!(
        "{}/signin/link?token={token}",
        args.url.trim_end_matches('/')
    );
    if let Some(next) = &args.next {
        url.push_str("&next=");
        url.extend(form_urlencoded::byte_serialize(next.as_bytes()));
    }
    if let Some(lang) = &args.lang {
        url.push_str("&lang=");
        url.push_str(lang);
    }
    println!("{url}");
    Ok(())
}

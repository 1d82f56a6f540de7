//! `leadctl intake …` and `leadctl import …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Lists the newest leads at intake (same as `leadctl leads list`).
    Leads {
        /// How many (1..500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=500))]
        limit: i32,
    },
    /// Shows how a signup would score under a rules file, and why; stores
    /// nothing and needs no service.
    #[command(
        after_help = "Examples:\n  leadctl intake score --rules config/scoring.toml signup.json\n  echo '{\"email\":\"cto@acme.io\",\"company_size\":\"1000+\"}' | leadctl intake score --rules config/scoring.toml -"
    )]
    Score {
        /// The scoring rules (TOML; see docs/intake.md).
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// The signup as intake receives it (JSON); `-` reads stdin.
        #[arg(value_name = "SIGNUP.json")]
        signup: PathBuf,
    },
    /// Erases a person's personal data at intake (admin): their leads stay
    /// as anonymous records and every service is told to erase theirs.
    #[command(after_help = "Examples:\n  leadctl intake erase ana@acme.io --role admin")]
    Erase {
        /// The person's email address.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Imports leads from a CSV file through intake (validated, deduped and
    /// scored like any signup). The header row names the fields: email,
    /// name, company, phone, website, domain, company_size, country, source,
    /// utm_source, utm_medium, utm_campaign, utm_term, utm_content, product,
    /// plan, consent, message, and attributes.NAME for custom attributes.
    #[command(
        after_help = "Examples:\n  leadctl import leads leads.csv --dry-run\n  leadctl import leads leads.csv --role integration\n\nRe-running the same file is safe: each row is keyed by the file's hash and its row number."
    )]
    Leads(ImportLeadsArgs),
}

#[derive(Debug, Args)]
pub struct ImportLeadsArgs {
    /// The CSV file (UTF-8, comma-separated, header row first).
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Validate every row and report, storing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per call to intake (1..500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub batch: u16,
}

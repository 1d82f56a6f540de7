//! `leadctl routing …`: routing rules across teams.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// The routing rules across teams (list, set, history).
    #[command(subcommand)]
    Rules(RoutingRulesCommand),
    /// Which team the rules in force give a signup, and why; stores nothing.
    #[command(after_help = "\
The signup is read as intake reads it (email, country, source, company_size, product, \
plan, attributes). With --rules it is scored and tiered by the same code intake runs \
(as `leadctl intake score` does) and the wheel is asked with that tier and score; \
without, tier and score are empty.

Examples:
  leadctl routing test signup.json --rules config/scoring.toml
  leadctl routing test signup.json --rules config/scoring.toml --output json")]
    Test {
        /// The signup as intake receives it (JSON); `-` reads stdin.
        #[arg(value_name = "SIGNUP.json")]
        signup: PathBuf,
        /// Intake's scoring rules (TOML; see docs/intake.md).
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoutingRulesCommand {
    /// The rules in force, in order (first match wins), and the default team.
    #[command(
        after_help = "Examples:\n  leadctl routing rules list\n  leadctl routing rules list --output json > rules.json   # a file `set` takes back"
    )]
    List,
    /// Replaces the whole ordered list (admin); a bad rule is refused naming the field.
    #[command(after_help = RULES_SET_HELP)]
    Set {
        /// The rules (TOML, or JSON when the name ends in .json).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The version being replaced; default: the file's `version`, else
        /// the version in force when the command reads it.
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Every version of the rules, newest first: who set it and when.
    #[command(
        after_help = "Examples:\n  leadctl routing rules history\n  leadctl routing rules history --limit 5 --output json"
    )]
    History {
        /// How many versions (1..100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=100))]
        limit: i32,
    },
}

const RULES_SET_HELP: &str = "\
A rule sets at least one condition; every condition it sets must hold (a list holds \
when the lead's value is any entry, case-insensitive). Leads no rule matches go to \
default_team, or to the oldest team when it is empty. A team intake names for the \
lead (the account owner's) wins over every rule.

  version = 3                      # optional: the version this file replaces
  default_team = \"smb\"

  [[rules]]
  id = \"tier-a-enterprise\"
  team = \"enterprise\"
  tiers = [\"A\"]
  company_size_min = 1000          # also company_size_max, score_min, score_max (0..100)
  # countries, sources, products, plans, email_domains = [...]
  window_ms = 30000                # optional overrides: the offer window (1 s .. 1 h)
  rotation = \"ability_order\"      # and round_robin or ability_order
  [rules.attributes]
  industry = [\"fintech\", \"banking\"]

Examples:
  leadctl routing rules set rules.toml
  leadctl routing rules set rules.json --expected-version 3";

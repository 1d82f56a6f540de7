//! `leadctl intake …`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Lists the newest leads at intake (same as `leadctl leads list`).
    Leads {
        /// How many (1..500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=500))]
        limit: i32,
    },
}

//! `leadctl opps …`: the work on claimed leads.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum OppsCommand {
    /// Lists leads in work: the caller's own as a rep, every rep's as a manager or admin.
    #[command(
        after_help = "Examples:\n  leadctl opps leads --as ana\n  leadctl opps leads --rep ana"
    )]
    Leads {
        /// Only this rep's leads.
        #[arg(long, value_name = "REP")]
        rep: Option<String>,
    },
}

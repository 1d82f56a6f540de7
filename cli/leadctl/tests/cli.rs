//! The leadctl binary as a user meets it: help that teaches, and failures
//! that are one line with a non-zero exit. No server is needed: these
//! point leadctl at a closed port.

use std::net::TcpListener;
use std::process::{Command, Output};

fn leadctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .args(args)
        // Make the run independent of the caller's environment.
        .env_remove("LEADWHEEL_TOKEN")
        .env_remove("LEADWHEEL_AS")
        .env_remove("LEADWHEEL_JWT_SECRET")
        .output()
        .expect("running leadctl")
}

/// A URL where nothing listens: a port we bound and released.
fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn help_teaches_with_examples() {
    let out = leadctl(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "leadctl offers watch --as ana",
        "leadctl demo signups --rate",
        "--output json",
        "LEADWHEEL_JWT_SECRET",
    ] {
        assert!(text.contains(needle), "help lacks {needle:?}:\n{text}");
    }
}

#[test]
fn unreachable_wheel_is_one_line_and_exit_1() {
    let url = closed_url();
    let out = leadctl(&["reps", "list", "--wheel-url", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        format!("leadctl: cannot reach the wheel at {url}: is `leadwheel dev` running?\n")
    );
}

#[test]
fn unreachable_signup_endpoint_fails_the_demo() {
    let url = closed_url();
    let out = leadctl(&[
        "demo",
        "signups",
        "--rate",
        "50",
        "--count",
        "2",
        "--intake-http-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("leadctl: cannot reach the signup endpoint at "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn rep_commands_ask_for_a_rep() {
    let out = leadctl(&["claim", "lead_1", "--wheel-url", &closed_url()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "leadctl: `claim` acts as a rep: add --as REP (e.g. --as ana)\n"
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = leadctl(&["pass", "lead_1", "--as", "ana"]);
    assert_eq!(out.status.code(), Some(2), "--reason is required");
    let out = leadctl(&["reps", "list", "--output", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `simulate` needs no services: a tiny CSV, reps from flags, JSON out.
#[test]
fn simulate_runs_offline_and_is_repeatable() {
    let dir = std::env::temp_dir().join(format!("leadctl-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("signups.csv");
    std::fs::write(
        &csv,
        "timestamp,tier\n2025-01-06T09:00:00Z,A\n2025-01-06T09:01:00Z,B\n1736154120000,C\n",
    )
    .unwrap();
    let args = [
        "simulate",
        "--signups",
        csv.to_str().unwrap(),
        "--rep",
        "ana:p=1,response=fixed:5s",
        "--rep",
        "ben:response=never",
        "--window",
        "30s",
        "-o",
        "json",
    ];
    let first = leadctl(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["leads"], 3);
    assert_eq!(report["claimed"], 3, "{report}");
    assert_eq!(report["reps"][0]["rep_id"], "ana");
    assert_eq!(
        report["reps"][1]["expiries"], 1,
        "ben had one first look and let it lapse"
    );
    assert_eq!(
        leadctl(&args).stdout,
        first.stdout,
        "same input, same output"
    );

    let table = leadctl(&args[..args.len() - 2]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("speed to claim") && text.contains("FIRST-LOOK SHARE"),
        "{text}"
    );

    let bad = leadctl(&["simulate", "--rate", "30/h", "--window", "60"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = leadctl(&["simulate"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert!(
        stderr.starts_with("leadctl: say where signups come from"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

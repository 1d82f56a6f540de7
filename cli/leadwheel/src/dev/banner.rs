//! What `leadwheel dev` prints once everything is ready: the URLs, where the
//! logs are, the demo team, what to try, and how to stop. It comes last, so
//! it is what a newcomer sees (the services' logs go to files by default).

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use leadwheel_proto::wheel::v1::Team;

use super::NatsSource;
use super::seed::{self, Outcome};
use crate::service::Service;

/// Everything the banner shows.
pub struct Banner<'a> {
    pub nats_url: &'a str,
    pub nats: &'a NatsSource,
    pub data_dir: &'a Path,
    pub logs_shown: bool,
    /// (service, gRPC, admin)
    pub services: &'a [(Service, SocketAddr, SocketAddr)],
    pub http: SocketAddr,
    pub demo: Option<&'a (Team, Outcome)>,
    pub inbox: InboxShown,
    /// This binary: `leadctl` is built next to it.
    pub exe: &'a Path,
}

/// The dev inbox, as the banner shows it.
pub struct InboxShown {
    /// Its page and webhook receiver.
    pub http: SocketAddr,
    /// Its SMTP port, when alerting's email goes there (None: the user's
    /// own SMTP server).
    pub smtp: Option<SocketAddr>,
}

/// The last line of the banner, so a reader (or a test) knows it is complete.
pub const LAST_LINE: &str = "  Ctrl-C stops everything.";

pub fn print(banner: &Banner<'_>) {
    println!("{}", render(banner));
}

pub fn render(b: &Banner<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n  leadwheel is running (dev mode)\n");
    let _ = writeln!(
        out,
        "  signups      POST http://{}/v1/signups   (JSON: email, name, company, ...)",
        b.http
    );
    for (service, grpc, admin) in b.services {
        if *service == Service::Console {
            let _ = writeln!(
                out,
                "  {:<12} http://{}/   (web console: pick a user to sign in; admin http://{}/readyz)",
                service.name(),
                grpc,
                admin
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<12} gRPC http://{:<18} admin http://{}/readyz",
            service.name(),
            grpc,
            admin
        );
    }
    let nats = match b.nats {
        NatsSource::Existing => "already running; left running".to_string(),
        NatsSource::Started { store } => format!("started here; store {}", store.display()),
        NatsSource::Adopted { store, pid } => format!(
            "pid {pid}, left by a killed run, adopted; store {}",
            store.display()
        ),
    };
    let _ = writeln!(out, "  {:<12} {} ({nats})", "nats", b.nats_url);
    let mail = match b.inbox.smtp {
        Some(smtp) => format!("alert emails over SMTP {smtp}"),
        None => "email goes to your LEADWHEEL_ALERTING_SMTP_HOST, not here".into(),
    };
    let _ = writeln!(
        out,
        "  {:<12} http://{}/   ({mail}, webhook posts to /hooks/<name>; `leadwheel inbox`)",
        "inbox", b.inbox.http
    );
    let _ = writeln!(out, "  {:<12} {}", "data", b.data_dir.display());
    let shown = if b.logs_shown {
        "shown here too"
    } else {
        "`--logs` shows them here"
    };
    let _ = writeln!(
        out,
        "  {:<12} {}/logs/<service>.log ({shown})\n",
        "logs",
        b.data_dir.display()
    );
    if let Some((team, outcome)) = b.demo {
        let how = match outcome {
            Outcome::Created => "created",
            Outcome::Kept => "kept as it was; `--reset-demo` restores it",
            Outcome::WindowSet => "kept, window set by --window-secs",
            Outcome::Reset => "reset by --reset-demo",
        };
        let _ = writeln!(
            out,
            "  team `{}` ({how}): manager {}, reps {}; offer window {}\n",
            team.team_id,
            team.manager_id,
            team.rep_ids.join(", "),
            window(team.window_ms)
        );
    } else {
        let _ = writeln!(out, "  no demo team (--no-seed)\n");
    }
    let _ = writeln!(out, "  next, in another terminal:");
    if let Some(dir) = leadctl_dir(b.exe) {
        let _ = writeln!(
            out,
            "    export PATH=\"{}:$PATH\"      # leadctl and leadwheel",
            dir.display()
        );
    }
    let rep = b
        .demo
        .and_then(|(team, _)| team.rep_ids.first())
        .map_or(seed::REPS[0].0, String::as_str);
    let _ = write!(
        out,
        "    leadctl reps list\n\
         \x20   leadctl offers watch --as {rep}              # live countdown of {rep}'s offers\n\
         \x20   leadctl demo signups --rate 1 --count 3     # feed synthetic signups\n\
         \x20   leadctl claim <LEAD> --as {rep}               # or: leadctl pass <LEAD> --as {rep} --reason busy\n\
         \x20   leadctl pool list\n\
         \x20   leadctl leads show <LEAD>\n\
         \x20   leadctl report funnel\n\
         \x20   leadwheel inbox                             # alerts' emails and webhook posts, as they arrive\n\n\
         {LAST_LINE}"
    );
    out
}

/// The folder holding `leadctl` next to this binary, as the user named it:
/// `cargo run` starts us by the target folder's path (`CARGO_TARGET_DIR`
/// may be a symlink, which `current_exe` would resolve), else `exe`'s.
fn leadctl_dir(exe: &Path) -> Option<PathBuf> {
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    argv0
        .filter(|path| path.is_absolute())
        .into_iter()
        .chain(std::iter::once(exe.to_path_buf()))
        .filter_map(|path| path.parent().map(Path::to_path_buf))
        .find(|dir| dir.join("leadctl").is_file())
}

/// `30 s`, `2 s`, `1.5 s`.
fn window(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_with_how_to_stop_and_names_every_url() {
        let services = [
            (
                Service::Intake,
                "127.0.0.1:50051".parse().unwrap(),
                "127.0.0.1:51051".parse().unwrap(),
            ),
            (
                Service::Wheel,
                "127.0.0.1:50052".parse().unwrap(),
                "127.0.0.1:51052".parse().unwrap(),
            ),
            (
                Service::Console,
                "127.0.0.1:8090".parse().unwrap(),
                "127.0.0.1:51056".parse().unwrap(),
            ),
        ];
        let team = seed::demo_team(std::time::Duration::from_secs(2))
            .team
            .unwrap();
        let demo = (team, Outcome::WindowSet);
        let store = PathBuf::from("/d/nats");
        let text = render(&Banner {
            nats_url: "nats://127.0.0.1:4244",
            nats: &NatsSource::Started { store },
            data_dir: Path::new("/d"),
            logs_shown: false,
            services: &services,
            http: "127.0.0.1:8080".parse().unwrap(),
            demo: Some(&demo),
            inbox: InboxShown {
                http: "127.0.0.1:8091".parse().unwrap(),
                smtp: Some("127.0.0.1:2525".parse().unwrap()),
            },
            exe: Path::new("/nonexistent/leadwheel"),
        });
        assert!(text.ends_with(LAST_LINE), "{text}");
        for url in [
            "http://127.0.0.1:8080/v1/signups",
            "http://127.0.0.1:50052",
            "http://127.0.0.1:51051/readyz",
            "/d/logs/<service>.log",
            "console      http://127.0.0.1:8090/",
            "inbox        http://127.0.0.1:8091/   (alert emails over SMTP 127.0.0.1:2525",
            "leadwheel inbox",
        ] {
            assert!(text.contains(url), "{url} in {text}");
        }
        assert!(text.contains("offer window 2 s"), "{text}");
        assert!(
            !text.contains("export PATH"),
            "no leadctl next to it: {text}"
        );
    }

    #[test]
    fn with_your_own_smtp_the_inbox_takes_only_webhooks() {
        let store = PathBuf::from("/d/nats");
        let text = render(&Banner {
            nats_url: "nats://127.0.0.1:4244",
            nats: &NatsSource::Started { store },
            data_dir: Path::new("/d"),
            logs_shown: false,
            services: &[],
            http: "127.0.0.1:8080".parse().unwrap(),
            demo: None,
            inbox: InboxShown {
                http: "127.0.0.1:8091".parse().unwrap(),
                smtp: None,
            },
            exe: Path::new("/nonexistent/leadwheel"),
        });
        assert!(
            text.contains("email goes to your LEADWHEEL_ALERTING_SMTP_HOST, not here"),
            "{text}"
        );
        assert!(!text.contains("over SMTP"), "{text}");
    }

    #[test]
    fn windows_read_in_seconds() {
        assert_eq!(window(30_000), "30 s");
        assert_eq!(window(1_500), "1.5 s");
    }
}

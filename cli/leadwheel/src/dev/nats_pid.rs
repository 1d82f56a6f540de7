//! `<data-dir>/nats.pid`: the nats-server a `leadwheel dev` started.
//!
//! A `leadwheel dev` killed with SIGKILL cannot stop its nats-server, which
//! then runs on alone. The next `leadwheel dev` on the same data dir finds
//! it answering; the pid file tells it that this server is the one an
//! earlier run started (and not, say, a NATS the user runs on purpose), so
//! it adopts it and stops it at the end like one it started itself.
//!
//! The pid alone is not trusted (pids are reused): the process must be a
//! live `nats-server` whose command line names this data dir's store, and
//! whose parent is no longer a `leadwheel dev` (a running one owns it).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The pid file of the nats-server started for `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("nats.pid")
}

/// Records `pid` as the nats-server started for `data_dir`.
pub fn write(data_dir: &Path, pid: u32) -> Result<()> {
    let path = path(data_dir);
    std::fs::write(&path, format!("{pid}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Forgets the nats-server of `data_dir` (it stopped, or never ran).
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

/// What the pid file says about the nats-server of a data dir.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// No pid file, or it names no live nats-server of this store.
    Nothing,
    /// A nats-server of this store, left running by a killed `leadwheel dev`.
    Orphan { pid: u32, port: Option<u16> },
    /// A nats-server of this store whose `leadwheel dev` still runs.
    Owned { pid: u32 },
}

/// Reads the pid file and checks the process it names.
pub fn recorded(data_dir: &Path, store: &Path) -> Recorded {
    let Some(pid) = std::fs::read_to_string(path(data_dir))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return Recorded::Nothing;
    };
    if !alive(pid) {
        return Recorded::Nothing;
    }
    let Some(args) = cmdline(pid) else {
        return Recorded::Nothing;
    };
    if !is_nats_of(&args, store) {
        return Recorded::Nothing;
    }
    let parent_is_dev = parent(pid)
        .and_then(cmdline)
        .is_some_and(|args| is_leadwheel_dev(&args));
    if parent_is_dev {
        Recorded::Owned { pid }
    } else {
        Recorded::Orphan {
            pid,
            port: flag(&args, "-p").and_then(|port| port.parse().ok()),
        }
    }
}

/// True while `pid` exists and is not a zombie (an orphan's new parent may
/// be slow to reap it, and a zombie has stopped all the same).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: comm may hold spaces and parentheses, so the state
    // is the first field after the last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

fn program_is(args: &[String], name: &str) -> bool {
    args.first()
        .and_then(|argv0| Path::new(argv0).file_name())
        .is_some_and(|file| file.to_string_lossy().starts_with(name))
}

/// The argument after `name`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|arg| arg == name)?;
    args.get(at + 1).map(String::as_str)
}

/// `nats-server ... -sd <store>`, as [`super::nats::start`] runs it.
fn is_nats_of(args: &[String], store: &Path) -> bool {
    program_is(args, "nats-server") && flag(args, "-sd").is_some_and(|sd| Path::new(sd) == store)
}

fn is_leadwheel_dev(args: &[String]) -> bool {
    program_is(args, "leadwheel") && args.iter().skip(1).any(|arg| arg == "dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn recognises_the_nats_server_of_a_store() {
        let store = Path::new("/data/.leadwheel/nats");
        let ours =
            args("/usr/local/bin/nats-server -js -a 127.0.0.1 -p 4244 -sd /data/.leadwheel/nats");
        assert!(is_nats_of(&ours, store));
        assert_eq!(flag(&ours, "-p"), Some("4244"));
        let other_store = args("nats-server -js -sd /elsewhere/nats");
        assert!(!is_nats_of(&other_store, store));
        let not_nats = args("/bin/sleep 100 -sd /data/.leadwheel/nats");
        assert!(!is_nats_of(&not_nats, store));
        assert!(is_leadwheel_dev(&args(
            "/x/target/debug/leadwheel dev --logs"
        )));
        assert!(!is_leadwheel_dev(&args(
            "/x/target/debug/leadwheel serve wheel"
        )));
    }

    #[test]
    fn this_process_is_alive_and_a_stale_pid_file_is_nothing() {
        assert!(alive(std::process::id()));
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nats");
        assert_eq!(recorded(dir.path(), &store), Recorded::Nothing);
        // Our own pid: alive, but not a nats-server of this store.
        write(dir.path(), std::process::id()).unwrap();
        assert_eq!(recorded(dir.path(), &store), Recorded::Nothing);
        remove(dir.path());
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not yet reaped: a zombie once it has exited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while alive(pid) {
            assert!(std::time::Instant::now() < deadline, "`true` did not exit");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait().unwrap();
    }
}

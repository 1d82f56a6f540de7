//! Per-process log handling for `leadwheel dev`: every line a child writes
//! is kept, without colour codes, in `<data-dir>/logs/<name>.log`, and with
//! `--logs` also shown on our stdout behind its name (as docker compose does).
//! By default they are not shown, so the start-up ends with the URLs.
//!
//! nats-server writes its file itself (not through a pipe to us): it may
//! outlive a `leadwheel dev` killed with SIGKILL, and a Go program writing
//! to a pipe nobody reads dies of SIGPIPE; a file keeps it alive and logging.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;

/// Lines kept in memory to show when a process dies.
const TAIL_LINES: usize = 12;

/// Where one child's output goes.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    /// Keep the children's colours (our stdout is a terminal).
    ansi: bool,
    /// Copy lines to our stdout (`--logs`; off once stopping).
    echo: AtomicBool,
    path: PathBuf,
    /// The file we write; None when the child writes it itself.
    file: Option<Mutex<File>>,
    tail: Mutex<VecDeque<String>>,
}

impl LogSink {
    /// A sink for `name`, writing `dir/<name>.log` (truncated: one run per
    /// file), shown on stdout when `echo`.
    pub fn create(dir: &Path, name: &str, color: usize, echo: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.log"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self::new(name, color, echo, path, Some(file)))
    }

    /// A log the child writes itself (`dir/<name>.log`, opened for appending
    /// and truncated first unless `keep`); returns the sink and the file to
    /// hand the child as stdout. With `echo`, new lines are followed and shown.
    pub fn written_by_child(
        dir: &Path,
        name: &str,
        color: usize,
        echo: bool,
        keep: bool,
    ) -> Result<(Self, File)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if !keep {
            file.set_len(0)
                .with_context(|| format!("truncating {}", path.display()))?;
        }
        let from = file.metadata().map(|m| m.len()).unwrap_or(0);
        let sink = Self::new(name, color, echo, path, None);
        if echo {
            sink.follow(from);
        }
        Ok((sink, file))
    }

    fn new(name: &str, color: usize, echo: bool, path: PathBuf, file: Option<File>) -> Self {
        let ansi = std::io::stdout().is_terminal();
        Self {
            inner: Arc::new(Inner {
                prefix: prefix(name, color, ansi),
                ansi,
                echo: AtomicBool::new(echo),
                path,
                file: file.map(Mutex::new),
                tail: Mutex::new(VecDeque::with_capacity(TAIL_LINES)),
            }),
        }
    }

    /// Stops showing lines on stdout (they still go to the file).
    pub fn mute(&self) {
        self.inner.echo.store(false, Ordering::Relaxed);
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The last lines written, oldest first.
    pub fn tail(&self) -> Vec<String> {
        if self.inner.file.is_none() {
            // The child wrote the file: its end is the tail.
            let text = std::fs::read_to_string(&self.inner.path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(TAIL_LINES);
            return lines[start..].iter().map(|l| strip_ansi(l)).collect();
        }
        self.inner
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Shows the lines appended to the file from byte `from` on, as they come.
    fn follow(&self, from: u64) {
        let sink = self.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncSeekExt;
            let Ok(mut file) = tokio::fs::File::open(&sink.inner.path).await else {
                return;
            };
            if file.seek(std::io::SeekFrom::Start(from)).await.is_err() {
                return;
            }
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            loop {
                match reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    // A line is shown once complete; a partial one waits.
                    Ok(_) if line.ends_with('\n') => {
                        sink.show(line.trim_end_matches(['\n', '\r']));
                        line.clear();
                    }
                    Ok(_) => {}
                }
            }
        });
    }

    /// Takes the child's stdout and stderr and copies them here until they close.
    pub fn pump(&self, child: &mut Child) {
        if let Some(stdout) = child.stdout.take() {
            self.spawn_copy(stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            self.spawn_copy(stderr);
        }
    }

    fn spawn_copy(&self, reader: impl AsyncRead + Unpin + Send + 'static) {
        let sink = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.write_line(&line);
            }
        });
    }

    fn write_line(&self, line: &str) {
        let plain = strip_ansi(line);
        self.show(line);
        if let Some(Ok(mut file)) = self.inner.file.as_ref().map(Mutex::lock) {
            let _ = writeln!(file, "{plain}");
        }
        if let Ok(mut tail) = self.inner.tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(plain);
        }
    }

    fn show(&self, line: &str) {
        if self.inner.echo.load(Ordering::Relaxed) {
            let mut out = std::io::stdout().lock();
            if self.inner.ansi {
                let _ = writeln!(out, "{} {line}", self.inner.prefix);
            } else {
                let _ = writeln!(out, "{} {}", self.inner.prefix, strip_ansi(line));
            }
        }
    }
}

/// `name        |`, padded to the longest service name and coloured on a terminal.
fn prefix(name: &str, color: usize, ansi: bool) -> String {
    const COLORS: [u8; 6] = [36, 33, 32, 35, 34, 31];
    let padded = format!("{name:<11} |");
    if ansi {
        format!("\x1b[{}m{padded}\x1b[0m", COLORS[color % COLORS.len()])
    } else {
        padded
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), so log files read cleanly.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\x1b[2m2026-01-01\x1b[0m \x1b[32m INFO\x1b[0m wheel: ready"),
            "2026-01-01  INFO wheel: ready"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn prefixes_line_up() {
        assert_eq!(prefix("wheel", 0, false), "wheel       |");
        assert_eq!(prefix("opportunity", 0, false), "opportunity |");
        assert!(prefix("wheel", 1, true).starts_with("\x1b[33m"));
    }

    #[test]
    fn keeps_file_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::create(dir.path(), "wheel", 0, false).unwrap();
        for i in 0..20 {
            sink.write_line(&format!("\x1b[1mline {i}\x1b[0m"));
        }
        let tail = sink.tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.last().unwrap(), "line 19");
        let text = std::fs::read_to_string(sink.path()).unwrap();
        assert!(text.starts_with("line 0\n"));
    }

    #[test]
    fn a_child_written_log_is_truncated_unless_kept_and_tailed_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, mut file) =
            LogSink::written_by_child(dir.path(), "nats", 5, false, false).unwrap();
        for i in 0..15 {
            writeln!(file, "line {i}").unwrap();
        }
        assert_eq!(sink.tail().len(), TAIL_LINES);
        assert_eq!(sink.tail().last().unwrap(), "line 14");
        let (kept, mut again) =
            LogSink::written_by_child(dir.path(), "nats", 5, false, true).unwrap();
        writeln!(again, "line 15").unwrap();
        assert_eq!(kept.tail().first().unwrap(), "line 4");
        assert_eq!(kept.tail().last().unwrap(), "line 15");
        let (fresh, _) = LogSink::written_by_child(dir.path(), "nats", 5, false, false).unwrap();
        assert!(fresh.tail().is_empty());
    }
}

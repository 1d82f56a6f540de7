//! Per-process log handling for `leadwheel dev`: every line a child writes
//! is shown on our stdout behind its name (as docker compose does) and kept,
//! without colour codes, in `<data-dir>/logs/<name>.log`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
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
    /// Copy lines to our stdout (off in tests).
    echo: bool,
    path: PathBuf,
    file: Mutex<File>,
    tail: Mutex<VecDeque<String>>,
}

impl LogSink {
    /// A sink for `name`, writing `dir/<name>.log` (truncated: one run per file).
    pub fn create(dir: &Path, name: &str, color: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.log"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let ansi = std::io::stdout().is_terminal();
        Ok(Self {
            inner: Arc::new(Inner {
                prefix: prefix(name, color, ansi),
                ansi,
                echo: true,
                path,
                file: Mutex::new(file),
                tail: Mutex::new(VecDeque::with_capacity(TAIL_LINES)),
            }),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The last lines written, oldest first.
    pub fn tail(&self) -> Vec<String> {
        self.inner
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
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
        if self.inner.echo {
            let mut out = std::io::stdout().lock();
            let shown = if self.inner.ansi { line } else { &plain };
            let _ = writeln!(out, "{} {shown}", self.inner.prefix);
        }
        if let Ok(mut file) = self.inner.file.lock() {
            let _ = writeln!(file, "{plain}");
        }
        if let Ok(mut tail) = self.inner.tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(plain);
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
        let mut sink = LogSink::create(dir.path(), "wheel", 0).unwrap();
        Arc::get_mut(&mut sink.inner).unwrap().echo = false;
        for i in 0..20 {
            sink.write_line(&format!("\x1b[1mline {i}\x1b[0m"));
        }
        let tail = sink.tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.last().unwrap(), "line 19");
        let text = std::fs::read_to_string(sink.path()).unwrap();
        assert!(text.starts_with("line 0\n"));
    }
}

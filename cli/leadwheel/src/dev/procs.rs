//! The child processes of `leadwheel dev`: who is running, who exited, and
//! stopping them (SIGTERM, wait under a timeout, SIGKILL stragglers). One
//! may be adopted rather than ours: the nats-server a killed `leadwheel dev`
//! left behind (see `nats_pid`), watched through /proc.

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::sync::mpsc;

use super::logs::LogSink;
use super::signals::Signals;

/// How a process ended.
#[derive(Clone, Copy, Debug)]
pub enum Ended {
    /// Our child, with its exit status.
    Exited(ExitStatus),
    /// An adopted process is gone; not being its parent, we cannot know how.
    Gone,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Exited(status) => status.fmt(f),
            Ended::Gone => f.write_str("exit status unknown: it was adopted, not our child"),
        }
    }
}

/// One child process.
pub struct Proc {
    pub name: String,
    pub log: LogSink,
    pid: Option<u32>,
    pub status: Option<Ended>,
}

impl Proc {
    /// Still running (as far as we have heard).
    pub fn running(&self) -> bool {
        self.status.is_none() && self.pid.is_some()
    }

    fn signal(&self, signal: Signal) {
        if let (true, Some(Ok(pid))) = (self.running(), self.pid.map(i32::try_from)) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

/// A process's exit, by index into [`Procs::list`].
pub type Exit = (usize, Ended);

/// Every child, with one task per child waiting for its exit.
pub struct Procs {
    pub list: Vec<Proc>,
    tx: mpsc::UnboundedSender<Exit>,
    rx: mpsc::UnboundedReceiver<Exit>,
}

impl Procs {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            list: Vec::new(),
            tx,
            rx,
        }
    }

    /// Takes ownership of `child`; its exit will be reported by [`Procs::next_exit`].
    pub fn add(&mut self, name: &str, mut child: Child, log: LogSink) -> usize {
        let index = self.list.len();
        self.list.push(Proc {
            name: name.to_string(),
            log,
            pid: child.id(),
            status: None,
        });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // The task owns the child, so an early exit of `leadwheel dev`
            // drops it and `kill_on_drop` takes the process down too.
            if let Ok(status) = child.wait().await {
                let _ = tx.send((index, Ended::Exited(status)));
            }
        });
        index
    }

    /// Watches a process that is not our child (so `wait` cannot see it);
    /// its end is noticed within a quarter second.
    pub fn adopt(&mut self, name: &str, pid: u32, log: LogSink) -> usize {
        let index = self.list.len();
        self.list.push(Proc {
            name: name.to_string(),
            log,
            pid: Some(pid),
            status: None,
        });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while super::nats_pid::alive(pid) {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let _ = tx.send((index, Ended::Gone));
        });
        index
    }

    /// Waits for the next child to exit.
    pub async fn next_exit(&mut self) -> Exit {
        let (index, status) = self
            .rx
            .recv()
            .await
            .expect("Procs holds a sender, so the channel never closes");
        self.list[index].status = Some(status);
        (index, status)
    }

    /// SIGTERMs the children at `indices`, waits up to `timeout` for them,
    /// then SIGKILLs whoever is left. A second Ctrl-C skips the wait.
    pub async fn stop(&mut self, indices: &[usize], timeout: Duration, signals: &mut Signals) {
        for &i in indices {
            self.list[i].signal(Signal::SIGTERM);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut forced = false;
        while indices.iter().any(|&i| self.list[i].running()) {
            tokio::select! {
                (index, status) = self.next_exit() => {
                    println!("leadwheel: {} stopped ({status})", self.list[index].name);
                }
                _ = tokio::time::sleep_until(deadline), if !forced => {
                    forced = true;
                    for &i in indices.iter().filter(|&&i| self.list[i].running()) {
                        eprintln!(
                            "leadwheel: {} did not stop within {}s, killing it",
                            self.list[i].name,
                            timeout.as_secs()
                        );
                        self.list[i].signal(Signal::SIGKILL);
                    }
                }
                name = signals.recv(), if !forced => {
                    forced = true;
                    eprintln!("leadwheel: {name} again, killing what is left");
                    for &i in indices {
                        self.list[i].signal(Signal::SIGKILL);
                    }
                }
            }
        }
    }
}

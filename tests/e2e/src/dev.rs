//! A harness for tests of `leadwheel dev` itself: the real binary, run as a
//! newcomer runs it, on addresses of its own (every service address and the
//! NATS URL given through the overrides `leadwheel dev` accepts), with its
//! stdout and stderr captured line by line.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use leadwheel_plumbing::testing;
use tempfile::TempDir;

use crate::{SERVICES, bin_dir};

/// The banner's last line (`leadwheel dev`'s `banner::LAST_LINE`).
pub const BANNER_LAST_LINE: &str = "  Ctrl-C stops everything.";

/// `n` distinct free local addresses ([`testing::free_ports`]: `leadwheel dev`'s
/// children bind their own).
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    testing::free_ports(n)
        .into_iter()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .collect()
}

/// One data dir and one set of addresses, for successive runs of `leadwheel dev`.
pub struct DevSetup {
    pub dir: TempDir,
    pub http: SocketAddr,
    /// (service, gRPC, admin), in `SERVICES` order.
    pub services: Vec<(&'static str, SocketAddr, SocketAddr)>,
    pub nats_port: u16,
    /// The web console's (HTTP, admin), the sixth process.
    pub console: (SocketAddr, SocketAddr),
    /// The dev inbox's (SMTP, HTTP), served by `leadwheel dev` itself.
    pub inbox: (SocketAddr, SocketAddr),
}

impl DevSetup {
    pub fn new() -> Result<Self> {
        let mut addrs = free_addrs(6 + 2 * SERVICES.len()).into_iter();
        let mut next = || addrs.next().expect("enough addresses");
        Ok(Self {
            dir: tempfile::tempdir()?,
            http: next(),
            nats_port: next().port(),
            console: (next(), next()),
            inbox: (next(), next()),
            services: SERVICES
                .iter()
                .map(|&name| (name, next(), next()))
                .collect(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.nats_port)
    }

    /// A service's gRPC address.
    pub fn grpc(&self, service: &str) -> SocketAddr {
        self.services
            .iter()
            .find(|(name, ..)| *name == service)
            .map(|(_, grpc, _)| *grpc)
            .expect("one of the five services")
    }

    /// The pid `leadwheel dev` recorded for the nats-server it started.
    pub fn nats_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("nats.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// True while something accepts connections on the NATS port.
    pub fn nats_answers(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.nats_port)).is_ok()
    }

    /// True when every service address can be bound (no service of an
    /// earlier run is still draining).
    pub fn ports_free(&self) -> bool {
        [
            self.http,
            self.console.0,
            self.console.1,
            self.inbox.0,
            self.inbox.1,
        ]
        .into_iter()
        .chain(self.services.iter().flat_map(|(_, g, a)| [*g, *a]))
        .all(|addr| TcpListener::bind(addr).is_ok())
    }

    /// Starts `leadwheel dev` with `args` added; wait for it with [`DevRun::wait_banner`].
    pub fn start(&self, args: &[&str]) -> Result<DevRun> {
        let binary = bin_dir().join("leadwheel");
        if !binary.exists() {
            bail!(
                "{} is missing: build it first with `cargo build --workspace --bins`",
                binary.display()
            );
        }
        let mut command = Command::new(&binary);
        command
            .args(["dev", "--data-dir"])
            .arg(self.data_dir())
            .args(["--nats-url", &self.nats_url()])
            .args(args)
            .env_remove("NATS_URL")
            .env_remove("LEADWHEEL_DATA_DIR")
            .env("LEADWHEEL_JWT_SECRET", testing::TEST_JWT_SECRET)
            .env("LEADWHEEL_INTAKE_HTTP_ADDR", self.http.to_string())
            .env("LEADWHEEL_CONSOLE_HTTP_ADDR", self.console.0.to_string())
            .env("LEADWHEEL_CONSOLE_ADMIN_ADDR", self.console.1.to_string())
            .env("LEADWHEEL_DEV_INBOX_SMTP_ADDR", self.inbox.0.to_string())
            .env("LEADWHEEL_DEV_INBOX_HTTP_ADDR", self.inbox.1.to_string())
            // The inbox takes alerting's email unless the caller's SMTP is set.
            .env_remove("LEADWHEEL_ALERTING_SMTP_HOST")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (service, grpc, admin) in &self.services {
            let upper = service.to_ascii_uppercase();
            command
                .env(format!("LEADWHEEL_{upper}_GRPC_ADDR"), grpc.to_string())
                .env(format!("LEADWHEEL_{upper}_ADMIN_ADDR"), admin.to_string());
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped"), stdout.clone()),
            collect(child.stderr.take().expect("piped"), stderr.clone()),
        ];
        Ok(DevRun {
            child,
            stdout,
            stderr,
            readers,
        })
    }
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.lock().expect("lines").push(line);
        }
    })
}

/// One running `leadwheel dev`.
pub struct DevRun {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl DevRun {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().expect("lines").clone()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// Waits until the banner's last line is printed; fails if it exits first.
    pub async fn wait_banner(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stdout().iter().any(|line| line == BANNER_LAST_LINE) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "leadwheel dev exited ({status}) before its banner\nstdout:\n{}\nstderr:\n{}",
                    self.stdout().join("\n"),
                    self.stderr().join("\n")
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "no banner after {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout().join("\n"),
                    self.stderr().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pid of its child running `leadwheel serve <service>`.
    pub fn service_pid(&self, service: &str) -> Option<u32> {
        let wanted = format!(" serve {service}");
        std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&pid| {
                parent(pid) == Some(self.child.id())
                    && cmdline(pid).is_some_and(|args| args.trim_end().ends_with(&wanted))
            })
    }

    /// Waits for it to exit on its own, and for its last output.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("leadwheel dev still runs after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) and waits for the exit.
    pub async fn signal_and_wait(mut self, signal: &str, timeout: Duration) -> Result<ExitStatus> {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()?;
        if !sent.success() {
            bail!("kill -{signal} failed");
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "leadwheel dev did not exit within {timeout:?} of SIG{signal}\nstdout:\n{}",
                    self.stdout().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for DevRun {
    fn drop(&mut self) {
        // A failed test must not leave a `leadwheel dev` behind; its children
        // notice and stop themselves, and its nats-server is killed below
        // by the data dir's pid file, if the test did not stop it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevSetup {
    fn drop(&mut self) {
        if let Some(pid) = self.nats_pid()
            && process_running(pid)
            && cmdline(pid).is_some_and(|args| args.contains("nats-server"))
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// True while `pid` runs (a zombie has stopped).
pub fn process_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.trim_start().chars().next()
        })
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

//! Real receivers the tests start: an HTTP server (axum on port 0) for
//! webhooks and an SMTP server process (Python's aiosmtpd; CI installs it,
//! see .ci/run) writing every mail it accepts to a folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One request a webhook receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub signature: Option<String>,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    pub answered: u16,
}

/// A webhook receiver: `/flaky` answers 500 once then 200, `/bad` always
/// 400, `/ok` always 200.
pub struct Hooks {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hooks {
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = Router::new()
            .route("/flaky", post(flaky))
            .route("/bad", post(bad))
            .route("/ok", post(ok))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Log = State<Arc<Mutex<Vec<Received>>>>;

fn record(log: &Log, path: &str, headers: &HeaderMap, raw: &[u8], answered: u16) {
    log.lock().unwrap().push(Received {
        path: path.into(),
        signature: headers
            .get("x-leadwheel-signature")
            .map(|v| v.to_str().unwrap().to_string()),
        body: serde_json::from_slice(raw).unwrap_or(serde_json::Value::Null),
        raw: raw.to_vec(),
        answered,
    });
}

async fn flaky(log: Log, headers: HeaderMap, raw: axum::body::Bytes) -> StatusCode {
    let first = !log.lock().unwrap().iter().any(|r| r.path == "/flaky");
    let status = if first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    record(&log, "/flaky", &headers, &raw, status.as_u16());
    status
}

async fn ok(log: Log, headers: HeaderMap, raw: axum::body::Bytes) -> StatusCode {
    record(&log, "/ok", &headers, &raw, 200);
    StatusCode::OK
}

async fn bad(log: Log, headers: HeaderMap, raw: axum::body::Bytes) -> StatusCode {
    record(&log, "/bad", &headers, &raw, 400);
    StatusCode::BAD_REQUEST
}

/// The SMTP server: aiosmtpd on a port it binds itself (0), reporting the
/// port on its first line, writing each message to `<dir>/<n>.eml` and its
/// decoded plain text (no quoted-printable soft breaks) to `<dir>/<n>.txt`.
const SMTP_SERVER: &str = r#"
import asyncio, email, itertools, os, socket, sys
from aiosmtpd.smtp import SMTP

out = sys.argv[1]
counter = itertools.count()

class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        path = os.path.join(out, f"{n}.eml")
        raw = envelope.original_content or envelope.content
        parts = email.message_from_bytes(raw).walk()
        text = b"".join(p.get_payload(decode=True) for p in parts if p.get_content_type() == "text/plain")
        with open(os.path.join(out, f"{n}.txt"), "wb") as f:
            f.write(text)
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(raw)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"

def smtp():
    # With a certificate, a login and a password: STARTTLS required, then
    # AUTH required (aiosmtpd refuses AUTH before TLS).
    if len(sys.argv) < 6:
        return SMTP(Handler())
    import ssl
    from aiosmtpd.smtp import AuthResult
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    user, password = sys.argv[4].encode(), sys.argv[5].encode()
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = getattr(auth_data, "login", None) == user and getattr(auth_data, "password", None) == password
        return AuthResult(success=ok)
    return SMTP(Handler(), tls_context=context, require_starttls=True,
                authenticator=authenticator, auth_required=True, auth_require_tls=True)

async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(smtp, sock=sock)
    print(sock.getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

/// A running SMTP server.
pub struct Smtp {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Smtp {
    /// Starts it; panics (failing the test) when aiosmtpd is missing.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts it requiring STARTTLS with `ca`'s certificate, then a login.
    pub async fn start_tls(ca: &TestCa, user: &str, password: &str) -> Self {
        let (cert, key) = (ca.cert.display().to_string(), ca.key.display().to_string());
        Self::start_with(&[&cert, &key, user, password]).await
    }

    async fn start_with(args: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SMTP_SERVER)
            .arg(&dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting python3 (the SMTP test server needs python3 and aiosmtpd)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server did not start within 20 s")
            .unwrap()
            .expect("the SMTP server exited: is aiosmtpd installed? (python3 -m pip install aiosmtpd==1.4.6)");
        let port = line.trim().parse().expect("the SMTP server's port");
        Self {
            port,
            dir,
            child,
            _tmp: tmp,
        }
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<String> {
        self.received().iter().map(|p| read(p)).collect()
    }

    /// The plain text of every message received so far, decoded.
    pub fn texts(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|p| read(&p.with_extension("txt")))
            .collect()
    }

    fn received(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        // By number: 10.eml after 9.eml.
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
        });
        files
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// An https receiver: a test CA and a certificate for 127.0.0.1 made with
/// the `openssl` CLI, served by Python's `http.server` over `ssl`, keeping
/// every POST body (one file each) and answering 200.
pub struct HttpsHook {
    pub port: u16,
    pub ca_file: PathBuf,
    pub dir: PathBuf,
    child: Child,
    _ca: TestCa,
}

const HTTPS_SERVER: &str = r#"
import http.server, itertools, os, ssl, sys
out, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
counter = itertools.count()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        path = os.path.join(out, f"{next(counter)}.json")
        with open(path + ".tmp", "wb") as f:
            f.write(body)
        os.rename(path + ".tmp", path)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

fn openssl(args: &[&str], dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running openssl (the https test makes its certificates with it)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A test CA and a certificate for 127.0.0.1 it signed, made with the
/// `openssl` CLI.
pub struct TestCa {
    pub dir: PathBuf,
    pub ca_file: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    _tmp: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        for args in [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=leadwheel test CA",
            ][..],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ][..],
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "1",
                "-extfile",
                "leaf.ext",
            ][..],
        ] {
            openssl(args, &dir);
        }
        Self {
            ca_file: dir.join("ca.pem"),
            cert: dir.join("leaf.pem"),
            key: dir.join("leaf.key"),
            dir,
            _tmp: tmp,
        }
    }
}

impl HttpsHook {
    pub async fn start() -> Self {
        let ca = TestCa::new();
        let dir = ca.dir.clone();
        let bodies = dir.join("bodies");
        std::fs::create_dir(&bodies).unwrap();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(HTTPS_SERVER)
            .arg(&bodies)
            .arg(&ca.cert)
            .arg(&ca.key)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting python3 for the https receiver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the https receiver did not start within 20 s")
            .unwrap()
            .expect("the https receiver exited");
        Self {
            port: line.trim().parse().unwrap(),
            ca_file: ca.ca_file.clone(),
            dir: bodies,
            child,
            _ca: ca,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hook", self.port)
    }

    pub fn bodies(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| read(p)).collect()
    }
}

impl Drop for HttpsHook {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

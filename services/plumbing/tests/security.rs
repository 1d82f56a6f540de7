//! Production security over real sockets: TLS on the gRPC and admin ports
//! (certificates made here with the `openssl` command, reloaded when their
//! files change, client certificates required), TLS to NATS, and bearer
//! tokens from an identity provider verified with its key set, fetched from
//! a real HTTP(S) JWKS endpoint served here, with tokens signed here
//! (ES256 with ring, RS256 with a key made by `openssl`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use leadwheel_plumbing::auth::{Authenticator, Role, TokenError, caller};
use leadwheel_plumbing::config::Secret;
use leadwheel_plumbing::jwks::{IdpConfig, KeySet};
use leadwheel_plumbing::testing::{self, TEST_JWT_SECRET};
use leadwheel_plumbing::tls::{
    self, ClientAuth, ClientTlsSettings, NatsTlsSettings, ServerTls, ServerTlsSettings,
};
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use leadwheel_proto::intake::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use leadwheel_proto::intake::v1::*;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

// ---------------------------------------------------------------- helpers

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command (scripts/ensure-test-tools.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and leaves signed by it, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=leadwheel test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `<name>.pem` and `<name>.key`: a leaf for localhost and 127.0.0.1,
    /// for servers (`serverAuth`) or clients (`clientAuth`).
    fn leaf(&self, name: &str, usage: &str, serial: u32) {
        let dir = self.dir.path();
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!(
                "basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n\
                 subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            ),
        )
        .unwrap();
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial.to_string(),
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ],
        );
    }

    fn server_settings(&self, client_ca: bool) -> ServerTlsSettings {
        ServerTlsSettings {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: client_ca.then(|| self.path("ca.pem")),
            client_auth: ClientAuth::Required,
            admin: true,
            reload_every: Duration::from_millis(100),
        }
    }

    fn client_settings(&self, with_cert: bool) -> ClientTlsSettings {
        ClientTlsSettings {
            ca_file: Some(self.path("ca.pem")),
            identity: with_cert.then(|| (self.path("client.pem"), self.path("client.key"))),
        }
    }
}

/// The intake contract, answering `GetLead` with who the caller is.
struct WhoAmI;

#[tonic::async_trait]
impl IntakeService for WhoAmI {
    async fn create_lead(
        &self,
        _: Request<CreateLeadRequest>,
    ) -> Result<Response<CreateLeadResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn get_lead(
        &self,
        request: Request<GetLeadRequest>,
    ) -> Result<Response<GetLeadResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(GetLeadResponse {
            lead: Some(Lead {
                lead_id: format!(
                    "{}/{:?}/{}",
                    caller.subject,
                    caller.role,
                    caller.team.unwrap_or_default()
                ),
                ..Default::default()
            }),
        }))
    }
    async fn list_leads(
        &self,
        _: Request<ListLeadsRequest>,
    ) -> Result<Response<ListLeadsResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn import_leads(
        &self,
        _: Request<ImportLeadsRequest>,
    ) -> Result<Response<ImportLeadsResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn erase_person(
        &self,
        _: Request<ErasePersonRequest>,
    ) -> Result<Response<ErasePersonResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
}

/// Serves [`WhoAmI`] behind `auth` with the plumbing's gRPC server.
async fn serve_grpc(
    auth: Authenticator,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: CancellationToken,
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = IntakeServiceServer::with_interceptor(WhoAmI, auth);
    tokio::spawn(leadwheel_plumbing::grpc::serve(
        listener, tls, service, stop,
    ));
    addr
}

async fn who_am_i(url: &str, tls: &ClientTlsSettings, token: &str) -> Result<String, Status> {
    let channel = tls::channel(url, tls).map_err(|err| Status::internal(err.to_string()))?;
    let bearer = leadwheel_plumbing::auth::BearerToken::new(token)?;
    let mut client = IntakeServiceClient::with_interceptor(channel, bearer);
    let response = client
        .get_lead(GetLeadRequest {
            lead_id: String::new(),
        })
        .await?;
    Ok(response.into_inner().lead.unwrap().lead_id)
}

/// What a server says to a bare TLS client with `settings` that sends
/// the HTTP/2 preface: the alert that ended the connection.
async fn tls_alert(addr: std::net::SocketAddr, settings: &ClientTlsSettings) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = settings.client_config(&[b"h2"]).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut bare = tokio_rustls::TlsConnector::from(config)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let _ = bare.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    let mut buf = [0u8; 64];
    bare.read(&mut buf).await.unwrap_err().to_string()
}

/// A call that failed at the transport (for `reason`, when one is given).
fn assert_refused(status: &Status, reason: &str) {
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        "{status:?}"
    );
    let debug = format!("{status:?}");
    assert!(debug.contains(reason), "expected {reason}: {debug}");
}

fn hs256_token() -> String {
    testing::test_token("ana", Role::Manager)
}

fn auth() -> Authenticator {
    Authenticator::new(Secret::new(TEST_JWT_SECRET))
}

/// GETs `url` over HTTPS trusting `ca`; the status and body.
async fn https_get(url: &str, ca: &Path) -> Result<(u16, String), String> {
    let config = ClientTlsSettings {
        ca_file: Some(ca.to_path_buf()),
        identity: None,
    }
    .client_config(&[])
    .map_err(|err| err.to_string())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(Arc::unwrap_or_clone(config))
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Empty<bytes::Bytes>>(connector);
    let response = client
        .get(url.parse().unwrap())
        .await
        .map_err(|err| format!("{err:?}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The certificate a TLS server on `addr` presents.
async fn presented_cert(addr: std::net::SocketAddr, ca: &Path) -> Vec<u8> {
    let config = ClientTlsSettings {
        ca_file: Some(ca.to_path_buf()),
        identity: None,
    }
    .client_config(&[b"http/1.1"])
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn pem_der(path: &Path) -> Vec<u8> {
    tls::read_certs(path).unwrap()[0].to_vec()
}

// ---------------------------------------------------------------- TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_requires_the_client_certificate() {
    testing::init_test_logs();
    let pki = Pki::new();
    pki.leaf("server", "serverAuth", 1);
    pki.leaf("client", "clientAuth", 2);
    let server = ServerTls::load(&pki.server_settings(true)).unwrap();
    let stop = CancellationToken::new();
    let addr = serve_grpc(auth(), Some(server.grpc()), stop.clone()).await;
    let url = format!("https://localhost:{}", addr.port());

    // A real call over TLS with a client certificate, the token checked.
    let who = who_am_i(&url, &pki.client_settings(true), &hs256_token())
        .await
        .unwrap();
    assert_eq!(who, "ana/Manager/");

    // No client certificate: the server refuses the connection (the call
    // fails; on a bare TLS connection the server's alert says why).
    let refused = who_am_i(&url, &pki.client_settings(false), &hs256_token())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        "{refused:?}"
    );
    let alert = tls_alert(addr, &pki.client_settings(false)).await;
    assert!(alert.contains("CertificateRequired"), "{alert}");

    // A client that does not trust the server's CA refuses it.
    let untrusting = ClientTlsSettings {
        ca_file: None,
        identity: Some((pki.path("client.pem"), pki.path("client.key"))),
    };
    let refused = who_am_i(&url, &untrusting, &hs256_token())
        .await
        .unwrap_err();
    assert_refused(&refused, "UnknownIssuer");

    // Plain text to a TLS port gets nowhere.
    let plain = who_am_i(
        &format!("http://127.0.0.1:{}", addr.port()),
        &ClientTlsSettings::default(),
        &hs256_token(),
    )
    .await
    .unwrap_err();
    // The server answers the HTTP/2 preface with a TLS alert record, which
    // the client either reads as a broken connection or parses as an
    // oversized HTTP/2 frame (h2's FRAME_SIZE_ERROR, surfaced as Internal).
    if plain.code() == tonic::Code::Internal {
        assert!(
            format!("{plain:?}").contains("FRAME_SIZE_ERROR"),
            "{plain:?}"
        );
    } else {
        assert_refused(&plain, "");
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_let_clients_without_one_in() {
    let pki = Pki::new();
    pki.leaf("server", "serverAuth", 1);
    pki.leaf("client", "clientAuth", 2);
    let mut settings = pki.server_settings(true);
    settings.client_auth = ClientAuth::Optional;
    let server = ServerTls::load(&settings).unwrap();
    let stop = CancellationToken::new();
    let addr = serve_grpc(auth(), Some(server.grpc()), stop.clone()).await;
    let url = format!("https://localhost:{}", addr.port());
    for with_cert in [true, false] {
        let who = who_am_i(&url, &pki.client_settings(with_cert), &hs256_token())
            .await
            .unwrap();
        assert_eq!(who, "ana/Manager/");
    }
    // A certificate from another CA is still refused.
    let other = Pki::new();
    other.leaf("client", "clientAuth", 3);
    let foreign = ClientTlsSettings {
        ca_file: Some(pki.path("ca.pem")),
        identity: Some((other.path("client.pem"), other.path("client.key"))),
    };
    let refused = who_am_i(&url, &foreign, &hs256_token()).await.unwrap_err();
    assert_refused(&refused, "");
    let alert = tls_alert(addr, &foreign).await;
    assert!(alert.contains("received fatal alert"), "{alert}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_port_serves_https_and_reloads_its_certificate() {
    testing::init_test_logs();
    let pki = Pki::new();
    pki.leaf("server", "serverAuth", 10);
    let nats = testing::NatsServer::start().unwrap();
    let db = testing::TestDb::sqlite();
    let config = testing::service_config("intake", &nats.url(), &db.url);
    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    let store = leadwheel_plumbing::Store::connect(&db.url, &NO_MIGRATIONS)
        .await
        .unwrap();
    let bus = leadwheel_plumbing::Bus::connect(&config).await.unwrap();
    let readiness = leadwheel_plumbing::admin::Readiness {
        accepting: Arc::new(true.into()),
        store,
        bus,
    };
    // Client certificates are asked for on gRPC only: probes send none.
    let server = ServerTls::load(&pki.server_settings(true)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(leadwheel_plumbing::admin::serve(
        listener,
        server.admin(),
        readiness,
        stop.clone(),
    ));
    let ca = pki.path("ca.pem");
    let readyz = format!("https://localhost:{}/readyz", addr.port());
    let (status, body) = https_get(&readyz, &ca).await.unwrap();
    assert_eq!(status, 200, "{body}");
    // The NATS client may still be finishing its handshake when the first
    // probe comes ("nats disconnected"); it is ready once connected.
    testing::eventually(Duration::from_secs(5), "ready over HTTPS", || {
        let (readyz, ca) = (readyz.clone(), ca.clone());
        async move {
            let (status, body) = https_get(&readyz, &ca).await.ok()?;
            (status == 200 && body == "ready\n").then_some(())
        }
    })
    .await;
    assert_eq!(
        presented_cert(addr, &ca).await,
        pem_der(&pki.path("server.pem"))
    );

    // A broken pair (a key that is not the certificate's) is not taken.
    let first = pem_der(&pki.path("server.pem"));
    let stray = Pki::new();
    stray.leaf("server", "serverAuth", 11);
    std::fs::copy(stray.path("server.key"), pki.path("server.key")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(presented_cert(addr, &ca).await, first);

    // A new certificate and key (as a Secret update writes them) are
    // served to new connections without a restart.
    pki.leaf("server", "serverAuth", 12);
    let renewed = pem_der(&pki.path("server.pem"));
    assert_ne!(renewed, first);
    testing::eventually(Duration::from_secs(5), "the renewed certificate", || {
        let ca = ca.clone();
        let renewed = renewed.clone();
        async move { (presented_cert(addr, &ca).await == renewed).then_some(()) }
    })
    .await;
    let (status, _) = https_get(&format!("https://localhost:{}/healthz", addr.port()), &ca)
        .await
        .unwrap();
    assert_eq!(status, 200);
    stop.cancel();
}

#[test]
fn a_missing_certificate_is_named() {
    let missing = ServerTls::load(&ServerTlsSettings {
        cert_file: "/nonexistent/cert.pem".into(),
        key_file: "/nonexistent/key.pem".into(),
        client_ca_file: None,
        client_auth: ClientAuth::Required,
        admin: true,
        reload_every: Duration::from_secs(1),
    });
    let err = format!("{:#}", missing.unwrap_err());
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_over_tls_with_a_ca_file() {
    let pki = Pki::new();
    pki.leaf("server", "serverAuth", 20);
    let store = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let conf = store.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\n\
             tls {{ cert_file: {:?}, key_file: {:?} }}\n",
            store.path(),
            pki.path("server.pem"),
            pki.path("server.key"),
        ),
    )
    .unwrap();
    let mut child = Command::new(testing::nats_server_binary().unwrap())
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("tls://localhost:{port}");
    let mut config = testing::service_config("intake", &url, "sqlite::memory:");
    config.security.nats_tls = NatsTlsSettings {
        ca_file: Some(pki.path("ca.pem")),
        identity: None,
    };
    let connected = testing::eventually(Duration::from_secs(10), "NATS over TLS", || {
        let config = config.clone();
        async move {
            let bus = tokio::time::timeout(
                Duration::from_secs(2),
                leadwheel_plumbing::Bus::connect(&config),
            )
            .await
            .ok()?
            .ok()?;
            bus.client.flush().await.ok()?;
            Some(bus)
        }
    })
    .await;
    assert!(connected.is_connected());
    let reply = connected
        .client
        .request("$JS.API.INFO", "".into())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&reply.payload).contains("memory"));

    // Without the CA the server's certificate is not trusted.
    let untrusting = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url.as_str())
        .await;
    assert!(untrusting.is_err(), "connected without trusting the CA");
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------- JWKS

const ISSUER: &str = "https://idp.test/realms/sales";
const AUDIENCE: &str = "leadwheel";

/// A JWKS endpoint: serves `keys`, counts fetches.
#[derive(Clone, Default)]
struct Idp {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    async fn serve(&self, tls: Option<Arc<rustls::ServerConfig>>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let idp = self.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let idp = idp.clone();
                async move {
                    idp.fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"keys": *idp.keys.lock().unwrap()}))
                }
            }),
        );
        tokio::spawn(async move {
            axum::serve(tls::http_listener(listener, tls), app)
                .await
                .unwrap()
        });
        addr
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

struct Es256 {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Es256 {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        Self {
            pair,
            kid: kid.into(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    fn sign(&self, header: Value, claims: &Value) -> String {
        jwt(header, claims, |input| {
            self.pair
                .sign(&SystemRandom::new(), input)
                .unwrap()
                .as_ref()
                .to_vec()
        })
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(
            json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }
}

struct Rs256 {
    pair: RsaKeyPair,
    kid: String,
}

impl Rs256 {
    /// A 2048-bit key made by the openssl command.
    fn new(kid: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "rsa.pem",
            ],
        );
        openssl(
            dir.path(),
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "rsa.pem", "-outform", "DER", "-out",
                "rsa.der",
            ],
        );
        let der = std::fs::read(dir.path().join("rsa.der")).unwrap();
        Self {
            pair: RsaKeyPair::from_pkcs8(&der).unwrap(),
            kid: kid.into(),
        }
    }

    fn jwk(&self) -> Value {
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({"kty": "RSA", "kid": self.kid, "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)})
    }

    fn token(&self, claims: &Value) -> String {
        jwt(
            json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}),
            claims,
            |input| {
                let mut signature = vec![0; self.pair.public().modulus_len()];
                self.pair
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        input,
                        &mut signature,
                    )
                    .unwrap();
                signature
            },
        )
    }
}

fn jwt(header: Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "ana", "role": "manager",
        "team": "north", "iat": now(), "nbf": now() - 5, "exp": now() + 300})
}

fn with(key: &str, value: Value) -> Value {
    let mut claims = claims();
    claims[key] = value;
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_provider_tokens_are_verified_with_its_key_set() {
    testing::init_test_logs();
    let es = Es256::new("ec-1");
    let rs = Rs256::new("rsa-1");
    let idp = Idp::default();
    *idp.keys.lock().unwrap() = vec![es.jwk(), rs.jwk()];
    let addr = idp.serve(None).await;
    let mut config = IdpConfig::new(&format!("http://{addr}/jwks"), ISSUER, AUDIENCE);
    config.min_refresh = Duration::from_millis(300);
    let keys = KeySet::new(config).unwrap();
    assert_eq!(keys.fetch().await.unwrap(), 2);
    let stop = CancellationToken::new();
    tokio::spawn(keys.clone().run_refresh(stop.clone()));
    let auth = auth().with_key_set(keys);

    // Accepted, and mapped to a caller.
    for token in [es.token(&claims()), rs.token(&claims())] {
        let verified = auth.verify(&token).unwrap();
        assert_eq!(
            (
                verified.sub.as_str(),
                verified.role,
                verified.team.as_deref()
            ),
            ("ana", Role::Manager, Some("north"))
        );
    }
    // Leadwheel's own HS256 tokens still are.
    assert_eq!(auth.verify(&hs256_token()).unwrap().sub, "ana");

    // Refused: each check.
    let refusals = [
        (
            es.token(&with("iss", json!("https://evil.test"))),
            TokenError::Issuer("https://evil.test".into()),
        ),
        (
            es.token(&with("aud", json!("someone-else"))),
            TokenError::Audience,
        ),
        (
            rs.token(&with("aud", json!(["a", "b"]))),
            TokenError::Audience,
        ),
        (
            es.token(&with("exp", json!(now() - 120))),
            TokenError::Expired,
        ),
        (
            rs.token(&with("nbf", json!(now() + 120))),
            TokenError::NotYetValid,
        ),
        (
            es.token(&with("role", json!("owner"))),
            TokenError::Claim("role".into()),
        ),
        (
            es.token(&with("sub", Value::Null)),
            TokenError::Claim("sub".into()),
        ),
        // Signed by a key the provider does not publish, under its kid.
        (Es256::new("ec-1").token(&claims()), TokenError::Signature),
        // An EC key's kid with RS256 in the header.
        (
            es.sign(json!({"alg": "RS256", "kid": "ec-1"}), &claims()),
            TokenError::Algorithm,
        ),
        (
            jwt(json!({"alg": "none", "kid": "ec-1"}), &claims(), |_| {
                Vec::new()
            }),
            TokenError::Algorithm,
        ),
        (
            es.sign(json!({"alg": "ES384", "kid": "ec-1"}), &claims()),
            TokenError::Algorithm,
        ),
    ];
    for (token, expected) in refusals {
        assert_eq!(auth.verify(&token), Err(expected));
    }
    // A tampered body.
    let token = es.token(&claims());
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with("role", json!("admin")).to_string());
    assert_eq!(auth.verify(&parts.join(".")), Err(TokenError::Signature));
    // Without a key set, provider tokens are refused by name.
    assert_eq!(
        self::auth().verify(&es.token(&claims())),
        Err(TokenError::NoKeySet("ES256".into()))
    );

    // Through the gRPC interceptor: the caller reaches the handler; a bad
    // token never does.
    let grpc_stop = CancellationToken::new();
    let grpc = serve_grpc(auth.clone(), None, grpc_stop.clone()).await;
    let url = format!("http://{grpc}");
    let plain = ClientTlsSettings::default();
    assert_eq!(
        who_am_i(&url, &plain, &rs.token(&claims())).await.unwrap(),
        "ana/Manager/north"
    );
    let expired = who_am_i(&url, &plain, &es.token(&with("exp", json!(now() - 120))))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), tonic::Code::Unauthenticated);
    assert!(expired.message().contains("expired"), "{expired:?}");
    grpc_stop.cancel();

    // Key rotation: a token under a new kid is refused at first, triggers
    // one refresh, and is accepted once the new key is fetched.
    let rotated = Es256::new("ec-2");
    idp.keys.lock().unwrap().push(rotated.jwk());
    let before = idp.fetches();
    let token = rotated.token(&claims());
    assert_eq!(
        auth.verify(&token),
        Err(TokenError::UnknownKey("ec-2".into()))
    );
    testing::eventually(Duration::from_secs(5), "the rotated key", || {
        let result = auth.verify(&token);
        async move { result.ok() }
    })
    .await;
    assert_eq!(idp.fetches(), before + 1);

    // A flood of unknown kids refreshes at most once per min interval.
    let before = idp.fetches();
    let started = std::time::Instant::now();
    for i in 0..200 {
        let forged = Es256 {
            pair: Es256::new("x").pair,
            kid: format!("forged-{i}"),
        };
        assert!(matches!(
            auth.verify(&forged.token(&claims())),
            Err(TokenError::UnknownKey(_))
        ));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let fetched = idp.fetches() - before;
    assert_eq!(fetched, 1, "{fetched} fetches in {:?}", started.elapsed());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_set_is_fetched_over_https_and_refreshed_periodically() {
    let pki = Pki::new();
    pki.leaf("server", "serverAuth", 30);
    let server = ServerTls::load(&pki.server_settings(false)).unwrap();
    let es = Es256::new("ec-1");
    let idp = Idp::default();
    *idp.keys.lock().unwrap() = vec![es.jwk()];
    let addr = idp.serve(Some(server.http())).await;
    let url = format!("https://localhost:{}/jwks", addr.port());

    // Not trusting the CA: the fetch fails, nothing is cached.
    let untrusting = KeySet::new(IdpConfig::new(&url, ISSUER, AUDIENCE)).unwrap();
    assert!(untrusting.fetch().await.is_err());
    assert!(matches!(
        untrusting.verify(&es.token(&claims())),
        Err(TokenError::UnknownKey(_))
    ));

    let mut config = IdpConfig::new(&url, ISSUER, AUDIENCE);
    config.ca_file = Some(pki.path("ca.pem"));
    config.refresh_every = Duration::from_millis(300);
    config.min_refresh = Duration::from_millis(100);
    let keys = KeySet::new(config).unwrap();
    let stop = CancellationToken::new();
    // The refresh loop makes the first fetch itself.
    tokio::spawn(keys.clone().run_refresh(stop.clone()));
    testing::eventually(Duration::from_secs(5), "the first fetch", || {
        let result = keys.verify(&es.token(&claims()));
        async move { result.ok() }
    })
    .await;
    // Periodic refreshes pick up a removed key without any token asking.
    idp.keys.lock().unwrap().clear();
    idp.keys.lock().unwrap().push(Es256::new("ec-9").jwk());
    testing::eventually(Duration::from_secs(5), "the periodic refresh", || {
        let result = keys.verify(&es.token(&claims()));
        async move { matches!(result, Err(TokenError::UnknownKey(_))).then_some(()) }
    })
    .await;
    stop.cancel();
}

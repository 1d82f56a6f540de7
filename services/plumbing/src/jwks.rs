//! Bearer tokens from an identity provider: RS256 and ES256 JWTs verified
//! with the provider's published key set (JWKS), besides leadwheel's own
//! HS256 tokens.
//!
//! The key set is fetched over HTTP(S) from `LEADWHEEL_JWKS_URL` at start,
//! again every `LEADWHEEL_JWKS_REFRESH_MS` (5 minutes), and when a token
//! names a key id (`kid`) the set does not hold — at most once per
//! `LEADWHEEL_JWKS_MIN_REFRESH_MS` (10 s), so a stream of forged key ids
//! cannot hammer the provider. Verification itself only reads the cached
//! keys: no network call per request. A token with an unknown key id is
//! refused (`UNAUTHENTICATED`, "retry shortly"); the refresh it triggers
//! lets the retry through once the provider publishes the key.
//!
//! Checked on every identity-provider token: the signature (ring: RSA
//! PKCS#1 v1.5 with SHA-256 for 2048–8192-bit keys, ECDSA P-256 with
//! SHA-256), `alg` against the key's type and its `alg` when the key names
//! one, `iss` equal to `LEADWHEEL_JWT_ISSUER`, `aud` (a string or a list)
//! containing `LEADWHEEL_JWT_AUDIENCE`, `exp` (required) and `nbf` (when
//! present) with `LEADWHEEL_JWT_LEEWAY_S` (30 s) of clock skew allowed.
//!
//! The caller is read from claims named by configuration: the subject
//! from `LEADWHEEL_JWT_SUBJECT_CLAIM` (`sub`), the role from
//! `LEADWHEEL_JWT_ROLE_CLAIM` (`role`; a string or a list of strings, e.g.
//! `realm_access.roles` — a name is first looked up whole, then as a
//! dotted path), the team from `LEADWHEEL_JWT_TEAM_CLAIM` (`team`,
//! optional). Role values are leadwheel's role names, or mapped by
//! `LEADWHEEL_JWT_ROLE_MAP` (`idp-value=role,…`, e.g.
//! `sales-admins=admin,sales=rep`); when several map, the most powerful
//! wins (admin, manager, rep, integration).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::{Claims, Role, TokenError};
use crate::config::{env_duration_ms, env_parse};

/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// Time allowed for one fetch of the key set.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How an identity provider's tokens are checked and read.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    /// Where the key set is published (`LEADWHEEL_JWKS_URL`, http or https).
    pub jwks_url: String,
    /// The required `iss` (`LEADWHEEL_JWT_ISSUER`).
    pub issuer: String,
    /// The audience `aud` must contain (`LEADWHEEL_JWT_AUDIENCE`).
    pub audience: String,
    /// Claim naming the caller (`LEADWHEEL_JWT_SUBJECT_CLAIM`).
    pub subject_claim: String,
    /// Claim carrying the role(s) (`LEADWHEEL_JWT_ROLE_CLAIM`).
    pub role_claim: String,
    /// Claim carrying the managed team (`LEADWHEEL_JWT_TEAM_CLAIM`).
    pub team_claim: String,
    /// Provider role values to leadwheel roles (`LEADWHEEL_JWT_ROLE_MAP`);
    /// empty: values are leadwheel's role names.
    pub role_map: Vec<(String, Role)>,
    /// Clock skew allowed on `exp` and `nbf` (`LEADWHEEL_JWT_LEEWAY_S`).
    pub leeway_secs: i64,
    /// Periodic refresh (`LEADWHEEL_JWKS_REFRESH_MS`).
    pub refresh_every: Duration,
    /// Least time between two fetches (`LEADWHEEL_JWKS_MIN_REFRESH_MS`).
    pub min_refresh: Duration,
    /// Extra CA trusted for an https key set URL (`LEADWHEEL_JWKS_CA_FILE`).
    pub ca_file: Option<PathBuf>,
}

impl IdpConfig {
    /// Reads the settings; `None` when `LEADWHEEL_JWKS_URL` is unset.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(jwks_url) = non_empty_env("LEADWHEEL_JWKS_URL") else {
            return Ok(None);
        };
        if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
            bail!("LEADWHEEL_JWKS_URL must be an http:// or https:// URL, not {jwks_url:?}");
        }
        let issuer = non_empty_env("LEADWHEEL_JWT_ISSUER").context(
            "LEADWHEEL_JWT_ISSUER is required with LEADWHEEL_JWKS_URL (the provider's `iss`)",
        )?;
        let audience = non_empty_env("LEADWHEEL_JWT_AUDIENCE").context(
            "LEADWHEEL_JWT_AUDIENCE is required with LEADWHEEL_JWKS_URL (the `aud` tokens must name)",
        )?;
        let role_map = match non_empty_env("LEADWHEEL_JWT_ROLE_MAP") {
            None => Vec::new(),
            Some(map) => parse_role_map(&map)
                .map_err(|err| anyhow::anyhow!("invalid LEADWHEEL_JWT_ROLE_MAP: {err}"))?,
        };
        let leeway_secs: i64 = env_parse("LEADWHEEL_JWT_LEEWAY_S", 30)?;
        if !(0..=600).contains(&leeway_secs) {
            bail!("LEADWHEEL_JWT_LEEWAY_S must be between 0 and 600");
        }
        let refresh_every = env_duration_ms("LEADWHEEL_JWKS_REFRESH_MS", Duration::from_secs(300))?;
        let min_refresh =
            env_duration_ms("LEADWHEEL_JWKS_MIN_REFRESH_MS", Duration::from_secs(10))?;
        if min_refresh.is_zero() || refresh_every < min_refresh {
            bail!(
                "LEADWHEEL_JWKS_MIN_REFRESH_MS must be more than 0 and at most LEADWHEEL_JWKS_REFRESH_MS"
            );
        }
        Ok(Some(Self {
            jwks_url,
            issuer,
            audience,
            subject_claim: claim_name("LEADWHEEL_JWT_SUBJECT_CLAIM", "sub"),
            role_claim: claim_name("LEADWHEEL_JWT_ROLE_CLAIM", "role"),
            team_claim: claim_name("LEADWHEEL_JWT_TEAM_CLAIM", "team"),
            role_map,
            leeway_secs,
            refresh_every,
            min_refresh,
            ca_file: non_empty_env("LEADWHEEL_JWKS_CA_FILE").map(PathBuf::from),
        }))
    }

    /// Settings for `jwks_url` with the default claim names (for tests and
    /// embedding).
    pub fn new(jwks_url: &str, issuer: &str, audience: &str) -> Self {
        Self {
            jwks_url: jwks_url.to_string(),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            subject_claim: "sub".into(),
            role_claim: "role".into(),
            team_claim: "team".into(),
            role_map: Vec::new(),
            leeway_secs: 30,
            refresh_every: Duration::from_secs(300),
            min_refresh: Duration::from_secs(10),
            ca_file: None,
        }
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn claim_name(var: &str, default: &str) -> String {
    non_empty_env(var).unwrap_or_else(|| default.to_string())
}

/// Parses `idp-value=role,…`.
pub fn parse_role_map(map: &str) -> Result<Vec<(String, Role)>, String> {
    map.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (from, to) = entry
                .rsplit_once('=')
                .ok_or_else(|| format!("{entry:?} is not `value=role`"))?;
            let role = to.trim().parse::<Role>()?;
            Ok((from.trim().to_string(), role))
        })
        .collect()
}

/// One verification key.
#[derive(Clone, Debug)]
enum Key {
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point (0x04 ‖ x ‖ y).
    P256(Vec<u8>),
}

impl Key {
    fn alg(&self) -> &'static str {
        match self {
            Key::Rsa { .. } => "RS256",
            Key::P256(_) => "ES256",
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Key::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Key::P256(point) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
        }
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

fn b64(field: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field.as_deref()?).ok()
}

/// The usable keys of a JWKS document, by key id (`""` for keys without
/// one). Encryption keys and key types other than RSA and P-256 are
/// skipped; a set with no usable key is an error.
fn parse_jwks(body: &[u8]) -> Result<Vec<(String, Key)>> {
    let set: JwkSet = serde_json::from_slice(body).context("the key set is not a JWKS document")?;
    let mut keys = Vec::new();
    for jwk in set.keys {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => match (b64(&jwk.n), b64(&jwk.e)) {
                (Some(n), Some(e)) => Key::Rsa { n, e },
                _ => continue,
            },
            ("EC", Some("P-256")) => match (b64(&jwk.x), b64(&jwk.y)) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = vec![0x04];
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    Key::P256(point)
                }
                _ => continue,
            },
            _ => continue,
        };
        if jwk.alg.as_deref().is_some_and(|alg| alg != key.alg()) {
            continue;
        }
        keys.push((jwk.kid.unwrap_or_default(), key));
    }
    if keys.is_empty() {
        bail!("the key set has no RS256 or ES256 signing key");
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The `alg` of a token's header.
pub fn token_alg(token: &str) -> Result<String, TokenError> {
    Ok(header(token)?.alg)
}

fn header(token: &str) -> Result<Header, TokenError> {
    let encoded = token.split('.').next().ok_or(TokenError::Malformed)?;
    URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)
}

struct Inner {
    config: IdpConfig,
    keys: RwLock<Arc<Vec<(String, Key)>>>,
    wanted: tokio::sync::Notify,
    /// A refresh was asked for and has not happened yet: later unknown
    /// key ids add nothing.
    pending: std::sync::atomic::AtomicBool,
    last_fetch: Mutex<Option<Instant>>,
    client: HttpClient,
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<bytes::Bytes>,
>;

/// An identity provider's key set, cached; cheap to clone.
#[derive(Clone)]
pub struct KeySet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("jwks_url", &self.inner.config.jwks_url)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// An empty key set for `config` (call [`KeySet::fetch`] or
    /// [`KeySet::run_refresh`] to fill it).
    pub fn new(config: IdpConfig) -> Result<Self> {
        let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(crate::tls::root_store(config.ca_file.as_deref())?)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                keys: RwLock::new(Arc::new(Vec::new())),
                wanted: tokio::sync::Notify::new(),
                pending: std::sync::atomic::AtomicBool::new(false),
                last_fetch: Mutex::new(None),
                client,
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &IdpConfig {
        &self.inner.config
    }

    /// Fetches the key set now and replaces the cached one; returns how
    /// many usable keys it holds. On failure the cached keys stay.
    pub async fn fetch(&self) -> Result<usize> {
        *self
            .inner
            .last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let url = &self.inner.config.jwks_url;
        let body = tokio::time::timeout(FETCH_TIMEOUT, async {
            let uri: http::Uri = url.parse().context("invalid URL")?;
            let response = self.inner.client.get(uri).await.context("request failed")?;
            if !response.status().is_success() {
                bail!("answered {}", response.status());
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|err| anyhow::anyhow!("reading the body: {err}"))?;
            Ok(body.to_bytes())
        })
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|result| result)
        .with_context(|| format!("fetching the key set {url}"))?;
        let keys = parse_jwks(&body).with_context(|| format!("key set {url}"))?;
        let count = keys.len();
        *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        self.inner
            .pending
            .store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(count)
    }

    /// Keeps the key set fresh until `stop` fires: every `refresh_every`,
    /// and soon after a token names an unknown key (never twice within
    /// `min_refresh`). A failed fetch is retried after `min_refresh`.
    pub async fn run_refresh(self, stop: CancellationToken) {
        let config = &self.inner.config;
        let mut next = match *self
            .inner
            .last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            Some(last)
                if !self
                    .inner
                    .keys
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty() =>
            {
                last + config.refresh_every
            }
            _ => Instant::now(),
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
                _ = self.inner.wanted.notified() => {
                    let last = *self.inner.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(last) = last {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep_until(last + config.min_refresh) => {}
                        }
                    }
                }
            }
            next = match self.fetch().await {
                Ok(count) => {
                    tracing::debug!(keys = count, "identity provider key set refreshed");
                    Instant::now() + config.refresh_every
                }
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "could not refresh the identity provider key set; keeping the cached keys");
                    Instant::now() + config.min_refresh
                }
            };
        }
    }

    /// Verifies an RS256 or ES256 `token` and maps its claims to a
    /// leadwheel caller. Reads only the cached keys.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = header(token)?;
        if header.alg != "RS256" && header.alg != "ES256" {
            return Err(TokenError::Algorithm);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let body = signing_input
            .split_once('.')
            .map(|(_, body)| body)
            .ok_or(TokenError::Malformed)?;
        if body.contains('.') {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let kid = header.kid.unwrap_or_default();
        let mut candidates = keys
            .iter()
            .filter(|(id, _)| kid.is_empty() || *id == kid)
            .peekable();
        if candidates.peek().is_none() {
            // Perhaps a key the provider just rotated in.
            if !self
                .inner
                .pending
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                self.inner.wanted.notify_one();
            }
            return Err(TokenError::UnknownKey(kid));
        }
        let mut alg_matched = false;
        let mut verified = false;
        for (_, key) in candidates {
            if key.alg() != header.alg {
                continue;
            }
            alg_matched = true;
            if key.verify(signing_input.as_bytes(), &signature) {
                verified = true;
                break;
            }
        }
        if !alg_matched {
            return Err(TokenError::Algorithm);
        }
        if !verified {
            return Err(TokenError::Signature);
        }
        let claims: Value = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(Value::is_object)
            .ok_or(TokenError::Malformed)?;
        self.map_claims(&claims, leadwheel_client::unix_now_secs())
    }

    fn map_claims(&self, claims: &Value, now: i64) -> Result<Claims, TokenError> {
        let config = &self.inner.config;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| TokenError::Claim("exp".into()))?;
        if now >= exp + config.leeway_secs {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf
                .as_i64()
                .ok_or_else(|| TokenError::Claim("nbf".into()))?;
            if now + config.leeway_secs < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if iss != config.issuer {
            return Err(TokenError::Issuer(iss.to_string()));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == config.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|aud| aud.as_str() == Some(config.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::Audience);
        }
        let sub = claim(claims, &config.subject_claim)
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| TokenError::Claim(config.subject_claim.clone()))?;
        let role = self
            .role(claim(claims, &config.role_claim))
            .ok_or_else(|| TokenError::Claim(config.role_claim.clone()))?;
        let team = match claim(claims, &config.team_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(team)) if !team.is_empty() => Some(team.clone()),
            Some(_) => return Err(TokenError::Claim(config.team_claim.clone())),
        };
        Ok(Claims {
            sub: sub.to_string(),
            role,
            team,
            exp,
            iat: claims.get("iat").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// The most powerful role among the claim's values.
    fn role(&self, value: Option<&Value>) -> Option<Role> {
        let values: Vec<&str> = match value? {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let map = &self.inner.config.role_map;
        let roles: Vec<Role> = values
            .into_iter()
            .filter_map(|value| {
                if map.is_empty() {
                    value.parse().ok()
                } else {
                    map.iter()
                        .find(|(from, _)| from == value)
                        .map(|(_, role)| *role)
                }
            })
            .collect();
        [Role::Admin, Role::Manager, Role::Rep, Role::Integration]
            .into_iter()
            .find(|role| roles.contains(role))
    }
}

/// The claim `name`: a top-level claim of that exact name, else the
/// dotted path (`realm_access.roles`).
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    name.split('.')
        .try_fold(claims, |value, part| value.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keyset() -> KeySet {
        KeySet::new(IdpConfig::new(
            "http://127.0.0.1:1/jwks",
            "https://idp",
            "leadwheel",
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn claims_map_to_a_caller() {
        let set = keyset();
        let now = 1_000_000;
        let base = json!({"iss": "https://idp", "aud": ["other", "leadwheel"], "sub": "ana",
            "role": ["rep", "manager"], "team": "north", "exp": now + 60, "nbf": now - 1});
        let claims = set.map_claims(&base, now).unwrap();
        assert_eq!(claims.sub, "ana");
        assert_eq!(claims.role, Role::Manager);
        assert_eq!(claims.team.as_deref(), Some("north"));

        let with = |key: &str, value: Value| {
            let mut claims = base.clone();
            claims[key] = value;
            set.map_claims(&claims, now)
        };
        assert_eq!(
            with("iss", json!("https://evil")),
            Err(TokenError::Issuer("https://evil".into()))
        );
        assert_eq!(with("aud", json!("other")), Err(TokenError::Audience));
        assert_eq!(with("exp", json!(now - 31)), Err(TokenError::Expired));
        assert!(with("exp", json!(now - 29)).is_ok(), "within the leeway");
        assert_eq!(with("nbf", json!(now + 31)), Err(TokenError::NotYetValid));
        assert_eq!(
            with("role", json!("owner")),
            Err(TokenError::Claim("role".into()))
        );
        assert_eq!(with("sub", json!(7)), Err(TokenError::Claim("sub".into())));
    }

    #[tokio::test]
    async fn roles_are_mapped_and_paths_followed() {
        let mut config = IdpConfig::new("http://127.0.0.1:1/jwks", "i", "a");
        config.role_claim = "realm_access.roles".into();
        config.team_claim = "https://leadwheel.example/team".into();
        config.role_map = parse_role_map("sales=rep, sales-admins=admin").unwrap();
        let set = KeySet::new(config).unwrap();
        let claims = json!({"iss": "i", "aud": "a", "sub": "bo", "exp": 2_000,
            "realm_access": {"roles": ["offline_access", "sales"]},
            "https://leadwheel.example/team": "south"});
        let mapped = set.map_claims(&claims, 1_000).unwrap();
        assert_eq!(mapped.role, Role::Rep);
        assert_eq!(mapped.team.as_deref(), Some("south"));
        assert!(parse_role_map("sales").is_err());
        assert!(parse_role_map("sales=owner").is_err());
    }

    #[test]
    fn key_sets_keep_only_signing_keys_they_can_use() {
        let body = json!({"keys": [
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AA"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "r", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, "r");
        assert!(parse_jwks(br#"{"keys": []}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}

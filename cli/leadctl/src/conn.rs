//! Who leadctl is (its token) and how it reaches each service.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadwheel_client::bearer::BearerToken;
use leadwheel_client::defaults::DEV_JWT_SECRET;
use leadwheel_client::secret::{Secret, secret_from_env};
use leadwheel_client::tls::{ClientTlsSettings, TlsConnector};
use leadwheel_client::token::{Role, TokenKey};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::intake::v1::intake_service_client::IntakeServiceClient;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::cli::{Global, Output, RoleArg};
use crate::error::{Target, describe_status, unreachable};

/// Lifetime of the tokens leadctl signs.
const TOKEN_TTL_SECS: i64 = 3600;

/// A gRPC channel that adds the bearer token to every call.
pub type Authed = InterceptedService<Channel, BearerToken>;

/// The caller: the token to send and what it says about whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub token: String,
    /// The token's subject, when readable.
    pub subject: Option<String>,
    /// The token's role, when readable.
    pub role: Option<String>,
    /// The rep named with --as.
    pub as_rep: Option<String>,
}

impl Identity {
    /// From --token/--as/--role: the given token, else one signed here with
    /// `LEADWHEEL_JWT_SECRET` or the development key.
    pub fn resolve(
        token: Option<&str>,
        as_rep: Option<&str>,
        role: Option<RoleArg>,
    ) -> Result<Self> {
        let as_rep = as_rep
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
            let (subject, role) = peek_claims(token);
            return Ok(Self {
                token: token.to_string(),
                subject,
                role,
                as_rep,
            });
        }
        let role = match (role, &as_rep) {
            (Some(role), _) => role,
            (None, Some(_)) => RoleArg::Rep,
            (None, None) => RoleArg::Admin,
        };
        let subject = match (&as_rep, role) {
            (Some(rep), _) => rep.clone(),
            (None, RoleArg::Admin) => "admin".to_string(),
            (None, other) => bail!(
                "--role {} needs --as ID: whom the token names",
                role_name(other)
            ),
        };
        let key =
            secret_from_env("LEADWHEEL_JWT_SECRET")?.unwrap_or_else(|| Secret::new(DEV_JWT_SECRET));
        let token = TokenKey::new(key).mint(&subject, to_role(role), None, TOKEN_TTL_SECS);
        Ok(Self {
            token,
            subject: Some(subject),
            role: Some(role_name(role).to_string()),
            as_rep,
        })
    }

    /// The rep a rep-only command acts as: --as, else the subject of a rep token.
    pub fn rep(&self, command: &str) -> Result<String> {
        if let Some(rep) = &self.as_rep {
            return Ok(rep.clone());
        }
        match (&self.subject, self.role.as_deref()) {
            (Some(subject), Some("rep")) => Ok(subject.clone()),
            _ => bail!("`{command}` acts as a rep: add --as REP (e.g. --as ana)"),
        }
    }
}

fn to_role(role: RoleArg) -> Role {
    match role {
        RoleArg::Rep => Role::Rep,
        RoleArg::Manager => Role::Manager,
        RoleArg::Admin => Role::Admin,
        RoleArg::Integration => Role::Integration,
    }
}

fn role_name(role: RoleArg) -> &'static str {
    match role {
        RoleArg::Rep => "rep",
        RoleArg::Manager => "manager",
        RoleArg::Admin => "admin",
        RoleArg::Integration => "integration",
    }
}

/// Reads `sub` and `role` from a JWT's body without verifying it: only to
/// know whom a given token names; the server does the verifying.
fn peek_claims(token: &str) -> (Option<String>, Option<String>) {
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|body| URL_SAFE_NO_PAD.decode(body).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let field = |name: &str| {
        claims
            .as_ref()
            .and_then(|c| c.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (field("sub"), field("role"))
}

/// An error and its sources, for a TLS failure's reason (an unknown CA, a
/// certificate refused) to reach the user.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let text = err.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// Everything a command needs: flags, identity, connections.
pub struct Ctx {
    pub global: Global,
    pub identity: Identity,
}

impl Ctx {
    pub fn new(global: Global) -> Result<Self> {
        let identity = Identity::resolve(
            global.token.as_deref(),
            global.as_rep.as_deref(),
            global.role,
        )?;
        Ok(Self { global, identity })
    }

    pub fn output(&self) -> Output {
        self.global.output
    }

    /// The configured URL of `target`.
    pub fn url(&self, target: Target) -> &str {
        let urls = &self.global.urls;
        match target {
            Target::IntakeHttp => &urls.intake_http_url,
            Target::Intake => &urls.intake_url,
            Target::Wheel => &urls.wheel_url,
            Target::Opportunity => &urls.opportunity_url,
            Target::Alerting => &urls.alerting_url,
            Target::Reporting => &urls.reporting_url,
        }
    }

    /// A gRPC error from `target` in plain words.
    pub fn fail(&self, target: Target, status: Status) -> anyhow::Error {
        let url = self.url(target);
        let described = describe_status(target, url, &status);
        // Over TLS, say why the transport failed (a client certificate the
        // server requires, a certificate it refused).
        match std::error::Error::source(&status) {
            Some(source) if url.starts_with("https://") => {
                anyhow!("{described} ({})", error_chain(source))
            }
            _ => anyhow!(described),
        }
    }

    /// Connects to `target`. `per_call_timeout` bounds unary calls; streams pass None.
    pub async fn channel(
        &self,
        target: Target,
        per_call_timeout: Option<Duration>,
    ) -> Result<Authed> {
        let url = self.url(target);
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|_| anyhow!("bad URL for {}: {url:?}", target.phrase()))?
            .connect_timeout(Duration::from_secs(3));
        if let Some(timeout) = per_call_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        let tls = if url.starts_with("https://") {
            let urls = &self.global.urls;
            let settings = ClientTlsSettings {
                ca_file: urls.ca_file.clone(),
                identity: urls
                    .client_cert_file
                    .clone()
                    .zip(urls.client_key_file.clone()),
            };
            Some(settings.client_config(&[b"h2"])?)
        } else {
            None
        };
        let over_tls = tls.is_some();
        let channel = endpoint
            .connect_with_connector(TlsConnector::new(tls))
            .await
            .map_err(|err| match over_tls {
                // Say why: an unknown CA or a refused certificate is not
                // "not running".
                true => anyhow!("{} ({})", unreachable(target, url), error_chain(&err)),
                false => anyhow!(unreachable(target, url)),
            })?;
        let interceptor = BearerToken::new(&self.identity.token)
            .map_err(|_| anyhow!("the token is not valid header text"))?;
        Ok(InterceptedService::new(channel, interceptor))
    }

    async fn unary(&self, target: Target) -> Result<Authed> {
        self.channel(target, Some(Duration::from_secs(15))).await
    }

    pub async fn wheel(&self) -> Result<WheelServiceClient<Authed>> {
        Ok(WheelServiceClient::new(self.unary(Target::Wheel).await?))
    }

    pub async fn intake(&self) -> Result<IntakeServiceClient<Authed>> {
        Ok(IntakeServiceClient::new(self.unary(Target::Intake).await?))
    }

    pub async fn opportunity(&self) -> Result<OpportunityServiceClient<Authed>> {
        Ok(OpportunityServiceClient::new(
            self.unary(Target::Opportunity).await?,
        ))
    }

    pub async fn alerting(&self) -> Result<AlertingServiceClient<Authed>> {
        Ok(AlertingServiceClient::new(
            self.unary(Target::Alerting).await?,
        ))
    }

    pub async fn reporting(&self) -> Result<ReportingServiceClient<Authed>> {
        Ok(ReportingServiceClient::new(
            self.unary(Target::Reporting).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(token: &str) -> leadwheel_client::token::Claims {
        TokenKey::new(Secret::new(DEV_JWT_SECRET))
            .verify(token)
            .unwrap()
    }

    #[test]
    fn admin_by_default_rep_with_as() {
        if std::env::var("LEADWHEEL_JWT_SECRET").is_ok() {
            return;
        }
        let admin = Identity::resolve(None, None, None).unwrap();
        assert_eq!(verify(&admin.token).role, Role::Admin);
        assert!(
            admin
                .rep("claim")
                .unwrap_err()
                .to_string()
                .contains("--as REP")
        );

        let ana = Identity::resolve(None, Some("ana"), None).unwrap();
        let claims = verify(&ana.token);
        assert_eq!((claims.sub.as_str(), claims.role), ("ana", Role::Rep));
        assert_eq!(ana.rep("claim").unwrap(), "ana");

        let maya = Identity::resolve(None, Some("maya"), Some(RoleArg::Manager)).unwrap();
        assert_eq!(verify(&maya.token).role, Role::Manager);
        assert!(Identity::resolve(None, None, Some(RoleArg::Manager)).is_err());
    }

    #[test]
    fn a_given_token_is_sent_as_is_and_names_its_rep() {
        let token = TokenKey::new(Secret::new("some-other-key-0123456789")).mint(
            "ben",
            Role::Rep,
            None,
            60,
        );
        let id = Identity::resolve(Some(&token), None, None).unwrap();
        assert_eq!(id.token, token);
        assert_eq!(id.rep("claim").unwrap(), "ben");
        let id = Identity::resolve(Some("not-a-jwt"), None, None).unwrap();
        assert!(id.rep("claim").is_err());
    }
}

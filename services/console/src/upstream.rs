//! The services' gRPC APIs, called as the signed-in user: every request
//! carries a bearer token minted here for that user (short-lived, signed
//! with the shared secret), so the services apply their own rules to them;
//! the console decides nothing about who may see what.

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::session::User;

/// How long a minted token lives: one request, or one offer stream's start.
const TOKEN_TTL_SECS: i64 = 300;

/// A channel that sends the user's token.
pub type AsUser = InterceptedService<Channel, BearerToken>;

/// The services the console talks to.
#[derive(Clone, Debug)]
pub struct Upstream {
    wheel: Channel,
    opportunity: Channel,
    alerting: Channel,
    reporting: Channel,
    auth: Authenticator,
}

/// The services' gRPC URLs.
#[derive(Clone, Copy, Debug)]
pub struct UpstreamUrls<'a> {
    /// The wheel.
    pub wheel: &'a str,
    /// The opportunity service.
    pub opportunity: &'a str,
    /// Alerting.
    pub alerting: &'a str,
    /// Reporting.
    pub reporting: &'a str,
}

fn lazy(url: &str, what: &str) -> Result<Channel> {
    // Over TLS for an https:// URL (LEADWHEEL_TLS_CA_FILE and friends).
    leadwheel_plumbing::tls::connect_lazy(
        Endpoint::from_shared(url.to_string())
            .with_context(|| format!("invalid {what} URL {url:?}"))?
            .connect_timeout(std::time::Duration::from_secs(3)),
    )
}

impl Upstream {
    /// Channels (connected on first use, so start order does not matter).
    pub fn new(urls: UpstreamUrls<'_>, auth: Authenticator) -> Result<Self> {
        Ok(Self {
            wheel: lazy(urls.wheel, "wheel")?,
            opportunity: lazy(urls.opportunity, "opportunity")?,
            alerting: lazy(urls.alerting, "alerting")?,
            reporting: lazy(urls.reporting, "reporting")?,
            auth,
        })
    }

    fn as_subject(
        &self,
        channel: &Channel,
        subject: &str,
        role: Role,
        team: Option<&str>,
    ) -> AsUser {
        let token = self.auth.mint(subject, role, team, TOKEN_TTL_SECS);
        let bearer = BearerToken::new(&token).expect("a minted token is ASCII");
        InterceptedService::new(channel.clone(), bearer)
    }

    /// The wheel, as `user`.
    pub fn wheel(&self, user: &User) -> WheelServiceClient<AsUser> {
        WheelServiceClient::new(self.as_subject(
            &self.wheel,
            &user.id,
            user.role,
            user.team.as_deref(),
        ))
    }

    /// The opportunity service, as `user`.
    pub fn opportunity(&self, user: &User) -> OpportunityServiceClient<AsUser> {
        OpportunityServiceClient::new(self.as_subject(
            &self.opportunity,
            &user.id,
            user.role,
            user.team.as_deref(),
        ))
    }

    /// Alerting, as `user`.
    pub fn alerting(&self, user: &User) -> AlertingServiceClient<AsUser> {
        AlertingServiceClient::new(self.as_subject(
            &self.alerting,
            &user.id,
            user.role,
            user.team.as_deref(),
        ))
    }

    /// Reporting, as `user`.
    pub fn reporting(&self, user: &User) -> ReportingServiceClient<AsUser> {
        ReportingServiceClient::new(self.as_subject(
            &self.reporting,
            &user.id,
            user.role,
            user.team.as_deref(),
        ))
    }

    /// The wheel as the console itself (an admin): only for the development
    /// sign-in page, which lists the teams before anyone is signed in.
    pub fn wheel_for_dev_picker(&self) -> WheelServiceClient<AsUser> {
        WheelServiceClient::new(self.as_subject(&self.wheel, "console", Role::Admin, None))
    }
}

//! The real reporting binary as a child process on a fresh store.

use std::path::Path;

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::BearerToken;
use leadwheel_plumbing::auth::Role;
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{self, Backend};

/// A reporting client acting as an admin.
pub type Client = ReportingServiceClient<InterceptedService<Channel, BearerToken>>;

/// `leadwheel-reporting`, running.
pub struct Reporting {
    process: harness::ServiceProcess,
}

impl std::ops::Deref for Reporting {
    type Target = harness::ServiceProcess;
    fn deref(&self) -> &harness::ServiceProcess {
        &self.process
    }
}

impl Reporting {
    /// Starts `binary` against `nats_url` on a fresh store and waits until
    /// it is ready.
    pub async fn start(
        binary: &Path,
        nats_url: &str,
        backend: &Backend,
        rust_log: &str,
    ) -> Result<Self> {
        let launch = harness::Launch {
            service: "reporting",
            binary,
            build_hint: ("-p leadwheel-reporting", "--reporting-bin"),
            serves_grpc: true,
            env: &[],
        };
        Ok(Self {
            process: harness::ServiceProcess::start(&launch, nats_url, backend, rust_log).await?,
        })
    }

    /// An admin client.
    pub async fn client(&self) -> Result<Client> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc))?
            .tcp_nodelay(true)
            .connect()
            .await
            .context("connecting to reporting's gRPC port")?;
        let bearer = BearerToken::new(&harness::token("bench-admin", Role::Admin))?;
        Ok(ReportingServiceClient::with_interceptor(channel, bearer))
    }

    /// Stops it and drops its Postgres database, if any.
    pub async fn stop(self) {
        self.process.stop().await
    }
}

//! The five services, their names and their default addresses.

use std::net::SocketAddr;

use anyhow::Result;
use leadwheel_plumbing::config::{env_parse, ports};

/// One of the five leadwheel services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// Signups and leads (HTTP webhook + gRPC).
    Intake,
    /// The claim wheel: teams, reps, offers, the pool.
    Wheel,
    /// Leads in work, accounts, opportunities.
    Opportunity,
    /// Alerts for reps and managers.
    Alerting,
    /// Read models: funnel, forecast, fairness.
    Reporting,
    /// The web console (HTTP, not gRPC): not one of the five in [`Service::ALL`].
    Console,
}

impl Service {
    /// Every service, in start order (producers before their consumers is not
    /// required, JetStream keeps events until consumers come, but it reads well).
    pub const ALL: [Service; 5] = [
        Service::Intake,
        Service::Wheel,
        Service::Opportunity,
        Service::Alerting,
        Service::Reporting,
    ];

    /// The lowercase name, as in `leadwheel serve <name>`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Wheel => "wheel",
            Service::Opportunity => "opportunity",
            Service::Alerting => "alerting",
            Service::Reporting => "reporting",
            Service::Console => "console",
        }
    }

    fn default_grpc_port(self) -> u16 {
        match self {
            Service::Intake => ports::INTAKE_GRPC,
            Service::Wheel => ports::WHEEL_GRPC,
            Service::Opportunity => ports::OPPORTUNITY_GRPC,
            Service::Alerting => ports::ALERTING_GRPC,
            Service::Reporting => ports::REPORTING_GRPC,
            // Its HTTP port: the console serves no gRPC.
            Service::Console => leadwheel_console::config::DEFAULT_HTTP_PORT,
        }
    }

    /// `LEADWHEEL_<SERVICE>_<suffix>`, the names the services read.
    pub fn var(self, suffix: &str) -> String {
        format!("LEADWHEEL_{}_{suffix}", self.name().to_ascii_uppercase())
    }

    /// The gRPC address the service will listen on, read the way the service
    /// reads it, so what `leadwheel dev` prints and polls matches.
    /// For the console, which serves no gRPC: its HTTP address.
    pub fn grpc_addr(self) -> Result<SocketAddr> {
        let var = match self {
            Service::Console => self.var("HTTP_ADDR"),
            _ => self.var("GRPC_ADDR"),
        };
        env_parse(
            &var,
            SocketAddr::from(([127, 0, 0, 1], self.default_grpc_port())),
        )
    }

    /// The admin (health, metrics) address.
    pub fn admin_addr(self) -> Result<SocketAddr> {
        if self == Service::Console {
            return env_parse(
                &self.var("ADMIN_ADDR"),
                SocketAddr::from((
                    [127, 0, 0, 1],
                    leadwheel_console::config::DEFAULT_ADMIN_PORT,
                )),
            );
        }
        env_parse(
            &self.var("ADMIN_ADDR"),
            SocketAddr::from((
                [127, 0, 0, 1],
                self.default_grpc_port() + ports::ADMIN_OFFSET,
            )),
        )
    }

    /// Runs the service in this process until SIGTERM/SIGINT.
    pub async fn run(self) -> Result<()> {
        stop_when_orphaned();
        match self {
            Service::Intake => leadwheel_intake::main_entry().await,
            Service::Wheel => leadwheel_wheel::main_entry().await,
            Service::Opportunity => leadwheel_opportunity::main_entry().await,
            Service::Alerting => leadwheel_alerting::main_entry().await,
            Service::Reporting => leadwheel_reporting::main_entry().await,
            Service::Console => leadwheel_console::main_entry().await,
        }
    }
}

/// Set by `leadwheel dev` on its children: its own pid.
pub const DEV_PARENT_ENV: &str = "LEADWHEEL_DEV_PARENT_PID";

/// A child of `leadwheel dev` whose parent vanished (killed with SIGKILL,
/// so it could not stop us) sends itself SIGTERM and drains as usual,
/// rather than running on unsupervised.
fn stop_when_orphaned() {
    let Some(parent) = std::env::var(DEV_PARENT_ENV)
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if std::os::unix::process::parent_id() != parent {
                if let Ok(me) = i32::try_from(std::process::id()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(me),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                return;
            }
        }
    });
}

/// Intake's HTTP (signup webhook) address.
pub fn intake_http_addr() -> Result<SocketAddr> {
    env_parse(
        &Service::Intake.var("HTTP_ADDR"),
        SocketAddr::from(([127, 0, 0, 1], ports::INTAKE_HTTP)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_vars() {
        assert_eq!(Service::Opportunity.name(), "opportunity");
        assert_eq!(Service::Wheel.var("GRPC_ADDR"), "LEADWHEEL_WHEEL_GRPC_ADDR");
    }

    #[test]
    fn admin_is_grpc_plus_offset() {
        for service in Service::ALL {
            if std::env::var(service.var("GRPC_ADDR")).is_err()
                && std::env::var(service.var("ADMIN_ADDR")).is_err()
            {
                let grpc = service.grpc_addr().unwrap();
                let admin = service.admin_addr().unwrap();
                assert_eq!(admin.port(), grpc.port() + ports::ADMIN_OFFSET);
            }
        }
    }
}

//! The demo team `leadwheel dev` seeds through the wheel's own gRPC API.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_plumbing::config::{DEV_JWT_SECRET, Secret, secret_from_env};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{Team, TeamPolicy, UpsertTeamRequest};
use tonic::transport::Endpoint;

/// The demo team's id.
pub const TEAM_ID: &str = "demo";
/// Its manager.
pub const MANAGER_ID: &str = "maya";
/// Its ring, in order: (rep id, display name).
pub const REPS: [(&str, &str); 6] = [
    ("ana", "Ana Lima"),
    ("ben", "Ben Okafor"),
    ("carla", "Carla Rossi"),
    ("dmitri", "Dmitri Volkov"),
    ("elena", "Elena García"),
    ("farid", "Farid Haddad"),
];

/// The key services verify tokens with in dev: `LEADWHEEL_JWT_SECRET` when
/// set (the children inherit it), else the development key.
pub fn signing_key() -> Result<Secret> {
    Ok(secret_from_env("LEADWHEEL_JWT_SECRET")?.unwrap_or_else(|| Secret::new(DEV_JWT_SECRET)))
}

/// The request that creates (or resets) the demo team.
pub fn demo_team(window: Duration) -> UpsertTeamRequest {
    UpsertTeamRequest {
        team: Some(Team {
            team_id: TEAM_ID.into(),
            name: "Demo team".into(),
            manager_id: MANAGER_ID.into(),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            rep_ids: REPS.iter().map(|(id, _)| id.to_string()).collect(),
            // Pooled leads escalate to the manager after two minutes, so the
            // tour can show an escalation.
            policy: Some(TeamPolicy {
                pool_timeout_ms: 120_000,
                ..Default::default()
            }),
        }),
        rep_names: REPS.iter().map(|(_, name)| name.to_string()).collect(),
    }
}

/// Upserts the demo team at the wheel as admin.
pub async fn seed(wheel: SocketAddr, window: Duration) -> Result<()> {
    let token = Authenticator::new(signing_key()?).mint("leadwheel-dev", Role::Admin, None, 300);
    let channel = Endpoint::from_shared(format!("http://{wheel}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .with_context(|| format!("connecting to the wheel at {wheel}"))?;
    let interceptor =
        BearerToken::new(&token).map_err(|status| anyhow::anyhow!("{}", status.message()))?;
    let mut client = WheelServiceClient::with_interceptor(channel, interceptor);
    client
        .upsert_team(demo_team(window))
        .await
        .map_err(|status| anyhow::anyhow!("{:?}: {}", status.code(), status.message()))
        .context("seeding the demo team")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_team_is_six_reps_with_names() {
        let request = demo_team(Duration::from_secs(30));
        let team = request.team.unwrap();
        assert_eq!(team.team_id, "demo");
        assert_eq!(team.manager_id, "maya");
        assert_eq!(team.window_ms, 30_000);
        assert_eq!(team.rep_ids.len(), 6);
        assert_eq!(request.rep_names.len(), 6);
        assert_eq!(team.rep_ids[0], "ana");
    }
}

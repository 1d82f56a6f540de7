//! The demo team `leadwheel dev` seeds through the wheel's own gRPC API.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_plumbing::config::{DEV_JWT_SECRET, Secret, secret_from_env};
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;
use leadwheel_proto::wheel::v1::{
    ListRepsRequest, ListTeamsRequest, SetAvailabilityRequest, Team, TeamPolicy, UpsertTeamRequest,
};
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

/// The demo team's window when it is created without `--window-secs`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

/// Expiries in a row before the circuit breaker sets a demo rep away: a
/// whole lap's worth (the ring's size), where a real team's default is 3.
/// In the demo one person plays all six reps, so every offer they do not
/// act on lapses: the README tour leaves up to three leads unanswered at
/// each rep (two in its 30 s part, one in the quick lap), and with the
/// default the third of them set five of the six reps away mid-tour.
pub const DEMO_BREAKER_EXPIRIES: i32 = REPS.len() as i32;

/// The request that creates (or resets) the demo team.
pub fn demo_team(window: Duration) -> UpsertTeamRequest {
    UpsertTeamRequest {
        team: Some(Team {
            team_id: TEAM_ID.into(),
            name: "Demo team".into(),
            manager_id: MANAGER_ID.into(),
            window_ms: millis(window),
            rep_ids: REPS.iter().map(|(id, _)| id.to_string()).collect(),
            // Pooled leads escalate to the manager after two minutes, so the
            // tour can show an escalation.
            policy: Some(TeamPolicy {
                pool_timeout_ms: 120_000,
                breaker_expiries: DEMO_BREAKER_EXPIRIES,
                ..Default::default()
            }),
        }),
        rep_names: REPS.iter().map(|(_, name)| name.to_string()).collect(),
    }
}

fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

/// What [`ensure`] did to the demo team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist: created.
    Created,
    /// It existed and was left as it was (changes made since survive).
    Kept,
    /// It existed; only its window was set (`--window-secs`).
    WindowSet,
    /// Restored as first seeded, reps available (`--reset-demo`).
    Reset,
}

type Client = WheelServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerToken>,
>;

async fn connect(wheel: SocketAddr) -> Result<Client> {
    let token = Authenticator::new(signing_key()?).mint("leadwheel-dev", Role::Admin, None, 300);
    let channel = Endpoint::from_shared(format!("http://{wheel}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .with_context(|| format!("connecting to the wheel at {wheel}"))?;
    let interceptor =
        BearerToken::new(&token).map_err(|status| anyhow::anyhow!("{}", status.message()))?;
    Ok(WheelServiceClient::with_interceptor(channel, interceptor))
}

fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

/// Seeds the demo team at the wheel, as admin, only where it is missing: an
/// existing team keeps its ring, manager and policy (a manager's `teams
/// set`, a rep handed over), except its window when `window` is given.
/// `reset` restores it as first seeded and sets its reps available. Returns
/// the team as it now is.
pub async fn ensure(
    wheel: SocketAddr,
    window: Option<Duration>,
    reset: bool,
) -> Result<(Team, Outcome)> {
    let mut client = connect(wheel).await?;
    let existing = client
        .list_teams(ListTeamsRequest {})
        .await
        .map_err(status)
        .context("looking for the demo team")?
        .into_inner()
        .teams
        .into_iter()
        .find(|team| team.team_id == TEAM_ID);
    let (request, outcome) = match existing {
        None => (
            demo_team(window.unwrap_or(DEFAULT_WINDOW)),
            Outcome::Created,
        ),
        Some(_) if reset => (demo_team(window.unwrap_or(DEFAULT_WINDOW)), Outcome::Reset),
        Some(team) => match window.map(millis) {
            Some(window_ms) if window_ms != team.window_ms => {
                let names = rep_names(&mut client, &team).await?;
                let request = UpsertTeamRequest {
                    team: Some(Team { window_ms, ..team }),
                    rep_names: names,
                };
                (request, Outcome::WindowSet)
            }
            _ => return Ok((team, Outcome::Kept)),
        },
    };
    let team = client
        .upsert_team(request)
        .await
        .map_err(status)
        .context("seeding the demo team")?
        .into_inner()
        .team
        .context("the wheel answered the demo team's upsert without the team")?;
    if outcome == Outcome::Reset {
        for rep_id in &team.rep_ids {
            client
                .set_availability(SetAvailabilityRequest {
                    rep_id: rep_id.clone(),
                    availability: "available".into(),
                    reason: "leadwheel dev --reset-demo".into(),
                })
                .await
                .map_err(status)
                .with_context(|| format!("setting {rep_id} available"))?;
        }
    }
    Ok((team, outcome))
}

/// The ring's display names, in ring order, so an upsert keeps them (an
/// upsert without names names each rep by id).
async fn rep_names(client: &mut Client, team: &Team) -> Result<Vec<String>> {
    let reps = client
        .list_reps(ListRepsRequest {
            team_id: team.team_id.clone(),
        })
        .await
        .map_err(status)
        .context("listing the demo team's reps")?
        .into_inner()
        .reps;
    Ok(team
        .rep_ids
        .iter()
        .map(|id| {
            reps.iter()
                .find(|rep| &rep.rep_id == id)
                .map(|rep| rep.name.clone())
                .unwrap_or_default()
        })
        .collect())
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
        let policy = team.policy.unwrap();
        assert_eq!(
            policy.breaker_expiries, 6,
            "a lap's worth, not the default 3"
        );
        assert_eq!(policy.pool_timeout_ms, 120_000);
    }
}

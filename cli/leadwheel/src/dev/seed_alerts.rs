//! The demo team's alert routing, seeded through alerting's own gRPC API
//! (the calls behind `leadctl alerts webhook` and `leadctl alerts
//! contact`): the team's webhook posts to the dev inbox, and the manager
//! and reps get addresses `<id>@demo.example`, which alerting mails to the
//! inbox's SMTP port.
//!
//! Alerting has no call that reads a webhook or a contact back, so what was
//! seeded is recorded in `<data-dir>/demo-alerts.seeded`: each part is set
//! once per data dir, and changes made since (`leadctl alerts webhook`, a
//! person's own address or quiet hours) survive restarts. `--reset-demo`
//! sets both again; an inbox moved to another address gets the webhook
//! again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use leadwheel_plumbing::auth::{Authenticator, BearerToken, Role};
use leadwheel_proto::alerting::v1::alerting_service_client::AlertingServiceClient;
use leadwheel_proto::alerting::v1::{SetContactRequest, SetTeamWebhookRequest};
use tonic::transport::Endpoint;

use super::seed::{MANAGER_ID, REPS, TEAM_ID, signing_key};

/// The demo people's addresses' domain (reserved: mail there never leaves
/// for real).
pub const EMAIL_DOMAIN: &str = "demo.example";

/// `ana@demo.example`.
pub fn email_of(person: &str) -> String {
    format!("{person}@{EMAIL_DOMAIN}")
}

/// Everyone of the demo team who gets an address: the manager, then the ring.
pub fn people() -> Vec<&'static str> {
    std::iter::once(MANAGER_ID)
        .chain(REPS.iter().map(|(id, _)| *id))
        .collect()
}

fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-alerts.seeded")
}

/// What an earlier run seeded, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The webhook URL set for the demo team.
    pub webhook: Option<String>,
    /// Whether the people's addresses were set.
    pub contacts: bool,
}

impl Recorded {
    fn parse(text: &str) -> Self {
        let mut recorded = Self::default();
        for line in text.lines() {
            if let Some(url) = line.strip_prefix("webhook ") {
                recorded.webhook = Some(url.trim().to_string());
            } else if line.trim() == "contacts" {
                recorded.contacts = true;
            }
        }
        recorded
    }

    fn render(&self) -> String {
        let mut text = String::from(
            "# what `leadwheel dev` set in alerting for team demo; delete this file to set it again\n",
        );
        if let Some(url) = &self.webhook {
            text.push_str(&format!("webhook {url}\n"));
        }
        if self.contacts {
            text.push_str("contacts\n");
        }
        text
    }
}

/// What to set now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub webhook: bool,
    pub contacts: bool,
}

/// Sets what was never set (or everything, on reset); the webhook again
/// when the inbox moved. Addresses only when email goes to the inbox: with
/// your own SMTP server, `@demo.example` mail would only bounce there.
pub fn plan(recorded: &Recorded, webhook_url: &str, inbox_mail: bool, reset: bool) -> Plan {
    Plan {
        webhook: reset || recorded.webhook.as_deref() != Some(webhook_url),
        contacts: inbox_mail && (reset || !recorded.contacts),
    }
}

/// What [`ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeded {
    pub webhook: bool,
    pub contacts: bool,
}

/// Seeds the demo team's webhook and addresses in alerting, as planned.
pub async fn ensure(
    alerting: SocketAddr,
    data_dir: &Path,
    webhook_url: &str,
    inbox_mail: bool,
    reset: bool,
) -> Result<Seeded> {
    let path = record_path(data_dir);
    let mut recorded = match std::fs::read_to_string(&path) {
        Ok(text) => Recorded::parse(&text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Recorded::default(),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let plan = plan(&recorded, webhook_url, inbox_mail, reset);
    if !plan.webhook && !plan.contacts {
        return Ok(Seeded {
            webhook: false,
            contacts: false,
        });
    }
    let mut client = connect(alerting).await?;
    if plan.webhook {
        client
            .set_team_webhook(SetTeamWebhookRequest {
                team_id: TEAM_ID.into(),
                webhook_url: webhook_url.into(),
            })
            .await
            .map_err(status)
            .context("setting the demo team's webhook in alerting")?;
        recorded.webhook = Some(webhook_url.to_string());
    }
    if plan.contacts {
        for person in people() {
            client
                .set_contact(SetContactRequest {
                    recipient_id: person.into(),
                    email: email_of(person),
                    ..Default::default()
                })
                .await
                .map_err(status)
                .with_context(|| format!("setting {person}'s address in alerting"))?;
        }
        recorded.contacts = true;
    }
    std::fs::write(&path, recorded.render())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Seeded {
        webhook: plan.webhook,
        contacts: plan.contacts,
    })
}

type Client = AlertingServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerToken>,
>;

async fn connect(alerting: SocketAddr) -> Result<Client> {
    let token = Authenticator::new(signing_key()?).mint("leadwheel-dev", Role::Admin, None, 300);
    let channel = Endpoint::from_shared(format!("http://{alerting}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .with_context(|| format!("connecting to alerting at {alerting}"))?;
    let interceptor =
        BearerToken::new(&token).map_err(|status| anyhow::anyhow!("{}", status.message()))?;
    Ok(AlertingServiceClient::with_interceptor(
        channel,
        interceptor,
    ))
}

fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8091/hooks/demo";

    #[test]
    fn set_once_then_kept() {
        let nothing = Recorded::default();
        assert_eq!(
            plan(&nothing, URL, true, false),
            Plan {
                webhook: true,
                contacts: true
            }
        );
        let both = Recorded {
            webhook: Some(URL.into()),
            contacts: true,
        };
        assert_eq!(Recorded::parse(&both.render()), both);
        assert_eq!(
            plan(&both, URL, true, false),
            Plan {
                webhook: false,
                contacts: false
            }
        );
        assert_eq!(
            plan(&both, URL, true, true),
            Plan {
                webhook: true,
                contacts: true
            },
            "--reset-demo sets both again"
        );
        assert_eq!(
            plan(&both, "http://127.0.0.1:9999/hooks/demo", true, false),
            Plan {
                webhook: true,
                contacts: false
            },
            "the inbox moved: only the webhook again"
        );
    }

    #[test]
    fn no_addresses_with_your_own_smtp() {
        assert_eq!(
            plan(&Recorded::default(), URL, false, true),
            Plan {
                webhook: true,
                contacts: false
            }
        );
        assert_eq!(people()[0], "maya");
        assert_eq!(email_of("ana"), "ana@demo.example");
    }
}

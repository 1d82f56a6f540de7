//! Where alerts go: a team's webhook, a person's email address; and the
//! delivery log. Each operation checks who may do it and validates first.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_plumbing::paging::Cursor;

use super::Ops;
use crate::error::Error;
use crate::prefs::Prefs;
use crate::store::deliveries::{self, Delivery};
use crate::store::directory;

/// Longest webhook URL or email address accepted.
const MAX_TARGET_LEN: usize = 2_048;

/// Delivery states a list can filter by.
pub const DELIVERY_STATES: [&str; 3] = ["pending", "sent", "dead"];

/// Checks a webhook URL: http(s) with a host.
pub fn check_webhook_url(url: &str) -> Result<(), Error> {
    if url.is_empty() {
        return Ok(());
    }
    if url.len() > MAX_TARGET_LEN {
        return Err(Error::invalid(
            "webhook_url",
            format!("is longer than {MAX_TARGET_LEN} bytes"),
        ));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|err| Error::invalid("webhook_url", format!("{url:?} is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::invalid(
            "webhook_url",
            format!("{url:?} is not an http(s) URL with a host"),
        ));
    }
    Ok(())
}

/// Checks an email address (`name@domain`, no display name).
pub fn check_email(email: &str) -> Result<(), Error> {
    if email.is_empty() {
        return Ok(());
    }
    if email.len() > 320 || email.parse::<lettre::Address>().is_err() {
        return Err(Error::invalid(
            "email",
            format!("{email:?} is not an email address"),
        ));
    }
    Ok(())
}

impl Ops {
    async fn check_manages_team(&self, caller: &Caller, team_id: &str) -> Result<(), Error> {
        let allowed = match caller.role {
            Role::Admin => true,
            Role::Manager => {
                caller.team.as_deref() == Some(team_id)
                    || directory::manages(&self.store, &caller.subject, team_id).await?
            }
            Role::Rep | Role::Integration => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "{} does not manage team {team_id}",
                caller.subject
            )))
        }
    }

    /// Sets `team_id`'s webhook (empty: none), as its manager or an admin.
    pub async fn set_team_webhook(
        &self,
        caller: &Caller,
        team_id: &str,
        url: &str,
    ) -> Result<(), Error> {
        if team_id.is_empty() || team_id.len() > 128 {
            return Err(Error::invalid("team_id", "must be 1 to 128 bytes long"));
        }
        check_webhook_url(url)?;
        self.check_manages_team(caller, team_id).await?;
        let mut tx = self.store.begin().await?;
        deliveries::set_webhook(&mut tx, team_id, url, &caller.subject, self.now_ms()).await?;
        tx.commit().await?;
        tracing::info!(team_id, by = %caller.subject, "team webhook set");
        Ok(())
    }

    /// Sets how `recipient_id` (empty: the caller) is told, whole.
    pub async fn set_contact(
        &self,
        caller: &Caller,
        recipient_id: &str,
        prefs: &Prefs,
    ) -> Result<(), Error> {
        let recipient = if recipient_id.is_empty() {
            caller.subject.as_str()
        } else {
            recipient_id
        };
        if recipient.len() > 128 {
            return Err(Error::invalid("recipient_id", "is longer than 128 bytes"));
        }
        let allowed = match caller.role {
            Role::Admin => true,
            _ if recipient == caller.subject => caller.role != Role::Integration,
            Role::Manager => {
                directory::manages_rep(
                    &self.store,
                    &caller.subject,
                    recipient,
                    caller.team.as_deref(),
                )
                .await?
            }
            Role::Rep | Role::Integration => false,
        };
        if !allowed {
            return Err(Error::PermissionDenied(format!(
                "{} may not set where {recipient} is told",
                caller.subject
            )));
        }
        let mut tx = self.store.begin().await?;
        deliveries::set_prefs(&mut tx, recipient, prefs, &caller.subject, self.now_ms()).await?;
        tx.commit().await?;
        tracing::info!(recipient_id = recipient, by = %caller.subject, "contact set");
        Ok(())
    }

    /// The delivery log for an admin (all) or a manager (their teams').
    pub async fn list_deliveries(
        &self,
        caller: &Caller,
        alert_id: &str,
        state: &str,
        cursor: &Cursor,
        limit: i64,
    ) -> Result<Vec<Delivery>, Error> {
        if !state.is_empty() && !DELIVERY_STATES.contains(&state) {
            return Err(Error::invalid(
                "state",
                format!(
                    "unknown state {state:?} (one of {})",
                    DELIVERY_STATES.join(", ")
                ),
            ));
        }
        let manager = match caller.role {
            Role::Admin => None,
            Role::Manager => Some(caller.subject.as_str()),
            Role::Rep | Role::Integration => {
                return Err(Error::PermissionDenied(
                    "only managers and admins read the delivery log".into(),
                ));
            }
        };
        Ok(deliveries::list(&self.store, alert_id, state, manager, cursor, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_addresses_are_checked() {
        assert!(check_webhook_url("https://hooks.example.com/T1/B2").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_webhook_url("").is_ok());
        for bad in [
            "ftp://x.example/hook",
            "hooks.example.com",
            "https://",
            "mailto:a@b.c",
        ] {
            assert!(
                matches!(
                    check_webhook_url(bad),
                    Err(Error::InvalidArgument {
                        field: "webhook_url",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert!(check_email("ana@example.com").is_ok());
        for bad in ["ana", "ana@", "@example.com", "Ana <ana@example.com>"] {
            assert!(
                matches!(
                    check_email(bad),
                    Err(Error::InvalidArgument { field: "email", .. })
                ),
                "{bad}"
            );
        }
    }
}

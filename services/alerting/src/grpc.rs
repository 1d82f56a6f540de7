//! The gRPC API: reps and managers list the alerts addressed to them;
//! admins list anyone's, or everyone's. Integrations are refused.

use leadwheel_plumbing::auth::{self, Caller, Role};
use leadwheel_plumbing::paging::{self, Cursor};
use leadwheel_proto::alerting::v1::alerting_service_server::AlertingService;
use leadwheel_proto::alerting::v1::{Alert as AlertMessage, ListAlertsRequest, ListAlertsResponse};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::store::{Alert, AlertStore};

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 128;

/// The AlertingService implementation.
#[derive(Clone, Debug)]
pub struct Api {
    alerts: AlertStore,
}

impl Api {
    /// An API reading from `alerts`.
    pub fn new(alerts: AlertStore) -> Self {
        Self { alerts }
    }

    async fn list(
        &self,
        caller: &Caller,
        request: ListAlertsRequest,
    ) -> Result<ListAlertsResponse, Error> {
        if request.recipient_id.len() > MAX_ID_LEN {
            return Err(Error::invalid(
                "recipient_id",
                format!(
                    "is {} bytes long; the limit is {MAX_ID_LEN}",
                    request.recipient_id.len()
                ),
            ));
        }
        let limit = paging::page_size(request.page_size)?;
        let recipient = recipient_filter(caller, &request.recipient_id)?;
        let query = format!("alerts;to={}", recipient.as_deref().unwrap_or("*"));
        let cursor = Cursor::decode(&request.page_token, &query)?;
        // One extra row tells whether another page follows.
        let mut alerts = self
            .alerts
            .list(recipient.as_deref(), &cursor, limit + 1)
            .await?;
        let next_page_token = if alerts.len() as i64 > limit {
            alerts.truncate(limit as usize);
            let last = alerts.last().expect("a full page has a last row");
            Cursor {
                query,
                after_ms: last.raised_at_ms,
                after_id: last.alert_id.clone(),
            }
            .encode()
        } else {
            String::new()
        };
        Ok(ListAlertsResponse {
            alerts: alerts.into_iter().map(to_message).collect(),
            next_page_token,
        })
    }
}

/// Whose alerts `caller` gets when asking for `recipient_id`'s (empty:
/// everything they may see); None means everyone's.
fn recipient_filter(caller: &Caller, recipient_id: &str) -> Result<Option<String>, Error> {
    match caller.role {
        Role::Admin => Ok((!recipient_id.is_empty()).then(|| recipient_id.to_string())),
        Role::Rep | Role::Manager if recipient_id.is_empty() || recipient_id == caller.subject => {
            Ok(Some(caller.subject.clone()))
        }
        Role::Rep | Role::Manager => Err(Error::PermissionDenied(format!(
            "{} may not list the alerts of {recipient_id}",
            caller.subject
        ))),
        Role::Integration => Err(Error::PermissionDenied(
            "integrations may not read alerts".into(),
        )),
    }
}

fn to_message(alert: Alert) -> AlertMessage {
    AlertMessage {
        alert_id: alert.alert_id,
        kind: alert.kind,
        team_id: alert.team_id,
        recipient_id: alert.recipient_id,
        subject_key: alert.subject_key,
        message: alert.message,
        raised_at_ms: alert.raised_at_ms,
    }
}

#[tonic::async_trait]
impl AlertingService for Api {
    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        let caller = auth::caller(&request).map_err(|_| Error::Unauthenticated)?;
        Ok(Response::new(
            self.list(&caller, request.into_inner()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, role: Role) -> Caller {
        Caller {
            subject: subject.into(),
            role,
            team: None,
        }
    }

    #[test]
    fn each_sees_their_own_and_admins_see_all() {
        let maya = caller("maya", Role::Manager);
        assert_eq!(
            recipient_filter(&maya, "").unwrap().as_deref(),
            Some("maya")
        );
        assert!(recipient_filter(&maya, "bo").is_err());
        let ana = caller("ana", Role::Rep);
        assert_eq!(
            recipient_filter(&ana, "ana").unwrap().as_deref(),
            Some("ana")
        );
        assert!(recipient_filter(&ana, "maya").is_err());
        let root = caller("root", Role::Admin);
        assert_eq!(recipient_filter(&root, "").unwrap(), None);
        assert_eq!(
            recipient_filter(&root, "maya").unwrap().as_deref(),
            Some("maya")
        );
        assert!(recipient_filter(&caller("crm", Role::Integration), "").is_err());
    }
}

//! A manager's actions on a lead (assign, requeue, withdraw) and the
//! lead's routing ledger.

use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_wheel_core::Input;

use super::Wheel;
use super::access::require_manager_of;
use crate::error::WheelError;
use crate::store::{self, LeadRow, LedgerRow, OfferRow};
use crate::validate;

impl Wheel {
    /// A manager's action on a lead: assign, requeue or withdraw.
    pub async fn lead_action(
        &self,
        caller: &Caller,
        lead_id: &str,
        reason: &str,
        input: Input,
    ) -> Result<(LeadRow, Vec<OfferRow>), WheelError> {
        let lead_id = validate::id("lead_id", lead_id)?;
        let reason = validate::text("reason", reason, validate::MAX_REASON_LEN, false)?;
        let engine = &self.engine;
        {
            let mut conn = self.read().await?;
            let lead = store::load_lead(&mut conn, lead_id)
                .await?
                .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
            require_manager_of(caller, &lead.team_id)?;
            if let Input::AssignDirect { rep } = &input {
                let known = store::load_rep(&mut conn, rep).await?;
                if known.is_none() {
                    return Err(WheelError::NotFound(format!("rep {rep} not found")));
                }
            }
        }
        engine
            .submit(lead_id, input.clone(), &caller.subject)
            .await?
            .into_result()?;
        tracing::info!(lead_id, action = ?input, by = %caller.subject, reason, "manager acted on a lead");
        let mut conn = self.read().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        let offers = store::offers_of_lead(&mut conn, lead_id).await?;
        Ok((lead, offers))
    }

    /// The ledger of a lead. Managers and admins see any; a rep sees the
    /// ledgers of leads they were offered or own.
    pub async fn explain(
        &self,
        caller: &Caller,
        lead_id: &str,
    ) -> Result<(LeadRow, Vec<LedgerRow>), WheelError> {
        let lead_id = validate::id("lead_id", lead_id)?;
        let mut conn = self.read().await?;
        let lead = store::load_lead(&mut conn, lead_id)
            .await?
            .ok_or_else(|| WheelError::NotFound(format!("lead {lead_id} not found")))?;
        if !caller.is_manager_or_admin() {
            let offered = lead.routing.offered.contains(&caller.subject);
            let owns = lead.owner_rep_id.as_deref() == Some(caller.subject.as_str());
            if caller.role != Role::Rep || !(offered || owns) {
                return Err(WheelError::PermissionDenied(format!(
                    "{} may not read the routing of lead {lead_id}",
                    caller.subject
                )));
            }
        } else {
            require_manager_of(caller, &lead.team_id)?;
        }
        let entries = store::ledger_of_lead(&mut conn, lead_id).await?;
        Ok((lead, entries))
    }
}

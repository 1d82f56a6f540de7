//! The team and rep events the wheel publishes, built in one place from the
//! store's rows (routing events are built from the core's effects in
//! [`crate::effects`]). Every draft takes its subject from the payload's
//! contract, so none can go out on the wrong subject.

use leadwheel_plumbing::EventDraft;
use leadwheel_proto::events::v1 as events;

use crate::store::{RepRow, TeamRow};

/// `wheel.team.upserted`: the team with its ring as it stands.
pub fn team_upserted(team: &TeamRow, at_ms: i64) -> EventDraft {
    let event = events::TeamUpserted {
        team_id: team.team_id.clone(),
        name: team.name.clone(),
        manager_id: team.manager_id.clone(),
        window_ms: team.window_ms,
        rep_ids: team.ring.to_vec(),
        at_ms,
    };
    EventDraft::of(&team.team_id, &event)
}

/// `wheel.rep.upserted` for a rep on `team_id`.
pub fn rep_upserted(rep_id: &str, name: &str, team_id: &str, at_ms: i64) -> EventDraft {
    let event = events::RepUpserted {
        rep_id: rep_id.to_string(),
        name: name.to_string(),
        team_id: team_id.to_string(),
        at_ms,
    };
    EventDraft::of(rep_id, &event)
}

/// `wheel.rep.upserted` for `rep` after a change to them; None for a rep on
/// no team: there is no team to announce them in, and their leaving was
/// announced by `wheel.rep.left`.
pub fn rep_changed(rep: &RepRow, at_ms: i64) -> Option<EventDraft> {
    let team_id = rep.team_id.as_deref()?;
    Some(rep_upserted(&rep.rep_id, &rep.name, team_id, at_ms))
}

/// Why a rep left their team's ring.
#[derive(Clone, Debug)]
pub enum Leaving {
    /// Their book was handed over (the handover's id).
    Handover(String),
    /// A manager or admin set the team without them (who).
    Removed(String),
}

/// `wheel.rep.left`: `rep_id` left `team_id` and is on no team now.
pub fn rep_left(rep_id: &str, team_id: &str, why: Leaving, at_ms: i64) -> EventDraft {
    let why = match why {
        Leaving::Handover(id) => events::rep_left::Why::HandoverId(id),
        Leaving::Removed(by) => events::rep_left::Why::RemovedBy(by),
    };
    let event = events::RepLeft {
        rep_id: rep_id.to_string(),
        team_id: team_id.to_string(),
        why: Some(why),
        at_ms,
    };
    EventDraft::of(rep_id, &event)
}

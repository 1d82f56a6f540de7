//! The report operations: each validates its request, resolves the
//! caller's scope, reads sums through [`Reader`] and shapes the answer.
//! The gRPC layer only parses the caller and converts.

mod activity;
pub(crate) mod activity_extras;
mod balance;
mod five;
mod forecast;
mod movement;
mod quotas;
mod routes;
mod since_snapshot;
mod stages;
mod wheel;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::Store;
use leadwheel_plumbing::auth::{Caller, Role};
use leadwheel_proto::reporting::v1::{
    GetPipelineRequest, GetPipelineResponse, PeriodKind, PipelineClosedRow, PipelineOpenRow,
};
use std::collections::BTreeMap;

use crate::access::Scope;
use crate::error::Error;
use crate::models::queries::{Filter, Reader};
use crate::period;

/// Longest id accepted in a request.
pub const MAX_ID_LEN: usize = 128;

/// Settings the reports read (from the environment at start).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The business time zone: days, weeks and months are taken there.
    pub zone: TimeZone,
    /// The stage that counts as purchase intent in the five questions.
    pub intent_stage: String,
    /// Team balance flags a rep holding more than this share of the
    /// team's won customers (basis points).
    pub max_won_share_bp: i64,
    /// When the weekly forecast snapshot is taken (None: never).
    pub snapshots: Option<crate::snapshot::Schedule>,
}

/// The report operations over one store.
#[derive(Clone, Debug)]
pub struct Reports {
    store: Store,
    reader: Reader,
    settings: Settings,
}

pub(crate) fn check_id(field: &'static str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("is {} bytes long; the limit is {MAX_ID_LEN}", value.len()),
        ));
    }
    Ok(())
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

impl Reports {
    /// Reports over `store`.
    pub fn new(store: Store, settings: Settings) -> Self {
        Self {
            reader: Reader::new(store.clone()),
            store,
            settings,
        }
    }

    /// Today in the business time zone, at `now_ms`.
    pub fn today(&self, now_ms: i64) -> Date {
        period::day_of(now_ms, &self.settings.zone)
    }

    /// The caller's scope (a manager's teams looked up when their token
    /// names none).
    async fn scope(&self, caller: &Caller) -> Result<Scope, Error> {
        let managed = if caller.role == Role::Manager && caller.team.is_none() {
            self.reader.managed_teams(&caller.subject).await?
        } else {
            Vec::new()
        };
        Ok(Scope::of(caller, managed))
    }

    /// Validates a request's team and rep and returns the rows the caller
    /// may read for them. An unknown team is a bad argument, not a
    /// permission question.
    async fn filter(&self, caller: &Caller, team_id: &str, rep_id: &str) -> Result<Filter, Error> {
        check_id("team_id", team_id)?;
        check_id("rep_id", rep_id)?;
        if let Some(team) = non_empty(team_id)
            && !self.reader.team_exists(team).await?
        {
            return Err(Error::invalid("team_id", format!("unknown team {team:?}")));
        }
        self.scope(caller)
            .await?
            .filter(non_empty(team_id), non_empty(rep_id))
    }

    /// Open deals per team, rep and stage now; won and lost in the period.
    pub async fn pipeline(
        &self,
        caller: &Caller,
        request: &GetPipelineRequest,
        today: Date,
    ) -> Result<GetPipelineResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Month, today)?;
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let order: BTreeMap<String, usize> = self
            .reader
            .stages()
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, stage)| (stage, i))
            .collect();
        let mut open: Vec<PipelineOpenRow> = if request.as_of.is_empty() {
            self.reader
                .open(&filter, None)
                .await?
                .into_iter()
                .map(PipelineOpenRow::from)
                .collect()
        } else {
            let date = period::parse_date("as_of", &request.as_of)?;
            self.open_as_of(&filter, date).await?
        };
        let position = |stage: &str| order.get(stage).copied().unwrap_or(usize::MAX);
        open.sort_by(|a, b| {
            (&a.team_id, &a.rep_id, position(&a.stage), &a.currency).cmp(&(
                &b.team_id,
                &b.rep_id,
                position(&b.stage),
                &b.currency,
            ))
        });
        let mut closed: BTreeMap<(String, String, String), PipelineClosedRow> = BTreeMap::new();
        let rows = self
            .reader
            .daily(&filter, &days.from_key(), &days.to_key(), &["won", "lost"])
            .await?;
        for row in rows {
            let entry = closed
                .entry((
                    row.team_id.clone(),
                    row.rep_id.clone(),
                    row.currency.clone(),
                ))
                .or_insert_with(|| PipelineClosedRow {
                    team_id: row.team_id.clone(),
                    rep_id: row.rep_id.clone(),
                    currency: row.currency.clone(),
                    ..Default::default()
                });
            if row.metric == "won" {
                entry.won_count += row.events;
                entry.won_minor += row.amount_minor;
            } else {
                entry.lost_count += row.events;
                entry.lost_minor += row.amount_minor;
            }
        }
        Ok(GetPipelineResponse {
            period: Some(days.to_proto()),
            open,
            closed: closed.into_values().collect(),
        })
    }
}

//! The pipeline's stages: reading them and, for admins, changing them.

use leadwheel_plumbing::auth::Caller;
use leadwheel_plumbing::now_ms;

use super::{Pipeline, Service};
use crate::access;
use crate::error::Error;
use crate::events;
use crate::rules;
use crate::store::stages::{self, Stage};

/// Stages may be at most this many.
const MAX_STAGES: usize = 30;

impl Service {
    /// Every stage, in order.
    pub async fn list_stages(&self, caller: &Caller) -> Result<Pipeline, Error> {
        let _ = caller;
        let mut conn = self.read().await?;
        Pipeline::load(&mut conn).await
    }

    /// Admin: creates or changes a stage. Deals that override their
    /// probability keep their override.
    pub async fn set_stage(&self, caller: &Caller, stage: Stage) -> Result<Stage, Error> {
        access::require_admin(caller, "change the pipeline")?;
        rules::id("stage.name", &stage.name, false)?;
        rules::text("stage.name", &stage.name, 64)?;
        if !stage
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Error::invalid(
                "stage.name",
                format!("{:?} must be lower-case letters, digits and _", stage.name),
            ));
        }
        rules::probability("stage.probability_percent", stage.probability as i32)?;
        if !(0..=3650).contains(&stage.stale_days) {
            return Err(Error::invalid(
                "stage.stale_days",
                format!("{} is not between 0 and 3650", stage.stale_days),
            ));
        }
        if !(0..=10_000).contains(&stage.position) {
            return Err(Error::invalid(
                "stage.position",
                format!("{} is not between 0 and 10000", stage.position),
            ));
        }
        let expected = match stage.outcome.as_str() {
            "open" => None,
            "won" => Some(100),
            "lost" => Some(0),
            other => {
                return Err(Error::invalid(
                    "stage.outcome",
                    format!("{other:?} is not open, won or lost"),
                ));
            }
        };
        if let Some(p) = expected
            && stage.probability != p
        {
            return Err(Error::invalid(
                "stage.probability_percent",
                format!("a {} stage has probability {p}", stage.outcome),
            ));
        }
        let mut tx = self.begin().await?;
        let pipeline = Pipeline::load(&mut tx).await?;
        if let Some(existing) = pipeline.get(&stage.name)
            && existing.outcome != stage.outcome
        {
            return Err(Error::precondition(format!(
                "stage {} is {}; its outcome cannot change",
                stage.name, existing.outcome
            )));
        }
        if pipeline.get(&stage.name).is_none() && pipeline.0.len() >= MAX_STAGES {
            return Err(Error::precondition(format!(
                "the pipeline already has {MAX_STAGES} stages"
            )));
        }
        let now = now_ms();
        stages::upsert_stage(&mut tx, &stage, now).await?;
        let draft = events::pipeline_stage_changed(&stage, &caller.subject, now);
        self.emit(&mut tx, draft).await?;
        self.commit(tx).await?;
        Ok(stage)
    }
}

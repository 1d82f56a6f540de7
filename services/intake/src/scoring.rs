//! The scoring rules in force, reloaded from their file without a restart.
//!
//! The file is read again every `scoring_reload` and on SIGHUP; when its
//! text changed it is parsed, and only a file that parses whole replaces
//! the rules in force. A bad edit is logged with the line at fault and the
//! previous rules keep scoring, so a typo never stops or mis-scores intake.
//! At start a bad file is an error: there are no previous rules to keep.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use leadwheel_intake_rules::{Rules, Scored, Signals};
use tokio_util::sync::CancellationToken;

use crate::validate::NewLead;

#[derive(Debug, Default)]
struct State {
    rules: Option<Arc<Rules>>,
    /// The text last tried (loaded or refused), so a refused file is not
    /// re-parsed and re-logged every tick.
    last_text: Option<String>,
}

/// The rules in force; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Scorer {
    path: Option<PathBuf>,
    state: Arc<RwLock<State>>,
}

/// What happened on a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reload {
    /// No file configured, or its text is unchanged.
    Unchanged,
    /// New rules are in force.
    Loaded,
    /// The file was refused (the message says where); the old rules stay.
    Refused(String),
}

impl Scorer {
    /// Rules from `path` (none: leads stay unscored). Fails when the file
    /// cannot be read or parsed.
    pub fn load(path: Option<PathBuf>) -> Result<Self> {
        let scorer = Self {
            path,
            state: Arc::default(),
        };
        if let Some(path) = &scorer.path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the scoring rules {}", path.display()))?;
            let rules =
                Rules::parse(&text).with_context(|| format!("scoring rules {}", path.display()))?;
            let mut state = scorer.state.write().unwrap_or_else(|e| e.into_inner());
            state.rules = Some(Arc::new(rules));
            state.last_text = Some(text);
        }
        Ok(scorer)
    }

    /// The rules in force, if any.
    pub fn rules(&self) -> Option<Arc<Rules>> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .clone()
    }

    /// Scores `lead` with the rules in force (unscored without rules).
    pub fn score(&self, lead: &NewLead) -> Option<Scored> {
        let rules = self.rules()?;
        Some(rules.score(&signals(lead)))
    }

    /// True when `domain` is free-mail: the built-in list, plus the rules
    /// file's extra domains.
    pub fn is_freemail(&self, domain: &str) -> bool {
        match self.rules() {
            Some(rules) => rules.is_freemail(domain),
            None => leadwheel_intake_rules::is_builtin_freemail(domain),
        }
    }

    /// Reads the file again and swaps the rules in when it changed and parses.
    pub fn reload(&self) -> Reload {
        let Some(path) = &self.path else {
            return Reload::Unchanged;
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                let message = format!("reading {}: {err}", path.display());
                tracing::error!(error = %message, "scoring rules not reloaded; the previous rules stay in force");
                return Reload::Refused(message);
            }
        };
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.last_text.as_deref() == Some(text.as_str()) {
            return Reload::Unchanged;
        }
        let outcome = match Rules::parse(&text) {
            Ok(rules) => {
                state.rules = Some(Arc::new(rules));
                tracing::info!(path = %path.display(), "scoring rules reloaded");
                Reload::Loaded
            }
            Err(err) => {
                tracing::error!(
                    path = %path.display(),
                    line = err.line,
                    error = %err,
                    "scoring rules refused; the previous rules stay in force"
                );
                Reload::Refused(err.to_string())
            }
        };
        state.last_text = Some(text);
        outcome
    }

    /// Reloads every `every` and on SIGHUP until `stop` fires.
    pub async fn watch(self, every: Duration, stop: CancellationToken) {
        if self.path.is_none() {
            return;
        }
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
                _ = hup => tracing::info!("SIGHUP: reloading the scoring rules"),
            }
            let scorer = self.clone();
            // File reads block; keep them off the async workers.
            let _ = tokio::task::spawn_blocking(move || scorer.reload()).await;
        }
    }
}

/// The scoring signals of a validated lead.
pub fn signals(lead: &NewLead) -> Signals<'_> {
    Signals {
        email_domain: &lead.email_domain,
        company_size: lead.company_size,
        country: &lead.country,
        source: &lead.source,
        plan: &lead.plan,
        product: &lead.product,
        attributes: Some(&lead.attributes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(domain: &str) -> NewLead {
        crate::validate::validate(&crate::validate::LeadInput {
            email: Some(format!("ana@{domain}")),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_bad_reload_names_the_line_and_keeps_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "base = 40\n[tiers]\nA = 50\nC = 0\n").unwrap();
        let scorer = Scorer::load(Some(path.clone())).unwrap();
        assert_eq!(scorer.score(&lead("acme.io")).unwrap().tier, "C");
        assert_eq!(scorer.reload(), Reload::Unchanged);

        std::fs::write(
            &path,
            "base = 40\n[tiers]\nA = 50\nC = 0\n[country]\nGermany = 5\n",
        )
        .unwrap();
        match scorer.reload() {
            Reload::Refused(message) => assert!(message.starts_with("line 6:"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            scorer.score(&lead("acme.io")).unwrap().score,
            40,
            "old rules in force"
        );
        // The same bad text is not parsed (or logged) again.
        assert_eq!(scorer.reload(), Reload::Unchanged);

        std::fs::write(&path, "base = 60\n[tiers]\nA = 50\nC = 0\n").unwrap();
        assert_eq!(scorer.reload(), Reload::Loaded);
        assert_eq!(scorer.score(&lead("acme.io")).unwrap().tier, "A");

        std::fs::remove_file(&path).unwrap();
        assert!(matches!(scorer.reload(), Reload::Refused(_)));
        assert_eq!(scorer.score(&lead("acme.io")).unwrap().tier, "A");
    }

    #[test]
    fn a_bad_file_at_start_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "[tiers]\nA = 50\n").unwrap();
        let err = Scorer::load(Some(path)).unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
        let none = Scorer::load(None).unwrap();
        assert!(none.score(&lead("acme.io")).is_none());
        assert!(none.is_freemail("gmail.com"));
    }
}

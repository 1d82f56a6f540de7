//! One shared snapshot per team of what the team board shows, so the
//! board's live streams (of every manager and admin watching the team) cost
//! the wheel one read a second per team, not one per stream per second.
//!
//! A stream waits for a snapshot under [`FRESH`] old: the one another
//! stream just read, or its own read, one read at a time per team. A change
//! made through the console (an assignment) drops the team's snapshot.
//! Page loads do not use it: they read the wheel when asked.
//!
//! Who may read a team's snapshot is decided before: the board's team is
//! the manager's own (from the same signed claims the wheel checks) or, for
//! an admin, any.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A snapshot younger than this is taken as it is.
pub const FRESH: Duration = Duration::from_secs(1);

/// At most this many teams' snapshots are kept (the oldest dropped).
const MAX_TEAMS: usize = 1_000;

/// The latest snapshot per team.
pub struct Snapshots<T> {
    teams: Mutex<HashMap<String, Arc<Slot<T>>>>,
}

struct Slot<T> {
    latest: Mutex<Option<(Instant, Arc<T>)>>,
    /// Held while a read runs: one at a time per team.
    reading: tokio::sync::Mutex<()>,
}

impl<T> Slot<T> {
    fn latest(&self) -> Option<(Instant, Arc<T>)> {
        self.latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn keep(&self, data: Arc<T>) {
        *self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), data));
    }
}

impl<T> Default for Snapshots<T> {
    fn default() -> Self {
        Self {
            teams: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Send + Sync + 'static> Snapshots<T> {
    fn slot(&self, team: &str) -> Arc<Slot<T>> {
        let mut teams = self
            .teams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if teams.len() >= MAX_TEAMS && !teams.contains_key(team) {
            let oldest = teams
                .iter()
                .min_by_key(|(_, slot)| slot.latest().map(|(at, _)| at))
                .map(|(team, _)| team.clone());
            if let Some(oldest) = oldest {
                teams.remove(&oldest);
            }
        }
        teams
            .entry(team.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    latest: Mutex::new(None),
                    reading: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// For a live stream: the team's snapshot under [`FRESH`] old.
    pub async fn fresh<F, Fut, E>(&self, team: &str, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = self.slot(team);
        Self::read_now(&slot, read).await
    }

    /// Reads unless a snapshot under [`FRESH`] old is there (perhaps read
    /// by the caller this one waited for).
    async fn read_now<F, Fut, E>(slot: &Slot<T>, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _one_at_a_time = slot.reading.lock().await;
        if let Some((at, data)) = slot.latest()
            && at.elapsed() < FRESH
        {
            return Ok(data);
        }
        let data = Arc::new(read().await?);
        slot.keep(data.clone());
        Ok(data)
    }

    /// Drops the team's snapshot (after a change made through the console).
    pub fn forget(&self, team: &str) {
        self.teams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(team);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn read(reads: &AtomicUsize) -> Result<usize, String> {
        // Long enough for the other readers to queue behind this one.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn streams_share_one_read_per_team_and_a_change_forgets_it() {
        let snapshots: Snapshots<usize> = Snapshots::default();
        let reads = AtomicUsize::new(0);
        let (a, b, c) = tokio::join!(
            snapshots.fresh("t1", || read(&reads)),
            snapshots.fresh("t1", || read(&reads)),
            snapshots.fresh("t1", || read(&reads)),
        );
        assert_eq!((*a.unwrap(), *b.unwrap(), *c.unwrap()), (1, 1, 1));
        assert_eq!(*snapshots.fresh("t2", || read(&reads)).await.unwrap(), 2);
        assert_eq!(reads.load(Ordering::SeqCst), 2, "one read per team");
        snapshots.forget("t1");
        assert_eq!(*snapshots.fresh("t1", || read(&reads)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn an_old_snapshot_is_read_again() {
        let snapshots: Snapshots<usize> = Snapshots::default();
        let reads = AtomicUsize::new(0);
        assert_eq!(*snapshots.fresh("t1", || read(&reads)).await.unwrap(), 1);
        tokio::time::sleep(FRESH + Duration::from_millis(20)).await;
        assert_eq!(*snapshots.fresh("t1", || read(&reads)).await.unwrap(), 2);
    }
}

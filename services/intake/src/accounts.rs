//! Keeps intake's domain → account owner map from `opps.account.*` events.
//!
//! Each event carries the account whole with a version; an older or equal
//! version than the copy holds is ignored (events of one account can
//! arrive out of order after a redelivery). The inbox drops a redelivered
//! event id, and the upsert is idempotent anyway. Free-mail domains are
//! never mapped: a gmail.com address says nothing about which customer
//! someone works for.

use leadwheel_plumbing::bus::OPPS_STREAM;
use leadwheel_plumbing::contracts::{
    AccountCreated, AccountOwnerChanged, AccountUpdated, Contract,
};
use leadwheel_plumbing::inbox::{ConsumerSpec, EventHandler, HandlerError};
use leadwheel_plumbing::{Event, Tx, now_ms};

use crate::scoring::Scorer;
use crate::store::{self, apply_account};

/// The durable consumer name.
pub const DURABLE: &str = "intake-accounts";

/// What the consumer reads.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec {
        durable: DURABLE.into(),
        stream: &OPPS_STREAM,
        filter_subjects: vec![
            AccountCreated::SUBJECT.into(),
            AccountUpdated::SUBJECT.into(),
            AccountOwnerChanged::SUBJECT.into(),
        ],
    }
}

/// Applies account changes to the map.
#[derive(Clone, Debug)]
pub struct AccountHandler {
    scorer: Scorer,
}

impl AccountHandler {
    /// A handler skipping the free-mail domains `scorer` knows.
    pub fn new(scorer: Scorer) -> Self {
        Self { scorer }
    }
}

impl EventHandler for AccountHandler {
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        // Every account event carries the whole account: each is applied
        // the same way, read as the contract of the subject it came on.
        let account = match event.subject.as_str() {
            AccountCreated::SUBJECT => event.decode_as::<AccountCreated>()?,
            AccountUpdated::SUBJECT => event.decode_as::<AccountUpdated>()?,
            _ => event.decode_as::<AccountOwnerChanged>()?,
        };
        if account.account_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "{} without an account_id",
                event.subject
            )));
        }
        let scorer = self.scorer.clone();
        let applied = apply_account(tx, &account, |d| scorer.is_freemail(d), now_ms())
            .await
            .map_err(|err| HandlerError::Transient(err.into()))?;
        tracing::info!(
            account_id = %account.account_id,
            version = account.version,
            owner = %account.owner_rep_id,
            status = %account.status,
            applied = ?applied,
            "account copy"
        );
        Ok(())
    }
}

pub use store::AccountHint;

//! The repository boundary: every SQL statement of the service lives in
//! these modules, and `sqlx::Error` never leaves them except wrapped in
//! [`StoreError`] (the plumbing's: unavailable or a failed query). Writes
//! take the caller's transaction (shared with the inbox row and the outbox
//! event); reads use the pool.

pub mod accounts;
pub mod alerts;
pub mod deliveries;
pub mod directory;
pub mod rules;
pub mod timers;

pub use alerts::{Alert, AlertStore, NewAlert, Scope};
pub use leadwheel_plumbing::store::StoreError;

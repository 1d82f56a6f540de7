//! Shared plumbing of the leadwheel services.
//!
//! Every service stands on the same parts: [`config`] from the environment,
//! [`telemetry`] (logs, traces, trace-context propagation), [`metrics`],
//! the [`store`] (SQLite or Postgres through one code path), the injected [`clock`], the [`bus`]
//! (JetStream streams and the event envelope), the typed event [`contracts`], with the transactional
//! [`outbox`] and the [`inbox`] (kept as long as [`retention`] says, then
//! [`prune`]d), [`auth`] (bearer JWTs, also an identity provider's through [`jwks`]), [`tls`], the [`grpc`] and
//! [`admin`] servers (with [`reflection`]), [`paging`] for list calls, and the [`runtime`] that
//! runs them and shuts them down in order.

pub mod admin;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod contracts;
pub mod grpc;
pub mod ids;
pub mod inbox;
pub mod jwks;
pub mod metrics;
pub mod nats_server;
pub mod outbox;
pub mod paging;
pub mod prune;
pub mod reflection;
pub mod retention;
pub mod runtime;
pub mod shutdown;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use auth::{Authenticator, Caller, Role};
pub use bus::{Bus, Event, EventDraft};
pub use config::ServiceConfig;
pub use contracts::Contract;
pub use runtime::{Listeners, Runtime};
pub use store::{Store, Tx, now_ms};

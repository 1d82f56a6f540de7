//! Integration tests of the intake service: the real binary's library on
//! ephemeral ports, a real `nats-server`, real SQLite and real Postgres
//! (`TEST_POSTGRES_URL`; without it the Postgres variants fail unless
//! `LEADWHEEL_SKIP_POSTGRES=1`).

mod fields;
mod fuzz;
mod grpc;
mod helpers;
mod keepalive;
mod lifecycle;
mod outage;
mod routing;
mod signed;
mod signups;

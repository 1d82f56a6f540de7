//! Integration tests of the intake service: the real binary's library on
//! ephemeral ports, a real `nats-server`, real SQLite and (when
//! `TEST_POSTGRES_URL` is set) real Postgres.

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

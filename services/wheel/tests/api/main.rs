//! Integration tests of the wheel service: the real service over real
//! gRPC, against a real nats-server and a real database.

mod bad_input;
mod batches;
mod duplicates;
mod erasure;
mod expiry_race;
mod helpers;
mod insight;
mod late_and_foreign;
mod lease;
mod leaving;
mod policies;
mod races;
mod routing;
mod routing_rules;
mod schedules;
mod support;
mod work;

pub use helpers::*;

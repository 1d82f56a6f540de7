//! Integration tests of the wheel service: the real service over real
//! gRPC, against a real nats-server and a real database.

mod helpers;
mod insight;
mod races;
mod routing;
mod schedules;

pub use helpers::*;

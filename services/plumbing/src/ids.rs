//! Identifiers: ULIDs, monotonic within a process so ids made in the same
//! millisecond still sort in creation order.

use std::sync::{LazyLock, Mutex};

use ulid::{Generator, Ulid};

static GENERATOR: LazyLock<Mutex<Generator>> = LazyLock::new(|| Mutex::new(Generator::new()));

/// A new ULID.
pub fn new_ulid() -> Ulid {
    let mut generator = GENERATOR.lock().expect("ulid generator poisoned");
    // Overflow needs 2^80 ids in one millisecond; fall back to a random one.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// A new ULID as its 26-character string.
pub fn new_id() -> String {
    new_ulid().to_string()
}

/// A new id with a readable prefix, e.g. `lead_01J...`.
pub fn prefixed(prefix: &str) -> String {
    format!("{prefix}_{}", new_ulid())
}

//! The built-in free-mail list (`data/freemail.txt`).

use std::collections::HashSet;
use std::sync::LazyLock;

/// The list file as shipped.
pub const BUILTIN_FREEMAIL: &str = include_str!("../data/freemail.txt");

static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    BUILTIN_FREEMAIL
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect()
});

/// True when `domain` (lowercase) is on the built-in free-mail list.
pub fn is_builtin_freemail(domain: &str) -> bool {
    SET.contains(domain)
}

/// Number of domains on the built-in list.
pub fn builtin_count() -> usize {
    SET.len()
}

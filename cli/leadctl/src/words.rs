//! The wheel's reason codes in words, for tables and text. JSON keeps the
//! codes: scripts match on them, people read these.

/// Why a lead went to the pool (`lap_done`, ...).
pub fn pool_reason(code: &str) -> String {
    match code {
        "lap_done" => "everyone had their turn".into(),
        "none_eligible" => "nobody eligible".into(),
        "budget_spent" => "chain budget spent".into(),
        "returned" => "returned by its owner".into(),
        other => other.replace('_', " "),
    }
}

/// Why a rep was skipped (`off_shift`, ...).
pub fn skip_reason(code: &str) -> String {
    match code {
        "already_offered" => "already offered it".into(),
        "off_shift" => "off shift".into(),
        "at_capacity" => "at capacity".into(),
        "mismatch" => "tier or region mismatch".into(),
        "left" => "left the team".into(),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use leadwheel_wheel_core::{PoolReason, SkipReason};

    use super::*;

    #[test]
    fn every_code_of_the_core_has_words() {
        for reason in [
            PoolReason::LapDone,
            PoolReason::NoneEligible,
            PoolReason::BudgetSpent,
            PoolReason::Returned,
        ] {
            let words = pool_reason(reason.as_str());
            assert!(!words.contains('_') && words != reason.as_str(), "{words}");
        }
        for reason in [
            SkipReason::AlreadyOffered,
            SkipReason::Away,
            SkipReason::OffShift,
            SkipReason::AtCapacity,
            SkipReason::Mismatch,
            SkipReason::Left,
        ] {
            assert!(!skip_reason(reason.as_str()).contains('_'));
        }
        assert_eq!(pool_reason("lap_done"), "everyone had their turn");
        assert_eq!(skip_reason("off_shift"), "off shift");
        assert_eq!(skip_reason("some_new_code"), "some new code");
    }
}

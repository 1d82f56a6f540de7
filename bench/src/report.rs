//! What a scenario reports: a table, JSON, and target checks.

use serde_json::Value;

/// One scenario's results.
#[derive(Debug)]
pub struct Section {
    /// Scenario name, e.g. `offer-latency`.
    pub name: &'static str,
    /// (measure, value) rows for the table.
    pub rows: Vec<(String, String)>,
    /// The same figures as JSON.
    pub json: Value,
    /// Targets from the issue, met or missed.
    pub checks: Vec<Check>,
}

/// A target and how the run did against it.
#[derive(Debug, Clone)]
pub struct Check {
    pub target: String,
    pub measured: String,
    pub met: bool,
    /// By how much (e.g. `p99 3.2x the target`).
    pub note: String,
}

impl Check {
    /// A "lower is better" check: `value` against `limit`.
    pub fn at_most(target: &str, value: f64, limit: f64, unit: &str) -> Self {
        let met = value <= limit;
        let note = if met {
            format!("{:.0}% of the limit", 100.0 * value / limit)
        } else {
            format!(
                "missed: {:.1}x the limit (+{:.1} {unit})",
                value / limit,
                value - limit
            )
        };
        Self {
            target: target.to_string(),
            measured: format!("{value:.1} {unit}"),
            met,
            note,
        }
    }

    /// A "higher is better" check: `value` against `floor`.
    pub fn at_least(target: &str, value: f64, floor: f64, unit: &str) -> Self {
        let met = value >= floor;
        let note = if met {
            format!("{:.1}x the floor", value / floor)
        } else {
            format!(
                "missed: {:.0}% of the floor ({:.0} {unit} short)",
                100.0 * value / floor,
                floor - value
            )
        };
        Self {
            target: target.to_string(),
            measured: format!("{value:.0} {unit}"),
            met,
            note,
        }
    }

    /// Marks the check missed whatever its figure, saying why.
    pub fn missed_because(mut self, why: String) -> Self {
        self.met = false;
        self.note = format!("{}; {why}", self.note);
        self
    }

    /// As JSON.
    pub fn json(&self) -> Value {
        serde_json::json!({
            "target": self.target,
            "measured": self.measured,
            "met": self.met,
            "note": self.note,
        })
    }
}

/// Renders `section` as a two-column table.
pub fn table(section: &Section) -> String {
    let width = section
        .rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("\n== {}\n", section.name);
    for (name, value) in &section.rows {
        out.push_str(&format!("  {name:<width$}  {value}\n"));
    }
    for check in &section.checks {
        out.push_str(&format!(
            "  [{}] {}: {} ({})\n",
            if check.met { "MET   " } else { "MISSED" },
            check.target,
            check.measured,
            check.note
        ));
    }
    out
}

/// Error counts by gRPC code as a table cell ("none" when there were none).
pub fn error_counts(errors: &std::collections::HashMap<String, usize>) -> String {
    let mut text: Vec<String> = errors
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect();
    text.sort();
    if text.is_empty() {
        "none".into()
    } else {
        text.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_say_by_how_much() {
        let missed = Check::at_most("p99 <= 10 ms", 32.0, 10.0, "ms");
        assert!(!missed.met);
        assert!(missed.note.contains("3.2x"), "{}", missed.note);
        let met = Check::at_least(">= 2000 claims/s", 3000.0, 2000.0, "claims/s");
        assert!(met.met);
        let short = Check::at_least(">= 2000 claims/s", 500.0, 2000.0, "claims/s");
        assert!(short.note.contains("25%"), "{}", short.note);
        let section = Section {
            name: "x",
            rows: vec![("a".into(), "1".into())],
            json: Value::Null,
            checks: vec![met],
        };
        assert!(table(&section).contains("[MET   ]"));
    }
}

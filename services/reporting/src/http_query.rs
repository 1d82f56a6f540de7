//! The CSV download's query string, read into the report's gRPC request:
//! pure, so every rule is tested here. Parameters:
//! `team`, `rep`, `period` (`day|week|month|quarter|year`), `date`,
//! `from` and `to` (a custom period, both days included), and per report
//! `as_of` (pipeline), `since` and `limit` (movement), `intent_stage` (five), `by`
//! (`day|week`, activity) and `max_share` (a whole percentage, balance).
//! An unknown parameter, a repeated one or a value over
//! [`MAX_VALUE_LEN`] bytes is refused, naming it.

use std::collections::BTreeMap;

use leadwheel_proto::reporting::v1::{Period, PeriodKind};

use crate::error::Error;

/// Longest parameter value accepted.
pub const MAX_VALUE_LEN: usize = 128;

/// The reports the download serves (the file is `<name>.csv`).
pub const REPORTS: [&str; 11] = [
    "pipeline", "forecast", "movement", "five", "stages", "activity", "balance", "routes",
    "fairness", "speed", "quotas",
];

/// The parameters every report takes.
const COMMON: [&str; 6] = ["team", "rep", "period", "date", "from", "to"];

/// The parameters `report` takes beyond the common ones.
fn extra(report: &str) -> &'static [&'static str] {
    match report {
        "pipeline" => &["as_of"],
        "movement" => &["since", "limit"],
        "five" => &["intent_stage"],
        "activity" => &["by"],
        "balance" => &["max_share"],
        _ => &[],
    }
}

/// A report's query, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    values: BTreeMap<String, String>,
}

impl Query {
    /// Checks `pairs` (in order, as sent) against what `report` takes.
    pub fn parse(report: &str, pairs: &[(String, String)]) -> Result<Self, Error> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            let known = COMMON.contains(&name.as_str()) || extra(report).contains(&name.as_str());
            if !known {
                let takes: Vec<&str> = COMMON.iter().chain(extra(report)).copied().collect();
                return Err(Error::invalid(
                    name.clone(),
                    format!(
                        "{report}.csv takes no {name:?}; it takes {}",
                        takes.join(", ")
                    ),
                ));
            }
            if value.len() > MAX_VALUE_LEN {
                return Err(Error::invalid(
                    name.clone(),
                    format!(
                        "is {} bytes long; the limit is {MAX_VALUE_LEN}",
                        value.len()
                    ),
                ));
            }
            if values.insert(name.clone(), value.clone()).is_some() {
                return Err(Error::invalid(name.clone(), "given twice"));
            }
        }
        Ok(Self { values })
    }

    /// A parameter's value, "" when not given.
    pub fn get(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A whole-number parameter, 0 when not given (the report checks its
    /// range and names it).
    pub fn int(&self, name: &'static str) -> Result<i32, Error> {
        let text = self.get(name);
        if text.is_empty() {
            return Ok(0);
        }
        text.parse::<i32>()
            .map_err(|_| Error::invalid(name, format!("{text:?} is not a whole number")))
    }

    /// The period asked for (None: the report's default).
    pub fn period(&self) -> Result<Option<Period>, Error> {
        let (from, to, date) = (self.get("from"), self.get("to"), self.get("date"));
        let kind = match self.get("period").as_str() {
            "" if from.is_empty() && to.is_empty() && date.is_empty() => return Ok(None),
            "" if !from.is_empty() || !to.is_empty() => PeriodKind::Custom,
            "" => PeriodKind::Unspecified,
            "day" => PeriodKind::Day,
            "week" => PeriodKind::Week,
            "month" => PeriodKind::Month,
            "quarter" => PeriodKind::Quarter,
            "year" => PeriodKind::Year,
            other => {
                return Err(Error::invalid(
                    "period",
                    format!("{other:?} is not day, week, month, quarter or year"),
                ));
            }
        };
        if kind == PeriodKind::Custom && (from.is_empty() || to.is_empty()) {
            let missing = if from.is_empty() { "from" } else { "to" };
            return Err(Error::invalid(
                missing,
                "a custom period needs both from and to",
            ));
        }
        if kind != PeriodKind::Custom && (!from.is_empty() || !to.is_empty()) {
            return Err(Error::invalid(
                "from",
                "give either period (and date) or from and to",
            ));
        }
        Ok(Some(Period {
            kind: kind as i32,
            date,
            from,
            to,
        }))
    }

    /// The activity report's bucket (`by`).
    pub fn bucket(&self) -> Result<PeriodKind, Error> {
        match self.get("by").as_str() {
            "" | "day" => Ok(PeriodKind::Day),
            "week" => Ok(PeriodKind::Week),
            other => Err(Error::invalid(
                "by",
                format!("{other:?} is not day or week"),
            )),
        }
    }

    /// Team balance's threshold (`max_share`, a whole percentage) in basis
    /// points; 0 for the service's default.
    pub fn max_share_bp(&self) -> Result<i64, Error> {
        let text = self.get("max_share");
        if text.is_empty() {
            return Ok(0);
        }
        text.parse::<i64>()
            .ok()
            .filter(|p| (1..=100).contains(p))
            .map(|p| p * 100)
            .ok_or_else(|| {
                Error::invalid(
                    "max_share",
                    format!("{text:?} is not a whole percentage from 1 to 100"),
                )
            })
    }
}

/// The download's name for a request field the reports name in an error
/// (`period.from` → `from`, `team_id` → `team`).
pub fn parameter_of(field: &str) -> String {
    match field {
        "team_id" => "team".into(),
        "rep_id" => "rep".into(),
        "period.kind" => "period".into(),
        "period.date" => "date".into(),
        "period.from" => "from".into(),
        "period.to" => "to".into(),
        "bucket" => "by".into(),
        "max_share_bp" => "max_share".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field(err: Error) -> String {
        match err {
            Error::InvalidArgument { field, .. } => field.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn periods_from_the_query() {
        let q = Query::parse(
            "pipeline",
            &pairs(&[("period", "quarter"), ("date", "2026-11-03")]),
        )
        .unwrap();
        let p = q.period().unwrap().unwrap();
        assert_eq!(
            (p.kind, p.date.as_str()),
            (PeriodKind::Quarter as i32, "2026-11-03")
        );
        let q = Query::parse(
            "routes",
            &pairs(&[("from", "2026-11-01"), ("to", "2026-11-07")]),
        )
        .unwrap();
        assert_eq!(q.period().unwrap().unwrap().kind, PeriodKind::Custom as i32);
        assert_eq!(Query::parse("routes", &[]).unwrap().period().unwrap(), None);
    }

    #[test]
    fn bad_parameters_are_named() {
        let unknown = Query::parse("routes", &pairs(&[("since", "2026-11-01")])).unwrap_err();
        assert_eq!(field(unknown), "since");
        let twice = Query::parse("routes", &pairs(&[("team", "a"), ("team", "b")])).unwrap_err();
        assert_eq!(field(twice), "team");
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let too_long = Query::parse("routes", &pairs(&[("rep", long.as_str())])).unwrap_err();
        assert_eq!(field(too_long), "rep");
        let kind = Query::parse("routes", &pairs(&[("period", "fortnight")])).unwrap();
        assert_eq!(field(kind.period().unwrap_err()), "period");
        let half = Query::parse("routes", &pairs(&[("from", "2026-11-01")])).unwrap();
        assert_eq!(field(half.period().unwrap_err()), "to");
        let share = Query::parse("balance", &pairs(&[("max_share", "140")])).unwrap();
        assert_eq!(field(share.max_share_bp().unwrap_err()), "max_share");
        let by = Query::parse("activity", &pairs(&[("by", "hour")])).unwrap();
        assert_eq!(field(by.bucket().unwrap_err()), "by");
        assert_eq!(parameter_of("period.from"), "from");
    }
}

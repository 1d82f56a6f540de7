//! The activity report's extras: touches per lead before conversion, and
//! follow-ups done on time vs overdue. Pure shaping of the rows read by
//! `models::follow_ups`, so the rules are tested on their own.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use leadwheel_proto::reporting::v1::{ConversionTouches, FollowUpRow};

use crate::models::follow_ups::{ConvertedLeads, FollowUpCount, FollowUpFact};
use crate::period;

/// Per rep: leads converted, their touches before conversion in total, on
/// average (hundredths, rounded down) and the nearest-rank median.
pub fn conversions(rows: Vec<ConvertedLeads>) -> Vec<ConversionTouches> {
    // Per rep, leads per number of touches (in order).
    let mut per: BTreeMap<(String, String), BTreeMap<i64, i64>> = BTreeMap::new();
    for row in rows {
        *per.entry((row.team_id, row.rep_id))
            .or_default()
            .entry(row.touches)
            .or_default() += row.leads;
    }
    per.into_iter()
        .map(|((team_id, rep_id), counts)| {
            let leads: i64 = counts.values().sum();
            let total: i64 = counts.iter().map(|(touches, n)| touches * n).sum();
            // Nearest rank: the smallest count with half the leads at or
            // below it.
            let rank = ((50 * leads + 99) / 100).max(1);
            let mut below = 0;
            let median = counts
                .iter()
                .find_map(|(touches, n)| {
                    below += n;
                    (below >= rank).then_some(*touches)
                })
                .unwrap_or(0);
            ConversionTouches {
                team_id,
                rep_id,
                leads_converted: leads,
                touches: total,
                average_hundredths: if leads > 0 { total * 100 / leads } else { 0 },
                median,
            }
        })
        .collect()
}

/// What became of one follow-up, seen on `today`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUpOutcome {
    /// Done on or before its due day.
    OnTime,
    /// Done after its due day.
    Late,
    /// Not done and its due day has passed.
    Overdue,
    /// Not done, due today or later.
    Pending,
    /// Replaced by a newer follow-up (or cleared) before it was done.
    Replaced,
}

/// The outcome of `fact` seen on `today`: done by the first activity
/// after it was set, unless a newer follow-up came first (an activity that
/// sets the next follow-up does the current one: the same moment counts as
/// done). The report applies it in two steps: [`kept_outcome`] as facts
/// arrive (`reporting_follow_up_daily`), [`seen_on`] when it is read.
#[cfg(test)]
pub fn outcome(fact: &FollowUpFact, zone: &TimeZone, today: jiff::civil::Date) -> FollowUpOutcome {
    let due_before_today = today.to_string().as_str() > fact.due_date.as_str();
    seen_on(kept_outcome(fact, zone), due_before_today)
}

/// A kept outcome of a follow-up, seen on a day after its due day or not.
pub fn seen_on(kept: KeptOutcome, due_before_today: bool) -> FollowUpOutcome {
    match kept {
        KeptOutcome::OnTime => FollowUpOutcome::OnTime,
        KeptOutcome::Late => FollowUpOutcome::Late,
        KeptOutcome::Replaced => FollowUpOutcome::Replaced,
        KeptOutcome::Open if due_before_today => FollowUpOutcome::Overdue,
        KeptOutcome::Open => FollowUpOutcome::Pending,
    }
}

/// The outcome as kept in `reporting_follow_up_daily`: the same, except
/// that overdue and pending (which depend on today) are both open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeptOutcome {
    OnTime,
    Late,
    Replaced,
    Open,
}

impl KeptOutcome {
    /// Every kept outcome.
    pub const ALL: [KeptOutcome; 4] = [Self::OnTime, Self::Late, Self::Replaced, Self::Open];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTime => "on_time",
            Self::Late => "late",
            Self::Replaced => "replaced",
            Self::Open => "open",
        }
    }
}

/// [`outcome`] without today.
pub fn kept_outcome(fact: &FollowUpFact, zone: &TimeZone) -> KeptOutcome {
    let due = fact.due_date.as_str();
    let done = match (fact.done_at_ms, fact.replaced_at_ms) {
        (Some(done), Some(replaced)) if done > replaced => None,
        (done, _) => done,
    };
    match done {
        Some(at) if period::day_of(at, zone).to_string().as_str() <= due => KeptOutcome::OnTime,
        Some(_) => KeptOutcome::Late,
        None if fact.replaced_at_ms.is_some() => KeptOutcome::Replaced,
        None => KeptOutcome::Open,
    }
}

/// Per rep: the follow-ups due in the period by outcome, from the kept
/// counts per due day and outcome, seen on `today`.
pub fn follow_ups(counts: &[FollowUpCount]) -> Vec<FollowUpRow> {
    let mut per: BTreeMap<(String, String), FollowUpRow> = BTreeMap::new();
    for count in counts {
        let Some(kept) = KeptOutcome::ALL
            .into_iter()
            .find(|k| k.as_str() == count.outcome)
        else {
            continue;
        };
        let outcome = seen_on(kept, count.due_before_today);
        if outcome == FollowUpOutcome::Replaced {
            continue;
        }
        let row = per
            .entry((count.team_id.clone(), count.rep_id.clone()))
            .or_insert_with(|| FollowUpRow {
                team_id: count.team_id.clone(),
                rep_id: count.rep_id.clone(),
                ..Default::default()
            });
        let n = count.follow_ups;
        row.due += n;
        match outcome {
            FollowUpOutcome::OnTime => row.on_time += n,
            FollowUpOutcome::Late => row.late += n,
            FollowUpOutcome::Overdue => row.overdue += n,
            FollowUpOutcome::Pending => row.pending += n,
            FollowUpOutcome::Replaced => {}
        }
    }
    per.into_values().collect()
}

#[cfg(test)]
mod tests {
    use jiff::civil::Date;

    use super::*;

    const DAY: i64 = 86_400_000;
    /// 2026-11-02T00:00:00Z.
    const NOV_2: i64 = 1_793_577_600_000;

    fn fact(due: &str, done: Option<i64>, replaced: Option<i64>) -> FollowUpFact {
        FollowUpFact {
            team_id: "north".into(),
            rep_id: "ana".into(),
            due_date: due.into(),
            done_at_ms: done,
            replaced_at_ms: replaced,
        }
    }

    #[test]
    fn a_follow_up_is_judged_by_the_first_activity_after_it() {
        let today: Date = "2026-11-10".parse().unwrap();
        let utc = TimeZone::UTC;
        let judge = |f: FollowUpFact| outcome(&f, &utc, today);
        // Done on its due day (late evening still counts).
        assert_eq!(
            judge(fact("2026-11-02", Some(NOV_2 + DAY - 1), None)),
            FollowUpOutcome::OnTime
        );
        assert_eq!(
            judge(fact("2026-11-02", Some(NOV_2 + DAY), None)),
            FollowUpOutcome::Late
        );
        assert_eq!(
            judge(fact("2026-11-09", None, None)),
            FollowUpOutcome::Overdue
        );
        assert_eq!(
            judge(fact("2026-11-10", None, None)),
            FollowUpOutcome::Pending
        );
        // Moved to another date before anything was done.
        assert_eq!(
            judge(fact("2026-11-02", Some(NOV_2 + 3 * DAY), Some(NOV_2))),
            FollowUpOutcome::Replaced
        );
        // The activity that set the next follow-up did this one.
        assert_eq!(
            judge(fact("2026-11-02", Some(NOV_2), Some(NOV_2))),
            FollowUpOutcome::OnTime
        );
    }

    #[test]
    fn a_day_is_taken_in_the_business_time_zone() {
        let today: Date = "2026-11-10".parse().unwrap();
        // 23:30 UTC on the 2nd is already the 3rd in Paris.
        let late_evening = NOV_2 + DAY - 30 * 60_000;
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let f = fact("2026-11-02", Some(late_evening), None);
        assert_eq!(outcome(&f, &TimeZone::UTC, today), FollowUpOutcome::OnTime);
        assert_eq!(outcome(&f, &paris, today), FollowUpOutcome::Late);
    }

    #[test]
    fn touches_average_and_median_per_rep() {
        let lead = |rep: &str, touches| ConvertedLeads {
            team_id: "north".into(),
            rep_id: rep.into(),
            touches,
            leads: 1,
        };
        let rows = conversions(vec![
            lead("ana", 1),
            lead("ana", 4),
            lead("ana", 2),
            lead("ben", 0),
        ]);
        assert_eq!(
            rows,
            vec![
                ConversionTouches {
                    team_id: "north".into(),
                    rep_id: "ana".into(),
                    leads_converted: 3,
                    touches: 7,
                    average_hundredths: 233,
                    median: 2,
                },
                ConversionTouches {
                    team_id: "north".into(),
                    rep_id: "ben".into(),
                    leads_converted: 1,
                    touches: 0,
                    average_hundredths: 0,
                    median: 0,
                },
            ]
        );
    }

    #[test]
    fn counts_of_leads_per_touches_add_up_across_days() {
        let row = |touches, leads| ConvertedLeads {
            team_id: "north".into(),
            rep_id: "ana".into(),
            touches,
            leads,
        };
        // Two days with leads of two touches, one with five.
        let rows = conversions(vec![row(5, 2), row(2, 3), row(2, 1)]);
        assert_eq!(
            rows.iter()
                .map(|r| (r.leads_converted, r.touches, r.average_hundredths, r.median))
                .collect::<Vec<_>>(),
            vec![(6, 18, 300, 2)]
        );
        // Five of five (ranks 1–5 of 10 hold 1; 6–10 hold 9): median 1.
        let rows = conversions(vec![row(9, 5), row(1, 5)]);
        assert_eq!(rows[0].median, 1);
    }

    #[test]
    fn kept_counts_are_told_overdue_or_pending_by_today() {
        let count = |due_before_today, outcome: &str, n| FollowUpCount {
            team_id: "north".into(),
            rep_id: "ana".into(),
            due_before_today,
            outcome: outcome.into(),
            follow_ups: n,
        };
        let rows = follow_ups(&[
            count(true, "open", 2),
            count(false, "open", 3),
            count(true, "on_time", 4),
            count(false, "on_time", 1),
            count(true, "late", 1),
            count(true, "replaced", 7),
        ]);
        assert_eq!(
            rows,
            vec![FollowUpRow {
                team_id: "north".into(),
                rep_id: "ana".into(),
                due: 11,
                on_time: 5,
                late: 1,
                overdue: 2,
                pending: 3,
            }]
        );
    }
}

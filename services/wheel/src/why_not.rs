//! The one sentence `WhyNot` answers with, from what the ledger and the
//! lead's routing say. Pure, so every case is tested without a store.
//!
//! A rep asking about themselves is told "you"; a manager or admin asking
//! about a rep hears of that rep by id ("ben passed on it"), so the answer
//! never tells an admin that *they* are not on the team.

use leadwheel_wheel_core::Phase;

use crate::store::LedgerRow;

/// What the answer is built from.
#[derive(Clone, Copy, Debug)]
pub struct Story<'a> {
    /// The rep asked about.
    pub rep_id: &'a str,
    /// The team that routed the lead.
    pub lead_team: &'a str,
    /// Whether the rep is on that team now.
    pub rep_on_team: bool,
    /// The lead's owner ("" when none).
    pub owner: &'a str,
    /// The last way the rep's turn ended: passed, expired, skipped or withdrawn.
    pub last_turn: Option<&'a LedgerRow>,
    /// The lead's routing phase now.
    pub phase: &'a Phase,
    /// The rep's place in the lead's lap, 1-based (0: not in it).
    pub position: usize,
}

/// Whom the sentence speaks of: the caller, or another rep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Person<'a> {
    You,
    Rep(&'a str),
}

impl Person<'_> {
    /// As a sentence's subject: "You", "ben".
    fn subject(self) -> String {
        match self {
            Person::You => "You".into(),
            Person::Rep(rep) => rep.into(),
        }
    }
    /// As an object: "you", "ben".
    fn object(self) -> String {
        match self {
            Person::You => "you".into(),
            Person::Rep(rep) => rep.into(),
        }
    }
    /// "your", "ben's".
    fn possessive(self) -> String {
        match self {
            Person::You => "your".into(),
            Person::Rep(rep) => format!("{rep}'s"),
        }
    }
    /// "you", "they": a second mention in the same sentence.
    fn pronoun(self) -> &'static str {
        match self {
            Person::You => "you",
            Person::Rep(_) => "they",
        }
    }
    /// "are"/"is".
    fn is(self) -> &'static str {
        match self {
            Person::You => "are",
            Person::Rep(_) => "is",
        }
    }
    /// "were"/"was".
    fn was(self) -> &'static str {
        match self {
            Person::You => "were",
            Person::Rep(_) => "was",
        }
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A skip reason code in words (`off_shift` → "off shift").
fn skip_words(code: &str) -> String {
    match code {
        "already_offered" => "already offered it in this lap".into(),
        "at_capacity" => "at capacity".into(),
        "mismatch" => "the lead's tier or region does not match".into(),
        "left" => "no longer on the team".into(),
        other => other.replace('_', " "),
    }
}

/// The answer to "why did `story.rep_id` not get the lead?", asked by
/// `caller` (the rep themselves, or someone else).
pub fn summary(story: &Story<'_>, caller: &str) -> String {
    let who = if caller == story.rep_id {
        Person::You
    } else {
        Person::Rep(story.rep_id)
    };
    let (subject, object, was) = (who.subject(), who.object(), who.was());
    let place = ordinal(story.position);
    if story.owner == story.rep_id {
        return match who {
            Person::You => "You got it: the lead is yours.".into(),
            Person::Rep(rep) => format!("{rep} got it: the lead is theirs."),
        };
    }
    if let Some(last) = story.last_turn {
        return match last.kind.as_str() {
            "passed" => format!(
                "{subject} passed on it ({}).",
                if last.detail.is_empty() {
                    "no reason given"
                } else {
                    &last.detail
                }
            ),
            "expired" => format!(
                "It was offered to {object} and the window lapsed before {} claimed it.",
                who.pronoun()
            ),
            "withdrawn" => {
                format!("It was offered to {object} and a manager withdrew the offer.")
            }
            _ => format!("{subject} {was} skipped: {}.", skip_words(&last.detail)),
        };
    }
    if !story.rep_on_team {
        return format!(
            "{subject} {} not on team {}, which routed it.",
            who.is(),
            story.lead_team
        );
    }
    if matches!(story.phase, Phase::Offered { rep, .. } if rep == story.rep_id) {
        return match who {
            Person::You => "It is offered to you right now: claim it before the deadline.".into(),
            Person::Rep(rep) => format!("It is offered to {rep} right now, until its deadline."),
        };
    }
    if story.position == 0 {
        return format!(
            "{subject} {was} not in its lap ({} joined the team after it started, or it waited for an eligible rep).",
            who.pronoun()
        );
    }
    if !story.owner.is_empty() {
        return format!(
            // "you were", "they were": both take "were".
            "{} claimed it before {} turn ({} were {place} in the lap).",
            story.owner,
            who.possessive(),
            who.pronoun()
        );
    }
    match story.phase {
        Phase::Offered { rep, .. } => format!(
            "It is offered to {rep} now; {object} {} {place} in the lap.",
            who.is()
        ),
        Phase::Pooled { .. } | Phase::Escalated { .. } => {
            format!("It is in the open pool: {object} may claim it now.")
        }
        Phase::Waiting { .. } => "It is waiting for an eligible rep.".into(),
        Phase::Withdrawn => "A manager withdrew it.".into(),
        Phase::Assigned { .. } => "It was assigned.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, detail: &str) -> LedgerRow {
        LedgerRow {
            at_ms: 1,
            kind: kind.into(),
            rep_id: Some("ben".into()),
            offer_no: None,
            detail: detail.into(),
        }
    }

    fn story<'a>(phase: &'a Phase, last_turn: Option<&'a LedgerRow>) -> Story<'a> {
        Story {
            rep_id: "ben",
            lead_team: "demo",
            rep_on_team: true,
            owner: "",
            last_turn,
            phase,
            position: 2,
        }
    }

    /// The same facts, asked by ben and by an admin.
    fn both(story: &Story<'_>) -> (String, String) {
        (summary(story, "ben"), summary(story, "root"))
    }

    #[test]
    fn a_rep_hears_you_and_anyone_else_hears_the_rep_by_name() {
        let waiting = Phase::Waiting { since: 0 };
        let not_on_team = Story {
            rep_on_team: false,
            position: 0,
            ..story(&waiting, None)
        };
        assert_eq!(
            both(&not_on_team),
            (
                "You are not on team demo, which routed it.".into(),
                "ben is not on team demo, which routed it.".into()
            )
        );

        let passed = row("passed", "on a call");
        assert_eq!(
            both(&story(&waiting, Some(&passed))),
            (
                "You passed on it (on a call).".into(),
                "ben passed on it (on a call).".into()
            )
        );
        let expired = row("expired", "");
        assert_eq!(
            both(&story(&waiting, Some(&expired))).1,
            "It was offered to ben and the window lapsed before they claimed it."
        );
        let skipped = row("skipped", "off_shift");
        assert_eq!(
            both(&story(&waiting, Some(&skipped))),
            (
                "You were skipped: off shift.".into(),
                "ben was skipped: off shift.".into()
            )
        );

        let assigned = Phase::Assigned { rep: "ana".into() };
        let beaten = Story {
            owner: "ana",
            ..story(&assigned, None)
        };
        assert_eq!(
            both(&beaten),
            (
                "ana claimed it before your turn (you were 2nd in the lap).".into(),
                "ana claimed it before ben's turn (they were 2nd in the lap).".into()
            )
        );
        let theirs = Story {
            owner: "ben",
            ..story(&assigned, None)
        };
        assert_eq!(
            both(&theirs),
            (
                "You got it: the lead is yours.".into(),
                "ben got it: the lead is theirs.".into()
            )
        );

        let offered_to_ben = Phase::Offered {
            rep: "ben".into(),
            offer_no: 2,
            deadline: 9,
        };
        let (you, them) = both(&story(&offered_to_ben, None));
        assert!(you.contains("offered to you right now"), "{you}");
        assert!(them.starts_with("It is offered to ben right now"), "{them}");
        let offered_to_ana = Phase::Offered {
            rep: "ana".into(),
            offer_no: 1,
            deadline: 9,
        };
        assert_eq!(
            both(&story(&offered_to_ana, None)),
            (
                "It is offered to ana now; you are 2nd in the lap.".into(),
                "It is offered to ana now; ben is 2nd in the lap.".into()
            )
        );
        let pooled = Phase::Pooled {
            since: 0,
            escalate_at: None,
        };
        assert_eq!(
            both(&story(&pooled, None)),
            (
                "It is in the open pool: you may claim it now.".into(),
                "It is in the open pool: ben may claim it now.".into()
            )
        );
        let outside = Story {
            position: 0,
            ..story(&waiting, None)
        };
        assert!(both(&outside).1.starts_with("ben was not in its lap"));
    }

    #[test]
    fn ordinals() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal).into();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
            ]
        );
    }
}

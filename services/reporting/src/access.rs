//! Who may read which numbers: a rep their own, a manager their teams', an
//! admin everything; integrations nothing. A manager's teams are the team
//! in their token when it names one, else the teams the wheel says they
//! manage (`wheel.team.upserted`). Quotas are set by managers (their
//! teams and those teams' reps) and admins.

use leadwheel_plumbing::auth::{Caller, Role};

use crate::error::Error;
use crate::models::queries::Filter;

/// What a caller may see, resolved once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything (admins).
    All,
    /// These teams' numbers (managers).
    Teams(Vec<String>),
    /// This rep's own numbers (reps).
    Own(String),
    /// Nothing (integrations).
    Nothing,
}

impl Scope {
    /// The scope of `caller`, given the teams the wheel says they manage.
    pub fn of(caller: &Caller, managed_teams: Vec<String>) -> Self {
        match caller.role {
            Role::Admin => Self::All,
            Role::Manager => match &caller.team {
                Some(team) => Self::Teams(vec![team.clone()]),
                None => Self::Teams(managed_teams),
            },
            Role::Rep => Self::Own(caller.subject.clone()),
            Role::Integration => Self::Nothing,
        }
    }

    /// The rows a report for `team` and `rep` (None: any) may read, or a
    /// refusal when the caller asks for numbers that are not theirs.
    pub fn filter(&self, team: Option<&str>, rep: Option<&str>) -> Result<Filter, Error> {
        let teams = team.map(|t| vec![t.to_string()]);
        match self {
            Self::All => Ok(Filter {
                teams,
                rep: rep.map(str::to_string),
            }),
            Self::Teams(managed) => {
                if let Some(team) = team.filter(|t| !managed.iter().any(|m| m == t)) {
                    return Err(Error::denied(format!(
                        "only the manager of team {team} (or an admin) may see its numbers"
                    )));
                }
                Ok(Filter {
                    teams: teams.or_else(|| Some(managed.clone())),
                    rep: rep.map(str::to_string),
                })
            }
            Self::Own(me) => match rep {
                Some(rep) if rep != me => Err(Error::denied(format!(
                    "rep {me} may not see rep {rep}'s numbers"
                ))),
                _ => Ok(Filter {
                    teams,
                    rep: Some(me.clone()),
                }),
            },
            Self::Nothing => Err(Error::denied("integrations may not read reports")),
        }
    }

    /// True when the caller may set quotas for `team`.
    pub fn may_set_quota(&self, team: &str) -> bool {
        match self {
            Self::All => true,
            Self::Teams(managed) => managed.iter().any(|m| m == team),
            Self::Own(_) | Self::Nothing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, role: Role, team: Option<&str>) -> Caller {
        Caller {
            subject: subject.into(),
            role,
            team: team.map(str::to_string),
        }
    }

    #[test]
    fn matrix() {
        let ana = Scope::of(&caller("ana", Role::Rep, None), vec![]);
        let maya = Scope::of(&caller("maya", Role::Manager, None), vec!["north".into()]);
        let nora = Scope::of(
            &caller("nora", Role::Manager, Some("south")),
            vec!["north".into()],
        );
        let root = Scope::of(&caller("root", Role::Admin, None), vec![]);
        let crm = Scope::of(&caller("crm", Role::Integration, None), vec![]);
        // (team, rep) asked → allowed?
        let asks = [
            (Some("north"), None),
            (Some("south"), None),
            (None, Some("ana")),
            (None, Some("bo")),
            (None, None),
        ];
        let expected = [
            (&ana, [true, true, true, false, true]),
            (&maya, [true, false, true, true, true]),
            (&nora, [false, true, true, true, true]),
            (&root, [true, true, true, true, true]),
            (&crm, [false, false, false, false, false]),
        ];
        for (scope, wants) in expected {
            for ((team, rep), want) in asks.iter().zip(wants) {
                assert_eq!(
                    scope.filter(*team, *rep).is_ok(),
                    want,
                    "{scope:?} asking {team:?} {rep:?}"
                );
            }
        }
        // A rep reads only their own rows, whatever they ask.
        assert_eq!(ana.filter(None, None).unwrap().rep.as_deref(), Some("ana"));
        // A manager's unfiltered read is limited to their teams.
        assert_eq!(
            maya.filter(None, None).unwrap().teams,
            Some(vec!["north".to_string()])
        );
        assert!(maya.may_set_quota("north") && !maya.may_set_quota("south"));
        assert!(!ana.may_set_quota("north") && root.may_set_quota("any"));
    }
}

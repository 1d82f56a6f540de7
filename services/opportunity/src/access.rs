//! Who may read and change what: a rep what they own, a manager their
//! team's, an admin everything. Integrations only log activities.
//!
//! A manager's teams are the team in their token when it names one, else
//! every team the wheel says they manage (`wheel.team.upserted`, kept in
//! `opps_teams`). A manager who manages no known team sees nothing: an
//! unscoped token is not a licence to read every rep's book.

use leadwheel_plumbing::auth::{Caller, Role};

use crate::error::Error;

/// What a caller may see, resolved once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything (admins).
    All,
    /// These teams' (managers).
    Teams(Vec<String>),
    /// This rep's own (reps).
    Own(String),
    /// Nothing (integrations).
    Nothing,
}

impl Scope {
    /// The scope of `caller`, given the teams they manage per the directory.
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

    /// True when something owned by `owner` in `team` is visible.
    pub fn covers(&self, owner: &str, team: &str) -> bool {
        match self {
            Self::All => true,
            Self::Teams(teams) => teams.iter().any(|t| t == team),
            Self::Own(rep) => rep == owner,
            Self::Nothing => false,
        }
    }

    /// Refuses unless `caller` may read or change `what` (owned by `owner`
    /// in `team`).
    pub fn check(&self, caller: &Caller, what: &str, owner: &str, team: &str) -> Result<(), Error> {
        if self.covers(owner, team) {
            Ok(())
        } else {
            Err(Error::denied(format!(
                "{} ({}) may not access {what}",
                caller.subject,
                role_name(caller.role)
            )))
        }
    }

    /// The teams a list is limited to (None: any), and the owner it is
    /// limited to (None: any), for a list asking for `rep` ("" = everyone).
    pub fn list_filter(&self, caller: &Caller, rep: &str) -> Result<ListScope, Error> {
        let requested = (!rep.is_empty()).then(|| rep.to_string());
        match self {
            Self::All => Ok(ListScope {
                owner: requested,
                teams: None,
            }),
            Self::Teams(teams) => Ok(ListScope {
                owner: requested,
                teams: Some(teams.clone()),
            }),
            Self::Own(me) => match requested {
                None => Ok(ListScope {
                    owner: Some(me.clone()),
                    teams: None,
                }),
                Some(rep) if rep == *me => Ok(ListScope {
                    owner: Some(rep),
                    teams: None,
                }),
                Some(rep) => Err(Error::denied(format!(
                    "rep {me} may not list what rep {rep} owns"
                ))),
            },
            Self::Nothing => Err(Error::denied(format!(
                "{} ({}) may not read reps' work",
                caller.subject,
                role_name(caller.role)
            ))),
        }
    }
}

/// A list's limits: one owner and/or a set of teams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListScope {
    /// Only this owner's, when set.
    pub owner: Option<String>,
    /// Only these teams', when set (empty: nothing).
    pub teams: Option<Vec<String>>,
}

impl ListScope {
    /// A stable description, which page tokens are bound to.
    pub fn key(&self, what: &str) -> String {
        format!(
            "{what};owner={};teams={}",
            self.owner.as_deref().unwrap_or("*"),
            self.teams
                .as_ref()
                .map(|t| t.join(","))
                .unwrap_or_else(|| "*".into())
        )
    }
}

/// Refuses callers who are not managers or admins.
pub fn require_manager(caller: &Caller, what: &str) -> Result<(), Error> {
    if caller.is_manager_or_admin() {
        Ok(())
    } else {
        Err(Error::denied(format!(
            "{} ({}) may not {what}: managers and admins only",
            caller.subject,
            role_name(caller.role)
        )))
    }
}

/// Refuses callers who are not admins.
pub fn require_admin(caller: &Caller, what: &str) -> Result<(), Error> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::denied(format!(
            "{} ({}) may not {what}: admins only",
            caller.subject,
            role_name(caller.role)
        )))
    }
}

/// The role as tokens spell it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Rep => "rep",
        Role::Manager => "manager",
        Role::Admin => "admin",
        Role::Integration => "integration",
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
        let ana = caller("ana", Role::Rep, None);
        let nora = caller("nora", Role::Manager, Some("north"));
        let maya = caller("maya", Role::Manager, None);
        let root = caller("root", Role::Admin, None);
        let crm = caller("crm", Role::Integration, None);
        let cases = [
            (Scope::of(&ana, vec![]), [true, false, false]),
            (Scope::of(&nora, vec!["south".into()]), [true, true, false]),
            (Scope::of(&maya, vec!["south".into()]), [false, false, true]),
            (Scope::of(&maya, vec![]), [false, false, false]),
            (Scope::of(&root, vec![]), [true, true, true]),
            (Scope::of(&crm, vec![]), [false, false, false]),
        ];
        let things = [("ana", "north"), ("bo", "north"), ("cy", "south")];
        for (scope, expected) in cases {
            for ((owner, team), want) in things.iter().zip(expected) {
                assert_eq!(scope.covers(owner, team), want, "{scope:?} {owner} {team}");
            }
        }
        let own = Scope::of(&ana, vec![]);
        assert_eq!(
            own.list_filter(&ana, "").unwrap().owner.as_deref(),
            Some("ana")
        );
        assert!(own.list_filter(&ana, "bo").is_err());
        assert!(Scope::Nothing.list_filter(&crm, "").is_err());
    }
}

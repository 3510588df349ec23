//! Roles and the rules of what each may do. One function, [`authorize`], decides; the
//! [`Gate`](super::Gate) asks it before every operation, whichever front end the request came
//! through.

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    format::meta::db_or_default,
};

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, users and policies included.
    Admin,
    /// Back up, restore, verify and delete anything (or within its databases, when given).
    Operator,
    /// Back up, restore, verify and delete within its databases only.
    Member,
    /// Reads (within its databases, when given); changes nothing.
    Viewer,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Parses `admin`, `operator`, `member` or `viewer`.
    pub fn parse(s: &str) -> Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            other => Err(Error::InvalidRequest(format!(
                "unknown role '{other}'; use admin, operator, member or viewer"
            ))),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: String,
    pub role: Role,
    /// The databases the user may touch; empty means all (admins always have all).
    pub databases: Vec<String>,
    /// How the request authenticated: `session`, `token:<name>`, `local` (auth off) or `cli`.
    pub via: String,
}

impl Principal {
    /// The identity of every request when sign-in is off (loopback only), and of the CLI.
    pub fn local(via: &str) -> Principal {
        Principal {
            user: "local".into(),
            role: Role::Admin,
            databases: Vec::new(),
            via: via.into(),
        }
    }

    /// The scheduler running a policy.
    pub fn scheduler() -> Principal {
        Principal {
            user: "scheduler".into(),
            ..Principal::local("scheduler")
        }
    }

    /// Whether the user is limited to some databases.
    pub fn is_scoped(&self) -> bool {
        self.role != Role::Admin && !self.databases.is_empty()
    }

    /// Whether the user may see and touch database `db` (`""` is `default`).
    pub fn covers(&self, db: &str) -> bool {
        let db = db_or_default(db);
        !self.is_scoped() || self.databases.iter().any(|d| d == db)
    }

    /// Whether every one of `dbs` is within the user's databases.
    pub fn covers_all<S: AsRef<str>>(&self, dbs: &[S]) -> bool {
        dbs.iter().all(|d| self.covers(d.as_ref()))
    }

    fn outside<'a>(&self, dbs: &'a [String]) -> Vec<&'a str> {
        dbs.iter()
            .filter(|d| !self.covers(d))
            .map(String::as_str)
            .collect()
    }
}

/// Who is asking and from where, as a front end saw it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    /// The client's address (or `cli`, `scheduler`).
    pub source: String,
}

impl Caller {
    /// The scheduler running a policy (an admin of this server).
    pub fn scheduler() -> Caller {
        Caller {
            who: Principal::scheduler(),
            source: "scheduler".into(),
        }
    }

    /// The CLI acting for whoever runs it.
    pub fn cli() -> Caller {
        Caller {
            who: Principal::local("cli"),
            source: "cli".into(),
        }
    }
}

/// What a request proved its caller with, kept by long-lived streams (job progress events,
/// gRPC WatchJob) to ask again, while they stay open, whether it still holds. Its `Debug` output
/// hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: sign-in is off (or the request carried none).
    None,
    /// An API token (`mvt_...`).
    Token(String),
    /// A session cookie's value.
    Session(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::None => "Credential::None",
            Credential::Token(_) => "Credential::Token(..)",
            Credential::Session(_) => "Credential::Session(..)",
        })
    }
}

/// Something a user wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// See backups, jobs or collections of these databases.
    Read { databases: &'a [String] },
    /// Back up collections of these databases.
    Backup { databases: &'a [String] },
    /// Restore collections of the `from` databases into the `into` databases.
    Restore {
        from: &'a [String],
        into: &'a [String],
    },
    /// Delete a backup holding these databases.
    Delete { databases: &'a [String] },
    /// Verify a backup holding these databases.
    Verify { databases: &'a [String] },
    /// Cancel a running job touching these databases.
    Cancel { databases: &'a [String] },
    /// Back up (`restore: false`) or restore Milvus' own users, roles and grants (`rbac`). They
    /// are cluster-wide: never for a user limited to some databases; restoring them creates
    /// users and roles in Milvus, which only admins may.
    Rbac { restore: bool },
    /// Add, change, pause, run or remove policies.
    ManagePolicies,
    /// Add, change or remove users, and revoke anyone's tokens.
    ManageUsers,
    /// Read and export the audit log.
    ReadAudit,
}

/// Whether `who` may do `action`; the error says why not.
pub fn authorize(who: &Principal, action: Action<'_>) -> Result<()> {
    let scope_err = |what: &str, outside: Vec<&str>| {
        Error::Forbidden(format!(
            "{what} database(s) {} outside yours ({}); ask an admin to widen your databases",
            outside.join(", "),
            who.databases.join(", ")
        ))
    };
    let within = |what: &str, dbs: &[String]| {
        let outside = who.outside(dbs);
        if outside.is_empty() {
            Ok(())
        } else {
            Err(scope_err(what, outside))
        }
    };
    let writer = || match who.role {
        Role::Viewer => Err(Error::Forbidden(format!(
            "{} is a viewer and can change nothing; ask an admin for the operator or member role",
            who.user
        ))),
        _ => Ok(()),
    };
    let admin = |what: &str| match who.role {
        Role::Admin => Ok(()),
        _ => Err(Error::Forbidden(format!(
            "only admins may {what}; {} is {}",
            who.user,
            who.role.as_str()
        ))),
    };
    match action {
        Action::Read { databases } => within("it touches", databases),
        Action::Backup { databases } => {
            writer()?;
            if who.is_scoped() && databases.is_empty() {
                return Err(Error::Forbidden(
                    "choose the collections or databases to back up: a backup of everything would include databases outside yours".into(),
                ));
            }
            within("the backup would read", databases)
        }
        Action::Restore { from, into } => {
            writer()?;
            within("the backup holds", from)?;
            within("the restore would write into", into)
        }
        Action::Delete { databases } => {
            writer()?;
            within("the backup holds", databases)
        }
        Action::Verify { databases } => {
            writer()?;
            within("the backup holds", databases)
        }
        Action::Cancel { databases } => {
            writer()?;
            within("the job touches", databases)
        }
        Action::Rbac { restore: true } => {
            admin("restore Milvus' users, roles and grants (rbac), which are cluster-wide")
        }
        Action::Rbac { restore: false } => {
            writer()?;
            if who.is_scoped() {
                return Err(Error::Forbidden(format!(
                    "Milvus' users, roles and grants (rbac) are cluster-wide, and {} is limited to database(s) {}; leave rbac out or ask an admin",
                    who.user,
                    who.databases.join(", ")
                )));
            }
            Ok(())
        }
        Action::ManagePolicies => admin("manage policies"),
        Action::ManageUsers => admin("manage users"),
        Action::ReadAudit => admin("read the audit log"),
    }
}

/// The database of a qualified collection name `db.collection` (`default` when unqualified).
pub fn database_of(qualified: &str) -> &str {
    db_or_default(qualified.split_once('.').map_or("", |(db, _)| db))
}

/// The distinct databases of qualified collection names, sorted (said once, with the other
/// name rules).
pub use crate::engine::names::databases_of;

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, dbs: &[&str]) -> Principal {
        Principal {
            user: "u".into(),
            role,
            databases: dbs.iter().map(|d| d.to_string()).collect(),
            via: "session".into(),
        }
    }

    fn v(dbs: &[&str]) -> Vec<String> {
        dbs.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_member_acts_only_within_its_databases() {
        let m = user(Role::Member, &["team_a"]);
        let a = v(&["team_a"]);
        let b = v(&["team_b"]);
        let ab = v(&["team_a", "team_b"]);
        assert!(authorize(&m, Action::Read { databases: &a }).is_ok());
        assert!(authorize(&m, Action::Read { databases: &ab }).is_err());
        assert!(authorize(&m, Action::Backup { databases: &a }).is_ok());
        assert!(authorize(&m, Action::Backup { databases: &[] }).is_err());
        assert!(authorize(&m, Action::Restore { from: &a, into: &a }).is_ok());
        let e = authorize(&m, Action::Restore { from: &a, into: &b }).unwrap_err();
        assert!(e.to_string().contains("team_b"), "{e}");
        assert!(authorize(&m, Action::Restore { from: &b, into: &a }).is_err());
        assert!(authorize(&m, Action::Delete { databases: &ab }).is_err());
        assert!(authorize(&m, Action::ManagePolicies).is_err());
        assert!(authorize(&m, Action::ReadAudit).is_err());
    }

    #[test]
    fn a_viewer_changes_nothing_and_admins_do_everything() {
        let viewer = user(Role::Viewer, &[]);
        let any = v(&["x"]);
        assert!(authorize(&viewer, Action::Read { databases: &any }).is_ok());
        for a in [
            Action::Backup { databases: &any },
            Action::Restore {
                from: &any,
                into: &any,
            },
            Action::Delete { databases: &any },
            Action::Verify { databases: &any },
            Action::ManageUsers,
        ] {
            assert!(authorize(&viewer, a).is_err(), "{a:?}");
        }
        // an admin's database list is ignored
        let admin = user(Role::Admin, &["only"]);
        assert!(authorize(&admin, Action::Delete { databases: &any }).is_ok());
        assert!(authorize(&admin, Action::ManageUsers).is_ok());
        let op = user(Role::Operator, &[]);
        assert!(authorize(
            &op,
            Action::Restore {
                from: &any,
                into: &any
            }
        )
        .is_ok());
        assert!(authorize(&op, Action::ManagePolicies).is_err());
    }

    #[test]
    fn rbac_is_cluster_wide() {
        let backup = Action::Rbac { restore: false };
        let restore = Action::Rbac { restore: true };
        let scoped = user(Role::Operator, &["team_a"]);
        let e = authorize(&scoped, backup).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)));
        assert!(e.to_string().contains("cluster-wide"), "{e}");
        assert!(authorize(&user(Role::Member, &["team_a"]), restore).is_err());
        // an operator of every database may back them up, only an admin restore them
        let op = user(Role::Operator, &[]);
        assert!(authorize(&op, backup).is_ok());
        let e = authorize(&op, restore).unwrap_err();
        assert!(e.to_string().contains("only admins"), "{e}");
        assert!(authorize(&user(Role::Viewer, &[]), backup).is_err());
        let admin = user(Role::Admin, &["only"]);
        assert!(authorize(&admin, backup).is_ok());
        assert!(authorize(&admin, restore).is_ok());
    }

    #[test]
    fn a_credential_never_shows_its_secret() {
        let shown = format!("{:?}", Credential::Token("mvt_secret".into()));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn databases_come_from_qualified_names() {
        assert_eq!(
            databases_of(&["shop.reviews", "plain", "shop.x", ".odd"]),
            v(&["default", "shop"])
        );
        assert!(user(Role::Member, &["default"]).covers(""));
    }
}

//! Backup names claimed for a use (being made, read by a restore or verification, being
//! deleted), held as lease rows in the job database so that they hold across every process that
//! shares it: servers and the CLI. One rule decides which uses exclude which.
//!
//! A lease belongs to its process (the store's owner): it holds while that process beats its
//! heartbeat (see [`crate::db`]) and ends when the claim is dropped, when the process signs
//! off, or [`STALE_AFTER`] after it stopped beating (a killed
//! process blocks a name for half a minute at most).

use crate::{
    db::{Db, STALE_AFTER},
    error::{Error, Result},
};

/// What a backup name is claimed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameUse {
    /// A backup of this name is being made.
    Create,
    /// A restore or verification reads the backup.
    Read,
    /// The backup is being deleted.
    Delete,
}

impl NameUse {
    fn as_str(self) -> &'static str {
        match self {
            NameUse::Create => "create",
            NameUse::Read => "read",
            NameUse::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<NameUse> {
        match s {
            "create" => Some(NameUse::Create),
            "read" => Some(NameUse::Read),
            "delete" => Some(NameUse::Delete),
            _ => None,
        }
    }
}

/// The rule: why `wanted` cannot be claimed while `held` is, or `None` when both may go on
/// together. A second backup of one name must not start (its clean-up on failure would remove
/// the first one's files); a backup must not be deleted while it is made or read (a restore
/// would lose its binlogs half-way), nor read while it is made or deleted.
pub fn conflict(name: &str, wanted: NameUse, held: NameUse) -> Option<Error> {
    use NameUse::*;
    let busy = |reason: &str| {
        Some(Error::BackupBusy {
            name: name.to_string(),
            reason: reason.into(),
        })
    };
    match (wanted, held) {
        (Read, Read) | (Create, Read) => None,
        (Create, Create) => Some(Error::BackupInProgress(name.to_string())),
        (_, Delete) => busy("it is being deleted"),
        (Read, Create) => busy("it is still being made; wait for its job to finish"),
        (Delete, Create) => busy("it is being made now; wait for its job to finish"),
        (Delete, Read) => {
            busy("a restore or verification from it is running; wait for it to finish")
        }
    }
}

impl Db {
    /// Claims `name` for `use_`, unless a live process (this one included) holds a claim that
    /// excludes it; returns the claim's id for [`Db::release_name`].
    pub fn claim_name(&self, name: &str, use_: NameUse) -> Result<String> {
        self.insert_lease(name, use_.as_str(), STALE_AFTER, |held| {
            held.iter()
                .filter_map(|h| NameUse::parse(h))
                .find_map(|h| conflict(name, use_, h))
        })
    }

    /// Whether claim `holder` still holds (see [`Db::lease_holds`]).
    pub fn still_holds(&self, holder: &str) -> Result<bool> {
        self.lease_holds(holder)
    }

    /// Ends a claim.
    pub fn release_name(&self, holder: &str) -> Result<()> {
        self.delete_lease(holder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_processes() -> (tempfile::TempDir, Db, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let a = Db::open(&path).unwrap();
        let b = Db::open(&path).unwrap();
        a.beat().unwrap();
        b.beat().unwrap();
        (dir, a, b)
    }

    #[test]
    fn a_claim_holds_across_processes_sharing_the_database() {
        let (_dir, server, cli) = two_processes();
        let restore = server.claim_name("b1", NameUse::Read).unwrap();
        // a second reader is fine, a delete from the other process is not
        let verify = cli.claim_name("b1", NameUse::Read).unwrap();
        let refused = cli.claim_name("b1", NameUse::Delete).unwrap_err();
        assert!(
            matches!(&refused, Error::BackupBusy { reason, .. } if reason.contains("restore or verification")),
            "{refused}"
        );
        // other names are free
        cli.release_name(&cli.claim_name("b2", NameUse::Delete).unwrap())
            .unwrap();
        server.release_name(&restore).unwrap();
        assert!(cli.claim_name("b1", NameUse::Delete).is_err(), "still read");
        cli.release_name(&verify).unwrap();
        let delete = cli.claim_name("b1", NameUse::Delete).unwrap();
        assert!(matches!(
            server.claim_name("b1", NameUse::Read),
            Err(Error::BackupBusy { .. })
        ));
        assert!(matches!(
            server.claim_name("b1", NameUse::Create),
            Err(Error::BackupBusy { .. })
        ));
        cli.release_name(&delete).unwrap();
        let make = server.claim_name("b1", NameUse::Create).unwrap();
        assert!(matches!(
            cli.claim_name("b1", NameUse::Create),
            Err(Error::BackupInProgress(_))
        ));
        server.release_name(&make).unwrap();
    }

    #[test]
    fn claims_of_a_process_that_signed_off_or_went_silent_do_not_hold() {
        let (dir, server, cli) = two_processes();
        cli.claim_name("b1", NameUse::Delete).unwrap();
        cli.sign_off().unwrap();
        server.claim_name("b1", NameUse::Read).unwrap();
        // a process that never beats (killed before its first heartbeat) holds nothing either
        let silent = Db::open(&dir.path().join("jobs.sqlite")).unwrap();
        silent.claim_name("b2", NameUse::Create).unwrap();
        server.claim_name("b2", NameUse::Create).unwrap();
    }

    #[test]
    fn a_claim_that_lapsed_while_its_process_was_stopped_no_longer_holds() {
        let (_dir, stopped, other) = two_processes();
        let first = stopped.claim_name("b1", NameUse::Create).unwrap();
        assert!(stopped.still_holds(&first).unwrap());
        // the first process is stopped (SIGSTOP, a paused VM) past the lease: no heartbeat
        let long_ago = chrono::Utc::now().timestamp_millis() - 2 * STALE_AFTER.as_millis() as i64;
        stopped
            .lock()
            .unwrap()
            .execute(
                "UPDATE servers SET heartbeat_ms = ?1 WHERE owner = ?2",
                crate::db::sql::params![long_ago, stopped.owner()],
            )
            .unwrap();
        // another process takes the name over (a resume)...
        let second = other.claim_name("b1", NameUse::Create).unwrap();
        // ...and the first, running again, finds its claim gone before it writes anything
        assert!(!stopped.still_holds(&first).unwrap());
        assert!(other.still_holds(&second).unwrap());
    }

    #[test]
    fn the_rule_is_symmetric_where_it_should_be() {
        use NameUse::*;
        for (a, b) in [
            (Create, Delete),
            (Read, Delete),
            (Delete, Delete),
            (Create, Create),
        ] {
            assert!(
                conflict("n", a, b).is_some() && conflict("n", b, a).is_some(),
                "{a:?} {b:?}"
            );
        }
        assert!(conflict("n", Read, Read).is_none());
    }
}

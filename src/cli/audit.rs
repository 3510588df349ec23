//! Audit log entries for CLI commands. The CLI reaches Milvus and storage directly with their
//! credentials, so nothing can refuse it, but what it changes is recorded in the database that
//! `milvault serve` shows on its Audit page (`--job-db`), as done by the operating-system user
//! on this host through `cli`.

use std::fmt::Display;

use crate::{auth::audit::Outcome, job_store::JobStore};

/// Records what one CLI invocation changes.
pub struct CliAudit<'a> {
    /// `None` when the database could not be opened (the command still runs; a warning said so).
    store: Option<&'a JobStore>,
    actor: String,
    source: String,
}

impl<'a> CliAudit<'a> {
    /// Records into `store` (nowhere when `None`).
    pub fn new(store: Option<&'a JobStore>) -> CliAudit<'a> {
        CliAudit {
            store,
            actor: os_user(),
            source: host_name(),
        }
    }

    /// Records a change that was done.
    pub fn ok(&self, action: &str, target: &str, detail: &str) {
        self.entry(action, target, Outcome::Ok, detail);
    }

    /// Records how a change ended: `ok` describes a success, a failure records its error.
    pub fn outcome<T, E: Display>(
        &self,
        action: &str,
        target: &str,
        r: &Result<T, E>,
        ok: impl FnOnce(&T) -> String,
    ) {
        match r {
            Ok(v) => self.entry(action, target, Outcome::Ok, &ok(v)),
            Err(e) => self.entry(action, target, Outcome::Failed, &e.to_string()),
        }
    }

    fn entry(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        if let Some(store) = self.store {
            store.audit(
                &self.actor,
                "cli",
                action,
                target,
                &self.source,
                outcome,
                detail,
            );
        }
    }
}

/// The operating-system user running the command.
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// This host's name (the entry's "from where").
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cli".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::audit::AuditFilter;

    #[test]
    fn records_successes_and_failures_as_the_os_user_through_cli() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jobs.sqlite");
        let store = JobStore::open(&path).expect("store");
        let audit = CliAudit::new(Some(&store));
        audit.outcome::<usize, String>("backup.delete", "b1", &Ok(7), |n| format!("{n} files"));
        audit.outcome::<usize, String>(
            "backup.delete",
            "b2",
            &Err("no such backup".into()),
            |_| String::new(),
        );
        let reader = JobStore::open(&path).expect("second store");
        let entries = reader
            .audit_entries(&AuditFilter::default())
            .expect("entries");
        assert_eq!(entries.len(), 2);
        let (newest, oldest) = (&entries[0], &entries[1]);
        assert_eq!(
            (
                oldest.target.as_str(),
                oldest.outcome,
                oldest.detail.as_str()
            ),
            ("b1", Outcome::Ok, "7 files")
        );
        assert_eq!(
            (
                newest.target.as_str(),
                newest.outcome,
                newest.detail.as_str()
            ),
            ("b2", Outcome::Failed, "no such backup")
        );
        assert_eq!(newest.via, "cli");
        assert_eq!(newest.actor, os_user());
        assert!(!newest.source.is_empty());
    }
}

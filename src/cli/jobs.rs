//! The CLI's door to the engine: a [`Gate`] for whoever runs the command (the local admin, as
//! the operating-system user on this host, through `cli`) over a registry of the `--job-db`
//! database. Its backups, restores, verifications, deletions and policy changes go through it
//! like every front end's: the names they use are claimed across the processes sharing the
//! database, their jobs are listed by `milvault serve` beside its own, and what they change is
//! in the audit log its Audit page shows.

use std::sync::Arc;

use crate::{
    auth::{Caller, Gate, Principal},
    jobs::registry::JobRegistry,
    Milvault,
};

use super::JobDbArg;

/// The gate of one CLI command.
#[derive(Clone)]
pub struct CliJobs {
    gate: Gate,
    /// Kept to sign this process off at the end; every operation goes through `gate`.
    registry: Arc<JobRegistry>,
}

impl CliJobs {
    /// Opens the database; a command does not run without it (its name claims keep two
    /// processes from writing, or deleting, one backup at once).
    pub fn open(db: &JobDbArg, svc: &Arc<Milvault>) -> anyhow::Result<CliJobs> {
        Ok(CliJobs::over(JobRegistry::new(
            svc.clone(),
            db.open(svc.config())?,
        )))
    }

    /// The CLI's gate over `registry`.
    pub fn over(registry: Arc<JobRegistry>) -> CliJobs {
        CliJobs {
            gate: Gate::new(&registry, cli_caller()),
            registry,
        }
    }

    /// The door.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// How long a command waits, before it exits, for the notifications its jobs started.
    const NOTIFICATIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

    /// Ends the command's use of the database: waits for its jobs' notifications to be
    /// delivered (or given up, at most a minute: a cron-run `milvault drill` that fails must
    /// still be told), then signs off.
    pub async fn finish(&self) {
        if !self.registry.settled(Self::NOTIFICATIONS_WAIT).await {
            tracing::warn!(
                "some notifications were still being sent after {:?}; the deliveries log (`/api/v2/notifications`) shows which",
                Self::NOTIFICATIONS_WAIT
            );
        }
        self.sign_off();
    }

    /// Signs this process off: its name claims end and its jobs count as ended.
    pub fn sign_off(&self) {
        if let Err(e) = self.registry.sign_off() {
            tracing::warn!("job database: {e}");
        }
    }
}

/// The CLI acting for whoever runs it: the local admin, recorded as the operating-system user,
/// from this host, through `cli`.
pub fn cli_caller() -> Caller {
    Caller {
        who: Principal {
            user: os_user(),
            ..Principal::local("cli")
        },
        source: host_name(),
    }
}

/// The operating-system user running the command.
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// This host's name (the audit entries' "from where").
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
    use crate::auth::audit::{AuditFilter, Outcome};
    use crate::db::Db;

    #[test]
    fn the_cli_audits_through_the_gate_as_the_os_user_through_cli() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jobs.sqlite");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let config = crate::config::Config::load(None, &[], &[]).expect("config");
            let svc = Arc::new(Milvault::new(config).expect("service"));
            let jobs = CliJobs::over(JobRegistry::new(svc, Db::open(&path).expect("store")));
            jobs.gate()
                .audit("backup.delete", "b1", Outcome::Ok, "7 files");
            jobs.gate()
                .audit("backup.delete", "b2", Outcome::Failed, "no such backup");
        });
        let entries = Db::open(&path)
            .expect("second store")
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
            (newest.target.as_str(), newest.outcome),
            ("b2", Outcome::Failed)
        );
        assert_eq!(newest.via, "cli");
        assert_eq!(newest.actor, os_user());
        assert!(!newest.source.is_empty());
    }
}

//! The CLI's backups, restores and verifications in the job history of the `--job-db` database,
//! so that `milvault serve` sharing it lists them (with their progress) beside its own jobs.

use std::sync::Arc;

use crate::{
    commands::verify::VerifyReport,
    error::Result,
    job::{JobHandle, Progress},
    name_lease::NameUse,
    registry::{JobRegistry, NameClaim},
    Milvault,
};

use super::{audit::CliAudit, JobDbArg};

/// Records the jobs of one CLI command (and, through [`CliJobs::audit`], its audit entries);
/// does nothing when the database cannot be opened.
#[derive(Clone)]
pub struct CliJobs(Option<Arc<JobRegistry>>);

impl CliJobs {
    /// Opens the database (a warning says so when it cannot be, and the command goes on).
    pub fn open(db: &JobDbArg, svc: &Arc<Milvault>) -> CliJobs {
        CliJobs(
            db.open_or_warn()
                .map(|store| JobRegistry::new(svc.clone(), store)),
        )
    }

    /// The audit log of the same database.
    pub fn audit(&self) -> CliAudit<'_> {
        CliAudit::new(self.0.as_deref().map(JobRegistry::store))
    }

    /// Starts recording the job `handle` follows; returns its id.
    pub fn record(&self, handle: &JobHandle) -> Option<String> {
        self.0.as_ref().map(|r| r.record(handle.clone()).id)
    }

    /// Claims a backup name for `use_` as the servers sharing the database do, so that none of
    /// them deletes a backup this command reads (or the other way round); `None` without a
    /// database.
    pub fn claim(&self, name: &str, use_: NameUse) -> Result<Option<NameClaim>> {
        self.0
            .as_ref()
            .map(|r| r.claim_name(name, use_))
            .transpose()
    }

    /// Verifies a backup (claiming it for reading); with the database, its verification state
    /// is recorded too (the portal's Verified column).
    pub async fn verify(
        &self,
        svc: &Milvault,
        name: &str,
        progress: &Progress,
    ) -> Result<VerifyReport> {
        match &self.0 {
            Some(reg) => {
                let claim = reg.claim_name(name, NameUse::Read);
                let _claim = match claim {
                    Ok(c) => c,
                    Err(e) => {
                        progress.finish::<(), _>(&Err(&e));
                        return Err(e);
                    }
                };
                reg.verify_recorded(name, progress).await
            }
            None => svc.verify(name, progress).await,
        }
    }

    /// Deletes a backup unless a process sharing the database makes or reads it now.
    pub async fn delete(&self, svc: &Milvault, name: &str) -> Result<usize> {
        match &self.0 {
            Some(reg) => reg.delete_backup(name).await,
            None => svc.delete_backup(name).await,
        }
    }

    /// Waits until the job's last state is saved, then signs this process off.
    pub async fn finish(&self, id: Option<String>) {
        let (Some(reg), Some(id)) = (&self.0, id) else {
            return;
        };
        if let Err(e) = reg.wait_ended(&id).await {
            eprintln!("warning: the job's end was not recorded: {e}");
        }
        self.sign_off();
    }

    /// Signs this process off: its name claims end and its jobs count as ended.
    pub fn sign_off(&self) {
        if let Some(reg) = &self.0 {
            if let Err(e) = reg.store().sign_off() {
                tracing::warn!("job database: {e}");
            }
        }
    }
}

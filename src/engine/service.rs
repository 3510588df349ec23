//! The engine's front door: one [`Milvault`] per configuration, used by the CLI, the servers and
//! the portal alike. It knows nothing of HTTP or HTML.

use std::sync::{Arc, OnceLock};

use tokio::sync::OnceCell;

use crate::{
    config::Config,
    engine::{names, summary::SummaryCache},
    error::Result,
    milvus::MilvusClient,
    progress::Progress,
    storage::Storage,
};

/// The backup and restore service.
pub struct Milvault {
    config: Config,
    backup_storage: Storage,
    milvus_storage: OnceLock<Storage>,
    milvus: OnceCell<MilvusClient>,
    summaries: SummaryCache,
    /// Backups, restores and verifications running at once in this process (`backup.maxJobs`);
    /// more wait for a slot, in order.
    /// Shared with the services of named storages and targets made from this one.
    job_slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Milvault {
    /// Opens the backup storage (creating a local backup directory if needed). Milvus and its
    /// storage are reached on first use, so that listing backups works without them.
    pub fn new(config: Config) -> Result<Milvault> {
        let backup_storage = Storage::open(&config.backup_storage, true, None)?;
        let job_slots = Arc::new(tokio::sync::Semaphore::new(config.tuning.max_jobs));
        Ok(Milvault {
            job_slots,
            config,
            backup_storage,
            milvus_storage: OnceLock::new(),
            milvus: OnceCell::new(),
            summaries: Default::default(),
        })
    }

    /// The backup summaries already read (see [`SummaryCache`]).
    pub(crate) fn summaries(&self) -> &SummaryCache {
        &self.summaries
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where backups are kept.
    pub fn backup_storage(&self) -> &Storage {
        &self.backup_storage
    }

    /// Where Milvus keeps its binlogs (shares the backup storage's client when it is the same bucket).
    pub fn milvus_storage(&self) -> Result<&Storage> {
        if let Some(s) = self.milvus_storage.get() {
            return Ok(s);
        }
        let s = Storage::open(
            &self.config.milvus_storage,
            false,
            Some(&self.backup_storage),
        )?;
        Ok(self.milvus_storage.get_or_init(|| s))
    }

    /// The Milvus client, connected on first use.
    pub async fn milvus(&self) -> Result<&MilvusClient> {
        let t = &self.config.tuning;
        self.milvus
            .get_or_try_init(|| {
                MilvusClient::connect(&self.config.milvus, t.connect_timeout, t.rpc_timeout)
            })
            .await
    }

    /// Waits for one of the `backup.maxJobs` job slots (until the job is cancelled); the job's
    /// step says so while it waits.
    pub(crate) async fn job_slot(
        &self,
        progress: &Progress,
    ) -> Result<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(slot) = self.job_slots.try_acquire() {
            return Ok(slot);
        }
        progress.step(format!(
            "waiting: {} jobs are running, the most this server runs at once (backup.maxJobs)",
            self.config.tuning.max_jobs
        ));
        tokio::select! {
            slot = self.job_slots.acquire() => slot.map_err(|_| crate::error::Error::Cancelled),
            _ = progress.cancelled() => Err(crate::error::Error::Cancelled),
        }
    }

    /// The service for the Milvus a request names: `None` for the configured one (an empty
    /// name), else one for the named target (`targets.NAME`): the same backups, another Milvus.
    pub fn on_milvus(&self, name: &str) -> Result<Option<Milvault>> {
        if name.is_empty() {
            return Ok(None);
        }
        self.sibling(self.config.for_target(name)?).map(Some)
    }

    /// The service for the backups of the storage `name` (`storages.NAME`): `None` for this
    /// service's own (an empty name or its own), else one on that storage, with the same Milvus.
    pub fn on_storage(&self, name: &str) -> Result<Option<Milvault>> {
        if name.is_empty() || name == self.config.backup_storage_label() {
            return Ok(None);
        }
        self.sibling(self.config.for_storage(name)?).map(Some)
    }

    /// A service on `config` (another storage or Milvus) that shares this one's job slots, so
    /// that `backup.maxJobs` bounds every job of the process.
    fn sibling(&self, config: Config) -> Result<Milvault> {
        let mut svc = Milvault::new(config)?;
        svc.job_slots = self.job_slots.clone();
        Ok(svc)
    }

    /// How backup `name` of this service's storage is known in the job database (name claims,
    /// verifications): the name itself on the configured backup storage, `STORAGE:NAME` on a
    /// named one, so that the same name in two storages is two backups.
    pub fn record_key(&self, name: &str) -> String {
        names::stored_name(self.config.backup_storage_label(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::JobKind;

    #[tokio::test]
    async fn jobs_past_max_jobs_wait_for_a_slot_and_can_be_cancelled_while_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let sets = [
            ("minio.backupStorageType", "local".to_string()),
            ("minio.backupRootPath", dir.path().to_string_lossy().into()),
            ("backup.maxJobs", "1".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let svc = Arc::new(Milvault::new(Config::from_yaml("", &sets).unwrap()).unwrap());
        assert_eq!(svc.config().tuning.max_jobs, 1);
        let (busy, _) = Progress::new(JobKind::Verify, "first");
        let slot = svc.job_slot(&busy).await.unwrap();
        let (waiting, handle) = Progress::new(JobKind::Verify, "second");
        let svc2 = svc.clone();
        let second = tokio::spawn(async move { svc2.verify("missing", &waiting).await });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !second.is_finished(),
            "the second job waits while the first runs"
        );
        assert!(
            handle.snapshot().step.contains("backup.maxJobs"),
            "{:?}",
            handle.snapshot()
        );
        assert!(handle.cancel());
        let r = second.await.unwrap();
        assert!(matches!(r, Err(crate::error::Error::Cancelled)), "{r:?}");
        // with the slot free, a job runs at once (and fails on the missing backup, not waiting)
        drop(slot);
        let r = svc
            .verify("missing", &Progress::detached(JobKind::Verify))
            .await;
        assert!(
            matches!(r, Err(crate::error::Error::BackupNotFound(_))),
            "{r:?}"
        );
    }
}

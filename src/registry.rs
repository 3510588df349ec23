//! The jobs of a long-running server: starts backups and restores in the background, keeps the
//! live ones watchable, and records every job (with its log) in the [`JobStore`] so that the
//! history survives a restart. Used by the portal, REST and gRPC alike.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    commands::{
        create::{self, CreateBackupRequest},
        restore::RestoreRequest,
        verify,
    },
    error::{Error, Result},
    format::layout,
    job::{JobHandle, JobKind, JobSnapshot, JobState, Progress},
    job_store::JobStore,
    policy_store::VerificationRecord,
    service::Milvault,
};

/// How often a running job's row is rewritten at most.
const SAVE_EVERY: Duration = Duration::from_millis(500);

/// Running and past jobs.
pub struct JobRegistry {
    svc: Arc<Milvault>,
    store: JobStore,
    live: Mutex<HashMap<String, JobHandle>>,
    /// Which backups are being made, restored from or deleted now.
    names: Mutex<NameLocks>,
}

/// What is happening to each backup name now. A second backup of one name must not start (its
/// clean-up on failure would remove the first one's files), and a backup must not be deleted
/// while it is being made or restored from (the restore would lose its binlogs half-way).
#[derive(Default)]
struct NameLocks {
    creating: HashSet<String>,
    /// Restores and verifications reading each backup now.
    reading: HashMap<String, usize>,
    deleting: HashSet<String>,
}

impl JobRegistry {
    /// A registry over `svc`, recording into `store`. Inside a Tokio runtime it beats the
    /// store's heartbeat while it lives (so that other processes sharing the database leave its
    /// running jobs alone) and marks failed the jobs of processes that stopped beating.
    pub fn new(svc: Arc<Milvault>, store: JobStore) -> Arc<JobRegistry> {
        if let Err(e) = store.beat() {
            tracing::warn!("job database heartbeat: {e}");
        }
        let reg = Arc::new(JobRegistry {
            svc,
            store,
            live: Mutex::new(HashMap::new()),
            names: Mutex::new(NameLocks::default()),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&reg);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(crate::job_store::HEARTBEAT_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(reg) = weak.upgrade() else { break };
                    let beat = reg
                        .store
                        .beat()
                        .and_then(|()| reg.store.fail_stale_jobs(crate::job_store::STALE_AFTER));
                    if let Err(e) = beat {
                        tracing::warn!("job database heartbeat: {e}");
                    }
                }
            });
        }
        reg
    }

    /// The database of jobs, policies and verifications.
    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// The service the jobs run on.
    pub fn service(&self) -> &Arc<Milvault> {
        &self.svc
    }

    /// Starts a backup; fails at once (without a job) when the name is invalid, taken, or being
    /// used by a backup that is running now.
    pub async fn start_backup(
        self: &Arc<Self>,
        mut req: CreateBackupRequest,
    ) -> Result<JobSnapshot> {
        if req.name.is_empty() {
            req.name = create::default_backup_name();
        }
        layout::validate_backup_name(&req.name)?;
        let name = req.name.clone();
        {
            let mut names = lock(&self.names);
            if names.deleting.contains(&name) {
                return Err(Error::BackupBusy {
                    name,
                    reason: "it is being deleted".into(),
                });
            }
            if !names.creating.insert(name.clone()) {
                return Err(Error::BackupInProgress(name));
            }
        }
        let exists = self
            .svc
            .backup_storage()
            .any_under(&layout::backup_dir(&name))
            .await;
        match exists {
            Ok(false) => {}
            Ok(true) => {
                lock(&self.names).creating.remove(&name);
                return Err(match self.svc.get_backup(&name).await {
                    Ok(_) => Error::BackupExists(name),
                    Err(_) => Error::IncompleteBackupExists(name),
                });
            }
            Err(e) => {
                lock(&self.names).creating.remove(&name);
                return Err(e);
            }
        }
        let (handle, _join) = self.svc.spawn_backup(req);
        let registry = self.clone();
        Ok(self.track(handle, move || {
            lock(&registry.names).creating.remove(&name);
        }))
    }

    /// Starts a restore; the request is checked when the job runs (its errors land in the job).
    /// Fails at once when the backup is being made or deleted now.
    pub fn start_restore(self: &Arc<Self>, req: RestoreRequest) -> Result<JobSnapshot> {
        let name = req.name.clone();
        {
            let mut names = lock(&self.names);
            let busy = if names.deleting.contains(&name) {
                Some("it is being deleted")
            } else if names.creating.contains(&name) {
                Some("it is still being made; wait for its job to finish")
            } else {
                None
            };
            if let Some(reason) = busy {
                return Err(Error::BackupBusy {
                    name,
                    reason: reason.into(),
                });
            }
            *names.reading.entry(name.clone()).or_default() += 1;
        }
        let (handle, _join) = self.svc.spawn_restore(req);
        let registry = self.clone();
        Ok(self.track(handle, move || registry.release_reader(&name)))
    }

    /// Deletes a backup unless it is being made or restored from now; returns the files removed.
    pub async fn delete_backup(&self, name: &str) -> Result<usize> {
        {
            let mut names = lock(&self.names);
            let busy = if names.creating.contains(name) {
                Some("it is being made now; wait for its job to finish")
            } else if names.reading.contains_key(name) {
                Some("a restore or verification from it is running; wait for it to finish")
            } else if names.deleting.contains(name) {
                Some("it is being deleted already")
            } else {
                None
            };
            if let Some(reason) = busy {
                return Err(Error::BackupBusy {
                    name: name.to_string(),
                    reason: reason.into(),
                });
            }
            names.deleting.insert(name.to_string());
        }
        let r = self.svc.delete_backup(name).await;
        lock(&self.names).deleting.remove(name);
        if r.is_ok() {
            if let Err(e) = self.store.forget_verification(name) {
                tracing::warn!(backup = name, "could not forget its verification: {e}");
            }
        }
        r
    }

    /// Starts verifying a backup against its manifest; the outcome becomes the backup's
    /// verification state (`intact`, `damaged`, `unverifiable`).
    pub fn start_verify(self: &Arc<Self>, name: &str) -> Result<JobSnapshot> {
        layout::validate_backup_name(name)?;
        {
            let mut names = lock(&self.names);
            let busy = if names.deleting.contains(name) {
                Some("it is being deleted")
            } else if names.creating.contains(name) {
                Some("it is still being made; wait for its job to finish")
            } else {
                None
            };
            if let Some(reason) = busy {
                return Err(Error::BackupBusy {
                    name: name.to_string(),
                    reason: reason.into(),
                });
            }
            *names.reading.entry(name.to_string()).or_default() += 1;
        }
        let (progress, handle) = Progress::new(JobKind::Verify, name);
        let registry = self.clone();
        let backup = name.to_string();
        tokio::spawn(async move {
            let _ = registry.verify_recorded(&backup, &progress).await;
        });
        let registry = self.clone();
        let backup = name.to_string();
        Ok(self.track(handle, move || registry.release_reader(&backup)))
    }

    /// Verifies a backup, records the outcome as its verification state (the Backups page's
    /// Verified column) and finishes `progress`: failed when the backup is damaged.
    pub async fn verify_recorded(
        &self,
        name: &str,
        progress: &Progress,
    ) -> Result<verify::VerifyReport> {
        let r = verify::verify_backup(&self.svc, name, progress).await;
        let record = |state: &str, files, bytes, problems| VerificationRecord {
            at: chrono::Utc::now(),
            state: state.into(),
            files,
            bytes,
            problems,
        };
        let v = match &r {
            Ok(rep) => Some(record(
                if rep.ok() { "intact" } else { "damaged" },
                rep.files_checked,
                rep.bytes_checked,
                rep.problems.clone(),
            )),
            Err(Error::NoManifest(_)) => Some(record("unverifiable", 0, 0, Vec::new())),
            Err(_) => None,
        };
        if let Some(v) = v {
            if let Err(e) = self.store.save_verification(name, &v) {
                tracing::error!(backup = %name, "could not record the verification: {e}");
            }
        }
        match &r {
            Ok(rep) => progress.finish(&rep.clone().into_result()),
            Err(_) => progress.finish(&r),
        }
        r
    }

    /// Verifies a backup and waits: `Ok(true)` intact, `Ok(false)` damaged.
    pub async fn verify_and_wait(self: &Arc<Self>, name: &str) -> Result<bool> {
        let job = self.start_verify(name)?;
        let end = self.wait_ended(&job.id).await?.unwrap_or(job);
        if end.state == JobState::Succeeded {
            return Ok(true);
        }
        match self.store.verifications()?.get(name) {
            Some(v) if v.state == "damaged" && v.at >= end.started_at => Ok(false),
            _ => Err(Error::Storage {
                location: name.to_string(),
                reason: end.error.unwrap_or_else(|| "verification failed".into()),
            }),
        }
    }

    fn release_reader(&self, name: &str) {
        let mut names = lock(&self.names);
        if let Some(n) = names.reading.get_mut(name) {
            *n -= 1;
            if *n == 0 {
                names.reading.remove(name);
            }
        }
    }

    /// Checks a restore request first (the backup and its collections exist, no target exists
    /// unless `drop_existing`), then starts it; a bad request fails here, without a job.
    pub async fn start_restore_checked(
        self: &Arc<Self>,
        req: RestoreRequest,
    ) -> Result<JobSnapshot> {
        let targets = self.svc.restore_preview(&req).await?;
        self.start_restore_previewed(req, &targets)
    }

    /// [`start_restore_checked`](Self::start_restore_checked) for a caller that has the request's
    /// preview already.
    pub fn start_restore_previewed(
        self: &Arc<Self>,
        req: RestoreRequest,
        targets: &[crate::commands::restore::RestoreTarget],
    ) -> Result<JobSnapshot> {
        let existing: Vec<&str> = targets
            .iter()
            .filter(|t| t.exists)
            .map(|t| t.target.as_str())
            .collect();
        if !req.drop_existing && !existing.is_empty() {
            return Err(Error::CollectionExists(existing.join(", ")));
        }
        let mut first = self.start_restore(req)?;
        if first.targets.is_empty() {
            first.targets = targets
                .iter()
                .map(|t| format!("{}=>{}", t.source, t.target))
                .collect();
        }
        Ok(first)
    }

    /// Records a job this process runs itself (the CLI's): its progress is saved like any job's,
    /// so that servers sharing the database list it. [`JobRegistry::wait_ended`] waits for its
    /// last save.
    pub fn record(self: &Arc<Self>, handle: JobHandle) -> JobSnapshot {
        self.track(handle, || {})
    }

    fn track(
        self: &Arc<Self>,
        handle: JobHandle,
        on_end: impl FnOnce() + Send + 'static,
    ) -> JobSnapshot {
        let first = handle.snapshot();
        let id = first.id.clone();
        lock(&self.live).insert(id.clone(), handle.clone());
        self.save(&first);
        let registry = self.clone();
        let mut watcher = handle;
        tokio::spawn(async move {
            let mut last_save = Instant::now();
            while let Some(s) = watcher.changed().await {
                if last_save.elapsed() >= SAVE_EVERY || s.state != JobState::Running {
                    registry.save(&s);
                    last_save = Instant::now();
                }
            }
            let mut last = watcher.snapshot();
            if last.state == JobState::Running {
                // the task ended without finishing its progress: it panicked or was aborted
                last.state = JobState::Failed;
                last.error = Some("the job stopped unexpectedly; see the server log".into());
                last.finished_at = Some(chrono::Utc::now());
            }
            registry.save(&last);
            // release the job's names before it leaves `live`: whoever waited for it with
            // `wait_ended` can use the backup at once
            on_end();
            lock(&registry.live).remove(&id);
        });
        first
    }

    fn save(&self, s: &JobSnapshot) {
        if let Err(e) = self.store.save(s) {
            tracing::error!(job = %s.id, "could not record the job: {e}");
        }
    }

    /// One job, live or past.
    pub fn get(&self, id: &str) -> Result<Option<JobSnapshot>> {
        if let Some(h) = lock(&self.live).get(id) {
            return Ok(Some(h.snapshot()));
        }
        self.store.get(id)
    }

    /// Waits until a job has ended and the registry let go of it (its backup name is free for
    /// the next verify, restore or delete); `None` for an unknown job.
    pub async fn wait_ended(&self, id: &str) -> Result<Option<JobSnapshot>> {
        if let Some(mut h) = self.watch(id) {
            h.wait().await;
            while lock(&self.live).contains_key(id) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.get(id)
    }

    /// A live job's progress stream; `None` when the job is not running here.
    pub fn watch(&self, id: &str) -> Option<JobHandle> {
        lock(&self.live).get(id).cloned()
    }

    /// How many jobs run in this process now.
    pub fn running_count(&self) -> usize {
        lock(&self.live).len()
    }

    /// The newest `limit` jobs, newest first, running ones with their live state.
    pub fn list(&self, limit: usize) -> Result<Vec<JobSnapshot>> {
        self.list_page(0, limit)
    }

    /// How many jobs are recorded.
    pub fn count(&self) -> Result<u64> {
        self.store.count()
    }

    /// A page of jobs, newest first, running ones with their live state.
    pub fn list_page(&self, offset: usize, limit: usize) -> Result<Vec<JobSnapshot>> {
        let live = lock(&self.live);
        Ok(self
            .store
            .list_page(offset, limit)?
            .into_iter()
            .map(|s| live.get(&s.id).map(|h| h.snapshot()).unwrap_or(s))
            .collect())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

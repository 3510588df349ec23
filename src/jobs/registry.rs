//! The jobs of a long-running server: starts backups and restores in the background, keeps the
//! live ones watchable, and records every job (with its log) in the [`Db`] so that the
//! history survives a restart. Used by the portal, REST and gRPC alike.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    db::policies::VerificationRecord,
    db::Db,
    engine::commands::{
        copy::{CopyReport, CopyRequest},
        create::{self, CreateBackupRequest},
        drill::{DrillReport, DrillRequest},
        restore::{RestorePlan, RestoreRequest},
        verify,
    },
    engine::names,
    engine::service::Milvault,
    error::{Error, Result},
    jobs::name_lease::NameUse,
    progress::{Fence, JobHandle, JobKind, JobSnapshot, JobState, Progress},
};

/// How often a job's [`Fence`] asks the database whether its claim still holds, at most.
const FENCE_EVERY: Duration = Duration::from_secs(1);

/// How often a running job's row is rewritten at most.
const SAVE_EVERY: Duration = Duration::from_millis(500);

/// Running and past jobs.
pub struct JobRegistry {
    svc: Arc<Milvault>,
    store: Arc<Db>,
    live: Arc<Mutex<HashMap<String, JobHandle>>>,
    metrics: Arc<crate::jobs::metrics::JobMetrics>,
    notifier: Arc<crate::jobs::notify::Notifier>,
    /// The services of the named storages asked for so far (see [`JobRegistry::in_storage`]),
    /// kept so that each keeps its listing cache.
    storages: Arc<Mutex<HashMap<String, Arc<Milvault>>>>,
}

/// A backup name claimed for a use (see [`crate::jobs::name_lease`]), across every process sharing the
/// job database; the claim ends when this is dropped.
pub struct NameClaim {
    registry: Arc<JobRegistry>,
    name: String,
    holder: String,
}

impl NameClaim {
    /// A [`Fence`] that passes while this claim holds. It asks the database at most once per
    /// [`FENCE_EVERY`] (a job may check before every file); a process that was stopped asks
    /// again at once when it runs on, since more than that has passed.
    pub fn fence(&self) -> Fence {
        let (registry, name, holder) = (
            self.registry.clone(),
            self.name.clone(),
            self.holder.clone(),
        );
        let last_held: Mutex<Option<Instant>> = Mutex::new(None);
        Arc::new(move || {
            let mut last = lock(&last_held);
            if last.is_some_and(|t| t.elapsed() < FENCE_EVERY) {
                return Ok(());
            }
            match registry.store.still_holds(&holder)? {
                true => {
                    *last = Some(Instant::now());
                    Ok(())
                }
                false => Err(Error::ClaimLost(name.clone())),
            }
        })
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        if let Err(e) = self.registry.store.release_name(&self.holder) {
            tracing::warn!("could not release a backup name claim: {e}");
        }
    }
}

impl JobRegistry {
    /// A registry over `svc`, recording into `store`. Inside a Tokio runtime it beats the
    /// store's heartbeat while it lives (so that other processes sharing the database leave its
    /// running jobs alone) and marks failed the jobs of processes that stopped beating.
    pub fn new(svc: Arc<Milvault>, store: Db) -> Arc<JobRegistry> {
        if let Err(e) = store.beat() {
            tracing::warn!("job database heartbeat: {e}");
        }
        let store = Arc::new(store);
        let notifier =
            crate::jobs::notify::Notifier::new(&svc.config().notifications, store.clone());
        let reg = Arc::new(JobRegistry {
            svc,
            store,
            live: Default::default(),
            metrics: Default::default(),
            notifier,
            storages: Default::default(),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&reg);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(crate::db::HEARTBEAT_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(reg) = weak.upgrade() else { break };
                    let beat = reg
                        .store
                        .beat()
                        .and_then(|()| reg.store.fail_stale_jobs(crate::db::STALE_AFTER));
                    if let Err(e) = beat {
                        tracing::warn!("job database heartbeat: {e}");
                    }
                }
            });
        }
        reg
    }

    /// Signs this process off: its name claims end and its running jobs count as ended.
    pub fn sign_off(&self) -> Result<()> {
        self.store.sign_off()
    }

    /// The database of jobs, policies and verifications.
    pub fn store(&self) -> &Db {
        &self.store
    }

    /// The notifications' sender (webhooks and their delivery log).
    pub fn notifier(&self) -> &Arc<crate::jobs::notify::Notifier> {
        &self.notifier
    }

    /// The job counters and histograms of this process (`/metrics`).
    pub fn metrics(&self) -> &crate::jobs::metrics::JobMetrics {
        &self.metrics
    }

    /// The service the jobs run on.
    pub fn service(&self) -> &Arc<Milvault> {
        &self.svc
    }

    /// This registry working on the backups of storage `name` (a name under `storages:`;
    /// empty or this registry's own: itself): the same database, jobs, metrics and
    /// notifications, so a job started there is listed, watched and cancelled like any other,
    /// and its backup's name is claimed as that storage's (`STORAGE:NAME`).
    pub fn in_storage(self: &Arc<Self>, name: &str) -> Result<Arc<JobRegistry>> {
        if name.is_empty() || name == self.svc.config().backup_storage_label() {
            return Ok(self.clone());
        }
        let cached = lock(&self.storages).get(name).cloned();
        let svc = match cached {
            Some(svc) => svc,
            None => match self.svc.on_storage(name)? {
                None => return Ok(self.clone()),
                Some(svc) => lock(&self.storages)
                    .entry(name.to_string())
                    .or_insert_with(|| Arc::new(svc))
                    .clone(),
            },
        };
        Ok(Arc::new(JobRegistry {
            svc,
            store: self.store.clone(),
            live: self.live.clone(),
            metrics: self.metrics.clone(),
            notifier: self.notifier.clone(),
            storages: self.storages.clone(),
        }))
    }

    /// Claims a backup name for `use_` in every process sharing the job database; fails at once
    /// when a claim that excludes it is held (see [`crate::jobs::name_lease::conflict`]).
    pub fn claim_name(self: &Arc<Self>, name: &str, use_: NameUse) -> Result<NameClaim> {
        let holder = self.store.claim_name(&self.svc.record_key(name), use_)?;
        Ok(NameClaim {
            registry: self.clone(),
            name: name.to_string(),
            holder,
        })
    }

    /// [`claim_name`](Self::claim_name) for a backup known in the job database as `key` (see
    /// [`Milvault::record_key`]: a backup of another storage).
    fn claim_key(self: &Arc<Self>, key: String, use_: NameUse) -> Result<NameClaim> {
        let holder = self.store.claim_name(&key, use_)?;
        Ok(NameClaim {
            registry: self.clone(),
            name: key,
            holder,
        })
    }

    /// Starts a backup; fails at once (without a job) when the name is invalid, taken, or being
    /// used by a backup that is running now.
    pub async fn start_backup(
        self: &Arc<Self>,
        mut req: CreateBackupRequest,
    ) -> Result<JobSnapshot> {
        if req.name.is_empty() {
            req.name = names::default_backup_name();
        }
        let claim = self.claim_name(&req.name, NameUse::Create)?;
        create::check_name(self.svc.backup_storage(), &mut req).await?;
        let (handle, _join) = self.svc.spawn_backup(req, Some(claim.fence()));
        Ok(self.track(handle, move || drop(claim)))
    }

    /// Runs a job in this process and waits for it (the CLI's way: it shows the progress and
    /// wants the typed result). `name` stays claimed for `use_` until the job has ended, the job
    /// is recorded like any other (servers sharing the database list it), and `follow` watches
    /// it while it runs.
    pub async fn run_here<T, Fut>(
        self: &Arc<Self>,
        name: &str,
        use_: NameUse,
        start: impl FnOnce(Fence) -> (JobHandle, tokio::task::JoinHandle<Result<T>>),
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let claim = self.claim_name(name, use_)?;
        self.run_claimed(claim, start, follow).await
    }

    /// [`run_here`](Self::run_here) with the name claimed already.
    async fn run_claimed<T, Fut>(
        self: &Arc<Self>,
        claim: NameClaim,
        start: impl FnOnce(Fence) -> (JobHandle, tokio::task::JoinHandle<Result<T>>),
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let name = claim.name.clone();
        let (handle, task) = start(claim.fence());
        let job = self.record(handle.clone());
        follow(handle).await;
        let r = task.await.unwrap_or_else(|e| {
            Err(Error::storage(
                name.to_string(),
                format!("the job stopped unexpectedly: {e}"),
            ))
        });
        if let Err(e) = self.wait_ended(&job.id).await {
            tracing::warn!(job = %job.id, "the job's end was not recorded: {e}");
        }
        r
    }

    /// [`run_here`](Self::run_here) for a verification: the backup is claimed for reading and
    /// the outcome recorded as its verification state.
    pub async fn verify_here<Fut>(
        self: &Arc<Self>,
        name: &str,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<verify::VerifyReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let start = |_fence| {
            let (progress, handle) = Progress::new(JobKind::Verify, name);
            let registry = self.clone();
            let backup = name.to_string();
            let task =
                tokio::spawn(async move { registry.verify_recorded(&backup, &progress).await });
            (handle, task)
        };
        self.run_here(name, NameUse::Read, start, follow).await
    }

    /// A restore drill run here as a restore job (the backup claimed for restoring from), its
    /// report recorded as the backup's last drill.
    pub async fn drill_here<Fut>(
        self: &Arc<Self>,
        req: DrillRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<DrillReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let name = req.name.clone();
        self.run_here(&name, NameUse::Read, |_fence| self.spawn_drill(req), follow)
            .await
    }

    /// Starts a restore drill in the background (the backup claimed for restoring from until it
    /// ends); its report becomes the backup's last drill.
    pub fn start_drill(self: &Arc<Self>, req: DrillRequest) -> Result<JobSnapshot> {
        names::validate_backup_name(&req.name)?;
        let claim = self.claim_name(&req.name, NameUse::Read)?;
        let (handle, _join) = self.spawn_drill(req);
        Ok(self.track(handle, move || drop(claim)))
    }

    /// The drill's task: runs it, ends its job (failed when the drill failed), records the report
    /// and its metrics.
    fn spawn_drill(
        self: &Arc<Self>,
        req: DrillRequest,
    ) -> (JobHandle, tokio::task::JoinHandle<Result<DrillReport>>) {
        let (progress, handle) = Progress::new(JobKind::Drill, &req.name);
        let registry = self.clone();
        let task = tokio::spawn(async move {
            let r = crate::engine::commands::drill::drill(&registry.svc, &req, &progress).await;
            registry.notify_drill(&req.name, &r);
            if let Ok(rep) = &r {
                if let Err(e) = registry
                    .store
                    .save_drill(&registry.svc.record_key(&req.name), rep)
                {
                    tracing::error!(backup = %rep.backup, "could not record the drill: {e}");
                }
                registry.metrics.drill_ended(rep);
            }
            let outcome: std::result::Result<(), String> = match &r {
                Ok(rep) if rep.passed => Ok(()),
                Ok(rep) => Err(format!(
                    "the drill failed: {}",
                    rep.failure.clone().unwrap_or_default()
                )),
                Err(e) => Err(e.to_string()),
            };
            progress.finish(&outcome);
            r
        });
        (handle, task)
    }

    /// Tells the webhooks of a drill that failed or could not run (`drill.failed`).
    fn notify_drill(&self, name: &str, r: &Result<DrillReport>) {
        use crate::jobs::notify::{Event, DRILL_FAILED};
        let detail = match r {
            Ok(rep) if rep.passed => return,
            Ok(rep) => rep.failure.clone().unwrap_or_default(),
            Err(e) => format!("the drill could not run: {e}"),
        };
        let mut ev = Event::new(
            DRILL_FAILED,
            format!("the restore drill of '{name}' failed"),
        );
        ev.backup = Some(name.to_string());
        ev.job_kind = Some("drill".into());
        ev.detail = detail;
        self.notifier.notify(ev, &[]);
    }

    /// Claims what a copy uses: its backup, for reading, and its name in the destination
    /// storage, for making (one writer per backup there).
    fn claim_copy(self: &Arc<Self>, req: &CopyRequest) -> Result<(NameClaim, NameClaim)> {
        names::validate_backup_name(&req.name)?;
        names::validate_backup_name(req.target_name())?;
        let key = names::stored_name(&req.to, req.target_name());
        let write = self.claim_key(key, NameUse::Create)?;
        let read = self.claim_name(&req.name, NameUse::Read)?;
        Ok((read, write))
    }

    /// Starts copying a backup to another storage (see [`crate::engine::commands::copy`]); fails
    /// at once (without a job) when the copy is refused before it starts.
    pub async fn start_copy(self: &Arc<Self>, req: CopyRequest) -> Result<JobSnapshot> {
        let (read, write) = self.claim_copy(&req)?;
        crate::engine::commands::copy::preflight(&self.svc, &req).await?;
        let (handle, _join) = self.spawn_copy(req, write.fence());
        Ok(self.track(handle, move || drop((read, write))))
    }

    /// A copy run here and waited for (the CLI's way), recorded like any other job.
    pub async fn copy_here<Fut>(
        self: &Arc<Self>,
        req: CopyRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<CopyReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let (read, write) = self.claim_copy(&req)?;
        let start = |_fence| self.spawn_copy(req, write.fence());
        let job = self.run_claimed(read, start, follow).await;
        drop(write);
        job
    }

    fn spawn_copy(
        self: &Arc<Self>,
        req: CopyRequest,
        fence: Fence,
    ) -> (JobHandle, tokio::task::JoinHandle<Result<CopyReport>>) {
        let (progress, handle) = Progress::new(JobKind::Copy, &req.name);
        let progress = progress.fenced(Some(fence));
        let svc = self.svc.clone();
        let task = tokio::spawn(async move { svc.copy_backup(&req, &progress).await });
        (handle, task)
    }

    /// Starts a restore; the request is checked when the job runs (its errors land in the job).
    /// Fails at once when the backup is being made or deleted now.
    pub fn start_restore(self: &Arc<Self>, req: RestoreRequest) -> Result<JobSnapshot> {
        let claim = self.claim_name(&req.name, NameUse::Read)?;
        let (handle, _join) = self.svc.spawn_restore(req);
        Ok(self.track(handle, move || drop(claim)))
    }

    /// Deletes a backup unless it is being made or restored from now (by any process sharing
    /// the job database); returns the files removed.
    pub async fn delete_backup(self: &Arc<Self>, name: &str) -> Result<usize> {
        let claim = self.claim_name(name, NameUse::Delete)?;
        let r = self.svc.delete_backup(name).await;
        drop(claim);
        if r.is_ok() {
            if let Err(e) = self.store.forget_verification(&self.svc.record_key(name)) {
                tracing::warn!(backup = name, "could not forget its verification: {e}");
            }
        }
        r
    }

    /// Starts verifying a backup against its manifest; the outcome becomes the backup's
    /// verification state (`intact`, `damaged`, `unverifiable`).
    pub fn start_verify(self: &Arc<Self>, name: &str) -> Result<JobSnapshot> {
        names::validate_backup_name(name)?;
        let claim = self.claim_name(name, NameUse::Read)?;
        let (progress, handle) = Progress::new(JobKind::Verify, name);
        let registry = self.clone();
        let backup = name.to_string();
        tokio::spawn(async move {
            let _ = registry.verify_recorded(&backup, &progress).await;
        });
        Ok(self.track(handle, move || drop(claim)))
    }

    /// Verifies a backup, records the outcome as its verification state (the Backups page's
    /// Verified column) and finishes `progress`: failed when the backup is damaged.
    pub async fn verify_recorded(
        &self,
        name: &str,
        progress: &Progress,
    ) -> Result<verify::VerifyReport> {
        let r = verify::verify_backup(&self.svc, name, progress).await;
        let record = |state: &str, files, bytes, damaged, problems| VerificationRecord {
            at: chrono::Utc::now(),
            state: state.into(),
            files,
            bytes,
            damaged,
            problems,
        };
        let v = match &r {
            Ok(rep) => Some(record(
                if rep.ok() { "intact" } else { "damaged" },
                rep.files_checked,
                rep.bytes_checked,
                rep.damaged,
                // the record is read with every listing: the first ones name the damage
                rep.problems
                    .iter()
                    .take(crate::db::policies::PROBLEMS_RECORDED)
                    .cloned()
                    .collect(),
            )),
            Err(Error::NoManifest(_)) => Some(record("unverifiable", 0, 0, 0, Vec::new())),
            Err(_) => None,
        };
        if let Err(e) = &r {
            if !matches!(e, Error::NoManifest(_)) {
                let mut ev = crate::jobs::notify::Event::new(
                    crate::jobs::notify::JOB_FAILED,
                    format!("verification of '{name}' failed: {e}"),
                );
                ev.backup = Some(name.to_string());
                ev.job_kind = Some("verify".into());
                ev.detail = e.to_string();
                self.notifier.notify(ev, &[]);
            }
        }
        if let Ok(rep) = &r {
            if !rep.ok() {
                let mut e = crate::jobs::notify::Event::new(
                    crate::jobs::notify::VERIFICATION_DAMAGED,
                    format!(
                        "backup '{name}' is damaged: {} of {} files",
                        rep.damaged, rep.files_checked
                    ),
                );
                e.backup = Some(name.to_string());
                e.job_kind = Some("verify".into());
                e.detail =
                    crate::engine::integrity::describe_problems(&rep.problems, rep.damaged, 10);
                self.notifier.notify(e, &[]);
            }
        }
        if let Some(v) = v {
            if let Err(e) = self.store.save_verification(&self.svc.record_key(name), &v) {
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
        match self.store.verifications()?.get(&self.svc.record_key(name)) {
            Some(v) if v.state == "damaged" && v.at >= end.started_at => Ok(false),
            _ => Err(Error::storage(
                name,
                end.error.unwrap_or_else(|| "verification failed".into()),
            )),
        }
    }

    /// The request that resumes the interrupted restore job `job` (see
    /// [`RestoreRequest::resume`]): that job's own request with its record of what it created.
    /// `given` may add `drop_existing`, and names the backup only to check it is the job's. A
    /// job that runs (here, or in a process that may still be alive), completed, or left no
    /// record is refused with the reason.
    pub fn restore_to_resume(&self, job: &str, given: &RestoreRequest) -> Result<RestoreRequest> {
        let refuse = |reason: String| Error::NotResumable {
            job: job.to_string(),
            reason,
        };
        // a process on this machine that was killed is known at once; others after a silence
        self.store.fail_stale_jobs(crate::db::STALE_AFTER)?;
        let Some(j) = self.get(job)? else {
            return Err(Error::InvalidRequest(format!(
                "there is no job {job}; `milvault jobs` or the portal's Jobs page lists them"
            )));
        };
        if j.kind != JobKind::Restore {
            return Err(refuse(
                "it is not a restore (an interrupted backup is resumed with `create --resume NAME`)"
                    .into(),
            ));
        }
        match j.state {
            JobState::Running if self.watch(job).is_some() => {
                return Err(refuse("it is running in this process".into()))
            }
            JobState::Running => {
                return Err(refuse(format!(
                    "it is running in another milvault process, or that process stopped less than {} s ago (then it counts as interrupted once it has been silent that long); cancel it there, or try again then",
                    crate::db::STALE_AFTER.as_secs()
                )))
            }
            JobState::Succeeded => {
                return Err(refuse("it completed; there is nothing to resume".into()))
            }
            JobState::Failed | JobState::Cancelled => {}
        }
        let Some(ledger) = j.restore else {
            return Err(refuse(
                "it has no record of what it created (it was run by an older milvault); restore again, with --drop_exist_collection to replace what it left".into(),
            ));
        };
        let mut req: RestoreRequest = serde_json::from_value(ledger.request.clone())
            .map_err(|e| refuse(format!("its recorded request cannot be read: {e}")))?;
        if !given.name.is_empty() && given.name != req.name {
            return Err(refuse(format!(
                "it restored backup '{}', not '{}'",
                req.name, given.name
            )));
        }
        req.drop_existing |= given.drop_existing;
        req.resume = Some(job.to_string());
        req.resume_ledger = Some(ledger);
        Ok(req)
    }

    /// Checks a restore request first (the backup and its collections exist, no target exists
    /// unless `drop_existing`), then starts it; a bad request fails here, without a job.
    pub async fn start_restore_checked(
        self: &Arc<Self>,
        req: RestoreRequest,
    ) -> Result<JobSnapshot> {
        let plan = self.svc.restore_plan(&req).await?;
        self.start_restore_planned(req, &plan)
    }

    /// [`start_restore_checked`](Self::start_restore_checked) for a caller that has the request's
    /// plan already.
    pub fn start_restore_planned(
        self: &Arc<Self>,
        req: RestoreRequest,
        plan: &RestorePlan,
    ) -> Result<JobSnapshot> {
        plan.refuse_existing(req.drop_existing)?;
        let mut first = self.start_restore(req)?;
        if first.targets.is_empty() {
            first.targets = plan
                .targets()
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
        self.metrics.job_started(&first);
        let registry = self.clone();
        let mut watcher = handle;
        let mut saved_ledger = first.restore.clone();
        tokio::spawn(async move {
            let mut last_save = Instant::now();
            while let Some(s) = watcher.changed().await {
                // what a restore created is saved at once: a resume must know its collections
                if last_save.elapsed() >= SAVE_EVERY
                    || s.state != JobState::Running
                    || s.restore != saved_ledger
                {
                    registry.save(&s);
                    last_save = Instant::now();
                    saved_ledger = s.restore.clone();
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
            registry.metrics.job_ended(&last);
            // a verification and a drill tell of themselves (damage, a failed drill)
            if last.state == JobState::Failed
                && !matches!(last.kind, JobKind::Verify | JobKind::Drill)
            {
                registry.notifier.notify(job_failed(&last), &[]);
            }
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

    /// Asks a running job to stop (see [`JobState::Cancelled`]); answers its state now. Fails
    /// for an unknown job, one that has ended, and one another process runs.
    pub fn cancel(&self, id: &str) -> Result<JobSnapshot> {
        if let Some(h) = self.watch(id) {
            if h.cancel() {
                tracing::info!(job = %id, "cancel requested");
                return Ok(h.snapshot());
            }
        }
        match self.get(id)? {
            None => Err(Error::InvalidRequest(format!("there is no job {id}"))),
            Some(j) if j.state == JobState::Running => Err(Error::InvalidRequest(format!(
                "job {id} runs in another milvault process; cancel it there"
            ))),
            Some(j) => Err(Error::InvalidRequest(format!(
                "job {id} has ended already ({})",
                serde_json::to_value(j.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ))),
        }
    }

    /// A live job's progress stream; `None` when the job is not running here.
    pub fn watch(&self, id: &str) -> Option<JobHandle> {
        lock(&self.live).get(id).cloned()
    }

    /// Waits, at most `within`, until no job runs in this process and every notification its
    /// jobs started has been delivered or given up; false when something is still going. A
    /// command calls it before its process exits, or a failure's webhook would die with it.
    pub async fn settled(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.running_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.notifier.settled(left).await
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

/// The `job.failed` event of a job that ended failed.
fn job_failed(s: &JobSnapshot) -> crate::jobs::notify::Event {
    let kind = format!("{:?}", s.kind).to_lowercase();
    let mut e = crate::jobs::notify::Event::new(
        crate::jobs::notify::JOB_FAILED,
        format!(
            "{kind} of '{}' failed: {}",
            s.backup_name,
            s.error.clone().unwrap_or_default()
        ),
    );
    e.backup = Some(s.backup_name.clone()).filter(|b| !b.is_empty());
    e.job_id = Some(s.id.clone());
    e.job_kind = Some(kind);
    e.detail = s.error.clone().unwrap_or_default();
    e
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

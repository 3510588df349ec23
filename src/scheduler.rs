//! Runs backup policies: on each tick, every enabled policy whose schedule has a slot due (the
//! newest one since its last run: a stretch of downtime runs once, not once per missed slot)
//! claims that slot in the database (so two servers sharing it never run a slot twice), makes
//! the backup, verifies it when asked, then prunes the policy's own backups by its retention.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, DurationRound, Utc};
use tokio::task::JoinHandle;

use crate::{
    auth::audit::Outcome,
    commands::create::CreateBackupRequest,
    error::{Error, Result},
    job::JobState,
    policy::Policy,
    policy_store::{PolicyRecord, PolicyRun, Trigger},
    registry::JobRegistry,
    retention::{self, Candidate},
};

/// Where the scheduler gets the time from (a fixed one in tests).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The policy runner of one server.
pub struct Scheduler {
    registry: Arc<JobRegistry>,
    clock: Arc<dyn Clock>,
}

/// A run that was started, and the task that finishes it (verify, prune, record).
pub struct StartedRun {
    pub run: PolicyRun,
    pub done: JoinHandle<PolicyRun>,
}

impl Scheduler {
    /// A scheduler over `registry` reading time from `clock`.
    pub fn new(registry: Arc<JobRegistry>, clock: Arc<dyn Clock>) -> Arc<Scheduler> {
        Arc::new(Scheduler { registry, clock })
    }

    /// Ticks every `every` until the process ends.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.tick().await {
                    tracing::error!("scheduler: {e}");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// One pass over the policies: starts the runs that are due.
    pub async fn tick(self: &Arc<Self>) -> Result<Vec<StartedRun>> {
        let now = self.clock.now();
        let store = self.registry.store();
        let mut started = Vec::new();
        for rec in store.list_policies()? {
            if !rec.policy.enabled {
                continue;
            }
            let schedule = match rec.policy.validate() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(policy = %rec.policy.name, "policy skipped: {e}");
                    continue;
                }
            };
            // a new (or changed, or resumed) policy starts with the slots after that
            let after = store
                .last_scheduled_slot(&rec.policy.name)?
                .map_or(rec.updated_at, |last| last.max(rec.updated_at));
            let Some(slot) = schedule.due(after, now) else {
                continue;
            };
            if !store.claim_slot(&rec.policy.name, slot, Trigger::Schedule)? {
                continue; // another server took it
            }
            tracing::info!(policy = %rec.policy.name, %slot, "running policy");
            started.push(self.start(&rec, slot, Trigger::Schedule).await);
        }
        Ok(started)
    }

    /// Runs a policy now, whatever its schedule and whether it is paused.
    pub async fn run_now(self: &Arc<Self>, name: &str) -> Result<StartedRun> {
        let store = self.registry.store();
        let rec = store
            .get_policy(name)?
            .ok_or_else(|| Error::PolicyNotFound(name.into()))?;
        rec.policy.validate()?;
        // manual runs take the current second as their slot
        let mut slot = self
            .clock
            .now()
            .duration_trunc(chrono::Duration::seconds(1))
            .unwrap_or_else(|_| self.clock.now());
        while !store.claim_slot(name, slot, Trigger::Manual)? {
            slot += chrono::Duration::seconds(1);
        }
        Ok(self.start(&rec, slot, Trigger::Manual).await)
    }

    async fn start(
        self: &Arc<Self>,
        rec: &PolicyRecord,
        slot: DateTime<Utc>,
        trigger: Trigger,
    ) -> StartedRun {
        let p = rec.policy.clone();
        let tz = crate::policy::parse_tz(&p.time_zone).unwrap_or(chrono_tz::Tz::UTC);
        let mut run = PolicyRun {
            policy: p.name.clone(),
            slot,
            trigger,
            backup: p.backup_name(slot, tz),
            job_id: String::new(),
            state: "running".into(),
            detail: String::new(),
        };
        let started = self
            .registry
            .start_backup(CreateBackupRequest {
                name: run.backup.clone(),
                collections: p.collections.clone(),
                databases: p.databases.clone(),
                meta_only: p.meta_only,
                skip_flush: false,
                policy: Some(p.name.clone()),
            })
            .await;
        let store = self.registry.store();
        let why = format!("policy {} ({:?} run)", p.name, trigger);
        match started {
            Ok(job) => {
                run.job_id = job.id;
                let dbs = crate::auth::gate::create_databases(&CreateBackupRequest {
                    collections: p.collections.clone(),
                    databases: p.databases.clone(),
                    ..Default::default()
                });
                if let Err(e) = store.set_job_databases(&run.job_id, &dbs) {
                    tracing::warn!("could not record the job's databases: {e}");
                }
                self.audit(
                    "backup.create",
                    &run.backup,
                    Outcome::Ok,
                    &format!("{why}: job {}", run.job_id),
                );
            }
            Err(e) => {
                run.state = "failed".into();
                run.detail = format!("the backup did not start: {e}");
                self.audit(
                    "backup.create",
                    &run.backup,
                    Outcome::Failed,
                    &format!("{why}: {e}"),
                );
            }
        }
        self.record(&run);
        let me = self.clone();
        let first = run.clone();
        let done = tokio::spawn(async move {
            if run.state == "running" {
                me.finish(&p, &mut run).await;
                me.record(&run);
            }
            run
        });
        StartedRun { run: first, done }
    }

    /// Waits for the backup, verifies it when asked, prunes.
    async fn finish(&self, p: &Policy, run: &mut PolicyRun) {
        let end = match self.registry.wait_ended(&run.job_id).await {
            Ok(Some(s)) => s,
            _ => {
                run.state = "failed".into();
                run.detail = "the backup job was lost".into();
                return;
            }
        };
        if end.state != JobState::Succeeded {
            run.state = "failed".into();
            run.detail = format!("backup failed: {}", end.error.unwrap_or_default());
            return;
        }
        let mut notes = Vec::new();
        if p.verify_after {
            match self.registry.verify_and_wait(&run.backup).await {
                Ok(true) => notes.push("verified intact".to_string()),
                Ok(false) => {
                    run.state = "failed".into();
                    run.detail = "the new backup failed verification; nothing was pruned".into();
                    return;
                }
                Err(e) => notes.push(format!("not verified: {e}")),
            }
        }
        match self.prune(p).await {
            Ok(pruned) if pruned.is_empty() => notes.push("nothing pruned".into()),
            Ok(pruned) => notes.push(format!("pruned {}", pruned.join(", "))),
            Err(e) => notes.push(format!("pruning failed: {e}")),
        }
        run.state = "succeeded".into();
        run.detail = notes.join("; ");
    }

    /// Deletes the policy's backups its retention does not keep; returns their names.
    pub async fn prune(&self, p: &Policy) -> Result<Vec<String>> {
        if !p.retention.prunes() {
            return Ok(Vec::new());
        }
        let tz = crate::policy::parse_tz(&p.time_zone)?;
        let verifications = self.registry.store().verifications()?;
        let candidates: Vec<Candidate> = self
            .registry
            .service()
            .list_backups()
            .await?
            .into_iter()
            .filter(|b| b.policy.as_deref() == Some(p.name.as_str()))
            .map(|b| Candidate {
                damaged: verifications
                    .get(&b.name)
                    .is_some_and(|v| v.state == "damaged"),
                taken_at: DateTime::from_timestamp_millis(b.backup_timestamp as i64)
                    .unwrap_or_default(),
                name: b.name,
            })
            .collect();
        let mut pruned = Vec::new();
        for d in retention::decide(&candidates, &p.retention, tz, self.clock.now()) {
            if d.keep {
                continue;
            }
            match self.registry.delete_backup(&d.name).await {
                Ok(_) => {
                    tracing::info!(policy = %p.name, backup = %d.name, reasons = ?d.reasons, "pruned");
                    self.audit(
                        "backup.delete",
                        &d.name,
                        Outcome::Ok,
                        &format!("pruned by the retention of policy {}", p.name),
                    );
                    pruned.push(d.name);
                }
                Err(e) => tracing::warn!(policy = %p.name, backup = %d.name, "not pruned: {e}"),
            }
        }
        Ok(pruned)
    }

    /// An audit log entry by the scheduler.
    fn audit(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        self.registry.store().audit(
            "scheduler",
            "scheduler",
            action,
            target,
            "scheduler",
            outcome,
            detail,
        );
    }

    fn record(&self, run: &PolicyRun) {
        if let Err(e) = self.registry.store().update_run(run) {
            tracing::error!(policy = %run.policy, "could not record the run: {e}");
        }
    }
}

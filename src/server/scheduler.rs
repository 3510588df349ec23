//! Runs backup policies: on each tick, every enabled policy whose schedule has a slot due (the
//! newest one since its last run: a stretch of downtime runs once, not once per missed slot)
//! claims that slot in the database (so two servers sharing it never run a slot twice), makes
//! the backup, verifies it when asked, then prunes the policy's own backups by its retention.
//!
//! A slot is a whole cron occurrence (see [`crate::engine::policy::whole_second`]), so however often the
//! scheduler ticks within it, it is one slot, claimed once. A run never fails because its
//! templated name is taken (anyone allowed to back up can make a backup of that name ahead of
//! the slot): it backs up under a random variant of the name instead, and says so in its run
//! record, the log and the audit log.

use crate::jobs::notify::{self, Event};
use std::{sync::Arc, time::Duration};

use chrono::{DateTime, DurationRound, Utc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{
    auth::{Caller, Gate},
    db::policies::{PolicyRecord, PolicyRun, Trigger},
    db::Db,
    engine::commands::{copy::CopyRequest, create::CreateBackupRequest, drill::DrillRequest},
    engine::policy::retention::{self, Candidate, Retention},
    engine::policy::{Policy, PolicyCopy},
    error::{Error, Result},
    jobs::registry::JobRegistry,
    progress::JobState,
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

/// The policy runner of one server. Its backups, verifications and prunings go through a
/// [`Gate`] for the scheduler (authorized and audited like any caller's, each entry naming the
/// policy run); it keeps its own records (slots claimed, runs) in the database.
pub struct Scheduler {
    registry: Arc<JobRegistry>,
    clock: Arc<dyn Clock>,
    /// Skipped policies already told of (policy and why), so a tick every few seconds tells once.
    told_skips: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
}

/// What a prune did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The backups deleted.
    pub deleted: Vec<String>,
    /// The backups that were to go but could not be deleted, each with why.
    pub failed: Vec<String>,
}

/// A run that was started, and the task that finishes it (verify, prune, record).
pub struct StartedRun {
    pub run: PolicyRun,
    pub done: JoinHandle<PolicyRun>,
}

impl Scheduler {
    /// A scheduler over `registry` reading time from `clock`.
    pub fn new(registry: Arc<JobRegistry>, clock: Arc<dyn Clock>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            registry,
            clock,
            told_skips: Default::default(),
        })
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
        let mut started = Vec::new();
        let due = claim_due_noting(self.registry.store(), self.clock.now())?;
        for (rec, why) in due.skipped {
            let key = (rec.policy.name.clone(), why.clone());
            let new = self
                .told_skips
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key);
            if new {
                let mut e = Event::new(
                    notify::POLICY_SKIPPED,
                    format!("policy {} is due but cannot run: {why}", rec.policy.name),
                );
                e.policy = Some(rec.policy.name.clone());
                e.detail = why;
                self.registry.notifier().notify(e, &rec.policy.notify);
            }
        }
        for (rec, slot, missed) in due.claimed {
            tracing::info!(policy = %rec.policy.name, %slot, "running policy");
            if missed > 0 {
                let mut e = Event::new(
                    notify::POLICY_MISSED,
                    format!(
                        "policy {}: {missed} scheduled run(s) before {slot} did not happen (no server was running them); the newest one runs now",
                        rec.policy.name
                    ),
                );
                e.policy = Some(rec.policy.name.clone());
                self.registry.notifier().notify(e, &rec.policy.notify);
            }
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
        // manual runs take the current millisecond as their slot, never a whole second: those
        // are the schedule's, and a manual run must not take the slot a scheduled run needs
        let now = self.clock.now();
        let mut slot = now
            .duration_trunc(chrono::Duration::milliseconds(1))
            .unwrap_or(now);
        loop {
            if slot.timestamp_subsec_millis() == 0 {
                slot += chrono::Duration::milliseconds(1);
            }
            if store.claim_slot(name, slot, Trigger::Manual)? {
                break;
            }
            slot += chrono::Duration::milliseconds(1);
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
        let tz = crate::engine::policy::parse_tz(&p.time_zone).unwrap_or(chrono_tz::Tz::UTC);
        let templated = p.backup_name(slot, tz);
        let mut run = PolicyRun {
            policy: p.name.clone(),
            slot,
            trigger,
            backup: templated.clone(),
            job_id: String::new(),
            state: "running".into(),
            detail: String::new(),
        };
        let why = format!("policy {} ({:?} run)", p.name, trigger);
        let incremental = p.full_every > 1 && !p.meta_only && {
            // full when the policy's succeeded runs so far are a multiple of N (its runs, not
            // the backups listed now, which retention keeps at about the same number); a full
            // one when that cannot be told
            match self.registry.store().succeeded_runs(&p.name) {
                Ok(made) => made % u64::from(p.full_every) != 0,
                Err(e) => {
                    tracing::warn!(policy = %p.name, "runs not counted ({e}): a full backup");
                    false
                }
            }
        };
        // why the run does not use its templated name, when it does not
        let mut note = None;
        let mut tries = 1;
        let started = loop {
            let purpose = match &note {
                Some(n) => format!("{why}; {n}, so the backup is {}", run.backup),
                None => why.clone(),
            };
            let started = self
                .gate(&purpose)
                .start_backup(CreateBackupRequest {
                    name: run.backup.clone(),
                    collections: p.collections.clone(),
                    databases: p.databases.clone(),
                    filter: String::new(),
                    meta_only: p.meta_only,
                    skip_flush: false,
                    policy: Some(p.name.clone()),
                    logical: p.logical,
                    incremental,
                    resume: false,
                    // a policy's backups hold collections only
                    rbac: false,
                })
                .await;
            let taken = match &started {
                Err(e) if tries < NAME_TRIES => name_taken(e),
                _ => None,
            };
            let Some(taken) = taken else { break started };
            let variant = Policy::name_variant(&templated, &random_tag());
            tracing::warn!(
                policy = %p.name,
                name = %run.backup,
                %variant,
                "backup name taken ({taken}): backing up under a variant"
            );
            if note.is_none() {
                note = Some(format!("the name {templated} was taken ({taken})"));
            }
            run.backup = variant;
            tries += 1;
        };
        let note = note.map(|n| format!("{n}, so the backup is {}", run.backup));
        match started {
            Ok(job) => run.job_id = job.id,
            Err(e) => {
                run.state = "failed".into();
                run.detail = format!("the backup did not start: {e}");
            }
        }
        if let Some(n) = &note {
            run.detail = if run.detail.is_empty() {
                n.clone()
            } else {
                format!("{n}; {}", run.detail)
            };
        }
        self.record(&run);
        self.tell_if_failed(&p, &run);
        let me = self.clone();
        let first = run.clone();
        let done = tokio::spawn(async move {
            if run.state == "running" {
                me.finish(&p, &mut run).await;
                if let Some(n) = note {
                    run.detail = format!("{n}; {}", run.detail);
                }
                me.record(&run);
                me.tell_if_failed(&p, &run);
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
            let why = format!("policy {} ({:?} run)", p.name, run.trigger);
            match self.gate(&why).verify_and_wait(&run.backup).await {
                Ok(true) => notes.push("verified intact".to_string()),
                Ok(false) => {
                    run.state = "failed".into();
                    run.detail = "the new backup failed verification; nothing was pruned".into();
                    return;
                }
                Err(e) => {
                    // an unverified backup may be the only good one left: keep the others
                    run.state = "failed".into();
                    run.detail =
                        format!("the new backup could not be verified ({e}); nothing was pruned");
                    return;
                }
            }
        }
        if self.drill_due(p) {
            let why = format!("policy {} ({:?} run)", p.name, run.trigger);
            let req = DrillRequest {
                name: run.backup.clone(),
                ..Default::default()
            };
            match self.gate(&why).run_drill(req, |_| async {}).await {
                Ok(r) if r.passed => notes.push(format!(
                    "drilled: restored in {:.1} s and checked",
                    r.restore_ms as f64 / 1000.0
                )),
                Ok(r) => {
                    run.state = "failed".into();
                    run.detail = format!(
                        "the new backup failed its restore drill ({}); nothing was pruned",
                        r.failure.unwrap_or_default()
                    );
                    return;
                }
                Err(e) => {
                    run.state = "failed".into();
                    run.detail =
                        format!("the new backup could not be drilled ({e}); nothing was pruned");
                    return;
                }
            }
        }
        for c in &p.copy_to {
            let why = format!("policy {} ({:?} run)", p.name, run.trigger);
            let req = CopyRequest {
                name: run.backup.clone(),
                to: c.storage.clone(),
                as_name: None,
            };
            match self.gate(&why).run_copy(req, |_| async {}).await {
                Ok(r) => notes.push(format!(
                    "copied to storage {} ({} files, {})",
                    c.storage, r.files, r.mode
                )),
                Err(e) => {
                    run.state = "failed".into();
                    run.detail = format!(
                        "the new backup could not be copied to storage '{}' ({e}); nothing was pruned",
                        c.storage
                    );
                    return;
                }
            }
        }
        let mut copies_pruned = Vec::new();
        for c in p.copy_to.iter().filter(|c| c.retention.prunes()) {
            match self.prune_copies(p, c).await {
                Ok(pr) => {
                    if !pr.deleted.is_empty() {
                        notes.push(format!(
                            "pruned in storage {}: {}",
                            c.storage,
                            pr.deleted.join(", ")
                        ));
                    }
                    copies_pruned.push(pr);
                }
                Err(e) => {
                    notes.push(format!("pruning in storage {} failed: {e}", c.storage));
                    copies_pruned.push(Pruned {
                        failed: vec![e.to_string()],
                        ..Default::default()
                    });
                }
            }
        }
        let copies_ok = copies_pruned.iter().all(|p| p.failed.is_empty());
        let pruned = self.prune(p).await;
        match &pruned {
            Ok(p) if p.deleted.is_empty() => notes.push("nothing pruned".into()),
            Ok(p) => notes.push(format!("pruned {}", p.deleted.join(", "))),
            Err(e) => notes.push(format!("pruning failed: {e}")),
        }
        if let Ok(p) = &pruned {
            if !p.failed.is_empty() {
                notes.push(format!("could not prune {}", p.failed.join("; ")));
            }
        }
        run.state = match pruned {
            Ok(p) if p.failed.is_empty() && copies_ok => "succeeded".into(),
            _ => "failed".into(),
        };
        run.detail = notes.join("; ");
    }

    /// Whether this run's backup is drilled: every `drill_every`th succeeded run of the policy
    /// (this one counted; its runs, not the backups retention left).
    fn drill_due(&self, p: &Policy) -> bool {
        if p.drill_every == 0 || p.meta_only {
            return false;
        }
        match self.registry.store().succeeded_runs(&p.name) {
            Ok(made) => (made + 1) % u64::from(p.drill_every) == 0,
            Err(e) => {
                tracing::warn!(policy = %p.name, "runs not counted ({e}): this backup is drilled");
                true
            }
        }
    }

    /// Deletes the policy's backups its retention does not keep: those deleted, and those that
    /// could not be (with why).
    pub async fn prune(&self, p: &Policy) -> Result<Pruned> {
        if !p.retention.prunes() {
            return Ok(Pruned::default());
        }
        let gate = self.gate(&format!("pruned by the retention of policy {}", p.name));
        self.prune_in(p, &gate, &p.retention).await
    }

    /// Deletes the policy's copies in storage `c.storage` that `c.retention` does not keep (the
    /// copies' own retention there).
    pub async fn prune_copies(&self, p: &Policy, c: &PolicyCopy) -> Result<Pruned> {
        let gate = self
            .gate(&format!(
                "pruned by the retention of policy {} in storage {}",
                p.name, c.storage
            ))
            .in_storage(&c.storage)?;
        self.prune_in(p, &gate, &c.retention).await
    }

    /// Deletes the policy's backups in the storage `gate` works on that `retention` does not
    /// keep. The policy's own: its metadata names the policy and a run of the policy made it (a
    /// backup someone else made under a name the policy uses is neither); one found damaged
    /// by its last verification is not counted as kept.
    async fn prune_in(&self, p: &Policy, gate: &Gate, retention: &Retention) -> Result<Pruned> {
        let tz = crate::engine::policy::parse_tz(&p.time_zone)?;
        let made = self.registry.store().policy_backups(&p.name)?;
        let candidates: Vec<Candidate> = gate
            .list_backups_verified()
            .await?
            .into_iter()
            .filter(|(b, _)| b.policy.as_deref() == Some(p.name.as_str()) && made.contains(&b.name))
            .map(|(b, verified)| Candidate {
                damaged: verified.is_some_and(|v| v.state == "damaged"),
                taken_at: DateTime::from_timestamp_millis(b.backup_timestamp as i64)
                    .unwrap_or_default(),
                name: b.name,
            })
            .collect();
        let mut pruned = Pruned::default();
        for d in retention::decide(&candidates, retention, tz, self.clock.now()) {
            if d.keep {
                continue;
            }
            match gate.delete_backup(&d.name).await {
                Ok(_) => {
                    tracing::info!(policy = %p.name, storage = gate.storage(), backup = %d.name, reasons = ?d.reasons, "pruned");
                    pruned.deleted.push(d.name);
                }
                Err(e) => {
                    tracing::warn!(policy = %p.name, storage = gate.storage(), backup = %d.name, "not pruned: {e}");
                    pruned.failed.push(format!("{}: {e}", d.name));
                }
            }
        }
        Ok(pruned)
    }

    /// Sends `policy.failed` for a run that ended failed.
    fn tell_if_failed(&self, p: &Policy, run: &PolicyRun) {
        if run.state != "failed" {
            return;
        }
        let mut e = Event::new(
            notify::POLICY_FAILED,
            format!(
                "policy {} ({:?} run of {}) failed: {}",
                p.name, run.trigger, run.slot, run.detail
            ),
        );
        e.policy = Some(p.name.clone());
        e.backup = Some(run.backup.clone());
        e.job_id = Some(run.job_id.clone()).filter(|j| !j.is_empty());
        e.job_kind = Some("backup".into());
        e.detail = run.detail.clone();
        self.registry.notifier().notify(e, &p.notify);
    }

    /// The scheduler's door, for `purpose` (named in every audit entry).
    fn gate(&self, purpose: &str) -> Gate {
        Gate::new(&self.registry, Caller::scheduler()).for_purpose(purpose)
    }

    fn record(&self, run: &PolicyRun) {
        if let Err(e) = self.registry.store().update_run(run) {
            tracing::error!(policy = %run.policy, "could not record the run: {e}");
        }
    }
}

/// Runs policy `name` now, whatever its schedule and whether it is paused, for the caller of
/// `gate` (which authorizes and audits it as `policy.run`).
pub async fn run_policy(gate: &Gate, name: &str) -> Result<StartedRun> {
    gate.run_policy_with(
        name,
        |registry| async move {
            Scheduler::new(registry, Arc::new(SystemClock))
                .run_now(name)
                .await
        },
        |s: &StartedRun| format!("backup {} job {}", s.run.backup, s.run.job_id),
    )
    .await
}

/// How many names a run tries: its templated name, then random variants.
const NAME_TRIES: usize = 4;

/// Claims, for every enabled policy, the slot due at `now` (the newest since the last one
/// claimed, see [`crate::engine::policy::Schedule::due`]) when no one (this server or another sharing
/// the database) has claimed it yet; returns the policies with the slots this call claimed.
pub fn claim_due(store: &Db, now: DateTime<Utc>) -> Result<Vec<(PolicyRecord, DateTime<Utc>)>> {
    Ok(claim_due_noting(store, now)?
        .claimed
        .into_iter()
        .map(|(rec, slot, _)| (rec, slot))
        .collect())
}

/// What [`claim_due_noting`] found.
#[derive(Default)]
pub struct Due {
    /// The policies with the slot this call claimed, and how many slots before it passed unrun.
    pub claimed: Vec<(PolicyRecord, DateTime<Utc>, u32)>,
    /// Enabled policies that cannot run, with why.
    pub skipped: Vec<(PolicyRecord, String)>,
}

/// [`claim_due`], also noting the slots missed and the policies skipped.
pub fn claim_due_noting(store: &Db, now: DateTime<Utc>) -> Result<Due> {
    let mut due = Due::default();
    for rec in store.list_policies()? {
        if !rec.policy.enabled {
            continue;
        }
        let schedule = match rec.policy.validate() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(policy = %rec.policy.name, "policy skipped: {e}");
                due.skipped.push((rec, e.to_string()));
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
        if store.claim_slot(&rec.policy.name, slot, Trigger::Schedule)? {
            // the slots between the last one claimed (or the policy's change) and this one
            // passed while no server ran the scheduler
            let missed = missed_between(&schedule, after, slot);
            due.claimed.push((rec, slot, missed));
        }
    }
    Ok(due)
}

/// How many slots of `schedule` lie strictly between `after` and `slot` (at most 10,000).
fn missed_between(
    schedule: &crate::engine::policy::Schedule,
    after: DateTime<Utc>,
    slot: DateTime<Utc>,
) -> u32 {
    let mut n = 0;
    let mut t = after;
    while let Some(next) = schedule.next_after(t) {
        if next >= slot || n >= 10_000 {
            break;
        }
        n += 1;
        t = next;
    }
    n
}

/// Why a backup could not start under its name because the name is taken; `None` for any
/// other error.
fn name_taken(e: &Error) -> Option<&'static str> {
    match e {
        Error::BackupExists(_) => Some("a backup of that name exists"),
        Error::BackupInProgress(_) => Some("a backup of that name is being made"),
        Error::IncompleteBackupExists(_) => Some("an incomplete backup occupies it"),
        Error::BackupBusy { .. } => Some("a backup of that name is being deleted"),
        _ => None,
    }
}

/// A short random tag for a name variant.
fn random_tag() -> String {
    Uuid::new_v4().simple().to_string()[..8].to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    /// A per-minute policy on two servers sharing one database, whose clocks are read every
    /// ~300 ms at drifting fractions of a second across minute boundaries, then a restart: every
    /// minute is claimed once, right when it comes, and never again.
    #[test]
    fn every_slot_is_claimed_once_however_often_and_whenever_the_clock_ticks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let a = Db::open(&path).unwrap();
        let b = Db::open(&path).unwrap();
        a.insert_policy(&Policy {
            name: "minutely".into(),
            cron: "* * * * *".into(),
            ..Default::default()
        })
        .unwrap();
        // the fake clock starts 1.877 s before a minute an hour ahead (after the policy was added)
        let minute = (Utc::now() + TimeDelta::hours(1))
            .duration_trunc(TimeDelta::minutes(1))
            .unwrap();
        let m = |k: i64| minute + TimeDelta::minutes(k);
        let mut ticks = Vec::new();
        let mut t = minute - TimeDelta::milliseconds(1877);
        while t < m(2) + TimeDelta::seconds(30) {
            ticks.push(t);
            t += TimeDelta::milliseconds(300 + ticks.len() as i64 % 7);
        }
        let mut claims = Vec::new();
        for (i, &t) in ticks.iter().enumerate() {
            let store = if i % 2 == 0 { &a } else { &b };
            for (rec, slot) in claim_due(store, t).unwrap() {
                assert_eq!(rec.policy.name, "minutely");
                claims.push((slot, t));
            }
        }
        let slots: Vec<DateTime<Utc>> = claims.iter().map(|c| c.0).collect();
        // the minute before the clock started (the newest since the policy was added), then each
        assert_eq!(slots, vec![m(-1), m(0), m(1), m(2)]);
        for (slot, at) in &claims[1..] {
            assert!(
                *at >= *slot && *at - *slot < TimeDelta::milliseconds(310),
                "slot {slot} claimed late, at {at}"
            );
        }
        // a restarted server (a fresh connection) ticking over the same stretch claims nothing
        let c = Db::open(&path).unwrap();
        for &t in &ticks {
            assert!(claim_due(&c, t).unwrap().is_empty(), "claimed again at {t}");
        }
        assert_eq!(c.last_scheduled_slot("minutely").unwrap(), Some(m(2)));
    }
}

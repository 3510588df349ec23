//! The job model: a backup, restore or verification running in the background, whose progress
//! anyone can watch. Plain data and a watch channel, below the engine (which reports through a
//! [`Progress`]) and the job database (which stores [`JobSnapshot`]s); the registry that runs
//! jobs is [`crate::jobs`].
//!
//! A [`Progress`] is the writing end (held by the running command); [`JobHandle`] the reading
//! end (a `tokio::sync::watch` of [`JobSnapshot`]s, so a watcher always sees the newest state).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Backup,
    Restore,
    Verify,
    /// A restore drill: a restore into a scratch database, checked and dropped.
    Drill,
    /// A backup copied to another storage.
    Copy,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    /// Stopped on request ([`JobHandle::cancel`]); a backup left nothing, a restore removed
    /// what it created.
    Cancelled,
}

/// One line of a job's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// Everything known about a job at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSnapshot {
    pub id: String,
    pub kind: JobKind,
    /// The backup's name.
    pub backup_name: String,
    pub state: JobState,
    /// What it is doing now, in words.
    pub step: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub segments_done: u64,
    pub segments_total: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    pub log: Vec<LogLine>,
    /// Restores: `source=>target` (`db.name=>db.name`) of each collection, once planned.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Restores: what this restore has created so far (how an interrupted one is resumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreLedger>,
    /// Bytes copied, by how they were copied.
    #[serde(default, skip_serializing_if = "CopiedBytes::is_empty")]
    pub copied: CopiedBytes,
}

/// A job's copied bytes by how they went: copied by the storage itself (server-side, one or
/// across buckets), streamed through milvault, copied file to file on a local disk, or taken
/// from an earlier backup (incremental backups).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiedBytes {
    #[serde(default)]
    pub server_side: u64,
    #[serde(default)]
    pub streamed: u64,
    #[serde(default)]
    pub local: u64,
    #[serde(default)]
    pub from_base: u64,
}

impl CopiedBytes {
    /// Nothing was copied.
    pub fn is_empty(&self) -> bool {
        *self == CopiedBytes::default()
    }

    /// `(mode, bytes)` for each way of copying.
    pub fn by_mode(&self) -> [(&'static str, u64); 4] {
        [
            ("server_side", self.server_side),
            ("streamed", self.streamed),
            ("local", self.local),
            ("from_base", self.from_base),
        ]
    }
}

/// What a restore has created, kept in its job (and so in the job database) as it goes: an
/// interrupted restore is resumed from it, and it lets the resume tell the collections it
/// created from anyone else's (by Milvus' collection id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreLedger {
    /// The request, as the engine reads it back.
    pub request: serde_json::Value,
    /// The interrupted job this one resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<String>,
    /// The folder the binlogs are staged in (the first job's id), reused by a resume.
    #[serde(default)]
    pub staging: String,
    /// The target collections this restore (or the one it resumes) created.
    #[serde(default)]
    pub collections: Vec<CreatedCollection>,
}

/// One target collection a restore created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedCollection {
    /// `db.name` in Milvus.
    pub target: String,
    /// Milvus' id of the collection; `None` while it is being created.
    pub collection_id: Option<i64>,
    pub state: CreatedState,
    /// Aliases taken off the collection this restore replaced, to go on the restored one
    /// (once complete: the aliases it was given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Once complete: the rows that came back.
    #[serde(default)]
    pub rows: i64,
    /// Import requests sent to Milvus for it, with their tasks: a resume waits for them to end
    /// (dropping a collection under a running import upsets Milvus for minutes), keeps the
    /// imports that landed and sends only the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<SentImport>,
}

impl CreatedCollection {
    /// Every import task sent for it.
    pub fn tasks(&self) -> Vec<i64> {
        self.sent
            .iter()
            .flat_map(|s| s.tasks.iter().copied())
            .collect()
    }
}

/// One Import request sent for a target collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentImport {
    /// Which planned import it was (stage, partition, segments).
    pub key: String,
    /// Milvus' task ids for it.
    pub tasks: Vec<i64>,
}

/// How far a restore got with a collection it created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatedState {
    /// CreateCollection was sent; the id is not known yet.
    Creating,
    /// Created, being filled (partitions, rows, indexes, load).
    Filling,
    /// Filled, row counts checked, aliases put back.
    Complete,
}

impl RestoreLedger {
    /// The entry of `target`, if this restore created it.
    pub fn entry(&self, target: &str) -> Option<&CreatedCollection> {
        self.collections.iter().find(|c| c.target == target)
    }

    /// Sets the entry of `target` (adding it when new).
    pub fn set(&mut self, entry: CreatedCollection) {
        match self
            .collections
            .iter_mut()
            .find(|c| c.target == entry.target)
        {
            Some(c) => *c = entry,
            None => self.collections.push(entry),
        }
    }

    /// Records the import tasks sent for `target`'s planned import `key`.
    pub fn add_imports(&mut self, target: &str, key: &str, tasks: &[i64]) {
        if let Some(c) = self.collections.iter_mut().find(|c| c.target == target) {
            c.sent.push(SentImport {
                key: key.to_string(),
                tasks: tasks.to_vec(),
            });
        }
    }

    /// Forgets `target` (it was dropped again).
    pub fn forget(&mut self, target: &str) {
        self.collections.retain(|c| c.target != target);
    }
}

impl JobSnapshot {
    /// Percent done, 0 to 100 (segments for restores, bytes for backups; 100 only when done).
    pub fn percent(&self) -> u32 {
        if self.state == JobState::Succeeded {
            return 100;
        }
        let (done, total) = if self.kind == JobKind::Restore && self.segments_total > 0 {
            (self.segments_done, self.segments_total)
        } else {
            (self.bytes_done, self.bytes_total)
        };
        (done.min(total) * 100)
            .checked_div(total)
            .map_or(0, |p| (p as u32).min(99))
    }

    /// Bytes per second so far.
    pub fn rate(&self) -> f64 {
        let end = self.finished_at.unwrap_or_else(Utc::now);
        let secs = (end - self.started_at).num_milliseconds() as f64 / 1000.0;
        if secs <= 0.0 {
            0.0
        } else {
            self.bytes_done as f64 / secs
        }
    }
}

const MAX_LOG_LINES: usize = 500;

/// Says whether a job still holds its claim on the backup it writes: checked right before the
/// steps that only the one writer of a backup may take (writing its metadata, removing its
/// files), so that a process whose claim lapsed (it was stopped for longer than the lease, and
/// another took the name) leaves the backup to the other.
pub type Fence = Arc<dyn Fn() -> crate::error::Result<()> + Send + Sync>;

/// The writing end of a job's progress. Cheap to clone; every clone updates the same job.
#[derive(Clone)]
pub struct Progress {
    tx: Arc<watch::Sender<JobSnapshot>>,
    cancel: Arc<watch::Sender<bool>>,
    fence: Option<Fence>,
}

/// The reading end of a job's progress (and the way to cancel it).
#[derive(Clone)]
pub struct JobHandle {
    rx: watch::Receiver<JobSnapshot>,
    cancel: Arc<watch::Sender<bool>>,
}

impl Progress {
    /// Starts tracking a new job.
    pub fn new(kind: JobKind, backup_name: &str) -> (Progress, JobHandle) {
        let snapshot = JobSnapshot {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            backup_name: backup_name.to_string(),
            state: JobState::Running,
            step: "starting".into(),
            bytes_done: 0,
            bytes_total: 0,
            segments_done: 0,
            segments_total: 0,
            started_at: Utc::now(),
            finished_at: None,
            error: None,
            log: Vec::new(),
            targets: Vec::new(),
            restore: None,
            copied: CopiedBytes::default(),
        };
        let (tx, rx) = watch::channel(snapshot);
        let cancel = Arc::new(watch::channel(false).0);
        (
            Progress {
                tx: Arc::new(tx),
                cancel: cancel.clone(),
                fence: None,
            },
            JobHandle { rx, cancel },
        )
    }

    /// This progress with `fence` checked by [`Progress::check_fence`].
    pub fn fenced(mut self, fence: Option<Fence>) -> Progress {
        self.fence = fence;
        self
    }

    /// Fails when the job no longer holds its claim on its backup (see [`Fence`]); a job
    /// without a fence (a test's, a library caller's) always passes.
    pub fn check_fence(&self) -> crate::error::Result<()> {
        match &self.fence {
            Some(f) => f(),
            None => Ok(()),
        }
    }

    /// A progress that nobody watches.
    pub fn detached(kind: JobKind) -> Progress {
        Progress::new(kind, "").0
    }

    /// The job's id.
    pub fn id(&self) -> String {
        self.tx.borrow().id.clone()
    }

    /// Says what the job is doing now, and logs it.
    pub fn step(&self, step: impl Into<String>) {
        let step = step.into();
        tracing::info!(job = %self.id(), "{step}");
        self.tx.send_modify(|s| {
            s.step = step.clone();
            push_log(s, step);
        });
    }

    /// Adds a line to the job's log.
    pub fn log(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(job = %self.id(), "{message}");
        self.tx.send_modify(|s| push_log(s, message));
    }

    /// Records where a restore puts each collection (`source=>target`).
    pub fn set_targets(&self, targets: Vec<String>) {
        self.tx.send_modify(|s| s.targets = targets);
    }

    /// Starts a restore's record of what it creates.
    pub fn set_restore_ledger(&self, ledger: RestoreLedger) {
        self.tx.send_modify(|s| s.restore = Some(ledger));
    }

    /// Changes the restore's record (started by [`Progress::set_restore_ledger`]).
    pub fn update_restore_ledger(&self, change: impl FnOnce(&mut RestoreLedger)) {
        self.tx
            .send_modify(|s| change(s.restore.get_or_insert_with(Default::default)));
    }

    /// Adds work to the totals.
    pub fn add_total(&self, bytes: u64, segments: u64) {
        self.tx.send_modify(|s| {
            s.bytes_total += bytes;
            s.segments_total += segments;
        });
    }

    /// Records copied bytes.
    pub fn add_bytes(&self, bytes: u64) {
        self.tx.send_modify(|s| s.bytes_done += bytes);
    }

    /// Records how a copy run's bytes went (added to what earlier runs of the job copied).
    pub fn add_copied(&self, c: CopiedBytes) {
        self.tx.send_modify(|s| {
            s.copied.server_side += c.server_side;
            s.copied.streamed += c.streamed;
            s.copied.local += c.local;
            s.copied.from_base += c.from_base;
        });
    }

    /// Records finished segments.
    pub fn add_segments(&self, segments: u64) {
        self.tx.send_modify(|s| s.segments_done += segments);
    }

    /// Whether someone asked the job to stop.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// `Err(Error::Cancelled)` once someone asked the job to stop: the job's checkpoints.
    pub fn check_cancelled(&self) -> crate::error::Result<()> {
        if self.is_cancelled() {
            Err(crate::error::Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Resolves once someone asked the job to stop.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        // the sender lives as long as `self`: wait_for ends only with a cancel
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Marks the job done, successfully or not (cancelled when it failed after a cancel).
    pub fn finish<T, E: std::fmt::Display>(&self, result: &Result<T, E>) {
        let cancelled = self.is_cancelled();
        self.tx.send_modify(|s| {
            s.finished_at = Some(Utc::now());
            match result {
                Ok(_) => {
                    s.state = JobState::Succeeded;
                    s.step = "done".into();
                }
                Err(_) if cancelled => {
                    s.state = JobState::Cancelled;
                    s.step = "cancelled".into();
                    push_log(s, "cancelled".into());
                }
                Err(e) => {
                    s.state = JobState::Failed;
                    s.error = Some(e.to_string());
                    push_log(s, format!("failed: {e}"));
                }
            }
        });
    }

    /// The current state.
    pub fn snapshot(&self) -> JobSnapshot {
        self.tx.borrow().clone()
    }
}

fn push_log(s: &mut JobSnapshot, message: String) {
    if s.log.len() >= MAX_LOG_LINES {
        s.log.remove(0);
    }
    s.log.push(LogLine {
        at: Utc::now(),
        message,
    });
}

impl JobHandle {
    /// Asks the job to stop; it stops at its next checkpoint and cleans up (see
    /// [`JobState::Cancelled`]). `false` when it has ended already.
    pub fn cancel(&self) -> bool {
        if self.rx.borrow().state != JobState::Running {
            return false;
        }
        self.cancel.send_replace(true);
        true
    }

    /// The current state.
    pub fn snapshot(&self) -> JobSnapshot {
        self.rx.borrow().clone()
    }

    /// Waits for the next change; `None` once the job has ended and nothing more will change.
    pub async fn changed(&mut self) -> Option<JobSnapshot> {
        // Ended and already seen (while the job's sender lives on): nothing more will come. When
        // the sender is gone `has_changed` is an error, and `changed` below still answers an
        // unseen final state before reporting the close.
        if self.rx.borrow().state != JobState::Running && matches!(self.rx.has_changed(), Ok(false))
        {
            return None;
        }
        match self.rx.changed().await {
            Ok(()) => Some(self.rx.borrow_and_update().clone()),
            Err(_) => None,
        }
    }

    /// The current state, marked as seen (the next [`JobHandle::changed`] waits for a newer one).
    pub fn latest(&mut self) -> JobSnapshot {
        self.rx.borrow_and_update().clone()
    }

    /// Waits until the job has ended and returns its final state.
    pub async fn wait(&mut self) -> JobSnapshot {
        loop {
            let s = self.rx.borrow_and_update().clone();
            if s.state != JobState::Running {
                return s;
            }
            if self.rx.changed().await.is_err() {
                return self.rx.borrow().clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watchers_see_progress_and_the_end() {
        let (p, mut h) = Progress::new(JobKind::Backup, "b1");
        let mut watcher = h.clone();
        p.add_total(100, 2);
        p.add_bytes(40);
        p.add_segments(1);
        let s = h.snapshot();
        assert_eq!(
            (
                s.bytes_done,
                s.bytes_total,
                s.segments_done,
                s.segments_total
            ),
            (40, 100, 1, 2)
        );
        let r: Result<(), String> = Err("disk full".into());
        p.finish(&r);
        let end = h.wait().await;
        assert_eq!(end.state, JobState::Failed);
        assert_eq!(end.error.as_deref(), Some("disk full"));
        assert!(end.log.last().unwrap().message.contains("disk full"));
        // a watcher that was behind still gets the final snapshot, then None
        let last = watcher.changed().await.unwrap();
        assert_eq!(last.state, JobState::Failed);
        assert!(watcher.changed().await.is_none());
    }

    #[tokio::test]
    async fn a_watcher_gets_the_final_state_after_the_job_is_gone() {
        let (p, h) = Progress::new(JobKind::Restore, "b1");
        let mut watcher = h.clone();
        assert_eq!(watcher.latest().state, JobState::Running);
        p.step("importing");
        p.finish::<(), String>(&Ok(()));
        drop(p); // the job's task ended: the sender is gone
        let last = watcher.changed().await.expect("the final state");
        assert_eq!(last.state, JobState::Succeeded);
        assert!(watcher.changed().await.is_none());
    }
}

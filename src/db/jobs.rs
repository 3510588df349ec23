//! Job rows: one per job, rewritten as the job progresses, stamped with the process that runs it.

use std::time::Duration;

use crate::db::sql::params;

use super::Db;
use crate::{
    error::{Error, Result},
    progress::{JobSnapshot, JobState},
};

impl Db {
    /// Marks failed the running jobs of other processes that have not beaten their heartbeat for
    /// `stale` (or never did): nothing runs them any more. Returns how many were marked.
    pub fn fail_stale_jobs(&self, stale: Duration) -> Result<usize> {
        self.forget_ended_processes()?;
        let cutoff = chrono::Utc::now().timestamp_millis()
            - i64::try_from(stale.as_millis()).unwrap_or(i64::MAX);
        let orphans: Vec<String> = {
            self.lock()?.query_map(
                "SELECT j.snapshot FROM jobs j LEFT JOIN servers s ON s.owner = j.owner
                 WHERE j.state = 'running' AND j.owner != ?1
                   AND (s.heartbeat_ms IS NULL OR s.heartbeat_ms < ?2)",
                params![self.owner, cutoff],
                |r| r.get::<String>(0),
            )?
        };
        let mut marked = 0;
        for json in orphans {
            let Ok(mut s) = serde_json::from_str::<JobSnapshot>(&json) else {
                continue;
            };
            let now = chrono::Utc::now();
            let msg = "interrupted: the server running the job stopped; run it again".to_string();
            s.state = JobState::Failed;
            s.finished_at = Some(now);
            s.log.push(crate::progress::LogLine {
                at: now,
                message: msg.clone(),
            });
            s.error = Some(msg.clone());
            // keep the dead owner's stamp: save() would claim the job for this process
            self.write(&s, None)?;
            self.lock()?.execute(
                "UPDATE policy_runs SET state = 'failed', detail = ?2
                     WHERE job_id = ?1 AND state = 'running'",
                params![s.id, msg],
            )?;
            marked += 1;
        }
        if marked > 0 {
            tracing::warn!("marked {marked} interrupted job(s) failed");
        }
        Ok(marked)
    }

    /// Inserts or replaces a job's row, as a job this process runs.
    pub fn save(&self, s: &JobSnapshot) -> Result<()> {
        self.write(s, Some(&self.owner))
    }

    fn write(&self, s: &JobSnapshot, owner: Option<&str>) -> Result<()> {
        let json = serde_json::to_string(s).map_err(|e| Error::Database(e.to_string()))?;
        let state = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO jobs (id, started_ms, state, snapshot, owner)
             VALUES (?1, ?2, ?3, ?4, COALESCE(?5, ''))
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, snapshot = excluded.snapshot,
               owner = COALESCE(?5, jobs.owner)",
            params![s.id, s.started_at.timestamp_millis(), state, json, owner],
        )?;
        Ok(())
    }

    /// One job.
    pub fn get(&self, id: &str) -> Result<Option<JobSnapshot>> {
        let mut conn = self.lock()?;
        let json: Option<String> =
            conn.query_opt("SELECT snapshot FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The newest `limit` jobs, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<JobSnapshot>> {
        self.list_page(0, limit)
    }

    /// `limit` jobs after skipping the newest `offset`, newest first.
    pub fn list_page(&self, offset: usize, limit: usize) -> Result<Vec<JobSnapshot>> {
        let mut conn = self.lock()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = conn.query_map(
            "SELECT snapshot FROM jobs ORDER BY started_ms DESC, id LIMIT ?1 OFFSET ?2",
            [limit, offset],
            |r| r.get::<String>(0),
        )?;
        let mut out = Vec::new();
        for json in rows {
            match serde_json::from_str(&json) {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!("skipping unreadable job row: {e}"),
            }
        }
        Ok(out)
    }
}

impl Db {
    /// Records the databases a job touches (who may see it).
    pub fn set_job_databases(&self, id: &str, dbs: &[String]) -> Result<()> {
        let json = serde_json::to_string(dbs).unwrap_or_else(|_| "[]".into());
        self.lock()?.execute(
            "UPDATE jobs SET databases = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        Ok(())
    }

    /// The databases a job touches (empty: not recorded).
    pub fn job_databases(&self, id: &str) -> Result<Vec<String>> {
        let json: Option<String> =
            self.lock()?
                .query_opt("SELECT databases FROM jobs WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// The databases of every job that recorded them, by job id.
    pub fn all_job_databases(&self) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let mut conn = self.lock()?;
        let rows = conn.query_map(
            "SELECT id, databases FROM jobs WHERE databases != '[]'",
            params![],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        let mut out = std::collections::HashMap::new();
        for (id, json) in rows {
            if let Ok(dbs) = serde_json::from_str(&json) {
                out.insert(id, dbs);
            }
        }
        Ok(out)
    }

    /// How many jobs are recorded.
    pub fn count(&self) -> Result<u64> {
        let mut conn = self.lock()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM jobs", params![], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::STALE_AFTER;
    use crate::jobs::{JobKind, Progress};

    fn finished_and_running(store: &Db) -> (Progress, Progress) {
        let (done, _) = Progress::new(JobKind::Backup, "b1");
        done.add_total(100, 1);
        done.add_bytes(100);
        done.finish::<(), String>(&Ok(()));
        store.save(&done.snapshot()).unwrap();
        let (running, _) = Progress::new(JobKind::Restore, "b1");
        running.step("importing");
        store.save(&running.snapshot()).unwrap();
        (done, running)
    }

    #[test]
    fn jobs_survive_a_reopen_and_running_ones_of_a_silent_process_are_marked_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/jobs.sqlite");
        let store = Db::open(&path).unwrap();
        // this process never beat a heartbeat: nothing vouches for its running job
        let (done, running) = finished_and_running(&store);
        drop(store);

        let store = Db::open(&path).unwrap();
        let jobs = store.list(10).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(store.count().unwrap(), 2);
        let second = store.list_page(1, 10).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].id, jobs[1].id);
        let d = store.get(&done.id()).unwrap().unwrap();
        assert_eq!((d.state, d.bytes_done), (JobState::Succeeded, 100));
        let r = store.get(&running.id()).unwrap().unwrap();
        assert_eq!(r.state, JobState::Failed);
        assert!(r.error.unwrap().contains("interrupted"));
        assert!(store.get("nope").unwrap().is_none());
    }

    #[test]
    fn a_live_process_keeps_its_running_jobs_when_another_opens_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let server = Db::open(&path).unwrap();
        server.beat().unwrap();
        let (_, running) = finished_and_running(&server);

        // e.g. `milvault policy list` or a second server on the same file
        let other = Db::open(&path).unwrap();
        assert_eq!(other.fail_stale_jobs(STALE_AFTER).unwrap(), 0);
        let r = other.get(&running.id()).unwrap().unwrap();
        assert_eq!(r.state, JobState::Running);
        // the job is still the server's: its next save does not fight over ownership
        assert_eq!(server.fail_stale_jobs(Duration::ZERO).unwrap(), 0);

        // the server goes silent: after the stale span the other process marks the job failed
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(other.fail_stale_jobs(Duration::from_millis(1)).unwrap(), 1);
        let r = other.get(&running.id()).unwrap().unwrap();
        assert_eq!(r.state, JobState::Failed);
        assert!(r.error.unwrap().contains("interrupted"));
        assert_eq!(
            other.fail_stale_jobs(Duration::ZERO).unwrap(),
            0,
            "marked once"
        );

        // a clean sign-off leaves nothing to vouch for a job either
        let (_, running2) = finished_and_running(&server);
        server.beat().unwrap();
        server.sign_off().unwrap();
        assert_eq!(other.fail_stale_jobs(STALE_AFTER).unwrap(), 1);
        assert_eq!(
            other.get(&running2.id()).unwrap().unwrap().state,
            JobState::Failed
        );
    }

    #[test]
    fn the_jobs_of_a_killed_process_on_this_machine_are_interrupted_at_once() {
        let Some(ended) = crate::db::process::an_ended_process() else {
            return; // not Linux: only heartbeats count
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let killed = Db::open(&path).unwrap();
        killed.beat().unwrap();
        let (_, running) = finished_and_running(&killed);
        let other = Db::open(&path).unwrap();
        // alive (this test process): its fresh heartbeat vouches for the job
        assert_eq!(other.fail_stale_jobs(STALE_AFTER).unwrap(), 0);
        // as if the process that beat had been killed: no need to wait for the heartbeat to age
        other
            .lock()
            .unwrap()
            .execute(
                "UPDATE servers SET process = ?1 WHERE owner = ?2",
                params![ended, killed.owner()],
            )
            .unwrap();
        assert_eq!(other.fail_stale_jobs(STALE_AFTER).unwrap(), 1);
        let r = other.get(&running.id()).unwrap().unwrap();
        assert_eq!(r.state, JobState::Failed);
    }
}

//! Job history in an embedded SQLite file, so that jobs and their logs survive a restart of the
//! server. One row per job; the row is rewritten as the job progresses.

use std::{path::Path, sync::Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use crate::{
    error::{Error, Result},
    job::{JobSnapshot, JobState},
};

/// The job table.
pub struct JobStore {
    conn: Mutex<Connection>,
}

/// A database error as the engine's error.
pub(crate) fn db_err(e: rusqlite::Error) -> Error {
    Error::Config(format!("job database: {e}"))
}

impl JobStore {
    /// Opens (creating if needed) the database at `path`. Jobs that a previous process left
    /// running are marked failed: nothing runs them any more.
    pub fn open(path: &Path) -> Result<JobStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Config(format!(
                        "cannot create the directory of the job database {}: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        let conn = Connection::open(path).map_err(|e| {
            Error::Config(format!("cannot open job database {}: {e}", path.display()))
        })?;
        Self::init(conn)
    }

    /// A database that lives in memory only (tests, `--no-state`).
    pub fn in_memory() -> Result<JobStore> {
        Self::init(Connection::open_in_memory().map_err(db_err)?)
    }

    fn init(conn: Connection) -> Result<JobStore> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS jobs (
               id TEXT PRIMARY KEY,
               started_ms INTEGER NOT NULL,
               state TEXT NOT NULL,
               snapshot TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS jobs_started ON jobs(started_ms);",
        )
        .map_err(db_err)?;
        conn.execute_batch(crate::policy_store::SCHEMA)
            .map_err(db_err)?;
        let store = JobStore {
            conn: Mutex::new(conn),
        };
        store.fail_orphans()?;
        Ok(store)
    }

    fn fail_orphans(&self) -> Result<()> {
        for mut s in self.list(usize::MAX)? {
            if s.state == JobState::Running {
                s.state = JobState::Failed;
                s.finished_at = Some(chrono::Utc::now());
                let msg =
                    "interrupted: the server stopped while the job ran; run it again".to_string();
                s.log.push(crate::job::LogLine {
                    at: chrono::Utc::now(),
                    message: msg.clone(),
                });
                s.error = Some(msg);
                self.save(&s)?;
            }
        }
        Ok(())
    }

    /// Inserts or replaces a job's row.
    pub fn save(&self, s: &JobSnapshot) -> Result<()> {
        let json = serde_json::to_string(s).map_err(|e| Error::Config(e.to_string()))?;
        let state = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::Config("job database lock poisoned".into()))?;
        conn.execute(
            "INSERT INTO jobs (id, started_ms, state, snapshot) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, snapshot = excluded.snapshot",
            params![s.id, s.started_at.timestamp_millis(), state, json],
        )
        .map_err(db_err)?;
        Ok(())
    }

    /// One job.
    pub fn get(&self, id: &str) -> Result<Option<JobSnapshot>> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::Config("job database lock poisoned".into()))?;
        let json: Option<String> = conn
            .query_row("SELECT snapshot FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The newest `limit` jobs, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<JobSnapshot>> {
        self.list_page(0, limit)
    }

    /// `limit` jobs after skipping the newest `offset`, newest first.
    pub fn list_page(&self, offset: usize, limit: usize) -> Result<Vec<JobSnapshot>> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::Config("job database lock poisoned".into()))?;
        let mut stmt = conn
            .prepare("SELECT snapshot FROM jobs ORDER BY started_ms DESC, id LIMIT ?1 OFFSET ?2")
            .map_err(db_err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map([limit, offset], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(db_err)?;
            match serde_json::from_str(&json) {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!("skipping unreadable job row: {e}"),
            }
        }
        Ok(out)
    }
}

impl JobStore {
    /// The connection, locked.
    pub(crate) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Config("job database lock poisoned".into()))
    }

    /// How many jobs are recorded.
    pub fn count(&self) -> Result<u64> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Error::Config("job database lock poisoned".into()))?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0))
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobKind, Progress};

    #[test]
    fn jobs_survive_a_reopen_and_running_ones_are_marked_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/jobs.sqlite");
        let store = JobStore::open(&path).unwrap();
        let (done, _) = Progress::new(JobKind::Backup, "b1");
        done.add_total(100, 1);
        done.add_bytes(100);
        done.finish::<(), String>(&Ok(()));
        store.save(&done.snapshot()).unwrap();
        let (running, _) = Progress::new(JobKind::Restore, "b1");
        running.step("importing");
        store.save(&running.snapshot()).unwrap();
        drop(store);

        let store = JobStore::open(&path).unwrap();
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
}

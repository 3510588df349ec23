//! Job history in an embedded SQLite file, so that jobs and their logs survive a restart of the
//! server. One row per job; the row is rewritten as the job progresses.
//!
//! Several processes may share one file (two servers, or a server and the CLI). Each open store
//! is an *owner* that stamps the jobs it saves and, while it runs jobs, beats a heartbeat in the
//! `servers` table. A running job whose owner has not beaten for [`STALE_AFTER`] is marked
//! failed ("interrupted"); a job another live process runs is left alone.

use std::{path::Path, sync::Mutex, time::Duration};

use rusqlite::{params, Connection, OptionalExtension};

use crate::{
    error::{Error, Result},
    job::{JobSnapshot, JobState},
};

/// How often a process that runs jobs beats its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// After how long without a heartbeat a process' running jobs count as interrupted.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The job table.
pub struct JobStore {
    conn: Mutex<Connection>,
    /// This process' (this store's) identity in the `owner` column and the `servers` table.
    owner: String,
}

/// A database error as the engine's error.
pub(crate) fn db_err(e: rusqlite::Error) -> Error {
    Error::Config(format!("job database: {e}"))
}

impl JobStore {
    /// Opens (creating if needed) the database at `path`. Jobs that a previous process left
    /// running are marked failed: nothing runs them any more.
    ///
    /// The file holds password hashes and the audit log: it is created readable by its owner
    /// only (0600, in a 0700 directory when milvault creates the directory), and an existing
    /// file that others may read is tightened to 0600 with a warning.
    pub fn open(path: &Path) -> Result<JobStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir).map_err(|e| {
                    Error::Config(format!(
                        "cannot create the directory of the job database {}: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        #[cfg(unix)]
        Self::restrict_file(path)?;
        let conn = Connection::open(path).map_err(|e| {
            Error::Config(format!("cannot open job database {}: {e}", path.display()))
        })?;
        Self::init(conn)
    }

    /// Creates the database file 0600, or makes an existing one (and its `-wal`/`-shm`
    /// companions) 0600 if group or others may use it.
    #[cfg(unix)]
    fn restrict_file(path: &Path) -> Result<()> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let cannot = |e: std::io::Error| {
            Error::Config(format!("cannot open job database {}: {e}", path.display()))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(cannot)?;
        for file in ["", "-wal", "-shm"] {
            let mut f = path.as_os_str().to_owned();
            f.push(file);
            let f = std::path::PathBuf::from(f);
            let Ok(meta) = std::fs::metadata(&f) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} was readable by others (mode {mode:o}): it holds password hashes and the audit log; made it 0600",
                    f.display()
                );
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))
                    .map_err(cannot)?;
            }
        }
        Ok(())
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
             CREATE INDEX IF NOT EXISTS jobs_started ON jobs(started_ms);
             CREATE TABLE IF NOT EXISTS servers (
               owner TEXT PRIMARY KEY,
               heartbeat_ms INTEGER NOT NULL
             );",
        )
        .map_err(db_err)?;
        let has_owner = conn.prepare("SELECT owner FROM jobs LIMIT 0").is_ok();
        if !has_owner {
            // databases written before jobs had owners: those jobs have none (and count as
            // stale) and no databases (only unscoped users see them)
            conn.execute_batch(
                "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
                 ALTER TABLE jobs ADD COLUMN databases TEXT NOT NULL DEFAULT '[]';",
            )
            .map_err(db_err)?;
        }
        for schema in [
            crate::policy_store::SCHEMA,
            crate::auth::store::SCHEMA,
            crate::auth::audit::SCHEMA,
            crate::name_lease::SCHEMA,
        ] {
            conn.execute_batch(schema).map_err(db_err)?;
        }
        crate::auth::store::migrate(&conn).map_err(db_err)?;
        let store = JobStore {
            conn: Mutex::new(conn),
            owner: uuid::Uuid::new_v4().simple().to_string(),
        };
        store.fail_stale_jobs(STALE_AFTER)?;
        Ok(store)
    }

    /// This store's owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Records that this process is alive (and forgets processes silent for a day).
    pub fn beat(&self) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO servers (owner, heartbeat_ms) VALUES (?1, ?2)
             ON CONFLICT(owner) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
            params![self.owner, now],
        )
        .map_err(db_err)?;
        conn.execute(
            "DELETE FROM servers WHERE heartbeat_ms < ?1",
            [now - 86_400_000],
        )
        .map_err(db_err)?;
        Ok(())
    }

    /// Removes this process from the `servers` table: its running jobs count as interrupted at
    /// once (on a clean shutdown, none should be running), and its backup-name claims end.
    pub fn sign_off(&self) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM servers WHERE owner = ?1", [&self.owner])
            .map_err(db_err)?;
        self.release_all_names()
    }

    /// Marks failed the running jobs of other processes that have not beaten their heartbeat for
    /// `stale` (or never did): nothing runs them any more. Returns how many were marked.
    pub fn fail_stale_jobs(&self, stale: Duration) -> Result<usize> {
        let cutoff = chrono::Utc::now().timestamp_millis()
            - i64::try_from(stale.as_millis()).unwrap_or(i64::MAX);
        let orphans: Vec<String> = {
            let conn = self.lock()?;
            let mut stmt = conn
                .prepare(
                    "SELECT j.snapshot FROM jobs j LEFT JOIN servers s ON s.owner = j.owner
                     WHERE j.state = 'running' AND j.owner != ?1
                       AND (s.heartbeat_ms IS NULL OR s.heartbeat_ms < ?2)",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![self.owner, cutoff], |r| r.get::<_, String>(0))
                .map_err(db_err)?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(db_err)?
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
            s.log.push(crate::job::LogLine {
                at: now,
                message: msg.clone(),
            });
            s.error = Some(msg.clone());
            // keep the dead owner's stamp: save() would claim the job for this process
            self.write(&s, None)?;
            self.lock()?
                .execute(
                    "UPDATE policy_runs SET state = 'failed', detail = ?2
                     WHERE job_id = ?1 AND state = 'running'",
                    params![s.id, msg],
                )
                .map_err(db_err)?;
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
            "INSERT INTO jobs (id, started_ms, state, snapshot, owner)
             VALUES (?1, ?2, ?3, ?4, COALESCE(?5, ''))
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, snapshot = excluded.snapshot,
               owner = COALESCE(?5, jobs.owner)",
            params![s.id, s.started_at.timestamp_millis(), state, json, owner],
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

    /// Records the databases a job touches (who may see it).
    pub fn set_job_databases(&self, id: &str, dbs: &[String]) -> Result<()> {
        let json = serde_json::to_string(dbs).unwrap_or_else(|_| "[]".into());
        self.lock()?
            .execute(
                "UPDATE jobs SET databases = ?2 WHERE id = ?1",
                params![id, json],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// The databases a job touches (empty: not recorded).
    pub fn job_databases(&self, id: &str) -> Result<Vec<String>> {
        let json: Option<String> = self
            .lock()?
            .query_row("SELECT databases FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// The databases of every job that recorded them, by job id.
    pub fn all_job_databases(&self) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare("SELECT id, databases FROM jobs WHERE databases != '[]'")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(db_err)?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (id, json) = row.map_err(db_err)?;
            if let Ok(dbs) = serde_json::from_str(&json) {
                out.insert(id, dbs);
            }
        }
        Ok(out)
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

    fn finished_and_running(store: &JobStore) -> (Progress, Progress) {
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
        let store = JobStore::open(&path).unwrap();
        // this process never beat a heartbeat: nothing vouches for its running job
        let (done, running) = finished_and_running(&store);
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

    #[test]
    fn a_live_process_keeps_its_running_jobs_when_another_opens_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let server = JobStore::open(&path).unwrap();
        server.beat().unwrap();
        let (_, running) = finished_and_running(&server);

        // e.g. `milvault policy list` or a second server on the same file
        let other = JobStore::open(&path).unwrap();
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
}

//! milvault's own database: jobs, policies and their runs, verifications, drills, users,
//! sessions, tokens, the audit log and backup-name leases. It is one embedded SQLite file
//! (`--job-db PATH`, the default) or a Postgres database (`--state postgres://...`) that several
//! milvault servers share; the statements are the same for both (`sql`). This module opens it
//! (file modes, migrations in `schema`) and knows which process it is;
//! each submodule holds the SQL of one kind of record and nothing else: the rules that use them
//! live with their layer (`auth/`, `name_lease`, `policy`).
//!
//! Several processes may share one database (two servers, or a server and the CLI). Each open store
//! is an *owner* that stamps the jobs it saves and, while it runs jobs, beats a heartbeat in the
//! `servers` table. A running job whose owner has not beaten for [`STALE_AFTER`] is marked
//! failed ("interrupted"); a job another live process runs is left alone.

use std::{path::Path, sync::Mutex, time::Duration};

use rusqlite::Connection;

use self::sql::{params, Conn};

use crate::error::{Error, Result};

pub mod audit;
#[cfg(test)]
mod both_tests;
pub mod deliveries;
pub mod drills;
pub mod jobs;
pub mod leases;

pub mod policies;
mod process;
mod schema;
pub(crate) mod sql;
pub mod users;

/// How often a process that runs jobs beats its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// After how long without a heartbeat a process' running jobs count as interrupted.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The job table.
pub struct Db {
    conn: Mutex<Conn>,
    /// This process' (this store's) identity in the `owner` column and the `servers` table.
    owner: String,
    /// The process itself (see [`process`]): lets others on this machine tell that it ended.
    process: String,
}

impl Db {
    /// Opens (creating if needed) the database at `path`. Jobs that a previous process left
    /// running are marked failed: nothing runs them any more.
    ///
    /// The file holds password hashes and the audit log: it is created readable by its owner
    /// only (0600, in a 0700 directory when milvault creates the directory), and an existing
    /// file that others may read is tightened to 0600 with a warning.
    pub fn open(path: &Path) -> Result<Db> {
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
        Self::init(Conn::Sqlite(conn))
    }

    /// Connects to a Postgres database (`postgres://user:password@host:port/database`) that
    /// several milvault processes may share, creating milvault's tables when they are missing.
    pub fn connect_postgres(url: &str) -> Result<Db> {
        let conn = sql::PgConn::connect(url).map_err(|e| {
            Error::Config(format!(
                "cannot connect to the state database {}: {e}",
                redact_password(url)
            ))
        })?;
        Self::init(Conn::Postgres(conn))
    }

    /// Opens the state at `location`: a `postgres://` (or `postgresql://`) URL, else the path of
    /// an SQLite file.
    pub fn open_location(location: &str) -> Result<Db> {
        if is_postgres_url(location) {
            Self::connect_postgres(location)
        } else {
            Self::open(Path::new(location))
        }
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
    pub fn in_memory() -> Result<Db> {
        let conn = Connection::open_in_memory().map_err(|e| Error::Database(e.to_string()))?;
        Self::init(Conn::Sqlite(conn))
    }

    fn init(mut conn: Conn) -> Result<Db> {
        schema::migrate(&mut conn)?;
        let store = Db {
            conn: Mutex::new(conn),
            owner: uuid::Uuid::new_v4().simple().to_string(),
            process: process::this_process(),
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
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO servers (owner, heartbeat_ms, process) VALUES (?1, ?2, ?3)
             ON CONFLICT(owner) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
            params![self.owner, now, self.process],
        )?;
        conn.execute(
            "DELETE FROM servers WHERE heartbeat_ms < ?1",
            [now - 86_400_000],
        )?;
        Ok(())
    }

    /// Removes from the `servers` table the processes of this machine that have certainly ended
    /// (killed or crashed: see [`process`]), so that their jobs count as interrupted and their
    /// name claims end now rather than after [`STALE_AFTER`].
    pub(crate) fn forget_ended_processes(&self) -> Result<()> {
        let mut conn = self.lock()?;
        let rows = conn.query_map(
            "SELECT owner, process FROM servers WHERE owner != ?1 AND process != ''",
            [&self.owner],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        for (owner, recorded) in rows {
            if process::certainly_gone(&recorded) {
                tracing::info!(owner = %owner, "a milvault process that shared the job database has ended");
                conn.execute("DELETE FROM servers WHERE owner = ?1", [&owner])?;
            }
        }
        Ok(())
    }

    /// Removes this process from the `servers` table: its running jobs count as interrupted at
    /// once (on a clean shutdown, none should be running), and its backup-name claims end.
    pub fn sign_off(&self) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM servers WHERE owner = ?1", [&self.owner])?;
        self.delete_own_leases()
    }

    /// The connection, locked.
    pub(crate) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Conn>> {
        self.conn
            .lock()
            .map_err(|_| Error::Database("lock poisoned".into()))
    }
}

/// Whether a `--state`/`--job-db` value names a Postgres database rather than a file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A database URL with its password (if any) replaced by `***`, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

//! Every table of the database and the steps that bring an older file up to date, in one place.

use rusqlite::Connection;

/// Jobs and the processes that run them.
const JOBS: &str = "
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
    );";

/// Policies, their runs and backup verifications.
const POLICIES: &str = "
    CREATE TABLE IF NOT EXISTS policies (
      name TEXT PRIMARY KEY,
      spec TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS policy_runs (
      policy TEXT NOT NULL,
      slot_ms INTEGER NOT NULL,
      trigger TEXT NOT NULL,
      claimed_ms INTEGER NOT NULL,
      backup TEXT NOT NULL DEFAULT '',
      job_id TEXT NOT NULL DEFAULT '',
      state TEXT NOT NULL,
      detail TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (policy, slot_ms)
    );
    CREATE TABLE IF NOT EXISTS verifications (
      backup TEXT PRIMARY KEY,
      at_ms INTEGER NOT NULL,
      state TEXT NOT NULL,
      files INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      problems TEXT NOT NULL,
      damaged INTEGER NOT NULL DEFAULT 0
    );";

/// Users, sessions, API tokens, sign-in failures and the one-time set-up link.
const USERS: &str = "
    CREATE TABLE IF NOT EXISTS users (
      name TEXT PRIMARY KEY,
      hash TEXT NOT NULL,
      role TEXT NOT NULL,
      databases TEXT NOT NULL DEFAULT '[]',
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sessions (
      id_hash TEXT PRIMARY KEY,
      user TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      user TEXT NOT NULL,
      hash TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      last_used_ms INTEGER,
      revoked_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS login_failures (
      key TEXT PRIMARY KEY,
      failures INTEGER NOT NULL,
      last_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS setup_links (
      hash TEXT PRIMARY KEY,
      created_ms INTEGER NOT NULL
    );";

/// The audit log.
const AUDIT: &str = "
    CREATE TABLE IF NOT EXISTS audit (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      at_ms INTEGER NOT NULL,
      actor TEXT NOT NULL,
      via TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      source TEXT NOT NULL,
      outcome TEXT NOT NULL,
      detail TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_at ON audit(at_ms);";

/// Backup-name leases.
/// The last restore drill of each backup.
const DRILLS: &str = "
    CREATE TABLE IF NOT EXISTS drills (
      backup TEXT PRIMARY KEY,
      at_ms INTEGER NOT NULL,
      passed INTEGER NOT NULL,
      report TEXT NOT NULL
    );";

/// Webhook deliveries (the newest 1000 are kept).
const DELIVERIES: &str = "
    CREATE TABLE IF NOT EXISTS deliveries (
      id TEXT PRIMARY KEY,
      at_ms INTEGER NOT NULL,
      webhook TEXT NOT NULL,
      event TEXT NOT NULL,
      summary TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      last_status INTEGER NOT NULL DEFAULT 0,
      last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries(at_ms);";

const LEASES: &str = "CREATE TABLE IF NOT EXISTS name_leases (
    holder TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    use TEXT NOT NULL,
    owner TEXT NOT NULL,
    since_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS name_leases_name ON name_leases(name);";

/// Creates what is missing and adds what later versions added to an older database.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")?;
    conn.execute_batch(JOBS)?;
    if conn.prepare("SELECT owner FROM jobs LIMIT 0").is_err() {
        // databases written before jobs had owners: those jobs have none (and count as
        // stale) and no databases (only unscoped users see them)
        conn.execute_batch(
            "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
             ALTER TABLE jobs ADD COLUMN databases TEXT NOT NULL DEFAULT '[]';",
        )?;
    }
    // processes from before the liveness check: judged by their heartbeat only
    if conn.prepare("SELECT process FROM servers LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE servers ADD COLUMN process TEXT NOT NULL DEFAULT ''")?;
    }
    for schema in [POLICIES, USERS, AUDIT, LEASES, DELIVERIES, DRILLS] {
        conn.execute_batch(schema)?;
    }
    // verifications from before the count: it is taken from their (full) problem list
    if conn
        .prepare("SELECT damaged FROM verifications LIMIT 0")
        .is_err()
    {
        conn.execute_batch(
            "ALTER TABLE verifications ADD COLUMN damaged INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    // users from before Milvus sign-in are local
    if conn.prepare("SELECT origin FROM users LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE users ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'")?;
    }
    Ok(())
}

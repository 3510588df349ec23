//! Rows of users, sessions, API tokens, sign-in failure counters and set-up links. Secrets arrive
//! here already hashed; who may sign in, how names and passwords look and how long to back off
//! is decided in `crate::auth::accounts`.

use crate::db::sql::params;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Db;
use crate::error::Result;

/// An API token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A `users` row as stored.
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub name: String,
    /// argon2id hash; empty for users Milvus signs in.
    pub hash: String,
    pub role: String,
    /// JSON list of database names.
    pub databases: String,
    pub created_ms: i64,
    /// `local` or `milvus`.
    pub origin: String,
}

/// The columns [`UserRow::read`] reads.
const USER_COLUMNS: &str = "name, hash, role, databases, created_ms, origin";

impl UserRow {
    fn read(r: &crate::db::sql::Row) -> Result<UserRow> {
        Ok(UserRow {
            name: r.get(0)?,
            hash: r.get(1)?,
            role: r.get(2)?,
            databases: r.get(3)?,
            created_ms: r.get(4)?,
            origin: r.get(5)?,
        })
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored time.
pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Db {
    /// How many users there are.
    pub fn user_count(&self) -> Result<u64> {
        let n: i64 = self
            .lock()?
            .query_row("SELECT COUNT(*) FROM users", params![], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Inserts a local user; false when the name is taken.
    pub(crate) fn insert_user(
        &self,
        name: &str,
        hash: &str,
        role: &str,
        dbs: &str,
    ) -> Result<bool> {
        let n = self.lock()?.execute(
            "INSERT INTO users (name, hash, role, databases, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![name, hash, role, dbs, now_ms()],
        )?;
        Ok(n > 0)
    }

    /// Inserts or refreshes a user Milvus signs in; false when a local user has the name.
    pub(crate) fn upsert_milvus_user_row(&self, name: &str, role: &str, dbs: &str) -> Result<bool> {
        let n = self.lock()?.execute(
            "INSERT INTO users (name, hash, role, databases, created_ms, origin)
                 VALUES (?1, '', ?2, ?3, ?4, 'milvus')
                 ON CONFLICT(name) DO UPDATE SET role = ?2, databases = ?3
                 WHERE origin = 'milvus'",
            params![name, role, dbs, now_ms()],
        )?;
        Ok(n > 0)
    }

    /// Sets a user's role and databases; false when there is no such user.
    pub(crate) fn update_user_role(&self, name: &str, role: &str, dbs: &str) -> Result<bool> {
        let n = self.lock()?.execute(
            "UPDATE users SET role = ?2, databases = ?3 WHERE name = ?1",
            params![name, role, dbs],
        )?;
        Ok(n > 0)
    }

    /// Sets a user's password hash and ends its sessions; false when there is no such user.
    pub(crate) fn update_password(&self, name: &str, hash: &str) -> Result<bool> {
        let mut conn = self.lock()?;
        let n = conn.execute(
            "UPDATE users SET hash = ?2 WHERE name = ?1",
            params![name, hash],
        )?;
        if n > 0 {
            conn.execute("DELETE FROM sessions WHERE \"user\" = ?1", [name])?;
        }
        Ok(n > 0)
    }

    /// How many users have the role `role`.
    pub(crate) fn count_role(&self, role: &str) -> Result<i64> {
        self.lock()?
            .query_row("SELECT COUNT(*) FROM users WHERE role = ?1", [role], |r| {
                r.get(0)
            })
    }

    /// Deletes a user and its sessions, and revokes its tokens.
    pub(crate) fn delete_user(&self, name: &str) -> Result<()> {
        let mut conn = self.lock()?;
        conn.execute("DELETE FROM users WHERE name = ?1", [name])?;
        conn.execute("DELETE FROM sessions WHERE \"user\" = ?1", [name])?;
        conn.execute(
            "UPDATE tokens SET revoked_ms = ?2 WHERE \"user\" = ?1 AND revoked_ms IS NULL",
            params![name, now_ms()],
        )?;
        Ok(())
    }

    /// One user's row.
    pub(crate) fn user_row(&self, name: &str) -> Result<Option<UserRow>> {
        self.lock()?.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
            [name],
            UserRow::read,
        )
    }

    /// Every user's row, by name.
    pub(crate) fn user_rows(&self) -> Result<Vec<UserRow>> {
        let mut conn = self.lock()?;
        let sql = &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = conn.query_map(sql, params![], UserRow::read)?;
        Ok(rows.into_iter().collect::<_>())
    }

    /// `(failures, last failure ms)` of a back-off counter.
    pub(crate) fn failures(&self, key: &str) -> Result<Option<(i64, i64)>> {
        self.lock()?.query_opt(
            "SELECT failures, last_ms FROM login_failures WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Counts one more failure on each counter.
    pub(crate) fn add_failure(&self, keys: &[String]) -> Result<()> {
        let mut conn = self.lock()?;
        for k in keys {
            conn.execute(
                "INSERT INTO login_failures (key, failures, last_ms) VALUES (?1, 1, ?2)
                 ON CONFLICT(key) DO UPDATE SET failures = failures + 1, last_ms = ?2",
                params![k, now_ms()],
            )?;
        }
        Ok(())
    }

    /// Forgets the counters.
    pub(crate) fn clear_failures(&self, keys: &[String]) -> Result<()> {
        let mut conn = self.lock()?;
        for k in keys {
            conn.execute("DELETE FROM login_failures WHERE key = ?1", [k])?;
        }
        Ok(())
    }

    /// Stores a session (by its hash) until `expires_ms`, and forgets expired ones.
    pub(crate) fn insert_session(&self, id_hash: &str, user: &str, expires_ms: i64) -> Result<()> {
        let now = now_ms();
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO sessions (id_hash, \"user\", created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![id_hash, user, now, expires_ms],
        )
        ?;
        conn.execute("DELETE FROM sessions WHERE expires_ms < ?1", [now])?;
        Ok(())
    }

    /// The user of a live session.
    pub(crate) fn session_user(&self, id_hash: &str) -> Result<Option<String>> {
        self.lock()?.query_opt(
            "SELECT \"user\" FROM sessions WHERE id_hash = ?1 AND expires_ms > ?2",
            params![id_hash, now_ms()],
            |r| r.get(0),
        )
    }

    /// Deletes a session.
    pub(crate) fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    /// Stores a token (by its hash); returns when.
    pub(crate) fn insert_token(&self, id: &str, name: &str, user: &str, hash: &str) -> Result<i64> {
        let now = now_ms();
        self.lock()?.execute(
            "INSERT INTO tokens (id, name, \"user\", hash, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, user, hash, now],
        )?;
        Ok(now)
    }

    /// `(user, hash, name)` of a token that is not revoked.
    pub(crate) fn live_token(&self, id: &str) -> Result<Option<(String, String, String)>> {
        self.lock()?.query_opt(
            "SELECT \"user\", hash, name FROM tokens WHERE id = ?1 AND revoked_ms IS NULL",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// Records a token's use, at most once a minute (a busy script must not turn reads into
    /// writes).
    pub(crate) fn touch_token(&self, id: &str) -> Result<()> {
        self.lock()?.execute(
            "UPDATE tokens SET last_used_ms = ?2
                 WHERE id = ?1 AND (last_used_ms IS NULL OR last_used_ms < ?3)",
            params![id, now_ms(), now_ms() - 60_000],
        )?;
        Ok(())
    }

    /// Tokens, of one user or (None) of everyone, newest first.
    pub fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>> {
        let mut conn = self.lock()?;
        let sql = "SELECT id, name, \"user\", created_ms, last_used_ms, revoked_ms FROM tokens
                 WHERE CAST(?1 AS TEXT) IS NULL OR \"user\" = ?1 ORDER BY created_ms DESC";
        let rows = conn.query_map(sql, [user], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                user: r.get(2)?,
                created_at: from_ms(r.get(3)?),
                last_used_at: r.get::<Option<i64>>(4)?.map(from_ms),
                revoked_at: r.get::<Option<i64>>(5)?.map(from_ms),
            })
        })?;
        Ok(rows.into_iter().collect::<_>())
    }

    /// Marks a token revoked.
    pub(crate) fn mark_token_revoked(&self, id: &str) -> Result<()> {
        self.lock()?.execute(
            "UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    /// Stores a set-up link (by its hash).
    pub(crate) fn insert_setup_link(&self, hash: &str) -> Result<()> {
        self.lock()?.execute(
            "INSERT INTO setup_links (hash, created_ms) VALUES (?1, ?2)",
            params![hash, now_ms()],
        )?;
        Ok(())
    }

    /// Whether a set-up link of this hash is stored.
    pub(crate) fn setup_link_exists(&self, hash: &str) -> Result<bool> {
        let n: i64 = self.lock()?.query_row(
            "SELECT COUNT(*) FROM setup_links WHERE hash = ?1",
            [hash],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Forgets every set-up link.
    pub(crate) fn delete_setup_links(&self) -> Result<()> {
        self.lock()?.execute("DELETE FROM setup_links", params![])?;
        Ok(())
    }
}

//! Audit rows: append, read by filter, remove old ones. What is recorded, and how much of it, is
//! decided in `crate::auth::audit`.

use crate::db::sql::params;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Db;
use crate::error::Result;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done (or, for a job, started).
    Ok,
    /// Refused: not signed in, not allowed, cross-site.
    Denied,
    /// Allowed but it failed.
    Failed,
}

impl Outcome {
    /// `ok`, `denied` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    /// A filter's outcome (`ok`, `denied`, `failed`; empty: any); the error says what is allowed.
    pub fn parse_filter(s: &str) -> std::result::Result<Option<Outcome>, String> {
        match s.trim() {
            "" => Ok(None),
            "ok" => Ok(Some(Outcome::Ok)),
            "denied" => Ok(Some(Outcome::Denied)),
            "failed" => Ok(Some(Outcome::Failed)),
            o => Err(format!("outcome '{o}' is not ok, denied or failed")),
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "ok" => Outcome::Ok,
            "denied" => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }
}

/// One entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The user (`anonymous` when not signed in).
    pub actor: String,
    /// How the actor authenticated: `session`, `token:<name>`, `local`, `cli`, `scheduler`.
    pub via: String,
    /// `backup.create`, `backup.restore`, `backup.delete`, `backup.verify`, `policy.*`,
    /// `user.*`, `token.*`, `auth.sign_in`, `auth.sign_out`, `request`.
    pub action: String,
    /// What it was done to: a backup, a policy, a user, a path.
    pub target: String,
    /// The client's address.
    pub source: String,
    pub outcome: Outcome,
    /// The reason of a refusal or failure, or what was done.
    pub detail: String,
}

/// Which entries to read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Entries whose action starts with this (`backup.` for all backup actions).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Newest first, at most this many (default 200, at most 10000).
    pub limit: Option<usize>,
}

impl Db {
    /// Appends one entry, stamped now.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_audit_row(
        &self,
        actor: &str,
        via: &str,
        action: &str,
        target: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<()> {
        self.lock()?.execute(
            "INSERT INTO audit (at_ms, actor, via, action, target, source, outcome, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                Utc::now().timestamp_millis(),
                actor,
                via,
                action,
                target,
                source,
                outcome.as_str(),
                detail
            ],
        )?;
        Ok(())
    }

    /// Removes the entries older than `before`; returns how many.
    pub(crate) fn delete_audit_before(&self, before: DateTime<Utc>) -> Result<usize> {
        self.lock()?.execute(
            "DELETE FROM audit WHERE at_ms < ?1",
            [before.timestamp_millis()],
        )
    }

    /// Entries matching `f`, newest first.
    pub(crate) fn audit_rows(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut conn = self.lock()?;
        let sql = "SELECT seq, at_ms, actor, via, action, target, source, outcome, detail FROM audit
                 WHERE (CAST(?1 AS TEXT) IS NULL OR actor = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR substr(action, 1, length(CAST(?2 AS TEXT))) = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR outcome = ?3)
                   AND (CAST(?4 AS BIGINT) IS NULL OR at_ms >= ?4)
                   AND (CAST(?5 AS BIGINT) IS NULL OR at_ms <= ?5)
                 ORDER BY seq DESC LIMIT ?6";
        let limit = i64::try_from(f.limit.unwrap_or(200).min(10_000)).unwrap_or(200);
        let rows = conn.query_map(
            sql,
            params![
                f.actor.as_deref().filter(|s| !s.is_empty()),
                f.action.as_deref().filter(|s| !s.is_empty()),
                f.outcome.map(Outcome::as_str),
                f.since.map(|t| t.timestamp_millis()),
                f.until.map(|t| t.timestamp_millis()),
                limit
            ],
            |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: DateTime::from_timestamp_millis(r.get(1)?).unwrap_or_default(),
                    actor: r.get(2)?,
                    via: r.get(3)?,
                    action: r.get(4)?,
                    target: r.get(5)?,
                    source: r.get(6)?,
                    outcome: Outcome::parse(&r.get::<String>(7)?),
                    detail: r.get(8)?,
                })
            },
        )?;
        Ok(rows.into_iter().collect::<_>())
    }
}

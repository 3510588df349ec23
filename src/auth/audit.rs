//! The audit log: who did (or tried) what, when, from where, and how it ended. Written for every
//! create, restore, delete, verify, policy and user change, sign-in and refused request.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    job_store::{db_err, JobStore},
};

/// The table, created when the database is opened.
pub const SCHEMA: &str = "
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

impl JobStore {
    /// Appends an entry (errors are logged: a failing audit write must not hide the outcome).
    #[allow(clippy::too_many_arguments)]
    pub fn audit(
        &self,
        actor: &str,
        via: &str,
        action: &str,
        target: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) {
        let r = self.lock().and_then(|c| {
            c.execute(
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
            )
            .map_err(db_err)
        });
        if let Err(e) = r {
            tracing::error!("could not write the audit log: {e}");
        }
        tracing::info!(
            actor,
            action,
            target,
            source,
            outcome = outcome.as_str(),
            detail,
            "audit"
        );
    }

    /// Removes the entries older than `before`; returns how many. The removal itself is recorded.
    pub fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize> {
        let n = self
            .lock()?
            .execute(
                "DELETE FROM audit WHERE at_ms < ?1",
                [before.timestamp_millis()],
            )
            .map_err(db_err)?;
        if n > 0 {
            self.audit(
                "milvault",
                "server",
                "audit.prune",
                "",
                "server",
                Outcome::Ok,
                &format!("{n} entries older than {} removed", before.to_rfc3339()),
            );
        }
        Ok(n)
    }

    /// Entries matching `f`, newest first.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare(
                "SELECT seq, at_ms, actor, via, action, target, source, outcome, detail FROM audit
                 WHERE (?1 IS NULL OR actor = ?1)
                   AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2)
                   AND (?3 IS NULL OR outcome = ?3)
                   AND (?4 IS NULL OR at_ms >= ?4)
                   AND (?5 IS NULL OR at_ms <= ?5)
                 ORDER BY seq DESC LIMIT ?6",
            )
            .map_err(db_err)?;
        let limit = i64::try_from(f.limit.unwrap_or(200).min(10_000)).unwrap_or(200);
        let rows = stmt
            .query_map(
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
                        outcome: Outcome::parse(&r.get::<_, String>(7)?),
                        detail: r.get(8)?,
                    })
                },
            )
            .map_err(db_err)?;
        rows.collect::<std::result::Result<_, _>>().map_err(db_err)
    }
}

/// Entries as CSV (RFC 4180 quoting), with a header line.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = String::from("seq,at,actor,via,action,target,source,outcome,detail\n");
    for e in entries {
        let cols = [
            e.seq.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.via.clone(),
            e.action.clone(),
            e.target.clone(),
            e.source.clone(),
            e.outcome.as_str().to_string(),
            e.detail.clone(),
        ];
        let line: Vec<String> = cols.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_filtered_newest_first_and_exported() {
        let s = JobStore::in_memory().unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "b1",
            "1.2.3.4",
            Outcome::Ok,
            "",
        );
        s.audit(
            "bob",
            "token:ci",
            "backup.restore",
            "b1",
            "5.6.7.8",
            Outcome::Denied,
            "outside, \"team_b\"",
        );
        s.audit(
            "ann",
            "session",
            "auth.sign_in",
            "",
            "1.2.3.4",
            Outcome::Ok,
            "",
        );
        let all = s.audit_entries(&AuditFilter::default()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "auth.sign_in");
        let backups = s
            .audit_entries(&AuditFilter {
                action: Some("backup.".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(backups.len(), 2);
        let denied = s
            .audit_entries(&AuditFilter {
                outcome: Some(Outcome::Denied),
                actor: Some("bob".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(denied.len(), 1);
        let csv = to_csv(&denied);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with("denied,\"outside, \"\"team_b\"\"\""),
            "{csv}"
        );
    }

    #[test]
    fn pruning_removes_old_entries_only_and_says_so() {
        let s = JobStore::in_memory().unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "old",
            "1.1.1.1",
            Outcome::Ok,
            "",
        );
        // make that entry 400 days old
        s.lock()
            .unwrap()
            .execute(
                "UPDATE audit SET at_ms = ?1",
                [(Utc::now() - chrono::Duration::days(400)).timestamp_millis()],
            )
            .unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "new",
            "1.1.1.1",
            Outcome::Ok,
            "",
        );
        let cut = Utc::now() - chrono::Duration::days(365);
        assert_eq!(s.prune_audit(cut).unwrap(), 1);
        assert_eq!(s.prune_audit(cut).unwrap(), 0, "nothing left to remove");
        let left: Vec<(String, String)> = s
            .audit_entries(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.target))
            .collect();
        assert_eq!(
            left,
            [
                ("audit.prune".to_string(), String::new()),
                ("backup.create".to_string(), "new".to_string())
            ]
        );
    }
}

//! Restore drill rows: the last drill of each backup, with its report. What a drill does is in
//! `crate::engine::commands::drill`.

use crate::db::sql::params;
use chrono::{DateTime, Utc};

use super::Db;
use crate::{engine::commands::drill::DrillReport, error::Result};

impl Db {
    /// Records a drill as the last one of the backup known as `key` (its name on the configured
    /// backup storage, `STORAGE:NAME` on a named one: `Milvault::record_key`).
    pub fn save_drill(&self, key: &str, r: &DrillReport) -> Result<()> {
        let report =
            serde_json::to_string(r).map_err(|e| crate::error::Error::Database(e.to_string()))?;
        let at =
            r.started_at.timestamp_millis() + (r.restore_ms + r.check_ms + r.cleanup_ms) as i64;
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO drills (backup, at_ms, passed, report) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(backup) DO UPDATE SET at_ms = excluded.at_ms, passed = excluded.passed,
               report = excluded.report",
            params![key, at, r.passed, report],
        )?;
        Ok(())
    }

    /// The last drill of the backup known as `backup` (see [`Db::save_drill`]).
    pub fn last_drill(&self, backup: &str) -> Result<Option<DrillReport>> {
        let mut conn = self.lock()?;
        let json: Option<String> = conn.query_opt(
            "SELECT report FROM drills WHERE backup = ?1",
            [backup],
            |r| r.get(0),
        )?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// When the newest passed drill of any backup ended.
    pub fn last_passed_drill(&self) -> Result<Option<DateTime<Utc>>> {
        let mut conn = self.lock()?;
        let at: Option<i64> = conn.query_row(
            "SELECT MAX(at_ms) FROM drills WHERE passed = 1",
            params![],
            |r| r.get(0),
        )?;
        Ok(at.and_then(DateTime::from_timestamp_millis))
    }

    /// When the newest passed drill of a backup that `policy`'s runs made ended.
    pub fn last_passed_drill_of_policy(&self, policy: &str) -> Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = self.lock()?.query_row(
            "SELECT MAX(d.at_ms) FROM drills d
             WHERE d.passed = 1 AND d.backup IN
               (SELECT backup FROM policy_runs WHERE policy = ?1 AND backup != '')",
            [policy],
            |r| r.get(0),
        )?;
        Ok(at.and_then(DateTime::from_timestamp_millis))
    }
}

//! Policies, their runs and backup verifications in the embedded database (the same SQLite file
//! as the job history). A run's slot is claimed with a unique key, so two servers sharing the
//! database never run the same slot twice.

use std::collections::{HashMap, HashSet};

use crate::db::sql::params;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    db::Db,
    engine::policy::Policy,
    error::{Error, Result},
    format::manifest::FileProblem,
};

/// A stored policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRecord {
    pub policy: Policy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
}

/// One run of a policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRun {
    pub policy: String,
    /// The scheduled time (manual runs: when asked).
    pub slot: DateTime<Utc>,
    pub trigger: Trigger,
    pub backup: String,
    pub job_id: String,
    /// `running`, `succeeded`, `failed`.
    pub state: String,
    /// What happened: the error, verification and pruning outcome.
    pub detail: String,
}

/// The last verification of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub at: DateTime<Utc>,
    /// `intact`, `damaged` or `unverifiable` (no manifest).
    pub state: String,
    pub files: u64,
    pub bytes: u64,
    /// How many files are missing or damaged.
    pub damaged: u64,
    /// The first of them (at most [`PROBLEMS_RECORDED`]).
    pub problems: Vec<FileProblem>,
}

/// How many damaged files a verification record names (it is read with every listing).
pub const PROBLEMS_RECORDED: usize = 100;

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Db {
    /// Adds a policy; fails when one of that name exists.
    pub fn insert_policy(&self, p: &Policy) -> Result<()> {
        let spec = serde_json::to_string(p).map_err(|e| Error::Database(e.to_string()))?;
        let now = ms(Utc::now());
        let mut conn = self.lock()?;
        let n = conn.execute(
            "INSERT INTO policies (name, spec, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT DO NOTHING",
            params![p.name, spec, now],
        )?;
        if n == 0 {
            return Err(Error::PolicyExists(p.name.clone()));
        }
        Ok(())
    }

    /// Replaces a policy; fails when there is none of that name.
    pub fn update_policy(&self, p: &Policy) -> Result<()> {
        let spec = serde_json::to_string(p).map_err(|e| Error::Database(e.to_string()))?;
        let mut conn = self.lock()?;
        let n = conn.execute(
            "UPDATE policies SET spec = ?2, updated_ms = ?3 WHERE name = ?1",
            params![p.name, spec, ms(Utc::now())],
        )?;
        if n == 0 {
            return Err(Error::PolicyNotFound(p.name.clone()));
        }
        Ok(())
    }

    /// One policy.
    pub fn get_policy(&self, name: &str) -> Result<Option<PolicyRecord>> {
        let mut conn = self.lock()?;
        conn.query_opt(
            "SELECT spec, created_ms, updated_ms FROM policies WHERE name = ?1",
            [name],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?)),
        )?
        .map(record)
        .transpose()
    }

    /// Every policy, by name.
    pub fn list_policies(&self) -> Result<Vec<PolicyRecord>> {
        let mut conn = self.lock()?;
        let sql = "SELECT spec, created_ms, updated_ms FROM policies ORDER BY name";
        let rows = conn.query_map(sql, params![], |r| {
            Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(record(row)?);
        }
        Ok(out)
    }

    /// Removes a policy (its backups stay); false when there was none.
    pub fn delete_policy(&self, name: &str) -> Result<bool> {
        let mut conn = self.lock()?;
        let n = conn.execute("DELETE FROM policies WHERE name = ?1", [name])?;
        Ok(n > 0)
    }

    /// Claims a slot of a policy; true for the one caller (of any process) that gets it.
    pub fn claim_slot(&self, policy: &str, slot: DateTime<Utc>, trigger: Trigger) -> Result<bool> {
        let t = match trigger {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        };
        let mut conn = self.lock()?;
        let n = conn.execute(
            "INSERT INTO policy_runs (policy, slot_ms, trigger, claimed_ms, state)
                 VALUES (?1, ?2, ?3, ?4, 'running') ON CONFLICT DO NOTHING",
            params![policy, ms(slot), t, ms(Utc::now())],
        )?;
        Ok(n == 1)
    }

    /// Records what a run did.
    pub fn update_run(&self, run: &PolicyRun) -> Result<()> {
        let mut conn = self.lock()?;
        conn.execute(
            "UPDATE policy_runs SET backup = ?3, job_id = ?4, state = ?5, detail = ?6 WHERE policy = ?1 AND slot_ms = ?2",
            params![run.policy, ms(run.slot), run.backup, run.job_id, run.state, run.detail],
        )
        ?;
        Ok(())
    }

    /// The newest scheduled slot of a policy that was claimed.
    pub fn last_scheduled_slot(&self, policy: &str) -> Result<Option<DateTime<Utc>>> {
        let mut conn = self.lock()?;
        let v: Option<i64> = conn.query_row(
            "SELECT MAX(slot_ms) FROM policy_runs WHERE policy = ?1 AND trigger = 'schedule'",
            [policy],
            |r| r.get(0),
        )?;
        Ok(v.map(from_ms))
    }

    /// The names of the backups runs of a policy started (whatever became of them): the only
    /// backups its retention may prune.
    pub fn policy_backups(&self, policy: &str) -> Result<HashSet<String>> {
        let mut conn = self.lock()?;
        let sql = "SELECT DISTINCT backup FROM policy_runs
                 WHERE policy = ?1 AND backup != '' AND job_id != ''";
        let rows = conn.query_map(sql, [policy], |r| r.get::<String>(0))?;
        Ok(rows.into_iter().collect::<HashSet<_>>())
    }

    /// How many runs of `policy` succeeded (what `full_every` counts: retention never changes it).
    pub fn succeeded_runs(&self, policy: &str) -> Result<u64> {
        let mut conn = self.lock()?;
        conn.query_row(
            "SELECT COUNT(*) FROM policy_runs WHERE policy = ?1 AND state = 'succeeded'",
            [policy],
            |r| r.get::<i64>(0),
        )
        .map(|n| n.max(0) as u64)
    }

    /// A policy's newest runs, newest first.
    pub fn policy_runs(&self, policy: &str, limit: usize) -> Result<Vec<PolicyRun>> {
        let mut conn = self.lock()?;
        let sql = "SELECT policy, slot_ms, trigger, backup, job_id, state, detail FROM policy_runs
                 WHERE policy = ?1 ORDER BY slot_ms DESC LIMIT ?2";
        let rows = conn.query_map(
            sql,
            params![policy, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(PolicyRun {
                    policy: r.get(0)?,
                    slot: from_ms(r.get(1)?),
                    trigger: if r.get::<String>(2)? == "manual" {
                        Trigger::Manual
                    } else {
                        Trigger::Schedule
                    },
                    backup: r.get(3)?,
                    job_id: r.get(4)?,
                    state: r.get(5)?,
                    detail: r.get(6)?,
                })
            },
        )?;
        Ok(rows.into_iter().collect::<Vec<_>>())
    }

    /// Records a backup's latest verification.
    pub fn save_verification(&self, backup: &str, v: &VerificationRecord) -> Result<()> {
        let problems =
            serde_json::to_string(&v.problems).map_err(|e| Error::Database(e.to_string()))?;
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO verifications (backup, at_ms, state, files, bytes, problems, damaged) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(backup) DO UPDATE SET at_ms = excluded.at_ms, state = excluded.state,
               files = excluded.files, bytes = excluded.bytes, problems = excluded.problems,
               damaged = excluded.damaged",
            params![backup, ms(v.at), v.state, v.files as i64, v.bytes as i64, problems, v.damaged as i64],
        )
        ?;
        Ok(())
    }

    /// Forgets a backup's verification (the backup was deleted).
    pub fn forget_verification(&self, backup: &str) -> Result<()> {
        let mut conn = self.lock()?;
        conn.execute("DELETE FROM verifications WHERE backup = ?1", [backup])?;
        Ok(())
    }

    /// The latest verification of every backup that has one.
    pub fn verifications(&self) -> Result<HashMap<String, VerificationRecord>> {
        let mut conn = self.lock()?;
        let sql = "SELECT backup, at_ms, state, files, bytes, problems, damaged FROM verifications";
        let rows = conn.query_map(sql, params![], |r| {
            Ok((r.get::<String>(0)?, {
                let problems: Vec<FileProblem> =
                    serde_json::from_str(&r.get::<String>(5)?).unwrap_or_default();
                VerificationRecord {
                    at: from_ms(r.get(1)?),
                    state: r.get(2)?,
                    files: r.get::<i64>(3)? as u64,
                    bytes: r.get::<i64>(4)? as u64,
                    // records from before the count name every damaged file
                    damaged: (r.get::<i64>(6)?.max(0) as u64).max(problems.len() as u64),
                    problems,
                }
            }))
        })?;
        Ok(rows.into_iter().collect::<HashMap<_, _>>())
    }
}

fn record((spec, created, updated): (String, i64, i64)) -> Result<PolicyRecord> {
    let policy: Policy = serde_json::from_str(&spec)
        .map_err(|e| Error::Database(format!("stored policy cannot be read: {e}")))?;
    Ok(PolicyRecord {
        policy,
        created_at: from_ms(created),
        updated_at: from_ms(updated),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_claimed_once_even_by_two_stores_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let a = Db::open(&path).unwrap();
        let b = Db::open(&path).unwrap();
        let slot = DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(a.claim_slot("nightly", slot, Trigger::Schedule).unwrap());
        assert!(!b.claim_slot("nightly", slot, Trigger::Schedule).unwrap());
        assert!(!a.claim_slot("nightly", slot, Trigger::Schedule).unwrap());
        assert!(b.claim_slot("other", slot, Trigger::Schedule).unwrap());
        assert_eq!(b.last_scheduled_slot("nightly").unwrap(), Some(slot));
    }

    #[test]
    fn a_policys_backups_are_those_its_runs_started() {
        let s = Db::in_memory().unwrap();
        let at = |sec: i64| DateTime::from_timestamp(1_800_000_000 + sec, 0).unwrap();
        let mut run = PolicyRun {
            policy: "nightly".into(),
            slot: at(0),
            trigger: Trigger::Schedule,
            backup: "nightly_1".into(),
            job_id: "j1".into(),
            state: "succeeded".into(),
            detail: String::new(),
        };
        for (sec, backup, job) in [
            (0, "nightly_1", "j1"),
            (1, "nightly_2", ""), // did not start (the name was taken): not the policy's
            (2, "nightly_3", "j3"),
        ] {
            assert!(s.claim_slot("nightly", at(sec), Trigger::Schedule).unwrap());
            run.slot = at(sec);
            run.backup = backup.into();
            run.job_id = job.into();
            s.update_run(&run).unwrap();
        }
        assert!(s.claim_slot("other", at(0), Trigger::Schedule).unwrap());
        run.policy = "other".into();
        run.slot = at(0);
        run.backup = "other_1".into();
        s.update_run(&run).unwrap();
        let mut got: Vec<String> = s.policy_backups("nightly").unwrap().into_iter().collect();
        got.sort();
        assert_eq!(got, vec!["nightly_1", "nightly_3"]);
    }

    #[test]
    fn policies_are_added_once_updated_listed_and_removed() {
        let s = Db::in_memory().unwrap();
        let mut p = Policy {
            name: "n".into(),
            cron: "0 2 * * *".into(),
            ..Default::default()
        };
        s.insert_policy(&p).unwrap();
        assert!(matches!(s.insert_policy(&p), Err(Error::PolicyExists(_))));
        p.enabled = false;
        s.update_policy(&p).unwrap();
        assert!(!s.get_policy("n").unwrap().unwrap().policy.enabled);
        assert_eq!(s.list_policies().unwrap().len(), 1);
        assert!(s.delete_policy("n").unwrap());
        assert!(s.get_policy("n").unwrap().is_none());
        assert!(matches!(s.update_policy(&p), Err(Error::PolicyNotFound(_))));
    }
}

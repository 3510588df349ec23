//! Lease rows: a backup name held for a use by a process. Which uses exclude which is decided by
//! the caller (`crate::jobs::name_lease`); this module only reads and writes the rows, atomically.

use std::time::Duration;

use crate::db::sql::params;

use super::Db;
use crate::error::{Error, Result};

impl Db {
    /// In one transaction: forgets the leases of processes silent for `stale`, reads the uses
    /// still held on `name`, and inserts a lease for `use_` unless `refuse` gives a reason not to.
    /// Returns the new lease's holder id.
    pub(crate) fn insert_lease(
        &self,
        name: &str,
        use_: &str,
        stale: Duration,
        refuse: impl Fn(&[String]) -> Option<Error>,
    ) -> Result<String> {
        let now = chrono::Utc::now().timestamp_millis();
        let cutoff = now - i64::try_from(stale.as_millis()).unwrap_or(i64::MAX);
        let holder = uuid::Uuid::new_v4().simple().to_string();
        self.forget_ended_processes()?;
        self.lock()?.exclusive(|tx| {
            tx.execute(
                "DELETE FROM name_leases WHERE owner != ?1
                   AND owner NOT IN (SELECT owner FROM servers WHERE heartbeat_ms >= ?2)",
                params![self.owner(), cutoff],
            )?;
            let held: Vec<String> = tx.query_map(
                "SELECT use FROM name_leases WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?;
            if let Some(e) = refuse(&held) {
                return Err(e);
            }
            tx.execute(
                "INSERT INTO name_leases (holder, name, use, owner, since_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![holder, name, use_, self.owner(), now],
            )?;
            Ok(())
        })?;
        Ok(holder)
    }

    /// Whether lease `holder` still exists (no other process found it stale and removed it);
    /// when it does, this process's heartbeat is renewed in the same transaction, so the lease
    /// holds for the step the caller takes next.
    pub(crate) fn lease_holds(&self, holder: &str) -> Result<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        let held = self.lock()?.exclusive(|tx| {
            let held: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM name_leases WHERE holder = ?1)",
                [holder],
                |r| r.get(0),
            )?;
            if held {
                tx.execute(
                    "UPDATE servers SET heartbeat_ms = ?2 WHERE owner = ?1",
                    params![self.owner(), now],
                )?;
            }
            Ok(held)
        })?;
        Ok(held)
    }

    /// Removes one lease.
    pub(crate) fn delete_lease(&self, holder: &str) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM name_leases WHERE holder = ?1", [holder])?;
        Ok(())
    }

    /// Removes every lease of this process (it signs off).
    pub(crate) fn delete_own_leases(&self) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM name_leases WHERE owner = ?1", [self.owner()])?;
        Ok(())
    }
}

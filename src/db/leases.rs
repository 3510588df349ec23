//! Lease rows: a backup name held for a use by a process. Which uses exclude which is decided by
//! the caller (`crate::jobs::name_lease`); this module only reads and writes the rows, atomically.

use std::time::Duration;

use rusqlite::{params, TransactionBehavior};

use super::{db_err, Db};
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
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        tx.execute(
            "DELETE FROM name_leases WHERE owner != ?1
               AND owner NOT IN (SELECT owner FROM servers WHERE heartbeat_ms >= ?2)",
            params![self.owner(), cutoff],
        )
        .map_err(db_err)?;
        let held: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT use FROM name_leases WHERE name = ?1")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([name], |r| r.get::<_, String>(0))
                .map_err(db_err)?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(db_err)?
        };
        if let Some(e) = refuse(&held) {
            return Err(e);
        }
        tx.execute(
            "INSERT INTO name_leases (holder, name, use, owner, since_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![holder, name, use_, self.owner(), now],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(holder)
    }

    /// Whether lease `holder` still exists (no other process found it stale and removed it);
    /// when it does, this process's heartbeat is renewed in the same transaction, so the lease
    /// holds for the step the caller takes next.
    pub(crate) fn lease_holds(&self, holder: &str) -> Result<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let held: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM name_leases WHERE holder = ?1)",
                [holder],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if held {
            tx.execute(
                "UPDATE servers SET heartbeat_ms = ?2 WHERE owner = ?1",
                params![self.owner(), now],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(held)
    }

    /// Removes one lease.
    pub(crate) fn delete_lease(&self, holder: &str) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM name_leases WHERE holder = ?1", [holder])
            .map_err(db_err)?;
        Ok(())
    }

    /// Removes every lease of this process (it signs off).
    pub(crate) fn delete_own_leases(&self) -> Result<()> {
        self.lock()?
            .execute("DELETE FROM name_leases WHERE owner = ?1", [self.owner()])
            .map_err(db_err)?;
        Ok(())
    }
}

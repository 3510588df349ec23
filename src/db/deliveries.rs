//! Webhook delivery rows: one per event and webhook, updated after each try. What is sent and
//! when is decided in `crate::jobs::notify`.

use crate::db::sql::params;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Db;
use crate::error::Result;

/// How many deliveries are kept.
const KEEP: i64 = 1000;

/// One event sent (or being sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub at: DateTime<Utc>,
    pub webhook: String,
    /// `job.failed`, `policy.failed`...
    pub event: String,
    /// The event in words.
    pub summary: String,
    /// `sending`, `retrying`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: u32,
    /// The last answer's HTTP status (0: no answer).
    pub last_status: u16,
    /// Why the last try failed.
    pub last_error: String,
}

impl Db {
    /// Records a delivery (new or updated), keeping the newest [`KEEP`].
    pub fn save_delivery(&self, d: &Delivery) -> Result<()> {
        let mut conn = self.lock()?;
        conn.execute(
            "INSERT INTO deliveries (id, at_ms, webhook, event, summary, state, attempts, last_status, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
               last_status = excluded.last_status, last_error = excluded.last_error",
            params![
                d.id,
                d.at.timestamp_millis(),
                d.webhook,
                d.event,
                d.summary,
                d.state,
                d.attempts,
                d.last_status,
                d.last_error
            ],
        )
        ?;
        conn.execute(
            "DELETE FROM deliveries WHERE at_ms < (SELECT at_ms FROM deliveries ORDER BY at_ms DESC LIMIT 1 OFFSET ?1)",
            [KEEP - 1],
        )
        ?;
        Ok(())
    }

    /// The newest `limit` deliveries, newest first.
    pub fn deliveries(&self, limit: usize) -> Result<Vec<Delivery>> {
        let mut conn = self.lock()?;
        let sql =
            "SELECT id, at_ms, webhook, event, summary, state, attempts, last_status, last_error
                 FROM deliveries ORDER BY at_ms DESC, id LIMIT ?1";
        let rows = conn.query_map(sql, [limit as i64], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                at: DateTime::from_timestamp_millis(r.get(1)?).unwrap_or_default(),
                webhook: r.get(2)?,
                event: r.get(3)?,
                summary: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                last_status: r.get(7)?,
                last_error: r.get(8)?,
            })
        })?;
        Ok(rows.into_iter().collect::<Vec<_>>())
    }
}

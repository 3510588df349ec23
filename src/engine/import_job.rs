//! Runs one merged import job (a request of [`crate::engine::import_plan::Api::ImportJob`]):
//! creates it over Milvus' REST API, hands its id to the caller's record, and polls it until it
//! completed (its imported rows) or failed (its reason), as milvus-backup's
//! `collTask.bulkInsertViaRestful` / `checkBulkInsertViaRestful` (core/restore/coll_task.go) do,
//! but within a time limit, like every other wait of a restore.

use std::time::Duration;

use crate::{
    error::{Error, Result},
    format::KeyValuePair,
    milvus::{import_jobs::ImportJobs, ImportState},
};

/// What one job imports, and where.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub db: &'a str,
    pub collection: &'a str,
    /// Empty for collection-level L0 deletes.
    pub partition: &'a str,
    /// File groups, as Milvus reads them.
    pub files: &'a [Vec<String>],
    pub options: &'a [KeyValuePair],
    /// `db.collection`, for messages.
    pub target: &'a str,
    /// The job's first backed-up segment, for messages.
    pub segment: i64,
}

/// Creates `job`, calls `created` with its id, and waits (polling every `poll`, at most `wait`)
/// until it ends; returns the rows it imported.
pub async fn run(
    jobs: &ImportJobs,
    job: Job<'_>,
    wait: Duration,
    poll: Duration,
    created: impl FnOnce(&str),
) -> Result<i64> {
    let id = jobs
        .create(
            job.db,
            job.collection,
            job.partition,
            job.files,
            job.options,
        )
        .await?;
    tracing::debug!(job = %id, target = job.target, groups = job.files.len(), "import job created");
    created(&id);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let st = jobs.describe(job.db, &id).await?;
        match st.state {
            ImportState::Completed => return Ok(st.rows),
            ImportState::Failed => {
                return Err(Error::ImportFailed {
                    collection: job.target.into(),
                    segment: job.segment,
                    reason: format!("import job {id}: {}", st.reason),
                })
            }
            _ if tokio::time::Instant::now() > deadline => {
                return Err(Error::MilvusTimeout {
                    call: "ImportJob describe",
                    timeout: wait,
                })
            }
            _ => {
                tracing::debug!(job = %id, progress = st.progress, rows = st.rows, "import job running");
                tokio::time::sleep(poll).await
            }
        }
    }
}

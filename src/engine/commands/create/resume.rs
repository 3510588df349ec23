//! Resuming a backup that was interrupted by a crash or a kill (`create --resume NAME`).
//!
//! A backup records its request in `<name>/meta/milvault_resume.json` before it copies anything.
//! A run that fails or is cancelled removes everything under the name, as before; a process that
//! dies leaves the files it finished. Resuming reads the request back, describes the collections
//! in Milvus again (segments compacted since are planned anew), keeps every file that is already
//! there with the size the plan expects and, when both sides answer a single-part S3 ETag (the MD5
//! of the bytes), the same ETag as its source, and copies the rest. Files of the earlier run the
//! new plan no longer names are removed. The manifest is then built from the files as stored, as
//! for any backup, and the metadata written last: until then the backup is not listed.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::{
    engine::commands::create::CreateBackupRequest,
    engine::copy::CopyItem,
    error::{Error, Result},
    format::layout,
    storage::Storage,
};

/// The request of an unfinished backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResumeRecord {
    pub version: u32,
    pub collections: Vec<String>,
    pub databases: Vec<String>,
    pub meta_only: bool,
    pub incremental: bool,
    /// A logical backup (rows into Parquet): these are not resumed, see [`load_into`].
    pub logical: bool,
    pub policy: Option<String>,
    /// Milvus' users, roles and grants too.
    pub rbac: bool,
}

fn path(name: &str) -> String {
    layout::meta_file(name, layout::RESUME_FILE)
}

/// Records `req` so that the backup can be resumed.
pub async fn record(backups: &Storage, req: &CreateBackupRequest) -> Result<()> {
    let r = ResumeRecord {
        version: 1,
        collections: req.collections.clone(),
        databases: req.databases.clone(),
        meta_only: req.meta_only,
        incremental: req.incremental,
        logical: req.logical,
        policy: req.policy.clone(),
        rbac: req.rbac,
    };
    let json = serde_json::to_vec(&r)
        .map_err(|e| Error::InvalidRequest(format!("cannot encode the resume record: {e}")))?;
    backups.write(&path(&req.name), json.into()).await
}

/// The request of the unfinished backup `name`, applied to `req` (whose name is kept).
pub async fn load_into(backups: &Storage, req: &mut CreateBackupRequest) -> Result<()> {
    let Some(bytes) = backups.read_opt(&path(&req.name)).await? else {
        return Err(Error::InvalidRequest(format!(
            "there is no interrupted backup '{}' to resume (nothing records its request)",
            req.name
        )));
    };
    let r: ResumeRecord = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptMetadata {
        name: req.name.clone(),
        file: layout::RESUME_FILE.into(),
        reason: e.to_string(),
    })?;
    if r.logical {
        // its Parquet files are not checked against a plan: resuming would mix two runs' rows
        return Err(Error::InvalidRequest(format!(
            "'{}' is an interrupted logical backup, which cannot be resumed; remove it with `milvault delete -n {}` and run it again",
            req.name, req.name
        )));
    }
    req.collections = r.collections;
    req.databases = r.databases;
    req.meta_only = r.meta_only;
    req.incremental = r.incremental;
    req.policy = r.policy;
    req.rbac = r.rbac;
    Ok(())
}

/// Removes the record once the backup is complete.
pub async fn forget(backups: &Storage, name: &str) -> Result<()> {
    backups.delete(&path(name)).await
}

/// Which of `items` an earlier run copied already: the destination has the expected size and,
/// when source and destination both answer a single-part ETag, the same one.
pub async fn already_copied(
    src: &Storage,
    dst: &Storage,
    items: &[CopyItem],
    concurrency: usize,
) -> Result<Vec<bool>> {
    futures::stream::iter(items.iter().cloned())
        .map(|item| {
            let (src, dst) = (src.clone(), dst.clone());
            async move {
                // a file taken from an earlier backup is copied again (inside the backup
                // storage, cheap) so that it is checked against that backup's manifest
                if item.base.is_some() {
                    return Ok(false);
                }
                copied_before(&src, &dst, &item).await
            }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

async fn copied_before(from: &Storage, dst: &Storage, item: &CopyItem) -> Result<bool> {
    let Some((size, dst_tag)) = dst.size_and_etag(&item.dst).await? else {
        return Ok(false);
    };
    if size != item.size {
        return Ok(false);
    }
    let plain = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.contains('-'));
    if plain(&dst_tag) {
        if let Some((_, src_tag)) = from.size_and_etag(&item.src).await? {
            if plain(&src_tag) && src_tag != dst_tag {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Removes the binlogs of backup `name` that `planned` (destination paths) does not name: files
/// an earlier run copied of segments compacted away since.
pub async fn remove_unplanned(
    backups: &Storage,
    name: &str,
    planned: &[CopyItem],
) -> Result<usize> {
    let keep: HashSet<&str> = planned.iter().map(|i| i.dst.as_str()).collect();
    let dir = format!("{}/binlogs", layout::backup_dir(name));
    let mut removed = 0;
    for f in backups.list_files(&dir).await? {
        if !keep.contains(f.rel.as_str()) {
            backups.delete(&f.rel).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn storage() -> Storage {
        Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "root",
            crate::storage::tests_support::config(),
        )
    }

    #[tokio::test]
    async fn a_binlog_backup_resumes_with_its_recorded_request() {
        let s = storage();
        let first = CreateBackupRequest {
            name: "b1".into(),
            collections: vec!["db1.a".into()],
            incremental: true,
            ..Default::default()
        };
        record(&s, &first).await.unwrap();
        let mut again = CreateBackupRequest {
            name: "b1".into(),
            resume: true,
            ..Default::default()
        };
        load_into(&s, &mut again).await.unwrap();
        assert_eq!(again.collections, ["db1.a"]);
        assert!(again.incremental && !again.logical);
    }

    #[tokio::test]
    async fn an_interrupted_logical_backup_is_not_resumed_as_a_binlog_one() {
        let s = storage();
        let first = CreateBackupRequest {
            name: "l1".into(),
            logical: true,
            ..Default::default()
        };
        record(&s, &first).await.unwrap();
        let mut again = CreateBackupRequest {
            name: "l1".into(),
            resume: true,
            ..Default::default()
        };
        let err = load_into(&s, &mut again).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(m) if m.contains("logical backup, which cannot be resumed")),
            "{err}"
        );
    }
}

//! Logical backups: rows read through Milvus' API (Query in primary-key order, bounded pages)
//! into Parquet files, and restored with Insert. They need no access to Milvus' bucket and no
//! Import, so they work with managed Milvus, Milvus Lite and across major versions.
//!
//! A logical backup has the metadata files of a binlog backup (`format: "logical"`, the
//! collections' schemas, partitions, indexes and aliases, `live_rows` = rows written), no
//! segments, and `meta/logical_meta.json` listing its Parquet files:
//! `<name>/logical/<db>/<collection>/<partition>/part-<n>.parquet` (see [`columns`] for the
//! column types). The manifest covers the Parquet files, so `verify` checks them.
//!
//! - [`reader`]: the paged, resumable primary-key-order reader.
//! - [`writer`]: Parquet files of bounded size, written to the backup storage.
//! - [`backup`]: one collection's rows into files (called by `commands::create`).
//! - [`restore`]: checks and batched inserts (called by `commands::restore`).

pub mod backup;
pub mod columns;
pub mod reader;
pub mod restore;
pub mod writer;

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    format::{layout, BackupInfo},
    storage::Storage,
};

/// `BackupInfo.format` of a logical backup.
pub const FORMAT: &str = "logical";

/// The partition folder of collections with a partition key (read and restored whole).
pub const ALL_PARTITIONS_DIR: &str = "_all";

/// Whether a backup is logical.
pub fn is_logical(info: &BackupInfo) -> bool {
    info.format == FORMAT
}

/// `meta/logical_meta.json`: the Parquet files of a logical backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogicalMeta {
    pub version: u32,
    pub collections: Vec<LogicalCollection>,
}

/// One collection's files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogicalCollection {
    pub db: String,
    pub collection: String,
    pub rows: i64,
    pub partitions: Vec<LogicalPartition>,
}

/// One partition's files (`partition` empty: the whole collection, which has a partition key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogicalPartition {
    pub partition: String,
    pub rows: i64,
    pub files: Vec<LogicalFile>,
}

/// One Parquet file, its path relative to the backup's folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogicalFile {
    pub path: String,
    pub rows: i64,
    pub bytes: u64,
}

impl LogicalMeta {
    /// Reads a backup's `logical_meta.json`.
    pub async fn read(storage: &Storage, backup: &str) -> Result<LogicalMeta> {
        let file = layout::meta_file(backup, layout::LOGICAL_META);
        let corrupt = |reason: String| Error::CorruptMetadata {
            name: backup.into(),
            file: layout::LOGICAL_META.into(),
            reason,
        };
        let bytes = storage
            .read_opt(&file)
            .await?
            .ok_or_else(|| corrupt("the file is missing".into()))?;
        let meta: LogicalMeta =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let files = meta.collections.iter().flat_map(|c| &c.partitions);
        for f in files.flat_map(|p| &p.files) {
            if !inside_backup(&f.path) {
                return Err(corrupt(format!(
                    "it names the file '{}', which is not in the backup's logical/ folder: a damaged or crafted backup, not restored",
                    f.path
                )));
            }
        }
        Ok(meta)
    }

    /// Writes it (before `backup_meta.json`, which marks the backup complete).
    pub async fn write(&self, storage: &Storage, backup: &str) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| {
            Error::InvalidRequest(format!("cannot encode {}: {e}", layout::LOGICAL_META))
        })?;
        storage
            .write(
                &layout::meta_file(backup, layout::LOGICAL_META),
                json.into(),
            )
            .await
    }

    /// The files of `db.collection`.
    pub fn collection(&self, db: &str, collection: &str) -> Option<&LogicalCollection> {
        self.collections
            .iter()
            .find(|c| c.db == db && c.collection == collection)
    }
}

/// Whether `path` (relative to a backup's folder) stays in its `logical/` folder: no absolute
/// path, no `.` or `..` step, no empty step.
fn inside_backup(path: &str) -> bool {
    let mut steps = path.split('/');
    steps.next() == Some("logical")
        && steps.clone().next().is_some()
        && steps.all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
}

#[cfg(test)]
mod path_tests {
    use super::inside_backup;

    #[test]
    fn only_files_in_the_backups_logical_folder_are_read() {
        assert!(inside_backup(
            "logical/default/c/_default/part-00000.parquet"
        ));
        for bad in [
            "../other/logical/default/c/_default/part-00000.parquet",
            "logical/../../other/x.parquet",
            "/etc/passwd",
            "logical//x.parquet",
            "logical",
            "binlogs/insert_log/1/2/3/100/1",
            "logical/a\\..\\b",
        ] {
            assert!(!inside_backup(bad), "{bad}");
        }
    }
}

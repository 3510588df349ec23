//! Where things live inside a backup storage root, exactly as milvus-backup lays them out:
//!
//! ```text
//! <root>/<name>/meta/{backup_meta,collection_meta,partition_meta,segment_meta,full_meta}.json
//! <root>/<name>/binlogs/insert_log/<collection>/<partition>/<segment>/<field>/<log>
//! <root>/<name>/binlogs/delta_log/<collection>/<partition>/<segment>/<log>
//! ```
//! Backups of Milvus 2.4+ have a group folder between partition and segment, as milvus-backup
//! v0.4.4+ writes them (see [`backup_segment_files_dir`]); collection-level L0 segments sit
//! under partition `-1` without one: `binlogs/delta_log/<collection>/-1/<segment>/<log>`.
//! All functions return paths relative to the backup root, without leading or trailing slashes.

/// The metadata file whose presence marks a backup as complete (written last).
pub const BACKUP_META: &str = "backup_meta.json";
/// The whole tree in one file.
pub const FULL_META: &str = "full_meta.json";
/// Collection level file.
pub const COLLECTION_META: &str = "collection_meta.json";
/// Partition level file.
pub const PARTITION_META: &str = "partition_meta.json";
/// Segment level file.
pub const SEGMENT_META: &str = "segment_meta.json";

/// A logical backup's list of Parquet files (written before [`BACKUP_META`]).
pub const LOGICAL_META: &str = "logical_meta.json";

/// `<name>/logical/<db>/<collection>/<partition>/part-<nnnnn>.parquet`: one Parquet file of a
/// logical backup (`partition` is `_all` for collections with a partition key, whose rows are
/// read and restored as one).
pub fn logical_file(name: &str, db: &str, collection: &str, partition: &str, n: usize) -> String {
    format!("{name}/logical/{db}/{collection}/{partition}/part-{n:05}.parquet")
}

/// Kinds of binlog a segment has in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// Row data, one folder per field.
    Insert,
    /// Deleted primary keys.
    Delta,
}

impl LogKind {
    /// Folder name in Milvus' storage and in backups.
    pub fn dir(self) -> &'static str {
        match self {
            LogKind::Insert => "insert_log",
            LogKind::Delta => "delta_log",
        }
    }
}

/// `<name>`: the backup's folder.
pub fn backup_dir(name: &str) -> String {
    name.to_string()
}

/// What an unfinished backup records to be resumed (`create --resume`): its request. In `meta/`,
/// next to the files that make a backup visible, which are written last.
pub const RESUME_FILE: &str = "milvault_resume.json";

/// `<name>/meta`: the folder of a backup's metadata files.
pub fn meta_dir(name: &str) -> String {
    format!("{name}/meta")
}

/// `<name>/meta/<file>`.
pub fn meta_file(name: &str, file: &str) -> String {
    format!("{name}/meta/{file}")
}

/// `<name>/binlogs/<kind>/<collection>/<partition>/<segment>`: a segment's folder in a backup.
pub fn backup_segment_dir(
    name: &str,
    kind: LogKind,
    collection: i64,
    partition: i64,
    segment: i64,
) -> String {
    format!(
        "{name}/binlogs/{}/{collection}/{partition}/{segment}",
        kind.dir()
    )
}

/// Where a segment's files go in a backup, as milvus-backup v0.5.16 puts them
/// (`core/backup/coll_dml_task.go`, `insertLogsAttrs` / `deltaLogAttrs`):
/// `<name>/binlogs/<kind>/<collection>/<partition>/<group>/<segment>` when `group` is not 0,
/// except delta logs of collection-level L0 segments (partition `-1`), which never have a group
/// folder; `group` 0 (milvault's 2.3 backups, milvus-backup before v0.4.4) is
/// [`backup_segment_dir`].
pub fn backup_segment_files_dir(
    name: &str,
    kind: LogKind,
    collection: i64,
    partition: i64,
    group: i64,
    segment: i64,
) -> String {
    if group == 0 || (kind == LogKind::Delta && partition == crate::format::meta::ALL_PARTITIONS) {
        return backup_segment_dir(name, kind, collection, partition, segment);
    }
    format!(
        "{name}/binlogs/{}/{collection}/{partition}/{group}/{segment}",
        kind.dir()
    )
}

/// `<kind>/<collection>/<partition>/<segment>`: a segment's folder under Milvus' root path.
pub fn milvus_segment_dir(kind: LogKind, collection: i64, partition: i64, segment: i64) -> String {
    format!("{}/{collection}/{partition}/{segment}", kind.dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_milvus_backup() {
        assert_eq!(meta_file("b1", BACKUP_META), "b1/meta/backup_meta.json");
        assert_eq!(
            backup_segment_dir("b1", LogKind::Insert, 1, 2, 3),
            "b1/binlogs/insert_log/1/2/3"
        );
        assert_eq!(
            backup_segment_dir("b1", LogKind::Delta, 1, 2, 3),
            "b1/binlogs/delta_log/1/2/3"
        );
        assert_eq!(
            milvus_segment_dir(LogKind::Insert, 1, 2, 3),
            "insert_log/1/2/3"
        );
    }

    #[test]
    fn grouped_paths_match_milvus_backup_v0_5_16() {
        // the fixture's files: tests/fixtures/milvus-backup/v0_5_16/mb_v0_5_16/binlogs/...
        let (c, p) = (453000000000000100, 453000000000000101);
        assert_eq!(
            backup_segment_files_dir("b", LogKind::Insert, c, p, 453000000000000201, 453000000000000201),
            "b/binlogs/insert_log/453000000000000100/453000000000000101/453000000000000201/453000000000000201"
        );
        assert_eq!(
            backup_segment_files_dir("b", LogKind::Delta, c, p, 453000000000000202, 453000000000000202),
            "b/binlogs/delta_log/453000000000000100/453000000000000101/453000000000000202/453000000000000202"
        );
        // collection-level L0: partition -1, no group folder
        assert_eq!(
            backup_segment_files_dir("b", LogKind::Delta, c, -1, 0, 453000000000000203),
            "b/binlogs/delta_log/453000000000000100/-1/453000000000000203"
        );
        assert_eq!(
            backup_segment_files_dir(
                "b",
                LogKind::Delta,
                c,
                -1,
                453000000000000203,
                453000000000000203
            ),
            "b/binlogs/delta_log/453000000000000100/-1/453000000000000203"
        );
        // no group: today's layout
        assert_eq!(
            backup_segment_files_dir("b", LogKind::Insert, 1, 2, 0, 3),
            backup_segment_dir("b", LogKind::Insert, 1, 2, 3)
        );
    }

    #[test]
    fn logical_paths() {
        assert_eq!(
            logical_file("b1", "default", "c", "_default", 3),
            "b1/logical/default/c/_default/part-00003.parquet"
        );
    }
}

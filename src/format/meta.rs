//! milvus-backup's metadata types (core/proto/backup.proto), in the JSON shape its Go code writes
//! with `encoding/json` (not protojson): proto field names as keys (`fieldID`, `autoID`,
//! `errorMessage` as spelled in the .proto), enums as numbers, int64/uint64 as JSON numbers,
//! `bytes` as base64 strings, empty values left out (`omitempty`).
//! Every field has a default so that files from other versions of either tool still load; keys
//! this version does not know are ignored, as Go's decoder does. The fields are those of
//! milvus-backup v0.5.16 (plus `format` and `snapshot_backup` of its main branch); see
//! `format/compat.rs` (tests only) for what each version writes. milvault's own additions are
//! prefixed `milvault`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A key/value pair (properties, type and index parameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValuePair {
    #[serde(skip_serializing_if = "is_default")]
    pub key: String,
    #[serde(skip_serializing_if = "is_default")]
    pub value: String,
}

impl KeyValuePair {
    /// Builds a pair.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValuePair {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// One field of a collection schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldSchema {
    #[serde(rename = "fieldID", skip_serializing_if = "is_default")]
    pub field_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub is_primary_key: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    /// Milvus' DataType number (5 Int64, 21 VarChar, 23 JSON, 101 FloatVector...).
    #[serde(skip_serializing_if = "is_default")]
    pub data_type: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub type_params: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index_params: Vec<KeyValuePair>,
    #[serde(rename = "autoID", skip_serializing_if = "is_default")]
    pub auto_id: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub state: i32,
    #[serde(skip_serializing_if = "is_default")]
    pub element_type: i32,
    #[serde(skip_serializing_if = "is_default")]
    pub is_dynamic: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub is_partition_key: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub is_clustering_key: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub nullable: bool,
    /// v0.5.0-v0.5.7: the default value as the raw bytes of a protobuf `ValueField` in a JSON
    /// string (Go writes a `string` holding binary; bytes that are not UTF-8 come out as U+FFFD).
    /// Deprecated since v0.5.8, which writes [`FieldSchema::default_value_base64`] instead.
    #[serde(skip_serializing_if = "is_default")]
    pub default_value_proto: String,
    #[serde(skip_serializing_if = "is_default")]
    pub is_function_output: bool,
    /// The default value as a base64 protobuf `ValueField` (v0.5.8+).
    #[serde(skip_serializing_if = "is_default")]
    pub default_value_base64: String,
}

impl FieldSchema {
    /// The dynamic field's name (`$meta`); v0.5.13+ lists it in the schema with `is_dynamic`.
    pub const DYNAMIC_FIELD: &'static str = "$meta";

    /// Whether this is the collection's hidden dynamic field (`$meta`), which Milvus creates
    /// itself from `enable_dynamic_field`: it is never passed to CreateCollection.
    pub fn is_dynamic_field(&self) -> bool {
        self.is_dynamic
    }

    /// The protobuf bytes of the field's `ValueField` default, from `default_value_base64` or,
    /// for v0.5.0-v0.5.7 backups, `default_value_proto`; `None` when it has none.
    pub fn default_value_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        use base64::Engine as _;
        if !self.default_value_base64.is_empty() {
            return base64::engine::general_purpose::STANDARD
                .decode(&self.default_value_base64)
                .map(Some)
                .map_err(|e| {
                    format!(
                        "field '{}': default_value_base64 is not base64: {e}",
                        self.name
                    )
                });
        }
        if self.default_value_proto.is_empty() {
            return Ok(None);
        }
        if self.default_value_proto.contains('\u{FFFD}') {
            return Err(format!(
                "field '{}': the backup's default_value_proto lost bytes when milvus-backup wrote it as JSON; set the default value again after the restore",
                self.name
            ));
        }
        Ok(Some(self.default_value_proto.as_bytes().to_vec()))
    }
}

/// A function of the schema (v0.5.0+): BM25 (type 1) or TextEmbedding (type 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionSchema {
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    /// milvus-backup's FunctionType: 0 Unknown, 1 BM25, 2 TextEmbedding.
    #[serde(rename = "type", skip_serializing_if = "is_default")]
    pub function_type: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_field_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_field_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_field_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_field_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValuePair>,
}

/// FunctionType BM25.
pub const FUNCTION_BM25: i32 = 1;
/// FunctionType TextEmbedding.
pub const FUNCTION_TEXT_EMBEDDING: i32 = 2;

/// An array-of-structs field (v0.5.9+): its sub-fields are stored like top-level fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StructArrayFieldSchema {
    #[serde(rename = "fieldID", skip_serializing_if = "is_default")]
    pub field_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSchema>,
}

/// A collection schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectionSchema {
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(rename = "autoID", skip_serializing_if = "is_default")]
    pub auto_id: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSchema>,
    #[serde(skip_serializing_if = "is_default")]
    pub enable_dynamic_field: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<KeyValuePair>,
    /// v0.5.0+.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<FunctionSchema>,
    /// v0.5.9+.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub struct_array_fields: Vec<StructArrayFieldSchema>,
}

/// An index on a field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub field_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub index_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub index_type: String,
    /// What DescribeIndex returned: index_type, metric_type, params (JSON).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub index_id: i64,
    /// v0.5.13+ (`with_index_extra`): what etcd holds besides DescribeIndex.
    #[serde(skip_serializing_if = "is_default")]
    pub field_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub create_time: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub type_params: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index_params: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_index_params: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "is_default")]
    pub is_auto_index: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub min_index_version: i32,
    #[serde(skip_serializing_if = "is_default")]
    pub max_index_version: i32,
}

/// One binlog file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Binlog {
    #[serde(skip_serializing_if = "is_default")]
    pub entries_num: i64,
    /// Deprecated in milvus-backup v0.5.8; read, never written by milvault.
    #[serde(skip_serializing_if = "is_default")]
    pub timestamp_from: u64,
    #[serde(skip_serializing_if = "is_default")]
    pub timestamp_to: u64,
    /// Where the file was in Milvus' storage when the backup was made.
    #[serde(skip_serializing_if = "is_default")]
    pub log_path: String,
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub log_size: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub log_id: i64,
}

/// The binlogs of one field (insert logs) or of the segment's deletes (delta logs, field 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldBinlog {
    #[serde(rename = "fieldID", skip_serializing_if = "is_default")]
    pub field_id: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binlogs: Vec<Binlog>,
}

/// A sealed segment and its files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentBackupInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub segment_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub collection_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub partition_id: i64,
    /// Rows written to the segment, deleted ones included.
    #[serde(skip_serializing_if = "is_default")]
    pub num_of_rows: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binlogs: Vec<FieldBinlog>,
    /// Deprecated (v0.5.8); read, never written by milvault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statslogs: Vec<FieldBinlog>,
    /// Delete logs. v0.4.x writes `[{}]` (field 0, no binlogs) for a segment without deletes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deltalogs: Vec<FieldBinlog>,
    /// Bytes of all its binlogs.
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub size: i64,
    /// The folder between partition and segment in the backup's binlog paths
    /// (`binlogs/insert_log/<coll>/<part>/<group>/<seg>/...`); 0 = no such folder (milvault's own
    /// backups, milvus-backup before v0.4.4, and collection-level L0 segments). milvus-backup
    /// v0.4.4+ sets it to the segment id.
    #[serde(skip_serializing_if = "is_default")]
    pub group_id: i64,
    /// Deprecated (v0.5.13): the segment's files were copied.
    #[serde(skip_serializing_if = "is_default")]
    pub backuped: bool,
    /// An L0 segment (Milvus 2.4+): deletes only, no insert logs.
    #[serde(skip_serializing_if = "is_default")]
    pub is_l0: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub v_channel: String,
    /// Milvus' binlog format: 0/1 the classic one, 2 the Milvus 2.6 packed format (v0.5.8+).
    #[serde(skip_serializing_if = "is_default")]
    pub storage_version: i64,
}

impl SegmentBackupInfo {
    /// Every binlog of the segment, insert logs first.
    pub fn all_binlogs(&self) -> impl Iterator<Item = &Binlog> {
        self.binlogs
            .iter()
            .chain(self.deltalogs.iter())
            .flat_map(|f| f.binlogs.iter())
    }

    /// Whether it has any delete log file (an entry without files does not count).
    pub fn has_delta_files(&self) -> bool {
        self.deltalogs.iter().any(|f| !f.binlogs.is_empty())
    }
}

/// The partition id of L0 segments that apply to every partition of a collection; milvus-backup
/// lists them in [`CollectionBackupInfo::l0_segments`] and stores them under
/// `binlogs/delta_log/<coll>/-1/<seg>/`.
pub const ALL_PARTITIONS: i64 = -1;

/// A partition and its segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartitionBackupInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub partition_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub partition_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub collection_id: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segment_backups: Vec<SegmentBackupInfo>,
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub size: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub load_state: String,
}

/// A collection: schema, settings, indexes, partitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectionBackupInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub collection_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub db_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub collection_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<CollectionSchema>,
    #[serde(skip_serializing_if = "is_default")]
    pub shards_num: i32,
    /// 0 Strong, 1 Session, 2 Bounded, 3 Eventually, 4 Customized.
    #[serde(skip_serializing_if = "is_default")]
    pub consistency_level: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partition_backups: Vec<PartitionBackupInfo>,
    #[serde(skip_serializing_if = "is_default")]
    pub backup_timestamp: u64,
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub size: i64,
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub has_index: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index_infos: Vec<IndexInfo>,
    #[serde(skip_serializing_if = "is_default")]
    pub load_state: String,
    #[serde(skip_serializing_if = "is_default")]
    pub backup_physical_timestamp: u64,
    /// Per virtual channel, its checkpoint (a base64 protobuf MsgPosition).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub channel_checkpoints: BTreeMap<String, String>,
    /// L0 segments that apply to all partitions (partition id -1); L0 segments of one partition
    /// are in that partition's `segment_backups` with `is_l0`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub l0_segments: Vec<SegmentBackupInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "is_default")]
    pub db_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub created_timestamp: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_channel_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub physical_channel_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Main branch, `format: "snapshot"` backups: where the exported bundle is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_backup: Option<SnapshotBackupInfo>,
    /// milvault: live rows (`count(*)`, deletes applied) when the backup was made, if Milvus could
    /// count them (the collection was loaded). Restores are checked against it.
    #[serde(rename = "milvault_live_rows", skip_serializing_if = "Option::is_none")]
    pub live_rows: Option<i64>,
}

impl CollectionBackupInfo {
    /// `db.collection`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", db_or_default(&self.db_name), self.collection_name)
    }
    /// Live rows when recorded, else the rows stored in its segments. Kept for the `rows` fields
    /// of the front ends; prefer [`Self::total_rows`] (stored) and `live_rows` (live), which every
    /// front end shows side by side.
    pub fn rows(&self) -> i64 {
        self.live_rows
            .unwrap_or_else(|| self.segments().map(|s| s.num_of_rows).sum())
    }

    /// Segments of all partitions.
    pub fn segments(&self) -> impl Iterator<Item = &SegmentBackupInfo> {
        self.partition_backups
            .iter()
            .flat_map(|p| p.segment_backups.iter())
    }

    /// Segments of all partitions, then the collection-level L0 segments.
    pub fn all_segments(&self) -> impl Iterator<Item = &SegmentBackupInfo> {
        self.segments().chain(self.l0_segments.iter())
    }
    /// Rows written to its segments, deleted ones included.
    pub fn total_rows(&self) -> i64 {
        self.segments().map(|s| s.num_of_rows).sum()
    }
}

/// The database name Milvus means when none is given.
pub fn db_or_default(db: &str) -> &str {
    if db.is_empty() {
        "default"
    } else {
        db
    }
}

/// A database in the backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseBackupInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub db_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub db_id: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<KeyValuePair>,
    /// v0.5.13+: the database's encryption zone key, if it has one.
    #[serde(skip_serializing_if = "is_default")]
    pub ezk: String,
}

/// Where a collection's snapshot bundle is (milvus-backup main, `format: "snapshot"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnapshotBackupInfo {
    /// Relative to the backup's folder: `bundle/snapshots/<coll>/metadata/<snapshot>.json`.
    #[serde(skip_serializing_if = "is_default")]
    pub metadata_path: String,
    #[serde(skip_serializing_if = "is_default")]
    pub total_files: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub total_bytes: i64,
}

/// The RPC channel position milvus-backup records for CDC (v0.5.x).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RpcChannelInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub position: String,
}

/// milvault's own record of how the backup was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MilvaultInfo {
    /// milvault's version.
    pub tool_version: String,
    /// Unix milliseconds when the job started and ended.
    pub start_time_ms: i64,
    pub end_time_ms: i64,
    /// Whether only metadata (no binlogs) was copied.
    pub meta_only: bool,
    /// Binlog files copied.
    pub file_count: u64,
    /// The policy that made the backup (its retention may prune it); none for backups made by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// How the binlogs moved (`server-side`, `server-side across buckets`, `local file`,
    /// `stream`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_mode: Option<String>,
    /// Binlog bytes that passed through milvault on their way (0 for server-side copies).
    #[serde(skip_serializing_if = "is_default")]
    pub bytes_streamed: u64,
    /// Incremental backups: the earlier backups unchanged files were copied from (for
    /// information; this backup holds its own copy of every file, see src/engine/incremental.rs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incremental_bases: Vec<String>,
    /// Files and bytes copied from those bases instead of Milvus' bucket.
    #[serde(skip_serializing_if = "is_default")]
    pub files_from_base: u64,
    #[serde(skip_serializing_if = "is_default")]
    pub bytes_from_base: u64,
    /// Resumed backups: bytes an interrupted run had copied already, kept.
    #[serde(skip_serializing_if = "is_default")]
    pub bytes_resumed: u64,
}

/// The root of a backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub id: String,
    /// 2 = BACKUP_SUCCESS. Always 2 in stored metadata (it is written only on success).
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub state_code: i32,
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "is_default")]
    pub backup_timestamp: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collection_backups: Vec<CollectionBackupInfo>,
    /// Always written: milvus-backup drops `omitempty` here (scripts/gen_proto.sh).
    pub size: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub milvus_version: String,
    /// Users, roles and grants (v0.5.0+ with `--rbac`); kept as milvus-backup wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rbac_meta: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_channel_info: Option<RpcChannelInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub database_backups: Vec<DatabaseBackupInfo>,
    /// v0.5.13+ (Milvus 2.6 FlushAll): per physical channel, a base64 message.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flush_all_msgs_base64: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub control_channel_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub physical_channel_names: Vec<String>,
    /// Empty for binlog backups; `"snapshot"` for milvus-backup main's snapshot bundles.
    #[serde(skip_serializing_if = "is_default")]
    pub format: String,
    #[serde(rename = "milvault", skip_serializing_if = "Option::is_none")]
    pub milvault: Option<MilvaultInfo>,
}

/// milvus-backup's BACKUP_SUCCESS.
pub const STATE_SUCCESS: i32 = 2;

/// `{"infos": [...]}`: the level files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LevelInfos<T> {
    pub infos: Vec<T>,
}

impl BackupInfo {
    /// The four level files milvus-backup writes besides full_meta.json, shaped as v0.5.13+
    /// writes them: backup (no collections), collections (partitions without their segments, no
    /// `l0_segments`), partitions (no segments), segments (of the partitions; collection-level L0
    /// segments are only in full_meta.json, as in milvus-backup).
    pub fn to_levels(
        &self,
    ) -> (
        BackupInfo,
        LevelInfos<CollectionBackupInfo>,
        LevelInfos<PartitionBackupInfo>,
        LevelInfos<SegmentBackupInfo>,
    ) {
        let mut top = self.clone();
        top.collection_backups.clear();
        let (mut colls, mut parts, mut segs) = (Vec::new(), Vec::new(), Vec::new());
        for c in &self.collection_backups {
            let mut c2 = c.clone();
            c2.l0_segments.clear();
            for p in c2.partition_backups.iter_mut() {
                p.segment_backups.clear();
            }
            colls.push(c2);
            for p in &c.partition_backups {
                let mut p2 = p.clone();
                p2.segment_backups.clear();
                parts.push(p2);
                segs.extend(p.segment_backups.iter().cloned());
            }
        }
        (
            top,
            LevelInfos { infos: colls },
            LevelInfos { infos: parts },
            LevelInfos { infos: segs },
        )
    }

    /// Rebuilds the tree from the level files (for backups without full_meta.json). Partitions
    /// come from the partition level (milvus-backup before v0.5.13 also embeds them, with their
    /// segments, in the collection level; those copies are replaced), collection-level L0
    /// segments from the collection level where v0.4.x-v0.5.12 keep them.
    pub fn from_levels(
        top: BackupInfo,
        colls: LevelInfos<CollectionBackupInfo>,
        parts: LevelInfos<PartitionBackupInfo>,
        segs: LevelInfos<SegmentBackupInfo>,
    ) -> BackupInfo {
        let mut info = top;
        let mut parts = parts.infos;
        for p in parts.iter_mut() {
            p.segment_backups = segs
                .infos
                .iter()
                .filter(|s| s.partition_id == p.partition_id && s.collection_id == p.collection_id)
                .cloned()
                .collect();
        }
        info.collection_backups = colls
            .infos
            .into_iter()
            .map(|mut c| {
                c.partition_backups = parts
                    .iter()
                    .filter(|p| p.collection_id == c.collection_id)
                    .cloned()
                    .collect();
                c
            })
            .collect();
        info
    }

    /// Rows in all its segments, deleted ones included.
    pub fn total_rows(&self) -> i64 {
        self.collection_backups.iter().map(|c| c.total_rows()).sum()
    }

    /// Live rows (`count(*)`, deletes applied) of all its collections, when every collection
    /// recorded them; `None` when any was not counted (`Some(0)` without collections).
    pub fn live_rows(&self) -> Option<i64> {
        self.collection_backups.iter().map(|c| c.live_rows).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.collection_backups
            .iter()
            .map(|c| c.segments().count())
            .sum()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Shaped like the files milvus-backup writes (Go encoding/json of backuppb, omitempty).
    const MILVUS_BACKUP_COLLECTION_META: &str = r#"{"infos":[{"id":"c0a8","collection_id":449577,"db_name":"default","collection_name":"hello_milvus","schema":{"name":"hello_milvus","description":"hello_milvus is the simplest demo","fields":[{"fieldID":100,"name":"pk","is_primary_key":true,"data_type":5},{"fieldID":101,"name":"random","data_type":11},{"fieldID":102,"name":"embeddings","data_type":101,"type_params":[{"key":"dim","value":"8"}]}],"enable_dynamic_field":true},"shards_num":2,"consistency_level":2,"backup_timestamp":449577661593337857,"size":12345,"has_index":true,"index_infos":[{"field_name":"embeddings","index_name":"_default_idx_102","index_type":"IVF_FLAT","params":{"index_type":"IVF_FLAT","metric_type":"L2","params":"{\"nlist\":128}"}}],"load_state":"Loaded","backup_physical_timestamp":1715000000,"some_future_field":{"x":1}}]}"#;

    #[test]
    fn reads_milvus_backup_collection_meta() {
        let level: LevelInfos<CollectionBackupInfo> =
            serde_json::from_str(MILVUS_BACKUP_COLLECTION_META).unwrap();
        let c = &level.infos[0];
        assert_eq!(c.collection_id, 449577);
        assert_eq!(c.qualified_name(), "default.hello_milvus");
        let schema = c.schema.as_ref().unwrap();
        assert!(schema.enable_dynamic_field);
        assert_eq!(schema.fields[0].field_id, 100);
        assert!(schema.fields[0].is_primary_key);
        assert_eq!(
            schema.fields[2].type_params[0],
            KeyValuePair::new("dim", "8")
        );
        assert_eq!(c.index_infos[0].params["metric_type"], "L2");
        assert_eq!(c.consistency_level, 2);
        assert_eq!(c.live_rows, None);
    }

    #[test]
    fn writes_go_style_keys_and_omits_empty_values() {
        let seg = SegmentBackupInfo {
            segment_id: 7,
            collection_id: 1,
            partition_id: 2,
            num_of_rows: 10,
            binlogs: vec![FieldBinlog {
                field_id: 100,
                binlogs: vec![Binlog {
                    log_path: "files/insert_log/1/2/7/100/9".into(),
                    log_size: 42,
                    log_id: 9,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let json = serde_json::to_string(&seg).unwrap();
        assert_eq!(
            json,
            r#"{"segment_id":7,"collection_id":1,"partition_id":2,"num_of_rows":10,"binlogs":[{"fieldID":100,"binlogs":[{"log_path":"files/insert_log/1/2/7/100/9","log_size":42,"log_id":9}]}],"size":0}"#,
            "size is written even when 0, as Go does (no omitempty in backup.pb.go)"
        );
    }

    #[test]
    fn levels_round_trip() {
        let seg = |id, part| SegmentBackupInfo {
            segment_id: id,
            collection_id: 1,
            partition_id: part,
            num_of_rows: 5,
            ..Default::default()
        };
        let info = BackupInfo {
            name: "b".into(),
            state_code: STATE_SUCCESS,
            collection_backups: vec![CollectionBackupInfo {
                collection_id: 1,
                collection_name: "c".into(),
                partition_backups: vec![
                    PartitionBackupInfo {
                        partition_id: 10,
                        collection_id: 1,
                        segment_backups: vec![seg(100, 10), seg(101, 10)],
                        ..Default::default()
                    },
                    PartitionBackupInfo {
                        partition_id: 11,
                        collection_id: 1,
                        segment_backups: vec![seg(102, 11)],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (a, b, c, d) = info.to_levels();
        assert!(a.collection_backups.is_empty());
        assert_eq!(d.infos.len(), 3);
        let back = BackupInfo::from_levels(a, b, c, d);
        assert_eq!(back, info);
        assert_eq!(back.total_rows(), 15);
        assert_eq!(back.segment_count(), 3);
    }

    /// A collection of one partition whose segments hold `stored` rows, with `live` recorded
    /// (shared with the front ends' tests).
    pub(crate) fn collection(id: i64, stored: &[i64], live: Option<i64>) -> CollectionBackupInfo {
        CollectionBackupInfo {
            collection_id: id,
            collection_name: format!("c{id}"),
            partition_backups: vec![PartitionBackupInfo {
                partition_id: 10,
                collection_id: id,
                segment_backups: stored
                    .iter()
                    .enumerate()
                    .map(|(i, n)| SegmentBackupInfo {
                        segment_id: i as i64,
                        collection_id: id,
                        partition_id: 10,
                        num_of_rows: *n,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            live_rows: live,
            ..Default::default()
        }
    }

    #[test]
    fn stored_and_live_rows_of_a_collection() {
        let counted = collection(1, &[1000, 2000], Some(2700));
        assert_eq!(counted.total_rows(), 3000);
        assert_eq!(counted.live_rows, Some(2700));
        assert_eq!(counted.rows(), 2700, "rows: live when recorded");
        let uncounted = collection(2, &[1000, 2000], None);
        assert_eq!(uncounted.total_rows(), 3000);
        assert_eq!(uncounted.rows(), 3000, "rows: stored when not counted");
    }

    #[test]
    fn live_rows_of_a_backup_only_when_every_collection_was_counted() {
        let backup = |collection_backups| BackupInfo {
            collection_backups,
            ..Default::default()
        };
        let both = backup(vec![
            collection(1, &[3000], Some(2700)),
            collection(2, &[100], Some(100)),
        ]);
        assert_eq!(both.total_rows(), 3100);
        assert_eq!(both.live_rows(), Some(2800));
        let one = backup(vec![
            collection(1, &[3000], Some(2700)),
            collection(2, &[100], None),
        ]);
        assert_eq!(one.total_rows(), 3100);
        assert_eq!(one.live_rows(), None);
        assert_eq!(backup(vec![]).live_rows(), Some(0));
    }
}

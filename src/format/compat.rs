//! What milvus-backup's Go code accepts, as a checker for JSON milvault writes: the messages of
//! milvus-backup v0.5.16's `core/proto/backup.proto` (plus main's `format` and `snapshot_backup`)
//! with their field names in declaration order and what Go's `encoding/json` makes of each type.
//! A document passes when every key is a field of its message (or a `milvault` addition, which
//! Go ignores), with the JSON type Go writes and reads (int64/uint64 and
//! enums as integer numbers, never strings), and no zero value (Go's `omitempty` leaves them out).
//!
//! What each generation writes (see tests/fixtures/milvus-backup/README.md):
//! - v0.4.x: task fields (`state_code`, `errorMessage`, `start_time`, `end_time`, `progress`) on
//!   the backup and collections; collection_meta.json embeds partitions with their segments and
//!   `l0_segments`; `group_id` = segment id (v0.4.4+) with a group folder in the binlog paths;
//!   no `log_id`; `deltalogs: [{}]` for segments without deletes; channel_cp_meta.json.
//! - v0.5.0: `functions`, `nullable`, `default_value_proto`, `is_function_output`, `rbac_meta`.
//! - v0.5.8: `storage_version`, `v_channel`, `log_id`, `default_value_base64`,
//!   `database_backups`, `rpc_channel_info`, collection `properties`; collection-level L0
//!   segments (partition -1) get no group folder.
//! - v0.5.9: `struct_array_fields`.
//! - v0.5.13 (same proto through v0.5.16): no task fields; `$meta` listed in the schema;
//!   collection level with partitions stripped of segments and no `l0_segments`; backup level
//!   only `id`, `name`, `size`, `milvus_version`; index extras; `db_id`, `created_timestamp`,
//!   channel names, `aliases`; `flush_all_msgs_base64`, `control_channel_name`, `ezk`.
//! - main: `format` (`"snapshot"`) on the backup, `snapshot_backup` on collections, data in
//!   `bundle/`.

use serde_json::Value;

/// How Go's `encoding/json` writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    /// int32/int64/uint64 and enums: an integer number.
    Int,
    Bool,
    /// `map<string, string>`.
    Map,
    /// A message kept opaque (RBAC, the deprecated `default_value` oneof).
    Any,
    Msg(Message),
    RepStr,
    RepInt,
    Rep(Message),
}

/// The messages of backup.proto that backups hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    BackupInfo,
    CollectionBackupInfo,
    PartitionBackupInfo,
    SegmentBackupInfo,
    FieldBinlog,
    Binlog,
    KeyValuePair,
    CollectionSchema,
    FieldSchema,
    FunctionSchema,
    StructArrayFieldSchema,
    IndexInfo,
    DatabaseBackupInfo,
    RpcChannelInfo,
    SnapshotBackupInfo,
    /// `{"infos": [...]}` of collection_meta.json.
    CollectionLevel,
    /// `{"infos": [...]}` of partition_meta.json.
    PartitionLevel,
    /// `{"infos": [...]}` of segment_meta.json.
    SegmentLevel,
}

use Kind::*;
use Message as M;

/// The fields of a message, in declaration order (the order Go writes them in).
fn fields(m: Message) -> &'static [(&'static str, Kind)] {
    match m {
        M::BackupInfo => &[
            ("id", Str),
            ("state_code", Int),
            ("name", Str),
            ("backup_timestamp", Int),
            ("collection_backups", Rep(M::CollectionBackupInfo)),
            ("size", Int),
            ("milvus_version", Str),
            ("rbac_meta", Any),
            ("rpc_channel_info", Msg(M::RpcChannelInfo)),
            ("database_backups", Rep(M::DatabaseBackupInfo)),
            ("flush_all_msgs_base64", Map),
            ("control_channel_name", Str),
            ("physical_channel_names", RepStr),
            ("format", Str),
        ],
        M::CollectionBackupInfo => &[
            ("id", Str),
            ("collection_id", Int),
            ("db_name", Str),
            ("collection_name", Str),
            ("schema", Msg(M::CollectionSchema)),
            ("shards_num", Int),
            ("consistency_level", Int),
            ("partition_backups", Rep(M::PartitionBackupInfo)),
            ("backup_timestamp", Int),
            ("size", Int),
            ("has_index", Bool),
            ("index_infos", Rep(M::IndexInfo)),
            ("load_state", Str),
            ("backup_physical_timestamp", Int),
            ("channel_checkpoints", Map),
            ("l0_segments", Rep(M::SegmentBackupInfo)),
            ("properties", Rep(M::KeyValuePair)),
            ("db_id", Int),
            ("created_timestamp", Int),
            ("virtual_channel_names", RepStr),
            ("physical_channel_names", RepStr),
            ("aliases", RepStr),
            ("snapshot_backup", Msg(M::SnapshotBackupInfo)),
        ],
        M::PartitionBackupInfo => &[
            ("partition_id", Int),
            ("partition_name", Str),
            ("collection_id", Int),
            ("segment_backups", Rep(M::SegmentBackupInfo)),
            ("size", Int),
            ("load_state", Str),
        ],
        M::SegmentBackupInfo => &[
            ("segment_id", Int),
            ("collection_id", Int),
            ("partition_id", Int),
            ("num_of_rows", Int),
            ("binlogs", Rep(M::FieldBinlog)),
            ("statslogs", Rep(M::FieldBinlog)),
            ("deltalogs", Rep(M::FieldBinlog)),
            ("size", Int),
            ("group_id", Int),
            ("backuped", Bool),
            ("is_l0", Bool),
            ("v_channel", Str),
            ("storage_version", Int),
        ],
        M::FieldBinlog => &[("fieldID", Int), ("binlogs", Rep(M::Binlog))],
        M::Binlog => &[
            ("entries_num", Int),
            ("timestamp_from", Int),
            ("timestamp_to", Int),
            ("log_path", Str),
            ("log_size", Int),
            ("log_id", Int),
        ],
        M::KeyValuePair => &[("key", Str), ("value", Str)],
        M::CollectionSchema => &[
            ("name", Str),
            ("description", Str),
            ("autoID", Bool),
            ("fields", Rep(M::FieldSchema)),
            ("enable_dynamic_field", Bool),
            ("properties", Rep(M::KeyValuePair)),
            ("functions", Rep(M::FunctionSchema)),
            ("struct_array_fields", Rep(M::StructArrayFieldSchema)),
        ],
        M::FieldSchema => &[
            ("fieldID", Int),
            ("name", Str),
            ("is_primary_key", Bool),
            ("description", Str),
            ("data_type", Int),
            ("type_params", Rep(M::KeyValuePair)),
            ("index_params", Rep(M::KeyValuePair)),
            ("autoID", Bool),
            ("state", Int),
            ("element_type", Int),
            ("default_value", Any),
            ("is_dynamic", Bool),
            ("is_partition_key", Bool),
            ("nullable", Bool),
            ("default_value_proto", Str),
            ("is_function_output", Bool),
            ("default_value_base64", Str),
        ],
        M::FunctionSchema => &[
            ("name", Str),
            ("id", Int),
            ("description", Str),
            ("type", Int),
            ("input_field_names", RepStr),
            ("input_field_ids", RepInt),
            ("output_field_names", RepStr),
            ("output_field_ids", RepInt),
            ("params", Rep(M::KeyValuePair)),
        ],
        M::StructArrayFieldSchema => &[
            ("fieldID", Int),
            ("name", Str),
            ("description", Str),
            ("fields", Rep(M::FieldSchema)),
        ],
        M::IndexInfo => &[
            ("field_name", Str),
            ("index_name", Str),
            ("index_type", Str),
            ("params", Map),
            ("index_id", Int),
            ("field_id", Int),
            ("create_time", Int),
            ("type_params", Rep(M::KeyValuePair)),
            ("index_params", Rep(M::KeyValuePair)),
            ("user_index_params", Rep(M::KeyValuePair)),
            ("is_auto_index", Bool),
            ("min_index_version", Int),
            ("max_index_version", Int),
        ],
        M::DatabaseBackupInfo => &[
            ("db_name", Str),
            ("db_id", Int),
            ("properties", Rep(M::KeyValuePair)),
            ("ezk", Str),
        ],
        M::RpcChannelInfo => &[("name", Str), ("position", Str)],
        M::SnapshotBackupInfo => &[
            ("metadata_path", Str),
            ("total_files", Int),
            ("total_bytes", Int),
        ],
        M::CollectionLevel => &[("infos", Rep(M::CollectionBackupInfo))],
        M::PartitionLevel => &[("infos", Rep(M::PartitionBackupInfo))],
        M::SegmentLevel => &[("infos", Rep(M::SegmentBackupInfo))],
    }
}

/// Fields only milvus-backup's main branch has (v0.5.16 ignores them).
const MAIN_ONLY: &[&str] = &["format", "snapshot_backup"];

/// Everything in `doc` (a `message`) that milvus-backup v0.5.16 would not read back as milvault
/// meant it, each as `path: problem`; empty when it reads all of it. `main` also accepts the
/// main branch's fields.
pub fn go_json_problems(doc: &Value, message: Message, main: bool) -> Vec<String> {
    let mut problems = Vec::new();
    check_msg(doc, message, main, "$", &mut problems);
    problems
}

fn check_msg(v: &Value, m: Message, main: bool, at: &str, out: &mut Vec<String>) {
    let Some(obj) = v.as_object() else {
        out.push(format!("{at}: {m:?} must be an object"));
        return;
    };
    let known = fields(m);
    for (key, value) in obj {
        let here = format!("{at}.{key}");
        if key.starts_with("milvault") && matches!(m, M::BackupInfo | M::CollectionBackupInfo) {
            continue; // milvault's additions; Go's decoder skips unknown keys
        }
        let Some(pos) = known.iter().position(|(k, _)| k == key) else {
            out.push(format!("{here}: not a field of {m:?}"));
            continue;
        };
        if !main && MAIN_ONLY.contains(&key.as_str()) {
            out.push(format!("{here}: only milvus-backup main has this field"));
        }
        if is_zero(value) {
            out.push(format!("{here}: zero value written (Go leaves it out)"));
        }
        check_value(value, known[pos].1, main, &here, out);
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false, // a set message is written even when empty
    }
}

fn check_value(v: &Value, kind: Kind, main: bool, at: &str, out: &mut Vec<String>) {
    let bad = |what: &str, out: &mut Vec<String>| out.push(format!("{at}: must be {what}"));
    match kind {
        Str if !v.is_string() => bad("a string", out),
        Int if !(v.is_i64() || v.is_u64()) => bad("an integer number", out),
        Bool if !v.is_boolean() => bad("a boolean", out),
        Map => match v.as_object() {
            Some(o) if o.values().all(Value::is_string) => {}
            _ => bad("an object of strings", out),
        },
        Msg(m) => check_msg(v, m, main, at, out),
        RepStr | RepInt | Rep(_) => match v.as_array() {
            None => bad("an array", out),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_at = format!("{at}[{i}]");
                    match kind {
                        RepStr => check_value(item, Str, main, &item_at, out),
                        RepInt => check_value(item, Int, main, &item_at, out),
                        Rep(m) => check_msg(item, m, main, &item_at, out),
                        _ => {}
                    }
                }
            }
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::format::*;

    fn kv(k: &str, v: &str) -> KeyValuePair {
        KeyValuePair::new(k, v)
    }

    /// A milvault backup with every field milvault can write set to something non-zero.
    fn milvault_backup() -> BackupInfo {
        let binlog = |id: i64| Binlog {
            log_path: format!("files/insert_log/1/2/3/100/{id}"),
            log_size: 42,
            log_id: id,
            ..Default::default()
        };
        let seg = |id: i64, part: i64, l0: bool| SegmentBackupInfo {
            segment_id: id,
            collection_id: 449000000000000001,
            partition_id: part,
            num_of_rows: if l0 { 0 } else { 10 },
            binlogs: if l0 {
                vec![]
            } else {
                vec![FieldBinlog {
                    field_id: 100,
                    binlogs: vec![binlog(id * 10)],
                }]
            },
            deltalogs: vec![FieldBinlog {
                field_id: 0,
                binlogs: vec![binlog(id * 10 + 1)],
            }],
            size: 84,
            group_id: if part == ALL_PARTITIONS { 0 } else { id },
            is_l0: l0,
            v_channel: "by-dev-rootcoord-dml_0_1v0".into(),
            storage_version: 2,
            ..Default::default()
        };
        let field = FieldSchema {
            field_id: 101,
            name: "rating".into(),
            description: "stars".into(),
            data_type: 5,
            type_params: vec![kv("a", "b")],
            index_params: vec![kv("c", "d")],
            state: 1,
            element_type: 5,
            is_partition_key: true,
            nullable: true,
            is_function_output: true,
            default_value_base64: "GAc=".into(),
            ..Default::default()
        };
        BackupInfo {
            id: "id-1".into(),
            state_code: STATE_SUCCESS,
            name: "b1".into(),
            backup_timestamp: 1_718_000_000_000,
            size: 168,
            milvus_version: "v2.6.6".into(),
            rbac_meta: Some(serde_json::json!({"users": [{"user": "u"}]})),
            rpc_channel_info: Some(RpcChannelInfo {
                name: "rpc".into(),
                position: "AQ==".into(),
            }),
            database_backups: vec![DatabaseBackupInfo {
                db_name: "db1".into(),
                db_id: 7,
                properties: vec![kv("k", "v")],
                ezk: "key".into(),
            }],
            flush_all_msgs_base64: BTreeMap::from([("pch".into(), "AQ==".into())]),
            control_channel_name: "cch".into(),
            physical_channel_names: vec!["pch".into()],
            milvault: Some(MilvaultInfo {
                tool_version: "1.0".into(),
                start_time_ms: 1,
                end_time_ms: 2,
                file_count: 3,
                ..Default::default()
            }),
            collection_backups: vec![CollectionBackupInfo {
                id: "c-1".into(),
                collection_id: 449000000000000001,
                db_name: "db1".into(),
                collection_name: "c".into(),
                schema: Some(CollectionSchema {
                    name: "c".into(),
                    description: "d".into(),
                    auto_id: true,
                    fields: vec![
                        FieldSchema {
                            field_id: 100,
                            name: "id".into(),
                            is_primary_key: true,
                            data_type: 5,
                            auto_id: true,
                            ..Default::default()
                        },
                        field.clone(),
                        FieldSchema {
                            field_id: 102,
                            name: FieldSchema::DYNAMIC_FIELD.into(),
                            data_type: 23,
                            is_dynamic: true,
                            ..Default::default()
                        },
                    ],
                    enable_dynamic_field: true,
                    properties: vec![kv("p", "q")],
                    functions: vec![FunctionSchema {
                        name: "bm25".into(),
                        id: 1,
                        description: "f".into(),
                        function_type: FUNCTION_BM25,
                        input_field_names: vec!["text".into()],
                        input_field_ids: vec![103],
                        output_field_names: vec!["sparse".into()],
                        output_field_ids: vec![104],
                        params: vec![kv("x", "y")],
                    }],
                    struct_array_fields: vec![StructArrayFieldSchema {
                        field_id: 105,
                        name: "chunks".into(),
                        description: "s".into(),
                        fields: vec![field],
                    }],
                }),
                shards_num: 2,
                consistency_level: 2,
                partition_backups: vec![PartitionBackupInfo {
                    partition_id: 2,
                    partition_name: "_default".into(),
                    collection_id: 449000000000000001,
                    segment_backups: vec![seg(3, 2, false), seg(4, 2, true)],
                    size: 168,
                    load_state: "Loaded".into(),
                }],
                backup_timestamp: 450_000_000_000_000_000,
                size: 168,
                has_index: true,
                index_infos: vec![IndexInfo {
                    field_name: "vec".into(),
                    index_name: "i".into(),
                    index_type: "HNSW".into(),
                    params: BTreeMap::from([("metric_type".into(), "L2".into())]),
                    index_id: 9,
                    field_id: 101,
                    create_time: 10,
                    type_params: vec![kv("dim", "4")],
                    index_params: vec![kv("M", "8")],
                    user_index_params: vec![kv("M", "8")],
                    is_auto_index: true,
                    min_index_version: 1,
                    max_index_version: 2,
                }],
                load_state: "Loaded".into(),
                backup_physical_timestamp: 1_718_000_000,
                channel_checkpoints: BTreeMap::from([("vch".into(), "AQ==".into())]),
                l0_segments: vec![seg(5, ALL_PARTITIONS, true)],
                properties: vec![kv("collection.ttl.seconds", "60")],
                db_id: 7,
                created_timestamp: 11,
                virtual_channel_names: vec!["vch".into()],
                physical_channel_names: vec!["pch".into()],
                aliases: vec!["alias".into()],
                live_rows: Some(10),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn milvault_writes_what_milvus_backup_v0_5_16_reads() {
        let info = milvault_backup();
        let (top, colls, parts, segs) = info.to_levels();
        let docs = [
            (serde_json::to_value(&info).unwrap(), M::BackupInfo),
            (serde_json::to_value(&top).unwrap(), M::BackupInfo),
            (serde_json::to_value(&colls).unwrap(), M::CollectionLevel),
            (serde_json::to_value(&parts).unwrap(), M::PartitionLevel),
            (serde_json::to_value(&segs).unwrap(), M::SegmentLevel),
        ];
        for (doc, m) in docs {
            assert_eq!(go_json_problems(&doc, m, false), Vec::<String>::new());
        }
        // and milvault reads it back unchanged
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(serde_json::from_str::<BackupInfo>(&json).unwrap(), info);
    }

    #[test]
    fn numbers_are_numbers_and_enums_ints() {
        let v = serde_json::to_value(milvault_backup()).unwrap();
        let c = &v["collection_backups"][0];
        assert!(c["collection_id"].is_u64());
        assert!(c["backup_timestamp"].is_u64());
        assert_eq!(c["consistency_level"], 2);
        assert_eq!(c["schema"]["fields"][0]["data_type"], 5);
        assert_eq!(c["schema"]["functions"][0]["type"], 1);
        assert_eq!(v["state_code"], 2);
        assert_eq!(c["l0_segments"][0]["partition_id"], -1);
    }

    #[test]
    fn the_checker_finds_what_go_would_not_read() {
        let doc = serde_json::json!({
            "name": "b", "id": "x", "size": "12", "collection_backups": [{"collection_id": 1,
            "schema": {"fields": [{"fieldID": 1, "data_type": "Int64", "unknown": 1}]},
            "has_index": false}]
        });
        let mut problems = go_json_problems(&doc, M::BackupInfo, false);
        problems.sort();
        assert_eq!(
            problems,
            [
                "$.collection_backups[0].has_index: zero value written (Go leaves it out)",
                "$.collection_backups[0].schema.fields[0].data_type: must be an integer number",
                "$.collection_backups[0].schema.fields[0].unknown: not a field of FieldSchema",
                "$.size: must be an integer number",
            ]
        );
        let main_only = serde_json::json!({"name": "b", "format": "snapshot"});
        assert_eq!(
            go_json_problems(&main_only, M::BackupInfo, true),
            Vec::<String>::new()
        );
        assert_eq!(
            go_json_problems(&main_only, M::BackupInfo, false),
            ["$.format: only milvus-backup main has this field"]
        );
    }

    /// The fixtures pass the checker too: the checker and the fixtures agree on Go's shape.
    #[test]
    fn fixtures_have_go_shape() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/milvus-backup");
        for (generation, name) in [
            ("v0_4_15", "mb_v0_4_15"),
            ("v0_5_8", "mb_v0_5_8"),
            ("v0_5_13", "mb_v0_5_13"),
            ("v0_5_16", "mb_v0_5_16"),
            ("snapshot", "mb_snapshot"),
        ] {
            let old = generation == "v0_4_15" || generation == "v0_5_8";
            for (file, m) in [
                ("full_meta.json", M::BackupInfo),
                ("backup_meta.json", M::BackupInfo),
                ("collection_meta.json", M::CollectionLevel),
                ("partition_meta.json", M::PartitionLevel),
                ("segment_meta.json", M::SegmentLevel),
            ] {
                let path = format!("{root}/{generation}/{name}/meta/{file}");
                let text = std::fs::read_to_string(&path).unwrap();
                let doc: Value = serde_json::from_str(&text).unwrap();
                let problems: Vec<String> = go_json_problems(&doc, m, generation == "snapshot")
                    .into_iter()
                    // fields v0.5.13 dropped from the proto (v0.5.16 ignores them)
                    .filter(|p| {
                        !(old
                            && ["errorMessage", "start_time", "end_time", "progress"]
                                .iter()
                                .any(|k| p.contains(&format!(".{k}: not a field"))))
                    })
                    .collect();
                assert_eq!(problems, Vec::<String>::new(), "{path}");
            }
        }
    }
}

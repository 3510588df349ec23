//! The Import requests that put one collection's backed-up data into Milvus, by Milvus version:
//! the rules milvus-backup's restore follows (v0.4.15 `core/backup_impl_restore_backup.go`,
//! v0.5.x `core/restore/coll_task.go` and `internal/client/milvus/grpc.go`), made into a pure
//! function so that they are tested without a server. The caller sends the requests in order,
//! waiting for every request of a [`Stage`] to finish before the next stage starts (L0 deletes
//! must land after the rows they delete), and maps the backup-relative `files` to paths Milvus
//! can read (the backup storage itself, or a staging copy).
//!
//! Per version:
//! - Data segments (backup mode, `backup=true`): one request per group folder,
//!   `[binlogs/insert_log/<coll>/<part>/<group>/, binlogs/delta_log/<coll>/<part>/<group>/]`, the
//!   second path `""` when the group has no delete logs. Backups without groups (milvault's own,
//!   milvus-backup before v0.4.4): Milvus 2.4+ reads the insert path one level deep as segment
//!   folders, so one request per partition (`.../<coll>/<part>/`); Milvus 2.3 walks the path and
//!   reads any depth, so one request per segment (`.../<coll>/<part>/<seg>/`, both paths always),
//!   which is what milvault has always sent there.
//! - L0 segments (deletes only, Milvus 2.4+, `l0_import=true`): one request per segment,
//!   `[binlogs/delta_log/<coll>/<part>/<seg>/]` into its partition; collection-level ones
//!   (partition -1) with no partition name, `[binlogs/delta_log/<coll>/-1/<seg>/]`.
//! - Options, in milvus-backup v0.5.8+'s order: `skip_disk_quota_check=true` (2.4+; v0.4.x sent
//!   none on 2.3), then `backup=true` or `l0_import=true`, then `storage_version=<n>` when the
//!   segment's is above 0 (2.4+). milvus-backup's `end_ts` is only sent for CDC
//!   (`truncateBinlogByTs`) and is not part of a plain restore.
//! - Refused, naming the Milvus version that takes it: milvus-backup's `snapshot` format, L0
//!   segments below 2.4, storage format v2 below 2.6, functions (BM25 2.5+, TextEmbedding 2.6+),
//!   nullable fields and default values below 2.5, arrays of structs below 2.6.4, fields added
//!   after the collection was created (ids above `$meta`'s) below 2.6, and data types newer than
//!   the target.
//!
//! Merged import jobs ([`Merge::UpTo`], milvus-backup's `--use_v2_restore`,
//! core/restore/coll_task.go `restoreDataV2`, `notL0SegBatchesWithGroupID`, `l0SegmentBatches`),
//! only on Milvus 2.4+ ([`Features::import_jobs`]; on 2.3 the plan is the one above): per
//! partition, the data group folders are grouped by (vchannel, storage version) in the order
//! they first appear, and each group is cut into jobs of at most N folders (one folder = one
//! file group `[insert, delta]`, the delta path left out when there is none, as
//! `collTask.toPaths` does); a backup without group folders still gets one job per partition.
//! L0 segments are grouped the same way and stay one per job unless the target is 2.6.5+
//! (`MultiL0InOneJob`), then N per job. The order is milvus-backup's: a partition's data, then
//! that partition's L0 segments, then the collection-level L0 segments. Each job goes to
//! Milvus' REST import API ([`Api::ImportJob`]), because the gRPC `Import` of 2.4+ wraps all
//! its files into one file group.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::{
    BackupInfo, CollectionBackupInfo, FieldSchema, KeyValuePair, PartitionBackupInfo,
    SegmentBackupInfo, FUNCTION_BM25, FUNCTION_TEXT_EMBEDDING,
};
pub use crate::milvus::features::Features;

/// When a request may start: every request of a stage must have finished before the next
/// stage's first one is sent (milvus-backup waits the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Stage {
    /// Rows (data segments with their own delete logs).
    Data,
    /// L0 segments of one partition.
    PartitionL0,
    /// L0 segments that apply to every partition.
    CollectionL0,
}

/// Whether segments are merged into import jobs of several file groups.
///
/// Off unless asked for (`--use_v2_restore`, REST `use_v2_restore`), as in milvus-backup: a
/// merged restore talks to Milvus' REST API, which a deployment may not expose (the HTTP server
/// switched off with `proxy.http.enabled: false`, or a gRPC-only ingress in front of the proxy),
/// and no Milvus 2.4+ runs where milvault is tested end to end; the requests are pinned by
/// exact-request tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Merge {
    /// One gRPC Import per group folder (or segment, or partition), as always.
    #[default]
    Off,
    /// On Milvus 2.4+: jobs of at most this many file groups (`restore.maxSegmentsPerImportJob`,
    /// milvus-backup's default 256; keep it below Milvus' `dataCoord.import.maxImportFileNumPerReq`,
    /// 1024 by default). At least 1.
    UpTo(usize),
}

/// The call a request is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Api {
    /// gRPC `Import`: exactly one file group.
    Import,
    /// REST `POST /v2/vectordb/jobs/import/create`: one or more file groups (Milvus 2.4+).
    ImportJob,
}

/// One Import call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportRequest {
    pub stage: Stage,
    /// The target partition's name; empty for collection-level L0 segments (all partitions).
    pub partition: String,
    /// The call that carries it.
    pub api: Api,
    /// File groups of folders relative to the backup root (`<backup>/binlogs/...`, ending in
    /// `/`); an [`Api::Import`] request has exactly one. In a gRPC group `""` stands for "no
    /// delete logs" in the second place, as milvus-backup sends it; a job's groups leave it out.
    pub files: Vec<Vec<String>>,
    /// Import options in the order they are sent.
    pub options: Vec<KeyValuePair>,
    /// The backed-up segments the request carries.
    pub segments: Vec<i64>,
    /// Rows written to those segments, deleted ones included (0 for L0 segments).
    pub rows: i64,
}

pub use crate::error::Refusal;

/// The Import requests that restore `coll` of backup `info` into a Milvus with `target`'s
/// features, in the order to send them, or why it cannot be done (unmerged: [`Merge::Off`]).
pub fn plan(
    info: &BackupInfo,
    coll: &CollectionBackupInfo,
    target: &Features,
) -> Result<Vec<ImportRequest>, Refusal> {
    plan_with(info, coll, target, Merge::Off)
}

/// [`plan`], with segments merged into import jobs as `merge` says when the target takes them
/// (Milvus 2.4+); on older targets `merge` changes nothing.
pub fn plan_with(
    info: &BackupInfo,
    coll: &CollectionBackupInfo,
    target: &Features,
    merge: Merge,
) -> Result<Vec<ImportRequest>, Refusal> {
    let name = coll.qualified_name();
    if !info.format.is_empty() && info.format != "binlog" {
        return Err(Refusal::Format {
            collection: name,
            format: info.format.clone(),
        });
    }
    check_schema(coll, target)?;
    check_segments(coll, target)?;

    let backup = info.name.as_str();
    let mut requests = match merge {
        Merge::UpTo(n) if target.import_jobs => {
            merged::requests(backup, coll, target, n.max(1), &name)?
        }
        _ => unmerged(backup, coll, target, &name)?,
    };
    // an encrypted database's key goes with every import, last (milvus-backup
    // `GrpcBulkInsertInput.opts`, internal/client/milvus/grpc.go)
    if let Some(ezk) = encryption_key(info, coll) {
        for r in &mut requests {
            r.options.push(KeyValuePair {
                key: "ezk".into(),
                value: ezk.to_string(),
            });
        }
    }
    Ok(requests)
}

/// One gRPC Import per group folder (segment, partition) and per L0 segment, stage by stage.
fn unmerged(
    backup: &str,
    coll: &CollectionBackupInfo,
    target: &Features,
    name: &str,
) -> Result<Vec<ImportRequest>, Refusal> {
    let c = coll.collection_id;
    let mut requests = Vec::new();
    for part in &coll.partition_backups {
        requests.extend(data_requests(backup, c, part, target, name)?);
    }
    for part in &coll.partition_backups {
        for seg in part.segment_backups.iter().filter(|s| s.is_l0) {
            requests.push(l0_request(
                backup,
                c,
                Stage::PartitionL0,
                &part.partition_name,
                seg,
                target,
            ));
        }
    }
    for seg in &coll.l0_segments {
        requests.push(l0_request(backup, c, Stage::CollectionL0, "", seg, target));
    }
    Ok(requests)
}

/// The encryption zone key of `coll`'s database, when the backup recorded one (v0.5.13+).
fn encryption_key<'a>(info: &'a BackupInfo, coll: &CollectionBackupInfo) -> Option<&'a str> {
    let db = crate::format::db_or_default(&coll.db_name);
    info.database_backups
        .iter()
        .find(|d| crate::format::db_or_default(&d.db_name) == db)
        .map(|d| d.ezk.as_str())
        .filter(|k| !k.is_empty())
}

/// Refuses a schema the target cannot create (binlog and logical restores alike).
pub fn check_schema(coll: &CollectionBackupInfo, target: &Features) -> Result<(), Refusal> {
    let Some(schema) = coll.schema.as_ref() else {
        return Ok(());
    };
    let refuse = |what: String, needs: &'static str| Refusal::Feature {
        collection: coll.qualified_name(),
        what,
        needs,
        target: target.name(),
    };
    for func in &schema.functions {
        let (kind, ok, needs) = match func.function_type {
            FUNCTION_BM25 => ("BM25", target.bm25, "2.5"),
            FUNCTION_TEXT_EMBEDDING => ("TextEmbedding", target.text_embedding, "2.6"),
            _ => ("unknown", false, "2.6"),
        };
        if !ok {
            return Err(refuse(format!("{kind} functions ({})", func.name), needs));
        }
    }
    if !target.nullable_and_default {
        let has = |pred: fn(&FieldSchema) -> bool| -> Vec<&str> {
            schema
                .fields
                .iter()
                .filter(|f| !f.is_dynamic && pred(f))
                .map(|f| f.name.as_str())
                .collect()
        };
        let nullable = has(|f| f.nullable);
        if !nullable.is_empty() {
            return Err(refuse(
                format!("nullable fields ({})", nullable.join(", ")),
                "2.5",
            ));
        }
        let defaults =
            has(|f| !f.default_value_base64.is_empty() || !f.default_value_proto.is_empty());
        if !defaults.is_empty() {
            return Err(refuse(
                format!("default values (fields {})", defaults.join(", ")),
                "2.5",
            ));
        }
    }
    let added = crate::milvus::schema::added_fields(schema);
    if !target.add_field && !added.is_empty() {
        let names: Vec<&str> = added.iter().map(|f| f.name.as_str()).collect();
        return Err(refuse(
            format!(
                "fields added after the collection was created ({})",
                names.join(", ")
            ),
            "2.6",
        ));
    }
    if !target.struct_arrays && !schema.struct_array_fields.is_empty() {
        let names: Vec<&str> = schema
            .struct_array_fields
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        return Err(refuse(
            format!("arrays of structs ({})", names.join(", ")),
            "2.6.4",
        ));
    }
    let sub_fields = schema.struct_array_fields.iter().flat_map(|s| &s.fields);
    for f in schema.fields.iter().chain(sub_fields) {
        if let Some((type_name, needs)) = newer_type(f.data_type, target) {
            return Err(refuse(
                format!("fields of type {type_name} ({})", f.name),
                needs,
            ));
        }
    }
    Ok(())
}

/// The name of a data type the target lacks and the version that has it.
fn newer_type(data_type: i32, target: &Features) -> Option<(&'static str, &'static str)> {
    let (name, needs) = match data_type {
        102 => ("Float16Vector", "2.4"),
        103 => ("BFloat16Vector", "2.4"),
        104 => ("SparseFloatVector", "2.4"),
        24 => ("Geometry", "2.6"),
        26 => ("Timestamptz", "2.6"),
        105 => ("Int8Vector", "2.6"),
        106 => ("ArrayOfVector", "2.6.4"),
        _ => return None,
    };
    let has = match needs {
        "2.4" => target.l0_import,
        "2.6" => target.storage_v2,
        _ => target.struct_arrays,
    };
    (!has).then_some((name, needs))
}

/// Refuses segments the target cannot import.
fn check_segments(coll: &CollectionBackupInfo, target: &Features) -> Result<(), Refusal> {
    let ids = |segs: Vec<&SegmentBackupInfo>| {
        segs.iter()
            .map(|s| s.segment_id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let l0: Vec<_> = coll.all_segments().filter(|s| s.is_l0).collect();
    if !target.l0_import && !l0.is_empty() {
        return Err(Refusal::L0Segments {
            collection: coll.qualified_name(),
            segments: ids(l0),
            target: target.name(),
        });
    }
    let v2: Vec<_> = coll
        .all_segments()
        .filter(|s| s.storage_version >= 2)
        .collect();
    if !target.storage_v2 && !v2.is_empty() {
        return Err(Refusal::StorageV2 {
            collection: coll.qualified_name(),
            segments: ids(v2),
            target: target.name(),
        });
    }
    Ok(())
}

/// The options of one request.
fn options(l0: bool, storage_version: i64, target: &Features) -> Vec<KeyValuePair> {
    let mut opts = Vec::new();
    if target.skip_disk_quota_check {
        opts.push(KeyValuePair::new("skip_disk_quota_check", "true"));
    }
    opts.push(if l0 {
        KeyValuePair::new("l0_import", "true")
    } else {
        KeyValuePair::new("backup", "true")
    });
    if storage_version > 0 && target.storage_version_option {
        opts.push(KeyValuePair::new(
            "storage_version",
            storage_version.to_string(),
        ));
    }
    opts
}

/// `<backup>/binlogs/<kind>/<coll>/<part>/<group or segment>/` (the last folder left out when
/// `leaf` is `None`).
fn dir(backup: &str, kind: &str, coll: i64, part: i64, leaf: Option<i64>) -> String {
    match leaf {
        Some(l) => format!("{backup}/binlogs/{kind}/{coll}/{part}/{l}/"),
        None => format!("{backup}/binlogs/{kind}/{coll}/{part}/"),
    }
}

/// The data (not L0) requests of one partition.
fn data_requests(
    backup: &str,
    coll: i64,
    part: &PartitionBackupInfo,
    target: &Features,
    name: &str,
) -> Result<Vec<ImportRequest>, Refusal> {
    let segs: Vec<&SegmentBackupInfo> = part.segment_backups.iter().filter(|s| !s.is_l0).collect();
    let request = |segs: &[&SegmentBackupInfo], leaf: Option<i64>, always_delta: bool| {
        let versions: BTreeMap<i64, ()> = segs.iter().map(|s| (s.storage_version, ())).collect();
        if versions.len() > 1 {
            return Err(Refusal::MixedStorageVersions {
                collection: name.to_string(),
                partition: part.partition_name.clone(),
                versions: versions
                    .keys()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let version = versions.keys().next().copied().unwrap_or(0);
        let delta = if always_delta || segs.iter().any(|s| s.has_delta_files()) {
            dir(backup, "delta_log", coll, part.partition_id, leaf)
        } else {
            String::new()
        };
        Ok(ImportRequest {
            stage: Stage::Data,
            partition: part.partition_name.clone(),
            api: Api::Import,
            files: vec![vec![
                dir(backup, "insert_log", coll, part.partition_id, leaf),
                delta,
            ]],
            options: options(false, version, target),
            segments: segs.iter().map(|s| s.segment_id).collect(),
            rows: segs.iter().map(|s| s.num_of_rows).sum(),
        })
    };
    if segs.is_empty() {
        return Ok(Vec::new());
    }
    if segs.iter().any(|s| s.group_id != 0) {
        // one request per group folder, in the order the groups first appear
        let mut groups: Vec<(i64, Vec<&SegmentBackupInfo>)> = Vec::new();
        for s in segs {
            match groups.iter_mut().find(|(g, _)| *g == s.group_id) {
                Some((_, members)) => members.push(s),
                None => groups.push((s.group_id, vec![s])),
            }
        }
        return groups
            .iter()
            .map(|(g, members)| request(members, Some(*g), false))
            .collect();
    }
    if target.lists_segment_folders {
        return Ok(vec![request(&segs, None, false)?]);
    }
    segs.iter()
        .map(|s| request(&[*s], Some(s.segment_id), true))
        .collect()
}

/// The request of one L0 segment.
fn l0_request(
    backup: &str,
    coll: i64,
    stage: Stage,
    partition: &str,
    seg: &SegmentBackupInfo,
    target: &Features,
) -> ImportRequest {
    ImportRequest {
        stage,
        partition: partition.to_string(),
        api: Api::Import,
        files: vec![vec![dir(
            backup,
            "delta_log",
            coll,
            seg.partition_id,
            Some(seg.segment_id),
        )]],
        options: options(true, seg.storage_version, target),
        segments: vec![seg.segment_id],
        rows: 0,
    }
}

mod merged;

#[cfg(test)]
mod tests;

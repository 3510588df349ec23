//! `create`: flush, read metadata, copy binlogs, write metadata last.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::{
    copy::{copy_all, CopyItem},
    error::{Error, Result},
    format::{
        layout::{self, LogKind},
        BackupInfo, Binlog, CollectionBackupInfo, DatabaseBackupInfo, FieldBinlog, IndexInfo,
        MilvaultInfo, PartitionBackupInfo, SegmentBackupInfo, STATE_SUCCESS,
    },
    job::Progress,
    milvus::{schema::schema_from_proto, MilvusClient},
    service::Milvault,
    storage::Storage,
};

/// What to back up.
#[derive(Debug, Clone, Default)]
pub struct CreateBackupRequest {
    /// Backup name; generated from the time when empty.
    pub name: String,
    /// Collections as `name` (in the default database, or the one database given) or `db.name`.
    /// Empty: every collection of `databases` (or of all databases).
    pub collections: Vec<String>,
    /// Databases to back up whole.
    pub databases: Vec<String>,
    /// Only schemas, partitions and indexes; no data.
    pub meta_only: bool,
    /// Do not flush first (the caller made sure the data is on storage).
    pub skip_flush: bool,
    /// The policy making it (recorded in the metadata: its retention may prune the backup).
    pub policy: Option<String>,
}

/// A collection to back up, by database and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CollectionRef {
    pub db: String,
    pub name: String,
}

/// Milvus' SegmentState::Flushed.
const SEGMENT_FLUSHED: i32 = 4;

/// The name a backup gets when none is given: `backup_YYYY_MM_DD_HH_MM_SS` (UTC).
pub fn default_backup_name() -> String {
    chrono::Utc::now()
        .format("backup_%Y_%m_%d_%H_%M_%S")
        .to_string()
}

/// Runs a backup. On failure nothing under the backup's name is left behind.
pub async fn create_backup(
    svc: &Milvault,
    mut req: CreateBackupRequest,
    progress: &Progress,
) -> Result<BackupInfo> {
    if req.name.is_empty() {
        req.name = default_backup_name();
    }
    layout::validate_backup_name(&req.name)?;
    let backups = svc.backup_storage();
    progress.step(format!(
        "checking that the name '{}' is free in {}",
        req.name,
        backups.describe()
    ));
    if backups
        .read_opt(&layout::meta_file(&req.name, layout::BACKUP_META))
        .await?
        .is_some()
    {
        return Err(Error::BackupExists(req.name));
    }
    if backups.any_under(&layout::backup_dir(&req.name)).await? {
        return Err(Error::IncompleteBackupExists(req.name));
    }
    let result = run(svc, &req, progress).await;
    if let Err(e) = &result {
        progress.log(format!(
            "backup failed ({e}); removing what was written under '{}'",
            req.name
        ));
        if let Err(clean) = backups.delete_under(&layout::backup_dir(&req.name)).await {
            progress.log(format!("could not remove the incomplete backup: {clean}"));
        }
    }
    result
}

async fn run(svc: &Milvault, req: &CreateBackupRequest, progress: &Progress) -> Result<BackupInfo> {
    let start = chrono::Utc::now();
    let milvus = svc.milvus().await?;
    let version = milvus.version().await?;
    progress.step(format!(
        "connected to Milvus {version} at {}",
        milvus.address()
    ));
    let targets = resolve_collections(milvus, &req.collections, &req.databases).await?;
    if targets.is_empty() {
        return Err(Error::InvalidRequest(
            "there are no collections to back up".into(),
        ));
    }
    progress.log(format!(
        "collections: {}",
        targets
            .iter()
            .map(|t| format!("{}.{}", t.db, t.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let milvus_storage = if req.meta_only {
        None
    } else {
        Some(svc.milvus_storage()?)
    };
    let concurrency = svc.config().tuning.backup_collections;
    let wait = svc.config().tuning.wait_timeout;
    let mut collections: Vec<CollectionBackupInfo> = futures::stream::iter(targets.clone())
        .map(|t| async move {
            describe_for_backup(milvus, milvus_storage, &t, req, wait, progress).await
        })
        .buffered(concurrency)
        .try_collect()
        .await?;

    let backups = svc.backup_storage();
    let mut file_count = 0u64;
    let mut copied: Vec<String> = Vec::new();
    if let Some(src) = milvus_storage {
        let (items, groups) = copy_plan(&req.name, &collections);
        let prefix = format!("{}/", layout::backup_dir(&req.name));
        copied = items
            .iter()
            .map(|i| i.dst.strip_prefix(&prefix).unwrap_or(&i.dst).to_string())
            .collect();
        let total: u64 = items.iter().map(|i| i.size).sum();
        progress.add_total(total, groups.len() as u64);
        // segments without files (all rows deleted and compacted away) are done already
        progress.add_segments(groups.iter().filter(|&&n| n == 0).count() as u64);
        progress.step(format!(
            "copying {} files ({total} bytes) to {}",
            items.len(),
            backups.describe()
        ));
        let stats = copy_all(
            src,
            backups,
            items,
            &groups,
            svc.config().tuning.copy_concurrency,
            progress,
        )
        .await?;
        file_count = stats.files;
        progress.log(format!(
            "copied {} files, {} bytes ({:?})",
            stats.files, stats.bytes, stats.mode
        ));
    }

    let end = chrono::Utc::now();
    let mut databases: Vec<DatabaseBackupInfo> = Vec::new();
    for c in &collections {
        if !databases.iter().any(|d| d.db_name == c.db_name) {
            databases.push(DatabaseBackupInfo {
                db_name: c.db_name.clone(),
                ..Default::default()
            });
        }
    }
    collections.sort_by_key(|c| c.qualified_name());
    let info = BackupInfo {
        id: progress.id(),
        state_code: STATE_SUCCESS,
        name: req.name.clone(),
        backup_timestamp: start.timestamp_millis() as u64,
        size: collections.iter().map(|c| c.size).sum(),
        milvus_version: version,
        database_backups: databases,
        collection_backups: collections,
        format: String::new(),
        milvault: Some(MilvaultInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            start_time_ms: start.timestamp_millis(),
            end_time_ms: end.timestamp_millis(),
            meta_only: req.meta_only,
            file_count,
            policy: req.policy.clone(),
        }),
        ..Default::default()
    };
    progress.step(format!(
        "checksumming {} files for the manifest",
        copied.len()
    ));
    crate::integrity::write_manifest(
        backups,
        &req.name,
        copied,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await?;
    progress.step("writing metadata");
    write_meta(backups, &info).await?;
    progress.log(format!(
        "backup '{}' complete: {} collections, {} segments, {} rows, {} bytes",
        info.name,
        info.collection_backups.len(),
        info.segment_count(),
        info.total_rows(),
        info.size
    ));
    Ok(info)
}

/// Turns the request's names into collections that exist in Milvus, or says which one does not.
pub async fn resolve_collections(
    milvus: &MilvusClient,
    collections: &[String],
    databases: &[String],
) -> Result<Vec<CollectionRef>> {
    let all_dbs = milvus.list_databases().await?;
    for db in databases {
        if !all_dbs.contains(db) {
            return Err(Error::InvalidRequest(format!(
                "database '{db}' does not exist in Milvus (it has: {})",
                all_dbs.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    if collections.is_empty() {
        let dbs = if databases.is_empty() {
            &all_dbs
        } else {
            databases
        };
        for db in dbs {
            for name in milvus.list_collections(db).await? {
                out.push(CollectionRef {
                    db: db.clone(),
                    name,
                });
            }
        }
    } else {
        let default_db = if databases.len() == 1 {
            databases[0].as_str()
        } else {
            "default"
        };
        for c in collections {
            let (db, name) = match c.split_once('.') {
                Some((db, name)) => (db, name),
                None => (default_db, c.as_str()),
            };
            if name.is_empty() || db.is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "'{c}' is not a collection name (use NAME or DB.NAME)"
                )));
            }
            if !all_dbs.iter().any(|d| d == db) {
                return Err(Error::CollectionNotFound(format!(
                    "{db}.{name} (no database '{db}')"
                )));
            }
            if !milvus.has_collection(db, name).await? {
                return Err(Error::CollectionNotFound(format!("{db}.{name}")));
            }
            out.push(CollectionRef {
                db: db.into(),
                name: name.into(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn describe_for_backup(
    milvus: &MilvusClient,
    storage: Option<&Storage>,
    t: &CollectionRef,
    req: &CreateBackupRequest,
    wait: std::time::Duration,
    progress: &Progress,
) -> Result<CollectionBackupInfo> {
    let (db, name) = (t.db.as_str(), t.name.as_str());
    let mut backup_ts = 0;
    if !req.meta_only && !req.skip_flush {
        progress.step(format!("flushing {db}.{name}"));
        backup_ts = milvus.flush(db, name, wait).await?;
    }
    let desc = milvus.describe_collection(db, name).await?;
    let schema = desc.schema.as_ref().ok_or_else(|| Error::Milvus {
        call: "DescribeCollection",
        reason: format!("{db}.{name} came back without a schema"),
    })?;
    let partitions = milvus.partitions(db, name).await?;
    let indexes = milvus.indexes(db, name).await?;
    let load_state = milvus.load_state(db, name).await?;
    let coll_id = desc.collection_id;

    let mut parts: BTreeMap<i64, PartitionBackupInfo> = partitions
        .iter()
        .map(|(id, pname)| {
            (
                *id,
                PartitionBackupInfo {
                    partition_id: *id,
                    partition_name: pname.clone(),
                    collection_id: coll_id,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut live_rows = None;
    if let Some(storage) = storage {
        let segments = milvus.persistent_segments(db, name).await?;
        for seg in segments.iter().filter(|s| s.state == SEGMENT_FLUSHED) {
            let info = describe_segment(
                storage,
                coll_id,
                seg.partition_id,
                seg.segment_id,
                seg.num_rows,
            )
            .await?;
            let part = parts
                .get_mut(&seg.partition_id)
                .ok_or_else(|| Error::Milvus {
                    call: "GetPersistentSegmentInfo",
                    reason: format!(
                        "segment {} names partition {} that {db}.{name} does not have",
                        seg.segment_id, seg.partition_id
                    ),
                })?;
            part.size += info.size;
            part.segment_backups.push(info);
        }
        let skipped = segments
            .iter()
            .filter(|s| s.state != SEGMENT_FLUSHED && s.num_rows > 0)
            .count();
        if skipped > 0 {
            progress.log(format!("{db}.{name}: {skipped} segments not flushed yet were left out (their rows are not in this backup)"));
        }
        if load_state == "Loaded" {
            let total: i64 = parts
                .values()
                .flat_map(|p| p.segment_backups.iter())
                .map(|s| s.num_of_rows)
                .sum();
            match milvus.count_rows(db, name).await {
                Ok(n) if n <= total => live_rows = Some(n),
                Ok(n) => progress.log(format!(
                    "{db}.{name}: {n} live rows but {total} rows in flushed segments (written to during the backup?); restores will check imported rows only"
                )),
                Err(e) => progress.log(format!("{db}.{name}: could not count live rows: {e}")),
            }
        }
    }
    let index_infos: Vec<IndexInfo> = indexes
        .iter()
        .map(|i| {
            let params: BTreeMap<String, String> = i
                .params
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect();
            IndexInfo {
                field_name: i.field_name.clone(),
                index_name: i.index_name.clone(),
                index_type: params.get("index_type").cloned().unwrap_or_default(),
                params,
                index_id: i.index_id,
                ..Default::default()
            }
        })
        .collect();
    let now = chrono::Utc::now();
    let partition_backups: Vec<PartitionBackupInfo> = parts.into_values().collect();
    Ok(CollectionBackupInfo {
        id: uuid::Uuid::new_v4().to_string(),
        collection_id: coll_id,
        db_name: db.to_string(),
        collection_name: name.to_string(),
        schema: Some(schema_from_proto(schema)),
        shards_num: desc.shards_num,
        consistency_level: desc.consistency_level,
        backup_timestamp: if backup_ts > 0 {
            backup_ts
        } else {
            (now.timestamp_millis() as u64) << 18
        },
        size: partition_backups.iter().map(|p| p.size).sum(),
        has_index: !index_infos.is_empty(),
        index_infos,
        load_state,
        backup_physical_timestamp: now.timestamp() as u64,
        properties: desc
            .properties
            .iter()
            .map(|kv| crate::format::KeyValuePair::new(&kv.key, &kv.value))
            .collect(),
        db_id: desc.db_id,
        created_timestamp: desc.created_timestamp,
        virtual_channel_names: desc.virtual_channel_names.clone(),
        physical_channel_names: desc.physical_channel_names.clone(),
        aliases: desc.aliases.clone(),
        partition_backups,
        live_rows,
        ..Default::default()
    })
}

/// Lists a segment's insert and delta logs in Milvus' storage.
async fn describe_segment(
    storage: &Storage,
    coll: i64,
    part: i64,
    seg: i64,
    rows: i64,
) -> Result<SegmentBackupInfo> {
    let mut info = SegmentBackupInfo {
        segment_id: seg,
        collection_id: coll,
        partition_id: part,
        num_of_rows: rows,
        ..Default::default()
    };
    for kind in [LogKind::Insert, LogKind::Delta] {
        let dir = layout::milvus_segment_dir(kind, coll, part, seg);
        let mut by_field: BTreeMap<i64, Vec<Binlog>> = BTreeMap::new();
        for f in storage.list_files(&dir).await? {
            let tail = &f.rel[dir.len()..].trim_start_matches('/');
            let parts: Vec<&str> = tail.split('/').collect();
            let (field, log) = match (kind, parts.as_slice()) {
                (LogKind::Insert, [field, log]) => {
                    (field.parse().unwrap_or(-1), log.parse().unwrap_or(0))
                }
                (LogKind::Delta, [log]) => (0, log.parse().unwrap_or(0)),
                _ => (-1, 0),
            };
            if field < 0 {
                continue; // not a binlog (stray file); Milvus' import would not read it either
            }
            info.size += f.size as i64;
            by_field.entry(field).or_default().push(Binlog {
                log_path: storage.path(&f.rel).to_string(),
                log_size: f.size as i64,
                log_id: log,
                ..Default::default()
            });
        }
        let logs: Vec<FieldBinlog> = by_field
            .into_iter()
            .map(|(field_id, mut binlogs)| {
                binlogs.sort_by_key(|b| b.log_id);
                FieldBinlog { field_id, binlogs }
            })
            .collect();
        match kind {
            LogKind::Insert => info.binlogs = logs,
            LogKind::Delta => info.deltalogs = logs,
        }
    }
    if rows > 0 && info.binlogs.is_empty() {
        return Err(Error::storage(
            storage.describe(),
            format!(
                "segment {seg} has {rows} rows but no binlogs under {}; check that minio.bucketName and minio.rootPath (or the local rootPath) match Milvus' own storage settings",
                storage.import_path(&layout::milvus_segment_dir(LogKind::Insert, coll, part, seg))
            ),
        ));
    }
    Ok(info)
}

/// Copy items for every binlog, grouped by segment; returns the items and each group's size.
fn copy_plan(name: &str, collections: &[CollectionBackupInfo]) -> (Vec<CopyItem>, Vec<usize>) {
    let mut items = Vec::new();
    let mut groups = Vec::new();
    for c in collections {
        for seg in c.segments() {
            let group = groups.len();
            let mut n = 0;
            for (kind, logs) in [
                (LogKind::Insert, &seg.binlogs),
                (LogKind::Delta, &seg.deltalogs),
            ] {
                let src_dir = layout::milvus_segment_dir(
                    kind,
                    seg.collection_id,
                    seg.partition_id,
                    seg.segment_id,
                );
                let dst_dir = layout::backup_segment_dir(
                    name,
                    kind,
                    seg.collection_id,
                    seg.partition_id,
                    seg.segment_id,
                );
                for field in logs.iter() {
                    for log in &field.binlogs {
                        let tail = match kind {
                            LogKind::Insert => format!("{}/{}", field.field_id, log.log_id),
                            LogKind::Delta => log.log_id.to_string(),
                        };
                        items.push(CopyItem {
                            src: format!("{src_dir}/{tail}"),
                            dst: format!("{dst_dir}/{tail}"),
                            size: log.log_size as u64,
                            group,
                        });
                        n += 1;
                    }
                }
            }
            groups.push(n);
        }
    }
    (items, groups)
}

/// Writes the metadata files; `backup_meta.json`, which marks the backup complete, goes last.
pub async fn write_meta(storage: &Storage, info: &BackupInfo) -> Result<()> {
    let (top, colls, parts, segs) = info.to_levels();
    let json = |v: &dyn erased::Json| v.to_bytes();
    let name = &info.name;
    storage
        .write(&layout::meta_file(name, layout::SEGMENT_META), json(&segs)?)
        .await?;
    storage
        .write(
            &layout::meta_file(name, layout::PARTITION_META),
            json(&parts)?,
        )
        .await?;
    storage
        .write(
            &layout::meta_file(name, layout::COLLECTION_META),
            json(&colls)?,
        )
        .await?;
    storage
        .write(&layout::meta_file(name, layout::FULL_META), json(info)?)
        .await?;
    storage
        .write(&layout::meta_file(name, layout::BACKUP_META), json(&top)?)
        .await?;
    Ok(())
}

mod erased {
    use super::*;
    /// Object-safe JSON serialisation.
    pub trait Json {
        fn to_bytes(&self) -> Result<Bytes>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_bytes(&self) -> Result<Bytes> {
            serde_json::to_vec(self)
                .map(Bytes::from)
                .map_err(|e| Error::InvalidRequest(format!("cannot encode metadata: {e}")))
        }
    }
}

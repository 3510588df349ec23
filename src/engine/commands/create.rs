//! `create`: flush, read metadata, copy binlogs, write metadata last.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

mod pipeline;
pub mod resume;

pub use crate::engine::meta_files::write_meta;
use crate::{
    engine::copy::{copy_all_with_base, Checksums, CopyItem, CopyStats},
    engine::names,
    engine::service::Milvault,
    error::{Error, Result},
    format::{
        layout::{self, LogKind},
        BackupInfo, Binlog, CollectionBackupInfo, DatabaseBackupInfo, FieldBinlog, IndexInfo,
        MilvaultInfo, PartitionBackupInfo, SegmentBackupInfo, ALL_PARTITIONS, STATE_SUCCESS,
    },
    milvus::{
        gc::{GcPause, GcScope},
        schema::schema_from_proto,
        MilvusClient,
    },
    progress::Progress,
    storage::Storage,
};

/// What to back up: the one options type of a backup. The CLI parses it (clap, with
/// milvus-backup's flag names), REST v2 takes it as its body (serde, utoipa), gRPC, the portal
/// and the scheduler fill it. Unknown fields are refused, so that a misspelt option is not
/// silently ignored; [`CreateBackupRequest::tidy`] trims what was typed, and the Gate turns a
/// `filter` into collections and databases before anything runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBackupRequest {
    /// Backup name (letters, digits, `_` and `-`); generated from the time when empty.
    #[arg(short = 'n', long, default_value = "")]
    pub name: String,
    /// Collections as `name` (in the default database, or the one database given) or `db.name`.
    /// Empty: every collection of `databases` (or of all databases). CLI: comma separated.
    #[arg(
        short = 'c',
        long = "colls",
        alias = "collections",
        value_delimiter = ','
    )]
    pub collections: Vec<String>,
    /// Databases to back up whole (CLI: comma separated).
    #[arg(short = 'd', long, value_delimiter = ',')]
    pub databases: Vec<String>,
    /// milvus-backup's `--filter`, instead of collections and databases: comma separated `db.*`
    /// (a whole database), `db.collection` or `collection` (in the default database), e.g.
    /// `db1.*,db2.c1`.
    #[arg(long, default_value = "", conflicts_with_all = ["collections", "databases"])]
    pub filter: String,
    /// Only schemas, partitions and indexes; no data.
    #[arg(long = "meta_only", alias = "meta-only")]
    pub meta_only: bool,
    /// Do not flush first (the data must already be on storage). CLI: `-f`/`--force`.
    #[arg(short = 'f', long = "force")]
    pub skip_flush: bool,
    /// The policy making it (recorded in the metadata: its retention may prune the backup). Set
    /// by the scheduler only.
    #[arg(skip)]
    #[serde(skip)]
    pub policy: Option<String>,
    /// A logical backup: rows read through the API into Parquet files (no access to Milvus'
    /// bucket needed; restores into any Milvus version or Milvus Lite).
    #[arg(long)]
    pub logical: bool,
    /// Copy the files an earlier backup of a collection holds from that backup, not from Milvus'
    /// bucket (the new backup still holds every file itself).
    #[arg(long)]
    pub incremental: bool,
    /// Continue the interrupted backup `name` (see [`resume`]): its recorded request is used,
    /// files it finished are kept. CLI: `--resume NAME`.
    #[arg(skip)]
    pub resume: bool,
    /// Also back up Milvus' own users (with the password hash Milvus 2.4.10+ gives; none from
    /// older ones), roles and grants (milvus-backup's `--rbac`).
    #[arg(long)]
    pub rbac: bool,
}

impl CreateBackupRequest {
    /// The request as typed, tidied: list items and names trimmed, empty list items dropped.
    /// Every front end's request passes through it (the Gate).
    pub fn tidy(mut self) -> CreateBackupRequest {
        self.collections = names::tidy_list(self.collections);
        self.databases = names::tidy_list(self.databases);
        self.name = self.name.trim().to_string();
        self.filter = self.filter.trim().to_string();
        self
    }
}

/// A collection to back up, by database and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CollectionRef {
    pub db: String,
    pub name: String,
}

/// Milvus' SegmentState::Flushed.
pub(crate) const SEGMENT_FLUSHED: i32 = 4;
/// Milvus' SegmentLevel (2.4+): 0 Legacy (what 2.3 answers: no level), 1 L0 (deletes only).
const LEVEL_LEGACY: i32 = 0;
const LEVEL_L0: i32 = 1;

/// Whether a Milvus version string (`v2.4.13`, `2.5.0-beta`) is at least `major.minor`;
/// `None` when it cannot be read.
fn version_at_least(version: &str, major: u64, minor: u64) -> Option<bool> {
    let mut parts = version
        .trim()
        .trim_start_matches(['v', 'V'])
        .split(['.', '-', '+']);
    let ma: u64 = parts.next()?.parse().ok()?;
    let mi: u64 = parts.next()?.parse().ok()?;
    Some((ma, mi) >= (major, minor))
}

/// The name rule of a new backup, said once: an empty name gets the default
/// (`backup_YYYY_MM_DD_HH_MM_SS`), the name must be valid, and nothing may be stored under it:
/// a complete backup ([`Error::BackupExists`]) or, unless the request resumes it, the leftovers
/// of an interrupted one ([`Error::IncompleteBackupExists`]). The registry asks before it starts
/// a job (so a taken name is refused at once); the backup asks again when it runs.
pub async fn check_name(backups: &Storage, req: &mut CreateBackupRequest) -> Result<()> {
    if req.name.is_empty() {
        req.name = names::default_backup_name();
    }
    names::validate_backup_name(&req.name)?;
    if backups
        .read_opt(&layout::meta_file(&req.name, layout::BACKUP_META))
        .await?
        .is_some()
    {
        return Err(Error::BackupExists(req.name.clone()));
    }
    if !req.resume && backups.any_under(&layout::backup_dir(&req.name)).await? {
        return Err(Error::IncompleteBackupExists(req.name.clone()));
    }
    Ok(())
}

/// Runs a backup. On failure nothing under the backup's name is left behind.
pub async fn create_backup(
    svc: &Milvault,
    mut req: CreateBackupRequest,
    progress: &Progress,
) -> Result<BackupInfo> {
    let backups = svc.backup_storage();
    progress.step(format!(
        "checking that the name '{}' is free in {}",
        req.name,
        backups.describe()
    ));
    check_name(backups, &mut req).await?;
    if req.resume {
        crate::engine::commands::create::resume::load_into(backups, &mut req).await?;
        progress.log(format!(
            "resuming '{}': files it finished are kept",
            req.name
        ));
    } else {
        crate::engine::commands::create::resume::record(backups, &req).await?;
    }
    let result = run(svc, &req, progress).await;
    if let Err(e) = &result {
        if let Err(lost) = progress.check_fence() {
            // another process writes this backup now: its files are not ours to remove
            progress.log(format!(
                "backup failed ({e}); nothing removed under '{}': {lost}",
                req.name
            ));
            return result;
        }
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
    // what to back up is settled (and a missing collection refused) before GC is paused
    let targets = resolve_collections(milvus, &req.collections, &req.databases).await?;
    if targets.is_empty() {
        return Err(Error::InvalidRequest(
            "there are no collections to back up".into(),
        ));
    }
    // as milvus-backup: GC paused (a renewed lease) while segments are read and copied, resumed
    // whether the backup succeeds or fails; per collection, with tickets, on Milvus 2.6.8+
    let gc = if req.meta_only || req.logical {
        None
    } else {
        let mut ids = Vec::new();
        if milvus.features().version >= (2, 6, 8) {
            for t in &targets {
                ids.push(
                    milvus
                        .describe_collection(&t.db, &t.name)
                        .await?
                        .collection_id,
                );
            }
        }
        let scope = GcScope::for_version(milvus.features().version, &ids);
        Some(GcPause::start(&svc.config().gc_pause, &scope, progress).await)
    };
    let result = run_paused(svc, req, progress, milvus, version, start, targets).await;
    if let Some(gc) = gc {
        gc.resume(progress).await;
    }
    result
}

async fn run_paused(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    milvus: &MilvusClient,
    version: String,
    start: chrono::DateTime<chrono::Utc>,
    targets: Vec<CollectionRef>,
) -> Result<BackupInfo> {
    // Milvus 2.4+ has segment levels: its backups get milvus-backup's group folders
    let grouped = version_at_least(&version, 2, 4).unwrap_or(false);
    progress.log(format!(
        "collections: {}",
        targets
            .iter()
            .map(|t| format!("{}.{}", t.db, t.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let milvus_storage = if req.meta_only || req.logical {
        None
    } else {
        Some(svc.milvus_storage()?)
    };
    // a full backup copies each collection as soon as it is described; an incremental or a
    // resumed one plans every file first (it matches the whole plan against earlier files)
    if let Some(src) = milvus_storage.filter(|_| !req.incremental && !req.resume) {
        let (collections, files) =
            pipeline::describe_and_copy(svc, req, progress, milvus, src, targets, grouped).await?;
        return finish(
            svc,
            req,
            progress,
            milvus,
            version,
            start,
            collections,
            files,
        )
        .await;
    }
    let concurrency = svc.config().tuning.backup_collections;
    let wait = svc.config().tuning.wait_timeout;
    let collections: Vec<CollectionBackupInfo> = futures::stream::iter(targets)
        .map(|t| async move {
            describe_for_backup(milvus, milvus_storage, &t, req, wait, grouped, progress).await
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    progress.check_cancelled()?;
    copy_described(
        svc,
        req,
        progress,
        milvus,
        milvus_storage,
        version,
        start,
        collections,
    )
    .await
}

/// The rest of a backup once its collections are described: their data copied (binlogs) or dumped
/// (logical), RBAC read, the manifest and the metadata written.
#[allow(clippy::too_many_arguments)]
async fn copy_described(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    milvus: &MilvusClient,
    milvus_storage: Option<&Storage>,
    version: String,
    start: chrono::DateTime<chrono::Utc>,
    mut collections: Vec<CollectionBackupInfo>,
) -> Result<BackupInfo> {
    let files = if req.logical && !req.meta_only {
        let copied = crate::engine::logical::backup::dump_collections(
            svc,
            milvus,
            &req.name,
            &mut collections,
            progress,
        )
        .await?;
        StoredFiles {
            file_count: copied.len() as u64,
            copied,
            ..Default::default()
        }
    } else if let Some(src) = milvus_storage {
        copy_binlogs(svc, req, src, &collections, progress).await?
    } else {
        StoredFiles::default()
    };
    finish(
        svc,
        req,
        progress,
        milvus,
        version,
        start,
        collections,
        files,
    )
    .await
}

/// Writes a backup whose files are all stored: RBAC read when asked, the manifest, then the
/// metadata (last: it makes the backup visible).
#[allow(clippy::too_many_arguments)]
async fn finish(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    milvus: &MilvusClient,
    version: String,
    start: chrono::DateTime<chrono::Utc>,
    mut collections: Vec<CollectionBackupInfo>,
    files: StoredFiles,
) -> Result<BackupInfo> {
    collections.sort_by_key(|c| c.qualified_name());
    let rbac_meta = if req.rbac {
        Some(
            crate::engine::rbac::backup(milvus, progress)
                .await?
                .to_value(),
        )
    } else {
        None
    };
    let info = backup_info(
        req,
        progress.id(),
        version,
        start,
        collections,
        rbac_meta,
        &files,
    );
    write_manifest_and_meta(svc, req, &info, files, progress).await?;
    Ok(info)
}

/// The files a backup holds, as its copy left them.
#[derive(Default)]
struct StoredFiles {
    /// Every data file, relative to the backup's folder.
    copied: Vec<String>,
    /// Checksums taken while copying, by path relative to the backup's folder.
    known: BTreeMap<String, crate::format::manifest::ManifestEntry>,
    file_count: u64,
    stats: Option<CopyStats>,
    /// The earlier backups files were taken from (incremental).
    bases: Vec<String>,
    /// Bytes an interrupted run copied and a resume kept.
    resumed_bytes: u64,
}

/// Copies the collections' binlogs from Milvus' bucket `src` into the backup (from earlier
/// backups where incremental, keeping what an interrupted run copied where resuming).
async fn copy_binlogs(
    svc: &Milvault,
    req: &CreateBackupRequest,
    src: &Storage,
    collections: &[CollectionBackupInfo],
    progress: &Progress,
) -> Result<StoredFiles> {
    let backups = svc.backup_storage();
    let (mut items, mut groups) = copy_plan(&req.name, collections);
    let mut bases = Vec::new();
    if req.incremental {
        progress.step("looking for earlier backups of these collections");
        let summaries = svc.list_backups().await?;
        let names: Vec<String> = collections.iter().map(|c| c.qualified_name()).collect();
        let found =
            crate::engine::incremental::find_bases(backups, &summaries, &names, progress).await?;
        found.apply(&req.name, &mut items).await?;
        bases = found.names;
    }
    let planned = items.clone();
    let mut resumed_bytes = 0;
    if req.resume {
        (items, resumed_bytes) = keep_resumed(svc, req, src, items, &mut groups, progress).await?;
    }
    let (stats, checksums) = copy_items(svc, src, items, &groups, "", progress).await?;
    progress.log(format!(
        "copied {} files, {} bytes ({}; {} bytes through milvault; {} files, {} bytes from earlier backups)",
        stats.files,
        stats.bytes,
        stats.mode.as_str(),
        stats.bytes_streamed,
        stats.files_from_base,
        stats.bytes_from_base
    ));
    if stats.files_damaged_in_base > 0 {
        progress.log(format!(
            "{} files of earlier backups did not match their manifests and were read from Milvus instead: verify those backups",
            stats.files_damaged_in_base
        ));
    }
    Ok(StoredFiles {
        file_count: planned.len() as u64,
        copied: planned
            .iter()
            .map(|i| in_backup(&req.name, &i.dst).to_string())
            .collect(),
        // checksummed as they were copied: the manifest reads only the files a resume kept
        known: checksums
            .into_iter()
            .map(|(dst, entry)| (in_backup(&req.name, &dst).to_string(), entry))
            .collect(),
        stats: Some(stats),
        bases,
        resumed_bytes,
    })
}

/// Copies planned `items` (of `groups`, one per segment) from Milvus' storage `src` into the
/// backup storage, checksumming each as it lands: the job's totals grow by them first, and its
/// step names them (`what`: which collections, or empty).
async fn copy_items(
    svc: &Milvault,
    src: &Storage,
    items: Vec<CopyItem>,
    groups: &[usize],
    what: &str,
    progress: &Progress,
) -> Result<(CopyStats, Checksums)> {
    let backups = svc.backup_storage();
    let total: u64 = items.iter().map(|i| i.size).sum();
    progress.add_total(total, groups.len() as u64);
    // segments without files (all rows deleted and compacted away) are done already
    progress.add_segments(groups.iter().filter(|&&n| n == 0).count() as u64);
    progress.step(format!(
        "copying {} files ({total} bytes){what} to {}",
        items.len(),
        backups.describe()
    ));
    copy_all_with_base(
        src,
        Some(backups),
        backups,
        items,
        groups,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await
}

/// `dst`, a path in the backup storage, relative to backup `name`'s folder.
fn in_backup<'a>(name: &str, dst: &'a str) -> &'a str {
    dst.strip_prefix(layout::backup_dir(name).as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(dst)
}

/// Resuming: the planned files an interrupted run copied whole are kept (and counted off their
/// segment's group), files it wrote that the plan no longer holds are removed. Returns the files
/// still to copy and the bytes kept.
async fn keep_resumed(
    svc: &Milvault,
    req: &CreateBackupRequest,
    src: &Storage,
    items: Vec<CopyItem>,
    groups: &mut [usize],
    progress: &Progress,
) -> Result<(Vec<CopyItem>, u64)> {
    let backups = svc.backup_storage();
    progress.step("checking the files the interrupted run copied");
    let done = crate::engine::commands::create::resume::already_copied(
        src,
        backups,
        &items,
        svc.config().tuning.copy_concurrency,
    )
    .await?;
    let removed =
        crate::engine::commands::create::resume::remove_unplanned(backups, &req.name, &items)
            .await?;
    let (mut kept, mut kept_bytes) = (0u64, 0u64);
    let mut rest = Vec::with_capacity(items.len());
    for (item, done) in items.into_iter().zip(done) {
        if done {
            kept += 1;
            kept_bytes += item.size;
            if let Some(g) = groups.get_mut(item.group) {
                *g -= 1;
            }
        } else {
            rest.push(item);
        }
    }
    progress.log(format!(
        "resume: {kept} files ({kept_bytes} bytes) were copied already and are kept; {} to copy; {removed} no longer needed removed",
        rest.len()
    ));
    Ok((rest, kept_bytes))
}

/// The backup's metadata, from its (sorted) collections and what the copy did.
fn backup_info(
    req: &CreateBackupRequest,
    id: String,
    version: String,
    start: chrono::DateTime<chrono::Utc>,
    collections: Vec<CollectionBackupInfo>,
    rbac_meta: Option<serde_json::Value>,
    files: &StoredFiles,
) -> BackupInfo {
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
    let stats = files.stats;
    BackupInfo {
        id,
        state_code: STATE_SUCCESS,
        name: req.name.clone(),
        backup_timestamp: start.timestamp_millis() as u64,
        size: collections.iter().map(|c| c.size).sum(),
        milvus_version: version,
        rbac_meta,
        database_backups: databases,
        collection_backups: collections,
        format: if req.logical {
            crate::engine::logical::FORMAT.into()
        } else {
            String::new()
        },
        milvault: Some(MilvaultInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            start_time_ms: start.timestamp_millis(),
            end_time_ms: end.timestamp_millis(),
            meta_only: req.meta_only,
            file_count: files.file_count,
            policy: req.policy.clone(),
            copy_mode: stats.map(|s| s.mode.as_str().to_string()),
            bytes_streamed: stats.map(|s| s.bytes_streamed).unwrap_or(0),
            incremental_bases: files.bases.clone(),
            files_from_base: stats.map(|s| s.files_from_base).unwrap_or(0),
            bytes_from_base: stats.map(|s| s.bytes_from_base).unwrap_or(0),
            bytes_resumed: files.resumed_bytes,
        }),
        ..Default::default()
    }
}

/// Writes the manifest, then the metadata that makes the backup visible: the last steps, each
/// only while the job still holds the backup's name and is not cancelled.
async fn write_manifest_and_meta(
    svc: &Milvault,
    req: &CreateBackupRequest,
    info: &BackupInfo,
    files: StoredFiles,
    progress: &Progress,
) -> Result<()> {
    let backups = svc.backup_storage();
    progress.check_cancelled()?;
    progress.check_fence()?;
    progress.step(format!(
        "checksumming {} files for the manifest",
        files.copied.len()
    ));
    crate::engine::integrity::write_manifest(
        backups,
        &req.name,
        files.copied,
        files.known,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await?;
    // the last moment a cancel is honoured: after this the backup exists
    progress.check_cancelled()?;
    progress.step("writing metadata");
    // only the one writer of the backup may make it visible
    progress.check_fence()?;
    write_meta(backups, info).await?;
    if let Err(e) = crate::engine::commands::create::resume::forget(backups, &req.name).await {
        progress.log(format!("could not remove the resume record: {e}"));
    }
    progress.log(format!(
        "backup '{}' complete: {} collections, {} segments, {} rows, {} bytes",
        info.name,
        info.collection_backups.len(),
        info.segment_count(),
        info.total_rows(),
        info.size
    ));
    Ok(())
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
    grouped: bool,
    progress: &Progress,
) -> Result<CollectionBackupInfo> {
    let (db, name) = (t.db.as_str(), t.name.as_str());
    let mut backup_ts = 0;
    if !req.meta_only && !req.skip_flush && !req.logical {
        progress.step(format!("flushing {db}.{name}"));
        backup_ts = milvus.flush(db, name, wait).await?;
    }
    let desc = milvus.describe_collection(db, name).await?;
    let schema = desc.schema.as_ref().ok_or_else(|| Error::Milvus {
        call: "DescribeCollection",
        reason: format!("{db}.{name} came back without a schema"),
        source: None,
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
    let mut l0_segments = Vec::new();
    if let Some(storage) = storage {
        let segments = match milvus.persistent_segments(db, name).await {
            // managed Milvus, Milvus Lite: no segments to copy, but the rows can be read
            Err(e) if e.is_unimplemented() => {
                return Err(Error::InvalidRequest(format!(
                    "{db}.{name}: this Milvus does not expose its segments ({e}), so a binlog backup is impossible; make a logical backup instead (create --logical)"
                )));
            }
            r => r?,
        };
        l0_segments =
            add_segments(storage, coll_id, &segments, grouped, &mut parts, db, name).await?;
        let skipped = segments
            .iter()
            .filter(|s| s.state != SEGMENT_FLUSHED && s.num_rows > 0)
            .count();
        if skipped > 0 {
            progress.log(format!("{db}.{name}: {skipped} segments not flushed yet were left out (their rows are not in this backup)"));
        }
        if load_state == "Loaded" {
            // rows of L0 segments are deletes, not rows
            let total: i64 = parts
                .values()
                .flat_map(|p| p.segment_backups.iter())
                .filter(|s| !s.is_l0)
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
        size: partition_backups.iter().map(|p| p.size).sum::<i64>()
            + l0_segments.iter().map(|s| s.size).sum::<i64>(),
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
        l0_segments,
        live_rows,
        ..Default::default()
    })
}

/// Segments whose folders are listed at once while a backup is planned.
const SEGMENT_LISTINGS_IN_FLIGHT: usize = 16;

/// Lists the files of the flushed `segments` (GetPersistentSegmentInfo's answer) and puts each
/// into its partition in `parts`; returns the collection-level L0 segments (partition -1), which
/// milvus-backup keeps in the collection's `l0_segments`. With `grouped` (Milvus 2.4+, or any
/// segment with a level), segments get milvus-backup v0.5.16's group id: the segment id, 0 for
/// partition -1 (`core/backup/coll_dml_task.go`, `groupID`).
async fn add_segments(
    storage: &Storage,
    coll_id: i64,
    segments: &[::milvus::proto::milvus::PersistentSegmentInfo],
    grouped: bool,
    parts: &mut BTreeMap<i64, PartitionBackupInfo>,
    db: &str,
    name: &str,
) -> Result<Vec<SegmentBackupInfo>> {
    let grouped = grouped || segments.iter().any(|s| s.level != LEVEL_LEGACY);
    let flushed: Vec<_> = segments
        .iter()
        .filter(|s| s.state == SEGMENT_FLUSHED)
        .collect();
    // each segment's folders are listed while the next ones' are (two LISTs a segment: one
    // after another they were most of the time before the first byte copied), in order
    let keys: Vec<(i64, i64, i64, bool)> = flushed
        .iter()
        .map(|s| {
            (
                s.partition_id,
                s.segment_id,
                s.num_rows,
                s.level == LEVEL_L0,
            )
        })
        .collect();
    let listed: Vec<SegmentBackupInfo> = futures::stream::iter(keys)
        .map(move |(part, seg, rows, is_l0)| {
            describe_segment(storage, coll_id, part, seg, rows, is_l0)
        })
        .buffered(SEGMENT_LISTINGS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut l0 = Vec::new();
    for (seg, mut info) in flushed.into_iter().zip(listed) {
        let is_l0 = seg.level == LEVEL_L0;
        info.is_l0 = is_l0;
        info.storage_version = seg.storage_version;
        info.v_channel = seg.insert_channel.clone();
        if grouped {
            info.group_id = if seg.partition_id == ALL_PARTITIONS {
                0
            } else {
                seg.segment_id
            };
            // milvus-backup lists delta logs as one entry, empty when there are none
            if info.deltalogs.is_empty() {
                info.deltalogs.push(FieldBinlog::default());
            }
        }
        if seg.partition_id == ALL_PARTITIONS {
            if !is_l0 {
                return Err(Error::Milvus {
                    call: "GetPersistentSegmentInfo",
                    reason: format!(
                        "segment {} of {db}.{name} is on partition -1 but is not an L0 segment (level {})",
                        seg.segment_id, seg.level
                    ),
                    source: None,
                });
            }
            l0.push(info);
            continue;
        }
        let part = parts
            .get_mut(&seg.partition_id)
            .ok_or_else(|| Error::Milvus {
                call: "GetPersistentSegmentInfo",
                reason: format!(
                    "segment {} names partition {} that {db}.{name} does not have",
                    seg.segment_id, seg.partition_id
                ),
                source: None,
            })?;
        part.size += info.size;
        part.segment_backups.push(info);
    }
    Ok(l0)
}

/// Lists a segment's insert and delta logs in Milvus' storage.
async fn describe_segment(
    storage: &Storage,
    coll: i64,
    part: i64,
    seg: i64,
    rows: i64,
    is_l0: bool,
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
            let ids = match (kind, parts.as_slice()) {
                (LogKind::Insert, [field, log]) => field.parse::<i64>().ok().zip(log.parse().ok()),
                (LogKind::Delta, [log]) => log.parse().ok().map(|log| (0, log)),
                _ => None,
            };
            let Some((field, log)) = ids.filter(|(field, _)| *field >= 0) else {
                // a stray file: not copied, so the backup's segment folders hold binlogs only
                tracing::warn!(
                    file = %storage.path(&f.rel),
                    "not a binlog (its path does not end in a field and a log id): left out of the backup"
                );
                continue;
            };
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
    // an L0 segment holds deletes only (its rows are the deleted keys)
    if rows > 0 && info.binlogs.is_empty() && !is_l0 {
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
        for seg in c.all_segments() {
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
                let dst_dir = layout::backup_segment_files_dir(
                    name,
                    kind,
                    seg.collection_id,
                    seg.partition_id,
                    seg.group_id,
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
                            base: None,
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

/// `create` as a method of the service.
impl Milvault {
    /// Makes a backup and waits for it.
    pub async fn create_backup(
        &self,
        req: CreateBackupRequest,
        progress: &Progress,
    ) -> Result<BackupInfo> {
        let name = req.name.clone();
        let r = match self.job_slot(progress).await {
            Ok(_slot) => create_backup(self, req, progress).await,
            Err(e) => Err(e),
        };
        self.summaries().forget(&name);
        if let Ok(info) = &r {
            self.summaries().forget(&info.name);
        }
        progress.finish(&r);
        r
    }

    /// Starts a backup in the background; `fence` says whether it still holds its name (see
    /// [`Fence`]).
    pub fn spawn_backup(
        self: &std::sync::Arc<Self>,
        req: CreateBackupRequest,
        fence: Option<crate::progress::Fence>,
    ) -> (
        crate::progress::JobHandle,
        tokio::task::JoinHandle<Result<BackupInfo>>,
    ) {
        let (progress, handle) = Progress::new(crate::progress::JobKind::Backup, &req.name);
        let progress = progress.fenced(fence);
        let svc = self.clone();
        (
            handle,
            tokio::spawn(async move { svc.create_backup(req, &progress).await }),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, path::Path, sync::Arc};

    use ::milvus::proto::milvus::PersistentSegmentInfo;

    use super::*;
    use crate::format::LevelInfos;
    use bytes::Bytes;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/milvus-backup/v0_5_16"
    );
    const COLL: i64 = 453000000000000100;
    const PART: i64 = 453000000000000101;
    const CHANNEL: &str = "by-dev-rootcoord-dml_0_453000000000000100v0";

    fn seg(id: i64, part: i64, rows: i64, level: i32) -> PersistentSegmentInfo {
        PersistentSegmentInfo {
            segment_id: id,
            collection_id: COLL,
            partition_id: part,
            num_rows: rows,
            state: SEGMENT_FLUSHED,
            level,
            is_sorted: true,
            storage_version: 2,
            insert_channel: CHANNEL.into(),
            ..Default::default()
        }
    }

    /// Milvus' own storage (root `files`) holding the files of the v0.5.16 fixture's segments
    /// where Milvus 2.6 keeps them, 24 bytes each.
    async fn milvus_storage(files: &[String]) -> Storage {
        let s = Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "files",
            crate::storage::tests_support::config(),
        );
        for f in files {
            s.write(f, Bytes::from(vec![0u8; 24])).await.unwrap();
        }
        s
    }

    fn fixture_meta() -> BackupInfo {
        let text =
            std::fs::read_to_string(format!("{FIXTURE}/mb_v0_5_16/meta/full_meta.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p, base, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }

    /// What GetPersistentSegmentInfo of Milvus 2.6 answers for the fixture's collection (a
    /// storage-v2 L1 segment, an L0 segment in the partition and one for the whole collection),
    /// with the files in Milvus' storage, gives exactly the segments milvus-backup v0.5.16 wrote
    /// in the fixture, and the files are copied to exactly the fixture's paths.
    #[tokio::test]
    async fn l0_and_storage_v2_segments_are_backed_up_as_milvus_backup_does() {
        let fixture = fixture_meta();
        let want = &fixture.collection_backups[0];
        // Milvus' files, from the fixture's log paths (files/insert_log/...)
        let files: Vec<String> = want
            .all_segments()
            .flat_map(|s| s.all_binlogs())
            .map(|b| b.log_path.strip_prefix("files/").unwrap().to_string())
            .collect();
        assert_eq!(files.len(), 12);
        // stray files in segment folders (not a log id): left out, never read as log id 0
        let mut stored = files.clone();
        stored.push(format!(
            "insert_log/{COLL}/{PART}/453000000000000201/100/notes.txt"
        ));
        stored.push(format!("delta_log/{COLL}/{PART}/453000000000000202/.keep"));
        let storage = milvus_storage(&stored).await;
        let answer = vec![
            seg(453000000000000201, PART, 3, 2),
            seg(453000000000000202, PART, 1, LEVEL_L0),
            seg(453000000000000203, ALL_PARTITIONS, 1, LEVEL_L0),
        ];
        let mut parts = BTreeMap::from([(
            PART,
            PartitionBackupInfo {
                partition_id: PART,
                partition_name: "_default".into(),
                collection_id: COLL,
                ..Default::default()
            },
        )]);
        let l0 = add_segments(
            &storage, COLL, &answer, true, &mut parts, "default", "articles",
        )
        .await
        .unwrap();
        let part = &parts[&PART];
        assert_eq!(
            part.segment_backups,
            want.partition_backups[0].segment_backups
        );
        assert_eq!(part.size, want.partition_backups[0].size);
        assert_eq!(l0, want.l0_segments);
        assert_eq!(l0[0].group_id, 0);
        assert_eq!(part.segment_backups[1].group_id, 453000000000000202);

        // the copy: sources in Milvus' storage, destinations exactly the fixture's files
        let coll = CollectionBackupInfo {
            collection_id: COLL,
            partition_backups: vec![part.clone()],
            l0_segments: l0,
            ..Default::default()
        };
        let (items, groups) = copy_plan("mb_v0_5_16", &[coll]);
        assert_eq!(groups, vec![10, 1, 1]);
        let dsts: BTreeSet<String> = items.iter().map(|i| i.dst.clone()).collect();
        let mut want_files = BTreeSet::new();
        let root = Path::new(FIXTURE);
        files_under(&root.join("mb_v0_5_16/binlogs"), root, &mut want_files);
        assert_eq!(dsts, want_files);
        let srcs: BTreeSet<String> = items.iter().map(|i| i.src.clone()).collect();
        assert_eq!(srcs, files.into_iter().collect());
        assert!(items.iter().all(|i| i.size == 24));
    }

    /// The level files keep partition L0 segments in segment_meta.json and collection-level
    /// ones only in full_meta.json, as v0.5.16's do.
    #[tokio::test]
    async fn metadata_files_place_l0_segments_like_the_fixture() {
        let fixture = fixture_meta();
        let backups = milvus_storage(&[]).await.with_root("backups");
        write_meta(&backups, &fixture).await.unwrap();
        let segs: LevelInfos<SegmentBackupInfo> = serde_json::from_slice(
            &backups
                .read_opt(&layout::meta_file("mb_v0_5_16", layout::SEGMENT_META))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        let want: LevelInfos<SegmentBackupInfo> = serde_json::from_str(
            &std::fs::read_to_string(format!("{FIXTURE}/mb_v0_5_16/meta/segment_meta.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(segs, want);
        let full = backups
            .read_opt(&layout::meta_file("mb_v0_5_16", layout::FULL_META))
            .await
            .unwrap()
            .unwrap();
        let full: BackupInfo = serde_json::from_slice(&full).unwrap();
        assert_eq!(full.collection_backups[0].l0_segments.len(), 1);
    }

    /// Milvus 2.3 answers no level and no storage version: no groups, no L0, delta logs only
    /// when there are files (milvault's layout before 2.4 support).
    #[tokio::test]
    async fn milvus_2_3_answers_keep_the_ungrouped_layout() {
        let files = vec![
            "insert_log/1/2/3/100/11".to_string(),
            "insert_log/1/2/3/101/12".to_string(),
            "insert_log/1/2/4/100/13".to_string(),
            "delta_log/1/2/4/14".to_string(),
        ];
        let storage = milvus_storage(&files).await;
        let legacy = |id, rows| PersistentSegmentInfo {
            segment_id: id,
            collection_id: 1,
            partition_id: 2,
            num_rows: rows,
            state: SEGMENT_FLUSHED,
            ..Default::default()
        };
        let mut parts = BTreeMap::from([(
            2,
            PartitionBackupInfo {
                partition_id: 2,
                collection_id: 1,
                ..Default::default()
            },
        )]);
        let l0 = add_segments(
            &storage,
            1,
            &[legacy(3, 5), legacy(4, 6)],
            false,
            &mut parts,
            "default",
            "c",
        )
        .await
        .unwrap();
        assert!(l0.is_empty());
        let segs = &parts[&2].segment_backups;
        assert!(segs
            .iter()
            .all(|s| s.group_id == 0 && !s.is_l0 && s.storage_version == 0));
        assert!(segs[0].deltalogs.is_empty());
        assert_eq!(segs[1].deltalogs[0].binlogs[0].log_id, 14);
        let coll = CollectionBackupInfo {
            collection_id: 1,
            partition_backups: vec![parts[&2].clone()],
            ..Default::default()
        };
        let (items, _) = copy_plan("b", &[coll]);
        let dsts: Vec<&str> = items.iter().map(|i| i.dst.as_str()).collect();
        assert_eq!(
            dsts,
            vec![
                "b/binlogs/insert_log/1/2/3/100/11",
                "b/binlogs/insert_log/1/2/3/101/12",
                "b/binlogs/insert_log/1/2/4/100/13",
                "b/binlogs/delta_log/1/2/4/14",
            ]
        );
    }

    #[tokio::test]
    async fn a_data_segment_on_partition_minus_one_is_refused() {
        let storage = milvus_storage(&["insert_log/1/-1/3/100/11".to_string()]).await;
        let mut s = seg(3, ALL_PARTITIONS, 5, 2);
        s.collection_id = 1;
        let err = add_segments(
            &storage,
            1,
            &[s],
            true,
            &mut BTreeMap::new(),
            "default",
            "c",
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("not an L0 segment"), "{err}");
    }

    #[test]
    fn versions() {
        assert_eq!(version_at_least("v2.3.5", 2, 4), Some(false));
        assert_eq!(version_at_least("v2.4.0", 2, 4), Some(true));
        assert_eq!(version_at_least("2.6.6-beta", 2, 4), Some(true));
        assert_eq!(version_at_least("v3.0.0", 2, 4), Some(true));
        assert_eq!(version_at_least("dev", 2, 4), None);
    }
}

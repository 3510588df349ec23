//! `copy`: a backup copied to another storage (`storages.NAME` in the configuration), file by
//! file through the copy pipeline ([`crate::engine::copy`]: server-side when both storages sit on
//! one S3 endpoint with one set of credentials, streamed with bounded memory otherwise). Every
//! file is checked against the backup's manifest as it lands (files the manifest does not list,
//! such as the metadata, against the source's own bytes): a streamed file by the checksum of the
//! bytes that passed and the size the destination stored, a file the storage copied itself by
//! reading it back;
//! `backup_meta.json`, what makes a backup visible, is written last, so the copy is listed there
//! only when complete. A copy that stopped (killed, cancelled, a storage error) leaves its
//! finished files: the next copy of the same backup to the same place keeps each file that
//! matches and copies only the rest. A backup is the folder it lives in, so the copy is a
//! backup of its own: verified, restored and deleted there without the original.

use std::collections::HashMap;

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    config::StorageConfig,
    engine::{
        copy::{copy_all_hashed, copy_mode, CopyItem},
        integrity::{self, stored_entry},
        names,
        service::Milvault,
    },
    error::{Error, Result},
    format::{layout, manifest::ManifestEntry},
    progress::Progress,
    storage::{FileEntry, Storage},
};

/// What to copy where: one options type for the CLI (clap), REST and gRPC.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CopyRequest {
    /// The backup to copy (REST: from the path).
    #[arg(short = 'n', long)]
    pub name: String,
    /// The storage to copy it to: a name under `storages:` in the configuration (`default` is
    /// the configured backup storage).
    #[arg(long)]
    pub to: String,
    /// The name the copy gets there; default: the backup's own.
    #[arg(long = "as", value_name = "NAME")]
    #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_name: Option<String>,
}

impl CopyRequest {
    /// The name of the copy.
    pub fn target_name(&self) -> &str {
        self.as_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.name)
    }
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CopyReport {
    /// The backup copied.
    pub backup: String,
    /// The storage it was copied from (`default` or a `storages` name).
    pub from: String,
    /// The storage it was copied to.
    pub to: String,
    /// Its name there.
    pub name: String,
    /// Files the copy holds (metadata included).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of those, files a stopped copy had already written and that matched: kept, not copied.
    pub files_kept: u64,
    /// Their bytes.
    pub bytes_kept: u64,
    /// How the bytes moved: `server-side`, `server-side across buckets`, `local file` or `stream`.
    pub mode: String,
    /// Bytes that passed through milvault (0 when the storage service copied them).
    pub bytes_streamed: u64,
}

/// Checks a copy before it starts, and opens the destination: both names valid, the storage
/// named in the configuration and not the backup's own place, the backup complete and readable,
/// and no backup of that name at the destination (nothing existing is written over).
pub async fn preflight(svc: &Milvault, req: &CopyRequest) -> Result<Storage> {
    let target = req.target_name();
    names::validate_backup_name(&req.name)?;
    names::validate_backup_name(target)?;
    let config = svc.config();
    let to: &StorageConfig = config.storage(&req.to)?;
    if to == &config.backup_storage && target == req.name {
        return Err(Error::InvalidRequest(format!(
            "backup '{}' is in storage '{}' already; copy it to another storage, or give it another name with --as",
            req.name, req.to
        )));
    }
    let dst = Storage::open(to, true, Some(svc.backup_storage()))?;
    // a complete, readable backup only (an incomplete one has no backup_meta.json to copy)
    svc.get_backup(&req.name).await?;
    if dst
        .read_opt(&layout::meta_file(target, layout::BACKUP_META))
        .await?
        .is_some()
    {
        return Err(Error::ExistsInStorage {
            storage: req.to.clone(),
            name: target.to_string(),
        });
    }
    Ok(dst)
}

/// Copies backup `req.name` from `svc`'s backup storage to the storage `req.to`.
pub async fn copy_backup(
    svc: &Milvault,
    req: &CopyRequest,
    progress: &Progress,
) -> Result<CopyReport> {
    progress.step("reading the backup");
    let dst = preflight(svc, req).await?;
    let target = req.target_name().to_string();
    let config = svc.config();
    let from_label = config.backup_storage_label().to_string();
    let src = svc.backup_storage();
    let expected = manifest_entries(src, &req.name).await?;
    let src_dir = layout::backup_dir(&req.name);
    let dst_dir = layout::backup_dir(&target);
    let files = relative(src.list_files(&src_dir).await?, &src_dir);
    let meta_rel = format!("meta/{}", layout::BACKUP_META);
    let present: HashMap<String, u64> = relative(dst.list_files(&dst_dir).await?, &dst_dir)
        .into_iter()
        .map(|f| (f.rel, f.size))
        .collect();

    let mut report = CopyReport {
        backup: req.name.clone(),
        from: from_label,
        to: req.to.clone(),
        name: target.clone(),
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.size).sum(),
        files_kept: 0,
        bytes_kept: 0,
        mode: copy_mode(src, &dst).as_str().to_string(),
        bytes_streamed: 0,
    };
    progress.add_total(report.bytes, report.files);
    progress.step("checking what an earlier copy left");
    let mut items = Vec::new();
    let mut last = None;
    for f in files {
        let item = CopyItem {
            src: format!("{src_dir}/{}", f.rel),
            dst: format!("{dst_dir}/{}", f.rel),
            size: f.size,
            group: 0,
            base: None,
        };
        if f.rel == meta_rel {
            last = Some(item);
            continue;
        }
        if present.get(&f.rel) == Some(&f.size)
            && arrived_intact(src, &dst, &item, expected.get(&f.rel)).await?
        {
            report.files_kept += 1;
            report.bytes_kept += f.size;
            progress.add_bytes(f.size);
            progress.add_segments(1);
            continue;
        }
        items.push(item);
    }
    let Some(last) = last else {
        return Err(Error::storage(
            src.describe(),
            format!(
                "{} disappeared while the backup was copied",
                layout::meta_file(&req.name, layout::BACKUP_META)
            ),
        ));
    };
    if report.files_kept > 0 {
        progress.log(format!(
            "{} files ({} bytes) of an earlier copy match and are kept",
            report.files_kept, report.bytes_kept
        ));
    }
    progress.step(format!(
        "copying {} files to storage '{}'",
        items.len(),
        req.to
    ));
    let groups: Vec<usize> = (0..items.len()).map(|_| 1).collect();
    let items: Vec<CopyItem> = items
        .into_iter()
        .enumerate()
        .map(|(i, it)| CopyItem { group: i, ..it })
        .collect();
    let concurrency = config.tuning.copy_concurrency;
    let (stats, sums) = copy_all_hashed(src, &dst, items, &groups, concurrency, progress).await?;
    report.bytes_streamed = stats.bytes_streamed;
    progress.step("checking the copied files");
    for (path, arrived) in &sums {
        let rel = path.strip_prefix(&format!("{dst_dir}/")).unwrap_or(path);
        check_arrived(src, &req.name, rel, arrived, expected.get(rel)).await?;
    }
    progress.check_cancelled()?;
    progress.check_fence()?;
    // the metadata that makes the copy visible, last
    progress.step("writing backup_meta.json");
    let (_, sums) = copy_all_hashed(src, &dst, vec![last], &[1], 1, progress).await?;
    for arrived in sums.values() {
        if let Err(e) = check_arrived(src, &req.name, &meta_rel, arrived, None).await {
            // an unchecked backup_meta.json must not stay visible
            let _ = dst
                .delete(&layout::meta_file(&target, layout::BACKUP_META))
                .await;
            return Err(e);
        }
    }
    progress.log(format!(
        "copied '{}' to storage '{}' as '{target}': {} files, {} bytes ({}; {} kept from an earlier copy)",
        req.name, req.to, report.files, report.bytes, report.mode, report.files_kept
    ));
    Ok(report)
}

/// The backup's manifest as a map (empty for a backup without one: milvus-backup's).
async fn manifest_entries(src: &Storage, name: &str) -> Result<HashMap<String, ManifestEntry>> {
    match integrity::open_manifest(src, name).await? {
        Some(m) => m.entries().try_collect().await,
        None => Ok(HashMap::new()),
    }
}

/// Files under `dir/` with paths relative to it.
fn relative(files: Vec<FileEntry>, dir: &str) -> Vec<FileEntry> {
    let prefix = format!("{dir}/");
    files
        .into_iter()
        .filter_map(|f| {
            f.rel.strip_prefix(&prefix).map(|rel| FileEntry {
                rel: rel.to_string(),
                size: f.size,
            })
        })
        .collect()
}

/// Whether a file an earlier copy left at the destination is the one to copy: the manifest's
/// checksum when it lists the file, else the source's bytes (metadata files).
async fn arrived_intact(
    src: &Storage,
    dst: &Storage,
    item: &CopyItem,
    expected: Option<&ManifestEntry>,
) -> Result<bool> {
    let found = stored_entry(dst, &item.dst).await?;
    Ok(match expected {
        Some(e) => &found == e,
        None => found == stored_entry(src, &item.src).await?,
    })
}

/// Refuses a file that did not arrive as the backup holds it: not what the manifest records, or
/// (for files it does not list) not the source's bytes.
async fn check_arrived(
    src: &Storage,
    backup: &str,
    rel: &str,
    arrived: &ManifestEntry,
    expected: Option<&ManifestEntry>,
) -> Result<()> {
    let want = match expected {
        Some(e) => e.clone(),
        None => stored_entry(src, &format!("{}/{rel}", layout::backup_dir(backup))).await?,
    };
    if &want == arrived {
        return Ok(());
    }
    Err(Error::CopyMismatch {
        name: backup.to_string(),
        detail: format!(
            "{rel} arrived as {} bytes with blake3 {} where {} bytes with blake3 {} were expected",
            arrived.size, arrived.blake3, want.size, want.blake3
        ),
    })
}

/// `copy` as a method of the service.
impl Milvault {
    /// Copies a backup to another storage and waits for it (see
    /// [`crate::engine::commands::copy`]).
    pub async fn copy_backup(&self, req: &CopyRequest, progress: &Progress) -> Result<CopyReport> {
        let r = match self.job_slot(progress).await {
            Ok(_slot) => copy_backup(self, req, progress).await,
            Err(e) => Err(e),
        };
        // a copy under another name into this same storage is a new backup here
        self.summaries().forget(req.target_name());
        progress.finish(&r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Config,
        engine::archive::tests::backup,
        progress::{JobKind, Progress},
    };

    /// A service on a local backup directory with a second one named `far`.
    fn service(dir: &std::path::Path) -> Milvault {
        let yaml = format!(
            "minio:\n  backupStorageType: local\n  backupRootPath: {}\nstorages:\n  far:\n    storageType: local\n    rootPath: {}\n",
            dir.join("near").display(),
            dir.join("far").display()
        );
        Milvault::new(Config::from_yaml(&yaml, &[]).unwrap()).unwrap()
    }

    fn request(name: &str) -> CopyRequest {
        CopyRequest {
            name: name.into(),
            to: "far".into(),
            as_name: None,
        }
    }

    async fn copy(svc: &Milvault, req: &CopyRequest) -> Result<CopyReport> {
        copy_backup(svc, req, &Progress::detached(JobKind::Copy)).await
    }

    #[tokio::test]
    async fn a_copy_is_a_backup_of_its_own_there_and_is_never_copied_over() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(dir.path());
        backup(svc.backup_storage(), "b1").await;
        let r = copy(&svc, &request("b1")).await.unwrap();
        assert_eq!(
            (r.from.as_str(), r.to.as_str(), r.name.as_str()),
            ("default", "far", "b1")
        );
        // three binlogs, the manifest and the metadata files
        assert!(r.files >= 5, "{r:?}");
        assert_eq!(r.files_kept, 0);
        assert_eq!(r.mode, "local file");
        let far = svc.on_storage("far").unwrap().unwrap();
        assert_eq!(far.get_backup("b1").await.unwrap().name, "b1");
        let v = far
            .verify("b1", &Progress::detached(JobKind::Verify))
            .await
            .unwrap();
        assert!(v.ok() && v.files_checked == 3, "{v:?}");
        assert_eq!(far.record_key("b1"), "far:b1");
        assert_eq!(svc.record_key("b1"), "b1");

        // a second copy would copy over it: refused, and nothing changes
        let e = copy(&svc, &request("b1")).await.unwrap_err();
        assert!(matches!(e, Error::ExistsInStorage { .. }), "{e}");
        // under another name it is a second backup there
        let mut renamed = request("b1");
        renamed.as_name = Some("b1_offsite".into());
        copy(&svc, &renamed).await.unwrap();
        let names: Vec<String> = far
            .list_backups()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // unknown storages and copies onto themselves are refused with what to do
        let mut nowhere = request("b1");
        nowhere.to = "elsewhere".into();
        let e = copy(&svc, &nowhere).await.unwrap_err().to_string();
        assert!(e.contains("default, far"), "{e}");
        let mut itself = request("b1");
        itself.to = "default".into();
        let e = copy(&svc, &itself).await.unwrap_err().to_string();
        assert!(e.contains("--as"), "{e}");
    }

    #[tokio::test]
    async fn a_stopped_copy_goes_on_keeping_the_files_that_match() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(dir.path());
        backup(svc.backup_storage(), "b1").await;
        let first = copy(&svc, &request("b1")).await.unwrap();
        // as a copy stopped half way leaves it: no backup_meta.json, one file missing, one
        // cut short
        let far = dir.path().join("far/b1");
        std::fs::remove_file(far.join("meta/backup_meta.json")).unwrap();
        std::fs::remove_file(far.join("binlogs/insert_log/1/2/3/100/7")).unwrap();
        std::fs::write(far.join("binlogs/delta_log/1/2/3/9"), b"short").unwrap();
        let other = svc.on_storage("far").unwrap().unwrap();
        assert!(
            other.list_backups().await.unwrap().is_empty(),
            "an unfinished copy is not listed"
        );
        let again = copy(&svc, &request("b1")).await.unwrap();
        assert_eq!(again.files, first.files);
        assert_eq!(again.files_kept, first.files - 3, "{again:?}");
        let v = other
            .verify("b1", &Progress::detached(JobKind::Verify))
            .await
            .unwrap();
        assert!(v.ok(), "{v:?}");
    }

    #[tokio::test]
    async fn a_source_that_no_longer_matches_its_manifest_is_not_made_visible() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(dir.path());
        backup(svc.backup_storage(), "b1").await;
        // same size, other bytes: only the checksum tells
        let rotted = dir.path().join("near/b1/binlogs/insert_log/1/2/3/101/8");
        let mut bytes = std::fs::read(&rotted).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&rotted, bytes).unwrap();
        let e = copy(&svc, &request("b1")).await.unwrap_err();
        assert!(matches!(e, Error::CopyMismatch { .. }), "{e}");
        assert!(
            e.to_string().contains("binlogs/insert_log/1/2/3/101/8"),
            "{e}"
        );
        assert!(!dir.path().join("far/b1/meta/backup_meta.json").exists());
    }
}

//! A full backup's collections copied as soon as each is described: while one collection's
//! binlogs copy, the next ones are flushed and their segments listed, so the first byte is copied
//! after one collection's flush and listing, not after every collection's.

use futures::StreamExt;

use super::{copy_plan, describe_for_backup, CollectionRef, CreateBackupRequest, StoredFiles};
use crate::{
    engine::{copy::copy_all_with_base, service::Milvault},
    error::Result,
    format::{layout, CollectionBackupInfo},
    milvus::MilvusClient,
    progress::Progress,
    storage::Storage,
};

/// Describes `targets` (`backupCollection` at a time, in order) and copies each one's binlogs
/// from Milvus' storage `src` into the backup as soon as it is described. A collection that
/// cannot be described stops the backup once the copy under way has ended (a copy is never
/// dropped half way: the clean-up after a failure must not race with a file still landing).
pub(super) async fn describe_and_copy(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    milvus: &MilvusClient,
    src: &Storage,
    targets: Vec<CollectionRef>,
    grouped: bool,
) -> Result<(Vec<CollectionBackupInfo>, StoredFiles)> {
    let concurrency = svc.config().tuning.backup_collections;
    let wait = svc.config().tuning.wait_timeout;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<CollectionBackupInfo>>(1);
    let describe = async move {
        let mut described = futures::stream::iter(targets)
            .map(|t| async move {
                describe_for_backup(milvus, Some(src), &t, req, wait, grouped, progress).await
            })
            .buffered(concurrency);
        while let Some(one) = described.next().await {
            let failed = one.is_err();
            if tx.send(one).await.is_err() || failed {
                break;
            }
        }
    };
    let copy = async {
        let mut collections = Vec::new();
        let mut files = StoredFiles::default();
        while let Some(one) = rx.recv().await {
            let collection = one?;
            progress.check_cancelled()?;
            copy_collection(svc, req, progress, src, &collection, &mut files).await?;
            collections.push(collection);
        }
        Ok((collections, files))
    };
    tokio::pin!(describe, copy);
    let mut described_all = false;
    loop {
        tokio::select! {
            // the copy ends the run: once it has failed, describing more (flushes) is pointless
            out = &mut copy => return out,
            () = &mut describe, if !described_all => described_all = true,
        }
    }
}

/// Copies one described collection's binlogs into the backup and adds them to `files`.
async fn copy_collection(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    src: &Storage,
    collection: &CollectionBackupInfo,
    files: &mut StoredFiles,
) -> Result<()> {
    let backups = svc.backup_storage();
    let (items, groups) = copy_plan(&req.name, std::slice::from_ref(collection));
    let total: u64 = items.iter().map(|i| i.size).sum();
    progress.add_total(total, groups.len() as u64);
    // segments without files (all rows deleted and compacted away) are done already
    progress.add_segments(groups.iter().filter(|&&n| n == 0).count() as u64);
    progress.step(format!(
        "copying {} files ({total} bytes) of {} to {}",
        items.len(),
        collection.qualified_name(),
        backups.describe()
    ));
    let prefix = format!("{}/", layout::backup_dir(&req.name));
    let relative = |dst: &str| dst.strip_prefix(&prefix).unwrap_or(dst).to_string();
    files.file_count += items.len() as u64;
    files.copied.extend(items.iter().map(|i| relative(&i.dst)));
    let (stats, checksums) = copy_all_with_base(
        src,
        Some(backups),
        backups,
        items,
        &groups,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await?;
    progress.log(format!(
        "{}: copied {} files, {} bytes ({}; {} bytes through milvault)",
        collection.qualified_name(),
        stats.files,
        stats.bytes,
        stats.mode.as_str(),
        stats.bytes_streamed,
    ));
    files.known.extend(
        checksums
            .into_iter()
            .map(|(dst, entry)| (relative(&dst), entry)),
    );
    match files.stats.as_mut() {
        Some(all) => all.add(&stats),
        None => files.stats = Some(stats),
    }
    Ok(())
}

//! A full backup's collections copied as soon as they are described: while one collection's
//! binlogs copy, the next ones are flushed and their segments listed, so the first byte is copied
//! after one collection's flush and listing, not after every collection's.

use std::sync::atomic::{AtomicBool, Ordering};

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

/// Describes `targets` (`backupCollection` at a time, in order) and copies their binlogs from
/// Milvus' storage `src` into the backup as they are described: each copy run takes every
/// collection described by then. Once a collection cannot be described, no further copy starts
/// and the backup stops when the copy under way has ended (a copy is never dropped half way:
/// the clean-up after a failure must not race with a file still landing).
pub(super) async fn describe_and_copy(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    milvus: &MilvusClient,
    src: &Storage,
    targets: Vec<CollectionRef>,
    grouped: bool,
) -> Result<(Vec<CollectionBackupInfo>, StoredFiles)> {
    let concurrency = svc.config().tuning.backup_collections.max(1);
    let wait = svc.config().tuning.wait_timeout;
    let failed = AtomicBool::new(false);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<CollectionBackupInfo>>(concurrency);
    let describe = async {
        let mut described = futures::stream::iter(targets)
            .map(|t| async move {
                describe_for_backup(milvus, Some(src), &t, req, wait, grouped, progress).await
            })
            .buffered(concurrency);
        while let Some(one) = described.next().await {
            let error = one.is_err();
            if error {
                // no copy starts from now on, also of collections described before
                failed.store(true, Ordering::Release);
            }
            if tx.send(one).await.is_err() || error {
                break;
            }
        }
        drop(tx);
    };
    let copy = async {
        let mut collections = Vec::new();
        let mut files = StoredFiles::default();
        while let Some(one) = rx.recv().await {
            let mut batch = vec![one?];
            while let Ok(more) = rx.try_recv() {
                batch.push(more?);
            }
            if failed.load(Ordering::Acquire) {
                continue; // the error follows in the channel
            }
            progress.check_cancelled()?;
            copy_collections(svc, req, progress, src, &batch, &mut files).await?;
            collections.extend(batch);
        }
        if let Some(stats) = &files.stats {
            progress.log(format!(
                "copied {} files, {} bytes ({}; {} bytes through milvault)",
                stats.files,
                stats.bytes,
                stats.mode.as_str(),
                stats.bytes_streamed
            ));
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

/// Copies described collections' binlogs into the backup in one run and adds them to `files`.
async fn copy_collections(
    svc: &Milvault,
    req: &CreateBackupRequest,
    progress: &Progress,
    src: &Storage,
    batch: &[CollectionBackupInfo],
    files: &mut StoredFiles,
) -> Result<()> {
    let backups = svc.backup_storage();
    let (items, groups) = copy_plan(&req.name, batch);
    let total: u64 = items.iter().map(|i| i.size).sum();
    progress.add_total(total, groups.len() as u64);
    // segments without files (all rows deleted and compacted away) are done already
    progress.add_segments(groups.iter().filter(|&&n| n == 0).count() as u64);
    let names: Vec<String> = batch.iter().map(|c| c.qualified_name()).collect();
    progress.step(format!(
        "copying {} files ({total} bytes) of {} to {}",
        items.len(),
        names.join(", "),
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
        "{}: copied {} files, {} bytes",
        names.join(", "),
        stats.files,
        stats.bytes,
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

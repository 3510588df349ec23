//! A full backup's collections copied as soon as they are described: while one collection's
//! binlogs copy, the next ones are flushed and their segments listed, so the first byte is copied
//! after one collection's flush and listing, not after every collection's.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;

use super::{
    copy_items, copy_plan, describe_for_backup, in_backup, CollectionRef, CreateBackupRequest,
    StoredFiles,
};
use crate::{
    engine::service::Milvault, error::Result, format::CollectionBackupInfo, milvus::MilvusClient,
    progress::Progress, storage::Storage,
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
    let (items, groups) = copy_plan(&req.name, batch);
    let names: Vec<String> = batch.iter().map(|c| c.qualified_name()).collect();
    files.file_count += items.len() as u64;
    files.copied.extend(
        items
            .iter()
            .map(|i| in_backup(&req.name, &i.dst).to_string()),
    );
    let what = format!(" of {}", names.join(", "));
    let (stats, checksums) = copy_items(svc, src, items, &groups, &what, progress).await?;
    progress.log(format!(
        "{}: copied {} files, {} bytes",
        names.join(", "),
        stats.files,
        stats.bytes,
    ));
    files.known.extend(
        checksums
            .into_iter()
            .map(|(dst, entry)| (in_backup(&req.name, &dst).to_string(), entry)),
    );
    match files.stats.as_mut() {
        Some(all) => all.add(&stats),
        None => files.stats = Some(stats),
    }
    Ok(())
}

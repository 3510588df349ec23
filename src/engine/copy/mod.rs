//! The copy pipeline: many files from one storage to another, with bounded concurrency, streaming
//! (memory does not grow with file size, and all streams together stay under
//! [`STREAM_MEMORY_BUDGET`]), a server-side copy when both sides share one bucket or sit on one S3
//! endpoint with one set of credentials ([`crate::storage::server_side`]), and a real file copy between local
//! directories.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use crate::{
    error::{Error, Result},
    format::manifest::ManifestEntry,
    progress::Progress,
    storage::Storage,
};

/// Checksums of copied files, by destination path.
pub type Checksums = std::collections::BTreeMap<String, ManifestEntry>;

/// Files up to this size are buffered and written in one request; larger ones go multipart.
pub const SINGLE_PUT_LIMIT: u64 = 8 * 1024 * 1024;
/// Part size of multipart uploads.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Bytes all streamed copies of one run may hold in memory at once (buffered small files and
/// multipart parts in flight); a copy waits for its share before it starts.
pub const STREAM_MEMORY_BUDGET: usize = 64 * 1024 * 1024;
/// Multipart parts of one file in flight at once (besides the one being filled).
const PARTS_IN_FLIGHT: usize = 2;

/// One file to copy.
#[derive(Debug, Clone)]
pub struct CopyItem {
    /// Path relative to the source root.
    pub src: String,
    /// Path relative to the destination root.
    pub dst: String,
    /// Expected size in bytes.
    pub size: u64,
    /// Index of the group (segment) it belongs to, for progress.
    pub group: usize,
    /// The same file in an earlier backup (incremental backups): copied from there instead of
    /// the source when the copy matches what that backup's manifest records, else from `src`.
    pub base: Option<BaseFile>,
}

/// A file of an earlier backup that a new backup can take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseFile {
    /// Path relative to the base storage's root (`<backup>/binlogs/...`).
    pub path: String,
    /// What the earlier backup's manifest records for it.
    pub entry: ManifestEntry,
}

/// How the bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMode {
    /// The storage service copies (same bucket).
    ServerSide,
    /// The storage service copies from one bucket into another (one S3 endpoint, one set of
    /// credentials): S3 CopyObject with a source bucket.
    ServerSideAcrossBuckets,
    /// Both sides are local directories: a file copy.
    LocalFile,
    /// Read from one, write to the other, chunk by chunk.
    Stream,
}

impl CopyMode {
    /// Whether the storage service moves the bytes itself.
    pub fn is_server_side(self) -> bool {
        matches!(
            self,
            CopyMode::ServerSide | CopyMode::ServerSideAcrossBuckets
        )
    }

    /// How the mode is named in backups' metadata and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CopyMode::ServerSide => "server-side",
            CopyMode::ServerSideAcrossBuckets => "server-side across buckets",
            CopyMode::LocalFile => "local file",
            CopyMode::Stream => "stream",
        }
    }
}

/// What a copy run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyStats {
    pub files: u64,
    pub bytes: u64,
    pub mode: CopyMode,
    /// Bytes that passed through milvault (read and written by it): `bytes` when streamed, 0 when
    /// the storage copied.
    pub bytes_streamed: u64,
    /// Files and bytes copied from the base (an earlier backup) instead of the source.
    pub files_from_base: u64,
    pub bytes_from_base: u64,
    /// Files of the base that did not match its manifest (damaged there): read from the source.
    pub files_damaged_in_base: u64,
}

impl CopyStats {
    /// Adds another run's counts (of the same pair of storages, so of the same mode).
    pub fn add(&mut self, other: &CopyStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.bytes_streamed += other.bytes_streamed;
        self.files_from_base += other.files_from_base;
        self.bytes_from_base += other.bytes_from_base;
        self.files_damaged_in_base += other.files_damaged_in_base;
    }
}

/// Chooses how to copy between two storages.
pub fn copy_mode(src: &Storage, dst: &Storage) -> CopyMode {
    if src.local_path("").is_some() && dst.local_path("").is_some() {
        CopyMode::LocalFile
    } else if src.shares_store_with(dst) {
        CopyMode::ServerSide
    } else if src.can_copy_across_buckets_to(dst) {
        CopyMode::ServerSideAcrossBuckets
    } else {
        CopyMode::Stream
    }
}

/// Copies every item, `concurrency` at a time. `group_sizes[g]` is the number of items in group
/// `g`; a group counts as one finished segment in `progress` when its last item is copied.
/// Stops at the first error.
pub async fn copy_all(
    src: &Storage,
    dst: &Storage,
    items: Vec<CopyItem>,
    group_sizes: &[usize],
    concurrency: usize,
    progress: &Progress,
) -> Result<CopyStats> {
    let sides = Sides {
        src,
        base: None,
        dst,
        checksum: false,
        in_stream: false,
    };
    let (stats, _) = copy_files(sides, items, group_sizes, concurrency, progress).await?;
    Ok(stats)
}

/// [`copy_all`] for a backup: every file is checksummed from the destination as soon as it is
/// written, while later files are still being copied (for the manifest: the same bytes a read
/// after the whole copy would see). Items with a [`BaseFile`] are copied from `base` (an earlier
/// backup in the backup storage: a server-side copy there) instead of `src`; a copy whose
/// checksum is not the one the base's manifest records (the base's file rotted or was changed)
/// is replaced by the source's file, so damage in one backup never spreads to the next.
pub async fn copy_all_with_base(
    src: &Storage,
    base: Option<&Storage>,
    dst: &Storage,
    items: Vec<CopyItem>,
    group_sizes: &[usize],
    concurrency: usize,
    progress: &Progress,
) -> Result<(CopyStats, Checksums)> {
    let sides = Sides {
        src,
        base,
        dst,
        checksum: true,
        in_stream: false,
    };
    copy_files(sides, items, group_sizes, concurrency, progress).await
}

/// [`copy_all`] with a checksum of every file, for copies of files whose checksums are known (a
/// backup's manifest, to compare with): a streamed file is checksummed as it passes (the bytes
/// read are the bytes written) and its stored size checked, instead of being read back; files
/// the storage copies itself (server-side, local) are read back.
pub async fn copy_all_hashed(
    src: &Storage,
    dst: &Storage,
    items: Vec<CopyItem>,
    group_sizes: &[usize],
    concurrency: usize,
    progress: &Progress,
) -> Result<(CopyStats, Checksums)> {
    let sides = Sides {
        src,
        base: None,
        dst,
        checksum: true,
        in_stream: true,
    };
    copy_files(sides, items, group_sizes, concurrency, progress).await
}

/// Where a copy run reads and writes, and whether it checksums what it wrote.
#[derive(Clone, Copy)]
struct Sides<'a> {
    src: &'a Storage,
    base: Option<&'a Storage>,
    dst: &'a Storage,
    checksum: bool,
    /// Checksum streamed files as they pass instead of reading them back.
    in_stream: bool,
}

async fn copy_files(
    sides: Sides<'_>,
    items: Vec<CopyItem>,
    group_sizes: &[usize],
    concurrency: usize,
    progress: &Progress,
) -> Result<(CopyStats, Checksums)> {
    let mode = copy_mode(sides.src, sides.dst);
    let base_mode = sides.base.map(|b| copy_mode(b, sides.dst));
    let files = items.len() as u64;
    let bytes: u64 = items.iter().map(|i| i.size).sum();
    let (from_base, from_src): (Vec<&CopyItem>, Vec<&CopyItem>) = items
        .iter()
        .partition(|i| i.base.is_some() && sides.base.is_some() && sides.checksum);
    let mut files_from_base = from_base.len() as u64;
    let mut bytes_from_base: u64 = from_base.iter().map(|i| i.size).sum();
    let mut bytes_streamed: u64 = 0;
    if mode == CopyMode::Stream {
        bytes_streamed += from_src.iter().map(|i| i.size).sum::<u64>();
    }
    if base_mode == Some(CopyMode::Stream) {
        bytes_streamed += bytes_from_base;
    }
    let run = Run {
        sides,
        mode,
        base_mode,
        progress,
        budget: tokio::sync::Semaphore::new(STREAM_MEMORY_BUDGET / KIB),
        remaining: group_sizes.iter().map(|&n| AtomicUsize::new(n)).collect(),
        fallback_bytes: AtomicU64::new(0),
        damaged: AtomicU64::new(0),
        damaged_bytes: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
    };
    // every started copy runs to its end, also after a failure or a cancel: a copy dropped half
    // way (a server-side CopyObject whose answer is not awaited) could still land after the job
    // removed what it wrote. Files not started yet are skipped once the run stops.
    let outcomes: Vec<Result<Option<(String, ManifestEntry)>>> = futures::stream::iter(items)
        .map(|item| run.copy_item(item))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut checksums = Checksums::new();
    let mut first_error = None;
    for outcome in outcomes {
        match outcome {
            Ok(Some((dst, entry))) => {
                checksums.insert(dst, entry);
            }
            Ok(None) => {}
            Err(Error::Cancelled) if first_error.is_some() => {}
            Err(e) => {
                if first_error.is_none() || matches!(first_error, Some(Error::Cancelled)) {
                    first_error = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    bytes_streamed += run.fallback_bytes.load(Ordering::Acquire);
    let files_damaged_in_base = run.damaged.load(Ordering::Acquire);
    files_from_base -= files_damaged_in_base;
    bytes_from_base -= run.damaged_bytes.load(Ordering::Acquire);
    let fallback = run.fallback_bytes.load(Ordering::Acquire);
    let direct = bytes.saturating_sub(bytes_from_base);
    let mut copied = crate::progress::CopiedBytes {
        from_base: bytes_from_base,
        ..Default::default()
    };
    match mode {
        CopyMode::Stream => copied.streamed = direct,
        CopyMode::LocalFile => copied.local = direct,
        CopyMode::ServerSide | CopyMode::ServerSideAcrossBuckets => {
            copied.streamed = fallback.min(direct);
            copied.server_side = direct - copied.streamed;
        }
    }
    progress.add_copied(copied);
    let stats = CopyStats {
        files,
        bytes,
        mode,
        bytes_streamed,
        files_from_base,
        bytes_from_base,
        files_damaged_in_base,
    };
    Ok((stats, checksums))
}

/// One copy run's settings and counters, shared by its files' copies.
struct Run<'a> {
    sides: Sides<'a>,
    mode: CopyMode,
    base_mode: Option<CopyMode>,
    progress: &'a Progress,
    budget: tokio::sync::Semaphore,
    /// Files left per group (segment).
    remaining: Vec<AtomicUsize>,
    fallback_bytes: AtomicU64,
    damaged: AtomicU64,
    damaged_bytes: AtomicU64,
    /// Set by the first failure: files not started yet are skipped.
    stopped: AtomicBool,
}

impl Run<'_> {
    /// Copies one file and, when the run checksums, reads it back: its destination and entry.
    async fn copy_item(&self, item: CopyItem) -> Result<Option<(String, ManifestEntry)>> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Cancelled);
        }
        self.progress.check_cancelled()?;
        // a writer whose claim on the backup lapsed copies nothing more
        self.progress.check_fence()?;
        let r = self.copy_and_check(&item).await;
        if r.is_err() {
            self.stopped.store(true, Ordering::Release);
        }
        let sum = r?;
        if let Some(counter) = self.remaining.get(item.group) {
            if counter.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.progress.add_segments(1);
            }
        }
        Ok(sum.map(|entry| (item.dst, entry)))
    }

    async fn copy_and_check(&self, item: &CopyItem) -> Result<Option<ManifestEntry>> {
        let Sides {
            src,
            base,
            checksum,
            ..
        } = self.sides;
        let from_base = match (&item.base, base, self.base_mode) {
            (Some(file), Some(b), Some(m)) if checksum => Some((file, b, m)),
            _ => None,
        };
        if let Some((file, b, m)) = from_base {
            let via_base = CopyItem {
                src: file.path.clone(),
                ..item.clone()
            };
            self.copy(b, &via_base, m).await?;
            let sum = self.read_back(item).await?;
            if sum == file.entry {
                return Ok(Some(sum));
            }
            // the base's file is not what its manifest says: take Milvus' own
            self.damaged.fetch_add(1, Ordering::AcqRel);
            self.damaged_bytes.fetch_add(item.size, Ordering::AcqRel);
            tracing::warn!(file = %file.path, "a file of the base backup does not match its manifest");
            self.progress.log(format!(
                "{} does not match the manifest of the backup it is in (damaged there: run verify on it); read from Milvus instead",
                file.path
            ));
        }
        let hashed = self.copy(src, item, self.mode).await?;
        match (checksum, hashed) {
            (true, Some(entry)) => {
                self.check_stored_size(item).await?;
                Ok(Some(entry))
            }
            (true, None) => Ok(Some(self.read_back(item).await?)),
            (false, _) => Ok(None),
        }
    }

    /// Whether the storage holds as many bytes as were streamed into it.
    async fn check_stored_size(&self, item: &CopyItem) -> Result<()> {
        let dst = self.sides.dst;
        match dst.size_of(&item.dst).await? {
            Some(n) if n == item.size => Ok(()),
            found => Err(Error::storage(
                format!("checking {} in {}", item.dst, dst.describe()),
                format!(
                    "the copy holds {found:?} bytes, {} were written: the storage did not store what it acknowledged",
                    item.size
                ),
            )),
        }
    }

    /// Copies `item` from `from` with `mode`. A storage service that fails a server-side copy
    /// (some S3 servers answer 500 to CopyObject under load, or do not implement it across
    /// buckets) still serves GET and PUT: the file is then streamed (counted as fallback).
    async fn copy(
        &self,
        from: &Storage,
        item: &CopyItem,
        mode: CopyMode,
    ) -> Result<Option<ManifestEntry>> {
        let (dst, budget, progress) = (self.sides.dst, &self.budget, self.progress);
        let hash = self.sides.in_stream;
        match copy_within_budget(from, dst, item, mode, budget, progress, hash).await {
            Err(e) if mode.is_server_side() && matches!(e, Error::Storage { .. }) => {
                tracing::warn!(
                    file = %item.src,
                    error = %e,
                    "server-side copy failed; streaming the file through milvault instead"
                );
                let hashed =
                    copy_within_budget(from, dst, item, CopyMode::Stream, budget, progress, hash)
                        .await?;
                self.fallback_bytes.fetch_add(item.size, Ordering::AcqRel);
                Ok(hashed)
            }
            other => other,
        }
    }

    /// Reads the file just written back for its manifest entry; a stored file of another size
    /// than planned (a copy the storage answered but did not make) fails the copy.
    async fn read_back(&self, item: &CopyItem) -> Result<ManifestEntry> {
        let entry = checksum_stored(self.sides.dst, &item.dst, self.progress).await?;
        if entry.size != item.size {
            return Err(Error::storage(
                format!("checking {} in {}", item.dst, self.sides.dst.describe()),
                format!(
                    "the copy holds {} bytes, {} were copied: the storage did not store what it acknowledged",
                    entry.size, item.size
                ),
            ));
        }
        Ok(entry)
    }
}

/// Reads a file just written back from `dst` for its manifest entry, until cancelled.
async fn checksum_stored(dst: &Storage, path: &str, progress: &Progress) -> Result<ManifestEntry> {
    tokio::select! {
        r = crate::engine::integrity::stored_entry(dst, path) => r,
        _ = progress.cancelled() => Err(Error::Cancelled),
    }
}

const KIB: usize = 1024;

/// The most memory streaming one file of `size` bytes holds at once.
fn stream_memory(size: u64) -> usize {
    if size <= SINGLE_PUT_LIMIT {
        size as usize
    } else {
        PART_SIZE * (PARTS_IN_FLIGHT + 1)
    }
}

/// [`copy_one`] after taking the file's share of the stream memory budget (only streamed copies
/// hold bytes).
async fn copy_within_budget(
    src: &Storage,
    dst: &Storage,
    item: &CopyItem,
    mode: CopyMode,
    budget: &tokio::sync::Semaphore,
    progress: &Progress,
    hash: bool,
) -> Result<Option<ManifestEntry>> {
    let _share = if mode == CopyMode::Stream {
        let need = stream_memory(item.size).div_ceil(KIB).max(1) as u32;
        // waiting for memory ends with a cancel (nothing was started yet)
        let share = tokio::select! {
            share = budget.acquire_many(need) => share.map_err(|_| Error::Cancelled)?,
            _ = progress.cancelled() => return Err(Error::Cancelled),
        };
        Some(share)
    } else {
        None
    };
    copy_one(src, dst, item, mode, progress, hash).await
}

async fn copy_one(
    src: &Storage,
    dst: &Storage,
    item: &CopyItem,
    mode: CopyMode,
    progress: &Progress,
    hash: bool,
) -> Result<Option<ManifestEntry>> {
    let src_err = |e: &dyn std::fmt::Display| {
        Error::storage(format!("reading {} from {}", item.src, src.describe()), e)
    };
    let dst_err = |e: &dyn std::fmt::Display| {
        Error::storage(format!("writing {} to {}", item.dst, dst.describe()), e)
    };
    match mode {
        CopyMode::ServerSide => {
            dst.store()
                .copy(&src.path(&item.src), &dst.path(&item.dst))
                .await
                .map_err(|e| dst_err(&e))?;
            progress.add_bytes(item.size);
        }
        CopyMode::ServerSideAcrossBuckets => {
            let (from, to) = match (src.s3_bucket(), dst.s3_bucket()) {
                (Some(f), Some(t)) => (f, t),
                _ => return Err(dst_err(&"server-side copy between non-S3 storages")),
            };
            let src_key = src.path(&item.src);
            let dst_key = dst.path(&item.dst);
            to.copy_from(from, src_key.as_ref(), dst_key.as_ref(), item.size)
                .await
                .map_err(|e| {
                    Error::storage(
                        format!(
                            "copying {} from {} to {} on the server",
                            item.src,
                            src.describe(),
                            dst.describe()
                        ),
                        e,
                    )
                })?;
            progress.add_bytes(item.size);
        }
        CopyMode::LocalFile => {
            let (from, to) = match (src.local_path(&item.src), dst.local_path(&item.dst)) {
                (Some(f), Some(t)) => (f, t),
                _ => return Err(dst_err(&"local copy between non-local storages")),
            };
            if let Some(parent) = to.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| dst_err(&e))?;
            }
            let tmp = to.with_extension(format!("milvault-{}.tmp", uuid::Uuid::new_v4().simple()));
            let copied = tokio::fs::copy(&from, &tmp)
                .await
                .map_err(|e| src_err(&e))?;
            if copied != item.size {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(src_err(&format!(
                    "expected {} bytes, read {copied}; the file changed during the copy",
                    item.size
                )));
            }
            tokio::fs::rename(&tmp, &to)
                .await
                .map_err(|e| dst_err(&e))?;
            progress.add_bytes(copied);
        }
        CopyMode::Stream => {
            let got = src
                .store()
                .get(&src.path(&item.src))
                .await
                .map_err(|e| src_err(&e))?;
            let mut stream = got.into_stream();
            let mut copied = 0u64;
            let mut hasher = hash.then(blake3::Hasher::new);
            if item.size <= SINGLE_PUT_LIMIT {
                let mut buf = Vec::with_capacity(item.size as usize);
                while let Some(chunk) = stream.try_next().await.map_err(|e| src_err(&e))? {
                    buf.extend_from_slice(&chunk);
                }
                if let Some(h) = hasher.as_mut() {
                    h.update(&buf);
                }
                copied = buf.len() as u64;
                check_size(item, copied).map_err(|e| src_err(&e))?;
                dst.store()
                    .put(&dst.path(&item.dst), PutPayload::from(buf))
                    .await
                    .map_err(|e| dst_err(&e))?;
                progress.add_bytes(copied);
            } else {
                let upload = dst
                    .store()
                    .put_multipart(&dst.path(&item.dst))
                    .await
                    .map_err(|e| dst_err(&e))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                let result: Result<()> = async {
                    while let Some(chunk) = stream.try_next().await.map_err(|e| src_err(&e))? {
                        // a cancel aborts the upload (below): no part of it is left behind
                        progress.check_cancelled()?;
                        writer
                            .wait_for_capacity(PARTS_IN_FLIGHT)
                            .await
                            .map_err(|e| dst_err(&e))?;
                        copied += chunk.len() as u64;
                        progress.add_bytes(chunk.len() as u64);
                        if let Some(h) = hasher.as_mut() {
                            h.update(&chunk);
                        }
                        writer.put(chunk);
                    }
                    check_size(item, copied).map_err(|e| src_err(&e))
                }
                .await;
                match result {
                    Ok(()) => {
                        writer.finish().await.map_err(|e| dst_err(&e))?;
                    }
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                }
            }
            return Ok(hasher.map(|h| ManifestEntry {
                size: copied,
                blake3: h.finalize().to_hex().to_string(),
            }));
        }
    }
    Ok(None)
}

fn check_size(item: &CopyItem, copied: u64) -> std::result::Result<(), String> {
    if copied == item.size {
        Ok(())
    } else {
        Err(format!(
            "expected {} bytes, read {copied}; the file changed during the copy",
            item.size
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::StorageKind, jobs::JobKind};
    use bytes::Bytes;
    use object_store::memory::InMemory;
    use std::sync::Arc;

    fn mem(root: &str) -> Storage {
        on_store(Arc::new(InMemory::new()), root)
    }

    fn on_store(store: Arc<dyn object_store::ObjectStore>, root: &str) -> Storage {
        let mut c = crate::storage::tests_support::config();
        c.root_path = root.into();
        Storage::from_store(store, root, c)
    }

    async fn fill(s: &Storage, files: &[(&str, usize)]) -> Vec<CopyItem> {
        let mut items = Vec::new();
        for (i, (name, size)) in files.iter().enumerate() {
            let data: Vec<u8> = (0..*size).map(|b| (b % 251) as u8).collect();
            s.write(name, Bytes::from(data)).await.unwrap();
            items.push(CopyItem {
                src: name.to_string(),
                dst: format!("copy/{name}"),
                size: *size as u64,
                group: i % 2,
                base: None,
            });
        }
        items
    }

    #[tokio::test]
    async fn hashed_streams_checksum_what_passes_and_match_a_read_back() {
        let (src, dst) = (mem("a"), mem("b"));
        let big = SINGLE_PUT_LIMIT as usize + PART_SIZE + 123;
        let items = fill(&src, &[("x/1", 10), ("x/2", big), ("x/3", 0)]).await;
        let (p, _h) = Progress::new(JobKind::Copy, "t");
        let (stats, sums) = copy_all_hashed(&src, &dst, items, &[2, 1], 4, &p)
            .await
            .unwrap();
        assert_eq!(stats.mode, CopyMode::Stream);
        assert_eq!(sums.len(), 3);
        for (path, entry) in &sums {
            let stored = crate::engine::integrity::stored_entry(&dst, path)
                .await
                .unwrap();
            assert_eq!(&stored, entry, "{path}");
        }
        assert_eq!(sums["copy/x/2"].size, big as u64);
    }

    #[tokio::test]
    async fn streams_small_and_multipart_files_and_counts_segments() {
        let (src, dst) = (mem("a"), mem("b"));
        let big = SINGLE_PUT_LIMIT as usize + PART_SIZE + 123;
        let items = fill(&src, &[("x/1", 10), ("x/2", big), ("x/3", 0)]).await;
        let (p, h) = Progress::new(JobKind::Backup, "t");
        let stats = copy_all(&src, &dst, items, &[2, 1], 4, &p).await.unwrap();
        assert_eq!(stats.mode, CopyMode::Stream);
        assert_eq!(stats.files, 3);
        assert_eq!(stats.bytes, (10 + big) as u64);
        let copied = dst.read_opt("copy/x/2").await.unwrap().unwrap();
        let original = src.read_opt("x/2").await.unwrap().unwrap();
        assert_eq!(copied, original);
        assert_eq!(dst.size_of("copy/x/3").await.unwrap(), Some(0));
        let s = h.snapshot();
        assert_eq!(s.bytes_done, (10 + big) as u64);
        assert_eq!(s.segments_done, 2);
    }

    #[tokio::test]
    async fn same_store_copies_on_the_server() {
        let src = mem("a");
        let dst = src.with_root("b");
        let items = fill(&src, &[("f", 5)]).await;
        let p = Progress::detached(JobKind::Backup);
        let stats = copy_all(&src, &dst, items, &[1], 2, &p).await.unwrap();
        assert_eq!(stats.mode, CopyMode::ServerSide);
        assert_eq!(dst.read_opt("copy/f").await.unwrap().unwrap().len(), 5);
    }

    #[tokio::test]
    async fn a_backup_copy_checksums_every_file_and_takes_only_sound_files_from_the_base() {
        let (src, dst) = (mem("a"), mem("b"));
        let mut items = fill(&src, &[("s/1", 1000), ("s/2", 0), ("s/3", 77), ("s/4", 50)]).await;
        let expect = |data: &[u8]| ManifestEntry {
            size: data.len() as u64,
            blake3: blake3::hash(data).to_hex().to_string(),
        };
        // the third and fourth files are in an earlier backup in the destination storage: the
        // third as its manifest says, the fourth changed since (same size, as bit rot does)
        let third = src.read_opt("s/3").await.unwrap().unwrap();
        let fourth = src.read_opt("s/4").await.unwrap().unwrap();
        dst.write("old/s/3", third.clone()).await.unwrap();
        let mut rotten = fourth.to_vec();
        rotten[7] ^= 1;
        dst.write("old/s/4", Bytes::from(rotten)).await.unwrap();
        for (i, old) in [(2, "old/s/3"), (3, "old/s/4")] {
            items[i].base = Some(BaseFile {
                path: old.into(),
                entry: expect(if i == 2 { &third } else { &fourth }),
            });
        }
        let p = Progress::detached(JobKind::Backup);
        let (stats, sums) = copy_all_with_base(&src, Some(&dst), &dst, items, &[2, 2], 2, &p)
            .await
            .unwrap();
        assert_eq!(stats.files, 4);
        assert_eq!((stats.files_from_base, stats.bytes_from_base), (1, 77));
        assert_eq!(stats.files_damaged_in_base, 1);
        assert_eq!(sums.len(), 4, "{sums:?}");
        let first = src.read_opt("s/1").await.unwrap().unwrap();
        assert_eq!(sums["copy/s/1"], expect(&first));
        assert_eq!(sums["copy/s/2"], expect(&[]));
        assert_eq!(sums["copy/s/3"], expect(&third));
        // the damaged base file did not spread: the new backup holds the source's bytes
        assert_eq!(sums["copy/s/4"], expect(&fourth));
        assert_eq!(dst.read_opt("copy/s/4").await.unwrap().unwrap(), fourth);
        // the restore's staging copy checksums nothing
        let items = fill(&src, &[("t/1", 5)]).await;
        copy_all(&src, &dst, items, &[1], 1, &p).await.unwrap();
    }

    /// An in-memory store whose server-side copy always fails, as an S3 server answering 500 to
    /// every CopyObject.
    #[derive(Debug)]
    struct CopyRefusing(InMemory);

    impl std::fmt::Display for CopyRefusing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("copy-refusing memory")
        }
    }

    #[async_trait::async_trait]
    impl object_store::ObjectStore for CopyRefusing {
        async fn put_opts(
            &self,
            location: &object_store::path::Path,
            payload: PutPayload,
            opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            self.0.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &object_store::path::Path,
            opts: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &object_store::path::Path,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            self.0.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<
                'static,
                object_store::Result<object_store::path::Path>,
            >,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>>
        {
            self.0.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&object_store::path::Path>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
        {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&object_store::path::Path>,
        ) -> object_store::Result<object_store::ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            _from: &object_store::path::Path,
            _to: &object_store::path::Path,
            _options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            Err(object_store::Error::Generic {
                store: "copy-refusing memory",
                source: "HTTP 500 Internal Server Error: We encountered an internal error".into(),
            })
        }
    }

    #[tokio::test]
    async fn a_failed_server_side_copy_falls_back_to_streaming() {
        let src = on_store(Arc::new(CopyRefusing(InMemory::new())), "a");
        let dst = src.with_root("b");
        let items = fill(&src, &[("f", 5), ("g", 7)]).await;
        let p = Progress::detached(JobKind::Backup);
        let stats = copy_all(&src, &dst, items, &[2], 2, &p).await.unwrap();
        assert_eq!(stats.mode, CopyMode::ServerSide);
        assert_eq!(stats.bytes_streamed, 12, "both files went through milvault");
        assert_eq!(dst.read_opt("copy/f").await.unwrap().unwrap().len(), 5);
        assert_eq!(dst.read_opt("copy/g").await.unwrap().unwrap().len(), 7);
    }

    #[tokio::test]
    async fn a_missing_source_still_fails_after_the_fallback() {
        let src = on_store(Arc::new(CopyRefusing(InMemory::new())), "a");
        let dst = src.with_root("b");
        let mut items = fill(&src, &[("f", 5)]).await;
        items[0].src = "gone".into();
        let p = Progress::detached(JobKind::Backup);
        let err = copy_all(&src, &dst, items, &[1], 1, &p).await.unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
    }

    #[tokio::test]
    async fn a_size_mismatch_fails_the_copy() {
        let (src, dst) = (mem("a"), mem("b"));
        let mut items = fill(&src, &[("f", 5)]).await;
        items[0].size = 6;
        let err = copy_all(
            &src,
            &dst,
            items,
            &[1],
            1,
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("expected 6 bytes, read 5"),
            "{err}"
        );
        assert!(
            dst.read_opt("copy/f").await.unwrap().is_none(),
            "nothing half-written is left"
        );
    }

    #[tokio::test]
    async fn local_directories_get_real_copies() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::storage::tests_support::config();
        c.kind = StorageKind::Local;
        c.root_path = dir.path().join("src").to_string_lossy().into_owned();
        let src = Storage::open(&c, true, None).unwrap();
        c.root_path = dir.path().join("dst").to_string_lossy().into_owned();
        let dst = Storage::open(&c, true, None).unwrap();
        let items = fill(&src, &[("seg/100/1", 1000)]).await;
        let stats = copy_all(
            &src,
            &dst,
            items,
            &[1],
            2,
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
        assert_eq!(stats.mode, CopyMode::LocalFile);
        let copy = dir.path().join("dst/copy/seg/100/1");
        let meta = std::fs::metadata(&copy).unwrap();
        assert_eq!(meta.len(), 1000);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.nlink(), 1, "a copy, not a hard link to Milvus' file");
    }
}

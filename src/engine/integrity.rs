//! Checksums of backup files: building a backup's manifest from the files it wrote, and checking
//! files against a manifest (for `verify` and before a restore).

use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use tempfile::TempPath;

use crate::{
    error::{Error, Result},
    format::{
        layout,
        manifest::{
            read_entries, FileProblem, Found, Manifest, ManifestEntry, ManifestWriter, ReadError,
            ALGORITHM, MANIFEST_FILE,
        },
    },
    progress::Progress,
    storage::Storage,
};

/// `<name>/meta/milvault_manifest.json`.
pub fn manifest_path(backup: &str) -> String {
    layout::meta_file(backup, MANIFEST_FILE)
}

/// How many entries travel together from the thread that parses a manifest.
const BATCH: usize = 512;

/// How many damaged files a check names (by path order); it counts them all.
pub const PROBLEMS_NAMED: usize = 1000;

/// A backup's manifest, copied to a local temporary file and read from there one entry at a time:
/// a manifest of any size is checked, verified and used as a base in bounded memory. Opening it
/// reads it through once (its totals, and any damage in the JSON is found before a file is read).
#[derive(Debug)]
pub struct ManifestFile {
    backup: String,
    spool: Arc<TempPath>,
    /// Number of files it lists.
    pub files: u64,
    /// Sum of their sizes.
    pub bytes: u64,
}

/// Opens a backup's manifest; `None` when it has none (milvus-backup's, or an older milvault's).
pub async fn open_manifest(storage: &Storage, backup: &str) -> Result<Option<ManifestFile>> {
    let spool = tempfile::Builder::new()
        .prefix("milvault-manifest-")
        .tempfile()
        .map_err(|e| {
            Error::storage(
                std::env::temp_dir().display().to_string(),
                format!("cannot create a temporary file for the manifest: {e}"),
            )
        })?
        .into_temp_path();
    if storage
        .download_to(&manifest_path(backup), &spool)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let mut m = ManifestFile {
        backup: backup.into(),
        spool: Arc::new(spool),
        files: 0,
        bytes: 0,
    };
    let (files, bytes) = m.totals().await?;
    (m.files, m.bytes) = (files, bytes);
    Ok(Some(m))
}

/// Reads a backup's whole manifest into memory; `None` when it has none. For small manifests
/// and tests: the commands read it as a stream ([`open_manifest`]).
pub async fn read_manifest(storage: &Storage, backup: &str) -> Result<Option<Manifest>> {
    let Some(m) = open_manifest(storage, backup).await? else {
        return Ok(None);
    };
    let files = m.entries().try_collect().await?;
    Ok(Some(Manifest {
        version: 1,
        algorithm: ALGORITHM.into(),
        files,
    }))
}

impl ManifestFile {
    fn corrupt(&self, reason: impl std::fmt::Display) -> Error {
        Error::CorruptMetadata {
            name: self.backup.clone(),
            file: MANIFEST_FILE.into(),
            reason: reason.to_string(),
        }
    }

    /// One pass over the file: how many files and bytes, checking the header.
    async fn totals(&self) -> Result<(u64, u64)> {
        let spool = self.spool.clone();
        let read = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&*spool)?;
            let (mut files, mut bytes) = (0u64, 0u64);
            let header = read_entries(std::io::BufReader::new(file), |_, e| {
                files += 1;
                bytes += e.size;
                Ok::<_, ()>(())
            });
            Ok::<_, std::io::Error>(header.map(|h| (h, files, bytes)))
        })
        .await
        .map_err(|e| self.corrupt(format!("the reader stopped: {e}")))?
        .map_err(|e| self.corrupt(format!("cannot read the local copy: {e}")))?;
        match read {
            Ok((header, files, bytes)) => {
                if header.algorithm != ALGORITHM {
                    return Err(self.corrupt(format!(
                        "checksums of '{}', only {ALGORITHM} is known",
                        header.algorithm
                    )));
                }
                Ok((files, bytes))
            }
            Err(ReadError::Json(e)) => Err(self.corrupt(e)),
            Err(ReadError::Stopped(())) => Err(self.corrupt("stopped")),
        }
    }

    /// The manifest's files in the order written (path order), read by a blocking thread a
    /// batch at a time; dropping the stream stops the reading.
    pub fn entries(&self) -> impl Stream<Item = Result<(String, ManifestEntry)>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<(String, ManifestEntry)>>>(4);
        let spool = self.spool.clone();
        let corrupt = {
            let backup = self.backup.clone();
            move |reason: String| Error::CorruptMetadata {
                name: backup.clone(),
                file: MANIFEST_FILE.into(),
                reason,
            }
        };
        tokio::task::spawn_blocking(move || {
            let file = match std::fs::File::open(&*spool) {
                Ok(f) => f,
                Err(e) => {
                    let _ =
                        tx.blocking_send(Err(corrupt(format!("cannot read the local copy: {e}"))));
                    return;
                }
            };
            let mut batch = Vec::with_capacity(BATCH);
            let read = read_entries(std::io::BufReader::new(file), |p, e| {
                batch.push((p, e));
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.blocking_send(Ok(full)).map_err(|_| ())?;
                }
                Ok(())
            });
            match read {
                Ok(_) => {
                    let _ = tx.blocking_send(Ok(batch));
                }
                Err(ReadError::Json(e)) => {
                    let _ = tx.blocking_send(Err(corrupt(e.to_string())));
                }
                Err(ReadError::Stopped(())) => {}
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx).flat_map(|batch| {
            futures::stream::iter(match batch {
                Ok(entries) => entries.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        })
    }
}

/// Checksums `files` (paths relative to the backup's folder) as stored now, `concurrency` at a
/// time, and writes them with the `known` entries (files checksummed as they were copied, and
/// files copied byte for byte from an earlier backup whose manifest has them) as the backup's
/// manifest, through a local temporary file (no second copy of it in memory). Files in `known`
/// are not read again. Returns the number of files it lists.
pub async fn write_manifest(
    storage: &Storage,
    backup: &str,
    files: Vec<String>,
    mut known: std::collections::BTreeMap<String, ManifestEntry>,
    concurrency: usize,
    progress: &Progress,
) -> Result<usize> {
    let files: Vec<String> = files
        .into_iter()
        .filter(|f| !known.contains_key(f))
        .collect();
    let taken_over = known.len();
    let dir = layout::backup_dir(backup);
    let mut hashed = futures::stream::iter(files)
        .map(|rel| {
            let dir = &dir;
            async move {
                let entry = stored_entry(storage, &format!("{dir}/{rel}")).await?;
                Ok::<_, Error>((rel, entry))
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(r) = hashed.next().await {
        let (rel, entry) = r?;
        known.insert(rel, entry);
    }
    let total = known.len();
    let spool = tokio::task::spawn_blocking(move || -> std::io::Result<TempPath> {
        let file = tempfile::Builder::new()
            .prefix("milvault-manifest-")
            .tempfile()?;
        let (file, path) = file.into_parts();
        let mut w = ManifestWriter::new(std::io::BufWriter::new(file))?;
        for (rel, entry) in &known {
            w.entry(rel, entry)?;
        }
        w.finish()?;
        Ok(path)
    })
    .await
    .map_err(|e| Error::storage("the manifest", format!("the writer stopped: {e}")))?
    .map_err(|e| {
        Error::storage(
            std::env::temp_dir().display().to_string(),
            format!("cannot write the manifest to a temporary file: {e}"),
        )
    })?;
    storage.upload_from(&manifest_path(backup), &spool).await?;
    progress.log(format!(
        "manifest: {} files checksummed now ({ALGORITHM}), {taken_over} known already (checksummed as they were copied, or taken over from earlier backups)",
        total - taken_over
    ));
    Ok(total)
}

/// The manifest entry of a file just written to `storage` (`path` under its root), read back.
pub async fn stored_entry(storage: &Storage, path: &str) -> Result<ManifestEntry> {
    match storage.checksum(path).await? {
        Some((size, blake3)) => Ok(ManifestEntry { size, blake3 }),
        None => Err(Error::storage(
            format!("{path} in {}", storage.describe()),
            "the file was copied but is not there to checksum",
        )),
    }
}

/// What a check found.
#[derive(Debug, Clone, Default)]
pub struct CheckOutcome {
    pub files: u64,
    pub bytes: u64,
    /// Files missing or damaged, all counted.
    pub damaged: u64,
    /// The first [`PROBLEMS_NAMED`] of them in path order.
    pub problems: Vec<FileProblem>,
}

/// A problem ordered by its file's path, to keep the first ones of many in bounded memory.
struct ByPath(FileProblem);

impl PartialEq for ByPath {
    fn eq(&self, other: &Self) -> bool {
        self.0.path() == other.0.path()
    }
}
impl Eq for ByPath {}
impl PartialOrd for ByPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.path().cmp(other.0.path())
    }
}

/// Checks the manifest's files that `select` accepts against the backup as stored now, reading
/// the manifest as it goes. Progress counts bytes read.
pub async fn check_files(
    storage: &Storage,
    backup: &str,
    manifest: &ManifestFile,
    select: impl Fn(&str) -> bool,
    concurrency: usize,
    progress: &Progress,
) -> Result<CheckOutcome> {
    let dir = layout::backup_dir(backup);
    let dir = dir.as_str();
    let mut out = CheckOutcome::default();
    let mut first = std::collections::BinaryHeap::new();
    let mut results = manifest
        .entries()
        .try_filter(|(p, _)| futures::future::ready(select(p)))
        .map_ok(|(rel, entry)| async move {
            let found = check_one(storage, dir, &rel, &entry).await;
            Ok::<_, Error>(found)
        })
        .try_buffer_unordered(concurrency.max(1));
    while let Some(r) = results.next().await {
        let (size, problem) = r?;
        out.files += 1;
        out.bytes += size;
        progress.add_bytes(size);
        if let Some(p) = problem {
            out.damaged += 1;
            if out.damaged <= 20 {
                progress.log(format!("damaged: {p}"));
            }
            first.push(ByPath(p));
            if first.len() > PROBLEMS_NAMED {
                first.pop();
            }
        }
    }
    out.problems = first.into_sorted_vec().into_iter().map(|p| p.0).collect();
    Ok(out)
}

/// Sorted path prefixes (segment or collection folders, none inside another): is a path under
/// one of them, by binary search.
pub struct Prefixes(Vec<String>);

impl Prefixes {
    /// The prefixes, in any order.
    pub fn new(mut prefixes: Vec<String>) -> Prefixes {
        prefixes.sort();
        prefixes.dedup();
        Prefixes(prefixes)
    }

    /// `path` starts with one of the prefixes.
    pub fn contain(&self, path: &str) -> bool {
        // the greatest prefix <= path is the only one that can start it (none nests in another)
        let i = self.0.partition_point(|p| p.as_str() <= path);
        i > 0 && path.starts_with(self.0[i - 1].as_str())
    }
}

/// Checks one file of the backup in `dir` against its manifest entry: its size and any problem.
async fn check_one(
    storage: &Storage,
    dir: &str,
    rel: &str,
    entry: &ManifestEntry,
) -> (u64, Option<FileProblem>) {
    let found = match storage.checksum(&format!("{dir}/{rel}")).await {
        Ok(Some((size, blake3))) => Found::Present { size, blake3 },
        Ok(None) => Found::Absent,
        Err(e) => Found::Error(e.to_string()),
    };
    (entry.size, entry.check(rel, &found))
}

/// The check before a restore: the backup's files under `prefixes` (what the restore reads)
/// against its manifest. A damaged backup is refused ([`Error::BackupDamaged`], naming up to ten
/// files) unless `force`, when it is only logged. `what` names the files in messages
/// ("files", "Parquet files").
#[allow(clippy::too_many_arguments)]
pub async fn check_before_restore(
    storage: &Storage,
    backup: &str,
    manifest: &ManifestFile,
    prefixes: Vec<String>,
    what: &str,
    concurrency: usize,
    force: bool,
    progress: &Progress,
) -> Result<()> {
    let prefixes = Prefixes::new(prefixes);
    let outcome = check_files(
        storage,
        backup,
        manifest,
        |p| prefixes.contain(p),
        concurrency,
        &Progress::detached(crate::progress::JobKind::Verify),
    )
    .await?;
    if outcome.problems.is_empty() {
        progress.log(format!(
            "verified {} {what} ({} bytes): intact",
            outcome.files, outcome.bytes
        ));
        return Ok(());
    }
    let files = describe_problems(&outcome.problems, outcome.damaged, 10);
    if force {
        progress.log(format!(
            "WARNING: restoring a damaged backup because force was given: {files}"
        ));
        return Ok(());
    }
    Err(Error::BackupDamaged {
        name: backup.to_string(),
        count: outcome.damaged as usize,
        files,
    })
}

/// The problems in words (of `count` in all), at most `max` of them named.
pub fn describe_problems(problems: &[FileProblem], count: u64, max: usize) -> String {
    let mut s = problems
        .iter()
        .take(max)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let named = problems.len().min(max) as u64;
    if count > named {
        s.push_str(&format!("; and {} more", count - named));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::JobKind;

    fn storage() -> Storage {
        Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "backups",
            crate::storage::tests_support::config(),
        )
    }

    /// Writes `n` one-byte files of backup `b` and its manifest; returns their paths.
    async fn backup_of(s: &Storage, n: usize) -> Vec<String> {
        let mut rels = Vec::new();
        for i in 0..n {
            let rel = format!("binlogs/insert_log/1/2/{}/100/{i}", 3 + i % 7);
            s.write(&format!("b/{rel}"), vec![i as u8].into())
                .await
                .unwrap();
            rels.push(rel);
        }
        let p = Progress::detached(JobKind::Backup);
        let listed = write_manifest(s, "b", rels.clone(), Default::default(), 8, &p)
            .await
            .unwrap();
        assert_eq!(listed, n);
        rels
    }

    #[tokio::test]
    async fn every_damaged_file_is_counted_and_the_first_ones_named() {
        let s = storage();
        let rels = backup_of(&s, 1_250).await;
        let m = open_manifest(&s, "b").await.unwrap().unwrap();
        assert_eq!((m.files, m.bytes), (1_250, 1_250));
        let p = Progress::detached(JobKind::Verify);
        let intact = check_files(&s, "b", &m, |_| true, 8, &p).await.unwrap();
        assert_eq!((intact.files, intact.damaged), (1_250, 0));
        // 1,100 files lost, one changed
        for rel in &rels[..1_100] {
            s.delete(&format!("b/{rel}")).await.unwrap();
        }
        s.write(&format!("b/{}", rels[1_200]), vec![0xff].into())
            .await
            .unwrap();
        let out = check_files(&s, "b", &m, |_| true, 8, &p).await.unwrap();
        assert_eq!(out.files, 1_250);
        assert_eq!(out.damaged, 1_101);
        assert_eq!(out.problems.len(), PROBLEMS_NAMED);
        let mut sorted: Vec<&str> = out.problems.iter().map(|p| p.path()).collect();
        sorted.sort();
        assert_eq!(
            sorted,
            out.problems.iter().map(|p| p.path()).collect::<Vec<_>>(),
            "named in path order"
        );
        let mut damaged: Vec<String> = rels[..1_100].to_vec();
        damaged.push(rels[1_200].clone());
        damaged.sort();
        assert_eq!(sorted, damaged[..PROBLEMS_NAMED], "the first ones by path");
        let words = describe_problems(&out.problems, out.damaged, 10);
        assert!(words.ends_with("; and 1091 more"), "{words}");
    }

    #[tokio::test]
    async fn the_check_before_a_restore_reads_only_what_it_restores() {
        let s = storage();
        let rels = backup_of(&s, 70).await;
        let m = open_manifest(&s, "b").await.unwrap().unwrap();
        // segment 4 is damaged, the restore reads segments 3 and 5 only
        let in_4: Vec<&String> = rels.iter().filter(|r| r.contains("/2/4/")).collect();
        s.delete(&format!("b/{}", in_4[0])).await.unwrap();
        let p = Progress::detached(JobKind::Restore);
        let prefixes = |segs: &[i64]| {
            segs.iter()
                .map(|seg| crate::format::manifest::segment_prefix("insert_log", 1, 2, *seg))
                .collect::<Vec<_>>()
        };
        check_before_restore(&s, "b", &m, prefixes(&[5, 3]), "files", 4, false, &p)
            .await
            .unwrap();
        let refused = check_before_restore(&s, "b", &m, prefixes(&[3, 4]), "files", 4, false, &p)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, Error::BackupDamaged { count: 1, files, .. } if files.contains(in_4[0].as_str())),
            "{refused}"
        );
    }

    #[test]
    fn prefixes_are_found_by_binary_search() {
        let p = Prefixes::new(vec![
            "binlogs/insert_log/1/2/30/".into(),
            "binlogs/insert_log/1/2/3/".into(),
            "binlogs/delta_log/1/2/3/".into(),
        ]);
        assert!(p.contain("binlogs/insert_log/1/2/3/100/7"));
        assert!(p.contain("binlogs/insert_log/1/2/30/100/7"));
        assert!(p.contain("binlogs/delta_log/1/2/3/9"));
        assert!(!p.contain("binlogs/insert_log/1/2/4/100/7"));
        assert!(!p.contain("binlogs/insert_log/1/2/300/100/7"));
        assert!(!p.contain("binlogs/"));
        assert!(!Prefixes::new(Vec::new()).contain("x"));
    }
}

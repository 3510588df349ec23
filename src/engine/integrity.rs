//! Checksums of backup files: building a backup's manifest from the files it wrote, and checking
//! files against a manifest (for `verify` and before a restore).

use futures::StreamExt;

use crate::{
    error::{Error, Result},
    format::{
        layout,
        manifest::{FileProblem, Found, Manifest, ManifestEntry, ALGORITHM, MANIFEST_FILE},
    },
    progress::Progress,
    storage::Storage,
};

/// `<name>/meta/milvault_manifest.json`.
pub fn manifest_path(backup: &str) -> String {
    layout::meta_file(backup, MANIFEST_FILE)
}

/// Reads a backup's manifest; `None` when it has none (milvus-backup's, or an older milvault's).
pub async fn read_manifest(storage: &Storage, backup: &str) -> Result<Option<Manifest>> {
    let Some(bytes) = storage.read_opt(&manifest_path(backup)).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::CorruptMetadata {
            name: backup.into(),
            file: MANIFEST_FILE.into(),
            reason: e.to_string(),
        })
}

/// Checksums `files` (paths relative to the backup's folder) as stored now, `concurrency` at a
/// time, and writes them with the `known` entries (files checksummed as they were copied, and
/// files copied byte for byte from an earlier backup whose manifest has them) as the backup's
/// manifest. Files in `known` are not read again.
pub async fn write_manifest(
    storage: &Storage,
    backup: &str,
    files: Vec<String>,
    known: std::collections::BTreeMap<String, ManifestEntry>,
    concurrency: usize,
    progress: &Progress,
) -> Result<Manifest> {
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
    let mut manifest = Manifest {
        version: 1,
        algorithm: ALGORITHM.into(),
        files: known,
    };
    while let Some(r) = hashed.next().await {
        let (rel, entry) = r?;
        manifest.files.insert(rel, entry);
    }
    let json = serde_json::to_vec(&manifest)
        .map_err(|e| Error::InvalidRequest(format!("cannot encode the manifest: {e}")))?;
    storage.write(&manifest_path(backup), json.into()).await?;
    progress.log(format!(
        "manifest: {} files checksummed now ({ALGORITHM}), {taken_over} known already (checksummed as they were copied, or taken over from earlier backups)",
        manifest.files.len() - taken_over
    ));
    Ok(manifest)
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
    pub problems: Vec<FileProblem>,
}

/// Checks the manifest's files that `select` accepts against the backup as stored now.
/// Progress counts bytes read.
pub async fn check_files(
    storage: &Storage,
    backup: &str,
    manifest: &Manifest,
    select: impl Fn(&str) -> bool,
    concurrency: usize,
    progress: &Progress,
) -> CheckOutcome {
    let dir = layout::backup_dir(backup);
    let mut out = CheckOutcome::default();
    // the manifest's entries are borrowed, not copied: a million-file manifest is held once
    let dir = dir.as_str();
    let chosen: Vec<(&str, &ManifestEntry)> = manifest
        .files
        .iter()
        .filter(|(p, _)| select(p))
        .map(|(p, e)| (p.as_str(), e))
        .collect();
    let chosen = &chosen;
    // by index: a closure over borrowed pairs would not be Send for every lifetime
    let mut results = futures::stream::iter(0..chosen.len())
        .map(|i| check_one(storage, dir, chosen[i].0, chosen[i].1))
        .buffer_unordered(concurrency.max(1));
    while let Some((size, problem)) = results.next().await {
        out.files += 1;
        out.bytes += size;
        progress.add_bytes(size);
        if let Some(p) = problem {
            progress.log(format!("damaged: {p}"));
            out.problems.push(p);
        }
    }
    out.problems.sort_by(|a, b| a.path().cmp(b.path()));
    out
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
    manifest: &Manifest,
    prefixes: &[String],
    what: &str,
    concurrency: usize,
    force: bool,
    progress: &Progress,
) -> Result<()> {
    let outcome = check_files(
        storage,
        backup,
        manifest,
        |p| prefixes.iter().any(|x| p.starts_with(x.as_str())),
        concurrency,
        &Progress::detached(crate::progress::JobKind::Verify),
    )
    .await;
    if outcome.problems.is_empty() {
        progress.log(format!(
            "verified {} {what} ({} bytes): intact",
            outcome.files, outcome.bytes
        ));
        return Ok(());
    }
    let files = describe_problems(&outcome.problems, 10);
    if force {
        progress.log(format!(
            "WARNING: restoring a damaged backup because force was given: {files}"
        ));
        return Ok(());
    }
    Err(Error::BackupDamaged {
        name: backup.to_string(),
        count: outcome.problems.len(),
        files,
    })
}

/// The problems in words, at most `max` of them named.
pub fn describe_problems(problems: &[FileProblem], max: usize) -> String {
    let mut s = problems
        .iter()
        .take(max)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > max {
        s.push_str(&format!("; and {} more", problems.len() - max));
    }
    s
}

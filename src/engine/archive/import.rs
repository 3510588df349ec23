//! Reading an archive into the backup storage as a new backup: every file is streamed in and
//! checksummed on the way, checked against the backup's manifest, and `backup_meta.json` (what
//! makes a backup visible) is written last. A refused archive leaves nothing behind.

use std::{
    collections::{BTreeMap, HashSet},
    sync::atomic::Ordering,
};

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio_tar::{Archive, EntryType};

use super::{
    entry_path::{EntryKind, EntryPath},
    limit::Limited,
};
use crate::{
    engine::{integrity, meta_files::info_from, names},
    error::{Error, Result},
    format::{
        layout,
        manifest::{Found, MANIFEST_FILE},
        BackupInfo,
    },
    storage::{
        stream::{WriteError, Written},
        Storage,
    },
};

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// The backup it made.
    pub backup: String,
    /// The name the archive's metadata gave, when it was imported under another one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Files written (metadata included).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The largest metadata file an archive may hold (they are read whole).
const META_MAX: u64 = 256 << 20;

/// zstd's frame magic: a compressed archive starts with it.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How many damaged files a refusal names.
const NAMED: usize = 10;

fn bad(why: impl Into<String>) -> Error {
    Error::BadArchive(why.into())
}

/// Imports the tar (or zstd-compressed tar) `input` as a new backup: named `wanted`, else as the
/// archive's `backup_meta.json` names it (then it must be the first entry, as `export` writes
/// it). `claim` is called with the name before anything is written (it claims the name and its
/// guard is held to the end); `allow` sees the metadata before the backup is made visible. Any
/// failure removes what was written.
pub async fn read_archive<R, G>(
    storage: &Storage,
    wanted: Option<&str>,
    input: R,
    max_bytes: Option<u64>,
    claim: impl FnOnce(&str) -> Result<G>,
    allow: impl FnOnce(&str, &BackupInfo) -> Result<()>,
) -> Result<ImportReport>
where
    R: AsyncRead + Unpin + Send,
{
    let limited = Limited::new(input, max_bytes);
    let tripped = limited.tripped();
    let too_large = |e: Error| match (tripped.load(Ordering::SeqCst), max_bytes) {
        (true, Some(limit)) => Error::ArchiveTooLarge { limit },
        _ => e,
    };
    let mut buffered = BufReader::new(limited);
    let head = buffered
        .fill_buf()
        .await
        .map_err(|e| too_large(bad(format!("it cannot be read: {e}"))))?;
    let reader: Box<dyn AsyncRead + Unpin + Send + '_> = if head.starts_with(&ZSTD_MAGIC) {
        Box::new(async_compression::tokio::bufread::ZstdDecoder::new(
            buffered,
        ))
    } else {
        Box::new(buffered)
    };
    let mut archive = Archive::new(reader);
    let mut entries = archive
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    let mut pending = None;
    let (target, from_archive) = match wanted {
        Some(name) => (name.to_string(), None),
        None => {
            let first = next_file(&mut entries).await.map_err(&too_large)?;
            let Some((path, mut entry)) = first else {
                return Err(bad("it is empty"));
            };
            if !path.is_marker() {
                return Err(bad(format!(
                    "it starts with '{}', not meta/{} (as `milvault export` writes it), so the backup's name is unknown; give the name to import it as",
                    path.as_str(),
                    layout::BACKUP_META
                )));
            }
            let bytes = read_meta(&path, &mut entry).await.map_err(&too_large)?;
            let name = recorded_name(&bytes)?;
            pending = Some(bytes);
            (name.clone(), Some(name))
        }
    };
    names::validate_backup_name(&target)?;
    let _guard = claim(&target)?;
    name_is_free(storage, &target).await?;
    let mut import = Import {
        storage,
        target: target.clone(),
        marker: None,
        found: BTreeMap::new(),
        meta_seen: HashSet::new(),
        renamed_from: None,
        files: 0,
        bytes: 0,
    };
    let r = async {
        if let Some(bytes) = pending {
            import.take_marker(bytes)?;
        }
        while let Some((path, mut entry)) = next_file(&mut entries).await? {
            import.take(&path, &mut entry).await?;
        }
        import.finish(allow).await
    }
    .await
    .map_err(&too_large);
    match r {
        Ok(mut report) => {
            report.renamed_from = report
                .renamed_from
                .or(from_archive.filter(|n| *n != target));
            Ok(report)
        }
        Err(e) => {
            let dir = layout::backup_dir(&target);
            match storage.delete_under(&dir).await {
                Ok(n) => {
                    tracing::info!(backup = %target, files = n, "import refused, removed what it wrote: {e}")
                }
                Err(d) => {
                    tracing::warn!(backup = %target, "import refused ({e}); removing what it wrote failed: {d}")
                }
            }
            Err(e)
        }
    }
}

type Entries<'a> = tokio_tar::Entries<Box<dyn AsyncRead + Unpin + Send + 'a>>;
type Entry<'a> = tokio_tar::Entry<tokio_tar::Archive<Box<dyn AsyncRead + Unpin + Send + 'a>>>;

/// The next file of the archive with its checked path; folders are skipped, links and devices
/// refused.
async fn next_file<'a>(entries: &mut Entries<'a>) -> Result<Option<(EntryPath, Entry<'a>)>> {
    loop {
        let entry = match entries.next().await {
            None => return Ok(None),
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                return Err(bad(format!(
                    "it is not a readable tar archive (truncated or damaged?): {e}"
                )))
            }
        };
        let raw = entry
            .path_bytes()
            .map_err(|e| bad(format!("an entry's path cannot be read: {e}")))?;
        let raw = String::from_utf8(raw.into_owned())
            .map_err(|e| bad(format!("an entry's path is not UTF-8: {e}")))?;
        let path = EntryPath::parse(&raw).map_err(bad)?;
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => return Ok(Some((path, entry))),
            EntryType::Directory | EntryType::XGlobalHeader => continue,
            other => {
                return Err(bad(format!(
                    "entry '{raw}' is a {other:?}, not a file; a backup holds files only"
                )))
            }
        }
    }
}

/// Reads a metadata entry whole.
async fn read_meta(path: &EntryPath, entry: &mut Entry<'_>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    entry
        .take(META_MAX + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| {
            bad(format!(
                "{} cannot be read (truncated?): {e}",
                path.as_str()
            ))
        })?;
    if bytes.len() as u64 > META_MAX {
        return Err(bad(format!(
            "{} is larger than {META_MAX} bytes, which no metadata file is",
            path.as_str()
        )));
    }
    Ok(bytes)
}

/// The `name` a metadata file records.
fn recorded_name(bytes: &[u8]) -> Result<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "meta/{} is not valid JSON: {e}",
            layout::BACKUP_META
        ))
    })?;
    match v.get("name").and_then(|n| n.as_str()) {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(bad(format!(
            "meta/{} names no backup; give the name to import it as",
            layout::BACKUP_META
        ))),
    }
}

/// `bytes` (a metadata file's JSON) with its `name` set to `name`; the name it had when that
/// differs. Files that record no name are kept as they are.
pub fn renamed(bytes: Vec<u8>, name: &str, file: &str) -> Result<(Vec<u8>, Option<String>)> {
    let mut v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("meta/{file} is not valid JSON: {e}")))?;
    let Some(old) = v.get("name").and_then(|n| n.as_str()).map(str::to_string) else {
        return Ok((bytes, None));
    };
    if old == name {
        return Ok((bytes, None));
    }
    v["name"] = serde_json::Value::String(name.to_string());
    let out = serde_json::to_vec(&v).map_err(|e| bad(format!("meta/{file}: {e}")))?;
    Ok((out, Some(old)))
}

/// Refuses a name that a backup, complete or not, already uses: nothing is overwritten.
async fn name_is_free(storage: &Storage, name: &str) -> Result<()> {
    if storage
        .size_of(&layout::meta_file(name, layout::BACKUP_META))
        .await?
        .is_some()
    {
        return Err(Error::BackupExists(name.into()));
    }
    if storage.any_under(&layout::backup_dir(name)).await? {
        return Err(Error::IncompleteBackupExists(name.into()));
    }
    Ok(())
}

/// An import under way.
struct Import<'s> {
    storage: &'s Storage,
    target: String,
    /// `backup_meta.json`, renamed, written last.
    marker: Option<Vec<u8>>,
    /// The data files written, with what was written.
    found: BTreeMap<String, Written>,
    meta_seen: HashSet<String>,
    renamed_from: Option<String>,
    files: u64,
    bytes: u64,
}

impl Import<'_> {
    fn take_marker(&mut self, bytes: Vec<u8>) -> Result<()> {
        if self.marker.is_some() {
            return Err(bad(format!("meta/{} appears twice", layout::BACKUP_META)));
        }
        let (bytes, old) = renamed(bytes, &self.target, layout::BACKUP_META)?;
        self.renamed_from = self.renamed_from.take().or(old);
        self.files += 1;
        self.bytes += bytes.len() as u64;
        self.marker = Some(bytes);
        Ok(())
    }

    async fn take(&mut self, path: &EntryPath, entry: &mut Entry<'_>) -> Result<()> {
        let to = path.in_backup(&self.target);
        match path.kind().map_err(bad)? {
            EntryKind::Meta(file) => {
                let bytes = read_meta(path, entry).await?;
                if path.is_marker() {
                    return self.take_marker(bytes);
                }
                if !self.meta_seen.insert(file.to_string()) {
                    return Err(bad(format!("{} appears twice", path.as_str())));
                }
                let bytes = if file == layout::FULL_META {
                    renamed(bytes, &self.target, file)?.0
                } else {
                    bytes
                };
                self.files += 1;
                self.bytes += bytes.len() as u64;
                self.storage.write(&to, bytes.into()).await
            }
            EntryKind::Data => {
                if self.found.contains_key(path.as_str()) {
                    return Err(bad(format!("{} appears twice", path.as_str())));
                }
                let w = self
                    .storage
                    .write_hashed(&to, entry)
                    .await
                    .map_err(|e| match e {
                        WriteError::Read(e) => bad(format!(
                            "{} cannot be read (truncated?): {e}",
                            path.as_str()
                        )),
                        WriteError::Store(e) => e,
                    })?;
                self.files += 1;
                self.bytes += w.size;
                self.found.insert(path.as_str().to_string(), w);
                Ok(())
            }
        }
    }

    /// Checks every file against the manifest and the metadata, then writes `backup_meta.json`.
    async fn finish(
        mut self,
        allow: impl FnOnce(&str, &BackupInfo) -> Result<()>,
    ) -> Result<ImportReport> {
        let Some(marker) = self.marker.take() else {
            return Err(bad(format!(
                "it has no meta/{}, so it holds no complete backup",
                layout::BACKUP_META
            )));
        };
        let Some(manifest) = integrity::open_manifest(self.storage, &self.target).await? else {
            return Err(bad(format!(
                "it has no meta/{MANIFEST_FILE}, so its files cannot be checked (backups made by milvus-backup or an older milvault cannot travel as archives)"
            )));
        };
        let (mut problems, mut damaged) = (Vec::new(), 0u64);
        let mut listed = manifest.entries();
        while let Some(item) = listed.next().await {
            let (path, want) = item?;
            let found = match self.found.remove(&path) {
                Some(w) => Found::Present {
                    size: w.size,
                    blake3: w.blake3,
                },
                None => Found::Absent,
            };
            if let Some(p) = want.check(&path, &found) {
                damaged += 1;
                if problems.len() < NAMED {
                    problems.push(p);
                }
            }
        }
        if damaged > 0 {
            return Err(bad(format!(
                "{damaged} of its files are missing or differ from its manifest ({})",
                integrity::describe_problems(&problems, damaged, NAMED)
            )));
        }
        if !self.found.is_empty() {
            let extra: Vec<&str> = self.found.keys().take(NAMED).map(String::as_str).collect();
            return Err(bad(format!(
                "{} of its files are not in its manifest: {}{}",
                self.found.len(),
                extra.join(", "),
                if self.found.len() > NAMED {
                    ", ..."
                } else {
                    ""
                }
            )));
        }
        let info = info_from(self.storage, &self.target, &marker)
            .await
            .map_err(|e| bad(format!("its metadata cannot be read: {e}")))?;
        allow(&self.target, &info)?;
        self.storage
            .write(
                &layout::meta_file(&self.target, layout::BACKUP_META),
                marker.into(),
            )
            .await?;
        tracing::info!(backup = %self.target, files = self.files, bytes = self.bytes, "imported");
        Ok(ImportReport {
            backup: self.target,
            renamed_from: self.renamed_from,
            files: self.files,
            bytes: self.bytes,
        })
    }
}

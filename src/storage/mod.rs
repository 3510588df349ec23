//! Storage locations on `object_store`: a store (bucket or local directory) plus a root prefix.
//!
//! Milvus' binlog storage and the backup storage are both a [`Storage`]. Two storages built from
//! configs that name the same bucket of the same service share one client, which lets the copy
//! pipeline copy on the server.

use std::{
    path::{Path as FsPath, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{
    local::LocalFileSystem, path::Path, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
};

mod remote;
pub mod server_side;
pub mod stream;

use crate::{
    config::{StorageConfig, StorageKind},
    error::{Error, Result},
    storage::server_side::S3Bucket,
};

/// A storage location: one store and a root prefix inside it.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Prefix inside the store, no leading or trailing '/'. Empty for local stores (the store is
    /// rooted at the directory).
    root: String,
    /// For local stores: the absolute directory the store is rooted at.
    local_dir: Option<PathBuf>,
    config: StorageConfig,
    /// For S3: what the server-side copier across buckets needs.
    s3: Option<Arc<S3Bucket>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.config.describe())
    }
}

/// A file found under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the storage root.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
}

fn trim(p: &str) -> &str {
    p.trim_matches('/')
}

fn join(a: &str, b: &str) -> String {
    match (trim(a), trim(b)) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

impl Storage {
    /// Opens a storage. `create_local_dir` creates a missing local directory (for the backup
    /// side); Milvus' own directory must already exist. `share_with` reuses that storage's client
    /// when both name the same bucket of the same service.
    pub fn open(
        config: &StorageConfig,
        create_local_dir: bool,
        share_with: Option<&Storage>,
    ) -> Result<Storage> {
        let location = config.describe();
        let storage_err = |e: &dyn std::fmt::Display| Error::storage(location.clone(), e);
        match config.kind {
            StorageKind::Local => {
                let dir = std::path::absolute(&config.root_path).map_err(|e| storage_err(&e))?;
                if create_local_dir {
                    std::fs::create_dir_all(&dir).map_err(|e| {
                        Error::storage(
                            location.clone(),
                            format!("cannot create the directory: {e}"),
                        )
                    })?;
                } else if !dir.is_dir() {
                    return Err(Error::storage(
                        location,
                        "the directory does not exist; set rootPath to the directory Milvus keeps its data in (localStorage.path)",
                    ));
                }
                let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| storage_err(&e))?;
                Ok(Storage {
                    store: Arc::new(store),
                    root: String::new(),
                    local_dir: Some(dir),
                    config: config.clone(),
                    s3: None,
                })
            }
            _ => {
                let (store, s3) = match share_with {
                    Some(other) if other.config.same_bucket_as(config) => {
                        (other.store.clone(), other.s3.clone())
                    }
                    _ => remote::build(config).map_err(|e| storage_err(&e))?,
                };
                Ok(Storage {
                    store,
                    root: trim(&config.root_path).to_string(),
                    local_dir: None,
                    config: config.clone(),
                    s3,
                })
            }
        }
    }

    /// Builds a storage on an existing store (used by tests with `object_store::memory::InMemory`).
    pub fn from_store(store: Arc<dyn ObjectStore>, root: &str, config: StorageConfig) -> Storage {
        Storage {
            store,
            root: trim(root).to_string(),
            local_dir: None,
            config,
            s3: None,
        }
    }

    /// The same store under another root prefix (relative to the store's top).
    pub fn with_root(&self, root: &str) -> Storage {
        let mut s = self.clone();
        s.root = trim(root).to_string();
        s
    }

    /// The configuration it was opened from.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Human-readable location, without credentials.
    pub fn describe(&self) -> String {
        self.config.describe()
    }

    /// Whether both use the same client (so a copy between them can run on the server).
    pub fn shares_store_with(&self, other: &Storage) -> bool {
        Arc::ptr_eq(&self.store, &other.store)
    }

    /// Whether a copy from `self` into `other` can run on the server although they are different
    /// buckets: both S3 on one endpoint with one set of credentials.
    pub fn can_copy_across_buckets_to(&self, other: &Storage) -> bool {
        match (&self.s3, &other.s3) {
            (Some(a), Some(b)) => a.same_endpoint_and_credentials(b),
            _ => false,
        }
    }

    /// The S3 bucket, for the server-side copier.
    pub(crate) fn s3_bucket(&self) -> Option<&Arc<S3Bucket>> {
        self.s3.as_ref()
    }

    /// The absolute file of `rel`, for local stores.
    pub fn local_path(&self, rel: &str) -> Option<PathBuf> {
        self.local_dir
            .as_ref()
            .map(|d| d.join(join(&self.root, rel)))
    }

    /// The object path of `rel` inside the store.
    pub fn path(&self, rel: &str) -> Path {
        Path::from(join(&self.root, rel))
    }

    /// How Milvus' own chunk manager names `rel` in an Import request: the key inside the bucket
    /// for object stores (root prefix included), the absolute path for local storage.
    pub fn import_path(&self, rel: &str) -> String {
        match &self.local_dir {
            Some(dir) => dir
                .join(join(&self.root, rel))
                .to_string_lossy()
                .into_owned(),
            None => join(&self.root, rel),
        }
    }

    fn err<E>(&self, rel: &str, e: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::storage_caused(format!("{} ({})", self.describe(), rel), e)
    }

    /// Every file under the folder `rel`, recursively, with paths relative to the root.
    pub async fn list_files(&self, rel: &str) -> Result<Vec<FileEntry>> {
        let prefix = self.path(rel);
        let root_len = if self.root.is_empty() {
            0
        } else {
            self.root.len() + 1
        };
        let metas: Vec<ObjectMeta> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| self.err(rel, e))?;
        Ok(metas
            .into_iter()
            .map(|m| FileEntry {
                rel: m.location.as_ref()[root_len..].to_string(),
                size: m.size,
            })
            .collect())
    }

    /// The names of the folders directly under `rel`.
    pub async fn list_dirs(&self, rel: &str) -> Result<Vec<String>> {
        let prefix = self.path(rel);
        let prefix_opt = if prefix.as_ref().is_empty() {
            None
        } else {
            Some(&prefix)
        };
        let listing = self
            .store
            .list_with_delimiter(prefix_opt)
            .await
            .map_err(|e| self.err(rel, e))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether anything at all is stored under the folder `rel`.
    pub async fn any_under(&self, rel: &str) -> Result<bool> {
        let prefix = self.path(rel);
        let mut stream = self.store.list(Some(&prefix));
        match stream.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.err(rel, e)),
        }
    }

    /// Reads a small file whole; `Ok(None)` if it does not exist.
    pub async fn read_opt(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(|e| self.err(rel, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Size and BLAKE3 checksum (hex) of a file, read as a stream; `Ok(None)` if it does not exist.
    pub async fn checksum(&self, rel: &str) -> Result<Option<(u64, String)>> {
        let r = match self.store.get(&self.path(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(rel, e)),
        };
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let mut stream = r.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(rel, e))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some((size, hasher.finalize().to_hex().to_string())))
    }

    /// Copies a file to the local file `to`, a chunk at a time (memory stays bounded whatever the
    /// file's size); `Ok(None)` if it does not exist, else its size.
    pub async fn download_to(&self, rel: &str, to: &FsPath) -> Result<Option<u64>> {
        use tokio::io::AsyncWriteExt;
        let r = match self.store.get(&self.path(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(rel, e)),
        };
        let local = |e: std::io::Error| {
            Error::storage(
                format!("{}", to.display()),
                format!("cannot write a local copy of {rel}: {e}"),
            )
        };
        let mut file = tokio::fs::File::create(to).await.map_err(local)?;
        let mut size = 0u64;
        let mut stream = r.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(rel, e))?;
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        Ok(Some(size))
    }

    /// Writes the local file `from` as `rel`: whole when small, else as a multipart upload of
    /// 16 MiB parts (memory stays bounded whatever the file's size).
    pub async fn upload_from(&self, rel: &str, from: &FsPath) -> Result<()> {
        use tokio::io::AsyncReadExt;
        const PART: usize = 16 << 20;
        let local = |e: std::io::Error| {
            Error::storage(
                format!("{}", from.display()),
                format!("cannot read the local file to store as {rel}: {e}"),
            )
        };
        let mut file = tokio::fs::File::open(from).await.map_err(local)?;
        let len = file.metadata().await.map_err(local)?.len();
        if len <= PART as u64 {
            let mut data = Vec::with_capacity(len as usize);
            file.read_to_end(&mut data).await.map_err(local)?;
            return self.write(rel, data.into()).await;
        }
        let upload = self
            .store
            .put_multipart(&self.path(rel))
            .await
            .map_err(|e| self.err(rel, e))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(local(e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(self.err(rel, e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(|e| self.err(rel, e))?;
        Ok(())
    }

    /// Writes a small file whole.
    pub async fn write(&self, rel: &str, data: Bytes) -> Result<()> {
        self.store
            .put(&self.path(rel), PutPayload::from(data))
            .await
            .map_err(|e| self.err(rel, e))?;
        Ok(())
    }

    /// Size of a file; `Ok(None)` if it does not exist.
    pub async fn size_of(&self, rel: &str) -> Result<Option<u64>> {
        match self.store.head(&self.path(rel)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Size and ETag of a file (`None` when it does not exist; the ETag when the store gives
    /// one, without quotes).
    pub async fn size_and_etag(&self, rel: &str) -> Result<Option<(u64, Option<String>)>> {
        match self.store.head(&self.path(rel)).await {
            Ok(m) => Ok(Some((
                m.size,
                m.e_tag.map(|t| t.trim_matches('"').to_string()),
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// A string that changes whenever the file is written again (size, modification time and
    /// ETag), or `None` when it does not exist.
    pub async fn version_of(&self, rel: &str) -> Result<Option<String>> {
        match self.store.head(&self.path(rel)).await {
            Ok(m) => Ok(Some(format!(
                "{}:{}:{}",
                m.size,
                m.last_modified.timestamp_nanos_opt().unwrap_or_default(),
                m.e_tag.unwrap_or_default()
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Deletes one file (no error if it is already gone).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.path(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Deletes every file under the folder `rel`; returns how many were deleted.
    pub async fn delete_under(&self, rel: &str) -> Result<usize> {
        let files = self.list_files(rel).await?;
        let count = files.len();
        let root = self.root.clone();
        let paths = futures::stream::iter(
            files
                .into_iter()
                .map(move |f| Ok(Path::from(join(&root, &f.rel)))),
        )
        .boxed();
        self.store
            .delete_stream(paths)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| self.err(rel, e))?;
        if let Some(dir) = self.local_path(rel) {
            // object_store leaves empty folders behind on local disks
            let _ = remove_empty_dirs(&dir);
        }
        Ok(count)
    }

    /// Underlying store, for the copy pipeline.
    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// A cheap request that proves the storage answers and the credentials work.
    pub async fn probe(&self) -> Result<()> {
        if let Some(dir) = &self.local_dir {
            if !dir.is_dir() {
                return Err(Error::storage(
                    self.describe(),
                    "the directory does not exist",
                ));
            }
        }
        let prefix = self.path("");
        let prefix_opt = if prefix.as_ref().is_empty() {
            None
        } else {
            Some(&prefix)
        };
        self.store
            .list_with_delimiter(prefix_opt)
            .await
            .map_err(|e| self.err("", e))?;
        Ok(())
    }
}

/// Removes `dir` and the empty folders below it; leaves anything with files in it.
fn remove_empty_dirs(dir: &FsPath) -> std::io::Result<bool> {
    if !dir.is_dir() {
        return Ok(false);
    }
    let mut empty = true;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if !remove_empty_dirs(&entry.path())? {
                empty = false;
            }
        } else {
            empty = false;
        }
    }
    if empty {
        std::fs::remove_dir(dir)?;
    }
    Ok(empty)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::config::{Secret, StorageConfig, StorageKind};

    /// A config for storages built on `InMemory` in unit tests.
    pub(crate) fn config() -> StorageConfig {
        StorageConfig {
            kind: StorageKind::S3,
            address: "memory".into(),
            port: 0,
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            use_ssl: false,
            use_iam: false,
            bucket: "mem".into(),
            root_path: "root".into(),
            gcp_credential_json: Secret::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tests_support::config as mem_config;

    #[tokio::test]
    async fn lists_reads_and_deletes_under_root() {
        let s = Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "root",
            mem_config(),
        );
        s.write("b1/meta/x.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        s.write(
            "b1/binlogs/insert_log/1/2/3/100/1",
            Bytes::from(vec![7u8; 10]),
        )
        .await
        .unwrap();
        s.write("b2/meta/x.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert_eq!(s.list_dirs("").await.unwrap(), vec!["b1", "b2"]);
        let mut files = s.list_files("b1").await.unwrap();
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        assert_eq!(
            files[0],
            FileEntry {
                rel: "b1/binlogs/insert_log/1/2/3/100/1".into(),
                size: 10
            }
        );
        assert_eq!(s.import_path("b1/binlogs"), "root/b1/binlogs");
        assert!(s.any_under("b1").await.unwrap());
        assert!(
            !s.any_under("b").await.unwrap(),
            "prefixes match whole folder names"
        );
        assert_eq!(s.delete_under("b1").await.unwrap(), 2);
        assert!(!s.any_under("b1").await.unwrap());
        assert!(s.read_opt("b2/meta/x.json").await.unwrap().is_some());
        assert!(s.read_opt("b1/meta/x.json").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn local_storage_gives_absolute_import_paths_and_cleans_folders() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = mem_config();
        c.kind = StorageKind::Local;
        c.root_path = dir.path().join("bk").to_string_lossy().into_owned();
        assert!(
            Storage::open(&c, false, None).is_err(),
            "Milvus' side must exist"
        );
        let s = Storage::open(&c, true, None).unwrap();
        s.write("b1/binlogs/x", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(
            s.import_path("b1/binlogs"),
            format!("{}/b1/binlogs", c.root_path)
        );
        assert_eq!(s.size_of("b1/binlogs/x").await.unwrap(), Some(3));
        s.delete_under("b1").await.unwrap();
        assert!(!dir.path().join("bk/b1").exists());
    }
}

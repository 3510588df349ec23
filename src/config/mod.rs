//! Configuration: milvus-backup's `backup.yaml` (v1 keys), environment overrides and `--set KEY=VALUE`.
//!
//! Loading goes file (or embedded defaults) -> YAML tree -> overrides applied to the tree -> typed
//! structs, so that a wrong type from any source is reported with the key's name. Unknown keys are
//! ignored, as milvus-backup does. Secrets are wrapped in [`Secret`] and never printed.

use std::{fmt, path::Path, time::Duration};

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use crate::error::{Error, Result};

pub mod events;
pub mod v2;

/// Defaults used when no configuration file exists: a Milvus on this machine with local storage,
/// and backups kept in a local directory.
pub const EMBEDDED_DEFAULTS: &str = r#"
milvus:
  address: 127.0.0.1
  port: 19530
minio:
  storageType: local
  rootPath: /var/lib/milvus/data
  backupStorageType: local
  backupRootPath: ./milvault-backups
"#;

/// Environment variables (milvus-backup's names) and the key each one overrides.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("MILVUS_ADDRESS", "milvus.address"),
    ("MILVUS_PORT", "milvus.port"),
    ("MILVUS_USER", "milvus.user"),
    ("MILVUS_PASSWORD", "milvus.password"),
    ("MILVUS_TLS_MODE", "milvus.tlsMode"),
    ("MILVUS_CA_CERT_PATH", "milvus.caCertPath"),
    ("MILVUS_SERVER_NAME", "milvus.serverName"),
    ("MINIO_STORAGE_TYPE", "minio.storageType"),
    ("MINIO_ADDRESS", "minio.address"),
    ("MINIO_PORT", "minio.port"),
    ("MINIO_REGION", "minio.region"),
    ("MINIO_ACCESS_KEY", "minio.accessKeyID"),
    ("MINIO_SECRET_KEY", "minio.secretAccessKey"),
    ("MINIO_USE_SSL", "minio.useSSL"),
    ("MINIO_USE_IAM", "minio.useIAM"),
    ("MINIO_BUCKET_NAME", "minio.bucketName"),
    ("MINIO_ROOT_PATH", "minio.rootPath"),
    ("MINIO_BACKUP_STORAGE_TYPE", "minio.backupStorageType"),
    ("MINIO_BACKUP_ADDRESS", "minio.backupAddress"),
    ("MINIO_BACKUP_PORT", "minio.backupPort"),
    ("MINIO_BACKUP_REGION", "minio.backupRegion"),
    ("MINIO_BACKUP_ACCESS_KEY", "minio.backupAccessKeyID"),
    ("MINIO_BACKUP_SECRET_KEY", "minio.backupSecretAccessKey"),
    ("MINIO_BACKUP_USE_SSL", "minio.backupUseSSL"),
    ("MINIO_BACKUP_BUCKET_NAME", "minio.backupBucketName"),
    ("MINIO_BACKUP_ROOT_PATH", "minio.backupRootPath"),
    ("BACKUP_PARALLELISM_COPYDATA", "backup.parallelism.copydata"),
    (
        "BACKUP_PARALLELISM_BACKUP_COLLECTION",
        "backup.parallelism.backupCollection",
    ),
    (
        "BACKUP_PARALLELISM_RESTORE_COLLECTION",
        "backup.parallelism.restoreCollection",
    ),
    ("BACKUP_KEEP_TEMP_FILES", "backup.keepTempFiles"),
    ("BACKUP_GC_PAUSE_ENABLE", "backup.gcPause.enable"),
    ("BACKUP_GC_PAUSE_ADDRESS", "backup.gcPause.address"),
];

/// A secret string (password, secret key). Its `Debug` and `Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The whole configuration, normalised.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach Milvus' gRPC proxy.
    pub milvus: MilvusConfig,
    /// Where Milvus keeps its binlogs.
    pub milvus_storage: StorageConfig,
    /// Where backups are written.
    pub backup_storage: StorageConfig,
    /// Concurrency and timing.
    pub tuning: Tuning,
    /// Pausing Milvus' garbage collector during backups (`backup.gcPause`).
    pub gc_pause: GcPauseConfig,
    /// Where failures are told (`notifications`, milvault's own section).
    pub notifications: NotificationsConfig,
    /// Where milvault keeps its own state (`state`, milvault's own section).
    pub state: StateConfig,
    /// Other Milvus clusters a restore or drill may be sent to, by name (`targets`, milvault's
    /// own section).
    pub targets: std::collections::BTreeMap<String, TargetConfig>,
    /// Other places backups can be kept, by name (`storages`, milvault's own section): off-site
    /// copies, archives in another account or region.
    pub storages: std::collections::BTreeMap<String, StorageConfig>,
    /// The name of the storage `backup_storage` is: empty for the configured backup storage,
    /// else the `storages` name it was switched to ([`Config::for_storage`]).
    pub backup_storage_name: String,
    /// The configured backup storage, kept when [`Config::for_storage`] switched to another, so
    /// that `default` still names it.
    pub configured_storage: Option<Box<StorageConfig>>,
}

/// The name that always means the configured backup storage (`minio.backup*`).
pub const DEFAULT_STORAGE: &str = app::names::DEFAULT_STORAGE;

/// `targets.NAME`: another Milvus (a DR cluster, a staging cluster) with the storage it keeps
/// its binlogs in, written as backup.yaml's `milvus` and `minio` sections. Backups are still read
/// from the configured backup storage; a restore stages their files into this Milvus' bucket
/// when it cannot read them where they are.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub milvus: MilvusConfig,
    pub milvus_storage: StorageConfig,
}

impl Config {
    /// This configuration with its backup storage replaced by the named storage `name`
    /// (`storages.NAME`; `default`: the configured one); `""` keeps this one.
    pub fn for_storage(&self, name: &str) -> Result<Config> {
        let mut c = self.clone();
        if name.is_empty() || name == self.backup_storage_label() {
            return Ok(c);
        }
        if c.configured_storage.is_none() {
            c.configured_storage = Some(Box::new(self.backup_storage.clone()));
        }
        c.backup_storage = self.storage(name)?.clone();
        c.backup_storage_name = match name {
            DEFAULT_STORAGE => String::new(),
            _ => name.to_string(),
        };
        Ok(c)
    }

    /// Every storage's name: `default` (the configured backup storage) first, then each under
    /// `storages:`.
    pub fn storage_names(&self) -> Vec<&str> {
        std::iter::once(DEFAULT_STORAGE)
            .chain(self.storages.keys().map(String::as_str))
            .collect()
    }

    /// The named storage `name` (`storages.NAME`; `default` is the configured backup storage).
    pub fn storage(&self, name: &str) -> Result<&StorageConfig> {
        if name == DEFAULT_STORAGE {
            return Ok(self
                .configured_storage
                .as_deref()
                .unwrap_or(&self.backup_storage));
        }
        self.storages.get(name).ok_or_else(|| {
            let known = self.storage_names();
            Error::InvalidRequest(if name.is_empty() {
                format!(
                    "no storage given; name one of: {} (add more under `storages:`)",
                    known.join(", ")
                )
            } else {
                format!(
                    "there is no storage '{name}'; the configuration names: {} (add more under `storages:`)",
                    known.join(", ")
                )
            })
        })
    }

    /// The name the backup storage goes by: `default`, or the named storage it was switched to.
    pub fn backup_storage_label(&self) -> &str {
        if self.backup_storage_name.is_empty() {
            DEFAULT_STORAGE
        } else {
            &self.backup_storage_name
        }
    }

    /// This configuration with Milvus and its storage replaced by the target `name`'s.
    pub fn for_target(&self, name: &str) -> Result<Config> {
        let t = self.targets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
            Error::InvalidRequest(if known.is_empty() {
                format!("there is no Milvus target '{name}': the configuration names none (add it under `targets:`)")
            } else {
                format!(
                    "there is no Milvus target '{name}'; the configuration names: {}",
                    known.join(", ")
                )
            })
        })?;
        let mut c = self.clone();
        c.milvus = t.milvus.clone();
        c.milvus_storage = t.milvus_storage.clone();
        Ok(c)
    }
}

/// `state`: milvault's database of jobs, policies, users and the audit log. Empty: the SQLite
/// file given by `--job-db`/`--state` or the per-user default. `url: postgres://...`: a Postgres
/// database that several milvault servers share (the `--state` flag wins over it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StateConfig {
    pub url: Secret,
}

/// `notifications`: webhooks told of failed jobs, damaged backups and failed or skipped policy
/// runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationsConfig {
    pub webhooks: Vec<WebhookConfig>,
}

/// One webhook (`notifications.webhooks[]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebhookConfig {
    /// How policies (`notify: [name]`) and the delivery log name it.
    pub name: String,
    /// Where to POST; it may hold a token (Slack's do), so it is never shown whole.
    pub url: Secret,
    /// The HMAC-SHA256 key of the `X-Milvault-Signature` header; none: unsigned.
    pub secret: Secret,
    /// Or the environment variable holding it (a Kubernetes Secret as env).
    pub secret_env: String,
    /// `json` (milvault's event) or `slack` (`{"text": ...}`, Slack-compatible).
    pub format: String,
    /// Told of every event (`true`, the default), or only of the policies that name it.
    pub global: bool,
    /// Event kinds to send (`job.failed`, `verification.damaged`, `drill.failed`, `policy.failed`,
    /// `policy.skipped`, `policy.missed`); empty: all.
    pub events: Vec<String>,
    /// Tries per event before it is given up (default 5).
    pub max_attempts: u32,
    /// Wait before the second try, doubled before each next one (default 1000 ms).
    pub retry_base_millis: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            name: String::new(),
            url: Secret::default(),
            secret: Secret::default(),
            secret_env: String::new(),
            format: "json".into(),
            global: true,
            events: Vec::new(),
            max_attempts: 5,
            retry_base_millis: 1000,
        }
    }
}

impl WebhookConfig {
    /// The URL without path, query or credentials (what may be shown).
    pub fn shown_url(&self) -> String {
        match url::Url::parse(self.url.expose()) {
            Ok(u) => format!(
                "{}://{}{}/…",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "(not a URL)".into(),
        }
    }

    /// The signing key: `secret`, else the variable `secret_env` names.
    pub fn signing_key(&self) -> Option<String> {
        if !self.secret.is_empty() {
            return Some(self.secret.expose().to_string());
        }
        if self.secret_env.is_empty() {
            return None;
        }
        std::env::var(&self.secret_env)
            .ok()
            .filter(|v| !v.is_empty())
    }
}

fn check_webhooks(n: &NotificationsConfig) -> Result<()> {
    let mut names = std::collections::HashSet::new();
    for w in &n.webhooks {
        let what = |why: &str| {
            Error::Config(format!(
                "notifications.webhooks '{}': {why}",
                if w.name.is_empty() {
                    "(no name)"
                } else {
                    &w.name
                }
            ))
        };
        if w.name.is_empty() || !names.insert(w.name.as_str()) {
            return Err(what("each webhook needs a name of its own"));
        }
        match url::Url::parse(w.url.expose()) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => return Err(what("url must be an http:// or https:// address")),
        }
        if !matches!(w.format.as_str(), "json" | "slack") {
            return Err(what("format is json or slack"));
        }
        if let Some(e) = w
            .events
            .iter()
            .find(|e| !events::EVENTS.contains(&e.as_str()))
        {
            return Err(what(&format!(
                "unknown event '{e}' (known: {})",
                events::EVENTS.join(", ")
            )));
        }
        if w.max_attempts == 0 {
            return Err(what("maxAttempts must be at least 1"));
        }
        if !w.secret_env.is_empty() && w.signing_key().is_none() {
            return Err(what(&format!(
                "secretEnv names {}, which is not set",
                w.secret_env
            )));
        }
    }
    Ok(())
}

/// `backup.gcPause`: milvus-backup's keys and defaults (v0.5.16: enabled, address
/// `http://localhost:9091`, a one-hour pause; `seconds` as in v0.4.x, which defaulted to 7200).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GcPauseConfig {
    /// Pause GC while a backup runs.
    pub enable: bool,
    /// How long each pause lasts; it is renewed every `seconds / 2` and expires by itself.
    pub seconds: u64,
    /// Milvus' management HTTP address (DataCoord's, port 9091).
    pub address: String,
}

impl Default for GcPauseConfig {
    fn default() -> Self {
        GcPauseConfig {
            enable: true,
            seconds: 3600,
            address: "http://localhost:9091".into(),
        }
    }
}

/// Milvus connection settings.
#[derive(Debug, Clone)]
pub struct MilvusConfig {
    pub address: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    /// 0 plain, 1 server TLS, 2 mutual TLS (milvus-backup's values).
    pub tls_mode: u8,
    pub ca_cert_path: String,
    pub server_name: String,
}

impl MilvusConfig {
    /// `http(s)://address:port`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls_mode > 0 { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.address, self.port)
    }
}

/// Kinds of storage milvus-backup knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// A directory on this machine.
    Local,
    /// Any S3-compatible endpoint (MinIO, AWS, GCS interoperability, Aliyun, Tencent, SeaweedFS...).
    S3,
    /// Google Cloud Storage through its own API.
    GcpNative,
    /// Azure Blob Storage.
    Azure,
}

impl StorageKind {
    /// Parses milvus-backup's `storageType` values.
    pub fn parse(key: &str, value: &str) -> Result<Self> {
        match value.to_ascii_lowercase().as_str() {
            "local" => Ok(StorageKind::Local),
            "minio" | "s3" | "aws" | "gcp" | "ali" | "aliyun" | "tc" | "tencent" | "hwc" => Ok(StorageKind::S3),
            "gcpnative" => Ok(StorageKind::GcpNative),
            "azure" => Ok(StorageKind::Azure),
            other => Err(Error::Config(format!(
                "{key}: unknown storage type '{other}'; use one of local, minio, s3, aws, gcp, gcpnative, azure, aliyun, tencent"
            ))),
        }
    }
}

/// One storage location: an endpoint, a bucket and a root path inside it (or a local directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub kind: StorageKind,
    pub address: String,
    pub port: u16,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub use_ssl: bool,
    pub use_iam: bool,
    /// Bucket (container for Azure); unused for local storage.
    pub bucket: String,
    /// Prefix inside the bucket; for local storage the directory itself.
    pub root_path: String,
    /// Service account JSON for gcpnative.
    pub gcp_credential_json: Secret,
}

impl StorageConfig {
    /// `http(s)://address:port` for object stores.
    pub fn endpoint(&self) -> String {
        let scheme = if self.use_ssl { "https" } else { "http" };
        if self.port == 0 {
            format!("{scheme}://{}", self.address)
        } else {
            format!("{scheme}://{}:{}", self.address, self.port)
        }
    }

    /// Where a gcpnative storage's requests go, from `address` and `port` as milvus-backup
    /// reads them: Google's own endpoint when the address is left out, left at backup.yaml's
    /// default (`localhost:9000`) or is Google's global host; another `*.googleapis.com` host
    /// (a regional or Private Service Connect endpoint) over https; any other address an
    /// emulator such as fake-gcs-server (`http://127.0.0.1:4443`).
    pub fn gcs_endpoint(&self) -> GcsEndpoint {
        let address = self.address.trim().to_ascii_lowercase();
        let untouched = address == "localhost" && self.port == 9000;
        let global = matches!(
            address.as_str(),
            "storage.googleapis.com" | "www.googleapis.com" | "googleapis.com"
        );
        if address.is_empty() || untouched || global {
            GcsEndpoint::Google
        } else if address.ends_with(".googleapis.com") {
            let port = match self.port {
                0 | 443 => String::new(),
                p => format!(":{p}"),
            };
            GcsEndpoint::GoogleAt(format!("https://{address}{port}"))
        } else {
            GcsEndpoint::Emulator(self.endpoint())
        }
    }

    /// Whether two configs point at the same bucket of the same service with the same identity,
    /// so that one client can serve both (and copies between them can run on the server).
    pub fn same_bucket_as(&self, other: &StorageConfig) -> bool {
        match (self.kind, other.kind) {
            (StorageKind::Local, StorageKind::Local) => true,
            (StorageKind::GcpNative, StorageKind::GcpNative) => {
                self.gcs_endpoint() == other.gcs_endpoint()
                    && self.bucket == other.bucket
                    && self.gcp_credential_json.expose().trim()
                        == other.gcp_credential_json.expose().trim()
            }
            (a, b) if a == b => {
                self.endpoint() == other.endpoint()
                    && self.bucket == other.bucket
                    && self.access_key_id == other.access_key_id
                    && self.region == other.region
            }
            _ => false,
        }
    }

    /// A human-readable location that never contains credentials.
    pub fn describe(&self) -> String {
        match self.kind {
            StorageKind::Local => format!("local directory {}", self.root_path),
            StorageKind::S3 => format!(
                "s3 {} bucket '{}' under '{}'",
                self.endpoint(),
                self.bucket,
                self.root_path
            ),
            StorageKind::GcpNative => match self.gcs_endpoint() {
                GcsEndpoint::Google => {
                    format!("gcs bucket '{}' under '{}'", self.bucket, self.root_path)
                }
                GcsEndpoint::GoogleAt(url) | GcsEndpoint::Emulator(url) => format!(
                    "gcs bucket '{}' under '{}' at {url}",
                    self.bucket, self.root_path
                ),
            },
            StorageKind::Azure => format!(
                "azure container '{}' under '{}'",
                self.bucket, self.root_path
            ),
        }
    }
}

/// Whether `host` (an address, a `Host` header or an HTTP/2 authority, with or without its port)
/// names this machine's loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:3000
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Where a gcpnative storage's requests go ([`StorageConfig::gcs_endpoint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcsEndpoint {
    /// Google's own global endpoint.
    Google,
    /// Another Google endpoint (regional, Private Service Connect): its https URL.
    GoogleAt(String),
    /// An emulator (fake-gcs-server): its URL.
    Emulator(String),
}

/// The default of `backup.maxArchiveBytes`: 100 GiB.
pub const DEFAULT_MAX_ARCHIVE_BYTES: u64 = 100 << 30;

/// Concurrency and timeouts.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Objects copied at once.
    pub copy_concurrency: usize,
    /// Collections backed up at once.
    pub backup_collections: usize,
    /// Collections restored at once.
    pub restore_collections: usize,
    /// Import tasks submitted to Milvus at once per collection.
    pub import_concurrency: usize,
    /// File groups (segments) per merged import job (`backup.maxSegmentsPerImportJob`, v2
    /// `restore.maxSegmentsPerImportJob`; 256 as in milvus-backup).
    pub max_segments_per_import_job: usize,
    /// Keep the binlogs staged in Milvus' bucket after a restore (debugging only).
    pub keep_temp_files: bool,
    /// Time limit of one Milvus call.
    pub rpc_timeout: Duration,
    /// Time limit of connecting to Milvus.
    pub connect_timeout: Duration,
    /// Time limit of waiting for one import, index build or load.
    pub wait_timeout: Duration,
    /// Logical backups: bytes of rows asked for in one Query page (and sent in one Insert).
    pub logical_page_bytes: usize,
    /// Logical backups: a Parquet file is closed once it holds about this many bytes.
    pub logical_file_bytes: usize,
    /// Backups, restores and verifications one process runs at once; more wait for a slot.
    pub max_jobs: usize,
    /// Largest backup archive the REST API takes as an upload (`backup.maxArchiveBytes`).
    pub max_archive_bytes: u64,
}

// ---- the file's shape (milvus-backup v1 keys) ----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawFile {
    milvus: RawMilvus,
    minio: RawMinio,
    backup: RawBackup,
    notifications: NotificationsConfig,
    state: StateConfig,
}

#[derive(Debug, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawMilvus {
    address: String,
    port: u16,
    user: String,
    password: Secret,
    tls_mode: u8,
    ca_cert_path: String,
    server_name: String,
}

impl Default for RawMilvus {
    fn default() -> Self {
        RawMilvus {
            address: "localhost".into(),
            port: 19530,
            user: String::new(),
            password: Secret::default(),
            tls_mode: 0,
            ca_cert_path: String::new(),
            server_name: String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
#[allow(non_snake_case)]
struct RawMinio {
    storageType: String,
    cloudProvider: String,
    address: String,
    port: u16,
    region: String,
    accessKeyID: String,
    secretAccessKey: Secret,
    useSSL: bool,
    useIAM: bool,
    bucketName: String,
    rootPath: String,
    gcpCredentialJSON: Secret,
    backupStorageType: String,
    backupAddress: String,
    backupPort: u16,
    backupRegion: String,
    backupAccessKeyID: String,
    backupSecretAccessKey: Secret,
    backupUseSSL: Option<bool>,
    backupUseIAM: Option<bool>,
    backupBucketName: String,
    backupRootPath: String,
    backupGcpCredentialJSON: Secret,
}

impl Default for RawMinio {
    fn default() -> Self {
        RawMinio {
            storageType: String::new(),
            cloudProvider: String::new(),
            address: "localhost".into(),
            port: 9000,
            region: String::new(),
            accessKeyID: "minioadmin".into(),
            secretAccessKey: Secret::new("minioadmin"),
            useSSL: false,
            useIAM: false,
            bucketName: "a-bucket".into(),
            rootPath: "files".into(),
            gcpCredentialJSON: Secret::default(),
            backupStorageType: String::new(),
            backupAddress: String::new(),
            backupPort: 0,
            backupRegion: String::new(),
            backupAccessKeyID: String::new(),
            backupSecretAccessKey: Secret::default(),
            backupUseSSL: None,
            backupUseIAM: None,
            backupBucketName: String::new(),
            backupRootPath: "backup".into(),
            backupGcpCredentialJSON: Secret::default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawBackup {
    parallelism: RawParallelism,
    keep_temp_files: bool,
    gc_pause: GcPauseConfig,
    /// milvault: seconds; not in milvus-backup.
    rpc_timeout_seconds: Option<u64>,
    connect_timeout_seconds: Option<u64>,
    wait_timeout_seconds: Option<u64>,
    /// milvault: logical backups' page and Parquet file sizes in bytes.
    logical_page_bytes: Option<usize>,
    logical_file_bytes: Option<usize>,
    /// milvault: jobs run at once per process (each copies `parallelism.copydata` files at once
    /// with up to 64 MiB of streamed data).
    max_jobs: Option<usize>,
    /// milvault: the largest archive an upload (`POST /api/v2/backups/archive`) may be.
    max_archive_bytes: Option<u64>,
    /// milvault's v1 spelling of v2's `restore.maxSegmentsPerImportJob`.
    max_segments_per_import_job: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawParallelism {
    copydata: usize,
    backup_collection: usize,
    restore_collection: usize,
    import_job: usize,
}

impl Default for RawParallelism {
    fn default() -> Self {
        RawParallelism {
            copydata: 16,
            backup_collection: 2,
            restore_collection: 2,
            import_job: 4,
        }
    }
}

impl Config {
    /// Loads a configuration: `file` when given (it must exist), else `backup.yaml` in the working
    /// directory when present, else the embedded defaults; then environment variables, then `sets`
    /// (`KEY=VALUE` with milvus-backup's environment key names, or dotted YAML keys).
    pub fn load(file: Option<&Path>, env: &[(String, String)], sets: &[String]) -> Result<Config> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!("cannot read config file {}: {e}", path.display()))
            })?,
            None if Path::new("backup.yaml").exists() => std::fs::read_to_string("backup.yaml")
                .map_err(|e| Error::Config(format!("cannot read backup.yaml: {e}")))?,
            None => EMBEDDED_DEFAULTS.to_string(),
        };
        // a v2 file takes credentials only from the environment (milvus-backup's rule: Kubernetes
        // sets MILVUS_PORT=tcp://... in every pod of a namespace with a `milvus` Service)
        let env_keys = match serde_yaml::from_str::<Value>(&text).map(|t| v2::version_of(&t)) {
            Ok(Ok(v2::Version::V2)) => v2::ENV_KEYS,
            _ => ENV_KEYS,
        };
        let mut overrides: Vec<(String, String)> = Vec::new();
        for (env_key, yaml_key) in env_keys {
            if let Some((_, v)) = env.iter().find(|(k, _)| k == env_key) {
                overrides.push((yaml_key.to_string(), v.clone()));
            }
        }
        for set in sets {
            let (k, v) = set
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("--set '{set}' must look like KEY=VALUE")))?;
            let key = env_keys
                .iter()
                .find(|(env_key, _)| env_key.eq_ignore_ascii_case(k))
                .map(|(_, yaml_key)| yaml_key.to_string())
                .unwrap_or_else(|| k.to_string());
            overrides.push((key, v.to_string()));
        }
        Self::from_yaml(&text, &overrides)
    }

    /// Parses YAML text and applies `(dotted.key, value)` overrides.
    pub fn from_yaml(text: &str, overrides: &[(String, String)]) -> Result<Config> {
        let mut tree: Value = if text.trim().is_empty() {
            Value::Mapping(Default::default())
        } else {
            serde_yaml::from_str(text).map_err(|e| Error::Config(format!("not valid YAML: {e}")))?
        };
        if tree.is_null() {
            tree = Value::Mapping(Default::default());
        }
        let version = v2::version_of(&tree)?;
        if version == v2::Version::V2 {
            tree = v2::to_v1(&tree)?;
        }
        for (key, value) in overrides {
            // a v2 file's keys may be given in v2 spelling (`milvus.grpc.address=...`)
            match v2::v1_key(key).filter(|_| version == v2::Version::V2) {
                Some(v1) => {
                    let parsed: Value = serde_yaml::from_str(value)
                        .unwrap_or_else(|_| Value::String(value.clone()));
                    let parsed = v2::v1_value(key, parsed)?;
                    let text =
                        serde_yaml::to_string(&parsed).map_err(|e| Error::Config(e.to_string()))?;
                    set_path(&mut tree, &v1, text.trim())?;
                }
                None => set_path(&mut tree, key, value)?,
            }
        }
        // from_str (unlike from_value) names the key in type errors, so round-trip through text
        let text = serde_yaml::to_string(&tree).map_err(|e| Error::Config(e.to_string()))?;
        let raw: RawFile = serde_yaml::from_str(&text).map_err(|e| Error::Config(e.to_string()))?;
        let mut config = raw.normalise()?;
        config.targets = read_targets(&tree)?;
        config.storages = read_storages(&tree)?;
        Ok(config)
    }
}

/// Sets `a.b.c` in a YAML tree to `value`, parsed as a YAML scalar so that numbers stay numbers.
fn set_path(tree: &mut Value, key: &str, value: &str) -> Result<()> {
    let parsed: Value =
        serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    let parsed = if parsed.is_null() {
        Value::String(String::new())
    } else {
        parsed
    };
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let map = node.as_mapping_mut().ok_or_else(|| {
            Error::Config(format!(
                "cannot set {key}: '{}' is not a section",
                parts[..i].join(".")
            ))
        })?;
        let k = Value::String(part.to_string());
        if i + 1 == parts.len() {
            map.insert(k, parsed);
            return Ok(());
        }
        node = map
            .entry(k)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
    Ok(())
}

impl RawFile {
    fn normalise(self) -> Result<Config> {
        let m = self.minio;
        let kind_name = if !m.storageType.is_empty() {
            m.storageType.clone()
        } else if !m.cloudProvider.is_empty() {
            m.cloudProvider.clone()
        } else {
            "minio".to_string()
        };
        let kind = StorageKind::parse("minio.storageType", &kind_name)?;
        let milvus_storage = StorageConfig {
            kind,
            address: m.address.clone(),
            port: m.port,
            region: m.region.clone(),
            access_key_id: m.accessKeyID.clone(),
            secret_access_key: m.secretAccessKey.clone(),
            use_ssl: m.useSSL,
            use_iam: m.useIAM,
            bucket: m.bucketName.clone(),
            root_path: m.rootPath.clone(),
            gcp_credential_json: m.gcpCredentialJSON.clone(),
        };
        let backup_kind = if m.backupStorageType.is_empty() {
            kind
        } else {
            StorageKind::parse("minio.backupStorageType", &m.backupStorageType)?
        };
        let or = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_string()
            } else {
                a.to_string()
            }
        };
        let own_endpoint = !m.backupAddress.is_empty();
        let backup_storage = StorageConfig {
            kind: backup_kind,
            address: or(&m.backupAddress, &m.address),
            port: if m.backupPort == 0 {
                m.port
            } else {
                m.backupPort
            },
            region: or(&m.backupRegion, &m.region),
            access_key_id: or(&m.backupAccessKeyID, &m.accessKeyID),
            secret_access_key: if m.backupSecretAccessKey.is_empty() {
                m.secretAccessKey.clone()
            } else {
                m.backupSecretAccessKey.clone()
            },
            use_ssl: m
                .backupUseSSL
                .unwrap_or(if own_endpoint { false } else { m.useSSL }),
            use_iam: m.backupUseIAM.unwrap_or(m.useIAM),
            bucket: or(&m.backupBucketName, &m.bucketName),
            root_path: m.backupRootPath.clone(),
            gcp_credential_json: if m.backupGcpCredentialJSON.is_empty() {
                m.gcpCredentialJSON.clone()
            } else {
                m.backupGcpCredentialJSON.clone()
            },
        };
        for (key, s) in [
            ("minio", &milvus_storage),
            ("minio.backup", &backup_storage),
        ] {
            if s.kind != StorageKind::Local && s.bucket.is_empty() {
                return Err(Error::Config(format!(
                    "{key}: bucketName is empty; name the bucket"
                )));
            }
            if s.kind == StorageKind::Local && s.root_path.is_empty() {
                return Err(Error::Config(format!(
                    "{key}: rootPath is empty; name a directory for local storage"
                )));
            }
        }
        let p = self.backup.parallelism;
        let positive_key = |key: &str, v: usize| {
            if v == 0 {
                Err(Error::Config(format!("{key} must be at least 1")))
            } else {
                Ok(v)
            }
        };
        let positive = |key: &str, v: usize| {
            if v == 0 {
                Err(Error::Config(format!(
                    "backup.parallelism.{key} must be at least 1"
                )))
            } else {
                Ok(v)
            }
        };
        let tuning = Tuning {
            copy_concurrency: positive("copydata", p.copydata)?,
            backup_collections: positive("backupCollection", p.backup_collection)?,
            restore_collections: positive("restoreCollection", p.restore_collection)?,
            import_concurrency: positive("importJob", p.import_job)?,
            max_segments_per_import_job: positive_key(
                "backup.maxSegmentsPerImportJob",
                self.backup.max_segments_per_import_job.unwrap_or(256),
            )?,
            keep_temp_files: self.backup.keep_temp_files,
            rpc_timeout: Duration::from_secs(self.backup.rpc_timeout_seconds.unwrap_or(120)),
            connect_timeout: Duration::from_secs(self.backup.connect_timeout_seconds.unwrap_or(10)),
            wait_timeout: Duration::from_secs(self.backup.wait_timeout_seconds.unwrap_or(1800)),
            logical_page_bytes: self.backup.logical_page_bytes.unwrap_or(8 << 20).max(1),
            logical_file_bytes: self.backup.logical_file_bytes.unwrap_or(64 << 20).max(1),
            max_jobs: positive_key("backup.maxJobs", self.backup.max_jobs.unwrap_or(8))?,
            max_archive_bytes: self
                .backup
                .max_archive_bytes
                .unwrap_or(DEFAULT_MAX_ARCHIVE_BYTES),
        };
        if self.backup.gc_pause.seconds == 0 {
            return Err(Error::Config(
                "backup.gcPause.seconds must be at least 1".into(),
            ));
        }
        let mv = self.milvus;
        if mv.tls_mode > 2 {
            return Err(Error::Config(format!(
                "milvus.tlsMode: {} is not 0, 1 or 2",
                mv.tls_mode
            )));
        }
        Ok(Config {
            milvus: MilvusConfig {
                address: mv.address,
                port: mv.port,
                user: mv.user,
                password: mv.password,
                tls_mode: mv.tls_mode,
                ca_cert_path: mv.ca_cert_path,
                server_name: mv.server_name,
            },
            milvus_storage,
            backup_storage,
            tuning,
            gc_pause: self.backup.gc_pause,
            notifications: {
                check_webhooks(&self.notifications)?;
                self.notifications
            },
            state: self.state,
            targets: Default::default(),
            storages: Default::default(),
            backup_storage_name: String::new(),
            configured_storage: None,
        })
    }
}

/// `targets:` of a configuration tree: each a `milvus` and a `minio` section read as the file's
/// own are (defaults, storage types, checks), errors naming the target.
fn read_targets(tree: &Value) -> Result<std::collections::BTreeMap<String, TargetConfig>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(targets) = tree.get("targets") else {
        return Ok(out);
    };
    let Some(map) = targets.as_mapping() else {
        return Err(Error::Config(
            "targets must map names to {milvus: ..., minio: ...}".into(),
        ));
    };
    for (name, t) in map {
        let name = name.as_str().unwrap_or_default().to_string();
        if !is_section_name(&name) {
            return Err(Error::Config(format!(
                "targets: '{name}' is not a target name (letters, digits, '_' and '-')"
            )));
        }
        let mut own = Mapping::new();
        for section in ["milvus", "minio"] {
            if let Some(v) = t.get(section) {
                own.insert(section.into(), v.clone());
            }
        }
        let named = |e: Error| match e {
            Error::Config(m) => Error::Config(format!("targets.{name}: {m}")),
            other => other,
        };
        let text = serde_yaml::to_string(&Value::Mapping(own))
            .map_err(|e| Error::Config(e.to_string()))?;
        let raw: RawFile =
            serde_yaml::from_str(&text).map_err(|e| named(Error::Config(e.to_string())))?;
        let c = raw.normalise().map_err(named)?;
        out.insert(
            name,
            TargetConfig {
                milvus: c.milvus,
                milvus_storage: c.milvus_storage,
            },
        );
    }
    Ok(out)
}

/// Whether `name` may name a target or a storage: letters, digits, '_' and '-'.
fn is_section_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `storages:` of a configuration tree: each written with the keys of backup.yaml's `minio`
/// section (`storageType`, `address`, `port`, `useSSL`, `bucketName`, `rootPath`,
/// `accessKeyID`, `secretAccessKey`, `useIAM`, `region`, `gcpCredentialJSON`), read as that
/// section is (defaults, storage types, checks; `rootPath` defaults to `backup`), errors naming
/// the storage.
fn read_storages(tree: &Value) -> Result<std::collections::BTreeMap<String, StorageConfig>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(storages) = tree.get("storages") else {
        return Ok(out);
    };
    let Some(map) = storages.as_mapping() else {
        return Err(Error::Config(
            "storages must map names to {storageType: ..., bucketName: ..., ...}".into(),
        ));
    };
    for (name, section) in map {
        let name = name.as_str().unwrap_or_default().to_string();
        if !is_section_name(&name) || name == DEFAULT_STORAGE {
            return Err(Error::Config(format!(
                "storages: '{name}' is not a storage name (letters, digits, '_' and '-'; '{DEFAULT_STORAGE}' is the configured backup storage)"
            )));
        }
        let named = |e: Error| match e {
            Error::Config(m) => Error::Config(format!("storages.{name}: {m}")),
            other => other,
        };
        let mut minio = match section {
            Value::Mapping(m) => m.clone(),
            Value::Null => Mapping::new(),
            _ => {
                return Err(named(Error::Config(
                    "must be a section (storageType, bucketName, rootPath...)".into(),
                )))
            }
        };
        for key in minio.keys() {
            let k = key.as_str().unwrap_or_default();
            if k.starts_with("backup") {
                return Err(named(Error::Config(format!(
                    "'{k}' belongs in the minio section; a named storage is written with the plain keys (storageType, bucketName, rootPath...)"
                ))));
            }
        }
        let root = Value::String("rootPath".into());
        if !minio.contains_key(&root) {
            minio.insert(root, Value::String("backup".into()));
        }
        let mut own = Mapping::new();
        own.insert("minio".into(), Value::Mapping(minio));
        let text = serde_yaml::to_string(&Value::Mapping(own))
            .map_err(|e| Error::Config(e.to_string()))?;
        let raw: RawFile =
            serde_yaml::from_str(&text).map_err(|e| named(Error::Config(e.to_string())))?;
        let c = raw.normalise().map_err(named)?;
        out.insert(name, c.milvus_storage);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILVUS_BACKUP_SAMPLE: &str = r#"
log:
  level: info
http:
  simpleResponse: true
milvus:
  address: milvus.internal
  port: 19531
  authorizationEnabled: false
  tlsMode: 0
  user: "root"
  password: "Milvus"
minio:
  storageType: "minio"
  address: s3.internal
  port: 9000
  accessKeyID: minioadmin
  secretAccessKey: topsecret
  useSSL: false
  bucketName: "a-bucket"
  rootPath: "files"
  backupBucketName: "backups"
  backupRootPath: "nightly"
backup:
  maxSegmentGroupSize: 2G
  parallelism:
    backupCollection: 4
    copydata: 128
    restoreCollection: 2
  keepTempFiles: false
  gcPause:
    enable: true
"#;

    #[test]
    fn reads_milvus_backup_yaml_and_ignores_unknown_keys() {
        let c = Config::from_yaml(MILVUS_BACKUP_SAMPLE, &[]).unwrap();
        assert_eq!(c.milvus.endpoint(), "http://milvus.internal:19531");
        assert_eq!(c.milvus.user, "root");
        assert_eq!(c.milvus_storage.kind, StorageKind::S3);
        assert_eq!(c.milvus_storage.endpoint(), "http://s3.internal:9000");
        assert_eq!(c.milvus_storage.bucket, "a-bucket");
        assert_eq!(c.milvus_storage.root_path, "files");
        // the backup storage inherits the endpoint and credentials, with its own bucket and root
        assert_eq!(c.backup_storage.endpoint(), "http://s3.internal:9000");
        assert_eq!(c.backup_storage.bucket, "backups");
        assert_eq!(c.backup_storage.root_path, "nightly");
        assert_eq!(c.backup_storage.secret_access_key.expose(), "topsecret");
        assert_eq!(c.tuning.copy_concurrency, 128);
        assert_eq!(c.tuning.backup_collections, 4);
        assert!(!c.milvus_storage.same_bucket_as(&c.backup_storage));
        assert_eq!(c.gc_pause, GcPauseConfig::default());
    }

    #[test]
    fn gc_pause_keys_and_environment() {
        let yaml = "backup:\n  gcPause:\n    enable: false\n    seconds: 600\n    address: http://milvus:9091\n";
        let c = Config::from_yaml(yaml, &[]).unwrap();
        assert_eq!(
            c.gc_pause,
            GcPauseConfig {
                enable: false,
                seconds: 600,
                address: "http://milvus:9091".into()
            }
        );
        let env = [
            ("BACKUP_GC_PAUSE_ENABLE".to_string(), "true".to_string()),
            (
                "BACKUP_GC_PAUSE_ADDRESS".to_string(),
                "http://dc:9091".to_string(),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup.yaml");
        std::fs::write(&file, yaml).unwrap();
        let c = Config::load(Some(&file), &env, &[]).unwrap();
        assert!(c.gc_pause.enable);
        assert_eq!(c.gc_pause.address, "http://dc:9091");
        assert_eq!(c.gc_pause.seconds, 600);
        assert!(Config::from_yaml("backup:\n  gcPause:\n    seconds: 0\n", &[]).is_err());
    }

    #[test]
    fn default_names_the_configured_storage_from_any_other() {
        let text = r#"
minio:
  storageType: local
  rootPath: /data/milvus
  backupRootPath: /data/backups
storages:
  far:
    storageType: local
    rootPath: /data/far
"#;
        let c = Config::from_yaml(text, &[]).unwrap();
        let far = c.for_storage("far").unwrap();
        assert_eq!(far.backup_storage_label(), "far");
        assert_eq!(far.backup_storage.root_path, "/data/far");
        let back = far.for_storage("default").unwrap();
        assert_eq!(back.backup_storage_label(), "default");
        assert_eq!(back.backup_storage.root_path, c.backup_storage.root_path);
        assert_eq!(far.for_storage("").unwrap().backup_storage_label(), "far");
        assert!(far.for_storage("nowhere").is_err());
    }

    #[test]
    fn named_milvus_targets_replace_milvus_and_its_storage_only() {
        let text = r#"
milvus:
  address: prod-milvus
minio:
  storageType: minio
  address: prod-minio
  bucketName: prod-bucket
  backupBucketName: backups
targets:
  dr:
    milvus:
      address: dr-milvus
      port: 29530
      password: dr-secret
    minio:
      storageType: s3
      address: dr-minio
      bucketName: dr-bucket
      rootPath: dr-files
"#;
        let c =
            Config::from_yaml(text, &[("targets.dr.milvus.user".into(), "root".into())]).unwrap();
        let dr = c.for_target("dr").unwrap();
        assert_eq!(
            (dr.milvus.address.as_str(), dr.milvus.port),
            ("dr-milvus", 29530)
        );
        assert_eq!(dr.milvus.user, "root");
        assert_eq!(dr.milvus.password.expose(), "dr-secret");
        assert_eq!(dr.milvus_storage.bucket, "dr-bucket");
        assert_eq!(dr.milvus_storage.root_path, "dr-files");
        // the backups are the same: the backup storage is the file's
        assert_eq!(dr.backup_storage, c.backup_storage);
        assert_eq!(dr.backup_storage.bucket, "backups");
        assert_eq!(c.milvus.address, "prod-milvus");
        assert!(
            !format!("{c:?}").contains("dr-secret"),
            "secrets never print"
        );
        let e = c.for_target("nope").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("dr"), "{e}");
        let e = Config::from_yaml(
            "targets:
  x:
    minio:
      storageType: floppy
",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("configuration") || e.contains("targets.x"),
            "{e}"
        );
        assert!(Config::from_yaml(
            "targets:
  'a b': {}
",
            &[]
        )
        .is_err());
    }

    #[test]
    fn separate_backup_endpoint() {
        let yaml = "minio:\n  backupStorageType: s3\n  backupAddress: other\n  backupPort: 9100\n  backupAccessKeyID: bk\n  backupSecretAccessKey: bs\n";
        let c = Config::from_yaml(yaml, &[]).unwrap();
        assert_eq!(c.backup_storage.endpoint(), "http://other:9100");
        assert_eq!(c.backup_storage.access_key_id, "bk");
        assert_eq!(c.backup_storage.secret_access_key.expose(), "bs");
        assert_eq!(c.milvus_storage.access_key_id, "minioadmin");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = Config::from_yaml("milvus:\n  port: not-a-number\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("milvus.port"), "{err}");
        let err = Config::from_yaml("minio:\n  useSSL: [1, 2]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("minio.useSSL"), "{err}");
    }

    #[test]
    fn unknown_storage_type_is_rejected() {
        let err = Config::from_yaml("minio:\n  storageType: floppy\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("minio.storageType") && err.contains("floppy"),
            "{err}"
        );
    }

    #[test]
    fn env_and_set_overrides_win_and_keep_types() {
        let env = vec![
            ("MILVUS_PORT".to_string(), "29530".to_string()),
            ("UNRELATED".into(), "x".into()),
        ];
        let sets = vec![
            "MINIO_BUCKET_NAME=from-set".to_string(),
            "backup.parallelism.copydata=3".to_string(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup.yaml");
        std::fs::write(&file, MILVUS_BACKUP_SAMPLE).unwrap();
        let c = Config::load(Some(&file), &env, &sets).unwrap();
        assert_eq!(c.milvus.port, 29530);
        assert_eq!(c.milvus_storage.bucket, "from-set");
        assert_eq!(c.tuning.copy_concurrency, 3);
        let bad = vec![("MILVUS_PORT".to_string(), "abc".to_string())];
        let err = Config::load(Some(&file), &bad, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("milvus.port"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/backup.yaml")), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/backup.yaml"));
    }

    #[test]
    fn embedded_defaults_are_local() {
        let c = Config::from_yaml(EMBEDDED_DEFAULTS, &[]).unwrap();
        assert_eq!(c.milvus.endpoint(), "http://127.0.0.1:19530");
        assert_eq!(c.milvus_storage.kind, StorageKind::Local);
        assert_eq!(c.backup_storage.kind, StorageKind::Local);
        assert_eq!(c.backup_storage.root_path, "./milvault-backups");
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_yaml(MILVUS_BACKUP_SAMPLE, &[]).unwrap();
        let shown = format!("{c:?} {}", c.milvus_storage.describe());
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(!shown.contains("Milvus\""), "{shown}");
    }
}

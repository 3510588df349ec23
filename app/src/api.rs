//! What the portal shows and sends: plain serialisable types shared by the server and the browser,
//! and (on the server) the [`Backend`] trait that the `milvault` binary implements over its engine.
//! The portal has no backup or restore logic of its own.

use serde::{Deserialize, Serialize};

pub use crate::error::{PortalError, PortalErrorKind};

/// One complete backup in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupRow {
    pub name: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// How long the backup took, when recorded.
    pub duration_ms: Option<i64>,
    /// `db.collection` of each collection.
    pub collections: Vec<String>,
    /// Live rows when recorded, else stored rows (kept for compatibility).
    pub rows: i64,
    /// Rows stored in the backup's segments, deleted rows included.
    #[serde(default)]
    pub stored_rows: i64,
    /// Live rows (`count(*)`, deletes applied) at backup time; `None`: not counted in every
    /// collection.
    #[serde(default)]
    pub live_rows: Option<i64>,
    pub size: i64,
    pub milvus_version: String,
    pub meta_only: bool,
    /// The policy that made it.
    pub policy: Option<String>,
    /// The last verification against the manifest.
    pub verification: Option<Verification>,
    /// `binlog` or `logical` (or `snapshot` for milvus-backup's snapshot bundles).
    #[serde(default)]
    pub format: String,
    /// Incremental backups: the earlier backups unchanged files were copied from. The backup
    /// still holds its own copy of every file: nothing is shared.
    #[serde(default)]
    pub incremental_bases: Vec<String>,
    /// Files and bytes of `size` copied from those bases instead of read from Milvus.
    #[serde(default)]
    pub files_from_base: u64,
    #[serde(default)]
    pub bytes_from_base: u64,
    /// The last restore drill, in short; `None`: never drilled.
    #[serde(default)]
    pub drill: Option<DrillSummary>,
    /// The storage that holds it: empty for the configured backup storage, else a name under
    /// `storages:`.
    #[serde(default)]
    pub storage: String,
}

impl BackupRow {
    /// How the portal addresses it: its name, `STORAGE:NAME` in a named storage (see
    /// [`crate::names::backup_key`]).
    pub fn key(&self) -> String {
        crate::names::backup_key(&self.storage, &self.name)
    }
}

/// A backup's last restore drill, in short (the Backups list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillSummary {
    /// Every check held.
    pub passed: bool,
    /// When it ended, Unix milliseconds.
    pub at_ms: i64,
    /// The restore with indexes and loading: the measured recovery time.
    pub restore_ms: u64,
    /// The lowest recall of its collections' vector searches (`None`: nothing was searched).
    pub recall: Option<f64>,
    /// Why it did not pass.
    pub failure: Option<String>,
}

/// A backup's last restore drill with its evidence (the backup page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillView {
    pub summary: DrillSummary,
    /// Unix milliseconds.
    pub started_ms: i64,
    /// The key and vector checks.
    pub check_ms: u64,
    /// Dropping what the drill created.
    pub cleanup_ms: u64,
    /// The Milvus it ran on.
    pub milvus_version: String,
    /// The scratch database it restored into (dropped at its end).
    pub database: String,
    /// The depth of the vector searches.
    pub top_k: usize,
    /// The recall each collection needed.
    pub min_recall: f64,
    pub collections: Vec<DrillCollectionView>,
}

/// One collection's evidence in a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillCollectionView {
    /// `db.name` in the backup.
    pub source: String,
    /// `db.name` it was restored as.
    pub target: String,
    /// The restore's row check, in words.
    pub rows: String,
    pub keys_sampled: usize,
    pub keys_found: usize,
    /// The vector field searched (`None`: the collection has none).
    pub vector_field: Option<String>,
    pub vectors_searched: usize,
    pub vectors_found: usize,
    pub recall: Option<f64>,
}

/// A backup's last verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// `intact`, `damaged` or `unverifiable`.
    pub state: String,
    pub at_ms: i64,
    pub files: u64,
    /// How many files are missing or damaged.
    #[serde(default)]
    pub damaged: u64,
    /// The first damaged files, in words.
    pub problems: Vec<String>,
}

/// A backup policy in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyView {
    pub name: String,
    pub cron: String,
    pub time_zone: String,
    /// What it backs up, in words.
    pub targets: String,
    /// Its retention, in words.
    pub retention: String,
    pub enabled: bool,
    pub verify_after: bool,
    /// Logical backups (rows through the API into Parquet).
    #[serde(default)]
    pub logical: bool,
    /// 0 or 1: every run full; N: every Nth run full, the others incremental.
    #[serde(default)]
    pub full_every: u32,
    /// 0: no drills; N: every Nth backup drilled right after it is made.
    #[serde(default)]
    pub drill_every: u32,
    pub next_runs_ms: Vec<i64>,
    pub last_run: Option<PolicyRunView>,
}

/// A run of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRunView {
    pub slot_ms: i64,
    pub backup: String,
    pub job_id: String,
    pub state: String,
    pub detail: String,
}

/// The New policy form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyForm {
    pub name: String,
    /// Comma separated.
    pub collections: String,
    /// Comma separated.
    pub databases: String,
    pub cron: String,
    pub time_zone: String,
    pub name_template: String,
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub max_age_days: Option<u32>,
    pub verify_after: bool,
    /// Logical backups (rows through the API into Parquet).
    #[serde(default)]
    pub logical: bool,
    /// Every Nth run full, the others incremental (0: all full).
    #[serde(default)]
    pub full_every: u32,
    /// Drill every Nth backup right after it is made (0: never).
    #[serde(default)]
    pub drill_every: u32,
    /// Comma separated webhook names told of this policy's failed runs.
    #[serde(default)]
    pub notify: String,
}

/// A backup in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupDetail {
    pub summary: BackupRow,
    pub collections: Vec<CollectionDetail>,
    /// The last restore drill with its evidence; `None`: never drilled.
    #[serde(default)]
    pub last_drill: Option<DrillView>,
    /// The signed-in user may drill this backup (the Drill button shows).
    #[serde(default)]
    pub may_drill: bool,
    /// The named storages the signed-in user may copy this backup to (empty: the copy form is
    /// hidden, because the configuration names none or the user may not make backups).
    #[serde(default)]
    pub copy_targets: Vec<String>,
}

/// The backup page's "Copy to another storage" form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CopyForm {
    /// The backup to copy (its key: `STORAGE:NAME` in a named storage).
    pub backup: String,
    /// A name under `storages:` in the configuration.
    pub to: String,
    /// The copy's name there; empty: the backup's own.
    pub as_name: String,
}

/// One collection of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionDetail {
    pub db: String,
    pub name: String,
    pub description: String,
    pub fields: Vec<FieldRow>,
    pub partitions: Vec<PartitionRow>,
    pub indexes: Vec<String>,
    pub shards: i32,
    pub consistency: String,
    pub dynamic_fields: bool,
    pub segments: usize,
    /// Live rows when recorded, else stored rows (kept for compatibility).
    pub rows: i64,
    /// Rows stored in its segments, deleted rows included.
    #[serde(default)]
    pub stored_rows: i64,
    /// Live rows (`count(*)`, deletes applied) at backup time; `None`: not counted.
    #[serde(default)]
    pub live_rows: Option<i64>,
    pub bytes: i64,
}

/// One field of a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRow {
    pub id: i64,
    pub name: String,
    pub data_type: String,
    /// Primary key, auto id, partition key, dimension, max length...
    pub notes: String,
}

/// One partition of a backed-up collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionRow {
    pub name: String,
    pub segments: usize,
    pub rows: i64,
    pub bytes: i64,
}

/// A collection in Milvus now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveCollection {
    pub db: String,
    pub name: String,
    pub rows: i64,
    pub load_state: String,
}

/// The New backup form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewBackup {
    pub name: String,
    /// `db.collection` of each chosen collection.
    pub collections: Vec<String>,
    pub meta_only: bool,
    /// Rows through the API into Parquet files instead of a copy of the binlogs.
    #[serde(default)]
    pub logical: bool,
    /// Take unchanged files from earlier backups.
    #[serde(default)]
    pub incremental: bool,
    /// Also keep Milvus' own users, roles and grants.
    #[serde(default)]
    pub rbac: bool,
}

/// The Restore form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreForm {
    /// The backup's key (its name, `STORAGE:NAME` in a named storage).
    pub backup: String,
    /// `db.collection` in the backup; empty: all.
    pub collections: Vec<String>,
    /// Restore every collection into this database (empty: each into its own).
    pub target_db: String,
    pub suffix: String,
    /// `(source db.collection, new name)` for collections given a name of their own.
    pub renames: Vec<(String, String)>,
    pub drop_existing: bool,
    pub meta_only: bool,
    pub restore_index: bool,
    pub load: bool,
    /// Restore although files of the backup are missing or differ from its manifest.
    #[serde(default)]
    pub force: bool,
    /// Also create the backup's Milvus users, roles and grants that Milvus lacks.
    #[serde(default)]
    pub rbac: bool,
}

/// Where one collection would be restored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePreview {
    pub source: String,
    pub target: String,
    pub exists: bool,
    pub rows: i64,
}

/// A job: a backup, restore, verification or drill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    /// `backup`, `restore`, `verify`, `drill` or `copy`.
    pub kind: String,
    pub backup_name: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    pub step: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub segments_done: u64,
    pub segments_total: u64,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub error: Option<String>,
    /// `(unix ms, message)`.
    pub log: Vec<(i64, String)>,
}

impl JobView {
    /// Bytes per second, over the job's life so far (`now_ms` for a running job).
    pub fn rate(&self, now_ms: i64) -> f64 {
        let end = self.finished_ms.unwrap_or(now_ms);
        let secs = (end - self.started_ms) as f64 / 1000.0;
        if secs <= 0.0 {
            0.0
        } else {
            self.bytes_done as f64 / secs
        }
    }

    /// Seconds left at the current rate, when it can be told.
    pub fn eta_secs(&self, now_ms: i64) -> Option<f64> {
        let rate = self.rate(now_ms);
        if self.state != "running" || rate <= 0.0 || self.bytes_total <= self.bytes_done {
            return None;
        }
        Some((self.bytes_total - self.bytes_done) as f64 / rate)
    }

    /// Done fraction in [0, 1]: bytes when there are bytes, else segments.
    pub fn fraction(&self) -> f64 {
        if self.state == "succeeded" {
            return 1.0;
        }
        if self.bytes_total > 0 {
            (self.bytes_done as f64 / self.bytes_total as f64).min(1.0)
        } else if self.segments_total > 0 {
            (self.segments_done as f64 / self.segments_total as f64).min(1.0)
        } else {
            0.0
        }
    }
}

/// One line of the cluster check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// One place backups are kept: the backup storage (`default`) or a named storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageRow {
    /// `default` or the name under `storages:`.
    pub name: String,
    /// Where it is, in words (never its credentials).
    pub location: String,
    /// It answered the check.
    pub ok: bool,
    /// The check's answer: the location when it answered, else the error.
    pub detail: String,
}

/// The Cluster page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub milvus_address: String,
    pub milvus_version: Option<String>,
    pub backup_location: String,
    pub milvus_storage_location: String,
    pub checks: Vec<CheckRow>,
    /// The backup storage first, then each named storage.
    #[serde(default)]
    pub storages: Vec<StorageRow>,
}

/// The next runs of a schedule, or why it is not valid (an answer, not a failure: the form asks
/// as you type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextRuns {
    /// Unix milliseconds.
    pub runs: Vec<i64>,
    pub error: Option<String>,
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user: String,
    /// `admin`, `operator`, `member` or `viewer`.
    pub role: String,
    /// The databases the user may touch; empty: all.
    pub databases: Vec<String>,
    /// Sign-in is on (off: everyone is the local admin, loopback only).
    pub auth: bool,
}

impl Me {
    /// May manage users, policies and read the audit log.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// May back up, restore, verify and delete (within its databases).
    pub fn can_write(&self) -> bool {
        self.role != "viewer"
    }
}

/// An API token, never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub user: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked: bool,
}

/// A user in the Users page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: String,
    pub databases: Vec<String>,
    pub created_ms: i64,
    /// `local`, or `milvus` for a user whose password Milvus checks (its role and databases
    /// follow its Milvus roles at each sign-in).
    #[serde(default)]
    pub origin: String,
}

/// The Users page's form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserForm {
    pub name: String,
    pub password: String,
    pub role: String,
    /// Comma separated.
    pub databases: String,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub via: String,
    pub action: String,
    pub target: String,
    pub source: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    pub detail: String,
}

/// The Audit page's filters (empty: any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: String,
    /// Prefix: `backup.`, `auth.`, `request`...
    pub action: String,
    pub outcome: String,
}

/// A webhook as the portal shows it (never its secret or the URL's path and query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRow {
    pub name: String,
    /// Scheme and host.
    pub url: String,
    pub format: String,
    /// Told of every policy (else only of those naming it).
    pub global: bool,
    /// Event kinds; empty: all.
    pub events: Vec<String>,
    pub signed: bool,
}

/// One event sent to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub at_ms: i64,
    pub webhook: String,
    pub event: String,
    pub summary: String,
    /// `sending`, `retrying`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_status: u16,
    pub last_error: String,
}

/// The notifications section: webhooks and their newest deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsView {
    pub webhooks: Vec<WebhookRow>,
    pub deliveries: Vec<DeliveryRow>,
}

/// Which page of the backup history to show: newest first, `limit` from `offset`, only backups
/// whose name or a collection contains `filter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupPageQuery {
    pub offset: usize,
    pub limit: usize,
    pub filter: String,
    /// The storage to list: a name under `storages:`; empty: the configured backup storage.
    #[serde(default)]
    pub storage: String,
}

/// One page of the backup history, with what all pages hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupPageView {
    pub rows: Vec<BackupRow>,
    /// Backups that pass the filter, in all pages.
    pub total: u64,
    /// Their bytes.
    pub total_bytes: i64,
    pub offset: usize,
    pub limit: usize,
    /// The storages backups can be listed from (`default` first), when there are several.
    #[serde(default)]
    pub storages: Vec<String>,
    /// The size and duration chart of `rows`, drawn on the server (an SVG, as HTML).
    #[serde(default)]
    pub chart_html: String,
}

/// The engine, as the portal's server functions see it. Errors are [`PortalError`]s: a kind, the
/// engine's stable code, and a message (with a hint) that says what to do.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn list_backups(&self) -> Result<Vec<BackupRow>, PortalError>;
    /// One page of the backup history, sorted and filtered on the server.
    async fn backups_page(&self, q: BackupPageQuery) -> Result<BackupPageView, PortalError>;
    /// A backup by its key ([`BackupRow::key`]: `STORAGE:NAME` in a named storage), as are the
    /// `key`s below.
    async fn backup_detail(&self, key: &str) -> Result<BackupDetail, PortalError>;
    async fn delete_backup(&self, key: &str) -> Result<usize, PortalError>;
    async fn live_collections(&self) -> Result<Vec<LiveCollection>, PortalError>;
    /// Starts a backup job; returns its id.
    async fn start_backup(&self, form: NewBackup) -> Result<String, PortalError>;
    async fn restore_preview(&self, form: RestoreForm) -> Result<Vec<RestorePreview>, PortalError>;
    /// Starts a restore job; returns its id.
    async fn start_restore(&self, form: RestoreForm) -> Result<String, PortalError>;
    async fn jobs(&self) -> Result<Vec<JobView>, PortalError>;
    async fn job(&self, id: &str) -> Result<JobView, PortalError>;
    /// Asks a running job to stop; its state becomes `cancelled` once it has cleaned up.
    async fn cancel_job(&self, id: &str) -> Result<(), PortalError>;
    /// Continues the interrupted (failed or cancelled) job `id`: a backup keeps the files it
    /// finished, a restore the collections it finished. Answers the new job's id.
    async fn resume_job(&self, id: &str) -> Result<String, PortalError>;
    /// The Cluster page (a scoped caller's: its databases only).
    async fn cluster(&self) -> Result<ClusterView, PortalError>;
    /// Starts verifying a backup; returns the job id.
    async fn start_verify(&self, key: &str) -> Result<String, PortalError>;
    /// Starts a restore drill of a backup (all its collections, default checks); returns the
    /// job id. Its report becomes the backup's last drill.
    async fn start_drill(&self, key: &str) -> Result<String, PortalError>;
    /// Starts copying a backup to a named storage; returns the job id.
    async fn start_copy(&self, form: CopyForm) -> Result<String, PortalError>;
    async fn policies(&self) -> Result<Vec<PolicyView>, PortalError>;
    async fn add_policy(&self, form: PolicyForm) -> Result<(), PortalError>;
    async fn set_policy_enabled(&self, name: &str, enabled: bool) -> Result<(), PortalError>;
    async fn remove_policy(&self, name: &str) -> Result<(), PortalError>;
    /// Runs a policy now; returns the backup job's id.
    async fn run_policy(&self, name: &str) -> Result<String, PortalError>;
    /// The next runs of a schedule, in Unix milliseconds.
    async fn schedule_preview(&self, cron: &str, time_zone: &str) -> Result<Vec<i64>, PortalError>;
    /// Who the request acts as.
    async fn me(&self) -> Result<Me, PortalError>;
    /// The caller's API tokens (an admin's: everyone's).
    async fn tokens(&self) -> Result<Vec<TokenView>, PortalError>;
    /// Creates a token acting as the caller; returns the secret (shown once).
    async fn create_token(&self, name: &str) -> Result<String, PortalError>;
    async fn revoke_token(&self, id: &str) -> Result<(), PortalError>;
    async fn users(&self) -> Result<Vec<UserView>, PortalError>;
    async fn add_user(&self, form: UserForm) -> Result<(), PortalError>;
    async fn remove_user(&self, name: &str) -> Result<(), PortalError>;
    /// Changes a user's role and databases (comma separated).
    async fn set_user_role(
        &self,
        name: &str,
        role: &str,
        databases: &str,
    ) -> Result<(), PortalError>;
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditRow>, PortalError>;
    /// The webhooks and the newest deliveries.
    async fn notifications(&self) -> Result<NotificationsView, PortalError>;
}

/// The backend handle the server puts in the Leptos context.
#[cfg(feature = "ssr")]
pub type SharedBackend = std::sync::Arc<dyn Backend>;

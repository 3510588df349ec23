//! milvault's own REST resources (`/api/v2`): backups, jobs with progress, the cluster. Errors
//! are `{"error": {"code", "message"}}` with a 4xx/5xx status; lists are paged with
//! `offset`/`limit` and say the total.

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::in_storage::{InStorage, StorageParam};
use crate::{
    auth::Gate,
    engine::backup_query::{BackupQuery, DayTotal},
    engine::commands::{
        archive::{ExportOptions, ImportOptions, ImportReport},
        copy::CopyRequest,
        create::CreateBackupRequest,
        drill::{DrillReport, DrillRequest},
        list::BackupSummary,
        restore::RestoreRequest,
    },
    format::{db_or_default, BackupInfo, CollectionBackupInfo},
    jobs::registry::JobRegistry,
    progress::JobSnapshot,
};

use super::error::{ApiError, ApiJson, ApiJsonOrDefault, ErrorBody};

/// Largest page a list answers.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// The `/api/v2` routes.
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    Router::new()
        .route("/api/v2/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v2/backups", get(list_backups).post(create_backup))
        .route("/api/v2/backup-history", get(backup_history))
        .route(
            "/api/v2/backups/{name}",
            get(get_backup).delete(delete_backup),
        )
        .route("/api/v2/backups/{name}/restore", post(restore))
        .route("/api/v2/backups/{name}/restore-preview", post(preview))
        .route("/api/v2/backups/{name}/verify", post(verify))
        .route("/api/v2/backups/{name}/archive", get(export_archive))
        .route("/api/v2/backups/archive", post(import_archive))
        .route("/api/v2/backups/{name}/drill", post(drill).get(last_drill))
        .route("/api/v2/backups/{name}/copy", post(copy_backup))
        .route("/api/v2/jobs", get(list_jobs))
        .route("/api/v2/jobs/{id}", get(get_job))
        .route("/api/v2/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v2/jobs/{id}/resume", post(resume_job))
        .route("/api/v2/cluster", get(cluster))
        .with_state(registry)
}

/// `?offset=&limit=` of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct PageQuery {
    /// Items to skip (default 0).
    pub offset: usize,
    /// Items to answer, 1 to 500 (default 50).
    pub limit: Option<usize>,
}

impl PageQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit {n} is out of range: ask for 1 to {MAX_PAGE} items"),
            )),
        }
    }
}

/// The paging part of a list answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageInfo {
    /// Items in all pages.
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
    /// `offset` of the next page; absent on the last page.
    pub next_offset: Option<usize>,
}

impl PageInfo {
    fn new(total: u64, offset: usize, limit: usize) -> PageInfo {
        let next = offset.saturating_add(limit);
        PageInfo {
            total,
            offset,
            limit,
            next_offset: ((next as u64) < total).then_some(next),
        }
    }
}

/// A backup in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupItem {
    pub name: String,
    pub id: String,
    /// When the backup was taken.
    pub created_at: DateTime<Utc>,
    /// Bytes of binlogs.
    pub size: i64,
    /// Live rows when the backup recorded them, else stored rows (kept for compatibility; see
    /// `stored_rows` and `live_rows`).
    pub rows: i64,
    /// Rows stored in the backup's segments, deleted rows included (deletes are held in delta
    /// logs until Milvus compacts them).
    pub stored_rows: i64,
    /// Live rows (`count(*)`, deletes applied) at backup time; null when any collection's were
    /// not counted (Milvus counts only loaded collections).
    pub live_rows: Option<i64>,
    pub milvus_version: String,
    /// `db.collection` of each collection.
    pub collections: Vec<String>,
    /// How long it took, when milvault made it.
    pub duration_ms: Option<i64>,
    /// Schemas only, no data.
    pub meta_only: bool,
    /// The policy that made it (its retention may prune it).
    pub policy: Option<String>,
    /// The last verification against the manifest; absent when never verified.
    pub verification: Option<VerificationView>,
}

/// The last verification of a backup.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationView {
    /// `intact`, `damaged` or `unverifiable` (no manifest).
    pub state: String,
    pub at: DateTime<Utc>,
    pub files: u64,
    pub bytes: u64,
    /// How many files are missing or damaged.
    pub damaged: u64,
    /// The first damaged files (up to 100): `{"problem": "missing"|"truncated"|"grown"|"changed"|"unreadable", "path", ...}`.
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<crate::format::manifest::FileProblem>,
}

impl From<&crate::db::policies::VerificationRecord> for VerificationView {
    fn from(v: &crate::db::policies::VerificationRecord) -> Self {
        VerificationView {
            state: v.state.clone(),
            at: v.at,
            files: v.files,
            bytes: v.bytes,
            damaged: v.damaged,
            problems: v.problems.clone(),
        }
    }
}

impl From<BackupSummary> for BackupItem {
    fn from(b: BackupSummary) -> Self {
        BackupItem {
            created_at: DateTime::from_timestamp_millis(b.backup_timestamp as i64)
                .unwrap_or_default(),
            name: b.name,
            id: b.id,
            size: b.size,
            rows: b.rows,
            stored_rows: b.stored_rows,
            live_rows: b.live_rows,
            milvus_version: b.milvus_version,
            collections: b.collections,
            duration_ms: b.duration_ms,
            meta_only: b.meta_only,
            policy: b.policy,
            verification: None,
        }
    }
}

/// A page of backups, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupPage {
    pub items: Vec<BackupItem>,
    pub page: PageInfo,
}

/// One backup with its collections.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupDetail {
    pub backup: BackupItem,
    pub collections: Vec<CollectionItem>,
}

/// A collection in a backup.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionItem {
    pub database: String,
    pub name: String,
    /// Live rows when the backup recorded them, else stored rows (kept for compatibility; see
    /// `stored_rows` and `live_rows`).
    pub rows: i64,
    /// Rows stored in its segments, deleted rows included (deletes are held in delta logs until
    /// Milvus compacts them).
    pub stored_rows: i64,
    /// Live rows (`count(*)`, deletes applied) at backup time; null when Milvus could not count
    /// them (the collection was not loaded).
    pub live_rows: Option<i64>,
    pub size: i64,
    pub partitions: usize,
    pub segments: usize,
    /// `name on field (TYPE)` of each index.
    pub indexes: Vec<String>,
}

impl From<&CollectionBackupInfo> for CollectionItem {
    fn from(c: &CollectionBackupInfo) -> Self {
        CollectionItem {
            database: db_or_default(&c.db_name).to_string(),
            name: c.collection_name.clone(),
            rows: c.rows(),
            stored_rows: c.total_rows(),
            live_rows: c.live_rows,
            size: c.size,
            partitions: c.partition_backups.len(),
            segments: c.segments().count(),
            indexes: c
                .index_infos
                .iter()
                .map(|i| format!("{} on {} ({})", i.index_name, i.field_name, i.index_type))
                .collect(),
        }
    }
}

impl From<&BackupInfo> for BackupDetail {
    fn from(info: &BackupInfo) -> Self {
        BackupDetail {
            backup: BackupSummary::from(info).into(),
            collections: info
                .collection_backups
                .iter()
                .map(CollectionItem::from)
                .collect(),
        }
    }
}

/// Where a restore would put a collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreTargetItem {
    /// `db.name` in the backup.
    pub source: String,
    /// `db.name` in Milvus.
    pub target: String,
    /// A collection of that name exists (the restore needs `drop_existing`).
    pub exists: bool,
    pub rows: i64,
}

/// A backup or restore job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobItem {
    pub id: String,
    /// `backup` or `restore`.
    pub kind: String,
    pub backup_name: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// What it is doing now.
    pub step: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub segments_done: u64,
    pub segments_total: u64,
    /// 0 to 100.
    pub percent: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Restores: `source=>target` of each collection.
    pub targets: Vec<String>,
    /// The job's log (on `/jobs/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<JobLogLine>>,
}

/// A line of a job's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobLogLine {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// `succeeded`, `running`... as the engine's serde names them.
fn name_of<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

impl JobItem {
    /// A job without its log.
    pub fn of(s: &JobSnapshot) -> JobItem {
        JobItem {
            id: s.id.clone(),
            kind: name_of(s.kind),
            backup_name: s.backup_name.clone(),
            state: name_of(s.state),
            step: s.step.clone(),
            bytes_done: s.bytes_done,
            bytes_total: s.bytes_total,
            segments_done: s.segments_done,
            segments_total: s.segments_total,
            percent: s.percent(),
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error.clone(),
            targets: s.targets.clone(),
            log: None,
        }
    }

    /// A job with its log.
    pub fn with_log(s: &JobSnapshot) -> JobItem {
        let mut j = JobItem::of(s);
        j.log = Some(
            s.log
                .iter()
                .map(|l| JobLogLine {
                    at: l.at,
                    message: l.message.clone(),
                })
                .collect(),
        );
        j
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub items: Vec<JobItem>,
    pub page: PageInfo,
}

/// The service is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    pub version: String,
}

/// What the cluster looks like now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cluster {
    /// Every check passed.
    pub ok: bool,
    pub checks: Vec<CheckItemView>,
    /// Collections in Milvus (empty when Milvus cannot be reached).
    pub collections: Vec<LiveCollection>,
}

/// One thing checked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckItemView {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// A collection in Milvus.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveCollection {
    pub database: String,
    pub name: String,
    pub rows: i64,
    pub load_state: String,
}

type ApiResult<T> = Result<T, ApiError>;

/// Liveness: answers while the server runs (does not touch Milvus).
#[utoipa::path(get, path = "/api/v2/health", tag = "v2", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Prometheus' text format (OpenMetrics): this process's jobs and the policies' last good runs.
pub async fn metrics(gate: Gate) -> ApiResult<impl axum::response::IntoResponse> {
    let text = gate.metrics_text()?;
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, kind)], text))
}

/// `GET /api/v2/backups`: a page, its order and its filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct BackupListQuery {
    /// Items to skip (default 0).
    pub offset: usize,
    /// Items to answer, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// `time` (default `-time`: newest first), `name`, `size` or `rows`; `-` first for
    /// descending.
    pub sort: Option<String>,
    /// Only backups whose name or one of whose collections contains this (case-insensitive).
    pub q: Option<String>,
    /// Only backups holding a collection of this database.
    pub database: Option<String>,
    /// Only backups this policy made.
    pub policy: Option<String>,
}

impl BackupListQuery {
    /// The engine's query (the page bounds checked).
    fn query(self) -> Result<BackupQuery, ApiError> {
        let limit = PageQuery {
            offset: self.offset,
            limit: self.limit,
        }
        .limit()?;
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s.parse()?,
            None => Default::default(),
        };
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Ok(BackupQuery {
            sort,
            name_contains: nonempty(self.q),
            database: nonempty(self.database),
            policy: nonempty(self.policy),
            offset: self.offset,
            limit,
        })
    }
}

/// Complete backups, a page at a time: newest first unless `sort` says otherwise, filtered by
/// name, database and policy on the server (`page.total` counts what passed the filters).
#[utoipa::path(get, path = "/api/v2/backups", tag = "v2", params(StorageParam, BackupListQuery),
    responses((status = 200, body = BackupPage), (status = 400, body = ErrorBody)))]
pub async fn list_backups(
    InStorage(gate): InStorage,
    Query(q): Query<BackupListQuery>,
) -> ApiResult<Json<BackupPage>> {
    let q = q.query()?;
    let (items, total, _) = gate.backups_page(&q).await?;
    Ok(Json(BackupPage {
        items: items
            .into_iter()
            .map(|(b, v)| {
                let mut item = BackupItem::from(b);
                item.verification = v.as_ref().map(VerificationView::from);
                item
            })
            .collect(),
        page: PageInfo::new(total, q.offset, q.limit),
    }))
}

/// The backups per day (UTC), oldest first, with the list's filters (`q`, `database`,
/// `policy`): the points of a history chart, however many backups there are.
#[utoipa::path(get, path = "/api/v2/backup-history", tag = "v2", params(StorageParam, BackupListQuery),
    responses((status = 200, body = [DayTotal]), (status = 400, body = ErrorBody)))]
pub async fn backup_history(
    InStorage(gate): InStorage,
    Query(q): Query<BackupListQuery>,
) -> ApiResult<Json<Vec<DayTotal>>> {
    Ok(Json(gate.backup_history(&q.query()?).await?))
}

/// One backup with its collections.
#[utoipa::path(get, path = "/api/v2/backups/{name}", tag = "v2",
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 200, body = BackupDetail), (status = 404, body = ErrorBody)))]
pub async fn get_backup(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
) -> ApiResult<Json<BackupDetail>> {
    let (info, v) = gate.get_backup_verified(&name).await?;
    let mut detail = BackupDetail::from(&info);
    detail.backup.verification = v.as_ref().map(VerificationView::from);
    Ok(Json(detail))
}

/// Starts a backup; answers 202 with its job (follow it at `/api/v2/jobs/{id}`).
#[utoipa::path(post, path = "/api/v2/backups", tag = "v2", request_body = CreateBackupRequest,
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody),
        (status = 409, description = "The name is taken or being used now", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn create_backup(
    gate: Gate,
    ApiJson(req): ApiJson<CreateBackupRequest>,
) -> ApiResult<(StatusCode, Json<JobItem>)> {
    let job = gate.start_backup(req).await?;
    Ok((StatusCode::ACCEPTED, Json(JobItem::of(&job))))
}

/// Deletes a backup and every file under it.
#[utoipa::path(delete, path = "/api/v2/backups/{name}", tag = "v2",
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_backup(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    gate.delete_backup(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a restore (backup, collections, no existing target unless `drop_existing`) and
/// starts it; answers 202 with its job.
#[utoipa::path(post, path = "/api/v2/backups/{name}/restore", tag = "v2", request_body = RestoreRequest,
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A target collection exists", body = ErrorBody)))]
pub async fn restore(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
    ApiJson(mut req): ApiJson<RestoreRequest>,
) -> ApiResult<(StatusCode, Json<JobItem>)> {
    req.name = name;
    let job = gate.start_restore(req).await?;
    Ok((StatusCode::ACCEPTED, Json(JobItem::of(&job))))
}

/// Starts verifying a backup against its manifest; answers 202 with the job. The outcome becomes
/// the backup's `verification`.
#[utoipa::path(post, path = "/api/v2/backups/{name}/verify", tag = "v2",
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 202, body = JobItem), (status = 404, body = ErrorBody),
        (status = 409, description = "The backup is being made or deleted", body = ErrorBody)))]
pub async fn verify(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<JobItem>)> {
    let job = gate.start_verify(&name).await?;
    Ok((StatusCode::ACCEPTED, Json(JobItem::of(&job))))
}

/// The whole backup as one archive: a tar (`?zstd=true`: compressed with zstd) of every file of
/// its folder (metadata, manifest, binlogs), paths relative to it, streamed as it is read.
#[utoipa::path(get, path = "/api/v2/backups/{name}/archive", tag = "v2",
    params(StorageParam, ("name" = String, Path, description = "Backup name"), ExportOptions),
    responses((status = 200, description = "The archive (application/x-tar or application/zstd)",
            content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The backup is being deleted", body = ErrorBody)))]
pub async fn export_archive(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
    Query(mut opts): Query<ExportOptions>,
) -> ApiResult<axum::response::Response> {
    opts.name = name;
    let export = gate.export_backup(&opts).await?;
    Ok(super::archive_body::streamed(export))
}

/// Makes a backup from an uploaded archive (the body, streamed; tar or zstd-compressed tar),
/// named `?name=` or as its metadata records. Every file is checked against the backup's
/// manifest before the backup becomes visible; a refused archive leaves nothing behind.
#[utoipa::path(post, path = "/api/v2/backups/archive", tag = "v2", params(StorageParam, ImportOptions),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses((status = 201, body = ImportReport),
        (status = 400, description = "The archive is damaged, incomplete or unsafe", body = ErrorBody),
        (status = 409, description = "A backup of that name exists", body = ErrorBody),
        (status = 413, description = "Larger than backup.maxArchiveBytes", body = ErrorBody)))]
pub async fn import_archive(
    InStorage(gate): InStorage,
    State(reg): State<Arc<JobRegistry>>,
    Query(opts): Query<ImportOptions>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    let limit = reg.service().config().tuning.max_archive_bytes;
    let input = super::archive_body::upload(&headers, body, limit)?;
    let report = gate.import_backup(&opts, input, Some(limit)).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// Starts a restore drill: the backup is restored into a scratch database with its indexes,
/// loaded, its rows counted, sampled keys queried and sampled vectors searched back, then the
/// scratch database is dropped. Answers 202 with the job; the report is then the backup's last
/// drill (`GET` on this path). The body is optional (`name` comes from the path).
#[utoipa::path(post, path = "/api/v2/backups/{name}/drill", tag = "v2", request_body = DrillRequest,
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The backup is being made or deleted", body = ErrorBody)))]
pub async fn drill(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
    ApiJsonOrDefault(mut req): ApiJsonOrDefault<DrillRequest>,
) -> ApiResult<(StatusCode, Json<JobItem>)> {
    req.name = name;
    let job = gate.start_drill(req).await?;
    Ok((StatusCode::ACCEPTED, Json(JobItem::of(&job))))
}

/// Starts copying the backup to another storage (`to`: a name under `storages:` in the
/// configuration; `as`: its name there, default its own). Each file is checked against the
/// backup's manifest as it lands and the metadata is written last, so the copy is listed there
/// only when complete; copying again after a stop keeps the files already copied. Answers 202
/// with the job.
#[utoipa::path(post, path = "/api/v2/backups/{name}/copy", tag = "v2", request_body = CopyRequest,
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The storage holds a backup of that name, or the backup is being made or deleted", body = ErrorBody)))]
pub async fn copy_backup(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
    ApiJson(mut req): ApiJson<CopyRequest>,
) -> ApiResult<(StatusCode, Json<JobItem>)> {
    req.name = name;
    let job = gate.start_copy(req).await?;
    Ok((StatusCode::ACCEPTED, Json(JobItem::of(&job))))
}

/// The backup's last restore drill, with its evidence; 404 when it has none.
#[utoipa::path(get, path = "/api/v2/backups/{name}/drill", tag = "v2",
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 200, body = DrillReport), (status = 404, body = ErrorBody)))]
pub async fn last_drill(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
) -> ApiResult<Json<DrillReport>> {
    gate.last_drill(&name).await?.map(Json).ok_or_else(|| {
        ApiError::not_found(
            "drill_not_found",
            format!("backup '{name}' has not been drilled; POST to this path drills it"),
        )
    })
}

/// Where a restore would put each collection, without changing anything.
#[utoipa::path(post, path = "/api/v2/backups/{name}/restore-preview", tag = "v2", request_body = RestoreRequest,
    params(StorageParam, ("name" = String, Path, description = "Backup name")),
    responses((status = 200, body = Vec<RestoreTargetItem>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn preview(
    InStorage(gate): InStorage,
    Path(name): Path<String>,
    ApiJson(mut req): ApiJson<RestoreRequest>,
) -> ApiResult<Json<Vec<RestoreTargetItem>>> {
    req.name = name;
    let targets = gate.restore_preview(&req).await?;
    Ok(Json(
        targets
            .into_iter()
            .map(|t| RestoreTargetItem {
                source: t.source,
                target: t.target,
                exists: t.exists,
                rows: t.rows,
            })
            .collect(),
    ))
}

/// Jobs, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v2/jobs", tag = "v2", params(PageQuery),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody)))]
pub async fn list_jobs(gate: Gate, Query(q): Query<PageQuery>) -> ApiResult<Json<JobPage>> {
    let limit = q.limit()?;
    let (items, total) = gate.jobs_page(q.offset, limit)?;
    Ok(Json(JobPage {
        items: items.iter().map(JobItem::of).collect(),
        page: PageInfo::new(total, q.offset, limit),
    }))
}

/// One job with its log.
#[utoipa::path(get, path = "/api/v2/jobs/{id}", tag = "v2",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobItem), (status = 404, body = ErrorBody)))]
pub async fn get_job(gate: Gate, Path(id): Path<String>) -> ApiResult<Json<JobItem>> {
    match gate.job(&id)? {
        Some(s) => Ok(Json(JobItem::with_log(&s))),
        None => Err(ApiError::not_found(
            "job_not_found",
            format!("no job has id '{id}'; GET /api/v2/jobs lists them"),
        )),
    }
}

/// Cancels a running job: a backup stops and leaves nothing, a restore waits for the imports it
/// sent and removes the collections it created. Answers the job (still running until it has
/// cleaned up; its state becomes `cancelled`).
#[utoipa::path(post, path = "/api/v2/jobs/{id}/cancel", tag = "v2",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn cancel_job(
    gate: Gate,
    Path(id): Path<String>,
) -> ApiResult<(axum::http::StatusCode, Json<JobItem>)> {
    let s = gate.cancel_job(&id)?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(JobItem::of(&s))))
}

/// How to resume a job.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResumeBody {
    /// Restores: also replace target collections that exist now (dropped first).
    pub drop_existing: bool,
}

/// Resumes an interrupted (failed or cancelled) job as a new job: a backup continues under its
/// name, keeping the files it finished; a restore keeps the collections it finished, drops the
/// one it was filling (known by its id) and restores it again. Answers 202 with the new job.
#[utoipa::path(post, path = "/api/v2/jobs/{id}/resume", tag = "v2",
    params(("id" = String, Path, description = "Id of the interrupted job")),
    request_body(content = ResumeBody, description = "optional"),
    responses((status = 202, body = JobItem), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume_job(
    gate: Gate,
    Path(id): Path<String>,
    body: Option<Json<ResumeBody>>,
) -> ApiResult<(axum::http::StatusCode, Json<JobItem>)> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let s = gate.resume_job(&id, body.drop_existing).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(JobItem::of(&s))))
}

/// Milvus and storage checks, and the collections Milvus holds (of a scoped caller: those of its
/// databases only, in the checks too).
#[utoipa::path(get, path = "/api/v2/cluster", tag = "v2", responses((status = 200, body = Cluster)))]
pub async fn cluster(gate: Gate) -> Json<Cluster> {
    let report = gate.check().await;
    let collections = gate.inventory().await.unwrap_or_default();
    Json(Cluster {
        ok: report.ok(),
        checks: report
            .items
            .into_iter()
            .map(|i| CheckItemView {
                what: i.what,
                ok: i.ok,
                detail: i.detail,
            })
            .collect(),
        collections: collections
            .into_iter()
            .map(|c| LiveCollection {
                database: c.db,
                name: c.name,
                rows: c.rows,
                load_state: c.load_state,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_say_where_the_next_one_starts() {
        let p = PageInfo::new(120, 0, 50);
        assert_eq!(p.next_offset, Some(50));
        assert_eq!(PageInfo::new(120, 100, 50).next_offset, None);
        assert_eq!(PageInfo::new(100, 50, 50).next_offset, None);
        assert!(PageQuery {
            offset: 0,
            limit: Some(0)
        }
        .limit()
        .is_err());
        assert!(PageQuery {
            offset: 0,
            limit: Some(501)
        }
        .limit()
        .is_err());
        assert_eq!(PageQuery::default().limit().unwrap(), 50);
    }

    #[test]
    fn items_show_stored_and_live_rows() {
        use crate::format::meta::tests::collection;
        let counted = collection(1, &[1000, 2000], Some(2700));
        let item = CollectionItem::from(&counted);
        assert_eq!((item.stored_rows, item.live_rows), (3000, Some(2700)));
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["stored_rows"], 3000);
        assert_eq!(json["live_rows"], 2700);

        let uncounted = collection(2, &[1000, 2000], None);
        let json = serde_json::to_value(CollectionItem::from(&uncounted)).unwrap();
        assert_eq!(json["stored_rows"], 3000);
        assert!(json["live_rows"].is_null(), "not counted: null, not absent");
        assert!(json.as_object().unwrap().contains_key("live_rows"));

        let info = BackupInfo {
            name: "b".into(),
            collection_backups: vec![counted.clone()],
            ..Default::default()
        };
        let detail = serde_json::to_value(BackupDetail::from(&info)).unwrap();
        assert_eq!(detail["backup"]["stored_rows"], 3000);
        assert_eq!(detail["backup"]["live_rows"], 2700);
        assert_eq!(detail["collections"][0]["live_rows"], 2700);

        let info = BackupInfo {
            name: "b".into(),
            collection_backups: vec![counted, uncounted],
            ..Default::default()
        };
        let backup = serde_json::to_value(BackupItem::from(BackupSummary::from(&info))).unwrap();
        assert_eq!(backup["stored_rows"], 6000);
        assert!(backup["live_rows"].is_null());
    }
}

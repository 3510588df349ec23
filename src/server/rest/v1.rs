//! milvus-backup's REST API (`/api/v1`), same paths, methods and JSON, so that scripts written
//! for milvus-backup keep working against milvault.
//!
//! Responses are the JSON that milvus-backup's Go server writes: protobuf messages through Go's
//! `encoding/json`, so field names are the proto's json names (`requestId`, `backup_name`,
//! `state_code`...), enums are numbers and zero values are left out (`omitempty`). Differences,
//! on purpose: bad input is answered with a 4xx status (milvus-backup says 200 with an error
//! code in the body; the body's `code` is the same here), and options milvault does not
//! implement are refused with code 1 (`Not_Support`) instead of being ignored.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{rejection::JsonRejection, Extension, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::{Caller, Gate},
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    engine::names::{QualifiedName, Selection},
    error::{Error, ErrorKind},
    format::{BackupInfo, CollectionBackupInfo},
    jobs::registry::JobRegistry,
    progress::{JobKind, JobSnapshot, JobState},
};

use super::error::rejection_error;

/// milvus-backup's ResponseCode.
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const NOT_SUPPORT: i32 = 1;
    pub const FAIL: i32 = 3;
    pub const PARAMETER_ERROR: i32 = 400;
    pub const NOT_FOUND: i32 = 404;
}

/// milvus-backup's BackupTaskStateCode / RestoreTaskStateCode.
pub mod state {
    pub const EXECUTING: i32 = 1;
    pub const SUCCESS: i32 = 2;
    pub const FAIL: i32 = 3;
}

/// What the v1 handlers share.
#[derive(Clone)]
pub struct V1State {
    registry: Arc<JobRegistry>,
    /// Ids clients chose (`id` of a restore, `request_id` of an async create) to milvault job ids.
    aliases: Arc<Mutex<Aliases>>,
}

/// How many client-chosen ids are kept at most, over all callers.
pub const MAX_ALIASES: usize = 10_000;
/// How many client-chosen ids one caller keeps at most (its oldest go first).
pub const MAX_ALIASES_PER_CALLER: usize = 1_000;
/// How long a client-chosen id keeps naming its job.
pub const ALIAS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest id a client may choose.
pub const MAX_ALIAS_LEN: usize = 128;

/// Ids that clients chose for their jobs (milvus-backup's restore `id`, an async create's
/// `request_id`). Each belongs to the caller who chose it: another caller's look-up never sees
/// it, and a real job id always wins over it. Bounded: at most [`MAX_ALIASES`] (and
/// [`MAX_ALIASES_PER_CALLER`] per caller), each forgotten after [`ALIAS_TTL`].
#[derive(Debug, Default)]
pub struct Aliases {
    /// (caller, client id) to (job id, when chosen).
    map: HashMap<(String, String), (String, Instant)>,
}

impl Aliases {
    /// Records that `owner`'s `client_id` names `job_id` (replacing what it named before).
    pub fn insert(&mut self, owner: &str, client_id: &str, job_id: &str, now: Instant) {
        self.map
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < ALIAS_TTL);
        let key = (owner.to_string(), client_id.to_string());
        if !self.map.contains_key(&key) {
            let owned = self.map.keys().filter(|(o, _)| o == owner).count();
            if owned >= MAX_ALIASES_PER_CALLER {
                self.drop_oldest(Some(owner));
            }
            if self.map.len() >= MAX_ALIASES {
                self.drop_oldest(None);
            }
        }
        self.map.insert(key, (job_id.to_string(), now));
    }

    /// The job `owner`'s `client_id` names, if it is still kept.
    pub fn get(&self, owner: &str, client_id: &str, now: Instant) -> Option<&str> {
        self.map
            .get(&(owner.to_string(), client_id.to_string()))
            .filter(|(_, at)| now.saturating_duration_since(*at) < ALIAS_TTL)
            .map(|(job, _)| job.as_str())
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn drop_oldest(&mut self, owner: Option<&str>) {
        let oldest = self
            .map
            .iter()
            .filter(|((o, _), _)| owner.is_none_or(|w| w == o))
            .min_by_key(|(_, (_, at))| *at)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.map.remove(&k);
        }
    }
}

/// The `/api/v1` routes.
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    let state = V1State {
        registry,
        aliases: Arc::new(Mutex::new(Aliases::default())),
    };
    Router::new()
        .route("/api/v1/hello", get(hello))
        .route("/api/v1/create", post(create))
        .route("/api/v1/list", get(list))
        .route("/api/v1/get_backup", get(get_backup))
        .route("/api/v1/delete", delete(delete_backup))
        .route("/api/v1/restore", post(restore))
        .route("/api/v1/get_restore", get(get_restore))
        .route("/api/v1/check", get(check))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// milvus-backup's CreateBackupRequest.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBackupRequestV1 {
    /// Ignored in the body (the `request_id` header sets it), accepted for compatibility.
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// Backup name; generated from the time when empty.
    pub backup_name: String,
    /// Collections as `name` or `db.name`; empty: all.
    pub collection_names: Vec<String>,
    /// Answer at once and run in the background (poll `/get_backup`).
    #[serde(rename = "async")]
    pub is_async: bool,
    /// `{"db1":["c1"],"db2":[]}` (an empty list: the whole database), as an object or a JSON string.
    #[schema(value_type = Object)]
    pub db_collections: Option<Value>,
    /// Deprecated: skip the flush (`strategy: skip_flush`).
    pub force: bool,
    /// Deprecated: schemas only (`strategy: meta_only`).
    pub meta_only: bool,
    /// Accepted; Milvus' GC is paused as `backup.gcPause` in the configuration says, not per request.
    pub gc_pause_enable: bool,
    pub gc_pause_seconds: i32,
    pub gc_pause_address: String,
    /// Also back up Milvus' own users, roles and grants into `rbac_meta`.
    pub rbac: bool,
    /// Not supported unless empty: backups go to the configured backup root.
    pub backup_root_path: String,
    /// `{"db":{"colls":["c1"]}}`: like `db_collections`.
    #[schema(value_type = Object)]
    pub filter: Option<BTreeMap<String, CollFilter>>,
    /// `auto`, `meta_only`, `skip_flush`, `bulk_flush` or `serial_flush`.
    pub strategy: String,
    pub with_index_extra: bool,
    /// `auto` or `binlog` (`snapshot` is not supported).
    pub format: String,
}

/// A database's collections in a filter; empty: all of them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CollFilter {
    pub colls: Vec<String>,
}

/// milvus-backup's RestoreBackupRequest.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreBackupRequestV1 {
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// The backup to restore.
    pub backup_name: String,
    /// Collections as `name` or `db.name`; empty: all.
    pub collection_names: Vec<String>,
    /// Appended to each restored collection's name.
    pub collection_suffix: String,
    /// `{"a":"b"}`, `{"db1.a":"db2.b"}` or `{"db1.*":"db2.*"}`; wins over the suffix.
    pub collection_renames: BTreeMap<String, String>,
    #[serde(rename = "async")]
    pub is_async: bool,
    /// Not supported unless empty.
    pub bucket_name: String,
    /// Not supported unless empty.
    pub path: String,
    /// `{"db1":["c1"],"db2":[]}`, as an object or a JSON string.
    #[schema(value_type = Object)]
    pub db_collections: Option<Value>,
    #[serde(rename = "metaOnly")]
    pub meta_only: bool,
    #[serde(rename = "restoreIndex")]
    pub restore_index: bool,
    #[serde(rename = "useAutoIndex")]
    pub use_auto_index: bool,
    /// Drop a target collection that exists (without it, an existing target is an error).
    #[serde(rename = "dropExistCollection")]
    pub drop_exist_collection: bool,
    #[serde(rename = "dropExistIndex")]
    pub drop_exist_index: bool,
    #[serde(rename = "skipCreateCollection")]
    pub skip_create_collection: bool,
    /// A task id of your choosing, for `/get_restore?id=`.
    pub id: String,
    #[serde(rename = "skipImportDiskQuotaCheck")]
    pub skip_import_disk_quota_check: bool,
    /// Also restore the backup's users, roles and grants: only what Milvus lacks is created.
    pub rbac: bool,
    #[serde(rename = "maxShardNum")]
    pub max_shard_num: i32,
    #[serde(rename = "skipParams")]
    #[schema(value_type = Object)]
    pub skip_params: Option<Value>,
    /// Merge segments into import jobs of several file groups on Milvus 2.4+ (sent to its REST
    /// import API; `restore.maxSegmentsPerImportJob` per job). No effect on Milvus 2.3.
    #[serde(rename = "useV2Restore")]
    pub use_v2_restore: bool,
    #[serde(rename = "truncateBinlogByTs")]
    pub truncate_binlog_by_ts: bool,
    #[schema(value_type = Object)]
    pub db_collections_after_rename: Option<Value>,
    #[serde(rename = "restorePlan")]
    #[schema(value_type = Object)]
    pub restore_plan: Option<Value>,
    #[serde(rename = "ezkMapping")]
    pub ezk_mapping: BTreeMap<String, String>,
}

/// `?backup_name=` of get_backup and delete.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct BackupQuery {
    pub backup_name: String,
    /// get_backup only: the id `/create` answered (a job id).
    pub backup_id: String,
    /// get_backup only: not supported unless empty.
    pub path: String,
}

/// `?id=` of get_restore.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct RestoreQuery {
    pub id: String,
}

/// `?collection_name=` of list (deprecated in milvus-backup: refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct ListQuery {
    pub collection_name: String,
}

// ---------------------------------------------------------------------------------------------
// Responses

/// milvus-backup's BackupInfoResponse.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BackupInfoResponseV1 {
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// 0 success (left out), 1 not supported, 3 failed, 400 bad parameter, 404 not found.
    pub code: i32,
    pub msg: String,
    pub data: Option<BackupInfoBriefV1>,
}

/// milvus-backup's BackupInfoBrief.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BackupInfoBriefV1 {
    pub id: String,
    /// 0 pending, 1 executing, 2 success, 3 failed.
    pub state_code: i32,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    /// Unix seconds.
    pub start_time: i64,
    pub end_time: i64,
    /// Percent.
    pub progress: i32,
    pub name: String,
    pub backup_timestamp: u64,
    pub collection_backups: Vec<CollectionBackupInfoBriefV1>,
    pub size: i64,
    pub milvus_version: String,
    #[schema(value_type = Vec<Object>)]
    pub database_backups: Value,
    /// Bytes of the metadata files.
    pub meta_size: i64,
    pub format: String,
}

/// milvus-backup's CollectionBackupInfoBrief.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CollectionBackupInfoBriefV1 {
    pub id: String,
    pub collection_id: i64,
    pub db_name: String,
    pub collection_name: String,
    #[schema(value_type = Object)]
    pub schema: Value,
    pub shards_num: i32,
    pub backup_timestamp: u64,
    pub size: i64,
    pub has_index: bool,
    #[schema(value_type = Vec<Object>)]
    pub index_infos: Value,
    pub load_state: String,
    pub backup_physical_timestamp: u64,
    #[schema(value_type = Vec<Object>)]
    pub properties: Value,
}

/// milvus-backup's ListBackupsResponse.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ListBackupsResponseV1 {
    #[serde(rename = "requestId")]
    pub request_id: String,
    pub code: i32,
    pub msg: String,
    pub data: Vec<BackupSummaryV1>,
}

/// milvus-backup's BackupSummary.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BackupSummaryV1 {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub milvus_version: String,
}

/// milvus-backup's DeleteBackupResponse (also the shape of every error without data).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DeleteBackupResponseV1 {
    #[serde(rename = "requestId")]
    pub request_id: String,
    pub code: i32,
    pub msg: String,
}

/// milvus-backup's RestoreBackupResponse.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RestoreBackupResponseV1 {
    #[serde(rename = "requestId")]
    pub request_id: String,
    pub code: i32,
    pub msg: String,
    pub data: Option<RestoreBackupTaskResponseV1>,
}

/// milvus-backup's RestoreBackupTaskResponse.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RestoreBackupTaskResponseV1 {
    pub id: String,
    /// 0 initial, 1 executing, 2 success, 3 failed.
    pub state_code: i32,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    pub start_time: i64,
    pub end_time: i64,
    pub progress: i32,
    pub collection_restore_tasks: Vec<RestoreCollectionTaskResponseV1>,
}

/// milvus-backup's RestoreCollectionTaskResponse.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RestoreCollectionTaskResponseV1 {
    pub id: String,
    pub state_code: i32,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    pub start_time: i64,
    pub end_time: i64,
    pub progress: i32,
    pub target_db_name: String,
    pub target_collection_name: String,
}

/// Serializes like Go's `encoding/json` with `omitempty`: zero values are left out.
fn reply<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut v = serde_json::to_value(body).unwrap_or(Value::Null);
    omit_empty(&mut v);
    (status, Json(v)).into_response()
}

/// The members milvus-backup's generator strips `omitempty` from (scripts/gen_proto.sh, so
/// backup.pb.go tags them without it): Go always sends them, zero or not.
pub const ALWAYS_SENT: [&str; 7] = [
    "data",
    "has_index",
    "log_size",
    "meta_size",
    "progress",
    "size",
    "state_code",
];

/// Removes null, false, 0, "", [] and {} members from every object, recursively, except the
/// [`ALWAYS_SENT`] ones.
pub fn omit_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                omit_empty(child);
            }
            map.retain(|key, child| ALWAYS_SENT.contains(&key.as_str()) || !is_empty(child));
        }
        Value::Array(items) => items.iter_mut().for_each(omit_empty),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A failure in milvus-backup's envelope: `{requestId, code, msg}`.
struct Failure {
    status: StatusCode,
    code: i32,
    msg: String,
}

impl Failure {
    fn parameter(msg: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: code::PARAMETER_ERROR,
            msg: msg.into(),
        }
    }

    fn not_supported(msg: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: code::NOT_SUPPORT,
            msg: msg.into(),
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        reply(
            self.status,
            &DeleteBackupResponseV1 {
                request_id: request_id.to_string(),
                code: self.code,
                msg: self.msg,
            },
        )
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        Failure {
            status: super::error::status_of(kind),
            code: match kind {
                ErrorKind::InvalidInput => code::PARAMETER_ERROR,
                ErrorKind::NotFound => code::NOT_FOUND,
                _ => code::FAIL,
            },
            msg: e.to_string(),
        }
    }
}

impl From<JsonRejection> for Failure {
    fn from(r: JsonRejection) -> Self {
        let e = rejection_error(&r);
        Failure {
            status: e.status,
            code: code::PARAMETER_ERROR,
            msg: e.message,
        }
    }
}

/// The `request_id` header milvus-backup reads, or a new id.
fn request_id(headers: &HeaderMap) -> String {
    ["request_id", "requestid"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .filter(|s| !s.is_empty())
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Says the service is up (milvus-backup's `/hello`).
#[utoipa::path(get, path = "/api/v1/hello", tag = "v1",
    responses((status = 200, description = "The service is up", body = String)))]
pub async fn hello() -> &'static str {
    "Hello, This is backup service"
}

/// Makes a backup (milvus-backup's `/create`); with `async` answers at once.
#[utoipa::path(post, path = "/api/v1/create", tag = "v1", request_body = CreateBackupRequestV1,
    params(("request_id" = Option<String>, Header, description = "Request id echoed as requestId")),
    responses(
        (status = 200, description = "Done (sync) or started (async)", body = BackupInfoResponseV1),
        (status = 400, description = "Bad body, name or option", body = DeleteBackupResponseV1),
        (status = 409, description = "A backup of that name exists or is being made", body = DeleteBackupResponseV1)))]
pub async fn create(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Json<CreateBackupRequestV1>, JsonRejection>,
) -> Response {
    let rid = request_id(&headers);
    let gate = Gate::new(&st.registry, caller);
    match create_inner(&st, &gate, &rid, body).await {
        Ok(r) => r,
        Err(f) => f.into_response(&rid),
    }
}

async fn create_inner(
    st: &V1State,
    gate: &Gate,
    rid: &str,
    body: Result<Json<CreateBackupRequestV1>, JsonRejection>,
) -> Result<Response, Failure> {
    let Json(body) = body?;
    let req = create_request(gate, &body).await?;
    if body.gc_pause_enable {
        tracing::info!(
            "gc_pause_* of the request are not used: the configured backup.gcPause applies"
        );
    }
    let job = gate.start_backup(req).await?;
    if body.is_async {
        alias(st, gate, rid, &job.id);
        return Ok(reply(
            StatusCode::OK,
            &BackupInfoResponseV1 {
                request_id: rid.to_string(),
                code: code::SUCCESS,
                msg: "create backup is executing asynchronously".into(),
                data: Some(backup_brief_of_job(&job)),
            },
        ));
    }
    let end = wait(st, &job).await;
    if end.state != JobState::Succeeded {
        return Err(Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: code::FAIL,
            msg: end.error.unwrap_or_else(|| "the backup failed".into()),
        });
    }
    let info = gate.get_backup(&end.backup_name).await?;
    let mut brief = backup_brief(gate, &info).await;
    apply_job(&mut brief, &end);
    Ok(reply(
        StatusCode::OK,
        &BackupInfoResponseV1 {
            request_id: rid.to_string(),
            code: code::SUCCESS,
            msg: "success".into(),
            data: Some(brief),
        },
    ))
}

/// The engine's request for a v1 create body; refuses what milvault does not do.
async fn create_request(
    gate: &Gate,
    body: &CreateBackupRequestV1,
) -> Result<CreateBackupRequest, Failure> {
    if !body.backup_root_path.is_empty() {
        return Err(Failure::not_supported(
            "backup_root_path is not supported: backups go to the configured minio.backupRootPath; leave it out",
        ));
    }
    match body.format.as_str() {
        "" | "auto" | "binlog" => {}
        "snapshot" => return Err(Failure::not_supported(
            "format=snapshot is not supported: milvault writes the binlog format; leave format out",
        )),
        other => {
            return Err(Failure::parameter(format!(
                "unknown format '{other}': use auto or binlog"
            )))
        }
    }
    let (mut meta_only, mut skip_flush) = (body.meta_only, body.force);
    match body.strategy.as_str() {
        "" | "auto" | "bulk_flush" | "serial_flush" => {}
        "meta_only" => meta_only = true,
        "skip_flush" => skip_flush = true,
        other => {
            return Err(Failure::parameter(format!(
                "unknown strategy '{other}': use auto, meta_only, skip_flush, bulk_flush or serial_flush"
            )))
        }
    }
    let selection = match &body.filter {
        Some(f) if !f.is_empty() => Some(
            f.iter()
                .map(|(db, c)| (db.clone(), c.colls.clone()))
                .collect(),
        ),
        _ => db_collections(body.db_collections.as_ref())?,
    };
    let (collections, databases) = match selection {
        Some(sel) => gate.backup_fields(&Selection::from_map(&sel)).await?,
        None => (body.collection_names.clone(), Vec::new()),
    };
    Ok(CreateBackupRequest {
        name: body.backup_name.clone(),
        collections,
        databases,
        filter: String::new(),
        meta_only,
        skip_flush,
        policy: None,
        logical: false,
        incremental: false,
        resume: false,
        rbac: body.rbac,
    })
}

/// Parses `db_collections` (an object, or a JSON string of one): database to collections.
fn db_collections(v: Option<&Value>) -> Result<Option<BTreeMap<String, Vec<String>>>, Failure> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map_err(|e| Failure::parameter(format!("db_collections is not JSON: {e}")))?,
        Some(v) => v.clone(),
    };
    let map: BTreeMap<String, Vec<String>> = serde_json::from_value(v).map_err(|e| {
        Failure::parameter(format!(
            "db_collections must look like {{\"db1\":[\"c1\"],\"db2\":[]}}: {e}"
        ))
    })?;
    Ok(if map.is_empty() { None } else { Some(map) })
}

/// milvus-backup's `db_collections_after_rename` (`{"db1":["c1"],"db2":[]}`: the restored
/// collections to keep, by their new names; an empty list keeps a whole database) as a filter.
fn after_rename_filter(v: Option<&Value>) -> Result<String, Failure> {
    let map = db_collections(v).map_err(|_| {
        Failure::parameter(
            "db_collections_after_rename must look like {\"db1\":[\"c1\"],\"db2\":[]} (the new names)",
        )
    })?;
    let mut rules = Vec::new();
    for (db, colls) in map.unwrap_or_default() {
        if colls.is_empty() {
            rules.push(format!("{db}.*"));
        }
        rules.extend(colls.iter().map(|c| format!("{db}.{c}")));
    }
    Ok(rules.join(","))
}

/// Whether `id` is the id of a job that exists (whoever may see it).
fn is_job_id(st: &V1State, id: &str) -> Result<bool, Failure> {
    Ok(st.registry.get(id)?.is_some())
}

/// Lets `gate`'s caller name `job_id` by `client_id` from now on. An id that is a real job's
/// id, or too long, is not recorded (the real job keeps it).
fn alias(st: &V1State, gate: &Gate, client_id: &str, job_id: &str) {
    if client_id == job_id || client_id.len() > MAX_ALIAS_LEN {
        return;
    }
    match is_job_id(st, client_id) {
        Ok(false) => {}
        Ok(true) | Err(_) => return,
    }
    if let Ok(mut m) = st.aliases.lock() {
        m.insert(&gate.who().user, client_id, job_id, Instant::now());
    }
}

/// A client-chosen restore `id`, checked before the restore starts: not too long and not
/// the id of an existing job (which it would otherwise stand for).
fn check_client_id(st: &V1State, id: &str) -> Result<(), Failure> {
    if id.len() > MAX_ALIAS_LEN {
        return Err(Failure::parameter(format!(
            "id is longer than {MAX_ALIAS_LEN} characters"
        )));
    }
    if is_job_id(st, id)? {
        return Err(Failure::parameter(format!(
            "id '{id}' is the id of an existing job; choose another id or leave it out"
        )));
    }
    Ok(())
}

/// The job `id` names for `gate`'s caller: a job of that id it may see, else the job the caller
/// itself named `id`.
fn find_job(st: &V1State, gate: &Gate, id: &str) -> Result<Option<JobSnapshot>, Failure> {
    if let Some(job) = gate.job(id)? {
        return Ok(Some(job));
    }
    let real = st.aliases.lock().ok().and_then(|m| {
        m.get(&gate.who().user, id, Instant::now())
            .map(String::from)
    });
    match real {
        Some(real) => Ok(gate.job(&real)?),
        None => Ok(None),
    }
}

/// Waits for a job to end (it is live, or already recorded as ended).
async fn wait(st: &V1State, job: &JobSnapshot) -> JobSnapshot {
    st.registry
        .wait_ended(&job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| job.clone())
}

fn v1_state(s: JobState) -> i32 {
    match s {
        JobState::Running => state::EXECUTING,
        JobState::Succeeded => state::SUCCESS,
        JobState::Failed | JobState::Cancelled => state::FAIL,
    }
}

fn apply_job(brief: &mut BackupInfoBriefV1, job: &JobSnapshot) {
    brief.state_code = v1_state(job.state);
    brief.error_message = job.error.clone().unwrap_or_default();
    brief.start_time = job.started_at.timestamp();
    brief.end_time = job.finished_at.map(|t| t.timestamp()).unwrap_or(0);
    brief.progress = job.percent() as i32;
}

fn backup_brief_of_job(job: &JobSnapshot) -> BackupInfoBriefV1 {
    let mut b = BackupInfoBriefV1 {
        id: job.id.clone(),
        name: job.backup_name.clone(),
        ..Default::default()
    };
    apply_job(&mut b, job);
    b
}

/// A complete backup as milvus-backup's brief.
async fn backup_brief(gate: &Gate, info: &BackupInfo) -> BackupInfoBriefV1 {
    let meta_size = gate.backup_meta_size(info).await;
    let (start, end) = info
        .milvault
        .as_ref()
        .map(|m| (m.start_time_ms / 1000, m.end_time_ms / 1000))
        .unwrap_or((0, 0));
    BackupInfoBriefV1 {
        id: info.id.clone(),
        state_code: state::SUCCESS,
        error_message: String::new(),
        start_time: start,
        end_time: end,
        progress: 100,
        name: info.name.clone(),
        backup_timestamp: info.backup_timestamp,
        collection_backups: info
            .collection_backups
            .iter()
            .map(collection_brief)
            .collect(),
        size: info.size,
        milvus_version: info.milvus_version.clone(),
        database_backups: serde_json::to_value(&info.database_backups).unwrap_or(Value::Null),
        meta_size,
        format: info.format.clone(),
    }
}

fn collection_brief(c: &CollectionBackupInfo) -> CollectionBackupInfoBriefV1 {
    CollectionBackupInfoBriefV1 {
        id: c.id.clone(),
        collection_id: c.collection_id,
        db_name: c.db_name.clone(),
        collection_name: c.collection_name.clone(),
        schema: serde_json::to_value(&c.schema).unwrap_or(Value::Null),
        shards_num: c.shards_num,
        backup_timestamp: c.backup_timestamp,
        size: c.size,
        has_index: c.has_index,
        index_infos: serde_json::to_value(&c.index_infos).unwrap_or(Value::Null),
        load_state: c.load_state.clone(),
        backup_physical_timestamp: c.backup_physical_timestamp,
        properties: serde_json::to_value(&c.properties).unwrap_or(Value::Null),
    }
}

/// Lists complete backups (milvus-backup's `/list`).
#[utoipa::path(get, path = "/api/v1/list", tag = "v1", params(ListQuery),
    responses((status = 200, body = ListBackupsResponseV1),
        (status = 400, description = "collection_name given (deprecated)", body = DeleteBackupResponseV1)))]
pub async fn list(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let rid = request_id(&headers);
    if !q.collection_name.is_empty() {
        return Failure::parameter("collection_name is deprecated").into_response(&rid);
    }
    match Gate::new(&st.registry, caller).list_backups().await {
        Ok(backups) => reply(
            StatusCode::OK,
            &ListBackupsResponseV1 {
                request_id: rid,
                code: code::SUCCESS,
                msg: "success".into(),
                data: backups
                    .into_iter()
                    .map(|b| BackupSummaryV1 {
                        id: b.id,
                        name: b.name,
                        size: b.size,
                        milvus_version: b.milvus_version,
                    })
                    .collect(),
            },
        ),
        Err(e) => Failure::from(e).into_response(&rid),
    }
}

/// One backup by name or by the id `/create` answered (milvus-backup's `/get_backup`): a backup
/// being made is `state_code` 1 with its progress, a failed one 3 with `errorMessage`.
#[utoipa::path(get, path = "/api/v1/get_backup", tag = "v1", params(BackupQuery),
    responses((status = 200, body = BackupInfoResponseV1),
        (status = 400, description = "Neither name nor id", body = DeleteBackupResponseV1),
        (status = 404, description = "No such backup", body = DeleteBackupResponseV1)))]
pub async fn get_backup(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<BackupQuery>,
) -> Response {
    let rid = request_id(&headers);
    let gate = Gate::new(&st.registry, caller);
    match get_backup_inner(&st, &gate, &q).await {
        Ok(brief) => reply(
            StatusCode::OK,
            &BackupInfoResponseV1 {
                request_id: rid,
                code: code::SUCCESS,
                msg: "success".into(),
                data: Some(brief),
            },
        ),
        // Go answers the same message with its data left nil: `"data": null`
        Err(f) => reply(
            f.status,
            &BackupInfoResponseV1 {
                request_id: rid,
                code: f.code,
                msg: f.msg,
                data: None,
            },
        ),
    }
}

async fn get_backup_inner(
    st: &V1State,
    gate: &Gate,
    q: &BackupQuery,
) -> Result<BackupInfoBriefV1, Failure> {
    if !q.path.is_empty() {
        return Err(Failure::not_supported(
            "path is not supported: backups are read from the configured backup root; leave it out",
        ));
    }
    let job = if !q.backup_id.is_empty() {
        match find_job(st, gate, &q.backup_id)? {
            Some(j) if j.kind == JobKind::Backup => Some(j),
            _ => None,
        }
    } else if !q.backup_name.is_empty() {
        latest_job(gate, JobKind::Backup, &q.backup_name)?
    } else {
        return Err(Failure::parameter(
            "empty backup name and backup id, please set a backup name or id",
        ));
    };
    let name = job
        .as_ref()
        .map(|j| j.backup_name.clone())
        .unwrap_or_else(|| q.backup_name.clone());
    if let Some(j) = &job {
        if j.state == JobState::Running {
            return Ok(backup_brief_of_job(j));
        }
    }
    match gate.get_backup(&name).await {
        Ok(info) => {
            let mut brief = backup_brief(gate, &info).await;
            if let Some(j) = job.as_ref().filter(|j| j.state == JobState::Succeeded) {
                apply_job(&mut brief, j);
            }
            Ok(brief)
        }
        Err(Error::BackupNotFound(n)) => match job {
            // a backup whose job failed: say how it ended (a succeeded one was deleted since)
            Some(j) if j.state == JobState::Failed => Ok(backup_brief_of_job(&j)),
            None if !q.backup_id.is_empty() => Err(Failure {
                status: StatusCode::NOT_FOUND,
                code: code::NOT_FOUND,
                msg: format!("no backup job with id '{}'", q.backup_id),
            }),
            _ => Err(Error::BackupNotFound(n).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// The newest job of `kind` for backup `name` among the recent ones.
fn latest_job(gate: &Gate, kind: JobKind, name: &str) -> Result<Option<JobSnapshot>, Failure> {
    Ok(gate
        .jobs_page(0, 500)?
        .0
        .into_iter()
        .find(|j| j.kind == kind && j.backup_name == name))
}

/// Deletes a backup (milvus-backup's `/delete`).
#[utoipa::path(delete, path = "/api/v1/delete", tag = "v1", params(BackupQuery),
    responses((status = 200, body = DeleteBackupResponseV1),
        (status = 400, description = "No name", body = DeleteBackupResponseV1),
        (status = 404, description = "No such backup", body = DeleteBackupResponseV1)))]
pub async fn delete_backup(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<BackupQuery>,
) -> Response {
    let rid = request_id(&headers);
    if q.backup_name.is_empty() {
        return Failure::parameter("backup name is required").into_response(&rid);
    }
    match Gate::new(&st.registry, caller)
        .delete_backup_report(&q.backup_name)
        .await
    {
        Ok(d) => reply(
            StatusCode::OK,
            &DeleteBackupResponseV1 {
                request_id: rid,
                code: code::SUCCESS,
                msg: match d.incomplete {
                    None => "success".into(),
                    Some(_) => format!("success: {}", d.describe()),
                },
            },
        ),
        Err(e) => Failure::from(e).into_response(&rid),
    }
}

/// Restores from a backup (milvus-backup's `/restore`). The request is checked before anything
/// starts (backup, collections, existing targets); with `async` it answers at once.
#[utoipa::path(post, path = "/api/v1/restore", tag = "v1", request_body = RestoreBackupRequestV1,
    params(("request_id" = Option<String>, Header, description = "Request id echoed as requestId")),
    responses((status = 200, description = "Done (sync) or started (async)", body = RestoreBackupResponseV1),
        (status = 400, description = "Bad body or option", body = DeleteBackupResponseV1),
        (status = 404, description = "No such backup or collection", body = DeleteBackupResponseV1),
        (status = 409, description = "A target collection exists", body = DeleteBackupResponseV1)))]
pub async fn restore(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Json<RestoreBackupRequestV1>, JsonRejection>,
) -> Response {
    let rid = request_id(&headers);
    let gate = Gate::new(&st.registry, caller);
    match restore_inner(&st, &gate, &rid, body).await {
        Ok(r) => r,
        Err(f) => f.into_response(&rid),
    }
}

async fn restore_inner(
    st: &V1State,
    gate: &Gate,
    rid: &str,
    body: Result<Json<RestoreBackupRequestV1>, JsonRejection>,
) -> Result<Response, Failure> {
    let Json(body) = body?;
    if !body.id.is_empty() {
        check_client_id(st, &body.id)?;
    }
    let req = restore_request(gate, &body).await?;
    let job = gate.start_restore(req).await?;
    if !body.id.is_empty() {
        alias(st, gate, &body.id, &job.id);
    }
    if body.is_async {
        return Ok(reply(
            StatusCode::OK,
            &RestoreBackupResponseV1 {
                request_id: rid.to_string(),
                code: code::SUCCESS,
                msg: "restore backup is executing asynchronously".into(),
                data: Some(restore_task(&job)),
            },
        ));
    }
    let end = wait(st, &job).await;
    let ok = end.state == JobState::Succeeded;
    Ok(reply(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        },
        &RestoreBackupResponseV1 {
            request_id: rid.to_string(),
            code: if ok { code::SUCCESS } else { code::FAIL },
            msg: if ok {
                "success".into()
            } else {
                end.error
                    .clone()
                    .unwrap_or_else(|| "the restore failed".into())
            },
            data: Some(restore_task(&end)),
        },
    ))
}

/// The engine's request for a v1 restore body; refuses what milvault does not do.
async fn restore_request(
    gate: &Gate,
    body: &RestoreBackupRequestV1,
) -> Result<RestoreRequest, Failure> {
    if body.backup_name.is_empty() {
        return Err(Failure::parameter(
            "backup_name is required: the backup to restore from (see /api/v1/list)",
        ));
    }
    let unsupported: [(bool, &str); 9] = [
        (
            !body.bucket_name.is_empty() || !body.path.is_empty(),
            "bucket_name/path (backups are read from the configured backup storage)",
        ),
        (body.use_auto_index, "useAutoIndex"),
        (body.drop_exist_index, "dropExistIndex"),
        (
            body.skip_create_collection,
            "skipCreateCollection (milvault always creates the target collection)",
        ),
        (body.max_shard_num > 0, "maxShardNum"),
        (is_set(&body.skip_params), "skipParams"),
        (body.truncate_binlog_by_ts, "truncateBinlogByTs"),
        (
            is_set(&body.restore_plan),
            "restorePlan (use collection_renames)",
        ),
        (!body.ezk_mapping.is_empty(), "ezkMapping"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(Failure::not_supported(format!(
            "milvault does not support {what}; leave it out"
        )));
    }
    let (collections, databases) = match db_collections(body.db_collections.as_ref())? {
        Some(sel) => {
            let info = gate.get_backup(&body.backup_name).await?;
            gate.restore_fields(&Selection::from_map(&sel), &info)
        }
        None => (body.collection_names.clone(), Vec::new()),
    };
    Ok(RestoreRequest {
        name: body.backup_name.clone(),
        collections,
        databases,
        suffix: body.collection_suffix.clone(),
        renames: body
            .collection_renames
            .iter()
            .map(|(from, to)| format!("{from}:{to}"))
            .collect(),
        filter: after_rename_filter(body.db_collections_after_rename.as_ref())?,
        drop_existing: body.drop_exist_collection,
        meta_only: body.meta_only,
        restore_index: body.restore_index,
        load: false,
        force: false,
        rbac: body.rbac,
        // merged import jobs on Milvus 2.4+ (no effect on 2.3), as milvus-backup's flag
        use_v2_restore: body.use_v2_restore,
        ..Default::default()
    })
}

fn is_set(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(v) => !is_empty(v),
    }
}

fn restore_task(job: &JobSnapshot) -> RestoreBackupTaskResponseV1 {
    let state_code = v1_state(job.state);
    let (start, end) = (
        job.started_at.timestamp(),
        job.finished_at.map(|t| t.timestamp()).unwrap_or(0),
    );
    let progress = job.percent() as i32;
    let error = job.error.clone().unwrap_or_default();
    RestoreBackupTaskResponseV1 {
        id: job.id.clone(),
        state_code,
        error_message: error.clone(),
        start_time: start,
        end_time: end,
        progress,
        collection_restore_tasks: job
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let target = t.split_once("=>").map(|(_, to)| to).unwrap_or(t);
                let q = QualifiedName::read(target);
                RestoreCollectionTaskResponseV1 {
                    id: format!("{}-{i}", job.id),
                    state_code,
                    error_message: error.clone(),
                    start_time: start,
                    end_time: end,
                    progress,
                    target_db_name: q.db,
                    target_collection_name: q.collection,
                }
            })
            .collect(),
    }
}

/// A restore's state (milvus-backup's `/get_restore`), by the id `/restore` answered or the `id`
/// the request gave.
#[utoipa::path(get, path = "/api/v1/get_restore", tag = "v1", params(RestoreQuery),
    responses((status = 200, body = RestoreBackupResponseV1),
        (status = 400, description = "No id", body = DeleteBackupResponseV1),
        (status = 404, description = "No such restore", body = DeleteBackupResponseV1)))]
pub async fn get_restore(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<RestoreQuery>,
) -> Response {
    let rid = request_id(&headers);
    if q.id.is_empty() {
        return Failure::parameter("empty restore id").into_response(&rid);
    }
    let gate = Gate::new(&st.registry, caller);
    match find_job(&st, &gate, &q.id) {
        Ok(Some(job)) if job.kind == JobKind::Restore => reply(
            StatusCode::OK,
            &RestoreBackupResponseV1 {
                request_id: rid,
                code: code::SUCCESS,
                msg: "success".into(),
                data: Some(restore_task(&job)),
            },
        ),
        Ok(_) => Failure {
            status: StatusCode::NOT_FOUND,
            code: code::NOT_FOUND,
            msg: format!("restore id '{}' not exist in task manager", q.id),
        }
        .into_response(&rid),
        Err(f) => f.into_response(&rid),
    }
}

/// Checks Milvus and both storages (milvus-backup's `/check`); the databases it names (with
/// their collection counts) are only those the caller may see.
#[utoipa::path(get, path = "/api/v1/check", tag = "v1",
    responses((status = 200, body = DeleteBackupResponseV1)))]
pub async fn check(
    State(st): State<V1State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    let rid = request_id(&headers);
    // a scoped caller learns nothing about the databases outside its own
    let report = Gate::new(&st.registry, caller).check().await;
    let ok = report.items.iter().all(|i| i.ok);
    let msg = report
        .items
        .iter()
        .map(|i| {
            format!(
                "{} {}: {}",
                if i.ok { "ok" } else { "FAILED" },
                i.what,
                i.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    reply(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &DeleteBackupResponseV1 {
            request_id: rid,
            code: if ok { code::SUCCESS } else { code::FAIL },
            msg,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_belong_to_their_caller_expire_and_are_capped() {
        let t0 = Instant::now();
        let mut a = Aliases::default();
        a.insert("alice", "mine", "job-a", t0);
        assert_eq!(a.get("alice", "mine", t0), Some("job-a"));
        assert_eq!(a.get("root", "mine", t0), None, "scoped to who chose it");
        assert_eq!(a.get("alice", "mine", t0 + ALIAS_TTL), None, "expired");
        // one caller cannot keep more than its share; its oldest go first
        for i in 0..MAX_ALIASES_PER_CALLER + 5 {
            a.insert(
                "mallory",
                &format!("id{i}"),
                "job-m",
                t0 + Duration::from_millis(i as u64),
            );
        }
        let later = t0 + Duration::from_secs(10);
        assert_eq!(a.get("mallory", "id0", later), None);
        assert!(a
            .get("mallory", &format!("id{MAX_ALIASES_PER_CALLER}"), later)
            .is_some());
        assert_eq!(a.get("alice", "mine", later), Some("job-a"));
        assert_eq!(a.len(), MAX_ALIASES_PER_CALLER + 1);
        // many callers together stay under the global cap
        for i in 0..MAX_ALIASES + 10 {
            a.insert(
                &format!("u{i}"),
                "x",
                "j",
                later + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(a.len(), MAX_ALIASES);
        // expired ones are forgotten on the next insert
        a.insert("late", "x", "j", later + ALIAS_TTL * 2);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn zero_values_are_left_out_like_go_omitempty() {
        let mut v = serde_json::json!({
            "requestId": "r1", "code": 0, "msg": "success",
            "data": {"id": "x", "state_code": 2, "errorMessage": "", "progress": 0,
                     "collection_backups": [{"has_index": false, "size": 5}], "database_backups": []}
        });
        omit_empty(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"requestId": "r1", "msg": "success",
                "data": {"id": "x", "state_code": 2, "progress": 0,
                         "collection_backups": [{"has_index": false, "size": 5}]}})
        );
        // what Go sends for an empty list, a starting job and a missing answer
        let mut v = serde_json::json!({"requestId": "r2", "code": 0, "msg": "success", "data": []});
        omit_empty(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"requestId": "r2", "msg": "success", "data": []})
        );
        let mut v = serde_json::json!({"code": 0, "msg": "", "data": {"state_code": 0, "progress": 0, "size": 0}});
        omit_empty(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"data": {"state_code": 0, "progress": 0, "size": 0}})
        );
        let mut v = serde_json::json!({"code": 404, "msg": "not found", "data": null});
        omit_empty(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"code": 404, "msg": "not found", "data": null})
        );
    }

    #[test]
    fn collections_after_rename_become_a_filter_on_the_new_names() {
        let v = serde_json::json!({"archive": ["a_r"], "shop": []});
        assert_eq!(
            after_rename_filter(Some(&v)).ok().unwrap(),
            "archive.a_r,shop.*"
        );
        assert_eq!(after_rename_filter(None).ok().unwrap(), "");
        assert!(after_rename_filter(Some(&serde_json::json!([1]))).is_err());
    }

    #[test]
    fn db_collections_as_object_or_string_and_selection_split() {
        let obj = serde_json::json!({"db1": ["a", "b"], "db2": []});
        let sel = db_collections(Some(&obj)).ok().flatten().unwrap();
        let s = Value::String(obj.to_string());
        assert_eq!(db_collections(Some(&s)).ok().flatten().unwrap(), sel);
        let (c, d) = Selection::from_map(&sel).request_fields(|db| vec![format!("{db}_all")]);
        assert_eq!(c, vec!["db1.a", "db1.b", "db2.db2_all"]);
        assert!(d.is_empty());
        assert!(db_collections(Some(&serde_json::json!(["x"]))).is_err());
        assert!(db_collections(Some(&Value::String("{not json".into()))).is_err());
    }

    #[test]
    fn recorded_milvus_backup_requests_parse_and_unknown_fields_do_not() {
        // from milvus-backup's docs/user_guide/api_demo.md and its tests' client
        let create: CreateBackupRequestV1 = serde_json::from_str(
            r#"{"async": true, "backup_name": "test_backup", "collection_names": ["test_collection1","test_collection2"]}"#,
        )
        .unwrap();
        assert!(create.is_async);
        assert_eq!(create.collection_names.len(), 2);
        let restore: RestoreBackupRequestV1 = serde_json::from_str(
            r#"{"async": true, "collection_names": ["test_collection1"], "collection_suffix": "_bak", "backup_name":"test_backup"}"#,
        )
        .unwrap();
        assert_eq!(restore.collection_suffix, "_bak");
        let r2: RestoreBackupRequestV1 = serde_json::from_str(
            r#"{"backup_name":"b","db_collections":{"default":["c"]},"dropExistCollection":true,"restoreIndex":true,"metaOnly":false,"useV2Restore":true,"collection_renames":{"c":"d"}}"#,
        )
        .unwrap();
        assert!(r2.drop_exist_collection && r2.restore_index);
        let bad = serde_json::from_str::<CreateBackupRequestV1>(r#"{"backup_nam": "x"}"#);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("unknown field `backup_nam`"));
    }
}

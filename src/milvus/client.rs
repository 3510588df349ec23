//! A typed client for the Milvus calls milvault needs, on the generated gRPC stubs of
//! `milvus-sdk-rust`. Every call has a time limit, sends the database in the `dbname` header and
//! the request, and fails when either status code is non-zero (2.3 fills both).
#![allow(deprecated)] // Milvus 2.3 still fills Status.error_code and schema-level autoID

use std::{future::Future, time::Duration};

use milvus::proto::{
    common::{self, KeyValuePair},
    milvus::{self as pb, milvus_service_client::MilvusServiceClient},
    schema,
};
use prost::Message;
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
    Request,
};

use crate::{
    config::MilvusConfig,
    error::{Error, Result},
    milvus::features::{Detected, Features},
};

pub(super) type Inner = MilvusServiceClient<InterceptedService<Channel, Auth>>;

/// How many times a read is sent again after it failed on the way (not on Milvus' answer).
const READ_RETRIES: u32 = 3;

/// Whether call `name` only reads (or, like Flush, may be repeated with the same outcome), so
/// that sending it again after a lost connection cannot change anything twice.
fn is_read(name: &str) -> bool {
    const READS: [&str; 8] = [
        "Describe", "Get", "Has", "List", "Show", "Select", "Query", "Flush",
    ];
    READS.iter().any(|p| name.starts_with(p))
}

/// Whether `status` says the call was lost on the way (a reset or refused connection, a broken
/// HTTP/2 stream) rather than answered by Milvus.
fn is_transient(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable => true,
        tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Cancelled => {
            let m = status.message();
            m.contains("transport error")
                || m.contains("h2 protocol error")
                || m.contains("connection")
        }
        _ => false,
    }
}

/// How often an import that Milvus says does not exist (yet) is asked for.
pub(super) const IMPORT_APPEAR_TRIES: u32 = 10;
/// How long between those asks.
pub(super) const IMPORT_APPEAR_WAIT: Duration = Duration::from_secs(1);

/// Whether Milvus' refusal says the import job is not (yet) known.
pub(super) fn job_not_there_yet(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    (r.contains("job") || r.contains("task"))
        && (r.contains("does not exist") || r.contains("not found") || r.contains("not exist"))
}

/// A request message and the database it is for; built into a fresh [`Request`] for each send.
#[derive(Clone)]
pub(super) struct Addressed<T> {
    db: Option<MetadataValue<Ascii>>,
    msg: T,
}

impl<T: Clone> Addressed<T> {
    fn request(&self) -> Request<T> {
        let mut r = Request::new(self.msg.clone());
        if let Some(db) = &self.db {
            r.metadata_mut().insert("dbname", db.clone());
        }
        r
    }
}

/// Adds the `authorization` header when credentials are configured.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> std::result::Result<Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A connected Milvus client. Cheap to clone.
#[derive(Clone)]
pub struct MilvusClient {
    inner: Inner,
    address: String,
    rpc_timeout: Duration,
    /// What the server can do, detected once when connecting.
    features: Features,
    detected: Detected,
    /// The same Milvus' REST import API (merged import jobs, 2.4+).
    import_jobs: super::import_jobs::ImportJobs,
}

/// Responses that carry a status.
pub trait HasStatus {
    fn status(&self) -> Option<&common::Status>;
}

impl HasStatus for common::Status {
    fn status(&self) -> Option<&common::Status> {
        Some(self)
    }
}

macro_rules! has_status {
    ($($t:ty),* $(,)?) => {$(
        impl HasStatus for $t {
            fn status(&self) -> Option<&common::Status> { self.status.as_ref() }
        }
    )*};
}

has_status!(
    pb::GetVersionResponse,
    pb::ListDatabasesResponse,
    pb::ShowCollectionsResponse,
    pb::DescribeCollectionResponse,
    pb::ShowPartitionsResponse,
    pb::DescribeIndexResponse,
    pb::FlushResponse,
    pb::GetFlushStateResponse,
    pb::GetPersistentSegmentInfoResponse,
    pb::GetCollectionStatisticsResponse,
    pb::BoolResponse,
    pb::ImportResponse,
    pb::GetImportStateResponse,
    pb::ListImportTasksResponse,
    pb::GetLoadStateResponse,
    pb::GetLoadingProgressResponse,
    pb::QueryResults,
    pb::SearchResults,
    pb::MutationResult,
    pb::SelectUserResponse,
    pb::SelectGrantResponse,
    pb::SelectRoleResponse,
    pb::BackupRbacMetaResponse,
);

/// Status code Milvus 2.3 uses for "collection not found" (`code`), and its legacy error code.
const CODE_COLLECTION_NOT_FOUND: i32 = 100;
const LEGACY_COLLECTION_NOT_EXISTS: i32 = 4;

pub(super) fn check<R: HasStatus>(call: &'static str, r: R) -> Result<R> {
    if let Some(s) = r.status() {
        if s.error_code != 0 || s.code != 0 {
            let reason = if s.reason.is_empty() {
                format!("error code {}/{}", s.error_code, s.code)
            } else {
                s.reason.clone()
            };
            return Err(Error::milvus(call, reason));
        }
    }
    Ok(r)
}

fn is_not_found(s: &common::Status) -> bool {
    s.code == CODE_COLLECTION_NOT_FOUND
        || s.error_code == LEGACY_COLLECTION_NOT_EXISTS
        || (s.error_code != 0 && s.reason.contains("can't find collection"))
        || (s.error_code != 0 && s.reason.contains("collection not found"))
}

/// Import task states (milvus.proto.common.ImportState).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    Pending,
    Running,
    Completed,
    Failed,
}

/// A task's state, rows and failure reason.
#[derive(Debug, Clone)]
pub struct ImportProgress {
    pub state: ImportState,
    pub rows: i64,
    pub reason: String,
}

impl MilvusClient {
    /// Connects (with the configured time limit) and checks that Milvus answers.
    pub async fn connect(
        cfg: &MilvusConfig,
        connect_timeout: Duration,
        rpc_timeout: Duration,
    ) -> Result<MilvusClient> {
        let address = cfg.endpoint();
        let unreachable = |reason: String| Error::MilvusUnreachable {
            address: address.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(address.clone())
            .map_err(|e| unreachable(format!("bad address: {e}")))?
            .connect_timeout(connect_timeout)
            .tcp_keepalive(Some(Duration::from_secs(30)));
        if cfg.tls_mode > 0 {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if !cfg.ca_cert_path.is_empty() {
                let pem = std::fs::read(&cfg.ca_cert_path).map_err(|e| {
                    Error::Config(format!("milvus.caCertPath {}: {e}", cfg.ca_cert_path))
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            if !cfg.server_name.is_empty() {
                tls = tls.domain_name(cfg.server_name.clone());
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
        }
        let channel = tokio::time::timeout(connect_timeout, endpoint.connect())
            .await
            .map_err(|_| unreachable(format!("no answer within {connect_timeout:?}")))?
            .map_err(|e| unreachable(source_chain(&e)))?;
        let auth = if cfg.user.is_empty() {
            Auth(None)
        } else {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                cfg.user,
                cfg.password.expose()
            ));
            Auth(Some(token.parse().map_err(|_| {
                Error::Config("milvus.user/password contain characters that cannot be sent".into())
            })?))
        };
        let inner = MilvusServiceClient::with_interceptor(channel, auth)
            .max_decoding_message_size(256 * 1024 * 1024);
        // the proxy answers a job's creation once it listed every folder of the job: up to the
        // 600 s milvus-backup gives it
        let import_jobs =
            super::import_jobs::ImportJobs::new(cfg, rpc_timeout.max(Duration::from_secs(610)))?;
        let mut client = MilvusClient {
            inner,
            address: address.clone(),
            rpc_timeout,
            features: Features::milvus_2_3(),
            detected: Detected::Version(String::new()),
            import_jobs,
        };
        // one real round trip, so that bad credentials show up here
        let reported = match client.version().await {
            Ok(v) => Some(v),
            Err(e) if e.is_unimplemented() => None,
            Err(Error::Milvus { reason, .. }) => return Err(unreachable(reason)),
            Err(e) => return Err(e),
        };
        let probe = if reported
            .as_deref()
            .and_then(Features::from_version)
            .is_none()
        {
            Some(client.has_2_4_calls().await?)
        } else {
            None
        };
        let (features, detected) = Features::detect(reported.as_deref(), || probe.unwrap_or(false));
        tracing::debug!(address = %address, ?features, ?detected, "Milvus features");
        client.features = features;
        client.detected = detected;
        Ok(client)
    }

    /// What the connected Milvus can do (detected once, when connecting).
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Milvus' REST import API at the same address, with the same credentials.
    pub fn import_jobs(&self) -> &super::import_jobs::ImportJobs {
        &self.import_jobs
    }

    /// How [`MilvusClient::features`] were found.
    pub fn detected(&self) -> &Detected {
        &self.detected
    }

    /// Whether the server implements ListAliases, a call Milvus 2.3 lacks; asked only when
    /// GetVersion gives nothing readable.
    async fn has_2_4_calls(&self) -> Result<bool> {
        let r = self
            .call(
                "ListAliases",
                Self::req("", pb::ListAliasesRequest::default()),
                |mut c, m| async move { c.list_aliases(m).await },
            )
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.is_unimplemented() => Ok(false),
            // any other refusal still proves the call exists
            Err(Error::Milvus { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The address it is connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `msg` addressed to database `db` (none: the server's default).
    pub(super) fn req<T>(db: &str, msg: T) -> Addressed<T> {
        Addressed {
            db: (!db.is_empty()).then(|| db.parse().ok()).flatten(),
            msg,
        }
    }

    /// Sends `msg` with `f`, within the time limit, and maps the refusals milvault tells apart.
    /// A read (see [`is_read`]) that fails on the way (connection reset, Milvus' proxy briefly
    /// away) is sent again, up to [`READ_RETRIES`] times; anything that changes state is sent once.
    pub(super) async fn call<T, R, F, Fut>(
        &self,
        call: &'static str,
        msg: Addressed<T>,
        f: F,
    ) -> Result<R>
    where
        T: Clone,
        F: Fn(Inner, Request<T>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<R>, tonic::Status>>,
    {
        let retries = if is_read(call) { READ_RETRIES } else { 0 };
        let mut attempt = 0;
        loop {
            let fut = f(self.inner.clone(), msg.request());
            let status = match tokio::time::timeout(self.rpc_timeout, fut).await {
                Err(_) => {
                    return Err(Error::MilvusTimeout {
                        call,
                        timeout: self.rpc_timeout,
                    })
                }
                Ok(Ok(resp)) => return Ok(resp.into_inner()),
                Ok(Err(status)) => status,
            };
            if attempt < retries && is_transient(&status) {
                attempt += 1;
                tracing::debug!(call, attempt, reason = %status.message(), "sending a read again");
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                continue;
            }
            return Err(match status.code() {
                tonic::Code::Unauthenticated => Error::MilvusCredentials {
                    address: self.address.clone(),
                    reason: status.message().to_string(),
                },
                tonic::Code::Unavailable => Error::MilvusUnreachable {
                    address: self.address.clone(),
                    reason: format!("{call}: {}", status.message()),
                },
                code => Error::Milvus {
                    call,
                    reason: format!("{code:?}: {}", status.message()),
                    source: Some(Box::new(status)),
                },
            });
        }
    }

    /// Milvus' version string, e.g. `v2.3.5`.
    pub async fn version(&self) -> Result<String> {
        let r = self
            .call(
                "GetVersion",
                Self::req("", pb::GetVersionRequest {}),
                |mut c, m| async move { c.get_version(m).await },
            )
            .await?;
        Ok(check("GetVersion", r)?.version)
    }

    /// Database names. Milvus builds without databases answer with just `default`.
    pub async fn list_databases(&self) -> Result<Vec<String>> {
        let r = self
            .call(
                "ListDatabases",
                Self::req("", pb::ListDatabasesRequest::default()),
                |mut c, m| async move { c.list_databases(m).await },
            )
            .await;
        match r {
            Ok(r) => Ok(check("ListDatabases", r)?.db_names),
            Err(e) if e.is_unimplemented() => Ok(vec!["default".into()]),
            Err(e) => Err(e),
        }
    }

    /// The Milvus roles of user `name` (RBAC).
    pub async fn user_roles(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .select_users(Some(name))
            .await?
            .into_iter()
            .flat_map(|(_, roles)| roles)
            .collect())
    }

    /// Which of `databases` (and `*`, all of them) role `role` holds privileges in, from its
    /// grants. Milvus 2.3 lists a role's grants one database at a time.
    pub async fn role_grant_databases(
        &self,
        role: &str,
        databases: &[String],
    ) -> Result<Vec<String>> {
        let mut dbs = Vec::new();
        for db in databases.iter().map(String::as_str).chain(["*"]) {
            let msg = pb::SelectGrantRequest {
                entity: Some(pb::GrantEntity {
                    role: Some(pb::RoleEntity {
                        name: role.into(),
                        ..Default::default()
                    }),
                    db_name: db.into(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let r = self
                .call("SelectGrant", Self::req("", msg), |mut c, m| async move {
                    c.select_grant(m).await
                })
                .await?;
            dbs.extend(check("SelectGrant", r)?.entities.into_iter().map(|g| {
                if g.db_name.is_empty() {
                    db.to_string()
                } else {
                    g.db_name
                }
            }));
        }
        dbs.sort();
        dbs.dedup();
        Ok(dbs)
    }

    /// Creates a database.
    pub async fn create_database(&self, db: &str) -> Result<()> {
        let msg = pb::CreateDatabaseRequest {
            db_name: db.into(),
            ..Default::default()
        };
        let r = self
            .call(
                "CreateDatabase",
                Self::req("", msg),
                |mut c, m| async move { c.create_database(m).await },
            )
            .await?;
        check("CreateDatabase", r).map(|_| ())
    }

    /// Collection names of a database.
    pub async fn list_collections(&self, db: &str) -> Result<Vec<String>> {
        let msg = Self::req(
            db,
            pb::ShowCollectionsRequest {
                db_name: db.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("ShowCollections", msg, |mut c, m| async move {
                c.show_collections(m).await
            })
            .await?;
        Ok(check("ShowCollections", r)?.collection_names)
    }

    /// Schema and settings of a collection; `CollectionNotFound` when there is none.
    pub async fn describe_collection(
        &self,
        db: &str,
        name: &str,
    ) -> Result<pb::DescribeCollectionResponse> {
        let msg = Self::req(
            db,
            pb::DescribeCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("DescribeCollection", msg, |mut c, m| async move {
                c.describe_collection(m).await
            })
            .await?;
        if r.status.as_ref().is_some_and(is_not_found) {
            return Err(Error::CollectionNotFound(format!("{db}.{name}")));
        }
        check("DescribeCollection", r)
    }

    /// The collection `name` is an alias of, if it is one. Milvus 2.3's HasCollection answers
    /// false for an alias and its CreateCollection takes the alias' name, shadowing the alias.
    pub async fn alias_of(&self, db: &str, name: &str) -> Result<Option<String>> {
        // the response's collection_name echoes the name asked for; the schema's is the real one
        match self.describe_collection(db, name).await {
            Ok(d) => Ok(d
                .schema
                .map(|s| s.name)
                .filter(|real| !real.is_empty() && real != name)),
            Err(Error::CollectionNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a collection exists.
    pub async fn has_collection(&self, db: &str, name: &str) -> Result<bool> {
        let msg = Self::req(
            db,
            pb::HasCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("HasCollection", msg, |mut c, m| async move {
                c.has_collection(m).await
            })
            .await?;
        Ok(check("HasCollection", r)?.value)
    }

    /// `(id, name)` of each partition.
    pub async fn partitions(&self, db: &str, name: &str) -> Result<Vec<(i64, String)>> {
        let msg = Self::req(
            db,
            pb::ShowPartitionsRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = check(
            "ShowPartitions",
            self.call("ShowPartitions", msg, |mut c, m| async move {
                c.show_partitions(m).await
            })
            .await?,
        )?;
        if r.partition_i_ds.len() != r.partition_names.len() {
            // Milvus Lite answers names only: number them (ids matter only for binlogs, which
            // a Lite does not have)
            return Ok(r
                .partition_names
                .into_iter()
                .enumerate()
                .map(|(i, n)| (i as i64, n))
                .collect());
        }
        Ok(r.partition_i_ds
            .into_iter()
            .zip(r.partition_names)
            .collect())
    }

    /// The collection's indexes (empty when it has none).
    pub async fn indexes(&self, db: &str, name: &str) -> Result<Vec<pb::IndexDescription>> {
        let msg = Self::req(
            db,
            pb::DescribeIndexRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("DescribeIndex", msg, |mut c, m| async move {
                c.describe_index(m).await
            })
            .await?;
        if let Some(s) = &r.status {
            // 2.3 answers IndexNotExist (error_code 25 / code 700) for a collection without index
            if s.error_code == 25
                || s.code == 700
                || s.reason.contains("index not found")
                || s.reason.contains("index doesn't exist")
            {
                return Ok(Vec::new());
            }
        }
        Ok(check("DescribeIndex", r)?.index_descriptions)
    }

    /// Seals and flushes the collection's growing segments and waits until they are on storage.
    /// Returns the flush timestamp.
    pub async fn flush(&self, db: &str, name: &str, wait: Duration) -> Result<u64> {
        let msg = Self::req(
            db,
            pb::FlushRequest {
                db_name: db.into(),
                collection_names: vec![name.into()],
                ..Default::default()
            },
        );
        let r = check(
            "Flush",
            self.call("Flush", msg, |mut c, m| async move { c.flush(m).await })
                .await?,
        )?;
        let segments = r
            .coll_seg_i_ds
            .get(name)
            .map(|s| s.data.clone())
            .unwrap_or_default();
        let flush_ts = r.coll_flush_ts.get(name).copied().unwrap_or(0);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = Self::req(
                db,
                pb::GetFlushStateRequest {
                    segment_i_ds: segments.clone(),
                    flush_ts,
                    db_name: db.into(),
                    collection_name: name.into(),
                },
            );
            let s = check(
                "GetFlushState",
                self.call("GetFlushState", msg, |mut c, m| async move {
                    c.get_flush_state(m).await
                })
                .await?,
            )?;
            if s.flushed {
                return Ok(flush_ts);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::MilvusTimeout {
                    call: "GetFlushState",
                    timeout: wait,
                });
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Segments that are on storage.
    pub async fn persistent_segments(
        &self,
        db: &str,
        name: &str,
    ) -> Result<Vec<pb::PersistentSegmentInfo>> {
        let msg = Self::req(
            db,
            pb::GetPersistentSegmentInfoRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("GetPersistentSegmentInfo", msg, |mut c, m| async move {
                c.get_persistent_segment_info(m).await
            })
            .await?;
        Ok(check("GetPersistentSegmentInfo", r)?.infos)
    }

    /// Rows in the collection's segments, deleted rows included (GetCollectionStatistics).
    pub async fn stored_rows(&self, db: &str, name: &str) -> Result<i64> {
        let msg = Self::req(
            db,
            pb::GetCollectionStatisticsRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = check(
            "GetCollectionStatistics",
            self.call("GetCollectionStatistics", msg, |mut c, m| async move {
                c.get_collection_statistics(m).await
            })
            .await?,
        )?;
        let v = r
            .stats
            .iter()
            .find(|kv| kv.key == "row_count")
            .map(|kv| kv.value.clone())
            .unwrap_or_default();
        v.parse().map_err(|_| Error::Milvus {
            call: "GetCollectionStatistics",
            reason: format!("row_count '{v}' is not a number"),
            source: None,
        })
    }

    /// `NotExist`, `NotLoad`, `Loading` or `Loaded`.
    pub async fn load_state(&self, db: &str, name: &str) -> Result<String> {
        let msg = Self::req(
            db,
            pb::GetLoadStateRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = check(
            "GetLoadState",
            self.call("GetLoadState", msg, |mut c, m| async move {
                c.get_load_state(m).await
            })
            .await?,
        )?;
        Ok(common::LoadState::try_from(r.state)
            .map(|s| format!("{s:?}"))
            .unwrap_or_else(|_| "Unknown".into()))
    }

    /// Live rows (`count(*)` with strong consistency). The collection must be loaded.
    pub async fn count_rows(&self, db: &str, name: &str) -> Result<i64> {
        let msg = Self::req(
            db,
            pb::QueryRequest {
                db_name: db.into(),
                collection_name: name.into(),
                expr: String::new(),
                output_fields: vec!["count(*)".into()],
                consistency_level: common::ConsistencyLevel::Strong as i32,
                use_default_consistency: false,
                ..Default::default()
            },
        );
        let r = check(
            "Query count(*)",
            self.call("Query", msg, |mut c, m| async move { c.query(m).await })
                .await?,
        )?;
        for f in &r.fields_data {
            if let Some(schema::field_data::Field::Scalars(s)) = &f.field {
                if let Some(schema::scalar_field::Data::LongData(l)) = &s.data {
                    if let Some(n) = l.data.first() {
                        return Ok(*n);
                    }
                }
            }
        }
        Err(Error::Milvus {
            call: "Query count(*)",
            reason: "the answer has no count".into(),
            source: None,
        })
    }

    /// Creates a collection from a schema.
    pub async fn create_collection(
        &self,
        db: &str,
        schema: &schema::CollectionSchema,
        shards: i32,
        consistency_level: i32,
        properties: Vec<KeyValuePair>,
        num_partitions: i64,
    ) -> Result<()> {
        let msg = Self::req(
            db,
            pb::CreateCollectionRequest {
                db_name: db.into(),
                collection_name: schema.name.clone(),
                schema: schema.encode_to_vec(),
                shards_num: shards,
                consistency_level,
                properties,
                num_partitions,
                ..Default::default()
            },
        );
        let r = self
            .call("CreateCollection", msg, |mut c, m| async move {
                c.create_collection(m).await
            })
            .await?;
        check("CreateCollection", r).map(|_| ())
    }

    /// Sets collection properties (AlterCollection).
    pub async fn alter_collection_properties(
        &self,
        db: &str,
        name: &str,
        properties: Vec<KeyValuePair>,
    ) -> Result<()> {
        let msg = Self::req(
            db,
            pb::AlterCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                properties,
                ..Default::default()
            },
        );
        let r = self
            .call("AlterCollection", msg, |mut c, m| async move {
                c.alter_collection(m).await
            })
            .await?;
        check("AlterCollection", r).map(|_| ())
    }

    /// Drops a collection.
    pub async fn drop_collection(&self, db: &str, name: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::DropCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("DropCollection", msg, |mut c, m| async move {
                c.drop_collection(m).await
            })
            .await?;
        check("DropCollection", r).map(|_| ())
    }

    /// Gives `collection` the name `alias` too; fails when the alias is taken (Milvus never moves
    /// an alias on CreateAlias).
    pub async fn create_alias(&self, db: &str, collection: &str, alias: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::CreateAliasRequest {
                db_name: db.into(),
                collection_name: collection.into(),
                alias: alias.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("CreateAlias", msg, |mut c, m| async move {
                c.create_alias(m).await
            })
            .await?;
        check("CreateAlias", r).map(|_| ())
    }

    /// Removes an alias (the collection stays).
    pub async fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::DropAliasRequest {
                db_name: db.into(),
                alias: alias.into(),
                ..Default::default()
            },
        );
        let r = self
            .call(
                "DropAlias",
                msg,
                |mut c, m| async move { c.drop_alias(m).await },
            )
            .await?;
        check("DropAlias", r).map(|_| ())
    }

    /// Creates a partition.
    pub async fn create_partition(&self, db: &str, name: &str, partition: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::CreatePartitionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                partition_name: partition.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("CreatePartition", msg, |mut c, m| async move {
                c.create_partition(m).await
            })
            .await?;
        check("CreatePartition", r).map(|_| ())
    }

    /// Adds a field to an existing collection (AddCollectionField, Milvus 2.6+).
    pub async fn add_collection_field(
        &self,
        db: &str,
        name: &str,
        field: &schema::FieldSchema,
    ) -> Result<()> {
        let msg = Self::req(
            db,
            pb::AddCollectionFieldRequest {
                db_name: db.into(),
                collection_name: name.into(),
                schema: field.encode_to_vec(),
                ..Default::default()
            },
        );
        let r = self
            .call("AddCollectionField", msg, |mut c, m| async move {
                c.add_collection_field(m).await
            })
            .await?;
        check("AddCollectionField", r).map(|_| ())
    }

    /// Starts an Import (milvus-backup's backup-mode call): `files` as Milvus reads them (an
    /// insert log folder and a delta log folder, or one L0 delta folder), `options` as planned
    /// by `engine::import_plan` (`backup=true`, `l0_import=true`, ...).
    pub async fn import(
        &self,
        db: &str,
        name: &str,
        partition: &str,
        files: Vec<String>,
        options: Vec<KeyValuePair>,
    ) -> Result<Vec<i64>> {
        let msg = Self::req(
            db,
            pb::ImportRequest {
                db_name: db.into(),
                collection_name: name.into(),
                partition_name: partition.into(),
                files,
                options,
                ..Default::default()
            },
        );
        let r = self
            .call("Import", msg, |mut c, m| async move { c.import(m).await })
            .await?;
        Ok(check("Import", r)?.tasks)
    }

    /// State of an import task. Milvus 2.6 creates an import job only once its request was
    /// broadcast, so right after Import it may answer that the job does not exist: that answer
    /// is asked again, [`IMPORT_APPEAR_TRIES`] times a second apart, as milvus-backup does.
    pub async fn import_state(&self, task: i64) -> Result<ImportProgress> {
        let mut tries = 1;
        loop {
            match self.import_state_once(task).await {
                Err(Error::Milvus { reason, .. })
                    if tries < IMPORT_APPEAR_TRIES && job_not_there_yet(&reason) =>
                {
                    tries += 1;
                    tokio::time::sleep(IMPORT_APPEAR_WAIT).await;
                }
                other => return other,
            }
        }
    }

    async fn import_state_once(&self, task: i64) -> Result<ImportProgress> {
        let msg = Self::req("", pb::GetImportStateRequest { task });
        let r = check(
            "GetImportState",
            self.call("GetImportState", msg, |mut c, m| async move {
                c.get_import_state(m).await
            })
            .await?,
        )?;
        let state = match common::ImportState::try_from(r.state) {
            Ok(common::ImportState::ImportCompleted) => ImportState::Completed,
            Ok(common::ImportState::ImportFailed)
            | Ok(common::ImportState::ImportFailedAndCleaned) => ImportState::Failed,
            Ok(common::ImportState::ImportPending) => ImportState::Pending,
            _ => ImportState::Running,
        };
        let reason = r
            .infos
            .iter()
            .find(|kv| kv.key == "failed_reason")
            .map(|kv| kv.value.clone())
            .unwrap_or_default();
        Ok(ImportProgress {
            state,
            rows: r.row_count,
            reason,
        })
    }

    /// The ids of the import tasks Milvus knows for collection `db.name` whose collection id is
    /// `collection_id` (ListImportTasks; Milvus keeps finished tasks for a while).
    pub async fn import_tasks_of(
        &self,
        db: &str,
        name: &str,
        collection_id: i64,
    ) -> Result<Vec<i64>> {
        let msg = Self::req(
            db,
            pb::ListImportTasksRequest {
                collection_name: name.into(),
                limit: 0,
                db_name: db.into(),
            },
        );
        let r = self
            .call("ListImportTasks", msg, |mut c, m| async move {
                c.list_import_tasks(m).await
            })
            .await?;
        Ok(check("ListImportTasks", r)?
            .tasks
            .into_iter()
            .filter(|t| t.collection_id == collection_id)
            .map(|t| t.id)
            .collect())
    }

    /// Creates an index.
    pub async fn create_index(
        &self,
        db: &str,
        name: &str,
        field: &str,
        index_name: &str,
        params: Vec<KeyValuePair>,
    ) -> Result<()> {
        let msg = Self::req(
            db,
            pb::CreateIndexRequest {
                db_name: db.into(),
                collection_name: name.into(),
                field_name: field.into(),
                index_name: index_name.into(),
                extra_params: params,
                ..Default::default()
            },
        );
        let r = self
            .call("CreateIndex", msg, |mut c, m| async move {
                c.create_index(m).await
            })
            .await?;
        check("CreateIndex", r).map(|_| ())
    }

    /// Loads a collection into memory.
    pub async fn load_collection(&self, db: &str, name: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::LoadCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                replica_number: 1,
                ..Default::default()
            },
        );
        let r = self
            .call("LoadCollection", msg, |mut c, m| async move {
                c.load_collection(m).await
            })
            .await?;
        check("LoadCollection", r).map(|_| ())
    }

    /// Loading progress in percent.
    pub async fn loading_progress(&self, db: &str, name: &str) -> Result<i64> {
        let msg = Self::req(
            db,
            pb::GetLoadingProgressRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("GetLoadingProgress", msg, |mut c, m| async move {
                c.get_loading_progress(m).await
            })
            .await?;
        Ok(check("GetLoadingProgress", r)?.progress)
    }

    /// One page of rows (Query with `expr` and `limit`, Milvus' query-iterator mode: the answer
    /// is reduced in primary-key order); `strong` waits for every write made before the call.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_page(
        &self,
        db: &str,
        name: &str,
        partitions: &[String],
        expr: &str,
        output_fields: &[String],
        limit: usize,
        strong: bool,
    ) -> Result<Vec<schema::FieldData>> {
        let kv = |k: &str, v: String| KeyValuePair {
            key: k.into(),
            value: v,
        };
        let consistency = if strong {
            common::ConsistencyLevel::Strong
        } else {
            common::ConsistencyLevel::Bounded
        };
        let msg = Self::req(
            db,
            pb::QueryRequest {
                db_name: db.into(),
                collection_name: name.into(),
                expr: expr.into(),
                output_fields: output_fields.to_vec(),
                partition_names: partitions.to_vec(),
                query_params: vec![
                    kv("limit", limit.to_string()),
                    kv("iterator", "True".into()),
                    kv("reduce_stop_for_best", "False".into()),
                ],
                consistency_level: consistency as i32,
                use_default_consistency: false,
                ..Default::default()
            },
        );
        let r = check(
            "Query",
            self.call("Query", msg, |mut c, m| async move { c.query(m).await })
                .await?,
        )?;
        Ok(r.fields_data)
    }

    /// Searches float `vectors` on `field` (strong consistency): for each, the primary keys of its
    /// top `k` hits, as text (`42`, `abc`). The collection must be loaded.
    #[allow(clippy::too_many_arguments)]
    pub async fn search_float(
        &self,
        db: &str,
        name: &str,
        field: &str,
        metric: &str,
        vectors: &[Vec<f32>],
        k: usize,
    ) -> Result<Vec<Vec<String>>> {
        let kv = |k: &str, v: String| KeyValuePair {
            key: k.into(),
            value: v,
        };
        let group = common::PlaceholderGroup {
            placeholders: vec![common::PlaceholderValue {
                tag: "$0".into(),
                r#type: common::PlaceholderType::FloatVector as i32,
                values: vectors
                    .iter()
                    .map(|v| v.iter().flat_map(|f| f.to_le_bytes()).collect())
                    .collect(),
                ..Default::default()
            }],
        };
        let msg = Self::req(
            db,
            pb::SearchRequest {
                db_name: db.into(),
                collection_name: name.into(),
                dsl_type: common::DslType::BoolExprV1 as i32,
                search_params: vec![
                    kv("anns_field", field.into()),
                    kv("topk", k.to_string()),
                    kv("metric_type", metric.into()),
                    // wide enough for IVF and HNSW to find a vector's own row
                    kv("params", r#"{"nprobe":128,"ef":256}"#.into()),
                    kv("round_decimal", "-1".into()),
                ],
                nq: vectors.len() as i64,
                consistency_level: common::ConsistencyLevel::Strong as i32,
                use_default_consistency: false,
                search_input: Some(pb::search_request::SearchInput::PlaceholderGroup(
                    group.encode_to_vec(),
                )),
                ..Default::default()
            },
        );
        let r = check(
            "Search",
            self.call("Search", msg, |mut c, m| async move { c.search(m).await })
                .await?,
        )?;
        let Some(res) = r.results else {
            return Ok(vec![Vec::new(); vectors.len()]);
        };
        let ids: Vec<String> = match res.ids.and_then(|i| i.id_field) {
            Some(schema::i_ds::IdField::IntId(l)) => l.data.iter().map(|i| i.to_string()).collect(),
            Some(schema::i_ds::IdField::StrId(s)) => s.data,
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        let mut at = 0usize;
        for n in &res.topks {
            let n = (*n).max(0) as usize;
            out.push(ids.get(at..(at + n).min(ids.len())).unwrap_or(&[]).to_vec());
            at += n;
        }
        out.resize(vectors.len(), Vec::new());
        Ok(out)
    }

    /// Drops an (empty) database.
    pub async fn drop_database(&self, db: &str) -> Result<()> {
        let msg = pb::DropDatabaseRequest {
            db_name: db.into(),
            ..Default::default()
        };
        let r = self
            .call("DropDatabase", Self::req("", msg), |mut c, m| async move {
                c.drop_database(m).await
            })
            .await?;
        check("DropDatabase", r).map(|_| ())
    }

    /// Inserts `rows` rows given as columns; returns the count Milvus reports.
    pub async fn insert(
        &self,
        db: &str,
        name: &str,
        partition: &str,
        fields: Vec<schema::FieldData>,
        rows: u32,
    ) -> Result<i64> {
        let msg = Self::req(
            db,
            pb::InsertRequest {
                db_name: db.into(),
                collection_name: name.into(),
                partition_name: partition.into(),
                fields_data: fields,
                num_rows: rows,
                ..Default::default()
            },
        );
        let r = check(
            "Insert",
            self.call("Insert", msg, |mut c, m| async move { c.insert(m).await })
                .await?,
        )?;
        Ok(r.insert_cnt)
    }

    /// Releases a loaded collection.
    pub async fn release_collection(&self, db: &str, name: &str) -> Result<()> {
        let msg = Self::req(
            db,
            pb::ReleaseCollectionRequest {
                db_name: db.into(),
                collection_name: name.into(),
                ..Default::default()
            },
        );
        let r = self
            .call("ReleaseCollection", msg, |mut c, m| async move {
                c.release_collection(m).await
            })
            .await?;
        check("ReleaseCollection", r).map(|_| ())
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_are_sent_again() {
        for read in [
            "DescribeCollection",
            "GetImportState",
            "ListImportTasks",
            "Query",
            "Flush",
        ] {
            assert!(is_read(read), "{read}");
        }
        for write in [
            "Import",
            "CreateCollection",
            "DropCollection",
            "Insert",
            "CreateIndex",
        ] {
            assert!(!is_read(write), "{write}");
        }
    }

    #[test]
    fn an_import_job_milvus_does_not_know_yet_is_asked_for_again() {
        // Milvus 2.6 datacoord, GetImportProgress before the job is created
        assert!(job_not_there_yet(
            "Unknown: import job does not exist, jobID=453000000000000777"
        ));
        assert!(job_not_there_yet("ImportFailed: import task not found"));
        assert!(!job_not_there_yet("collection not found"));
        assert!(!job_not_there_yet("import failed: rows do not match"));
    }

    #[test]
    fn a_lost_connection_is_transient_and_an_answer_is_not() {
        assert!(is_transient(&tonic::Status::unknown("transport error")));
        assert!(is_transient(&tonic::Status::unavailable(
            "tcp connect error"
        )));
        assert!(!is_transient(&tonic::Status::unknown(
            "collection not found"
        )));
        assert!(!is_transient(&tonic::Status::unimplemented("")));
        assert!(!is_transient(&tonic::Status::unauthenticated(
            "bad password"
        )));
    }
}

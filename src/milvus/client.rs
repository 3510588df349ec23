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

type Inner = MilvusServiceClient<InterceptedService<Channel, Auth>>;

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
    pb::MutationResult,
    pb::SelectUserResponse,
    pb::SelectGrantResponse,
);

/// Status code Milvus 2.3 uses for "collection not found" (`code`), and its legacy error code.
const CODE_COLLECTION_NOT_FOUND: i32 = 100;
const LEGACY_COLLECTION_NOT_EXISTS: i32 = 4;

fn check<R: HasStatus>(call: &'static str, r: R) -> Result<R> {
    if let Some(s) = r.status() {
        if s.error_code != 0 || s.code != 0 {
            let reason = if s.reason.is_empty() {
                format!("error code {}/{}", s.error_code, s.code)
            } else {
                s.reason.clone()
            };
            return Err(Error::Milvus { call, reason });
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
        let mut client = MilvusClient {
            inner,
            address: address.clone(),
            rpc_timeout,
            features: Features::milvus_2_3(),
            detected: Detected::Version(String::new()),
        };
        // one real round trip, so that bad credentials show up here
        let reported = match client.version().await {
            Ok(v) => Some(v),
            Err(Error::Milvus { reason, .. }) if reason.starts_with("Unimplemented") => None,
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

    /// How [`MilvusClient::features`] were found.
    pub fn detected(&self) -> &Detected {
        &self.detected
    }

    /// Whether the server implements ListAliases, a call Milvus 2.3 lacks; asked only when
    /// GetVersion gives nothing readable.
    async fn has_2_4_calls(&self) -> Result<bool> {
        let r = self
            .call("ListAliases", |mut c| async move {
                c.list_aliases(pb::ListAliasesRequest::default()).await
            })
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(Error::Milvus { reason, .. }) if reason.starts_with("Unimplemented") => Ok(false),
            // any other refusal still proves the call exists
            Err(Error::Milvus { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The address it is connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn req<T>(db: &str, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        if !db.is_empty() {
            if let Ok(v) = db.parse() {
                r.metadata_mut().insert("dbname", v);
            }
        }
        r
    }

    async fn call<R, F, Fut>(&self, call: &'static str, f: F) -> Result<R>
    where
        F: FnOnce(Inner) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<R>, tonic::Status>>,
    {
        let fut = f(self.inner.clone());
        match tokio::time::timeout(self.rpc_timeout, fut).await {
            Err(_) => Err(Error::MilvusTimeout {
                call,
                timeout: self.rpc_timeout,
            }),
            Ok(Err(status)) if status.code() == tonic::Code::Unauthenticated => {
                Err(Error::MilvusCredentials {
                    address: self.address.clone(),
                    reason: status.message().to_string(),
                })
            }
            Ok(Err(status)) if status.code() == tonic::Code::Unavailable => {
                Err(Error::MilvusUnreachable {
                    address: self.address.clone(),
                    reason: format!("{call}: {}", status.message()),
                })
            }
            Ok(Err(status)) => Err(Error::Milvus {
                call,
                reason: format!("{:?}: {}", status.code(), status.message()),
            }),
            Ok(Ok(resp)) => Ok(resp.into_inner()),
        }
    }

    /// Milvus' version string, e.g. `v2.3.5`.
    pub async fn version(&self) -> Result<String> {
        let r = self
            .call("GetVersion", |mut c| async move {
                c.get_version(pb::GetVersionRequest {}).await
            })
            .await?;
        Ok(check("GetVersion", r)?.version)
    }

    /// Database names. Milvus builds without databases answer with just `default`.
    pub async fn list_databases(&self) -> Result<Vec<String>> {
        let r = self
            .call("ListDatabases", |mut c| async move {
                c.list_databases(pb::ListDatabasesRequest::default()).await
            })
            .await;
        match r {
            Ok(r) => Ok(check("ListDatabases", r)?.db_names),
            Err(Error::Milvus { reason, .. }) if reason.starts_with("Unimplemented") => {
                Ok(vec!["default".into()])
            }
            Err(e) => Err(e),
        }
    }

    /// The Milvus roles of user `name` (RBAC).
    pub async fn user_roles(&self, name: &str) -> Result<Vec<String>> {
        let msg = pb::SelectUserRequest {
            user: Some(pb::UserEntity { name: name.into() }),
            include_role_info: true,
            ..Default::default()
        };
        let r = self
            .call(
                "SelectUser",
                |mut c| async move { c.select_user(msg).await },
            )
            .await?;
        Ok(check("SelectUser", r)?
            .results
            .into_iter()
            .flat_map(|u| u.roles)
            .map(|r| r.name)
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
                .call(
                    "SelectGrant",
                    |mut c| async move { c.select_grant(msg).await },
                )
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
            .call("CreateDatabase", |mut c| async move {
                c.create_database(msg).await
            })
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
            .call("ShowCollections", |mut c| async move {
                c.show_collections(msg).await
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
            .call("DescribeCollection", |mut c| async move {
                c.describe_collection(msg).await
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
            .call("HasCollection", |mut c| async move {
                c.has_collection(msg).await
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
            self.call("ShowPartitions", |mut c| async move {
                c.show_partitions(msg).await
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
            .call("DescribeIndex", |mut c| async move {
                c.describe_index(msg).await
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
            self.call("Flush", |mut c| async move { c.flush(msg).await })
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
                self.call("GetFlushState", |mut c| async move {
                    c.get_flush_state(msg).await
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
            .call("GetPersistentSegmentInfo", |mut c| async move {
                c.get_persistent_segment_info(msg).await
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
            self.call("GetCollectionStatistics", |mut c| async move {
                c.get_collection_statistics(msg).await
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
            self.call("GetLoadState", |mut c| async move {
                c.get_load_state(msg).await
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
            self.call("Query", |mut c| async move { c.query(msg).await })
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
            .call("CreateCollection", |mut c| async move {
                c.create_collection(msg).await
            })
            .await?;
        check("CreateCollection", r).map(|_| ())
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
            .call("DropCollection", |mut c| async move {
                c.drop_collection(msg).await
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
            .call(
                "CreateAlias",
                |mut c| async move { c.create_alias(msg).await },
            )
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
            .call("DropAlias", |mut c| async move { c.drop_alias(msg).await })
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
            .call("CreatePartition", |mut c| async move {
                c.create_partition(msg).await
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
            .call("AddCollectionField", |mut c| async move {
                c.add_collection_field(msg).await
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
            .call("Import", |mut c| async move { c.import(msg).await })
            .await?;
        Ok(check("Import", r)?.tasks)
    }

    /// State of an import task.
    pub async fn import_state(&self, task: i64) -> Result<ImportProgress> {
        let msg = pb::GetImportStateRequest { task };
        let r = check(
            "GetImportState",
            self.call("GetImportState", |mut c| async move {
                c.get_import_state(msg).await
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
            .call("ListImportTasks", |mut c| async move {
                c.list_import_tasks(msg).await
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
            .call(
                "CreateIndex",
                |mut c| async move { c.create_index(msg).await },
            )
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
            .call("LoadCollection", |mut c| async move {
                c.load_collection(msg).await
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
            .call("GetLoadingProgress", |mut c| async move {
                c.get_loading_progress(msg).await
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
            self.call("Query", |mut c| async move { c.query(msg).await })
                .await?,
        )?;
        Ok(r.fields_data)
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
            self.call("Insert", |mut c| async move { c.insert(msg).await })
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
            .call("ReleaseCollection", |mut c| async move {
                c.release_collection(msg).await
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
